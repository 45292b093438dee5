# crossway — GNU Makefile. `make`, `make check`, `make install`, `make bench`.
PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
MANDIR     ?= $(PREFIX)/share/man
PKG_CONFIG ?= pkg-config
CC         ?= cc
AWK        ?= awk
PYTHON     ?= /usr/bin/python3
VERSION    := 0.1.0

WAYLAND_SCANNER := $(shell $(PKG_CONFIG) --variable=wayland_scanner wayland-scanner)
DAEMON_DEPS     := wayland-client libdrm pixman-1
TEST_DEPS       := wayland-client xkbcommon

WARN := -Wall -Wextra -Wstrict-prototypes -Wmissing-prototypes -Wvla -Wno-unused-parameter
ifeq ($(CI),true)
WARN += -Werror
endif
# Only wayland-util.h is used from libwayland's headers; the daemon links no libwayland.
CFLAGS_ALL  := -std=c11 -D_GNU_SOURCE -O2 -g $(WARN) -I. -Ibuild \
	$(shell $(PKG_CONFIG) --cflags $(DAEMON_DEPS)) -DCW_VERSION='"$(VERSION)"' $(CFLAGS)
LDFLAGS_ALL := $(LDFLAGS)
DAEMON_LIBS := $(shell $(PKG_CONFIG) --libs libdrm pixman-1) -lm
SAN_FLAGS   := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer

