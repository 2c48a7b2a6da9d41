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
# 64-bit file offsets and inode numbers for armhf (no-op on arm64), or
# readdir and stat fail with EOVERFLOW where those need more than 32 bits
# (under qemu-user on a 64-bit host too). time_t stays as bookworm's.
CC := $(CROSS)-gcc --sysroot=$(CROSS_ROOT) -D_FILE_OFFSET_BITS=64
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
        format lint bench bench-normalize bench-startup print-libs gpiod2 gpiod2-sysroot \
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
# cross-test runs tests through qemu-user, named explicitly: no
# binfmt_misc needed, and CI has none. By default the unit tests: those
# that start no program of this build (no tu_start, tu_cli or
# "%s/bullhorn"). The others run bullhornd under emulation, many times
# slower, where their timing checks are unreliable and a failed
# posix_spawn looks like a child exiting 127: they count as skipped
# unless named in CROSS_TESTS (CROSS_TESTS=all: every test). Tests run
# from $(BUILD)/qemu/, where bullhornd and bullhorn, which tests find
# beside their own folder, are scripts starting the ARM programs under
# qemu too; the tests there are hard links (qemu names a symlink by its
# target).
.PHONY: cross-test
CROSS_TESTS ?= $(patsubst tests/%.c,%,$(shell grep -L -E \
               'tu_start|tu_cli|%s/bullhornd?([ "]|$$)' $(TEST_SRCS)))
CROSS_RUN_TESTS = $(if $(filter all,$(CROSS_TESTS)),\
                  $(TEST_SRCS:tests/%.c=%),$(CROSS_TESTS))
CROSS_RUN := $(BUILD)/qemu
ifneq ($(CROSS),)
$(CROSS_SYSROOT).mk: Makefile tests/sysroot.sh
	sh tests/sysroot.sh bookworm $(CROSS_ARCH) $(CROSS_SYSROOT) $(CROSS_PKGS)
	echo '# $(CROSS_SYSROOT) is up to date (tests/sysroot.sh)' >$@

cross-test: all $(CROSS_RUN_TESTS:%=$(BUILD)/tests/%) $(ALSA_PLUGIN)
	@q=$$(command -v $(CROSS_QEMU)) || { echo "cross-test: no" \
		"$(CROSS_QEMU) (apt-get install qemu-user-static)" >&2; exit 1; }; \
	rm -rf $(CROSS_RUN) && mkdir -p $(CROSS_RUN)/tests && \
	ln -f $(CROSS_RUN_TESTS:%=$(BUILD)/tests/%) $(ALSA_PLUGIN) \
		$(CROSS_RUN)/tests/ || exit 1; \
	for p in $(PROGS); do \
		printf '#!/bin/sh\nexec %s -L %s %s "$$@"\n' "$$q" \
			$(CROSS_ROOT) $(abspath $(BUILD))/$$p >$(CROSS_RUN)/$$p; \
		chmod +x $(CROSS_RUN)/$$p; \
	done; \
	set -- $(CROSS_RUN_TESTS:%=$(CROSS_RUN)/tests/%); \
	why="starts bullhornd or bullhorn (CROSS_TESTS=all runs it)"; \
	for t in $(filter-out $(CROSS_RUN_TESTS),$(TEST_SRCS:tests/%.c=%)); do \
		set -- "$$@" "skip:$(CROSS_RUN)/tests/$$t:$$why"; \
	done; \
	QEMU_LD_PREFIX=$(CROSS_ROOT) BULLHORN_TEST_EXEC=$$q \
		BUILD=$(CROSS_RUN) sh tests/run.sh "$$@"
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

# What the programs link, for bench/common.sh's bench_compile.
print-libs:
	@echo $(LIBS)

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

# --- VMTEST: the real-kernel system test (tests/vm/, see its README.md) --
# The libgpiod 1.6 and 2.x builds each in a qemu VM (TCG) with Debian's
# kernel, gpio-sim and snd-aloop. Fetches into build/vm-cache
# (BULLHORN_VM_CACHE=DIR); BULLHORN_GPIOD2=skip skips the 2.x build.
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
# --- end of VMTEST --------------------------------------------------------

