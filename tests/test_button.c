/* Unit tests for one button's logic, driven by synthetic edge streams
 * with timestamps: first-edge action, bounce bursts, short taps, hold,
 * a line stuck at start, and a 1000 edges/s storm. A small simulator
 * runs the timer at each deadline before the next edge, as the daemon's
 * timerfd does. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "button.h"
#include "util.h"

#define MS(x) ((int64_t)(x)*1000000)

struct edge {
	double t_ms;
	bool active;
};

struct seen {
	enum button_event ev;
	double t_ms;
};

/* Feeds the edges in order, firing timers whose deadline comes first,
 * until end_ms. Returns the number of events written to out. */
static size_t simulate(struct button *b, const struct edge *e, size_t n,
		       double end_ms, struct seen *out, size_t max)
{
	size_t i = 0, k = 0;

	for (;;) {
		int64_t next = i < n ? (int64_t)(e[i].t_ms * 1e6) : MS(end_ms);
		int64_t d = button_deadline(b);
		enum button_event ev;
		int64_t t;

		if (d <= next && d <= MS(end_ms)) {
			t = d;
			ev = button_timer(b, d);
			/* A deadline that produces nothing must move on. */
			assert_true(ev != BUTTON_NONE ||
				    button_deadline(b) > d);
		} else if (i < n) {
			t = next;
			ev = button_edge(b, e[i].active, next);
			i++;
		} else {
			break;
		}
		if (ev != BUTTON_NONE) {
			assert_true(k < max);
			out[k++] = (struct seen){ev, (double)t / 1e6};
		}
	}
	return k;
}

static void expect(const struct seen *s, size_t n, const char *want)
{
	char got[512] = "";
	size_t off = 0;

	for (size_t i = 0; i < n && off < sizeof(got); i++)
		off += (size_t)snprintf(got + off, sizeof(got) - off, "%s%s@%g",
					i ? " " : "",
					button_event_name(s[i].ev), s[i].t_ms);
	assert_string_equal(got, want);
}

/* One button, its edges and what must come out, as "event@ms" words. */
struct stream_case {
	const char *name;
	unsigned debounce_ms, hold_ms;
	bool level_at_start;
	struct edge edges[12];
	size_t n;
	double end_ms;
	const char *want;
};

static const struct stream_case cases[] = {
    /* Reported at the edge's own time: no debounce delay. */
    {"first edge acts at once",
     30,
     0,
     false,
     {{100, true}, {300, false}},
     2,
     1000,
     "press@100 release@300"},
    /* A contact bouncing for 4 ms on press and 6 ms on release. */
    {"bounce bursts are one press",
     30,
     0,
     false,
     {{100, true},
      {100.5, false},
      {101.2, true},
      {102, false},
      {103.9, true},
      {500, false},
      {500.7, true},
      {501, false},
      {503.3, true},
      {506, false}},
     10,
     1000,
     "press@100 release@500"},
    /* Let go within the window: the press counts, and the release is
     * reported when the window closes. */
    {"tap shorter than debounce",
     30,
     0,
     false,
     {{100, true}, {110, false}},
     2,
     1000,
     "press@100 release@130"},
    {"second press after the window",
     30,
     0,
     false,
     {{100, true}, {140, false}, {200, true}, {260, false}},
     4,
     1000,
     "press@100 release@140 press@200 release@260"},
    /* Held for 4.9 s: one hold, no repeats. */
    {"hold fires once",
     30,
     1000,
     false,
     {{100, true}, {5000, false}},
     2,
     6000,
     "press@100 hold@1100 release@5000"},
    {"short presses do not hold",
     30,
     1000,
     false,
     {{100, true}, {1099, false}, {1200, true}, {1300, false}},
     4,
     5000,
     "press@100 release@1099 press@1200 release@1300"},
    /* A bounce just after the press must not cancel its hold. */
    {"bounce does not restart the hold",
     30,
     500,
     false,
     {{100, true}, {101, false}, {102, true}, {2000, false}},
     4,
     3000,
     "press@100 hold@600 release@2000"},
    /* Held or stuck at start: nothing, not even a hold, until it has
     * been released once. */
    {"stuck at start",
     30,
     1000,
     true,
     {{5000, false}, {6000, true}, {6100, false}},
     3,
     8000,
     "press@6000 release@6100"},
    {"no debounce",
     0,
     0,
     false,
     {{100, true}, {100.1, false}, {100.2, true}},
     3,
     200,
     "press@100 release@100.1 press@100.2"},
};

static void test_stream(void **state)
{
	const struct stream_case *c = *state;
	struct button b;
	struct seen s[16];
	size_t n;

	button_init(&b, c->debounce_ms, c->hold_ms, c->level_at_start, 0);
	if (c->level_at_start)
		assert_int_equal(button_deadline(&b), BUTTON_NEVER);
	n = simulate(&b, c->edges, c->n, c->end_ms, s, ARRAY_SIZE(s));
	expect(s, n, c->want);
	/* Nothing is left pending at rest. */
	assert_int_equal(button_deadline(&b), BUTTON_NEVER);
}

static void test_stuck_later_blocks_nothing(void **state)
{
	/* One button stuck down after a press; another keeps working. */
	struct edge stuck[] = {{100, true}};
	struct edge other[] = {
	    {200, true}, {250, false}, {400, true}, {450, false}};
	struct button a, b;
	struct seen s[8];
	size_t n;

	(void)state;
	button_init(&a, 30, 1000, false, 0);
	button_init(&b, 30, 1000, false, 0);
	n = simulate(&a, stuck, 1, 60000, s, ARRAY_SIZE(s));
	expect(s, n, "press@100 hold@1100");
	assert_int_equal(button_deadline(&a), BUTTON_NEVER);
	n = simulate(&b, other, ARRAY_SIZE(other), 1000, s, ARRAY_SIZE(s));
	expect(s, n, "press@200 release@250 press@400 release@450");
}

static void test_storm_1000_edges_per_second(void **state)
{
	/* A broken contact toggling every millisecond for one second, then
	 * resting released: at most one change per debounce window, and it
	 * ends released. */
	struct edge e[1000];
	struct seen s[128];
	struct button b;
	size_t n, presses = 0;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(e); i++)
		e[i] = (struct edge){1000.0 + (double)i, i % 2 == 0};
	button_init(&b, 30, 0, false, 0);
	n = simulate(&b, e, ARRAY_SIZE(e), 3000, s, ARRAY_SIZE(s));
	for (size_t i = 0; i < n; i++) {
		presses += s[i].ev == BUTTON_PRESS;
		if (i > 0)
			assert_true(s[i].t_ms - s[i - 1].t_ms >= 30 - 1e-9);
		assert_int_equal(s[i].ev,
				 i % 2 == 0 ? BUTTON_PRESS : BUTTON_RELEASE);
	}
	assert_true(presses >= 1 && presses <= 1000 / 30 / 2 + 1);
	assert_int_equal(s[n - 1].ev, BUTTON_RELEASE);
	assert_false(b.down);
}

int main(void)
{
	struct CMUnitTest tests[ARRAY_SIZE(cases) + 2];
	size_t n = 0;

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		tests[n++] = (struct CMUnitTest){cases[i].name, test_stream,
						 NULL, NULL, (void *)&cases[i]};
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(
	    test_stuck_later_blocks_nothing);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(
	    test_storm_1000_edges_per_second);
	return _cmocka_run_group_tests("button", tests, n, NULL, NULL);
}
