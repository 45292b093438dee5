#!/usr/bin/python3
"""Pixel-exact wl_shm through crossway's shadow buffers (--shm=copy). One command script
for tests/clients/shm_steps (partial damage in both damage modes, 1 to 3 buffers, scale,
transform, viewport, a subsurface, a resize) runs on sway twice: straight, then through
crossway. After every step the two screenshots and the window's geometry must be equal."""

import json
import os
import select
import subprocess
import time

import cwtest
from cwtest import expect

APP_ID = "shm-steps"
# Floating, so that the window has the size of its buffers; no border or title bar.
SWAY_EXTRA = (f'for_window [app_id="{APP_ID}"] floating enable\n'
	"default_floating_border none\n")
STEP_TIMEOUT_S = 20
SHOT_TRIES = 10
RECTS = ("rect", "window_rect", "geometry")  # of the view in swaymsg -t get_tree

# Comments name the cases; "damage" lines only set the mode of the frames that follow.
SCRIPT = [
	# 2 buffers in rotation, wl_surface.damage
	"damage surface", "buffers 2", "frames 6", "burst 4",
	# 3 buffers, damage_buffer; a burst commits faster than frame callbacks come
	"damage buffer", "buffers 3", "frames 6", "burst 6",
	# buffer scale 2, both damage modes
	"scale 2", "frames 4", "damage surface", "frames 4", "scale 1",
	# 90 degrees, both damage modes; then flipped-270 with scale 2
	"transform 1", "frames 4", "damage buffer", "frames 4",
	"transform 7", "scale 2", "frames 3", "damage surface", "frames 3",
	"scale 1", "transform 0",
	# a viewport: a crop with fractional edges stretched unevenly (surface damage), a
	# 2x stretch (buffer damage), a shrink over scale 2 and 90 degrees (both). sway 1.7
	# misplaces damage under a viewport source that does not start at the origin, and
	# rounds buffer damage inwards under an uneven stretch, even for a direct client:
	# the steps avoid both.
	"damage surface", "viewport 0 0 137.75 91.5 210 140", "frames 4",
	"damage buffer", "viewport 0 0 150 100 300 200", "frames 4",
	"scale 2", "transform 1", "viewport 0 0 200 150 100 75", "frames 3",
	"damage surface", "frames 3", "viewport off", "transform 0", "scale 1",
	# a subsurface (sync, ARGB8888 with a translucent sprite) with its own frames
	"subsurface on", "frames 4", "damage surface", "burst 4",
	# a resize with the subsurface on, then without it
	"size 260 180", "frames 4", "subsurface off", "frames 2",
	# a single buffer, poisoned and redrawn in full right after each release (through
	# crossway only: see test())
	"buffers 1", "frames 6", "damage buffer", "frames 4", "buffers 2", "frames 2",
]


class Steps:
	"""shm_steps on display: send() a command, get back once it answered "ok"."""

	def __init__(self, env, display, label):
		self.label = label
		self.err_path = env.path(f"shm_steps-{label}.log")
		prog = cwtest.test_client("shm_steps")
		with open(self.err_path, "wb") as f:
			self.p = env.spawn(f"shm_steps ({label})", [prog], env.client_env(display),
				stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=f)
		env.add_log(f"shm_steps ({label})", self.err_path)
		self.buf = b""
		self.expect_line("ok start")

	def stderr(self):
		with open(self.err_path, errors="replace") as f:
			return f.read().strip()

	def exited(self, want):
		rc = cwtest.signame(self.p.returncode)
		cwtest.fail(f"[{self.label}] shm_steps exited ({rc}) while expected to answer "
			f"{want!r}; stderr: {self.stderr()!r}")

	def expect_line(self, want):
		deadline = time.monotonic() + STEP_TIMEOUT_S
		fd = self.p.stdout.fileno()
		while b"\n" not in self.buf:
			left = deadline - time.monotonic()
			if left <= 0:
				cwtest.fail(f"[{self.label}] shm_steps: no {want!r} within "
					f"{STEP_TIMEOUT_S} s; stderr: {self.stderr()!r}")
			if select.select([fd], [], [], left)[0]:
				chunk = os.read(fd, 4096)
				if not chunk:
					self.p.wait(timeout=5)
					self.exited(want)
				self.buf += chunk
		line, self.buf = self.buf.split(b"\n", 1)
		cwtest.expect_eq(line.decode(errors="replace"), want,
			f"[{self.label}] shm_steps' answer")

	def send(self, cmd):
		try:
			self.p.stdin.write(cmd.encode() + b"\n")
			self.p.stdin.flush()
		except BrokenPipeError:
			pass  # expect_line reports the exit and the client's message
		self.expect_line(f"ok {cmd}")

	def quit(self):
		self.send("quit")
		rc = self.p.wait(timeout=10)
		expect(rc == 0, f"[{self.label}] shm_steps after quit: expected exit 0, saw "
			f"{cwtest.signame(rc)}; stderr: {self.stderr()!r}")


