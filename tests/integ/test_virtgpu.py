#!/usr/bin/python3
"""crossway in virtio-gpu mode on the test double (tests/virtgpu): real compositor <-
host model <- preloaded guest-kernel double <- crossway <- real clients.

- wayland-info through the cross-domain channel equals direct output except for
  hidden globals and clamped versions (weston), in fork and --no-fork modes;
- a keymap arrives as a host blob and compiles with libxkbcommon (sway);
- wl_shm works through shadow buffers (weston-simple-shm animates); an app whose
  pool fd cannot be mapped gets wl_shm.invalid_fd, another app keeps working;
- 4 identifiers per message (old hosts) work when both sides say so;
- a host that never answers and a host whose INIT failed: the app gets an error
  naming the dead channel within --host-timeout;
- compositor hang-up (empty RECEIVE): the app gets wl_display.error code 3; on an
  old host that swallows the hang-up, the liveness probe finds the silent host;
- after every scenario the double reports no protocol violation and no leak, and one
  closed context per connection."""

import os
import signal
import time

import cwtest
import demo
import rawclient as rc
import test_wayland_info as wi
from cwtest import expect


def wait_error(raw, timeout_s):
	"""(object, code, message) of the wl_display.error the client got before the
	connection closed, or None."""
	err, _closed = raw.wait_error_and_close(timeout_s)
	return None if err is None else (err.obj, err.code, err.msg)


def info_matches(env, comp, cw, known, where):
	r = env.run(["wayland-info"], env.client_env(comp.socket))
	expect(r.rc == 0, "direct wayland-info: " + r.describe())
	exp = wi.render(wi.expected_through_crossway(r.out.decode(), known))
	r = env.run(["wayland-info"], env.client_env(cw.socket))
	expect(r.rc == 0, f"wayland-info through the cross-domain channel ({where}): " +
		r.describe())
	seen = wi.render(wi.blocks(r.out.decode()))
	cwtest.expect_eq(seen, exp, f"wayland-info through the cross-domain channel ({where})")


