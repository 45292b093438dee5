#!/usr/bin/python3
"""Several clients at once through one crossway, in fork and --no-fork modes.
On weston: weston-simple-shm keeps animating while two wayland-info run
concurrently (each must print what a lone wayland-info printed). On sway: foot
stays mapped while wl-copy and wl-paste do a clipboard round trip. Afterwards
crossway holds no leftover fd (--no-fork) or child process (fork)."""

import difflib
import subprocess

import clip
import cwtest
import demo
from cwtest import expect

APP_ID = "cwtest-two"


def weston_part(env, weston, no_fork):
	mode = "--no-fork" if no_fork else "fork"
	cw = env.start_crossway(weston.socket, no_fork=no_fork)
	base = cwtest.fd_count(cw.pid)
	cenv = env.client_env(cw.socket)
	solo = env.run(["wayland-info"], cenv)
	expect(solo.rc == 0, f"[{mode}] lone wayland-info through crossway: " + solo.describe())
	shm = demo.Demo(env, "weston-simple-shm", cw.socket)
	shm.wait_commits(20, 3)
	infos = [env.spawn(f"wayland-info {i}", ["wayland-info"], cenv, stdout=subprocess.PIPE,
		stderr=subprocess.PIPE) for i in (1, 2)]
	for i, p in enumerate(infos, 1):
		try:
			out, err = p.communicate(timeout=10)
		except subprocess.TimeoutExpired:
			cwtest.fail(f"[{mode}] concurrent wayland-info #{i} did not finish within 10 s")
		expect(p.returncode == 0, f"[{mode}] concurrent wayland-info #{i}: expected exit 0, "
			f"saw {cwtest.signame(p.returncode)}; stderr {err[-500:]!r}")
		if out != solo.out:
			diff = "\n".join(difflib.unified_diff(solo.out.decode().splitlines(),
				out.decode().splitlines(), "lone run", f"concurrent run #{i}", lineterm=""))
			cwtest.fail(f"[{mode}] concurrent wayland-info #{i} differs from a lone run:\n{diff}")
	n = shm.count()
	shm.wait_commits(n + 20, 3)
	shm.interrupt_and_check()
	cwtest.wait_clients_gone(cw, base)
	cwtest.check_log_clean(cw)


def sway_part(env, sway, no_fork):
	mode = "--no-fork" if no_fork else "fork"
	cw = env.start_crossway(sway.socket, no_fork=no_fork)
	base = cwtest.fd_count(cw.pid)
	foot = env.spawn("foot", ["foot", f"--app-id={APP_ID}", "sleep", "100"],
		env.client_env(cw.socket), log_to=env.path("foot.log"))

	def window():
		expect(foot.poll() is None, f"[{mode}] foot exited "
			f"({cwtest.signame(foot.returncode)}) before its window appeared")
		return APP_ID in [a for a, _ in env.sway_windows(sway)]
	cwtest.wait_for(window, 10, f"[{mode}] foot's window ({APP_ID!r}) in sway's tree")
	copy = clip.round_trip(env, cw.socket, f"two clients, {mode}".encode())
	expect(foot.poll() is None, f"[{mode}] foot exited ({cwtest.signame(foot.returncode)}) "
		"during the clipboard round trip, expected it to keep running")
	for p, what in ((copy, "wl-copy"), (foot, "foot")):
		p.terminate()
		env.wait_exit(p, 5, f"{what} after SIGTERM")
	cwtest.wait_clients_gone(cw, base)
	cwtest.check_log_clean(cw)


def test(env):
	cwtest.need("weston", "weston-simple-shm", "wayland-info", "sway", "foot", "wl-copy",
		"wl-paste")
	weston = env.start_weston()
	sway = env.start_sway()
	kbd = cwtest.add_virtual_keyboard(sway)
	for no_fork in (False, True):
		weston_part(env, weston, no_fork)
		sway_part(env, sway, no_fork)
	kbd.close()


if __name__ == "__main__":
	cwtest.main(test)
