/* What one button does with its edges. Pure logic, no I/O, so it is
 * tested with synthetic event streams: time comes in with the events.
 *
 * - The first edge acts at once (no added latency); edges in the next
 *   debounce_ms are bounces and are ignored. If the level at the end of
 *   that window differs from what was reported, it is reported then.
 * - A press held for hold_ms reports HOLD once; held longer, nothing
 *   repeats.
 * - A line already active when it is first seen (stuck, or held during
 *   start-up) reports nothing until it has been released. */
#ifndef BULLHORN_BUTTON_H
#define BULLHORN_BUTTON_H

#include <stdbool.h>
#include <stdint.h>

#define BUTTON_NEVER INT64_MAX

enum button_event { BUTTON_NONE, BUTTON_PRESS, BUTTON_RELEASE, BUTTON_HOLD };

struct button {
	unsigned debounce_ms;
	unsigned hold_ms;  /* 0: no hold */
	bool down;	   /* what was last reported */
	bool level;	   /* the last level seen */
	bool armed;	   /* false until released once after start */
	bool held;	   /* HOLD reported for this press */
	int64_t settle_ns; /* end of the bounce window */
	int64_t hold_ns;   /* when HOLD is due, or BUTTON_NEVER */
};

/* level: the line's logical level when the button is set up. */
void button_init(struct button *b, unsigned debounce_ms, unsigned hold_ms,
		 bool level, int64_t now_ns);
/* One edge: active is the level after it, t_ns its time. */
enum button_event button_edge(struct button *b, bool active, int64_t t_ns);
/* When button_timer must next be called, or BUTTON_NEVER. */
int64_t button_deadline(const struct button *b);
/* Call at or after the deadline: settles a bounce window or fires HOLD. */
enum button_event button_timer(struct button *b, int64_t now_ns);
const char *button_event_name(enum button_event ev);

#endif
