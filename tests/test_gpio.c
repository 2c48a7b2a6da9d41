/* Unit tests for the libgpiod adapter, built twice: against libgpiod 1.6
 * (build/) and 2.x (build/gpiod2/). They cover what holds on any machine,
 * with or without GPIO chips: which library is really loaded, the spec
 * checks made before any hardware is touched, and the lookup failures
 * with their sentences.
 *
 * Requests that succeed need a real chip and are not faked here: edges
 * and their timestamps, active-low, bias, output values, a line busy with
 * another consumer ("is in use by 'x'"), an offset out of range and a
 * chip without permission are covered by the VM test on gpio-sim. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <glob.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gpio.h"
#include "util.h"

/* True when this machine has GPIO chips: some sentences then list them
 * instead of saying there are none. */
static bool have_chips(void)
{
	glob_t g;
	bool any = glob("/dev/gpiochip*", 0, NULL, &g) == 0 && g.gl_pathc;

	globfree(&g);
	return any;
}

/* A request that must fail with ret and a sentence holding every one
 * of frags (up to three). */
struct fail_case {
	const char *chip, *line;
	bool output;
	int ret;
	const char *frags[3];
};

static void expect_failure(const struct fail_case *c)
{
	struct gpio_spec spec = {.chip = c->chip, .line = c->line};
	struct gpio_line *l = (struct gpio_line *)&spec; /* must be reset */
	char err[512] = "untouched";
	int r;

	if (c->output)
		r = gpio_request_output(&spec, "test", true, &l, err,
					sizeof(err));
	else
		r = gpio_request_input(&spec, "test", &l, err, sizeof(err));
	if (r != c->ret)
		print_message("  chip '%s' line '%s': %d (%s), want %d\n",
			      c->chip ? c->chip : "(any)", c->line, r, err,
			      c->ret);
	assert_int_equal(r, c->ret);
	assert_null(l);
	for (size_t i = 0; i < ARRAY_SIZE(c->frags) && c->frags[i]; i++) {
		if (!strstr(err, c->frags[i]))
			print_message("  '%s' lacks '%s'\n", err, c->frags[i]);
		assert_non_null(strstr(err, c->frags[i]));
	}
}

static void expect_failures(const struct fail_case *cases, size_t n)
{
	for (size_t i = 0; i < n; i++)
		expect_failure(&cases[i]);
}

static int find_libgpiod(struct dl_phdr_info *info, size_t size, void *data)
{
	const char **path = data;

	(void)size;
	if (strstr(info->dlpi_name, "/libgpiod.so.")) {
		*path = info->dlpi_name;
		return 1;
	}
	return 0;
}

/* The library loaded at run time is the generation gpio.c was compiled
 * for: the 2.x build must not quietly run on the system's 1.6. */
static void test_backend_matches_build(void **state)
{
	const char *b = gpio_backend();
	const char *path = NULL;
	char major[8];
	long m;
	size_t n;

	(void)state;
	print_message("  %s\n", b);
	assert_int_equal(strncmp(b, "libgpiod ", 9), 0);
	n = strcspn(b + 9, ".");
	assert_true(n > 0 && n < sizeof(major) && b[9 + n] == '.');
	memcpy(major, b + 9, n);
	major[n] = '\0';
	assert_int_equal(parse_long(major, 0, 99, &m), 0);
	assert_int_equal(m, BULLHORN_GPIOD_MAJOR);
	/* Same string each call (it is cached). */
	assert_ptr_equal(gpio_backend(), b);

	/* And the shared object itself: soname 2 is libgpiod 1.x, 3 is 2.x. */
	dl_iterate_phdr(find_libgpiod, &path);
	assert_non_null(path);
	print_message("  loaded from %s\n", path);
	assert_non_null(strstr(path, BULLHORN_GPIOD_MAJOR == 1
					 ? "/libgpiod.so.2"
					 : "/libgpiod.so.3"));
}

/* Mistakes in the spec itself are found before any chip is opened, so
 * these hold on every machine. */
static void test_bad_specs(void **state)
{
	static const struct fail_case cases[] = {
	    /* an offset needs its chip */
	    {NULL,
	     "17",
	     false,
	     -EINVAL,
	     {"GPIO line 17", "needs its chip", "GPIO17"}},
	    {NULL, "17", true, -EINVAL, {"needs its chip"}},
	    /* offsets that are not whole numbers in range */
	    {"gpiochip0",
	     "17x",
	     false,
	     -EINVAL,
	     {"bad GPIO line offset '17x' on gpiochip0"}},
	    {"gpiochip0", "-1", false, -EINVAL, {"bad GPIO line offset '-1'"}},
	    {"gpiochip0",
	     "70000",
	     false,
	     -EINVAL,
	     {"bad GPIO line offset '70000'"}},
	    {"gpiochip0",
	     "99999999999999999999",
	     true,
	     -EINVAL,
	     {"bad GPIO line offset"}},
	    {"gpiochip0",
	     "1.5",
	     false,
	     -EINVAL,
	     {"bad GPIO line offset '1.5'"}},
	    /* empty names */
	    {NULL, "", false, -EINVAL, {"empty GPIO line name"}},
	    {"",
	     "GPIO17",
	     false,
	     -EINVAL,
	     {"empty GPIO chip name for line 'GPIO17'"}},
	};

	(void)state;
	expect_failures(cases, ARRAY_SIZE(cases));
}

