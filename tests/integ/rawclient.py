"""A raw-bytes Wayland client for tests: builds messages with struct, sends fds with
SCM_RIGHTS, and decodes the few events tests look at (wl_display.error and
delete_id, wl_registry.global/global_remove, wl_callback.done).

It allocates client object ids in increasing order and never reuses them, so every
new_id it sends is the next one a server expects (unless a test asks otherwise).
"""

import array
import os
import select
import socket
import struct
import time

DISPLAY_ID = 1

# wl_display
DISPLAY_SYNC, DISPLAY_GET_REGISTRY = 0, 1
EV_DISPLAY_ERROR, EV_DISPLAY_DELETE_ID = 0, 1
# wl_registry
REGISTRY_BIND = 0
EV_REGISTRY_GLOBAL, EV_REGISTRY_GLOBAL_REMOVE = 0, 1
# wl_callback
EV_CALLBACK_DONE = 0

# wl_display.error codes
ERR_INVALID_OBJECT, ERR_INVALID_METHOD, ERR_NO_MEMORY, ERR_IMPLEMENTATION = 0, 1, 2, 3
ERROR_NAMES = {0: "invalid_object", 1: "invalid_method", 2: "no_memory", 3: "implementation"}


class ProtocolError(Exception):
	def __init__(self, obj, code, msg):
		super().__init__(f"wl_display.error(object {obj}, code {code} "
			f"({ERROR_NAMES.get(code, '?')}), {msg!r})")
		self.obj, self.code, self.msg = obj, code, msg


class Disconnected(Exception):
	pass


class TimedOut(Exception):
	pass


def u32(v):
	return struct.pack("=I", v & 0xffffffff)


def i32(v):
	return struct.pack("=i", v)


def string(s, nul=True, length=None):
	"""A string argument. nul=False leaves out the terminator; length overrides the
	length field (which normally counts the NUL)."""
	b = s.encode() if isinstance(s, str) else s
	if nul:
		b += b"\0"
	n = len(b) if length is None else length
	return u32(n) + b + b"\0" * (-len(b) % 4)


def array_arg(b):
	return u32(len(b)) + b + b"\0" * (-len(b) % 4)


def header(obj, opcode, size_bytes):
	return struct.pack("=II", obj, ((size_bytes & 0xffff) << 16) | opcode)


def message(obj, opcode, payload=b""):
	return header(obj, opcode, 8 + len(payload)) + payload


class Event:
	__slots__ = ("obj", "opcode", "payload", "fds")

	def __init__(self, obj, opcode, payload, fds):
		self.obj, self.opcode, self.payload, self.fds = obj, opcode, payload, fds

	def __repr__(self):
		return f"Event(obj={self.obj}, opcode={self.opcode}, {len(self.payload)} payload bytes)"


def decode_string(payload, off):
	(n,) = struct.unpack_from("=I", payload, off)
	off += 4
	s = payload[off:off + n]
	off += (n + 3) & ~3
	if n and s.endswith(b"\0"):
		s = s[:-1]
	return s.decode(errors="replace"), off