PROTO_XML  := $(sort $(wildcard protocols/*.xml))
PROTO_C    := $(patsubst protocols/%.xml,build/protocols/%-protocol.c,$(PROTO_XML))
PROTO_GEN  := $(PROTO_C) build/protocols/index.c

PROXY_SRC  := $(filter-out proxy/main.c,$(wildcard proxy/*.c)) $(wildcard shm/*.c) \
	$(wildcard virtgpu/*.c) $(wildcard util/*.c)
DAEMON_SRC := proxy/main.c $(PROXY_SRC)
DAEMON_OBJ := $(patsubst %.c,build/obj/%.o,$(DAEMON_SRC) $(PROTO_GEN))
SAN_OBJ    := $(patsubst %.c,build/san/%.o,$(DAEMON_SRC) $(PROTO_GEN))

UNIT_TESTS := $(patsubst tests/unit/%.c,build/tests/unit/%,$(filter-out tests/unit/test_gpu.c,\
	$(wildcard tests/unit/test_*.c)))
# Parts of shm_steps: linked into it, not clients of their own.
SHM_STEPS_PARTS := tests/clients/shm_steps_display.c tests/clients/shm_steps_frame.c
TEST_CLIENTS := $(patsubst tests/clients/%.c,build/tests/%,$(filter-out $(SHM_STEPS_PARTS),\
	$(wildcard tests/clients/*.c)))
BENCH_BIN  := $(patsubst bench/%.c,build/bench/%,$(wildcard bench/*.c))

all: crossway

crossway: $(DAEMON_OBJ)
	$(CC) $(CFLAGS_ALL) -o $@ $^ $(LDFLAGS_ALL) $(DAEMON_LIBS)

build/san/crossway: $(SAN_OBJ)
	$(CC) $(CFLAGS_ALL) $(SAN_FLAGS) -o $@ $^ $(LDFLAGS_ALL) $(DAEMON_LIBS)

build/protocols/%-protocol.c: protocols/%.xml
	@mkdir -p $(@D)
	$(WAYLAND_SCANNER) -s private-code $< $@

build/protocols/index.c: $(PROTO_XML) protocols/hooked.txt protocols/gen-index.awk
	@mkdir -p $(@D)
	$(AWK) -v hooks=protocols/hooked.txt -f protocols/gen-index.awk $(PROTO_XML) > $@.tmp
	mv $@.tmp $@

build/protocols/hooks.h: $(PROTO_XML) protocols/hooked.txt protocols/gen-index.awk
	@mkdir -p $(@D)
	$(AWK) -v mode=decls -v hooks=protocols/hooked.txt -f protocols/gen-index.awk $(PROTO_XML) > $@.tmp
	mv $@.tmp $@

$(DAEMON_OBJ) $(SAN_OBJ): | build/protocols/hooks.h

# Unit tests use their own protocol set: core wayland plus tests/data/test.xml, no hooks.
build/tests/proto/test-protocol.c: tests/data/test.xml
	@mkdir -p $(@D)
	$(WAYLAND_SCANNER) -s private-code $< $@

build/tests/proto/index.c: protocols/wayland.xml tests/data/test.xml protocols/gen-index.awk
	@mkdir -p $(@D)
	$(AWK) -v hooks= -f protocols/gen-index.awk protocols/wayland.xml tests/data/test.xml > $@.tmp
	mv $@.tmp $@

UNIT_PROTO := build/tests/proto/index.c build/tests/proto/test-protocol.c \
	build/protocols/wayland-protocol.c
UNIT_LIB   := proxy/wire.c proxy/proto.c proxy/objmap.c proxy/conn.c util/log.c

# The relay test links the whole proxy with the real protocol tables.
build/tests/unit/test_relay: tests/unit/test_relay.c tests/unit/rig.h tests/unit/test.h \
		$(PROXY_SRC) $(PROTO_GEN) build/protocols/hooks.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) $(SAN_FLAGS) -Itests/unit -o $@ $< $(PROXY_SRC) $(PROTO_GEN) $(LDFLAGS_ALL) \
		$(DAEMON_LIBS)

# Copy mode (shadow buffers) on the same rig, so these link the whole proxy too.
SHADOW_TESTS := build/tests/unit/test_shadow build/tests/unit/test_shadow_checks \
	build/tests/unit/test_shadow_objects
$(SHADOW_TESTS): build/tests/unit/%: tests/unit/%.c tests/unit/shadow_scene.h tests/unit/rig.h \
		tests/unit/test.h $(PROXY_SRC) $(PROTO_GEN) build/protocols/hooks.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) $(SAN_FLAGS) -Itests/unit -o $@ $< $(PROXY_SRC) $(PROTO_GEN) $(LDFLAGS_ALL) \
		$(DAEMON_LIBS)

# shm/ with what it uses below it (virtgpu/ stays unused: every shadow here is a memfd).
build/tests/unit/test_shm: tests/unit/test_shm.c tests/unit/shm_cases.h tests/unit/test.h \
		$(wildcard shm/*.[ch]) $(wildcard util/*.[ch]) $(wildcard virtgpu/*.[ch])
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) $(SAN_FLAGS) -Itests/unit $(shell $(PKG_CONFIG) --cflags pixman-1) -o $@ \
		$< $(wildcard shm/*.c) $(wildcard util/*.c) $(wildcard virtgpu/*.c) $(LDFLAGS_ALL) \
		$(shell $(PKG_CONFIG) --libs pixman-1 libdrm) -lm

# Surface damage to buffer pixels: shm/damage.c alone, with pixman for its regions.
build/tests/unit/test_shm_damage: tests/unit/test_shm_damage.c tests/unit/shm_cases.h \
		tests/unit/test.h shm/damage.c shm/shm.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) $(SAN_FLAGS) -Itests/unit -o $@ $< shm/damage.c $(LDFLAGS_ALL) \
		$(shell $(PKG_CONFIG) --libs pixman-1) -lm

# virtgpu/ against the test double, which must be preloaded (see check-unit).
build/tests/unit/test_gpu: tests/unit/test_gpu.c tests/unit/test.h $(wildcard virtgpu/*.[ch])
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) $(SAN_FLAGS) -Itests/unit -o $@ $< $(wildcard virtgpu/*.c) \
		$(LDFLAGS_ALL) $(DAEMON_LIBS)

build/tests/unit/%: tests/unit/%.c tests/unit/test.h $(UNIT_LIB) $(UNIT_PROTO)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) $(SAN_FLAGS) -Itests/unit -o $@ $< $(UNIT_LIB) $(UNIT_PROTO) $(LDFLAGS_ALL)

build/tests/%: tests/clients/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) -o $@ $< $(shell $(PKG_CONFIG) --cflags --libs $(TEST_DEPS)) $(LDFLAGS_ALL)

# Test clients that speak xdg-shell or viewporter through libwayland-client: client
# bindings generated from crossway's own XML, linked only into the clients that use them.
CLIENT_PROTO     := build/tests/client-proto
SHM_STEPS_PROTO  := $(foreach p,xdg-shell viewporter,$(CLIENT_PROTO)/$(p)-client-protocol.h \
	$(CLIENT_PROTO)/$(p)-protocol.c)

$(CLIENT_PROTO)/%-client-protocol.h: protocols/%.xml
	@mkdir -p $(@D)
	$(WAYLAND_SCANNER) client-header $< $@

$(CLIENT_PROTO)/%-protocol.c: protocols/%.xml
	@mkdir -p $(@D)
	$(WAYLAND_SCANNER) private-code $< $@

build/tests/shm_steps: tests/clients/shm_steps.c tests/clients/shm_steps.h $(SHM_STEPS_PARTS) \
		tests/clients/shm_steps_frame.h $(SHM_STEPS_PROTO)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) -I$(CLIENT_PROTO) -o $@ $(filter %.c,$^) \
		$(shell $(PKG_CONFIG) --cflags --libs wayland-client) -lm $(LDFLAGS_ALL)

build/tests/shm_cursor: tests/clients/shm_cursor.c $(CLIENT_PROTO)/xdg-shell-client-protocol.h \
		$(CLIENT_PROTO)/xdg-shell-protocol.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) -I$(CLIENT_PROTO) -o $@ $< $(CLIENT_PROTO)/xdg-shell-protocol.c \
		$(shell $(PKG_CONFIG) --cflags --libs wayland-client) $(LDFLAGS_ALL)

build/bench/gpu_pipe: bench/gpu_pipe.c $(wildcard virtgpu/*.[ch])
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) -o $@ $< $(wildcard virtgpu/*.c) $(LDFLAGS_ALL) $(DAEMON_LIBS)

# Frame copy cost: the copy routine alone, with pixman for its regions.
build/bench/shm_copy: bench/shm_copy.c shm/copy.c shm/shm.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) $(shell $(PKG_CONFIG) --cflags pixman-1) -o $@ $< shm/copy.c \
		$(LDFLAGS_ALL) $(shell $(PKG_CONFIG) --libs pixman-1)

# End-to-end frame rate: an xdg_toplevel client on the xdg-shell bindings made for shm_steps.
build/bench/shm_frames: bench/shm_frames.c $(CLIENT_PROTO)/xdg-shell-client-protocol.h \
		$(CLIENT_PROTO)/xdg-shell-protocol.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) -I$(CLIENT_PROTO) -o $@ $< $(CLIENT_PROTO)/xdg-shell-protocol.c \
		$(shell $(PKG_CONFIG) --cflags --libs wayland-client) $(LDFLAGS_ALL)

build/bench/%: bench/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) -o $@ $< $(shell $(PKG_CONFIG) --cflags --libs wayland-client) $(LDFLAGS_ALL)

build/obj/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) -MMD -MP -c -o $@ $<

build/san/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) $(SAN_FLAGS) -MMD -MP -c -o $@ $<

# Generated sources live in build/ already; their objects go beside the others.
build/obj/build/%.o: build/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) -MMD -MP -c -o $@ $<

build/san/build/%.o: build/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) $(SAN_FLAGS) -MMD -MP -c -o $@ $<

# The virtio-gpu test double: a preloaded stand-in for the guest kernel and the host.
FAKEGPU      := build/tests/libcw-fakegpu.so
FAKEGPU_SRC  := $(wildcard tests/virtgpu/fake_*.c)
FAKEGPU_TESTS := $(patsubst tests/virtgpu/%.c,build/tests/virtgpu/%,$(wildcard tests/virtgpu/test_*.c))

$(FAKEGPU): $(FAKEGPU_SRC) $(wildcard tests/virtgpu/*.h) virtgpu/xd-wire.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) -fPIC -shared -pthread -o $@ $(FAKEGPU_SRC) -ldl $(LDFLAGS_ALL)

build/tests/virtgpu/%: tests/virtgpu/%.c $(wildcard tests/virtgpu/*.h) virtgpu/xd-wire.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) -pthread -o $@ $< $(LDFLAGS_ALL)

check-unit: $(UNIT_TESTS) $(FAKEGPU) $(FAKEGPU_TESTS) build/tests/unit/test_gpu
	@set -e; for t in $(UNIT_TESTS); do echo "== $$t"; $$t; done
	@set -e; for t in $(FAKEGPU_TESTS); do echo "== $$t"; LD_PRELOAD=$(CURDIR)/$(FAKEGPU) $$t; done
	@set -e; d=$$(mktemp -d /tmp/cw-unit-gpu.XXXXXX); echo "== build/tests/unit/test_gpu"; \
	LD_PRELOAD=$(CURDIR)/$(FAKEGPU) ASAN_OPTIONS=verify_asan_link_order=0 \
	CW_FAKEGPU_WAYLAND=$$d/wl CW_FAKEGPU_DEVICE=$$d/renderD128 CW_FAKEGPU_REPORT=$$d/report \
	CW_FAKEGPU_STRICT_HANDLES=1 build/tests/unit/test_gpu; \
	if grep -E 'VIOLATION|LEAK' $$d/report; then echo "test_gpu: the double reported the lines above"; \
		exit 1; fi; rm -rf $$d

check-integ: crossway build/san/crossway $(TEST_CLIENTS) $(FAKEGPU)
	CROSSWAY=$(CURDIR)/build/san/crossway CWTEST_VIRTGPU=1 $(PYTHON) tests/integ/run.py
	CROSSWAY=$(CURDIR)/build/san/crossway $(PYTHON) tests/integ/run.py

check-man: man/crossway.1
	mandoc -Tlint -Wwarning man/crossway.1

check: check-unit check-man check-integ

bench: crossway $(BENCH_BIN) $(FAKEGPU) build/bench/gpu_pipe
	bench/run

install: crossway
	mkdir -p $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1
	cp -f crossway $(DESTDIR)$(BINDIR)/crossway
	chmod 755 $(DESTDIR)$(BINDIR)/crossway
	cp -f man/crossway.1 $(DESTDIR)$(MANDIR)/man1/crossway.1
	chmod 644 $(DESTDIR)$(MANDIR)/man1/crossway.1

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/crossway $(DESTDIR)$(MANDIR)/man1/crossway.1

clean:
	rm -rf build crossway

.PHONY: all check check-unit check-integ check-man bench install uninstall clean
.SECONDARY:

-include $(shell find build -name '*.d' 2>/dev/null)
