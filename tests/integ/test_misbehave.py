#!/usr/bin/python3
"""Misbehaving raw clients against crossway --no-fork on weston. Each case runs on its
own connection and must get wl_display.error with the expected object id and code
(as libwayland would send), then be closed by crossway. A well-behaved connection
stays open throughout and must complete a wl_display.sync roundtrip after every case.
At the end crossway's fd count must be back to what it was before the cases."""

import os
import select

import cwtest
import rawclient as rc
from cwtest import expect

CLOSE_TIMEOUT_S = 3


class Ctx:
	"""What the cases need to know about the globals."""

	def __init__(self, advertised, direct):
		self.advertised = advertised  # name -> (iface, version), through crossway
		self.direct = direct          # name -> (iface, version), straight on weston

	def name_of(self, iface):
		for name, (i, ver) in self.advertised.items():
			if i == iface:
				return name, ver
		cwtest.fail(f"crossway advertises no {iface} global (advertised: {self.advertised})")


def with_registry(c):
	reg = c.get_registry()
	c.roundtrip()
	return reg


# Each case gets a fresh connection and returns (object id, code) of the expected
# wl_display.error, or None when it closes the connection itself (then only the
# fd accounting and the good client are checked).

def case_short_header(c, ctx):
	"""A header whose size field (4) is below the header's own 8 bytes."""
	c.send_raw(rc.header(rc.DISPLAY_ID, rc.DISPLAY_SYNC, 4) + rc.u32(2))
	return rc.DISPLAY_ID, rc.ERR_INVALID_METHOD


def case_nonexistent_object(c, ctx):
	c.send(77, 0, rc.u32(2))
	return rc.DISPLAY_ID, rc.ERR_INVALID_OBJECT


def case_unknown_display_opcode(c, ctx):
	c.send(rc.DISPLAY_ID, 7, rc.u32(2))
	return rc.DISPLAY_ID, rc.ERR_INVALID_METHOD


def case_oversized_message(c, ctx):
	"""A size field of 8192, above libwayland's 4096-byte message limit, with the
	whole declared message actually sent."""
	size = 8192
	try:
		c.send_raw(rc.header(rc.DISPLAY_ID, rc.DISPLAY_SYNC, size) + rc.u32(2)
			+ b"\0" * (size - 12))
	except (BrokenPipeError, ConnectionResetError):
		pass  # closed while we were still writing: the error may still be readable
	return rc.DISPLAY_ID, rc.ERR_INVALID_METHOD


def case_string_without_nul(c, ctx):
	reg = with_registry(c)
	name, _ = ctx.name_of("wl_compositor")
	c.send(reg, rc.REGISTRY_BIND, rc.u32(name) + rc.string("wl_compositor", nul=False)
		+ rc.u32(1) + rc.u32(c.new_id()))
	return rc.DISPLAY_ID, rc.ERR_INVALID_METHOD


def case_bind_hidden_global(c, ctx):
	hidden = [(n, i) for n, (i, _) in ctx.direct.items()
		if i not in {a for a, _ in ctx.advertised.values()} and n not in ctx.advertised]
	expect(hidden, "weston offers no global that crossway hides (expected e.g. "
		"weston_debug_v1); cannot run this case")
	name, iface = hidden[0]
	cwtest.log(f"  binding hidden global {name} ({iface})")
	reg = with_registry(c)
	c.bind(name, iface, 1)
	return reg, rc.ERR_INVALID_OBJECT


def case_bind_nonexistent_global(c, ctx):
	name = max(list(ctx.direct) + list(ctx.advertised)) + 100
	reg = with_registry(c)
	c.bind(name, "wl_compositor", 1)
	return reg, rc.ERR_INVALID_OBJECT


def case_bind_version_too_high(c, ctx):
	name, ver = ctx.name_of("wl_compositor")
	reg = with_registry(c)
	c.bind(name, "wl_compositor", ver + 1)
	return reg, rc.ERR_INVALID_OBJECT


def case_bind_wrong_interface(c, ctx):
	name, _ = ctx.name_of("wl_compositor")
	reg = with_registry(c)
	c.bind(name, "wl_shm", 1)
	return reg, rc.ERR_INVALID_OBJECT


def case_new_id_skips_ahead(c, ctx):
	"""The first new object must be id 2; this asks for 10."""
	c.send(rc.DISPLAY_ID, rc.DISPLAY_GET_REGISTRY, rc.u32(10))
	return rc.DISPLAY_ID, rc.ERR_INVALID_METHOD