class RawClient:
	def __init__(self, path, timeout_s=5.0):
		self.path = path
		self.timeout_s = timeout_s
		self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
		self.sock.connect(path)
		self.inbuf = b""
		self.infds = []
		self.next_id = 2
		self.registry = None
		self.globals = {}          # name -> (interface, version)
		self.error = None          # ProtocolError once wl_display.error arrived
		self.eof = False
		self.deleted = []

	def close(self):
		if self.sock is not None:
			self.sock.close()
			self.sock = None
		for fd in self.infds:
			os.close(fd)
		self.infds = []

	def __enter__(self):
		return self

	def __exit__(self, *a):
		self.close()

	def new_id(self):
		i = self.next_id
		self.next_id += 1
		return i

	# -- sending -------------------------------------------------------------

	def send_raw(self, data, fds=()):
		if fds:
			anc = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds).tobytes())]
			n = self.sock.sendmsg([data], anc)
		else:
			n = self.sock.send(data)
		if n != len(data):
			self.sock.sendall(data[n:])

	def send(self, obj, opcode, payload=b"", fds=()):
		self.send_raw(message(obj, opcode, payload), fds)

	def get_registry(self):
		self.registry = self.new_id()
		self.send(DISPLAY_ID, DISPLAY_GET_REGISTRY, u32(self.registry))
		return self.registry

	def sync(self):
		cb = self.new_id()
		self.send(DISPLAY_ID, DISPLAY_SYNC, u32(cb))
		return cb

	def bind(self, name, interface, version, new_id=None):
		if new_id is None:
			new_id = self.new_id()
		self.send(self.registry, REGISTRY_BIND,
			u32(name) + string(interface) + u32(version) + u32(new_id))
		return new_id

	# -- receiving -----------------------------------------------------------

	def _fill(self, deadline):
		"""Reads more bytes; sets eof on hang-up. Raises TimedOut at the deadline."""
		left = deadline - time.monotonic()
		if left <= 0:
			raise TimedOut()
		r, _, _ = select.select([self.sock], [], [], left)
		if not r:
			raise TimedOut()
		try:
			data, anc, flags, _ = self.sock.recvmsg(65536, socket.CMSG_SPACE(28 * 4))
		except ConnectionResetError:
			data, anc = b"", []
		for level, typ, cdata in anc:
			if level == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:
				fds = array.array("i")
				fds.frombytes(cdata[:len(cdata) - len(cdata) % 4])
				self.infds.extend(fds)
		if not data:
			self.eof = True
		self.inbuf += data

	def _take(self):
		if len(self.inbuf) < 8:
			return None
		obj, word = struct.unpack_from("=II", self.inbuf)
		size = word >> 16
		if size < 8:
			raise AssertionError(f"server sent a message with size {size} < 8")
		if len(self.inbuf) < size:
			return None
		ev = Event(obj, word & 0xffff, self.inbuf[8:size], [])
		self.inbuf = self.inbuf[size:]
		self._note(ev)
		return ev

	def _note(self, ev):
		if ev.obj == DISPLAY_ID and ev.opcode == EV_DISPLAY_ERROR:
			obj, code = struct.unpack_from("=II", ev.payload)
			msg, _ = decode_string(ev.payload, 8)
			self.error = ProtocolError(obj, code, msg)
		elif ev.obj == DISPLAY_ID and ev.opcode == EV_DISPLAY_DELETE_ID:
			self.deleted.append(struct.unpack_from("=I", ev.payload)[0])
		elif ev.obj == self.registry and self.registry is not None:
			if ev.opcode == EV_REGISTRY_GLOBAL:
				(name,) = struct.unpack_from("=I", ev.payload)
				iface, off = decode_string(ev.payload, 4)
				(ver,) = struct.unpack_from("=I", ev.payload, off)
				self.globals[name] = (iface, ver)
			elif ev.opcode == EV_REGISTRY_GLOBAL_REMOVE:
				(name,) = struct.unpack_from("=I", ev.payload)
				self.globals.pop(name, None)

	def read_event(self, timeout_s=None):
		"""Next event, or None on hang-up. Raises TimedOut."""
		deadline = time.monotonic() + (self.timeout_s if timeout_s is None else timeout_s)
		while True:
			ev = self._take()
			if ev is not None:
				return ev
			if self.eof:
				return None
			self._fill(deadline)

	def roundtrip(self, timeout_s=None):
		"""wl_display.sync and wait for its done. Raises ProtocolError, Disconnected
		or TimedOut."""
		cb = self.sync()
		while True:
			try:
				ev = self.read_event(timeout_s)
			except TimedOut:
				raise TimedOut(f"no wl_callback.done for callback {cb} within "
					f"{self.timeout_s if timeout_s is None else timeout_s} s")
			if self.error is not None:
				raise self.error
			if ev is None:
				raise Disconnected(f"connection closed before wl_callback.done for {cb}")
			if ev.obj == cb and ev.opcode == EV_CALLBACK_DONE:
				return

	def wait_error_and_close(self, timeout_s=None):
		"""Reads until hang-up. Returns (error or None, closed: bool); closed is False
		if the connection stayed open until the timeout."""
		deadline = time.monotonic() + (self.timeout_s if timeout_s is None else timeout_s)
		try:
			while True:
				left = deadline - time.monotonic()
				ev = self.read_event(max(left, 0.001))
				if ev is None:
					return self.error, True
		except TimedOut:
			return self.error, False
