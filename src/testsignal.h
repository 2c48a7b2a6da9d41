/* Test signals for wiring and level checks (bullhorn test-speaker): a
 * 1 kHz tone or pink noise at a chosen peak level, through the same
 * high-pass and true-peak limiter as every announcement, so what a
 * technician hears is what the horn will get. Nothing here logs. */
#ifndef BULLHORN_TESTSIGNAL_H
#define BULLHORN_TESTSIGNAL_H

#include <stddef.h>

#include "clip.h"
#include "process.h"

enum testsignal_kind { TESTSIGNAL_TONE, TESTSIGNAL_PINK };

#define TESTSIGNAL_MIN_DBFS -60.0
#define TESTSIGNAL_MAX_DBFS 0.0
#define TESTSIGNAL_MAX_S    30.0

/* level_dbfs: the peak before the chain (-60..0); seconds: 0.1..30.
 * The limiter still holds s->ceiling_dbtp. Returns 0 and *out (caller
 * unrefs), or -EINVAL/-ENOMEM with a reason in err. */
int testsignal_make(enum testsignal_kind kind, double level_dbfs,
		    double seconds, const struct process_settings *s,
		    struct clip **out, char *err, size_t err_len);

/* "tone" or "pink" into *kind; -EINVAL for anything else. */
int testsignal_parse_kind(const char *word, enum testsignal_kind *kind);

#endif
