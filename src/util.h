/* Small helpers shared by every module: checked number parsing, string
 * lists, paths, atomic file writes, clocks. Nothing here logs. */
#ifndef BULLHORN_UTIL_H
#define BULLHORN_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Whole-string parses: leading/trailing blanks allowed, anything else
 * (empty, junk, out of [min,max]) returns -EINVAL or -ERANGE. */
int parse_long(const char *s, long min, long max, long *out);
int parse_double(const char *s, double min, double max, double *out);

/* A NULL-terminated, heap-owned list of strings. */
struct strv {
	char **v;
	size_t n;
	size_t cap;
};
int strv_push(struct strv *l, const char *s);
int strv_pushf(struct strv *l, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void strv_clear(struct strv *l);
bool strv_contains(const struct strv *l, const char *s);
/* Splits on commas and/or blanks, skipping empty fields. */
int strv_split(struct strv *l, const char *s);

/* True when s[0..len) is well-formed UTF-8 (no overlongs, no
 * surrogates). */
bool utf8_valid(const char *s, size_t len);

/* Damerau-free Levenshtein distance, for "did you mean" suggestions. */
size_t edit_distance(const char *a, const char *b);

/* Joins dir and rel unless rel is absolute; returns a heap string or NULL. */
char *path_resolve(const char *dir, const char *rel);
/* "a/b" into buf; -ENAMETOOLONG when it does not fit. */
int path_join(char *buf, size_t len, const char *a, const char *b);
/* The folder part of path ("." when there is none); heap string or NULL. */
char *path_dirname(const char *path);
/* mkdir -p with mode for each created component. */
int mkdir_p(const char *path, unsigned mode);

/* Writes data to path so that a reader sees either the old file or the
 * whole new one, never a part: temp file in the same folder, fsync,
 * rename, fsync of the folder. */
int atomic_write_file(const char *path, const void *data, size_t len,
		      unsigned mode);
/* fsync of the folder dir itself: makes a rename in it durable. */
int fsync_dir(const char *dir);

/* Removes what atomic_write_file left for path when a kill or a power
 * cut stopped it: PATH.tmp.PID of a process that no longer runs (a live
 * writer's is left alone). Returns the number removed or a negative
 * errno. */
int atomic_write_leftovers_remove(const char *path);

/* Reads a whole file into a heap buffer (NUL-terminated for convenience). */
int read_file(const char *path, char **data, size_t *len, size_t max_len);

/* CLOCK_MONOTONIC in nanoseconds. */
int64_t now_ns(void);

/* 64-bit FNV-1a; a change detector for cache keys, not a security hash. */
uint64_t hash64(uint64_t h, const void *data, size_t len);
#define HASH64_INIT 0xcbf29ce484222325ULL

/* CRC-32 (IEEE), to detect corrupt or truncated cache payloads. */
uint32_t crc32_update(uint32_t crc, const void *data, size_t len);

#endif
