"""A frame-callback-driven demo client (weston-simple-shm and the like) run with
WAYLAND_DEBUG=client; a thread reads its stderr and counts wl_surface.commit
requests, keeping protocol errors and the last lines for failure messages."""

import collections
import re
import signal
import subprocess
import threading

import cwtest

COMMIT = re.compile(r"-> wl_surface@\d+\.commit\(\)")
DEBUG_LINE = re.compile(r"^\[\s*\d+\.\d+\]")
# libwayland-client logs a received error as "wl_display@1.error(...)" (WAYLAND_DEBUG)
# and "interface@id: error N: message" (display_handle_error).
ERROR_LINE = re.compile(r"wl_display@1\.error\(|@\d+: error \d+: |[Pp]rotocol error")


class Demo:
	def __init__(self, env, prog, display, args=()):
		self.prog = prog
		self.lock = threading.Lock()
		self.commits = 0
		self.errors = []
		self.other = []  # non-debug lines (the client's own messages)
		self.tail = collections.deque(maxlen=30)
		self.p = env.spawn(prog, [prog] + list(args),
			env.client_env(display, WAYLAND_DEBUG="client"),
			stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
		self.reader = threading.Thread(target=self._read, daemon=True)
		self.reader.start()

	def _read(self):
		for raw in self.p.stderr:
			line = raw.decode(errors="replace").rstrip("\n")
			with self.lock:
				self.tail.append(line)
				if COMMIT.search(line):
					self.commits += 1
				if ERROR_LINE.search(line):
					self.errors.append(line)
				if not DEBUG_LINE.match(line):
					self.other.append(line)

	def count(self):
		with self.lock:
			return self.commits

	def describe(self):
		with self.lock:
			return (f"{self.prog}: {self.commits} commits; its own messages: {self.other[:20]}; "
				f"protocol errors: {self.errors[:5]}; last stderr lines:\n  "
				+ "\n  ".join(self.tail))

	def wait_commits(self, n, timeout_s):
		"""Waits until n commits were seen; fails if the client exits or is too slow."""
		def enough():
			if self.count() >= n:
				return self.count()
			if self.p.poll() is not None:
				cwtest.fail(f"{self.prog} exited ({cwtest.signame(self.p.returncode)}) after "
					f"{self.count()} commits, expected it to keep running: " + self.describe())
			return 0
		try:
			return cwtest.wait_for(enough, timeout_s, f"{n} commits from {self.prog}")
		except cwtest.Timeout:
			cwtest.fail(f"{self.prog}: expected at least {n} commits within {timeout_s} s, "
				f"saw {self.count()}: " + self.describe())

	def wait_exit(self, timeout_s):
		try:
			rc = self.p.wait(timeout=timeout_s)
		except subprocess.TimeoutExpired:
			cwtest.fail(f"{self.prog} still running {timeout_s} s after it should have "
				"exited: " + self.describe())
		self.reader.join(timeout=timeout_s)
		return rc

	def interrupt_and_check(self, timeout_s=5):
		"""SIGINT; the client must exit 0 with no protocol error on its stderr."""
		if self.p.poll() is not None:
			cwtest.fail(f"{self.prog} exited ({cwtest.signame(self.p.returncode)}) before "
				"SIGINT: " + self.describe())
		self.p.send_signal(signal.SIGINT)
		rc = self.wait_exit(timeout_s)
		cwtest.expect(rc == 0, f"{self.prog} after SIGINT: expected exit 0, saw "
			f"{cwtest.signame(rc)}: " + self.describe())
		cwtest.expect(not self.errors, f"{self.prog}: expected no protocol error, saw: "
			+ self.describe())
