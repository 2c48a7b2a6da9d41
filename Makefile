# bullhorn — plain Makefile, flags from pkg-config.
#
#   make              build bullhornd and bullhorn into build/
#   make test         build and run the whole test suite
#   make sanitize     the whole test suite under ASan+UBSan (build/san/)
#   make run          run bullhornd on config/bullhorn.ini (--keys)
#   make install      PREFIX=/usr/local DESTDIR=
#   make clean

VERSION  := 0.1.0
CC       ?= cc
BUILD    ?= build
PREFIX   ?= /usr/local
DESTDIR  ?=
PKG_CONFIG ?= pkg-config

PKGS     := sndfile alsa inih libebur128 soxr zlib
PKG_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null)

WARN     := -Wall -Wextra -Werror -Wstrict-prototypes -Wmissing-prototypes \
            -Wshadow -Wpointer-arith -Wformat=2 -Wno-format-nonliteral
CFLAGS   ?= -O2 -g
ifeq ($(SAN),1)
CFLAGS   := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
            -fno-sanitize-recover=undefined
LDFLAGS  += -fsanitize=address,undefined
endif
ALL_CFLAGS := -std=gnu11 $(WARN) $(CFLAGS) -D_GNU_SOURCE \
              -DBULLHORN_VERSION='"$(VERSION)"' $(PKG_CFLAGS) -Isrc
LIBS     := $(PKG_LIBS) -lm

PROGS    := bullhornd bullhorn
LIB_SRCS := $(filter-out src/bullhornd.c src/bullhorn.c,$(wildcard src/*.c))
LIB_OBJS := $(LIB_SRCS:src/%.c=$(BUILD)/obj/%.o)
TEST_SRCS := $(wildcard tests/test_*.c)
TEST_BINS := $(TEST_SRCS:tests/%.c=$(BUILD)/tests/%)
ALSA_PLUGIN := $(BUILD)/tests/libasound_module_pcm_bhrt.so

.PHONY: all test sanitize run install uninstall clean placeholders format-check \
        format lint bench bench-normalize bench-startup

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

test: all $(TEST_BINS) $(ALSA_PLUGIN)
	@BUILD=$(BUILD) sh tests/run.sh $(TEST_BINS)

sanitize:
	$(MAKE) BUILD=build/san SAN=1 test

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
		--inline-suppr --std=c11 -D_GNU_SOURCE -Isrc src tests

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/sbin \
		$(DESTDIR)$(PREFIX)/share/bullhorn $(DESTDIR)/etc/bullhorn
	install -m 755 $(BUILD)/bullhorn $(DESTDIR)$(PREFIX)/bin/bullhorn
	install -m 755 $(BUILD)/bullhornd $(DESTDIR)$(PREFIX)/sbin/bullhornd
	cp -R audio $(DESTDIR)$(PREFIX)/share/bullhorn/
	[ -e $(DESTDIR)/etc/bullhorn/bullhorn.ini ] || \
	sed -e 's|^library = .*|library = $(PREFIX)/share/bullhorn/audio|' \
	    -e 's|^cache = .*|cache = /var/cache/bullhorn|' \
	    -e 's|^state = .*|state = /var/lib/bullhorn/state|' \
	    -e 's|^socket = .*|socket = /run/bullhorn/bullhorn.sock|' \
	    config/bullhorn.ini > $(DESTDIR)/etc/bullhorn/bullhorn.ini

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/bullhorn $(DESTDIR)$(PREFIX)/sbin/bullhornd
	rm -rf $(DESTDIR)$(PREFIX)/share/bullhorn

clean:
	rm -rf build