def test(env):
	if cwtest.VIRTGPU_PASS:
		raise cwtest.Skip("covered by the direct pass (it chooses its modes itself)")
	cwtest.need("weston", "sway", "wayland-info", "weston-simple-shm")
	known = cwtest.known_interfaces()
	weston = env.start_weston()

	for no_fork in (False, True):
		where = "--no-fork" if no_fork else "fork"
		cw = env.start_crossway(weston.socket, virtgpu=True, no_fork=no_fork)
		info_matches(env, weston, cw, known, where)
		info_matches(env, weston, cw, known, where + ", second client")
		# Guest shm pools are copied into host blobs; a pool that cannot be mapped
		# fails for that app alone.
		keep = rc.RawClient(cw.socket)
		keep.get_registry()
		keep.roundtrip()
		shm = demo.Demo(env, "weston-simple-shm", cw.socket)
		shm.wait_commits(20, 5)
		shm.interrupt_and_check()
		bad = rc.RawClient(cw.socket)
		bad.get_registry()
		bad.roundtrip()
		shm_name = next(n for n, (i, _v) in bad.globals.items() if i == "wl_shm")
		shm_id = bad.bind(shm_name, "wl_shm", 1)
		rfd, wfd = os.pipe()
		bad.send(shm_id, 0, rc.u32(bad.new_id()) + rc.i32(4096), fds=[rfd])
		os.close(rfd)
		os.close(wfd)
		err = wait_error(bad, 5)
		bad.close()
		expect(err is not None and err[:2] == (shm_id, 2) and "failed mmap" in err[2],
			f"wl_shm.create_pool with a pipe: expected wl_display.error(wl_shm@{shm_id}, 2 "
			f"(invalid_fd), \"failed mmap ...\"), saw {err}")
		keep.roundtrip()
		keep.close()
		cw.expected_exit = True
		cw.proc.send_signal(signal.SIGTERM)
		env.wait_exit(cw.proc, 5, "crossway after SIGTERM")
		cwtest.check_log_clean(cw)
		cwtest.check_fakegpu_report(cw, contexts=5)

	# Old hosts: 4 identifiers per message on both sides.
	cw = env.start_crossway(weston.socket, ["--cross-domain-ids=4"], virtgpu=True,
		fake_env={"CW_FAKEGPU_IDS": "4"})
	info_matches(env, weston, cw, known, "4 identifiers")
	cwtest.check_log_clean(cw)

	# A quiet app is not a dead host: requests that get no answer do not arm the
	# liveness timer, only round trips do.
	cw = env.start_crossway(weston.socket, ["--host-timeout=1"], virtgpu=True)
	raw = rc.RawClient(cw.socket)
	raw.get_registry()
	raw.roundtrip()
	comp_name = next(n for n, (i, _v) in raw.globals.items() if i == "wl_compositor")
	comp_id = raw.bind(comp_name, "wl_compositor", 1)
	raw.send(comp_id, 1, rc.u32(raw.new_id()))  # create_region: no event comes back
	time.sleep(2.0)
	raw.roundtrip()
	raw.close()
	cwtest.check_log_clean(cw)

	# Dead hosts: never answering, and INIT refused (silently, as real hosts do).
	for switch, what in (("CW_FAKEGPU_SILENT", "host never answers"),
			("CW_FAKEGPU_INIT_FAIL", "host rejected INIT")):
		cw = env.start_crossway(weston.socket, ["--host-timeout=1"], virtgpu=True,
			fake_env={switch: "1"})
		raw = rc.RawClient(cw.socket)
		raw.get_registry()
		raw.sync()
		e = wait_error(raw, 10)
		expect(e is not None and e[0] == 1 and e[1] == 3 and "did not answer" in e[2],
			f"{what}: expected wl_display.error(1, 3, '... did not answer ...'), saw {e}")
		raw.close()
		cwtest.check_fakegpu_report(cw)

	# Compositor hang-up: the host writes an empty RECEIVE.
	w2 = env.start_weston(socket_name="upstream-dies")
	cw = env.start_crossway(w2.socket, virtgpu=True)
	raw = rc.RawClient(cw.socket)
	raw.get_registry()
	raw.roundtrip()
	w2.proc.kill()
	e = wait_error(raw, 10)
	expect(e is not None and e[0] == 1 and e[1] == 3 and "disconnected" in e[2],
		f"compositor killed: expected wl_display.error(1, 3, 'compositor disconnected'), "
		f"saw {e}")
	raw.close()
	cwtest.check_fakegpu_report(cw)

	# Old hosts swallow the hang-up (the POLL never completes) and a compositor that
	# dies with requests unread stops the host's worker: either way the host goes
	# silent. An app that asks nothing (it waits for a frame callback, say) must still
	# learn of it: crossway probes a host silent for --host-timeout.
	w3 = env.start_weston(socket_name="upstream-dies-quietly")
	cw = env.start_crossway(w3.socket, ["--host-timeout=1"], virtgpu=True,
		fake_env={"CW_FAKEGPU_EOF": "drop"})
	raw = rc.RawClient(cw.socket)
	raw.get_registry()
	raw.roundtrip()
	time.sleep(1.5)  # a quiet app on a live host: the probe is answered, nothing happens
	expect(cw.alive(), "crossway died while its app was quiet")
	w3.proc.kill()
	t0 = time.monotonic()
	e = wait_error(raw, 10)
	took = time.monotonic() - t0
	expect(e is not None and e[0] == 1 and e[1] == 3 and "did not answer" in e[2],
		f"compositor killed on an old host: expected wl_display.error(1, 3, '... did not "
		f"answer ...') from the liveness probe, saw {e}")
	expect(took < 4, f"the liveness probe took {took:.1f} s to find the silent host "
		"(--host-timeout=1: expected about 2 s)")
	raw.close()
	cwtest.check_fakegpu_report(cw)

	# Keymaps arrive as host blobs and reach the app as sealed memfds.
	sway = env.start_sway()
	kbd = cwtest.add_virtual_keyboard(sway)
	cw = env.start_crossway(sway.socket, virtgpu=True)
	r = env.run([cwtest.test_client("keymap_check")], env.client_env(cw.socket), 15)
	expect(r.rc == 0 and r.out.startswith(b"keymap ok: "), "keymap_check through the "
		"cross-domain channel: " + r.describe())
	kbd.close()
	cwtest.check_log_clean(cw)
	cwtest.check_fakegpu_report(cw)


if __name__ == "__main__":
	cwtest.main(test)
