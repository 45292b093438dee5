#!/usr/bin/python3
"""Real apps on shadow buffers (--shm=copy; the virtio-gpu pass copies anyway):
weston-simple-shm (pixman) and weston-simple-egl (Mesa's llvmpipe, which presents
through wl_shm) on weston keep animating and show their 250x250 windows; foot on
sway shows a full-screen window that keeps changing (it prints the time every
0.1 s)."""

import cwtest
import demo
from cwtest import expect

WINDOW_PX = 250 * 250  # the demo clients' default window
MIN_COMMITS = 40
WINDOW_S = 3.0


def copy_args():
	return [] if cwtest.VIRTGPU_PASS else ["--shm=copy"]


def weston_apps(env):
	w = env.start_weston()
	cw = env.start_crossway(w.socket, copy_args())
	for prog in ("weston-simple-shm", "weston-simple-egl"):
		d = demo.Demo(env, prog, cw.socket)
		n = d.wait_commits(MIN_COMMITS, WINDOW_S)
		shown = cwtest.wait_for(lambda: env.weston_screenshot(w)[3] or None, 5,
			f"{prog}'s window on weston's screen")
		more = d.wait_commits(n + MIN_COMMITS, WINDOW_S)
		cwtest.log(f"{prog}: {more} commits, {shown} pixels on screen")
		expect(shown == WINDOW_PX, f"{prog} through shadow buffers: expected its "
			f"{WINDOW_PX}-pixel window on screen, saw {shown} non-background pixels")
		d.interrupt_and_check()
	cwtest.check_log_clean(cw)


def foot_keeps_drawing(env):
	sway = env.start_sway()
	w, h = env.wait_empty_desktop(sway)
	cw = env.start_crossway(sway.socket, copy_args())
	foot = env.spawn("foot", ["foot", "--app-id=cwtest-shm-foot", "-o",
		"main.font=monospace:size=14", "sh", "-c",
		"while :; do date +%s.%N; sleep 0.1; done"], env.client_env(cw.socket),
		log_to=env.path("foot.log"))

	def full():
		expect(foot.poll() is None, f"foot exited ({cwtest.signame(foot.returncode)})")
		shot = env.screenshot(sway)
		return shot if shot[3] >= 0.9 * w * h else None
	first = cwtest.wait_for(full, 10, "foot's window to fill the screen")

	def changed():
		shot = full()
		return shot if shot and shot[2] != first[2] else None
	cwtest.wait_for(changed, 5, "foot's window to change (it prints the time)")
	foot.terminate()
	env.wait_exit(foot, 5, "foot after SIGTERM")
	cwtest.check_log_clean(cw)


def test(env):
	cwtest.need("weston", "weston-simple-shm", "weston-simple-egl", "sway", "foot", "grim")
	weston_apps(env)
	foot_keeps_drawing(env)


if __name__ == "__main__":
	cwtest.main(test)
