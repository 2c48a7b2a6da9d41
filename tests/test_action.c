/* The action language: every form, and the invalid ones beside them. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "action.h"

struct good_case {
	const char *text;
	enum action_type type;
	const char *message;
	const char *language;
	int all;
	enum volume_mode vmode;
	int volume;
	const char *canonical;
};

static const struct good_case good[] = {
    {"play rights", ACTION_PLAY, "rights", "", 0, 0, 0, "play rights"},
    {"play rights es", ACTION_PLAY, "rights", "es", 0, 0, 0, "play rights es"},
    {"  play   door   zh-cmn \n", ACTION_PLAY, "door", "zh-cmn", 0, 0, 0,
     "play door zh-cmn"},
    {"play rights all", ACTION_PLAY, "rights", "", 1, 0, 0, "play rights all"},
    {"loop rights all", ACTION_LOOP, "rights", "", 1, 0, 0, "loop rights all"},
    {"loop know_your-rights2 quc", ACTION_LOOP, "know_your-rights2", "quc", 0,
     0, 0, "loop know_your-rights2 quc"},
    {"stop", ACTION_STOP, "", "", 0, 0, 0, "stop"},
    {"stop\r\n", ACTION_STOP, "", "", 0, 0, 0, "stop"},
    {"next-language", ACTION_NEXT_LANGUAGE, "", "", 0, 0, 0, "next-language"},
    {"volume 0", ACTION_VOLUME, "", "", 0, VOLUME_SET, 0, "volume 0"},
    {"volume 100", ACTION_VOLUME, "", "", 0, VOLUME_SET, 100, "volume 100"},
    {"volume +5", ACTION_VOLUME, "", "", 0, VOLUME_UP, 5, "volume +5"},
    {"volume -10", ACTION_VOLUME, "", "", 0, VOLUME_DOWN, 10, "volume -10"},
};

struct bad_case {
	const char *text;
	const char *reason; /* a substring of the error */
};

static const struct bad_case bad[] = {
    {"", "empty action"},
    {"   ", "empty action"},
    {"dance", "unknown action 'dance'"},
    {"PLAY rights", "unknown action"},
    {"play", "needs a message name"},
    {"play Rights", "not a message name"},
    {"play _language", "not a message name"},
    {"play ../etc", "not a message name"},
    {"play rights es extra", "at most one language"},
    {"play a b c d e", "too many words"},
    {"play rights e$", "not a language tag"},
    {"play rights -es", "not a language tag"},
    {"stop now", "takes no arguments"},
    {"next-language es", "takes no arguments"},
    {"volume", "takes one value"},
    {"volume 101", "not a volume"},
    {"volume -1x", "not a volume step"},
    {"volume +", "not a volume step"},
    {"volume 5 6", "takes one value"},
    {"volume loud", "not a volume"},
    {"volume +-3", "not a volume step"},
    {"play rig\x01hts", "control character"},
    {"play aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
     "not a message name"},
};

static void test_good(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		const struct good_case *g = &good[i];
		struct action a;
		char err[256] = "", buf[128];

		assert_int_equal(action_parse(g->text, &a, err, sizeof(err)),
				 0);
		assert_int_equal(a.type, g->type);
		if (g->type == ACTION_PLAY || g->type == ACTION_LOOP) {
			assert_string_equal(a.message, g->message);
			assert_string_equal(a.language, g->language);
			assert_int_equal(a.all, g->all);
		}
		if (g->type == ACTION_VOLUME) {
			assert_int_equal(a.volume_mode, g->vmode);
			assert_int_equal(a.volume, g->volume);
		}
		assert_true(action_format(&a, buf, sizeof(buf)) > 0);
		assert_string_equal(buf, g->canonical);
	}
}

static void test_bad(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct action a, before;
		char err[256] = "";

		memset(&a, 0x5a, sizeof(a));
		before = a;
		assert_int_equal(
		    action_parse(bad[i].text, &a, err, sizeof(err)), -22);
		if (!strstr(err, bad[i].reason))
			fail_msg("'%s': error '%s' lacks '%s'", bad[i].text,
				 err, bad[i].reason);
		/* A bad action changes nothing. */
		assert_memory_equal(&a, &before, sizeof(a));
	}
}

static void test_too_long(void **state)
{
	char text[600], err[128];
	struct action a;

	(void)state;
	memset(text, 'a', sizeof(text) - 1);
	text[sizeof(text) - 1] = '\0';
	memcpy(text, "play ", 5);
	assert_int_equal(action_parse(text, &a, err, sizeof(err)), -22);
	assert_non_null(strstr(err, "too long"));
}

static void test_format_small_buffer(void **state)
{
	struct action a;
	char buf[6];

	(void)state;
	assert_int_equal(action_parse("play rights es", &a, NULL, 0), 0);
	assert_int_equal(action_format(&a, buf, sizeof(buf)), -28);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_good),
	    cmocka_unit_test(test_bad),
	    cmocka_unit_test(test_too_long),
	    cmocka_unit_test(test_format_small_buffer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
