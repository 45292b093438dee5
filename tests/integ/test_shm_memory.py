#!/usr/bin/python3
"""No leak per shadow buffer: tests/clients/shm_steps creates, shows and destroys 1,000
toplevels, each with its own wl_shm pool and 256x256 buffer, through one crossway
(--no-fork, --shm=copy). Between cycle 100 and cycle 1,000 crossway's open fds must not
grow and its RSS must grow by less than RSS_SLACK_KIB (a leaked shadow is 256 KiB)."""

import time

import cwtest
from cwtest import expect
from test_shm_pixels import SWAY_EXTRA, Steps, need_shm_copy

WARMUP_CYCLES = 100
CYCLES = 1000
RSS_SLACK_KIB = 2048
# The sanitizer build's quarantine holds freed memory back and would count as growth.
# This replaces start_crossway's ASAN_OPTIONS, so it keeps what the test double needs.
ASAN_OPTIONS = "verify_asan_link_order=0:quarantine_size_mb=0:thread_local_quarantine_size_kb=0"
SETTLE_S = 3


def rss_kib(pid):
	with open(f"/proc/{pid}/status") as f:
		for line in f:
			if line.startswith("VmRSS:"):
				return int(line.split()[1])
	cwtest.fail(f"no VmRSS line in /proc/{pid}/status")


def settled_fds(cw):
	"""crossway's fds once two readings 100 ms apart agree (the compositor may still be
	releasing the last shadows)."""
	deadline = time.monotonic() + SETTLE_S
	prev = cwtest.fd_list(cw.pid)
	while True:
		time.sleep(0.1)
		now = cwtest.fd_list(cw.pid)
		if now == prev or time.monotonic() > deadline:
			return now
		prev = now


def test(env):
	cwtest.need("sway", "swaymsg", "grim")
	copy_args = need_shm_copy(env)
	sway = env.start_sway(SWAY_EXTRA)
	env.wait_empty_desktop(sway)
	cw = env.start_crossway(sway.socket, extra_args=copy_args, no_fork=True,
		extra_env={"ASAN_OPTIONS": ASAN_OPTIONS})
	base_fds = cwtest.fd_count(cw.pid)
	c = Steps(env, cw.socket, "crossway")
	t0 = time.monotonic()
	c.send(f"cycles {WARMUP_CYCLES}")
	fds1, rss1 = settled_fds(cw), rss_kib(cw.pid)
	t1 = time.monotonic()
	c.send(f"cycles {CYCLES - WARMUP_CYCLES}")
	fds2, rss2 = settled_fds(cw), rss_kib(cw.pid)
	t2 = time.monotonic()
	cwtest.log(f"{WARMUP_CYCLES} cycles in {t1 - t0:.1f} s, {CYCLES - WARMUP_CYCLES} more in "
		f"{t2 - t1:.1f} s; crossway: {len(fds1)} then {len(fds2)} fds, RSS {rss1} then "
		f"{rss2} KiB")
	new = sorted((fd, t) for fd, t in fds2.items() if fds1.get(fd) != t)
	expect(len(fds2) <= len(fds1), f"crossway's fds grew from {len(fds1)} after "
		f"{WARMUP_CYCLES} cycles to {len(fds2)} after {CYCLES} (expected no growth); "
		f"{len(new)} new, the first: {new[:5]}")
	expect(rss2 - rss1 < RSS_SLACK_KIB, f"crossway's RSS grew by {rss2 - rss1} KiB "
		f"between cycle {WARMUP_CYCLES} ({rss1} KiB) and cycle {CYCLES} ({rss2} KiB), "
		f"expected less than {RSS_SLACK_KIB} KiB")
	c.quit()
	cwtest.wait_clients_gone(cw, base_fds)
	cwtest.check_log_clean(cw)
	if cw.virtgpu:
		cwtest.check_fakegpu_report(cw)


if __name__ == "__main__":
	cwtest.main(test)
