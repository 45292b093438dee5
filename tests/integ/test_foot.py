#!/usr/bin/python3
"""foot on sway through crossway: its window appears in sway's tree (by app_id) and
the screen, all background before, shows it (foot is tiled full-screen)."""

import cwtest
from cwtest import expect

APP_ID = "cwtest-foot"
MIN_SHARE = 0.9  # of the screen's pixels that must differ from the background


def test(env):
	cwtest.need("sway", "foot", "grim")
	sway = env.start_sway()
	w, h = env.wait_empty_desktop(sway)
	cw = env.start_crossway(sway.socket)
	foot = env.spawn("foot", ["foot", f"--app-id={APP_ID}", "-o", "main.font=monospace:size=14",
		"sh", "-c", "echo crossway-foot-test; exec sleep 100"], env.client_env(cw.socket),
		log_to=env.path("foot.log"))

	def window():
		expect(foot.poll() is None, f"foot exited ({cwtest.signame(foot.returncode)}) "
			"before its window appeared")
		return [a for a, _ in env.sway_windows(sway) if a == APP_ID]
	try:
		cwtest.wait_for(window, 10, f"a window with app_id {APP_ID!r} in swaymsg get_tree")
	except cwtest.Timeout:
		cwtest.fail(f"expected a window with app_id {APP_ID!r} in sway's tree, saw "
			f"{env.sway_windows(sway)}")

	need_px = int(MIN_SHARE * w * h)
	last = [0]

	def drawn():
		last[0] = env.screenshot(sway)[3]
		return last[0] >= need_px
	try:
		cwtest.wait_for(drawn, 10, "foot's window on screen")
	except cwtest.Timeout:
		cwtest.fail(f"expected at least {need_px} of {w * h} pixels to differ from the "
			f"background once foot is mapped, the last screenshot had {last[0]}")
	cwtest.log(f"foot mapped, {last[0]} of {w * h} pixels differ from the background")
	expect(foot.poll() is None, f"foot exited ({cwtest.signame(foot.returncode)}) while "
		"expected to keep running")
	foot.terminate()
	env.wait_exit(foot, 5, "foot after SIGTERM")
	cwtest.wait_for(lambda: APP_ID not in [a for a, _ in env.sway_windows(sway)], 5,
		f"the {APP_ID!r} window to leave sway's tree after foot exited")
	cwtest.check_log_clean(cw)


if __name__ == "__main__":
	cwtest.main(test)