def case_fd_without_message(c, ctx):
	"""The write end of a pipe, sent with half a header, then a hang-up: whoever
	received the fd must close it (we see EOF on the read end)."""
	r, w = os.pipe()
	try:
		c.send_raw(rc.u32(rc.DISPLAY_ID), fds=[w])
		os.close(w)
		c.close()

		def eof():
			ready, _, _ = select.select([r], [], [], 0)
			return bool(ready) and os.read(r, 1) == b""
		try:
			cwtest.wait_for(eof, CLOSE_TIMEOUT_S, "EOF on the pipe whose write end was sent")
		except cwtest.Timeout:
			cwtest.fail("fd sent without a complete message, then hang-up: expected every "
				f"copy of the pipe's write end to be closed within {CLOSE_TIMEOUT_S} s "
				"(EOF on the read end), but it is still open somewhere (fd leak)")
	finally:
		os.close(r)
	return None


CASES = [
	case_short_header,
	case_nonexistent_object,
	case_unknown_display_opcode,
	case_oversized_message,
	case_string_without_nul,
	case_bind_hidden_global,
	case_bind_nonexistent_global,
	case_bind_version_too_high,
	case_bind_wrong_interface,
	case_new_id_skips_ahead,
	case_fd_without_message,
]


def run_case(case, cw, ctx):
	name = case.__name__[len("case_"):]
	c = rc.RawClient(cw.socket)
	try:
		want = case(c, ctx)
		if want is None:
			cwtest.log(f"{name}: ok")
			return None
		err, closed = c.wait_error_and_close(CLOSE_TIMEOUT_S)
		wobj, wcode = want
		wanted = (f"wl_display.error(object {wobj}, code {wcode} "
			f"({rc.ERROR_NAMES[wcode]}), non-empty message)")
		if err is None:
			return (f"{name}: expected {wanted}, saw no error "
				+ ("and the connection was closed" if closed else
				f"and the connection still open after {CLOSE_TIMEOUT_S} s"))
		cwtest.log(f"{name}: got {err}")
		if (err.obj, err.code) != (wobj, wcode) or not err.msg:
			return f"{name}: expected {wanted}, saw {err}"
		if not closed:
			return (f"{name}: got the expected error, but crossway did not close the "
				f"connection within {CLOSE_TIMEOUT_S} s (expected recv to return 0)")
		return None
	finally:
		c.close()


def test(env):
	cwtest.need("weston")
	weston = env.start_weston()
	cw = env.start_crossway(weston.socket, no_fork=True)

	direct = rc.RawClient(weston.socket)
	direct.get_registry()
	direct.roundtrip()
	direct_globals = dict(direct.globals)
	direct.close()

	good = rc.RawClient(cw.socket)
	good.get_registry()
	good.roundtrip()
	ctx = Ctx(dict(good.globals), direct_globals)
	baseline = cwtest.fd_count(cw.pid)
	cwtest.log(f"crossway pid {cw.pid}: {baseline} fds with one client connected")

	problems = []
	for case in CASES:
		try:
			p = run_case(case, cw, ctx)
		except (rc.TimedOut, rc.Disconnected, rc.ProtocolError) as e:
			p = f"{case.__name__[5:]}: setup on the misbehaving connection failed: {e}"
		except cwtest.Timeout:
			raise
		except cwtest.Fail as e:
			p = f"{case.__name__[5:]}: {e}"
		if p:
			cwtest.log("PROBLEM " + p)
			problems.append(p)
		expect(cw.alive(), f"crossway died during case {case.__name__[5:]} "
			f"({cwtest.signame(cw.proc.returncode)})")
		try:
			good.roundtrip(3)
		except (rc.TimedOut, rc.Disconnected, rc.ProtocolError) as e:
			cwtest.fail("\n".join(problems + [f"after case {case.__name__[5:]}: the "
				f"well-behaved connection failed its roundtrip: {e}"]))
	try:
		cwtest.wait_fd_count(cw, baseline)
	except cwtest.Fail as e:
		problems.append(str(e))
	good.close()
	expect(not problems, f"{len(problems)} of {len(CASES)} cases failed:\n" + "\n".join(problems))


if __name__ == "__main__":
	cwtest.main(test)
