"""wl-copy / wl-paste round trips, shared by the clipboard and two_clients tests."""

import subprocess

import cwtest


def describe_bytes(b):
	return f"{len(b)} bytes starting {b[:32]!r}"


def first_difference(a, b):
	for i, (x, y) in enumerate(zip(a, b)):
		if x != y:
			return i
	return min(len(a), len(b))


def round_trip(env, display, payload, primary=False, mime=None, timeout_s=10,
		paste_display=None):
	"""wl-copy --foreground PAYLOAD on display, then wl-paste on paste_display (the
	same by default) until it returns the payload (the selection is set
	asynchronously). Fails with what was seen last."""
	opts = (["-p"] if primary else []) + (["-t", mime] if mime else [])
	what = ("primary selection" if primary else "clipboard") + (f" ({mime})" if mime else "")
	if paste_display is not None and paste_display != display:
		what += f" from {display} to {paste_display}"
	cenv = env.client_env(display)
	penv = env.client_env(paste_display or display)
	log_path = env.path("wl-copy.log")
	with open(log_path, "ab") as log:
		copy = env.spawn("wl-copy", ["wl-copy", "--foreground"] + opts, cenv,
			stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=log)
	if ("wl-copy", log_path) not in env.logs:
		env.add_log("wl-copy", log_path)
	copy.stdin.write(payload)
	copy.stdin.close()
	last = [None]

	def pasted():
		cwtest.expect(copy.poll() is None, f"wl-copy {' '.join(opts)} exited "
			f"({cwtest.signame(copy.returncode)}) while it should serve the {what}")
		r = env.run(["wl-paste", "-n"] + opts, penv, 10)
		last[0] = r
		return r.rc == 0 and r.out == payload
	try:
		cwtest.wait_for(pasted, timeout_s, f"wl-paste to return the {what} payload",
			interval_s=0.02)
	except cwtest.Timeout:
		r = last[0]
		seen = "nothing (wl-paste never ran)" if r is None else (
			f"rc {r.rc}, {describe_bytes(r.out)}, first difference at byte "
			f"{first_difference(r.out, payload)}, stderr {r.err[-500:]!r}")
		cwtest.fail(f"{what} round trip through {display}: expected "
			f"{describe_bytes(payload)}, saw {seen}")
	return copy
