/* Unit tests for the amplifier enable: warm-up before the first sound,
 * no warm-up while on, the idle switch-off and its cancellation. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "amp.h"

#define MS(x) ((int64_t)(x)*1000000)

static void test_warmup_then_warm(void **state)
{
	struct amp a;

	(void)state;
	amp_init(&a, 150, 30);
	assert_false(a.on);
	assert_true(amp_want(&a, MS(1000)) == MS(1150));
	assert_true(a.on);
	/* A second press during the warm-up waits for the same moment. */
	assert_true(amp_want(&a, MS(1100)) == MS(1150));
	/* Once warm, sound starts at once. */
	assert_true(amp_want(&a, MS(2000)) == MS(2000));
}

static void test_idle_off_and_cancel(void **state)
{
	struct amp a;

	(void)state;
	amp_init(&a, 100, 30);
	amp_want(&a, 0);
	amp_idle(&a, MS(5000));
	assert_true(amp_deadline(&a) == MS(35000));
	amp_timer(&a, MS(34999));
	assert_true(a.on);
	/* A press before the switch-off keeps it on, warm. */
	assert_true(amp_want(&a, MS(34000)) == MS(34000));
	assert_true(amp_deadline(&a) == AMP_NEVER);
	amp_idle(&a, MS(40000));
	amp_timer(&a, MS(70000));
	assert_false(a.on);
	assert_true(amp_deadline(&a) == AMP_NEVER);
	/* Off again: the next press waits for the warm-up again. */
	assert_true(amp_want(&a, MS(80000)) == MS(80100));
}

static void test_never_off(void **state)
{
	struct amp a;

	(void)state;
	amp_init(&a, 0, 0);
	assert_true(amp_want(&a, MS(10)) == MS(10));
	amp_idle(&a, MS(20));
	assert_true(amp_deadline(&a) == AMP_NEVER);
	assert_true(a.on);
}

static void test_idle_when_off_does_nothing(void **state)
{
	struct amp a;

	(void)state;
	amp_init(&a, 100, 30);
	amp_idle(&a, MS(20));
	assert_true(amp_deadline(&a) == AMP_NEVER);
	assert_false(a.on);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_warmup_then_warm),
	    cmocka_unit_test(test_idle_off_and_cancel),
	    cmocka_unit_test(test_never_off),
	    cmocka_unit_test(test_idle_when_off_does_nothing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
