#!/usr/bin/python3
"""crossway's process life cycle, as the CLI spec describes it: SIGTERM and SIGINT
exit 0 and remove the socket and its .lock; a second instance on a busy socket and
--display pointing at its own socket are refused; `-- PROGRAM` runs PROGRAM on the
socket and exits with its status; CROSSWAY_DISPLAY/CROSSWAY_SOCKET are honoured; bad
option values (--busy-poll-us, --shm, and --shm=passthrough with virtio-gpu) exit 2."""

import os
import signal

import cwtest
from cwtest import expect


def stop(env, cw, sig):
	name = signal.Signals(sig).name
	cw.expected_exit = True
	cw.proc.send_signal(sig)
	rc = env.wait_exit(cw.proc, 5, f"crossway after {name}")
	expect(rc == 0, f"crossway after {name}: expected exit 0, saw {cwtest.signame(rc)}")
	left = [p for p in (cw.socket, cw.socket + ".lock") if os.path.exists(p)]
	expect(not left, f"crossway after {name}: expected its socket and lock file removed, "
		f"still present: {left}")


def test(env):
	cwtest.need("weston", "wayland-info")
	weston = env.start_weston()
	cenv = env.base_env()

	for sig in (signal.SIGTERM, signal.SIGINT):
		cw = env.start_crossway(weston.socket)
		expect(os.path.exists(cw.socket + ".lock"), f"expected lock file {cw.socket}.lock "
			"beside the listening socket")
		r = env.run(["wayland-info"], env.client_env(cw.socket))
		expect(r.rc == 0, "wayland-info through crossway: " + r.describe())
		stop(env, cw, sig)

	# A second instance on a socket in use must be refused, leaving the first intact.
	cw = env.start_crossway(weston.socket)
	r = env.run([cwtest.CROSSWAY, "--display", weston.socket, "--socket", cw.socket], cenv, 5)
	expect(r.rc != 0, "second crossway on a socket already served: expected a non-zero "
		"exit, saw " + r.describe())
	expect(cw.alive() and cwtest.is_socket(cw.socket), "the first crossway must keep its "
		"socket when a second instance is refused")
	r = env.run(["wayland-info"], env.client_env(cw.socket))
	expect(r.rc == 0, "wayland-info through the first crossway after the refused second "
		"one: " + r.describe())
	stop(env, cw, signal.SIGTERM)

	# --display naming its own socket.
	own = env.path("cw-self")
	r = env.run([cwtest.CROSSWAY, "--display", own, "--socket", own], cenv, 5)
	expect(r.rc != 0, "crossway with --display equal to --socket: expected a non-zero exit, "
		"saw " + r.describe())

	# No upstream at all: a clear error, not a guess.
	noenv = {k: v for k, v in cenv.items() if k not in ("WAYLAND_DISPLAY", "CROSSWAY_DISPLAY")}
	r = env.run([cwtest.CROSSWAY, "--socket", env.path("cw-none")], noenv, 5)
	expect(r.rc == 1 and b"no compositor to relay to" in (r.err or b""),
		"crossway with neither --display nor WAYLAND_DISPLAY: expected exit 1 naming the "
		"missing upstream, saw " + r.describe())

	# A malformed option value is a usage error (status 2), whatever its source.
	for args, extra in ((["--busy-poll-us", "abc"], {}), ([], {"CROSSWAY_BUSY_POLL_US": "-1"})):
		r = env.run([cwtest.CROSSWAY, "--display", weston.socket, "--socket",
			env.path("cw-bad")] + args, dict(cenv, **extra), 5)
		expect(r.rc == 2 and b"busy-poll-us" in (r.err or b""), "crossway with a bad "
			"busy-poll value: expected exit 2 naming the option, saw " + r.describe())
	for args, extra in ((["--shm=mirror"], {}), ([], {"CROSSWAY_SHM": "mirror"})):
		r = env.run([cwtest.CROSSWAY, "--display", weston.socket, "--socket",
			env.path("cw-bad")] + args, dict(cenv, **extra), 5)
		expect(r.rc == 2 and b"--shm takes copy or passthrough, not 'mirror'" in (r.err or b""),
			"crossway with a bad --shm value: expected exit 2 naming the choices, saw "
			+ r.describe())
	# Guest memory cannot be passed through to a host outside the VM.
	dev = env.path("cw-shm-renderD128")
	r = env.run([cwtest.CROSSWAY, "--virtgpu=" + dev, "--shm=passthrough", "--socket",
		env.path("cw-bad")], dict(cenv, LD_PRELOAD=cwtest.FAKEGPU,
		ASAN_OPTIONS="verify_asan_link_order=0", CW_FAKEGPU_WAYLAND=weston.socket,
		CW_FAKEGPU_DEVICE=dev, CW_FAKEGPU_REPORT=env.path("cw-shm.fakegpu")), 5)
	expect(r.rc == 2 and b"--shm=passthrough needs direct mode" in (r.err or b""),
		"crossway --virtgpu --shm=passthrough: expected exit 2 saying passthrough needs "
		"direct mode, saw " + r.describe())

	# Something that is not a socket at the listening path is never deleted.
	plain = env.path("cw-plain-file")
	with open(plain, "w") as f:
		f.write("keep me")
	r = env.run([cwtest.CROSSWAY, "--display", weston.socket, "--socket", plain], cenv, 5)
	expect(r.rc == 1, "crossway with --socket naming a regular file: expected exit 1, saw "
		+ r.describe())
	with open(plain) as f:
		expect(f.read() == "keep me", "the regular file at the socket path was modified")

	# -- PROGRAM: exit status is the program's; the program reaches the compositor.
	sock = env.path("cw-prog")
	r = env.run([cwtest.CROSSWAY, "--display", weston.socket, "--socket", sock, "--",
		"sh", "-c", "wayland-info | grep -q \"'wl_compositor'\" && exit 7; exit 1"], cenv, 20)
	expect(r.rc == 7, "crossway -- sh -c 'wayland-info ... && exit 7': expected exit 7 "
		"(wayland-info through crossway listed wl_compositor), saw " + r.describe())
	r = env.run([cwtest.CROSSWAY, "--display", weston.socket, "--socket", sock, "--",
		"sh", "-c", "exit 3"], cenv, 20)
	expect(r.rc == 3, "crossway -- sh -c 'exit 3': expected exit 3, saw " + r.describe())

	# Environment instead of options.
	sock = env.path("cw-env")
	p = env.spawn("crossway (env)", [cwtest.CROSSWAY], env.base_env(
		CROSSWAY_DISPLAY=weston.socket, CROSSWAY_SOCKET=sock), log_to=env.path("cw-env.log"))
	env._wait_socket(p, sock, "crossway started with CROSSWAY_DISPLAY/CROSSWAY_SOCKET", None)
	r = env.run(["wayland-info"], env.client_env(sock))
	expect(r.rc == 0, "wayland-info through crossway configured by environment: "
		+ r.describe())
	cw = cwtest.Crossway(p, sock, env.path("cw-env.log"), weston.socket, False)
	stop(env, cw, signal.SIGTERM)


if __name__ == "__main__":
	cwtest.main(test)
