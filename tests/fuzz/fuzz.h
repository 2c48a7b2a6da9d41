/* What the fuzz harnesses share. Each harness (fuzz_<target>.c) has one
 * entry, fuzz_<target>_one(), that checks one input and abort()s when a
 * property does not hold; libFuzzer reports that as a crash, a plain
 * build as a failed test. The harnesses use nothing of libFuzzer's but
 * its entry point, so tests/test_fuzz_regress.c builds them with gcc
 * (FUZZ_NO_ENTRY) and replays the corpora and the crashers in
 * `make test` and `make sanitize`. */
#ifndef BULLHORN_FUZZ_H
#define BULLHORN_FUZZ_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int fuzz_action_one(const uint8_t *data, size_t size);
int fuzz_audio_one(const uint8_t *data, size_t size);
int fuzz_config_one(const uint8_t *data, size_t size);
int fuzz_control_one(const uint8_t *data, size_t size);

#ifndef FUZZ_NO_ENTRY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
#endif

/* A property that must hold for every input. */
#define FUZZ_CHECK(cond)                                                       \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "%s:%d: %s: property failed: %s\n",    \
				__FILE__, __LINE__, __func__, #cond);          \
			abort();                                               \
		}                                                              \
	} while (0)

/* The input as a file that the code under test opens by path, in memory:
 * fuzzing writes nothing to disk. path gets "/proc/self/fd/N"; open()
 * on it gives a new description at offset 0, as a real file would.
 * Returns the fd (the caller closes it) or -1. */
static inline int fuzz_memfile(const uint8_t *data, size_t size, char *path,
			       size_t path_len)
{
	int fd = memfd_create("fuzz", MFD_CLOEXEC);
	size_t done = 0;

	if (fd < 0)
		return -1;
	while (done < size) {
		ssize_t n = write(fd, data + done, size - done);

		if (n <= 0) {
			close(fd);
			return -1;
		}
		done += (size_t)n;
	}
	snprintf(path, path_len, "/proc/self/fd/%d", fd);
	return fd;
}

/* Strict UTF-8 (RFC 3629: no overlongs, no surrogates, nothing past
 * U+10FFFF), written apart from util.c's so each checks the other. */
static inline int fuzz_utf8_ok(const uint8_t *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		uint8_t c = s[i];
		size_t need;
		uint8_t lo = 0x80, hi = 0xbf;

		if (c <= 0x7f) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			need = 1;
		else if (c >= 0xe0 && c <= 0xef)
			need = 2;
		else if (c >= 0xf0 && c <= 0xf4)
			need = 3;
		else
			return 0;
		/* The second byte's range rules out overlongs, surrogates
		 * and what lies past U+10FFFF. */
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;
		else if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
		if (len - i - 1 < need)
			return 0;
		if (s[i + 1] < lo || s[i + 1] > hi)
			return 0;
		for (size_t k = 2; k <= need; k++)
			if (s[i + k] < 0x80 || s[i + k] > 0xbf)
				return 0;
		i += need + 1;
	}
	return 1;
}

/* The input as a NUL-terminated string (cut at its first NUL), on the
 * heap so that ASan sees a read past it. NULL when out of memory. */
static inline char *fuzz_string(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (s) {
		memcpy(s, data, size);
		s[size] = '\0';
	}
	return s;
}

#endif