def need_shm_copy(env):
	"""Returns crossway's arguments for copy mode: --shm=copy in direct mode, none in
	the virtio-gpu pass, which always copies. A crossway without --shm refuses wl_shm
	on virtio-gpu (skip) and cannot be asked to copy in direct mode (fail)."""
	r = env.run([cwtest.CROSSWAY, "--help"], env.base_env(), 10)
	expect(r.rc == 0, "crossway --help failed: " + r.describe())
	if b"--shm" not in r.out:
		if cwtest.VIRTGPU_PASS:
			raise cwtest.Skip("crossway has no --shm: virtio-gpu mode refuses wl_shm")
		cwtest.fail(f"{cwtest.CROSSWAY} --help lists no --shm option (expected --shm=copy)")
	return [] if cwtest.VIRTGPU_PASS else ["--shm=copy"]


def settled_screenshot(env, sway):
	"""A screenshot equal to the one taken just before it (sway may still be repainting
	when the client's frame callback fires)."""
	prev = None
	for _ in range(SHOT_TRIES):
		w, h, rgb, _ = env.screenshot(sway)
		if prev == (w, h, rgb):
			return w, h, rgb
		prev = (w, h, rgb)
	cwtest.fail(f"sway's screen did not settle: {SHOT_TRIES} screenshots in a row differed")


def window_geometry(env, sway):
	"""The view's rectangles from swaymsg -t get_tree, once two queries agree."""
	def query():
		r = env.run(["swaymsg", "-r", "-t", "get_tree"], env.sway_env(sway), 5)
		expect(r.rc == 0, "swaymsg -t get_tree failed: " + r.describe())
		found = []

		def walk(node):
			if node.get("app_id") == APP_ID:
				found.append({k: node.get(k) for k in RECTS})
			for k in ("nodes", "floating_nodes"):
				for child in node.get(k, []):
					walk(child)
		walk(json.loads(r.out))
		expect(len(found) == 1, f"expected one {APP_ID!r} view in sway's tree, saw {found}")
		return found[0]
	prev = None
	for _ in range(SHOT_TRIES):
		g = query()
		if g == prev:
			return g
		prev = g
	cwtest.fail(f"the {APP_ID!r} window's geometry kept changing: last {prev}")


def run_script(env, sway, display, label, single_buffer):
	"""Runs SCRIPT on display; returns [(step, (w, h, rgb), geometry)] with step 0 the
	first frame. Without single_buffer, "buffers 1" becomes "buffers 2". The window
	must be gone again afterwards."""
	c = Steps(env, display, label)
	shots = [("start", settled_screenshot(env, sway), window_geometry(env, sway))]
	for step in SCRIPT:
		c.send(step if single_buffer or step != "buffers 1" else "buffers 2")
		if step.startswith("damage "):
			continue  # draws nothing
		shots.append((step, settled_screenshot(env, sway), window_geometry(env, sway)))
	c.quit()
	cwtest.wait_for(lambda: APP_ID not in [a for a, _ in env.sway_windows(sway)], 5,
		f"the {APP_ID!r} window to leave sway's tree after shm_steps quit")
	cwtest.log(f"{label}: {len(shots)} screenshots")
	return shots


