# See LICENSE. The one entry point: all, check, run, install, clean, distclean.
.SECONDEXPANSION:
.SUFFIXES:
.DELETE_ON_ERROR:
.SECONDARY:

VERSION = 0.1.0
PREFIX  = /usr/local
DESTDIR =

# The release build: static musl, against the libraries built in build/sysroot (mk/deps.mk).
# The valgrind build (VARIANT=vg, into build/vg) uses the host's glibc toolchain and Debian's
# -dev packages, because valgrind cannot follow malloc inside a static binary.
VARIANT = release
ifeq ($(VARIANT),vg)
O        = build/vg
CC       = gcc
OPT      = -O1 -g
LDSTATIC =
VGINC    = -isystem $(CURDIR)/build/sysroot/include/jsmn-only -isystem /usr/include/bearssl
else
O        = build
CC       = musl-gcc
OPT      = -O2 -g
LDSTATIC = -static -L$(CURDIR)/build/sysroot/lib
VGINC    = -isystem $(CURDIR)/build/sysroot/include
endif

CFLAGS  = -std=c11 -D_GNU_SOURCE -DORKET_VERSION='"$(VERSION)"' $(OPT) -Wall -Wextra -Wshadow \
	-Wno-unused-parameter -ffunction-sections -fdata-sections -Ilib -I$(O)/gen $(VGINC) -MMD -MP
LDFLAGS = $(LDSTATIC) -Wl,--gc-sections
LIBS    = -lgit2 -lhttp_parser -lcurl -lbearssl -lsqlite3 -lz -lpthread

PROGS     = $(notdir $(patsubst %/deps,%,$(wildcard cmd/*/deps)))
LIB_SRCS  = $(wildcard lib/*.c)
LIB_OBJS  = $(LIB_SRCS:%.c=$(O)/obj/%.o) $(O)/obj/gen/sql.o
UNIT_SRCS = $(wildcard t/unit/*.c)
UNITS     = $(UNIT_SRCS:t/unit/%.c=$(O)/t/unit/%)
TOOL_SRCS = $(wildcard t/tools/*.c)
TOOLS     = $(TOOL_SRCS:t/tools/%.c=$(O)/t/tools/%)
SQL       = $(sort $(wildcard sql/runtime/*.sql)) $(sort $(wildcard sql/webhook/*.sql))

all: deps progs

include mk/deps.mk

progs: $(PROGS:%=$(O)/bin/%) $(UNITS) $(TOOLS)

# Each program names the libraries it links in cmd/NAME/deps, as s6's deps-exe files do.
cmdobjs = $(patsubst %.c,$(O)/obj/%.o,$(wildcard cmd/$(1)/*.c))
$(O)/bin/%: $(O)/lib/liborket.a cmd/%/deps $$(call cmdobjs,$$*)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $(filter %.o,$^) $(O)/lib/liborket.a $$(cat cmd/$*/deps) -lpthread

$(O)/t/unit/%: $(O)/obj/t/unit/%.o $(O)/lib/liborket.a
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $< $(O)/lib/liborket.a -lhttp_parser -lbearssl -lsqlite3 -lpthread

# Test tools (t/tools/NAME.c) drive one lib/ module from a test script; they link everything.
$(O)/t/tools/%: $(O)/obj/t/tools/%.o $(O)/lib/liborket.a
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $< $(O)/lib/liborket.a $(LIBS)

$(O)/lib/liborket.a: $(LIB_OBJS)
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^

$(O)/obj/%.o: %.c $(O)/.deps-ready
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c -o $@ $<

# The migrations are compiled in: the image has no sql/ folder.
$(O)/gen/sql.c: $(SQL) mk/embed-sql.sh
	@mkdir -p $(@D)
	sh mk/embed-sql.sh $(SQL) >$@.tmp && mv $@.tmp $@

$(O)/obj/gen/sql.o: $(O)/gen/sql.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c -o $@ $<

# The objects need the third-party headers, but not a rebuild when the libraries are rebuilt.
build/.deps-ready: | deps
	@touch $@
build/vg/.deps-ready: | build/.vg-pkgs $(STAMP)-jsmn
	@mkdir -p build/sysroot/include/jsmn-only build/vg
	cp build/sysroot/include/jsmn.h build/sysroot/include/jsmn-only/
	@touch $@

# A package added to a list is installed at the next make: the stamps depend on the Makefile.
VG_PKGS = gcc valgrind libsqlite3-dev libbearssl-dev libhttp-parser-dev libcurl4-openssl-dev libgit2-dev
build/.vg-pkgs: Makefile
	@mkdir -p build
	@missing=; for p in $(VG_PKGS); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "check: installing$$missing" >&2; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >&2 || \
			{ echo "check: fatal: unable to install$$missing (run as root)" >&2; exit 111; }; \
	fi
	@touch $@

TEST_PKGS = mandoc sqlite3 perl util-linux file bsdextrautils python3 curl git openssl chromium
build/.test-pkgs: Makefile
	@missing=; for p in $(TEST_PKGS); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "check: installing$$missing" >&2; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >&2 || \
			{ echo "check: fatal: unable to install$$missing (run as root)" >&2; exit 111; }; \
	fi
	@touch $@

vg:
	$(MAKE) VARIANT=vg progs

check: all vg build/.test-pkgs
	prove -j2 t/[0-9]*.sh $(UNITS)

run: all
	sh mk/run.sh

stop:
	sh mk/run.sh stop

install: all
	mkdir -p $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/man/man8
	for p in $(PROGS); do install -m 755 -s build/bin/$$p $(DESTDIR)$(PREFIX)/bin/$$p; done
	for m in man/*.1; do [ -f "$$m" ] && install -m 644 $$m $(DESTDIR)$(PREFIX)/share/man/man1/; done; true
	for m in man/*.8; do [ -f "$$m" ] && install -m 644 $$m $(DESTDIR)$(PREFIX)/share/man/man8/; done; true

# clean keeps the fetched sources and the built libraries; distclean removes everything.
clean:
	rm -rf build/bin build/obj build/lib build/gen build/t build/vg build/.deps-ready t/trash-*

distclean:
	rm -rf build t/trash-*

.PHONY: all progs vg check run stop install clean distclean deps

-include $(shell find $(O)/obj -name '*.d' 2>/dev/null)
