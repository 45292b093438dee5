#!/usr/bin/python3
"""A pointer cursor on shadow buffers: on sway, with a virtual pointer (headless sway
has no pointer of its own), tests/clients/shm_cursor sets an shm cursor with a known
pattern, repaints part of it in the same buffer (damage only there), then sets a
scale-2 cursor. A screenshot with cursors (grim -c) after each step must equal the
direct run's pixel for pixel (--shm=copy; the virtio-gpu pass copies anyway)."""

import subprocess

import cwtest
import rawclient as rc
from cwtest import expect

STEPS = ("wait", "partial", "scale")
POINTER_AT = (200, 150)


def add_virtual_pointer(comp):
	"""A zwlr_virtual_pointer_v1 on sway's seat, moved to POINTER_AT on the 640x480
	output. Returns the RawClient; the pointer lives as long as its connection."""
	c = rc.RawClient(comp.socket)
	c.get_registry()
	c.roundtrip()
	byname = {iface: name for name, (iface, _v) in c.globals.items()}
	for iface in ("wl_seat", "zwlr_virtual_pointer_manager_v1"):
		expect(iface in byname, f"{comp.kind} offers no {iface} global")
	seat = c.bind(byname["wl_seat"], "wl_seat", 1)
	mgr = c.bind(byname["zwlr_virtual_pointer_manager_v1"], "zwlr_virtual_pointer_manager_v1", 1)
	ptr = c.new_id()
	c.send(mgr, 0, rc.u32(seat) + rc.u32(ptr))  # create_virtual_pointer(seat, id)
	c.roundtrip()
	return c, ptr


def move_pointer(c, ptr, x, y):
	# motion_absolute(time, x, y, x_extent, y_extent), then frame
	c.send(ptr, 1, rc.u32(0) + rc.u32(x) + rc.u32(y) + rc.u32(640) + rc.u32(480))
	c.send(ptr, 4)
	c.roundtrip()


def shot(env, sway):
	"""grim -c (cursors included), retaken until two agree."""
	last = None
	for _ in range(20):
		r = env.run(["grim", "-c", "-t", "ppm", "-"], env.client_env(sway.socket), 10)
		expect(r.rc == 0, "grim -c failed: " + r.describe())
		if r.out == last:
			return cwtest.read_ppm(r.out)
		last = r.out
	cwtest.fail("the screen kept changing: no two consecutive screenshots agree")


def run_steps(env, sway, display, pointer):
	c, ptr = pointer
	move_pointer(c, ptr, 10, 10)
	p = env.spawn("shm_cursor", [cwtest.test_client("shm_cursor")], env.client_env(display),
		stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=None)

	def line():
		out = p.stdout.readline().decode().strip()
		if not out:
			cwtest.fail(f"shm_cursor exited ({cwtest.signame(p.wait())}) instead of answering")
		return out
	expect(line() == "mapped", "shm_cursor did not map its window")
	move_pointer(c, ptr, *POINTER_AT)
	shots = []
	for step in STEPS:
		p.stdin.write(step.encode() + b"\n")
		p.stdin.flush()
		expect(line() == "ok " + step, f"shm_cursor did not finish step {step!r}")
		shots.append(shot(env, sway))
	p.stdin.write(b"quit\n")
	p.stdin.flush()
	expect(env.wait_exit(p, 5, "shm_cursor after quit") == 0, "shm_cursor failed")
	return shots


def test(env):
	cwtest.need("sway", "grim")
	sway = env.start_sway()
	env.wait_empty_desktop(sway)
	pointer = add_virtual_pointer(sway)
	direct = run_steps(env, sway, sway.socket, pointer)
	cw = env.start_crossway(sway.socket, [] if cwtest.VIRTGPU_PASS else ["--shm=copy"])
	through = run_steps(env, sway, cw.socket, pointer)
	for step, (w, h, a), (w2, h2, b) in zip(STEPS, direct, through):
		expect((w, h) == (w2, h2), f"step {step}: screen size {w2}x{h2}, direct {w}x{h}")
		diff = [i for i in range(0, len(a), 3) if a[i:i + 3] != b[i:i + 3]]
		if diff:
			xs = [(i // 3) % w for i in diff]
			ys = [(i // 3) // w for i in diff]
			cwtest.fail(f"step {step}: {len(diff)} pixels differ through crossway, within "
				f"x {min(xs)}..{max(xs)}, y {min(ys)}..{max(ys)}")
	# The cursor was really drawn: the direct run's cursor area is not the window colour.
	w, h, a = direct[0]
	x, y = POINTER_AT
	i = 3 * ((y + 5) * w + x + 5)
	expect(a[i:i + 3] != bytes([0x40, 0x50, 0x60]), "no cursor in the direct screenshot "
		f"at {x + 5},{y + 5} (saw the window colour): the test cannot judge cursors")
	pointer[0].close()
	cwtest.check_log_clean(cw)


if __name__ == "__main__":
	cwtest.main(test)