def diff_images(a, b):
	"""(differing pixels, bounding box (x0, y0, x1, y1)) of two same-size RGB images."""
	from PIL import Image, ImageChops
	ia = Image.frombytes("RGB", a[:2], a[2])
	ib = Image.frombytes("RGB", b[:2], b[2])
	# The largest channel difference: a grey conversion would round a difference of 1
	# in blue to 0.
	dr, dg, db = ImageChops.difference(ia, ib).split()
	mask = ImageChops.lighter(ImageChops.lighter(dr, dg), db).point(lambda v: 255 if v else 0)
	return mask.histogram()[255], mask.getbbox()


def save_png(env, shot, name):
	from PIL import Image
	Image.frombytes("RGB", shot[:2], shot[2]).save(env.path(name))


def check_reference(ref):
	"""The direct pass must show the window and its animation, or a comparison with it
	would prove nothing."""
	for i, (cmd, shot, _) in enumerate(ref):
		w, h, rgb = shot
		n = cwtest.non_bg_pixels(w, h, rgb)
		expect(n >= 50 * 50, f"direct pass, step {i} ({cmd!r}): expected the window on "
			f"screen, only {n} pixels differ from the background")
		if cmd.startswith(("frames", "burst")):
			expect(rgb != ref[i - 1][1][2], f"direct pass, step {i} ({cmd!r}): the "
				"screen did not change, expected the sprites to move")


def compare(env, ref, got):
	expect_eq = cwtest.expect_eq
	expect_eq(len(got), len(ref), "steps through crossway")
	bad = []
	for i, ((cmd, a, ga), (cmd2, b, gb)) in enumerate(zip(ref, got)):
		expect_eq(cmd2, cmd, f"step {i}")
		what = []
		if ga != gb:
			what.append(f"window geometry {gb} through crossway, {ga} direct")
		if a[:2] != b[:2]:
			what.append(f"screenshot size {b[0]}x{b[1]} through crossway, "
				f"{a[0]}x{a[1]} direct")
		elif a[2] != b[2]:
			n, (x0, y0, x1, y1) = diff_images(a, b)
			save_png(env, a, f"step{i:02d}-direct.png")
			save_png(env, b, f"step{i:02d}-crossway.png")
			what.append(f"{n} pixel(s) differ within x {x0}-{x1 - 1}, y {y0}-{y1 - 1} "
				f"(step{i:02d}-direct.png, step{i:02d}-crossway.png)")
		if what:
			bad.append(f"step {i} ({cmd!r}): " + "; ".join(what))
	expect(not bad, f"{len(bad)} of {len(ref)} steps differ through crossway from the "
		"direct run:\n  " + "\n  ".join(bad) + f"\nimages in {env.rt} (kept with "
		"CWTEST_KEEP=1)")


def test(env):
	cwtest.need("sway", "swaymsg", "grim")
	copy_args = need_shm_copy(env)
	sway = env.start_sway(SWAY_EXTRA)
	env.wait_empty_desktop(sway)
	# sway keeps the attached buffer of a surface until the next one replaces it, so
	# the direct run cannot reuse a single buffer: two buffers show the same frames.
	ref = run_script(env, sway, sway.socket, "direct", False)
	check_reference(ref)
	env.wait_empty_desktop(sway)
	cw = env.start_crossway(sway.socket, extra_args=copy_args)
	got = run_script(env, sway, cw.socket, "crossway", True)
	compare(env, ref, got)
	cwtest.check_log_clean(cw)
	if cw.virtgpu:
		cwtest.check_fakegpu_report(cw)


if __name__ == "__main__":
	cwtest.main(test)
