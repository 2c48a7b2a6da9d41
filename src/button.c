/* The debounce acts on the first edge and only then ignores the line,
 * instead of waiting for the line to be quiet: a press is heard without
 * the debounce time added to it (kernel debounce in libgpiod 2.x would
 * delay every edge by the whole period). */
#include "button.h"

#include <assert.h>

#define MS(x) ((int64_t)(x)*1000000)

void button_init(struct button *b, unsigned debounce_ms, unsigned hold_ms,
		 bool level, int64_t now_ns)
{
	assert(b);
	*b = (struct button){
	    .debounce_ms = debounce_ms,
	    .hold_ms = hold_ms,
	    .down = level,
	    .level = level,
	    .armed = !level,
	    .settle_ns = now_ns,
	    .hold_ns = BUTTON_NEVER,
	};
}

/* Reports a change of the debounced state and opens a bounce window. */
static enum button_event change(struct button *b, bool active, int64_t t_ns)
{
	b->down = active;
	b->settle_ns = t_ns + MS(b->debounce_ms);
	b->hold_ns = BUTTON_NEVER;
	if (!active) {
		bool was_armed = b->armed;

		/* The release of a press held since start-up arms the
		 * button and is not itself reported. */
		b->armed = true;
		b->held = false;
		return was_armed ? BUTTON_RELEASE : BUTTON_NONE;
	}
	if (!b->armed)
		return BUTTON_NONE;
	if (b->hold_ms)
		b->hold_ns = t_ns + MS(b->hold_ms);
	return BUTTON_PRESS;
}

enum button_event button_edge(struct button *b, bool active, int64_t t_ns)
{
	b->level = active;
	/* Inside the window the level is only noted: button_timer looks at
	 * it once the window closes. */
	if (t_ns < b->settle_ns || active == b->down)
		return BUTTON_NONE;
	return change(b, active, t_ns);
}

int64_t button_deadline(const struct button *b)
{
	int64_t d = b->hold_ns;

	if (b->level != b->down && b->settle_ns < d)
		d = b->settle_ns;
	return d;
}

enum button_event button_timer(struct button *b, int64_t now_ns)
{
	if (b->level != b->down && now_ns >= b->settle_ns)
		return change(b, b->level, b->settle_ns);
	if (b->down && now_ns >= b->hold_ns) {
		b->hold_ns = BUTTON_NEVER;
		b->held = true;
		return BUTTON_HOLD;
	}
	return BUTTON_NONE;
}

const char *button_event_name(enum button_event ev)
{
	switch (ev) {
	case BUTTON_PRESS:
		return "press";
	case BUTTON_RELEASE:
		return "release";
	case BUTTON_HOLD:
		return "hold";
	case BUTTON_NONE:
		break;
	}
	return "none";
}
