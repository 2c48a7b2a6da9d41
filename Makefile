# bullhorn — plain Makefile, flags from pkg-config.
#
#   make              build bullhornd and bullhorn into build/
#   make test         build and run the whole test suite
#   make sanitize     the whole test suite under ASan+UBSan (build/san/)
#   make gpiod2       everything again against trixie's libgpiod 2.x
#                     (build/gpiod2/, libgpiod from a fetched sysroot)
#   make run          run bullhornd on config/bullhorn.ini (--keys)
#   make install      PREFIX=/usr/local DESTDIR=
#   make clean

VERSION  := 0.1.0
CC       ?= cc
BUILD    ?= build
PREFIX   ?= /usr/local
DESTDIR  ?=
PKG_CONFIG ?= pkg-config

# --- CROSS: a build for the Pi (1/2: settings; the rules are below) -------
#   make CROSS=aarch64-linux-gnu             arm64, 64-bit Raspberry Pi OS
#   make CROSS=arm-linux-gnueabihf           armhf, 32-bit Raspberry Pi OS
#   make CROSS=aarch64-linux-gnu cross-test  its unit tests under qemu-user
# $(CROSS)-gcc (Debian's gcc-aarch64-linux-gnu, gcc-arm-linux-gnueabihf)
# builds into build/$(CROSS)/ against bookworm's own arm64/armhf -dev
# packages (libgpiod 1.6), which tests/sysroot.sh fetches and unpacks
# into CROSS_SYSROOT: nothing is installed, this system's dpkg keeps its
# one architecture. pkg-config sees only that sysroot; the same folder,
# with its libc, is where qemu-user finds the libraries for the tests.
# sysroot.sh fetches no dependencies: CROSS_PKGS names the -dev package
# of each of PKGS, cmocka and libgpiod, and every library they load. One
# missing fails the link ("not found") or the run under qemu.
ifneq ($(CROSS),)
CROSS_ARCH := $(if $(filter aarch64-linux-gnu,$(CROSS)),arm64,$(if \
              $(filter arm-linux-gnueabihf,$(CROSS)),armhf))
$(if $(CROSS_ARCH),,$(error CROSS=$(CROSS): use aarch64-linux-gnu or \
     arm-linux-gnueabihf))
CROSS_SYSROOT ?= build/sysroot/bookworm-$(CROSS_ARCH)
CROSS_ROOT := $(abspath $(CROSS_SYSROOT))
CROSS_PKGS := libc6 libgcc-s1 libgomp1 \
	libsndfile1-dev libsndfile1 libflac-dev libflac12 libogg-dev libogg0 \
	libvorbis-dev libvorbis0a libvorbisenc2 libopus-dev libopus0 \
	libmpg123-dev libmpg123-0 libmp3lame0 \
	libasound2-dev libasound2 libasound2-data libinih-dev libinih1 \
	libebur128-dev libebur128-1 libsoxr-dev libsoxr0 zlib1g-dev zlib1g \
	libevdev-dev libevdev2 libsystemd-dev libsystemd0 libcap2 \
	libgcrypt20 libgpg-error0 liblz4-1 liblzma5 libzstd1 \
	libgpiod-dev libgpiod2 libcmocka-dev libcmocka0
CROSS_QEMU ?= qemu-$(firstword $(subst -, ,$(CROSS)))-static
CC := $(CROSS)-gcc --sysroot=$(CROSS_ROOT)
ifeq ($(origin BUILD),file)
BUILD := build/$(CROSS)
endif
# The sysroot's own lib and include folders are its "system" ones, which
# gcc --sysroot searches already: no -L (and no rpath) into the sysroot.
PKG_CONFIG := PKG_CONFIG_SYSROOT_DIR=$(CROSS_ROOT) \
  PKG_CONFIG_LIBDIR=$(CROSS_ROOT)/usr/lib/$(CROSS)/pkgconfig:$(CROSS_ROOT)/usr/share/pkgconfig \
  PKG_CONFIG_SYSTEM_LIBRARY_PATH=$(CROSS_ROOT)/usr/lib/$(CROSS):$(CROSS_ROOT)/lib/$(CROSS) \
  PKG_CONFIG_SYSTEM_INCLUDE_PATH=$(CROSS_ROOT)/usr/include:$(CROSS_ROOT)/usr/include/$(CROSS) \
  pkg-config
