/* The shipped library: every language has every script and its name,
 * the scripts are clean UTF-8 within the length budget and stand in
 * docs/content.md beside their back-translations, every recording passes
 * bullhorn check, placeholders are marked as such, and the placeholder
 * command reproduces the committed files. Run from the repo root. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "action.h"
#include "testutil.h"

static const char *const messages[] = {"rights",    "door",  "silent",
				       "observers", "leave", "_language"};

/* Language folders of audio/ (not _shared), sorted. */
static struct strv languages(void)
{
	struct strv l = {0};
	struct dirent *e;
	DIR *d = opendir("audio");

	assert_non_null(d);
	while ((e = readdir(d))) {
		char path[512];
		struct stat st;

		snprintf(path, sizeof(path), "audio/%s", e->d_name);
		if (e->d_name[0] == '.' || e->d_name[0] == '_' ||
		    stat(path, &st) < 0 || !S_ISDIR(st.st_mode))
			continue;
		strv_push(&l, e->d_name);
	}
	closedir(d);
	qsort(l.v, l.n, sizeof(char *),
	      (int (*)(const void *, const void *))strcmp);
	return l;
}

static char *script(const char *lang, const char *msg)
{
	char path[512], *text = NULL;
	size_t len;

	snprintf(path, sizeof(path), "audio/%s/%s.txt", lang, msg);
	if (read_file(path, &text, &len, 1 << 16) < 0)
		fail_msg("%s is missing", path);
	return text;
}

static size_t codepoints(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return n;
}

static void test_every_language_has_every_script(void **state)
{
	struct strv l = languages();

	(void)state;
	/* English, Spanish and at least ten more. */
	assert_true(strv_contains(&l, "en") && strv_contains(&l, "es"));
	assert_true(l.n >= 12);
	for (size_t i = 0; i < l.n; i++) {
		assert_true(action_valid_language(l.v[i]));
		for (size_t m = 0; m < ARRAY_SIZE(messages); m++)
			free(script(l.v[i], messages[m]));
	}
	strv_clear(&l);
}

static void test_scripts_are_clean_and_short(void **state)
{
	struct strv l = languages();

	(void)state;
	for (size_t i = 0; i < l.n; i++) {
		for (size_t m = 0; m < ARRAY_SIZE(messages); m++) {
			char *t = script(l.v[i], messages[m]);
			char *en = script("en", messages[m]);
			size_t len = strlen(t);

			if (!utf8_valid(t, len))
				fail_msg("%s/%s.txt is not UTF-8", l.v[i],
					 messages[m]);
			/* One paragraph, ending in one newline, no BOM. */
			assert_true(len > 1 && t[len - 1] == '\n');
			assert_null(memchr(t, '\n', len - 1));
			assert_false((unsigned char)t[0] == 0xef);
			/* About 20 s spoken: no more than 1.6 times the
			 * English, which is written to that budget. */
			if (codepoints(t) > codepoints(en) * 8 / 5)
				fail_msg(
				    "%s/%s.txt: %zu characters, budget %zu",
				    l.v[i], messages[m], codepoints(t),
				    codepoints(en) * 8 / 5);
			free(t);
			free(en);
		}
	}
	strv_clear(&l);
}

/* Splits after sentence ends (. ? ! and their CJK/Arabic forms) and
 * checks each sentence stands in content. */
static void assert_sentences_in(const char *content, const char *text,
				const char *where)
{
	static const char *const ends[] = {". ",  "? ",	 "! ", "。",
					   "？",  "！",	 "؟ ", ".\n",
					   "?\n", "!\n", "؟\n"};
	const char *p = text;

	while (*p && *p != '\n') {
		const char *best = NULL;
		size_t blen = 0;
		char sentence[1024];

		for (size_t i = 0; i < ARRAY_SIZE(ends); i++) {
			const char *q = strstr(p, ends[i]);
			size_t l = ends[i][strlen(ends[i]) - 1] == ' ' ||
					   ends[i][strlen(ends[i]) - 1] == '\n'
				       ? strlen(ends[i]) - 1
				       : strlen(ends[i]);

			if (q && (!best || q < best)) {
				best = q;
				blen = l;
			}
		}
		if (!best)
			best = p + strcspn(p, "\n");
		assert_true((size_t)(best + blen - p) < sizeof(sentence));
		memcpy(sentence, p, (size_t)(best + blen - p));
		sentence[best + blen - p] = '\0';
		if (!strstr(content, sentence))
			fail_msg("%s: sentence not in docs/content.md: '%s'",
				 where, sentence);
		p = best + blen;
		while (*p == ' ')
			p++;
	}
}

