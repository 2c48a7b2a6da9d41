/* The amplifier's enable line, as pure logic. Sound waits for the amp:
 * an amp switched on needs warmup_ms before it passes sound cleanly (the
 * turn-on thump and the first syllable would be lost), so the daemon
 * holds a press until amp_ready_at. It is switched off idle_off_s after
 * the last sound, to save the battery, and at exit. */
#ifndef BULLHORN_AMP_H
#define BULLHORN_AMP_H

#include <stdbool.h>
#include <stdint.h>

#define AMP_NEVER INT64_MAX

struct amp {
	unsigned warmup_ms;
	double idle_off_s; /* 0: never off while the daemon runs */
	bool on;
	int64_t ready_ns; /* sound may start from here */
	int64_t off_ns;	  /* idle switch-off, or AMP_NEVER */
};

void amp_init(struct amp *a, unsigned warmup_ms, double idle_off_s);
/* Sound is wanted now: switches on if off, cancels the idle switch-off.
 * Returns when the sound may start (now_ns if already warm). */
int64_t amp_want(struct amp *a, int64_t now_ns);
/* Nothing sounds any more: the idle countdown starts. */
void amp_idle(struct amp *a, int64_t now_ns);
/* The next time amp_timer has work: the idle switch-off. */
int64_t amp_deadline(const struct amp *a);
void amp_timer(struct amp *a, int64_t now_ns);

#endif
