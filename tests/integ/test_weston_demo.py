#!/usr/bin/python3
"""weston-simple-shm and weston-simple-damage on weston through crossway: each must
reach MIN_COMMITS wl_surface.commit requests (counted from WAYLAND_DEBUG=client)
within WINDOW_S seconds, then exit 0 on SIGINT with no protocol error."""

import cwtest
import demo

MIN_COMMITS = 40
WINDOW_S = 3.0


def run_demo(env, cw, prog):
	d = demo.Demo(env, prog, cw.socket)
	n = d.wait_commits(MIN_COMMITS, WINDOW_S)
	cwtest.log(f"{prog}: {n} commits")
	d.interrupt_and_check()


def test(env):
	cwtest.need("weston", "weston-simple-shm", "weston-simple-damage")
	w = env.start_weston()
	cw = env.start_crossway(w.socket)
	for prog in ("weston-simple-shm", "weston-simple-damage"):
		run_demo(env, cw, prog)
	cwtest.check_log_clean(cw)


if __name__ == "__main__":
	cwtest.main(test)
