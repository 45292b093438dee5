"""Helpers for crossway's integration tests: private runtime dirs, headless
compositors (weston, sway), crossway in front of them, clients, screenshots,
and a teardown that kills everything and prints the logs when a test fails.

A test file calls cwtest.main(test_fn); it exits 0 (pass), 1 (fail) or 77 (skip).
Stdlib and PIL only; run with /usr/bin/python3 (Debian's, which has python3-pil).
"""

import glob
import grp
import json
import os
import pwd
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
import traceback
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
CROSSWAY = os.environ.get("CROSSWAY") or os.path.join(REPO, "crossway")
# The suite's second pass (CWTEST_VIRTGPU=1) runs every crossway on the virtio-gpu
# test double unless a test asks for a mode.
VIRTGPU_PASS = os.environ.get("CWTEST_VIRTGPU") == "1"
FAKEGPU = os.environ.get("CWTEST_FAKEGPU") or os.path.join(REPO, "build", "tests", "libcw-fakegpu.so")
BUILD_TESTS = os.path.join(REPO, "build", "tests")
PROTOCOLS = os.path.join(REPO, "protocols")

EXIT_PASS, EXIT_FAIL, EXIT_SKIP = 0, 1, 77
BG_RGB = (0x10, 0x20, 0x30)
# run.py kills a test at CWTEST_TIMEOUT_S (120 s); stop first so the logs get printed.
TEST_TIMEOUT_S = max(int(os.environ.get("CWTEST_TIMEOUT_S") or 120) - 10, 5)
LOG_TAIL_LINES = 300

WESTON_INI = """[core]
idle-time=0
require-input=false
[shell]
background-color=0xff102030
panel-position=none
locking=false
animation=none
startup-animation=none
"""

SWAY_CONF = """xwayland disable
output * bg #102030 solid_color
output HEADLESS-1 resolution 640x480
default_border none
"""

# AddressSanitizer/LeakSanitizer ("==123==ERROR: ...") and UBSan ("file:1:2: runtime error:").
SANITIZER_LINE = re.compile(r"^==\d+==ERROR: |: runtime error: ")

