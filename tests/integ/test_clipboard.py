#!/usr/bin/python3
"""wl-copy / wl-paste through crossway on sway, byte-exact: a short text and a
~200 KB random payload on the clipboard, and a text on the primary selection.
A virtual keyboard gives the seat keyboard focus (headless sway has no keyboard;
without data-control, which crossway hides, wl-clipboard needs focus)."""

import os

import clip
import cwtest


def test(env):
	cwtest.need("sway", "wl-copy", "wl-paste")
	sway = env.start_sway()
	kbd = cwtest.add_virtual_keyboard(sway)
	cw = env.start_crossway(sway.socket)
	clip.round_trip(env, cw.socket, b"crossway clipboard text \xc3\xa9\n")
	clip.round_trip(env, cw.socket, os.urandom(200 * 1024), mime="application/octet-stream")
	clip.round_trip(env, cw.socket, b"crossway primary selection", primary=True)
	kbd.close()
	cwtest.check_log_clean(cw)


if __name__ == "__main__":
	cwtest.main(test)