# --- POWERCUT: power cuts on ext4 in the VM (tests/vm/, see its README.md)
# qemu (TCG, as for make vmtest) is SIGKILLed at a random moment while
# bullhornd and bullhorn write to an ext4 disk image: the guest's page
# cache is lost as in a dead battery. Each next boot of the same image
# checks that nothing a command had answered done was lost or torn.
# POWERCUT_CUTS cuts (about 36 s each); POWERCUT_SEED seeds the delays
# (default: the time, printed). Shares build/vm-cache with vmtest.
#   make powercut POWERCUT_CUTS=5     what CI runs
POWERCUT_CUTS ?= 20
POWERCUT_SEED ?=
.PHONY: powercut
powercut: all
	POWERCUT_CUTS="$(POWERCUT_CUTS)" POWERCUT_SEED="$(POWERCUT_SEED)" \
		CC="$(CC)" VM_WARN="$(WARN)" sh tests/vm/powercut.sh $(BUILD)
# --- end of POWERCUT -------------------------------------------------------

# --- FUZZ: libFuzzer harnesses (tests/fuzz/, see its README.md) ----------
#   make fuzz                  each harness for FUZZ_SECONDS (60) seconds
#   make fuzz FUZZ_SECONDS=600 FUZZ_TARGETS=audio
# clang only: src/ and the harnesses are built with -fsanitize=fuzzer,
# address,undefined into build/fuzz/. Each target runs on
# build/fuzz/corpus/TARGET, a copy of its seeds (tests/fuzz/corpus/) that
# keeps what the runs find (never written into the repo; delete it to
# start over), with tests/fuzz/regress/TARGET read too. Prints each
# target's executions, exec/s and coverage (cov: edges, ft: features);
# fails on any crash, leak, timeout (FUZZ_TIMEOUT s for one input) or
# out-of-memory, whose input libFuzzer leaves in build/fuzz/crash/TARGET/;
# leaks inside codec libraries are suppressed (tests/fuzz/lsan.supp).
# test_fuzz_regress (make test) replays the corpora and the crashers.
FUZZ_SECONDS ?= 60
FUZZ_TIMEOUT ?= 30
FUZZ_TARGETS ?= action audio config control
FUZZ_CC      ?= clang
FUZZ_DIR     := build/fuzz
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_FLAGS   := -O1 -g -fno-omit-frame-pointer $(FUZZ_SAN)

.PHONY: fuzz fuzz-build
fuzz: fuzz-build
	@failed=; for t in $(FUZZ_TARGETS); do \
		corpus=$(FUZZ_DIR)/corpus/$$t; crash=$(FUZZ_DIR)/crash/$$t; \
		log=$(FUZZ_DIR)/$$t.log; mkdir -p $$corpus $$crash; \
		cp tests/fuzz/corpus/$$t/* $$corpus/; \
		set -- -max_total_time=$(FUZZ_SECONDS) \
			-timeout=$(FUZZ_TIMEOUT) -print_final_stats=1 \
			-artifact_prefix=$$crash/; \
		[ -f tests/fuzz/$$t.dict ] && set -- "$$@" -dict=tests/fuzz/$$t.dict; \
		set -- "$$@" $$corpus; \
		[ -d tests/fuzz/regress/$$t ] && set -- "$$@" tests/fuzz/regress/$$t; \
		echo "fuzz_$$t: $(FUZZ_SECONDS) s (log: $$log)"; \
		LSAN_OPTIONS=suppressions=$(abspath tests/fuzz/lsan.supp) \
			$(FUZZ_DIR)/fuzz_$$t "$$@" >$$log 2>&1; rc=$$?; \
		execs=$$(sed -n 's/^stat::number_of_executed_units: *//p' $$log); \
		rate=$$(sed -n 's/^stat::average_exec_per_sec: *//p' $$log); \
		cov=$$(grep -o 'cov: [0-9]* ft: [0-9]* corp: [0-9]*' $$log | tail -1); \
		printf '  %-8s %s execs, %s exec/s, %s inputs\n' $$t \
			"$${execs:-?}" "$${rate:-?}" "$${cov:-cov: ?}"; \
		if [ $$rc -ne 0 ]; then \
			grep -m1 -e '^==[0-9]*==ERROR' -e 'property failed' \
				-e 'runtime error' -e '^SUMMARY' $$log; \
			ls $$crash; failed="$$failed $$t"; \
		fi; \
	done; \
	if [ -n "$$failed" ]; then \
		echo "fuzz: failed:$$failed (inputs in $(FUZZ_DIR)/crash/)"; \
		exit 1; \
	fi

