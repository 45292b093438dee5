#!/usr/bin/python3
"""Runs every tests/integ/test_*.py as its own subprocess (120 s limit each).

Usage: /usr/bin/python3 tests/integ/run.py [SUBSTRING]
Prints one line per test (PASS/FAIL/SKIP name seconds), a failed test's output, and
last the line "N passed, N failed, N skipped" (CI reads it). Exits 1 if any failed.
Environment:
  CROSSWAY             binary under test (default: <repo>/crossway)
  CWTEST_CLIENTS_DIR   where the tests/clients programs are (default: <repo>/build/tests)
  CWTEST_KEEP=1        keep each test's runtime dir (logs, sockets) for inspection
  CWTEST_TIMEOUT_S     per-test limit (default 120)
  CWTEST_PYTHON        interpreter for the tests (default /usr/bin/python3)
"""

import glob
import os
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PYTHON = os.environ.get("CWTEST_PYTHON") or (
	"/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable)
TIMEOUT_S = int(os.environ.get("CWTEST_TIMEOUT_S") or 120)
GRACE_S = 10  # after SIGTERM the test tears down and prints its logs


def run_one(path):
	t0 = time.monotonic()
	p = subprocess.Popen([PYTHON, "-B", path], stdout=subprocess.PIPE,
		stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True, cwd=HERE)
	try:
		out, _ = p.communicate(timeout=TIMEOUT_S)
		rc = p.returncode
	except subprocess.TimeoutExpired:
		os.killpg(p.pid, signal.SIGTERM)
		try:
			out, _ = p.communicate(timeout=GRACE_S)
		except subprocess.TimeoutExpired:
			os.killpg(p.pid, signal.SIGKILL)
			out, _ = p.communicate()
		out += f"\nrun.py: killed after {TIMEOUT_S} s\n".encode()
		rc = 1
	return rc, out.decode(errors="replace"), time.monotonic() - t0


def main():
	pattern = sys.argv[1] if len(sys.argv) > 1 else ""
	tests = sorted(t for t in glob.glob(os.path.join(HERE, "test_*.py"))
		if pattern in os.path.basename(t))
	counts = {"PASS": 0, "FAIL": 0, "SKIP": 0}
	for t in tests:
		name = os.path.basename(t)[len("test_"):-len(".py")]
		rc, out, secs = run_one(t)
		status = {0: "PASS", 77: "SKIP"}.get(rc, "FAIL")
		counts[status] += 1
		print(f"{status} {name} {secs:.1f}", flush=True)
		if status == "FAIL":
			print(f"----- output of {name} (exit {rc}) -----")
			print(out.rstrip())
			print(f"----- end of {name} -----", flush=True)
		elif status == "SKIP":
			reason = [l for l in out.splitlines() if l.startswith("SKIP:")]
			if reason:
				print(f"  {reason[-1]}", flush=True)
	mode = "virtio-gpu double" if os.environ.get("CWTEST_VIRTGPU") == "1" else "direct"
	print(f"(crossway upstream: {mode})")
	print(f"{counts['PASS']} passed, {counts['FAIL']} failed, {counts['SKIP']} skipped")
	return 1 if counts["FAIL"] else 0


if __name__ == "__main__":
	sys.exit(main())