static void test_content_md_has_every_sentence(void **state)
{
	struct strv l = languages();
	char *content = tu_slurp("docs/content.md");

	(void)state;
	assert_true(strlen(content) > 1000);
	for (size_t i = 0; i < l.n; i++) {
		char heading[64];

		snprintf(heading, sizeof(heading), "(`%s`)", l.v[i]);
		if (!strstr(content, heading))
			fail_msg("docs/content.md has no section %s", heading);
		for (size_t m = 0; m < ARRAY_SIZE(messages); m++) {
			char *t = script(l.v[i], messages[m]), where[96];

			snprintf(where, sizeof(where), "%s/%s.txt", l.v[i],
				 messages[m]);
			assert_sentences_in(content, t, where);
			free(t);
		}
	}
	free(content);
	strv_clear(&l);
}

static void test_shipped_library_passes_check(void **state)
{
	char cmd[1200], *out;
	int status;

	(void)state;
	snprintf(cmd, sizeof(cmd),
		 "%s/bullhorn --config config/bullhorn.ini check "
		 ">%s/check.out 2>&1",
		 tu_build(), tu_build());
	status = system(cmd);
	snprintf(cmd, sizeof(cmd), "%s/check.out", tu_build());
	out = tu_slurp(cmd);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail_msg("bullhorn check failed:\n%s", out);
	/* Every recording but the chime is a marked placeholder today, and
	 * check says so; Tagalog has no voice and needs recordings. */
	assert_non_null(strstr(out, "\n_shared   chime "));
	assert_non_null(strstr(out, "\nko        rights "));
	assert_non_null(strstr(out, "placeholders (synthesized"));
	assert_non_null(strstr(out, "  tl/rights\n"));
	free(out);
}

static void test_placeholders_are_marked(void **state)
{
	struct strv l = languages();

	(void)state;
	for (size_t i = 0; i < l.n; i++) {
		char path[512];
		struct dirent *e;
		DIR *d;

		snprintf(path, sizeof(path), "audio/%s", l.v[i]);
		d = opendir(path);
		assert_non_null(d);
		while ((e = readdir(d)))
			if (strstr(e->d_name, ".opus") &&
			    !strstr(e->d_name, ".placeholder.opus"))
				fail_msg("audio/%s/%s: a synthesized file not "
					 "named .placeholder",
					 l.v[i], e->d_name);
		closedir(d);
	}
	strv_clear(&l);
}

static void test_placeholder_command_reproduces_files(void **state)
{
	char dir[] = "/tmp/bullhorn-ph-XXXXXX", cmd[1024];

	(void)state;
	if (system("command -v espeak-ng >/dev/null && command -v opusenc "
		   ">/dev/null && command -v sox >/dev/null") != 0) {
		print_message("espeak-ng, opusenc or sox missing: "
			      "apt-get install espeak-ng opus-tools sox\n");
		skip();
	}
	assert_non_null(mkdtemp(dir));
	/* Scripts and the command only; then every generated file must be
	 * byte for byte the committed one. */
	snprintf(cmd, sizeof(cmd),
		 "cd audio && find . -name '*.txt' | tar cf - -T - | "
		 "tar xf - -C %s && cp voices.txt make-placeholders.sh %s/ && "
		 "sh %s/make-placeholders.sh %s >/dev/null && cd %s && "
		 "for f in $(find . -name '*.opus'); do "
		 "cmp -s $f %s/audio/$f || { echo differs: $f; exit 1; }; done "
		 "&& test $(find . -name '*.opus' | wc -l) -eq "
		 "$(cd %s/audio && find . -name '*.opus' | wc -l)",
		 dir, dir, dir, dir, dir, getenv("PWD"), getenv("PWD"));
	assert_int_equal(system(cmd), 0);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_every_language_has_every_script),
	    cmocka_unit_test(test_scripts_are_clean_and_short),
	    cmocka_unit_test(test_content_md_has_every_sentence),
	    cmocka_unit_test(test_shipped_library_passes_check),
	    cmocka_unit_test(test_placeholders_are_marked),
	    cmocka_unit_test(test_placeholder_command_reproduces_files),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