fuzz-build:
	$(MAKE) --no-print-directory BUILD=$(FUZZ_DIR) CC=$(FUZZ_CC) FUZZ_BUILD=1 \
		CFLAGS="$(FUZZ_FLAGS) -fsanitize=fuzzer-no-link" \
		LDFLAGS="$(FUZZ_SAN) -fsanitize=fuzzer" \
		$(FUZZ_TARGETS:%=$(FUZZ_DIR)/fuzz_%)

# The DSP loops without libFuzzer's comparison tracing, which helps it
# through parsers, not arithmetic: it took half of the audio target's time.
ifeq ($(FUZZ_BUILD),1)
$(BUILD)/obj/dsp.o: ALL_CFLAGS += -fno-sanitize-coverage=trace-cmp
endif

$(BUILD)/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz.h $(LIB_OBJS)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(LIB_OBJS) $(LDFLAGS) $(LIBS)

# The regression test #includes the harnesses.
$(BUILD)/tests/test_fuzz_regress: $(wildcard tests/fuzz/*.c tests/fuzz/*.h)

# make format and format-check cover the harnesses too.
.PHONY: fuzz-format fuzz-format-check
format: fuzz-format
format-check: fuzz-format-check
fuzz-format:
	clang-format -i tests/fuzz/*.c tests/fuzz/*.h
fuzz-format-check:
	clang-format --dry-run --Werror tests/fuzz/*.c tests/fuzz/*.h
# --- end of FUZZ ----------------------------------------------------------

# --- CRASH: kill -9 at random points, and a full disk ----------------------
# tests/test_crash.c: bullhornd and bullhorn SIGKILLed at random points of a
# cold start (cache build), an import (new and --replace), a state save and
# a reload; then a cache and a writable library on a full tmpfs (root:
# mount namespace). `make test` runs it with BULLHORN_CRASH_ITERS=8 kills
# (its default); `make crash` with 200 (about 2.5 min). The seed it prints
# replays the kill delays: BULLHORN_CRASH_SEED=N make crash.
.PHONY: crash
crash: all $(BUILD)/tests/test_crash
	BULLHORN_CRASH_ITERS=$${BULLHORN_CRASH_ITERS:-200} BUILD=$(BUILD) \
		sh tests/run.sh $(BUILD)/tests/test_crash
# --- end of CRASH ---------------------------------------------------------

# --- SOAK: 100,000 actions on an ASan bullhornd (bench/soak.sh) -----------
# Builds the ASan+UBSan daemon (build/san, as make sanitize does), the
# plain build (the driver links its client code; its daemon fills the
# cache first) and the test PCM, then runs bench/soak.sh: plays,
# preemptions, stops, loops, reloads, SIGHUPs, volume, next-language,
# status and refused requests through the socket, the test PCM at speed
# 20, first on the ASan daemon, then (runs of 30,000 actions or more) on
# the plain build. Fails on any ASan/UBSan error, a leak at exit, a
# request answered wrongly or not at all, or the plain build's VmRSS
# moving by more than 1 % (first vs last 10 % of the samples after the
# warm-up). See bench/README.md, "bench/soak".
#   make soak SOAK_ACTIONS=5000     the short run CI does
#   make soak SOAK_MODE=valgrind    build/bullhornd under memcheck instead
.PHONY: soak
soak: all $(ALSA_PLUGIN)
	$(if $(filter valgrind plain,$(SOAK_MODE)),,$(MAKE) --no-print-directory \
		BUILD=build/san SAN=1 all)
	BUILD=$(BUILD) SOAK_ACTIONS=$(SOAK_ACTIONS) SOAK_MODE=$(SOAK_MODE) \
		sh bench/soak.sh
# --- end of SOAK ----------------------------------------------------------
