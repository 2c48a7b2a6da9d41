#include "led.h"

#define HALF_SLOW_NS 500000000LL /* 1 Hz */
#define HALF_FAST_NS 125000000LL /* 4 Hz: unmistakably not "playing" */

enum led_mode led_mode_for(bool playing, bool fault)
{
	return playing ? LED_PLAYING : fault ? LED_FAULT : LED_READY;
}

static int64_t half_period(enum led_mode mode)
{
	return mode == LED_PLAYING ? HALF_SLOW_NS
	       : mode == LED_FAULT ? HALF_FAST_NS
				   : 0;
}

void led_set(struct led *l, enum led_mode mode, int64_t now_ns)
{
	int64_t half = half_period(mode);

	if (l->mode == mode && l->next_ns != 0)
		return;
	l->mode = mode;
	l->on = mode != LED_OFF;
	l->next_ns = half ? now_ns + half : LED_NEVER;
}

void led_timer(struct led *l, int64_t now_ns)
{
	int64_t half = half_period(l->mode);

	if (!half || now_ns < l->next_ns)
		return;
	l->on = !l->on;
	/* From the schedule, not from now: a late wake-up does not stretch
	 * the blink; one that is very late restarts it. */
	l->next_ns += half;
	if (l->next_ns <= now_ns)
		l->next_ns = now_ns + half;
}

const char *led_mode_name(enum led_mode mode)
{
	static const char *const names[] = {"off", "ready", "playing", "fault"};

	return names[mode];
}
