#!/usr/bin/python3
"""wayland-info through crossway equals wayland-info straight on the compositor,
except that globals of interfaces crossway does not know (protocols/*.xml) are
absent, with their detail blocks, and versions are min(compositor, crossway).
Checked on weston and on sway."""

import difflib
import re

import cwtest
from cwtest import expect

HEADER = re.compile(r"^interface: '([^']+)',\s+version:\s*(\d+), name:\s*(\d+)$")


def blocks(text):
	"""[(iface, version, name, [detail lines])] in output order. Lines before the
	first header (there are none today) count as a block of their own."""
	out = []
	for line in text.splitlines():
		m = HEADER.match(line)
		if m:
			out.append((m.group(1), int(m.group(2)), int(m.group(3)), []))
		elif out:
			out[-1][3].append(line)
		else:
			out.append((None, 0, 0, [line]))
	return out


def render(blks):
	lines = []
	for iface, ver, name, detail in blks:
		if iface is not None:
			lines.append(f"interface: '{iface}', version: {ver}, name: {name}")
		lines.extend(detail)
	return lines


def expected_through_crossway(direct, known):
	exp = []
	for iface, ver, name, detail in blocks(direct):
		if iface is None:
			exp.append((iface, ver, name, detail))
		elif iface in known:
			exp.append((iface, min(ver, known[iface]), name, detail))
	return exp


def check(env, comp, known):
	r = env.run(["wayland-info"], env.client_env(comp.socket))
	expect(r.rc == 0, f"direct wayland-info on {comp.kind} failed: " + r.describe())
	direct, direct_err = r.out.decode(), r.err
	cw = env.start_crossway(comp.socket)
	r = env.run(["wayland-info"], env.client_env(cw.socket))
	expect(r.rc == 0, f"wayland-info through crossway on {comp.kind} failed: " + r.describe())
	seen = render(blocks(r.out.decode()))
	exp = render(expected_through_crossway(direct, known))
	hidden = sorted({b[0] for b in blocks(direct) if b[0] is not None and b[0] not in known})
	cwtest.log(f"{comp.kind}: {len(blocks(direct))} globals direct, hidden: {', '.join(hidden)}")
	if seen != exp:
		diff = "\n".join(difflib.unified_diff(exp, seen, "expected (direct output, hidden "
			"globals removed, versions clamped)", "seen through crossway", lineterm=""))
		cwtest.fail(f"wayland-info through crossway on {comp.kind} differs from the "
			f"expectation:\n{diff}\n--- direct output was ---\n{direct}")
	expect(r.err == direct_err, f"wayland-info's stderr through crossway on {comp.kind}: "
		f"expected {direct_err!r} (as direct), saw {r.err!r}")
	cwtest.check_log_clean(cw)


def test(env):
	cwtest.need("wayland-info", "weston", "sway")
	known = cwtest.known_interfaces()
	check(env, env.start_weston(), known)
	check(env, env.start_sway(), known)


if __name__ == "__main__":
	cwtest.main(test)
