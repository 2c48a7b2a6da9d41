/* Unit tests for the status LED's patterns: steady, slow and fast blink
 * timing, the mode priority, and late wake-ups. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "led.h"

#define MS(x) ((int64_t)(x)*1000000)

/* Runs the blink from now to end and counts the on->off->on toggles. */
static int toggles(struct led *l, int64_t end)
{
	int n = 0;

	while (l->next_ns <= end) {
		bool was = l->on;

		led_timer(l, l->next_ns);
		n += l->on != was;
	}
	return n;
}

static void test_modes(void **state)
{
	(void)state;
	assert_int_equal(led_mode_for(false, false), LED_READY);
	assert_int_equal(led_mode_for(false, true), LED_FAULT);
	assert_int_equal(led_mode_for(true, false), LED_PLAYING);
	assert_int_equal(led_mode_for(true, true), LED_PLAYING);
}

static void test_ready_is_steady(void **state)
{
	struct led l = {0};

	(void)state;
	led_set(&l, LED_READY, MS(0));
	assert_true(l.on);
	assert_true(l.next_ns == LED_NEVER);
	led_set(&l, LED_OFF, MS(5));
	assert_false(l.on);
	assert_true(l.next_ns == LED_NEVER);
}

static void test_blink_rates(void **state)
{
	struct led l = {0};

	(void)state;
	led_set(&l, LED_PLAYING, MS(0));
	assert_true(l.on);
	/* 1 Hz: two toggles a second. */
	assert_int_equal(toggles(&l, MS(10000)), 20);
	led_set(&l, LED_FAULT, MS(10000));
	assert_true(l.on);
	/* 4 Hz: eight toggles a second. */
	assert_int_equal(toggles(&l, MS(20000)), 80);
}

static void test_same_mode_keeps_phase(void **state)
{
	struct led l = {0};
	int64_t next;

	(void)state;
	led_set(&l, LED_PLAYING, MS(0));
	led_timer(&l, MS(500));
	assert_false(l.on);
	next = l.next_ns;
	led_set(&l, LED_PLAYING, MS(700));
	assert_false(l.on);
	assert_true(l.next_ns == next);
}

static void test_late_wakeup(void **state)
{
	struct led l = {0};

	(void)state;
	led_set(&l, LED_FAULT, MS(0));
	/* A little late: the schedule holds. */
	led_timer(&l, MS(130));
	assert_true(l.next_ns == MS(250));
	/* Seconds late (a stalled machine): restarted from now, no burst
	 * of catch-up toggles. */
	led_timer(&l, MS(5000));
	assert_true(l.next_ns == MS(5125));
	led_timer(&l, MS(5000));
	assert_true(l.next_ns == MS(5125));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_modes),
	    cmocka_unit_test(test_ready_is_steady),
	    cmocka_unit_test(test_blink_rates),
	    cmocka_unit_test(test_same_mode_keeps_phase),
	    cmocka_unit_test(test_late_wakeup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