static void test_name_not_found(void **state)
{
	static const struct fail_case no_chips[] = {
	    {NULL,
	     "GPIO17",
	     false,
	     -ENOENT,
	     {"no GPIO chips (/dev/gpiochip*) on this machine", "'GPIO17'"}},
	    {NULL, "GPIO17", true, -ENOENT, {"no GPIO chips (/dev/gpiochip*)"}},
	};
	/* With chips, a name no chip has: they are searched and listed,
	 * unless one cannot be opened (then that is the likely cause). */
	static const struct fail_case chips[] = {
	    {NULL,
	     "BULLHORN_NO_SUCH_LINE",
	     false,
	     -ENOENT,
	     {"no GPIO line named 'BULLHORN_NO_SUCH_LINE' on any chip "
	      "(gpiochip",
	      "gpioinfo"}},
	};
	struct gpio_spec spec = {.line = "BULLHORN_NO_SUCH_LINE"};
	struct gpio_line *l = NULL;
	char err[512] = "";
	int r;

	(void)state;
	if (!have_chips()) {
		expect_failures(no_chips, ARRAY_SIZE(no_chips));
	} else if (geteuid() == 0) {
		expect_failures(chips, ARRAY_SIZE(chips));
	} else {
		r = gpio_request_input(&spec, "t", &l, err, sizeof(err));
		assert_true(r == -ENOENT || r == -EACCES);
		assert_non_null(strstr(err, "'BULLHORN_NO_SUCH_LINE'"));
		assert_null(l);
	}
}

static void test_chip_not_found(void **state)
{
	const char *why =
	    have_chips() ? "the chips here are" : "there are no GPIO chips";
	const struct fail_case cases[] = {
	    {"gpiochip999",
	     "17",
	     false,
	     -ENOENT,
	     {"no GPIO chip 'gpiochip999' (for line '17')", why}},
	    {"999",
	     "GPIO17",
	     true,
	     -ENOENT,
	     {"no GPIO chip '999' (for line 'GPIO17')", why}},
	    {"/dev/gpiochip999",
	     "3",
	     false,
	     -ENOENT,
	     {"no GPIO chip '/dev/gpiochip999'", why}},
	};

	(void)state;
	expect_failures(cases, ARRAY_SIZE(cases));
	/* a label is looked for on every chip */
	if (!have_chips()) {
		static const struct fail_case none[] = {
		    {"no-such-label",
		     "GPIO17",
		     false,
		     -ENOENT,
		     {"no GPIO chips (/dev/gpiochip*) on this machine",
		      "'GPIO17'"}},
		};

		expect_failures(none, ARRAY_SIZE(none));
	} else if (geteuid() == 0) {
		static const struct fail_case some[] = {
		    {"no-such-label",
		     "GPIO17",
		     false,
		     -ENOENT,
		     {"no GPIO chip labelled 'no-such-label' (for line "
		      "'GPIO17'): the chips here are gpiochip"}},
		};

		expect_failures(some, ARRAY_SIZE(some));
	}
}

/* A path to something that is not a GPIO chip: a plain file and a
 * character device of another kind. */
static void test_not_a_chip(void **state)
{
	char path[] = "/tmp/bullhorn-gpio-XXXXXX";
	int fd = mkstemp(path);
	const struct fail_case file = {
	    path,
	    "3",
	    false,
	    -ENODEV,
	    {path, "is not a GPIO chip", "(for line '3')"}};
	static const struct fail_case devnull = {
	    "/dev/null",
	    "GPIO17",
	    true,
	    -ENODEV,
	    {"/dev/null is not a GPIO chip"}};

	(void)state;
	assert_true(fd >= 0);
	close(fd);
	expect_failure(&file);
	unlink(path);
	/* 2.x tells a device's kind from sysfs */
	if (access("/sys/dev/char", F_OK) == 0)
		expect_failure(&devnull);
}

/* The sentence is cut to the buffer, never past it; no buffer is fine. */
static void test_err_buffer(void **state)
{
	struct gpio_spec spec = {.chip = NULL, .line = "17"};
	struct gpio_line *l = NULL;
	char err[17];

	(void)state;
	memset(err, 'x', sizeof(err));
	assert_int_equal(gpio_request_input(&spec, "t", &l, err, 16), -EINVAL);
	assert_int_equal(strlen(err), 15);
	assert_int_equal(err[16], 'x');
	assert_int_equal(gpio_request_input(&spec, NULL, &l, NULL, 0), -EINVAL);
	assert_null(l);
}

static void test_release_null(void **state)
{
	(void)state;
	gpio_release(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_backend_matches_build),
	    cmocka_unit_test(test_bad_specs),
	    cmocka_unit_test(test_name_not_found),
	    cmocka_unit_test(test_chip_not_found),
	    cmocka_unit_test(test_not_a_chip),
	    cmocka_unit_test(test_err_buffer),
	    cmocka_unit_test(test_release_null),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
