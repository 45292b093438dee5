#!/usr/bin/python3
"""wl-copy / wl-paste through crossway on sway, byte-exact: a short text and a
~200 KB random payload on the clipboard, and a text on the primary selection; then
across the boundary both ways with 2 MiB payloads (an app behind crossway copies and
an app on the compositor pastes, and the other way round).
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
	# Guest to host and host to guest (in the virtio-gpu pass: the two pipe kinds of
	# the cross-domain channel), more than 1 MiB each.
	clip.round_trip(env, cw.socket, os.urandom(2 << 20), mime="application/octet-stream",
		paste_display=sway.socket, timeout_s=20)
	clip.round_trip(env, sway.socket, os.urandom(2 << 20), mime="application/octet-stream",
		paste_display=cw.socket, timeout_s=20)
	kbd.close()
	cwtest.check_log_clean(cw)


if __name__ == "__main__":
	cwtest.main(test)
