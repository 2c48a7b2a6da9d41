/* The fuzz harnesses (tests/fuzz/) without libFuzzer: each one's seed
 * corpus (tests/fuzz/corpus/TARGET/) and every crasher the fuzzing found
 * (tests/fuzz/regress/TARGET/) run through the same checks, so `make
 * test` and `make sanitize` (gcc) keep the bugs fixed. Runs from the
 * repository's top folder, like the other tests. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define FUZZ_NO_ENTRY
#include "fuzz/fuzz_action.c"
#include "fuzz/fuzz_audio.c"
#include "fuzz/fuzz_config.c"
#include "fuzz/fuzz_control.c"

#define INPUT_MAX (1 << 20)

typedef int (*fuzz_one_fn)(const uint8_t *data, size_t size);

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Runs one over every file in dir, in name order; returns how many.
 * A folder that is not there holds none. */
static size_t replay_dir(const char *dir, fuzz_one_fn one)
{
	struct strv names = {0};
	struct dirent *de;
	DIR *d = opendir(dir);
	size_t n;

	if (!d) {
		assert_int_equal(errno, ENOENT);
		return 0;
	}
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			assert_int_equal(strv_push(&names, de->d_name), 0);
	closedir(d);
	if (names.n)
		qsort(names.v, names.n, sizeof(*names.v), name_cmp);
	for (size_t i = 0; i < names.n; i++) {
		char path[512];
		char *data;
		size_t len;

		assert_true((size_t)snprintf(path, sizeof(path), "%s/%s", dir,
					     names.v[i]) < sizeof(path));
		if (read_file(path, &data, &len, INPUT_MAX) < 0)
			fail_msg("cannot read %s", path);
		print_message("%s\n", path);
		one((const uint8_t *)data, len);
		free(data);
	}
	n = names.n;
	strv_clear(&names);
	return n;
}

static void replay(const char *target, fuzz_one_fn one)
{
	char dir[128];

	snprintf(dir, sizeof(dir), "tests/fuzz/corpus/%s", target);
	/* An empty or missing corpus would make this test pass vacuously. */
	assert_true(replay_dir(dir, one) > 0);
	snprintf(dir, sizeof(dir), "tests/fuzz/regress/%s", target);
	replay_dir(dir, one);
	/* The empty input is every harness's first. */
	one((const uint8_t *)"", 0);
}

static void test_action(void **state)
{
	(void)state;
	replay("action", fuzz_action_one);
}

static void test_audio(void **state)
{
	(void)state;
	replay("audio", fuzz_audio_one);
}

static void test_config(void **state)
{
	(void)state;
	replay("config", fuzz_config_one);
}

static void test_control(void **state)
{
	(void)state;
	replay("control", fuzz_control_one);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_action),
	    cmocka_unit_test(test_audio),
	    cmocka_unit_test(test_config),
	    cmocka_unit_test(test_control),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