# Variables that would make a child talk to the wrong place or change its output.
SCRUB_ENV = ("WAYLAND_DISPLAY", "WAYLAND_SOCKET", "WAYLAND_DEBUG", "DISPLAY", "SWAYSOCK",
	"CROSSWAY_DISPLAY", "CROSSWAY_SOCKET", "CROSSWAY_NO_FORK", "CROSSWAY_VERBOSE",
	"CROSSWAY_TRACE", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME")


class Fail(Exception):
	pass


class Skip(Exception):
	pass


class Timeout(Fail):
	pass


class Interrupted(Exception):
	"""SIGTERM/SIGINT (run.py's timeout): not a Fail, so no test code swallows it."""


def fail(msg):
	raise Fail(msg)


def expect(cond, msg):
	if not cond:
		raise Fail(msg)


def expect_eq(seen, expected, what):
	if seen != expected:
		raise Fail(f"{what}: expected {expected!r}, saw {seen!r}")


def need(*programs):
	"""Skips the test if a program is not installed."""
	for p in programs:
		if shutil.which(p) is None:
			raise Skip(f"{p} is not installed")


def log(msg):
	print(f"[{time.monotonic() - _T0:7.3f}] {msg}", flush=True)


_T0 = time.monotonic()


def wait_for(pred, timeout_s, what, interval_s=0.005):
	"""Polls pred() until it returns a true value, which is returned. Raises Timeout
	naming what was awaited. The poll interval backs off from 5 ms to 50 ms."""
	deadline = time.monotonic() + timeout_s
	while True:
		v = pred()
		if v:
			return v
		if time.monotonic() >= deadline:
			raise Timeout(f"timed out after {timeout_s} s waiting for {what}")
		time.sleep(interval_s)
		interval_s = min(interval_s * 2, 0.05)


def is_socket(path):
	try:
		return stat.S_ISSOCK(os.stat(path).st_mode)
	except OSError:
		return False


def is_listening(path):
	"""True once a socket bound at path is listening (crossway binds before it listens;
	a connect in between is refused). Reads /proc/net/unix, so it makes no connection."""
	try:
		with open("/proc/net/unix") as f:
			for line in f:
				fields = line.split()
				# Num RefCount Protocol Flags Type St Inode Path; __SO_ACCEPTCON = 0x10000
				if len(fields) >= 8 and fields[7] == path and int(fields[3], 16) & 0x10000:
					return True
	except OSError:
		pass
	return False


def test_client(name):
	"""Path of a test client built from tests/clients/NAME.c (build/tests/NAME, or
	$CWTEST_CLIENTS_DIR/NAME)."""
	path = os.path.join(os.environ.get("CWTEST_CLIENTS_DIR") or BUILD_TESTS, name)
	if not os.access(path, os.X_OK):
		raise Fail(f"test client {path} is missing: build it from tests/clients/{name}.c "
			"(make builds it into build/tests/)")
	return path


def accepts(path):
	s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
	try:
		s.connect(path)
		return True
	except OSError:
		return False
	finally:
		s.close()


def fd_count(pid):
	return len(os.listdir(f"/proc/{pid}/fd"))


def fd_list(pid):
	"""{fd: target} of a process, for messages about leaks."""
	out = {}
	for fd in os.listdir(f"/proc/{pid}/fd"):
		try:
			out[int(fd)] = os.readlink(f"/proc/{pid}/fd/{fd}")
		except OSError:
			pass
	return out


def known_interfaces(proto_dir=PROTOCOLS):
	"""{interface: max version} from crossway's protocols/*.xml."""
	known = {}
	files = sorted(glob.glob(os.path.join(proto_dir, "*.xml")))
	if not files:
		raise Fail(f"no protocol XML found in {proto_dir}")
	for f in files:
		root = ET.parse(f).getroot()
		for iface in root.iter("interface"):
			name, ver = iface.get("name"), int(iface.get("version", "1"))
			known[name] = max(ver, known.get(name, 0))
	return known


def read_ppm(data):
	"""Parses a binary PPM (P6, maxval 255) as written by grim; returns (w, h, rgb)."""
	m = re.match(rb"P6\s+(\d+)\s+(\d+)\s+(\d+)\s", data)
	expect(m is not None and m.group(3) == b"255", f"not a P6/255 PPM: starts {data[:20]!r}")
	w, h = int(m.group(1)), int(m.group(2))
	rgb = data[m.end():m.end() + w * h * 3]
	expect(len(rgb) == w * h * 3, f"PPM {w}x{h}: expected {w * h * 3} pixel bytes, got {len(rgb)}")
	return w, h, rgb


def non_bg_pixels(w, h, rgb, bg=BG_RGB):
	from PIL import Image
	im = Image.frombytes("RGB", (w, h), rgb)
	colors = im.getcolors(maxcolors=w * h) or []
	return w * h - sum(n for n, c in colors if c == bg)


def xkb_keymap_text(layout="us"):
	"""A full keymap in text form, compiled by libxkbcommon (through ctypes)."""
	import ctypes
	import ctypes.util
	try:
		xkb = ctypes.CDLL("libxkbcommon.so.0")
	except OSError:
		raise Skip("libxkbcommon.so.0 is not installed")
	libc = ctypes.CDLL(ctypes.util.find_library("c"))

	class RuleNames(ctypes.Structure):
		_fields_ = [(n, ctypes.c_char_p) for n in ("rules", "model", "layout", "variant",
			"options")]
	xkb.xkb_context_new.restype = ctypes.c_void_p
	xkb.xkb_context_new.argtypes = [ctypes.c_int]
	xkb.xkb_keymap_new_from_names.restype = ctypes.c_void_p
	xkb.xkb_keymap_new_from_names.argtypes = [ctypes.c_void_p, ctypes.POINTER(RuleNames),
		ctypes.c_int]
	xkb.xkb_keymap_get_as_string.restype = ctypes.c_void_p
	xkb.xkb_keymap_get_as_string.argtypes = [ctypes.c_void_p, ctypes.c_int]
	xkb.xkb_keymap_unref.argtypes = [ctypes.c_void_p]
	xkb.xkb_context_unref.argtypes = [ctypes.c_void_p]
	libc.free.argtypes = [ctypes.c_void_p]
	ctx = xkb.xkb_context_new(0)
	expect(ctx, "xkb_context_new failed")
	names = RuleNames(b"evdev", b"pc105", layout.encode(), b"", b"")
	keymap = xkb.xkb_keymap_new_from_names(ctx, ctypes.byref(names), 0)
	expect(keymap, f"xkbcommon could not compile layout {layout!r}")
	p = xkb.xkb_keymap_get_as_string(keymap, 1)  # XKB_KEYMAP_FORMAT_TEXT_V1
	text = ctypes.string_at(p)
	libc.free(p)
	xkb.xkb_keymap_unref(keymap)
	xkb.xkb_context_unref(ctx)
	return text


def add_virtual_keyboard(comp, layout="us"):
	"""Gives sway's seat a keyboard (headless sway has none): a raw client, connected
	straight to the compositor, creates a zwp_virtual_keyboard_v1 with a full keymap.
	Returns the RawClient; the keyboard lives as long as its connection."""
	import rawclient as rc
	c = rc.RawClient(comp.socket)
	c.get_registry()
	c.roundtrip()
	byname = {iface: (name, ver) for name, (iface, ver) in c.globals.items()}
	for iface in ("wl_seat", "zwp_virtual_keyboard_manager_v1"):
		expect(iface in byname, f"{comp.kind} offers no {iface} global")
	seat = c.bind(byname["wl_seat"][0], "wl_seat", 1)
	mgr = c.bind(byname["zwp_virtual_keyboard_manager_v1"][0],
		"zwp_virtual_keyboard_manager_v1", 1)
	kbd = c.new_id()
	c.send(mgr, 0, rc.u32(seat) + rc.u32(kbd))  # create_virtual_keyboard(seat, id)
	text = xkb_keymap_text(layout) + b"\0"
	fd = os.memfd_create("cw-keymap", os.MFD_CLOEXEC)
	try:
		os.write(fd, text)
		c.send(kbd, 0, rc.u32(1) + rc.u32(len(text)), fds=[fd])  # keymap(xkb_v1, fd, size)
	finally:
		os.close(fd)
	c.roundtrip()
	return c


class Result:
	def __init__(self, cmd, rc, out, err):
		self.cmd, self.rc, self.out, self.err = cmd, rc, out, err

	def describe(self):
		return (f"command {' '.join(self.cmd)!r} exited {self.rc}\n"
			f"--- stdout ---\n{_text(self.out)}\n--- stderr ---\n{_text(self.err)}")


def _text(b, limit=4000):
	if isinstance(b, bytes):
		b = b.decode(errors="replace")
	b = b or ""
	return b if len(b) <= limit else f"[... {len(b) - limit} chars cut ...]\n" + b[-limit:]


def signame(rc):
	if rc is not None and rc < 0:
		try:
			return f"signal {signal.Signals(-rc).name}"
		except ValueError:
			return f"signal {-rc}"
	return f"exit {rc}"


class Compositor:
	def __init__(self, kind, proc, socket, log_path, swaysock=None, socket_name=None):
		self.kind, self.proc, self.socket, self.log = kind, proc, socket, log_path
		self.swaysock, self.socket_name = swaysock, socket_name


class Crossway:
	def __init__(self, proc, socket, log_path, upstream, no_fork):
		self.proc, self.socket, self.log = proc, socket, log_path
		self.upstream, self.no_fork = upstream, no_fork
		self.expected_exit = False

	@property
	def pid(self):
		return self.proc.pid

	def alive(self):
		return self.proc.poll() is None

	def log_text(self):
		try:
			with open(self.log, errors="replace") as f:
				return f.read()
		except OSError:
			return ""


class Env:
	"""One test's world: a private XDG_RUNTIME_DIR and every process started in it."""

	def __init__(self, name):
		self.name = name
		self.rt = tempfile.mkdtemp(prefix=f"cw-{name}-")
		os.chmod(self.rt, 0o700)
		self.home = os.path.join(self.rt, "home")
		os.mkdir(self.home)
		self.procs = []      # (label, Popen), all killed by teardown()
		self.logs = []       # (label, path), printed on failure
		self.crossways = []
		self.counter = 0

	def path(self, name):
		return os.path.join(self.rt, name)

	def unique(self, stem):
		self.counter += 1
		return f"{stem}-{self.counter}"

	def base_env(self, **extra):
		env = {k: v for k, v in os.environ.items() if k not in SCRUB_ENV}
		env["XDG_RUNTIME_DIR"] = self.rt
		env["HOME"] = self.home
		env.update({k: str(v) for k, v in extra.items()})
		return env

	def client_env(self, display, **extra):
		"""Environment for a client of display (a socket path)."""
		return self.base_env(WAYLAND_DISPLAY=display, **extra)

	def add_log(self, label, path):
		self.logs.append((label, path))

	# -- processes -----------------------------------------------------------

	def spawn(self, label, cmd, env, stdout=None, stderr=None, stdin=subprocess.DEVNULL,
			log_to=None):
		"""Starts cmd in its own session (so teardown can kill its whole group).
		With log_to, stdout and stderr go to that file, which is printed on failure."""
		f = None
		if log_to is not None:
			f = open(log_to, "ab")
			stdout = stderr = f
			self.add_log(label, log_to)
		try:
			p = subprocess.Popen(cmd, env=env, stdin=stdin, stdout=stdout, stderr=stderr,
				start_new_session=True, cwd=self.rt)
		except FileNotFoundError:
			raise Skip(f"{cmd[0]} is not installed")
		finally:
			if f is not None:
				f.close()
		self.procs.append((label, p))
		return p

	def run(self, cmd, env, timeout_s=20, input=None):
		"""Runs cmd to completion, returns a Result. A timeout is a test failure."""
		p = self.spawn(cmd[0], cmd, env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
			stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL)
		try:
			out, err = p.communicate(input=input, timeout=timeout_s)
		except subprocess.TimeoutExpired:
			kill_group(p)
			out, err = p.communicate()
			raise Timeout(f"{' '.join(cmd)!r} did not finish within {timeout_s} s\n"
				f"--- stdout ---\n{_text(out)}\n--- stderr ---\n{_text(err)}")
		return Result(cmd, p.returncode, out, err)

	def wait_exit(self, p, timeout_s, what):
		try:
			return p.wait(timeout=timeout_s)
		except subprocess.TimeoutExpired:
			raise Timeout(f"{what} (pid {p.pid}) still running after {timeout_s} s")

	# -- compositors ---------------------------------------------------------

	def start_weston(self, socket_name=None, width=640, height=480):
		need("weston")
		socket_name = socket_name or self.unique("weston")
		ini = self.path("weston.ini")
		with open(ini, "w") as f:
			f.write(WESTON_INI)
		log_path = self.path(self.unique(socket_name) + ".log")
		cmd = ["weston", "--backend=headless-backend.so", "--use-pixman", "--debug",
			f"--width={width}", f"--height={height}", f"--socket={socket_name}",
			"-c", ini, f"--log={log_path}"]
		p = self.spawn(f"weston ({socket_name})", cmd, self.base_env(), log_to=log_path)
		sock = self.path(socket_name)
		# A socket left by a killed compositor exists but refuses connections.
		self._wait_socket(p, sock, "weston", log_path, probe=True)
		return Compositor("weston", p, sock, log_path, socket_name=socket_name)

	def start_sway(self, extra_conf=""):
		"""Starts headless sway as nobody; extra_conf is appended to SWAY_CONF (for
		example a for_window rule)."""
		need("sway", "swaymsg")
		conf = self.path("sway.conf")
		with open(conf, "w") as f:
			f.write(SWAY_CONF + extra_conf)
		before = set(self._wayland_sockets())
		runas = []
		if os.getuid() == 0:
			# sway refuses to run as root: run it as nobody, in a runtime dir it owns.
			uid, gid = pwd.getpwnam("nobody").pw_uid, grp.getgrnam("nogroup").gr_gid
			for d, dirs, files in os.walk(self.rt):
				for n in [d] + [os.path.join(d, x) for x in dirs + files]:
					os.lchown(n, uid, gid)
			runas = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
		log_path = self.path(self.unique("sway") + ".log")
		env = self.base_env(WLR_BACKENDS="headless", WLR_RENDERER="pixman",
			WLR_LIBINPUT_NO_DEVICES="1", HOME=self.rt)
		p = self.spawn("sway", runas + ["sway", "-c", conf], env, log_to=log_path)

		def found():
			if p.poll() is not None:
				raise Fail(f"sway exited early ({signame(p.returncode)})")
			new = [s for s in self._wayland_sockets() if s not in before and is_socket(s)]
			ipc = glob.glob(self.path(f"sway-ipc.*.{p.pid}.sock"))
			return (new[0], ipc[0]) if new and ipc else None
		sock, ipc = wait_for(found, 10, "sway's wayland-N and IPC sockets")
		comp = Compositor("sway", p, sock, log_path, swaysock=ipc,
			socket_name=os.path.basename(sock))
		# The IPC socket exists before sway answers on it; wait for an answer.
		wait_for(lambda: self.run(["swaymsg", "-t", "get_outputs"],
			self.sway_env(comp), 5).rc == 0, 10, "swaymsg -t get_outputs to succeed")
		return comp

	def sway_env(self, comp):
		return self.base_env(SWAYSOCK=comp.swaysock)

	def sway_windows(self, comp):
		"""[(app_id, pid)] of the views in sway's tree."""
		r = self.run(["swaymsg", "-r", "-t", "get_tree"], self.sway_env(comp), 5)
		expect(r.rc == 0, "swaymsg -t get_tree failed: " + r.describe())
		out = []

		def walk(node):
			if node.get("app_id") is not None or node.get("pid"):
				out.append((node.get("app_id"), node.get("pid")))
			for k in ("nodes", "floating_nodes"):
				for child in node.get(k, []):
					walk(child)
		walk(json.loads(r.out))
		return out

	def wait_empty_desktop(self, comp, timeout_s=5):
		"""Waits until a screenshot shows only the background; returns (w, h)."""
		last = [None]

		def empty():
			w, h, _, last[0] = self.screenshot(comp)
			return (w, h) if last[0] == 0 else None
		try:
			return wait_for(empty, timeout_s, "an empty desktop")
		except Timeout:
			raise Fail(f"expected the empty {comp.kind} desktop to be all background "
				f"{BG_RGB}, the last screenshot had {last[0]} other pixels")

	def _wayland_sockets(self):
		return [s for s in glob.glob(self.path("wayland-*")) if not s.endswith(".lock")]

	def _wait_socket(self, p, sock, what, log_path, probe=False):
		def ready():
			if p.poll() is not None:
				raise Fail(f"{what} exited before creating {sock} ({signame(p.returncode)})")
			return is_socket(sock) and (accepts(sock) if probe else is_listening(sock))
		wait_for(ready, 10, f"{what} to listen on {sock}")

	# -- crossway ------------------------------------------------------------

	def start_crossway(self, upstream, extra_args=(), no_fork=False, socket_name=None,
			verbose=True, virtgpu=None, fake_env=None, extra_env=None):
		"""Starts $CROSSWAY --display upstream --socket RT/NAME; returns once the
		listening socket exists. stderr goes to RT/NAME.log. With virtgpu, crossway
		runs on the virtio-gpu test double instead (LD_PRELOAD of libcw-fakegpu.so;
		the double's host connects to upstream); fake_env adds CW_FAKEGPU_* switches.
		The double's report is RT/NAME.fakegpu (see check_fakegpu_report).
		extra_env is set last, over all of that (e.g. ASAN_OPTIONS)."""
		if not os.access(CROSSWAY, os.X_OK):
			raise Fail(f"crossway binary {CROSSWAY} does not exist or is not executable "
				"(run make, or set $CROSSWAY)")
		socket_name = socket_name or self.unique("cw")
		sock = self.path(socket_name)
		log_path = self.path(socket_name + ".log")
		env = self.base_env()
		if virtgpu is None:
			virtgpu = VIRTGPU_PASS
		if virtgpu:
			if not os.path.exists(FAKEGPU):
				raise Fail(f"virtio-gpu test double {FAKEGPU} is missing (run make)")
			dev = self.path(socket_name + "-renderD128")
			env.update({
				"LD_PRELOAD": FAKEGPU,
				"ASAN_OPTIONS": "verify_asan_link_order=0",
				"CW_FAKEGPU_WAYLAND": upstream,
				"CW_FAKEGPU_DEVICE": dev,
				"CW_FAKEGPU_REPORT": self.path(socket_name + ".fakegpu"),
				"CW_FAKEGPU_STRICT_HANDLES": "1",
			})
			env.update(fake_env or {})
			cmd = [CROSSWAY, "--virtgpu=" + dev, "--socket", sock]
		else:
			cmd = [CROSSWAY, "--display", upstream, "--socket", sock]
		env.update(extra_env or {})
		if no_fork:
			cmd.append("--no-fork")
		if verbose:
			cmd.append("-v")
		cmd += list(extra_args)
		label = f"crossway ({socket_name}{', --no-fork' if no_fork else ''})"
		p = self.spawn(label, cmd, env, log_to=log_path)
		self._wait_socket(p, sock, "crossway", log_path)
		cw = Crossway(p, sock, log_path, upstream, no_fork)
		cw.virtgpu = virtgpu
		self.crossways.append(cw)
		return cw

	def stop_crossways_and_scan(self):
		"""SIGTERM every crossway still running (sanitizers report leaks at exit),
		then fails on any sanitizer report in their logs."""
		for cw in self.crossways:
			if cw.alive():
				cw.expected_exit = True
				cw.proc.terminate()
				try:
					cw.proc.wait(timeout=5)
				except subprocess.TimeoutExpired:
					pass
		reports = []
		for cw in self.crossways:
			lines = cw.log_text().splitlines()
			for i, l in enumerate(lines):
				if SANITIZER_LINE.search(l):
					reports.append(f"{cw.log}:\n" + "\n".join(lines[i:i + 15]))
					break
		expect(not reports, "sanitizer report in crossway's log (expected none):\n"
			+ "\n".join(reports))
		for cw in self.crossways:
			if getattr(cw, "virtgpu", False):
				check_fakegpu_report(cw)

	def check_crossways_alive(self):
		for cw in self.crossways:
			if not cw.expected_exit and not cw.alive():
				raise Fail(f"crossway (socket {cw.socket}) died during the test: "
					f"{signame(cw.proc.returncode)}")

	# -- screenshots ---------------------------------------------------------

	def screenshot(self, comp):
		"""grim -t ppm - straight on the compositor; returns (w, h, rgb bytes,
		number of pixels that differ from the background)."""
		need("grim")
		r = self.run(["grim", "-t", "ppm", "-"], self.client_env(comp.socket), 10)
		expect(r.rc == 0, "grim failed: " + r.describe())
		w, h, rgb = read_ppm(r.out)
		return w, h, rgb, non_bg_pixels(w, h, rgb)

	def weston_screenshot(self, comp):
		"""weston-screenshooter on weston (started with --debug); returns (w, h, rgb
		bytes, number of pixels that differ from the background)."""
		need("weston-screenshooter")
		from PIL import Image
		p = self.spawn("weston-screenshooter", ["weston-screenshooter"],
			self.client_env(comp.socket), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
		p.wait(timeout=10)
		# It writes wayland-screenshot-DATE.png into its working directory, the runtime dir.
		shots = glob.glob(self.path("wayland-screenshot-*.png"))
		expect(p.returncode == 0 and shots, f"weston-screenshooter failed ({signame(p.returncode)})")
		im = Image.open(shots[0]).convert("RGB")
		for s in shots:
			os.unlink(s)
		w, h = im.size
		rgb = im.tobytes()
		return w, h, rgb, non_bg_pixels(w, h, rgb)

	# -- teardown ------------------------------------------------------------

	def print_logs(self):
		for label, path in self.logs:
			try:
				with open(path, errors="replace") as f:
					lines = f.read().splitlines()
			except OSError as e:
				print(f"===== log of {label}: {path}: {e}")
				continue
			cut = len(lines) - LOG_TAIL_LINES
			print(f"===== log of {label} ({path}, {len(lines)} lines) =====")
			if cut > 0:
				print(f"[... first {cut} lines cut ...]")
			for line in lines[max(cut, 0):]:
				print(line)
		sys.stdout.flush()

	def teardown(self):
		for label, p in reversed(self.procs):
			kill_group(p)
		self._sweep()
		shutil.rmtree(self.rt, ignore_errors=True)

	def _sweep(self):
		"""Kills processes that escaped their group (daemons) yet were started by
		this test: they carry our unique XDG_RUNTIME_DIR in their environment."""
		marker = b"XDG_RUNTIME_DIR=" + self.rt.encode() + b"\0"
		for pid in os.listdir("/proc"):
			if not pid.isdigit() or int(pid) == os.getpid():
				continue
			try:
				with open(f"/proc/{pid}/environ", "rb") as f:
					if marker in f.read() + b"\0":
						os.kill(int(pid), signal.SIGKILL)
			except (OSError, ProcessLookupError):
				pass


def kill_group(p, sig=signal.SIGTERM, grace_s=3):
	"""Signals p's process group; escalates to SIGKILL after grace_s."""
	if p.poll() is None:
		try:
			os.killpg(p.pid, sig)
		except (ProcessLookupError, PermissionError):
			pass
		try:
			p.wait(timeout=grace_s)
		except subprocess.TimeoutExpired:
			pass
	# The leader may be gone while the group lives on (forked children).
	try:
		os.killpg(p.pid, signal.SIGKILL)
	except (ProcessLookupError, PermissionError):
		pass
	try:
		p.wait(timeout=grace_s)
	except subprocess.TimeoutExpired:
		pass


def wait_fd_count(cw, baseline, timeout_s=3):
	"""Waits until crossway (--no-fork) is back to baseline open fds."""
	try:
		wait_for(lambda: fd_count(cw.pid) == baseline, timeout_s,
			f"crossway's fd count to return to {baseline}")
	except Timeout:
		now = fd_list(cw.pid)
		raise Fail(f"crossway (pid {cw.pid}) fd leak: expected {baseline} open fds after the "
			f"clients left, saw {len(now)} after {timeout_s} s: {now}")


def children(pid):
	"""Pids whose parent is pid."""
	out = []
	for p in os.listdir("/proc"):
		if not p.isdigit():
			continue
		try:
			with open(f"/proc/{p}/stat") as f:
				line = f.read()
		except OSError:
			continue
		# Field 4 (ppid) follows the parenthesised command name, which may hold spaces.
		if int(line[line.rindex(")") + 2:].split()[1]) == pid:
			out.append(int(p))
	return out


def wait_no_children(cw, timeout_s=3):
	"""Fork mode: every per-client process must be gone once its client left."""
	try:
		wait_for(lambda: not children(cw.pid), timeout_s,
			"crossway's per-client processes to exit")
	except Timeout:
		raise Fail(f"crossway (pid {cw.pid}) still has child processes {children(cw.pid)} "
			f"{timeout_s} s after all its clients disconnected (expected none)")


def wait_clients_gone(cw, baseline_fds):
	"""After the last client left: no fd leak (--no-fork) or no leftover child (fork)."""
	if cw.no_fork:
		wait_fd_count(cw, baseline_fds)
	else:
		wait_no_children(cw)


# The CLI spec says "crossway: ERROR [file:line] ..."; the level is also accepted in
# lower case and with a pid after the program name ("crossway[123]: error [...]").
def check_fakegpu_report(cw, contexts=None):
	"""The test double's report must hold no VIOLATION or LEAK line; with contexts,
	exactly that many contexts must have been closed. Returns the report lines."""
	path = cw.socket + ".fakegpu"
	lines = open(path).read().splitlines() if os.path.exists(path) else []
	bad = [l for l in lines if "VIOLATION" in l or "LEAK" in l]
	expect(not bad, "the virtio-gpu test double saw crossway break a rule:\n" +
		"\n".join(bad[:20]))
	if contexts is not None:
		closed = [l for l in lines if re.search(r"context \d+ closed", l)]
		expect_eq(len(closed), contexts, "contexts closed in the double's report")
	return lines


def check_log_clean_except(cw, allowed):
	"""check_log_clean, tolerating error lines that contain the text allowed."""
	check_log_clean(cw, allowed)


def check_log_clean(cw, allowed=None):
	"""A crossway log must hold no error-level line after a test with well-behaved
	clients (and no sanitizer report)."""
	pat = re.compile(r"^crossway(\[\d+\])?: (ERROR|error)\b")
	bad = [l for l in cw.log_text().splitlines() if (pat.search(l) and not (allowed and
		allowed in l)) or SANITIZER_LINE.search(l)]
	expect(not bad, "crossway logged errors during well-behaved traffic (expected none):\n"
		+ "\n".join(bad[:20]))


def _on_signal(signum, frame):
	raise Interrupted(f"test interrupted by {signal.Signals(signum).name}")


def _on_alarm(signum, frame):
	raise Timeout(f"test exceeded its own limit of {TEST_TIMEOUT_S} s")


def main(test_fn):
	"""Runs test_fn(env) in a fresh Env; exits 0/1/77. On failure prints the reason
	and every log. Teardown always runs."""
	name = os.path.splitext(os.path.basename(sys.argv[0]))[0]
	signal.signal(signal.SIGTERM, _on_signal)
	signal.signal(signal.SIGINT, _on_signal)
	signal.signal(signal.SIGALRM, _on_alarm)
	signal.alarm(TEST_TIMEOUT_S)
	env = None
	rc = EXIT_FAIL
	try:
		env = Env(name)
		test_fn(env)
		env.check_crossways_alive()
		env.stop_crossways_and_scan()
		rc = EXIT_PASS
	except Skip as e:
		print(f"SKIP: {e}")
		rc = EXIT_SKIP
	except (Fail, Interrupted) as e:
		print(f"FAIL: {e}")
		if env is not None:
			env.print_logs()
	except BaseException:
		traceback.print_exc()
		print("FAIL: unexpected exception in the test harness")
		if env is not None:
			env.print_logs()
	finally:
		signal.alarm(0)
		signal.signal(signal.SIGTERM, signal.SIG_IGN)
		signal.signal(signal.SIGINT, signal.SIG_IGN)
		if env is not None and os.environ.get("CWTEST_KEEP") is None:
			env.teardown()
		elif env is not None:
			for label, p in env.procs:
				kill_group(p)
			print(f"kept {env.rt}")
	sys.stdout.flush()
	sys.exit(rc)
