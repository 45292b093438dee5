#!/usr/bin/python3
"""The compositor dies under connected clients (SIGKILL), in fork and --no-fork
modes. A raw client (after a roundtrip) must get wl_display.error(wl_display@1, 3
implementation, "compositor disconnected: ...") and then be disconnected;
weston-simple-shm must exit without crashing. (On the virtio-gpu double the host may
stop serving the context silently instead; crossway's liveness probe then reports a
dead channel within --host-timeout.) crossway itself stays up, keeps no
fd (--no-fork) or child process (fork) of the dead sessions, and once a new
compositor listens on the same socket path, a new wayland-info through it works."""

import re
import signal

import cwtest
import demo
import rawclient as rc
from cwtest import expect

HEADER = re.compile(r"^interface: '([^']+)'", re.M)


def interfaces(out):
	return sorted(HEADER.findall(out.decode()))


def scenario(env, no_fork):
	mode = "--no-fork" if no_fork else "fork"
	sock_name = "upstream-nofork" if no_fork else "upstream-fork"
	weston = env.start_weston(socket_name=sock_name)
	# On the virtio-gpu double, a compositor killed with requests unread resets the
	# socket and the host stops serving the context without a word, as real hosts do:
	# crossway's liveness probe (after --host-timeout of silence) finds out.
	extra = ["--host-timeout=1"] if cwtest.VIRTGPU_PASS else []
	cw = env.start_crossway(weston.socket, extra, no_fork=no_fork)
	base = cwtest.fd_count(cw.pid)
	cenv = env.client_env(cw.socket)
	before = env.run(["wayland-info"], cenv)
	expect(before.rc == 0, f"[{mode}] wayland-info through crossway before the kill: "
		+ before.describe())

	raw = rc.RawClient(cw.socket)
	raw.get_registry()
	raw.roundtrip()
	shm = demo.Demo(env, "weston-simple-shm", cw.socket)
	shm.wait_commits(10, 5)

	cwtest.log(f"[{mode}] SIGKILL weston (pid {weston.proc.pid})")
	weston.proc.send_signal(signal.SIGKILL)
	weston.proc.wait(timeout=5)

	err, closed = raw.wait_error_and_close(5)
	raw.close()
	cwtest.log(f"[{mode}] raw client: error {err}, closed {closed}")
	want = "wl_display.error(object 1, code 3 (implementation), \"compositor disconnected: ...\")"
	expect(err is not None, f"[{mode}] raw client after the compositor died: expected {want} "
		f"then hang-up, saw no error (connection {'closed' if closed else 'still open'})")
	expect((err.obj, err.code) == (rc.DISPLAY_ID, rc.ERR_IMPLEMENTATION) and err.msg,
		f"[{mode}] raw client after the compositor died: expected {want}, saw {err}")
	expect(closed, f"[{mode}] raw client got {err} but crossway did not close the "
		"connection within 5 s (expected recv to return 0)")

	src = shm.wait_exit(5)
	expect(src is not None and src >= 0, f"[{mode}] weston-simple-shm after the compositor "
		f"died: expected a clean exit, saw {cwtest.signame(src)}: " + shm.describe())
	cwtest.log(f"[{mode}] weston-simple-shm exited {src}; errors it saw: {shm.errors[:2]}")

	expect(cw.alive(), f"[{mode}] crossway exited ({cwtest.signame(cw.proc.returncode)}) "
		"after the compositor died; expected it to keep listening")
	cwtest.wait_clients_gone(cw, base)

	weston2 = env.start_weston(socket_name=sock_name)
	expect(weston2.socket == weston.socket, "restarted weston must use the same socket path")
	after = env.run(["wayland-info"], cenv)
	expect(after.rc == 0, f"[{mode}] wayland-info through crossway after the compositor "
		"restarted: " + after.describe())
	expect(interfaces(after.out) == interfaces(before.out), f"[{mode}] globals through "
		f"crossway after the restart: expected {interfaces(before.out)}, saw "
		f"{interfaces(after.out)}")
	raw2 = rc.RawClient(cw.socket)
	raw2.get_registry()
	raw2.roundtrip()
	raw2.close()
	expect(cw.alive(), f"[{mode}] crossway exited ({cwtest.signame(cw.proc.returncode)})")


def test(env):
	cwtest.need("weston", "weston-simple-shm", "wayland-info")
	scenario(env, no_fork=False)
	scenario(env, no_fork=True)


if __name__ == "__main__":
	cwtest.main(test)