# Fetched (or found up to date) before anything else is read from it:
# make remakes this included file first, then starts over.
ifeq ($(filter clean,$(MAKECMDGOALS)),)
include $(CROSS_SYSROOT).mk
endif
endif
# --- end of CROSS (1/2) ---------------------------------------------------

PKGS     := sndfile alsa inih libebur128 soxr zlib libevdev libsystemd
PKG_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null)

# libgpiod 1.6 (bookworm) or 2.x (trixie): src/gpio.c serves both, told
# which by the major version. GPIOD_SYSROOT=DIR takes libgpiod from an
# unpacked Debian sysroot instead of this system (run time too, by rpath).
GPIOD_SYSROOT ?=
GPIOD_PC   := $(if $(GPIOD_SYSROOT),PKG_CONFIG_SYSROOT_DIR=$(GPIOD_SYSROOT) \
              PKG_CONFIG_LIBDIR=$(firstword \
              $(wildcard $(GPIOD_SYSROOT)/usr/lib/*/pkgconfig)) )$(PKG_CONFIG)
GPIOD_MAJOR := $(or $(firstword $(subst ., ,$(shell \
               $(GPIOD_PC) --modversion libgpiod 2>/dev/null))),0)
GPIOD_CFLAGS := $(shell $(GPIOD_PC) --cflags libgpiod 2>/dev/null) \
                -DBULLHORN_GPIOD_MAJOR=$(GPIOD_MAJOR)
GPIOD_LIBDIRS := $(patsubst -L%,%,$(shell \
                 $(GPIOD_PC) --libs-only-L libgpiod 2>/dev/null))
GPIOD_LIBS := $(shell $(GPIOD_PC) --libs libgpiod 2>/dev/null) \
              $(GPIOD_LIBDIRS:%=-Wl,-rpath,%)

WARN     := -Wall -Wextra -Werror -Wstrict-prototypes -Wmissing-prototypes \
            -Wshadow -Wpointer-arith -Wformat=2 -Wno-format-nonliteral
CFLAGS   ?= -O2 -g
ifeq ($(SAN),1)
CFLAGS   := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
            -fno-sanitize-recover=undefined
LDFLAGS  += -fsanitize=address,undefined
endif
ALL_CFLAGS := -std=gnu11 $(WARN) $(CFLAGS) -D_GNU_SOURCE \
              -DBULLHORN_VERSION='"$(VERSION)"' $(GPIOD_CFLAGS) $(PKG_CFLAGS) \
              -Isrc
LIBS     := $(GPIOD_LIBS) $(PKG_LIBS) -lm -pthread

PROGS    := bullhornd bullhorn
LIB_SRCS := $(filter-out src/bullhornd.c src/bullhorn.c,$(wildcard src/*.c))
LIB_OBJS := $(LIB_SRCS:src/%.c=$(BUILD)/obj/%.o)
TEST_SRCS := $(wildcard tests/test_*.c)
TEST_BINS := $(TEST_SRCS:tests/%.c=$(BUILD)/tests/%)
ALSA_PLUGIN := $(BUILD)/tests/libasound_module_pcm_bhrt.so

# The libgpiod 2.x build. GPIOD2_TESTS are the tests that reach GPIO code
# (test_inputs runs that build's own bullhornd):
# `make test` runs them from that build as well (those that exist yet).
GPIOD2_TESTS := test_gpio test_button test_inputs
GPIOD2_BUILD := $(BUILD)/gpiod2
GPIOD2_ARCH  := $(shell dpkg --print-architecture 2>/dev/null)
GPIOD2_SYSROOT := build/sysroot/trixie-$(GPIOD2_ARCH)
GPIOD2_MAKE = $(MAKE) BUILD=$(GPIOD2_BUILD) GPIOD_SYSROOT=$(abspath $(GPIOD2_SYSROOT))
GPIOD2_TEST_BINS := $(patsubst %,$(GPIOD2_BUILD)/tests/%,\
                    $(filter $(GPIOD2_TESTS),$(TEST_SRCS:tests/%.c=%)))

.PHONY: all test sanitize run install uninstall clean placeholders format-check \
        format lint bench bench-normalize bench-startup gpiod2 gpiod2-sysroot \
        gpiod2-tests

all: $(addprefix $(BUILD)/,$(PROGS))

$(BUILD)/obj/%.o: src/%.c $(wildcard src/*.h) | $(BUILD)/obj
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/obj $(BUILD)/tests:
	mkdir -p $@

$(BUILD)/bullhornd: $(BUILD)/obj/bullhornd.o $(LIB_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

$(BUILD)/bullhorn: $(BUILD)/obj/bullhorn.o $(LIB_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

$(BUILD)/tests/%: tests/%.c tests/testutil.h $(LIB_OBJS) | $(BUILD)/tests
	$(CC) $(ALL_CFLAGS) -Itests -o $@ $< $(LIB_OBJS) $(LDFLAGS) $(LIBS) \
		$$($(PKG_CONFIG) --libs cmocka)

# The real-time test PCM is loaded by libasound into processes that may be
# sanitized; it is built plain so it never needs the sanitizer runtime.
$(ALSA_PLUGIN): tests/alsa/pcm_bhrt.c | $(BUILD)/tests
	$(CC) -std=gnu11 -O2 -g -Wall -Wextra -Werror -fPIC -shared \
		$$($(PKG_CONFIG) --cflags alsa) -o $@ $< \
		$$($(PKG_CONFIG) --libs alsa)

# Also runs GPIOD2_TEST_BINS. When they cannot be built (the sysroot needs
# network) each counts as failed with the reason; BULLHORN_GPIOD2=skip
# counts them as skipped instead.
test: all $(TEST_BINS) $(ALSA_PLUGIN)
	@why=; log=$(BUILD)/gpiod2.log; \
	if [ "$(BULLHORN_GPIOD2)" = skip ]; then \
		why="skip:libgpiod 2.x build skipped (BULLHORN_GPIOD2=skip)"; \
	elif ! $(MAKE) --no-print-directory gpiod2-tests >$$log 2>&1; then \
		first=$$(grep -m1 -e '^sysroot.sh: cannot' -e 'error:' \
			-e '\*\*\*' $$log); \
		why="fail:no libgpiod 2.x build: $$first (log: $$log)"; \
		why="$$why; BULLHORN_GPIOD2=skip skips these tests"; \
	fi; \
	set -- $(TEST_BINS) tests/systemd.sh tests/install.sh tests/readonly.sh; \
	for t in $(GPIOD2_TEST_BINS); do \
		set -- "$$@" "$${why:+$${why%%:*}:}$$t$${why:+:$${why#*:}}"; \
	done; \
	BUILD=$(BUILD) sh tests/run.sh "$$@"

sanitize:
	$(MAKE) BUILD=build/san SAN=1 test

gpiod2-sysroot:
	sh tests/sysroot.sh trixie $(GPIOD2_ARCH) $(GPIOD2_SYSROOT) \
		libgpiod-dev libgpiod3

gpiod2: gpiod2-sysroot
	$(GPIOD2_MAKE) all $(TEST_BINS:$(BUILD)/%=$(GPIOD2_BUILD)/%)

gpiod2-tests: gpiod2-sysroot
	$(GPIOD2_MAKE) all $(GPIOD2_TEST_BINS) \
		$(GPIOD2_BUILD)/tests/libasound_module_pcm_bhrt.so

# --- CROSS: a build for the Pi (2/2: rules) -------------------------------
# cross-test runs each test binary through qemu-user (explicitly: no
# binfmt_misc needed). test_content, test_daemon, test_inputs and
# test_tools start bullhornd or bullhorn, ARM programs that a test's
# fork+exec cannot start without binfmt_misc: those count as skipped.
.PHONY: cross-test
CROSS_SKIP := $(patsubst %,$(BUILD)/tests/%,\
              test_content test_daemon test_inputs test_tools)
ifneq ($(CROSS),)
$(CROSS_SYSROOT).mk: Makefile tests/sysroot.sh
	sh tests/sysroot.sh bookworm $(CROSS_ARCH) $(CROSS_SYSROOT) $(CROSS_PKGS)
	echo '# $(CROSS_SYSROOT) is up to date (tests/sysroot.sh)' >$@

cross-test: all $(filter-out $(CROSS_SKIP),$(TEST_BINS))
	@set -- $(filter-out $(CROSS_SKIP),$(TEST_BINS)); \
	for t in $(filter $(CROSS_SKIP),$(TEST_BINS)); do \
		set -- "$$@" "skip:$$t:starts this build's ARM programs"; \
	done; \
	QEMU_LD_PREFIX=$(CROSS_ROOT) BULLHORN_TEST_EXEC=$(CROSS_QEMU) \
		BUILD=$(BUILD) sh tests/run.sh "$$@"
else
cross-test:
	@echo "make cross-test needs CROSS=aarch64-linux-gnu" \
		"or CROSS=arm-linux-gnueabihf" >&2; exit 2
endif
# --- end of CROSS (2/2) ---------------------------------------------------

run: all
	mkdir -p $(BUILD)/run
	$(BUILD)/bullhornd --config config/bullhorn.ini --keys

# Remakes the synthesized placeholder recordings and the chime in audio/.
placeholders:
	sh audio/make-placeholders.sh

bench: all $(ALSA_PLUGIN)
	sh bench/latency.sh

bench-normalize: all
	sh bench/normalize.sh

bench-startup: all $(ALSA_PLUGIN)
	sh bench/startup.sh

format:
	clang-format -i src/*.c src/*.h tests/*.c tests/*.h tests/alsa/*.c bench/*.c

format-check:
	clang-format --dry-run --Werror src/*.c src/*.h tests/*.c tests/*.h tests/alsa/*.c bench/*.c

lint:
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
		--inline-suppr --std=c11 -D_GNU_SOURCE \
		-DBULLHORN_GPIOD_MAJOR=$(GPIOD_MAJOR) -Isrc src tests

# Where systemd, sysusers, tmpfiles, modules-load and udev look for the
# package's own files (PREFIX/lib/...: /usr/lib for PREFIX=/usr, which
# also covers /lib on merged-/usr Debian; /usr/local/lib is searched too).
SYSLIB   ?= $(PREFIX)/lib
MANDIR   ?= $(PREFIX)/share/man
MANS     := $(wildcard man/*.1 man/*.5 man/*.8)
ETC_INI  := $(DESTDIR)/etc/bullhorn/bullhorn.ini

# The installed config: the shipped file with the installed layout's
# paths. A changed config is never overwritten: the new default goes
# beside it as bullhorn.ini.new.
install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/sbin \
		$(DESTDIR)$(PREFIX)/share/bullhorn $(DESTDIR)/etc/bullhorn \
		$(DESTDIR)$(SYSLIB)/systemd/system $(DESTDIR)$(SYSLIB)/sysusers.d \
		$(DESTDIR)$(SYSLIB)/tmpfiles.d $(DESTDIR)$(SYSLIB)/modules-load.d \
		$(DESTDIR)$(SYSLIB)/udev/rules.d
	install -m 755 $(BUILD)/bullhorn $(DESTDIR)$(PREFIX)/bin/bullhorn
	install -m 755 $(BUILD)/bullhornd $(DESTDIR)$(PREFIX)/sbin/bullhornd
	rm -rf $(DESTDIR)$(PREFIX)/share/bullhorn/audio
	cp -R audio $(DESTDIR)$(PREFIX)/share/bullhorn/
	sed -e 's|^library = .*|library = $(PREFIX)/share/bullhorn/audio|' \
	    -e 's|^recordings = .*|recordings = /var/lib/bullhorn/audio|' \
	    -e 's|^cache = .*|cache = /var/cache/bullhorn|' \
	    -e 's|^state = .*|state = /var/lib/bullhorn/state|' \
	    -e 's|^socket = .*|socket = /run/bullhorn/bullhorn.sock|' \
	    config/bullhorn.ini > $(BUILD)/bullhorn.ini.installed
	if [ ! -e $(ETC_INI) ]; then \
		install -m 644 $(BUILD)/bullhorn.ini.installed $(ETC_INI); \
	elif ! cmp -s $(BUILD)/bullhorn.ini.installed $(ETC_INI); then \
		install -m 644 $(BUILD)/bullhorn.ini.installed $(ETC_INI).new; \
		echo "kept your $(ETC_INI); the new default is $(ETC_INI).new"; \
	fi
	sed 's|^ExecStart=/usr/sbin/bullhornd|ExecStart=$(PREFIX)/sbin/bullhornd|' \
		systemd/bullhorn.service \
		> $(DESTDIR)$(SYSLIB)/systemd/system/bullhorn.service
	chmod 644 $(DESTDIR)$(SYSLIB)/systemd/system/bullhorn.service
	install -m 644 systemd/bullhorn.sysusers \
		$(DESTDIR)$(SYSLIB)/sysusers.d/bullhorn.conf
	install -m 644 systemd/bullhorn.tmpfiles \
		$(DESTDIR)$(SYSLIB)/tmpfiles.d/bullhorn.conf
	install -m 644 systemd/bullhorn-modules.conf \
		$(DESTDIR)$(SYSLIB)/modules-load.d/bullhorn.conf
	install -m 644 systemd/60-bullhorn-gpio.rules \
		$(DESTDIR)$(SYSLIB)/udev/rules.d/60-bullhorn-gpio.rules
	for m in $(MANS); do \
		s=$${m##*.}; install -d $(DESTDIR)$(MANDIR)/man$$s; \
		install -m 644 $$m $(DESTDIR)$(MANDIR)/man$$s/; \
	done
	@# Straight onto this system (not into a DESTDIR or a package):
	@# the user, the folders and systemd's view of the new unit.
	if [ -z "$(DESTDIR)" ] && [ -d /run/systemd/system ]; then \
		systemd-sysusers bullhorn.conf && \
		systemd-tmpfiles --create bullhorn.conf && \
		systemctl daemon-reload; \
	fi

# Leaves /etc/bullhorn and /var/lib/bullhorn (the kit's config and the
# volunteers' recordings) and the bullhorn user in place.
uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/bullhorn $(DESTDIR)$(PREFIX)/sbin/bullhornd
	rm -rf $(DESTDIR)$(PREFIX)/share/bullhorn
	rm -f $(DESTDIR)$(SYSLIB)/systemd/system/bullhorn.service \
		$(DESTDIR)$(SYSLIB)/sysusers.d/bullhorn.conf \
		$(DESTDIR)$(SYSLIB)/tmpfiles.d/bullhorn.conf \
		$(DESTDIR)$(SYSLIB)/modules-load.d/bullhorn.conf \
		$(DESTDIR)$(SYSLIB)/udev/rules.d/60-bullhorn-gpio.rules
	for m in $(MANS); do \
		rm -f $(DESTDIR)$(MANDIR)/man$${m##*.}/$${m##*/}; \
	done

clean:
	rm -rf build

# The real-kernel system test (tests/vm/run.sh): the libgpiod 1.6 and 2.x
# builds each in a qemu VM (TCG) with Debian's kernel, gpio-sim and
# snd-aloop. Fetches into build/vm-cache (BULLHORN_VM_CACHE=DIR).
.PHONY: vmtest
vmtest: all
	@set -- $(BUILD); log=$(BUILD)/vmtest-gpiod2.log; \
	if [ "$(BULLHORN_GPIOD2)" = skip ]; then \
		set -- "$$@" "skip:$(GPIOD2_BUILD):BULLHORN_GPIOD2=skip"; \
	elif $(MAKE) --no-print-directory gpiod2-sysroot >$$log 2>&1 && \
		$(GPIOD2_MAKE) --no-print-directory all >>$$log 2>&1; then \
		set -- "$$@" $(GPIOD2_BUILD); \
	else \
		set -- "$$@" "fail:$(GPIOD2_BUILD):no libgpiod 2.x build (log: $$log)"; \
	fi; \
	CC="$(CC)" VM_WARN="$(WARN)" sh tests/vm/run.sh "$$@"
