#!/usr/bin/python3
"""keymap_check (tests/clients/keymap_check.c) through crossway on sway: it gets a
wl_keyboard, receives the keymap fd, maps and compiles it, and prints the same key
and layout counts as when run straight on sway. A virtual keyboard with a full "us"
keymap gives headless sway's seat its keyboard."""

import cwtest
from cwtest import expect


def run_check(env, display, where):
	r = env.run([cwtest.test_client("keymap_check")], env.client_env(display), 15)
	expect(r.rc == 0 and r.out.startswith(b"keymap ok: "), f"keymap_check {where}: expected "
		"exit 0 and 'keymap ok: ...', saw " + r.describe())
	return r.out.decode().strip()


def test(env):
	cwtest.need("sway")
	sway = env.start_sway()
	kbd = cwtest.add_virtual_keyboard(sway)
	direct = run_check(env, sway.socket, "straight on sway")
	cw = env.start_crossway(sway.socket)
	seen = run_check(env, cw.socket, "through crossway")
	cwtest.log(f"direct: {direct}; through crossway: {seen}")
	cwtest.expect_eq(seen, direct, "keymap_check output through crossway (vs direct)")
	kbd.close()
	cwtest.check_log_clean(cw)


if __name__ == "__main__":
	cwtest.main(test)
