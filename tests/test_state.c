/* Unit tests for the saved state: round trips, a missing file, damaged
 * files (the fields that parse are kept, the rest ignored), and atomic
 * saves into folders that do not exist yet. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "state.h"
#include "testutil.h"
#include "util.h"

struct fixture {
	char dir[64];
	char path[128];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	if (tu_mkdtemp(f->dir, sizeof(f->dir), "state") < 0) {
		free(f);
		return -1;
	}
	snprintf(f->path, sizeof(f->path), "%s/state", f->dir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	tu_rmtree(f->dir);
	free(f);
	return 0;
}

static void write_bytes(const char *path, const char *data, size_t len)
{
	FILE *fp = fopen(path, "wb");

	assert_non_null(fp);
	if (len)
		assert_int_equal(fwrite(data, 1, len, fp), len);
	assert_int_equal(fclose(fp), 0);
}

/* Names in dir other than . and .., joined by '|'. */
static void list_dir(const char *dir, char *out, size_t len)
{
	assert_int_equal(tu_list_dir(dir, out, len), 0);
}

static void test_round_trip(void **state)
{
	static const struct state cases[] = {
	    {0, "en"},
	    {100, "zh-cmn"},
	    {55, "es"},
	    {7, "quc"},
	    {63,
	     "abcdefghijklmnopqrstuvwxyz0123456789-abcdefghijklmnopqrstuvwxy"},
	};
	struct fixture *f = *state;

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct state back = {.volume = 999, .language = "xx"};

		assert_int_equal(state_save(f->path, &cases[i]), 0);
		assert_int_equal(state_load(f->path, &back), 0);
		assert_int_equal(back.volume, cases[i].volume);
		assert_string_equal(back.language, cases[i].language);
	}
}

/* "" is how the daemon says "no language remembered"; what it saves it
 * must read back as sound. */
static void test_round_trip_no_language(void **state)
{
	struct fixture *f = *state;
	const struct state st = {.volume = 40, .language = ""};
	struct state back = {.volume = 999, .language = "xx"};
	int r;

	assert_int_equal(state_save(f->path, &st), 0);
	r = state_load(f->path, &back);
	if (r != 0)
		print_message("  saved {40, \"\"}, state_load = %d\n", r);
	assert_int_equal(r, 0);
	assert_int_equal(back.volume, 40);
	assert_string_equal(back.language, "");
}

static void test_missing(void **state)
{
	struct fixture *f = *state;
	struct state st = {.volume = 33, .language = "fr"};

	assert_int_equal(state_load(f->path, &st), -ENOENT);
	assert_int_equal(st.volume, 33);
	assert_string_equal(st.language, "fr");

	/* A folder where the file should be is not a state either. */
	assert_int_equal(mkdir(f->path, 0755), 0);
	assert_true(state_load(f->path, &st) < 0);
	assert_int_equal(st.volume, 33);
	assert_string_equal(st.language, "fr");
}

static void test_load_table(void **state)
{
	/* Loaded over {77, "xx"}: a field the file does not set (or sets
	 * to something invalid) keeps that value. */
	static const struct {
		const char *text;
		int ret;
		unsigned volume;
		const char *language;
	} cases[] = {
	    {"volume=55\nlanguage=es\n", 0, 55, "es"},
	    {"language=es\nvolume=55\n", 0, 55, "es"},
	    {"volume=0\nlanguage=zh-cmn\n", 0, 0, "zh-cmn"},
	    {"volume=100\n", 0, 100, "xx"},
	    {"language=quc", 0, 77, "quc"}, /* no final newline */
	    {"\n\nvolume=20\n\n", 0, 20, "xx"},
	    {"volume= 20 \n", 0, 20, "xx"},
	    /* volume out of range or not a number: ignored */
	    {"volume=101\nlanguage=es\n", -EBADMSG, 77, "es"},
	    {"volume=-1\nlanguage=es\n", -EBADMSG, 77, "es"},
	    {"volume=abc\n", -EBADMSG, 77, "xx"},
	    {"volume=5x\n", -EBADMSG, 77, "xx"},
	    {"volume=\n", -EBADMSG, 77, "xx"},
	    {"volume=99999999999999999999999\n", -EBADMSG, 77, "xx"},
	    /* invalid language: ignored */
	    {"volume=50\nlanguage=e s\n", -EBADMSG, 50, "xx"},
	    {"volume=50\nlanguage=all\n", -EBADMSG, 50, "xx"},
	    {"volume=50\nlanguage=-es\n", -EBADMSG, 50, "xx"},
	    {"volume=50\nlanguage=../etc\n", -EBADMSG, 50, "xx"},
	    {"volume=50\nlanguage=abcdefghijklmnopqrstuvwxyz0123456789abcdef"
	     "ghijklmnopqrstuvwxyz0123\n",
	     -EBADMSG, 50, "xx"},
	    /* garbage lines: the valid fields around them still count */
	    {"volume=30\nhello\nlanguage=fr\n", -EBADMSG, 30, "fr"},
	    {"# bullhorn state\nvolume=30\n", -EBADMSG, 30, "xx"},
	    {"VOLUME=30\n", -EBADMSG, 77, "xx"},
	    {"volume 30\n", -EBADMSG, 77, "xx"},
	    {"\x01\x02\x03\n", -EBADMSG, 77, "xx"},
	    {"<html>\n", -EBADMSG, 77, "xx"},
	};
	struct fixture *f = *state;
	int wrong = 0;

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct state st = {.volume = 77, .language = "xx"};
		int r;

		write_bytes(f->path, cases[i].text, strlen(cases[i].text));
		r = state_load(f->path, &st);
		if (r != cases[i].ret || st.volume != cases[i].volume ||
		    strcmp(st.language, cases[i].language) != 0) {
			print_message("  case %zu: %d {%u, '%s'}, want %d "
				      "{%u, '%s'}\n",
				      i, r, st.volume, st.language,
				      cases[i].ret, cases[i].volume,
				      cases[i].language);
			wrong++;
		}
	}
	assert_int_equal(wrong, 0);
}

/* A file far bigger than any state we write is not ours. */
static void test_load_huge(void **state)
{
	struct fixture *f = *state;
	struct state st = {.volume = 77, .language = "xx"};
	size_t n = 64 * 1024;
	char *big = malloc(n);

	assert_non_null(big);
	memset(big, '\n', n);
	memcpy(big, "volume=10\n", 10);
	write_bytes(f->path, big, n);
	free(big);
	assert_int_equal(state_load(f->path, &st), -EBADMSG);
}

/* A NUL byte makes the file damaged, not shorter: what follows it must
 * not be dropped silently with a "clean" result. */
static void test_load_nul(void **state)
{
	struct fixture *f = *state;
	struct state st = {.volume = 77, .language = "xx"};
	static const char text[] = "volume=10\n\0garbage\nlanguage=es\n";

	write_bytes(f->path, text, sizeof(text) - 1);
	assert_int_equal(state_load(f->path, &st), -EBADMSG);
	assert_int_equal(st.volume, 10);
}

static void test_save_makes_folder_and_no_temp(void **state)
{
	struct fixture *f = *state;
	const struct state st = {.volume = 25, .language = "es"};
	struct state back = {0};
	char path[320], dir[256], names[256];

	snprintf(dir, sizeof(dir), "%s/var/lib/bullhorn", f->dir);
	snprintf(path, sizeof(path), "%s/state", dir);
	assert_int_equal(state_save(path, &st), 0);
	assert_int_equal(state_load(path, &back), 0);
	assert_int_equal(back.volume, 25);
	assert_string_equal(back.language, "es");
	list_dir(dir, names, sizeof(names));
	assert_string_equal(names, "state");

	/* Saving again replaces it and still leaves nothing else. */
	back.volume = 90;
	assert_int_equal(state_save(path, &back), 0);
	list_dir(dir, names, sizeof(names));
	assert_string_equal(names, "state");
	memset(&back, 0, sizeof(back));
	assert_int_equal(state_load(path, &back), 0);
	assert_int_equal(back.volume, 90);
	assert_string_equal(back.language, "es");
}

static void test_save_fails(void **state)
{
	struct fixture *f = *state;
	const struct state st = {.volume = 25, .language = "es"};
	char path[256], names[256];

	/* The folder is a file. */
	snprintf(path, sizeof(path), "%s/file", f->dir);
	write_bytes(path, "x", 1);
	snprintf(path, sizeof(path), "%s/file/state", f->dir);
	assert_true(state_save(path, &st) < 0);
	/* The state is a folder. */
	snprintf(path, sizeof(path), "%s/dir", f->dir);
	assert_int_equal(mkdir(path, 0755), 0);
	assert_true(state_save(path, &st) < 0);
	list_dir(f->dir, names, sizeof(names));
	assert_string_equal(names, "dir|file");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_round_trip_no_language, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_missing, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_load_table, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_load_huge, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_load_nul, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_save_makes_folder_and_no_temp,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_save_fails, setup, teardown),
	};

	return cmocka_run_group_tests_name("state", tests, NULL, NULL);
}
