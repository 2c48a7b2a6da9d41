/* Unit tests for src/config.c. Table-driven: files that must load (with a
 * check of what they load to) next to files that must fail with exactly
 * the error lines a technician would see. Run from the repository root. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"

static char tmpdir[] = "/tmp/bullhorn-test-config.XXXXXX";

/* ---- helpers ---------------------------------------------------------- */

static char *tmp_path(const char *name)
{
	char *path;

	assert_true(asprintf(&path, "%s/%s", tmpdir, name) > 0);
	return path;
}

static char *write_file(const char *name, const char *text)
{
	char *path = tmp_path(name);
	FILE *f = fopen(path, "we");

	assert_non_null(f);
	assert_true(fputs(text, f) >= 0);
	assert_int_equal(fclose(f), 0);
	return path;
}

struct loaded {
	char *path;
	struct config *c;
	struct strv errors;
	int r;
};

static void load_text(const char *text, struct loaded *l)
{
	memset(l, 0, sizeof(*l));
	l->path = write_file("t.ini", text);
	l->c = (struct config *)l; /* must come back NULL on failure */
	l->r = config_load(l->path, &l->c, &l->errors);
}

static void unload(struct loaded *l)
{
	config_free(l->c);
	strv_clear(&l->errors);
	free(l->path);
}

static void print_errors(const struct strv *errors)
{
	for (size_t i = 0; i < errors->n; i++)
		print_message("    %s\n", errors->v[i]);
}

static void assert_error(const struct strv *errors, const char *want)
{
	for (size_t i = 0; i < errors->n; i++)
		if (strstr(errors->v[i], want))
			return;
	print_errors(errors);
	fail_msg("no error line contains \"%s\"", want);
}

static void assert_loaded(const struct loaded *l)
{
	if (l->r != 0 || l->errors.n != 0) {
		print_errors(&l->errors);
		fail_msg("config_load returned %d with %zu errors", l->r,
			 l->errors.n);
	}
	assert_non_null(l->c);
}

static void assert_double(double got, double want)
{
	if (fabs(got - want) > 1e-9)
		fail_msg("got %g, want %g", got, want);
}

static void assert_path(const char *got, const char *dir, const char *rel)
{
	char *want;

	assert_true(asprintf(&want, "%s/%s", dir, rel) > 0);
	assert_string_equal(got, want);
	free(want);
}

static void assert_languages(const struct config *c, const char *const *want)
{
	size_t n = 0;

	while (want[n])
		n++;
	assert_int_equal(c->languages.n, n);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(c->languages.v[i], want[i]);
	assert_null(c->languages.v[n]);
}

/* The defaults that the shipped file repeats. */
static void test_bool_spellings(void **state)
{
	static const struct {
		const char *text;
		bool want;
	} cases[] = {{"yes", true},    {"YES", true},  {"true", true},
		     {"on", true},     {"1", true},    {"no", false},
		     {"False", false}, {"off", false}, {"0", false}};
	char dir[] = "/tmp/bullhorn-bool-XXXXXX", path[64], text[128];

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/b.ini", dir);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct strv errors = {0};
		struct config *c = NULL;
		FILE *f = fopen(path, "we");

		assert_non_null(f);
		snprintf(text, sizeof(text),
			 "[playback]\nchime = %s\nspeak_language = %s\n",
			 cases[i].text, cases[i].text);
		fputs(text, f);
		fclose(f);
		assert_int_equal(config_load(path, &c, &errors), 0);
		assert_int_equal(c->chime, cases[i].want);
		assert_int_equal(c->speak_language, cases[i].want);
		config_free(c);
		strv_clear(&errors);
	}
	unlink(path);
	rmdir(dir);
}

static void check_default_values(const struct config *c)
{
	assert_string_equal(c->device, "default");
	assert_int_equal(c->rate, 48000);
	assert_int_equal(c->channels, 2);
	assert_int_equal(c->buffer_ms, 40);
	assert_int_equal(c->period_ms, 10);
	assert_double(c->target_lufs, -16);
	assert_double(c->highpass_hz, 150);
	assert_double(c->trim_db, -40);
	assert_double(c->trim_pad_ms, 150);
	assert_string_equal(c->record_device, "default");
	assert_double(c->record_max_s, 60);
	assert_double(c->ceiling_dbtp, -1);
	assert_double(c->gap_s, 1.5);
	assert_double(c->loop_limit_s, 600);
	assert_int_equal(c->volume, 80);
	assert_int_equal(c->max_volume, 100);
	assert_false(c->chime);
	assert_false(c->speak_language);
}

/* What a file that sets nothing gets, but for the paths. */
static void check_all_defaults(const struct config *c)
{
	static const char *const en[] = {"en", NULL};

	check_default_values(c);
	assert_languages(c, en);
	for (size_t i = 0; i < CONFIG_MAX_KEYS; i++)
		assert_null(c->keys[i]);
}

static void check_default_paths(const struct config *c, const char *dir)
{
	assert_path(c->library, dir, "../audio");
	assert_path(c->cache, dir, "../build/run/cache");
	if (c->recordings)
		assert_path(c->recordings, dir, "../build/run/recordings");
	assert_path(c->state, dir, "../build/run/state");
	assert_path(c->socket, dir, "../build/run/bullhorn.sock");
}

/* ---- files that load -------------------------------------------------- */

static void check_defaults(const struct config *c)
{
	check_all_defaults(c);
	check_default_paths(c, tmpdir);
}

static void check_low_bounds(const struct config *c)
{
	assert_int_equal(c->rate, 8000);
	assert_int_equal(c->channels, 1);
	assert_int_equal(c->buffer_ms, 10);
	assert_int_equal(c->period_ms, 2);
	assert_double(c->target_lufs, -40);
	assert_double(c->ceiling_dbtp, -20);
	assert_double(c->highpass_hz, 0);
	assert_double(c->trim_db, -80);
	assert_double(c->trim_pad_ms, 0);
	assert_double(c->record_max_s, 1);
	assert_double(c->gap_s, 0);
	assert_double(c->loop_limit_s, 0);
	assert_int_equal(c->volume, 0);
	assert_int_equal(c->max_volume, 1);
}

static void check_high_bounds(const struct config *c)
{
	assert_int_equal(c->rate, 192000);
	assert_int_equal(c->channels, 8);
	assert_int_equal(c->buffer_ms, 500);
	assert_int_equal(c->period_ms, 250);
	assert_double(c->target_lufs, -5);
	assert_double(c->ceiling_dbtp, 0);
	assert_double(c->highpass_hz, 1000);
	assert_double(c->trim_db, 0);
	assert_double(c->trim_pad_ms, 2000);
	assert_double(c->record_max_s, 600);
	assert_string_equal(c->record_device, "plughw:1,0");
	assert_double(c->gap_s, 60);
	assert_double(c->loop_limit_s, 86400);
	assert_int_equal(c->volume, 100);
	assert_int_equal(c->max_volume, 100);
}

static void check_loop_limit_10(const struct config *c)
{
	assert_double(c->loop_limit_s, 10);
}

static void check_layout(const struct config *c)
{
	assert_int_equal(c->rate, 44100);
	assert_int_equal(c->channels, 1);
	assert_int_equal(c->buffer_ms, 20);
	assert_string_equal(c->device, "plughw:1,0");
}

static void check_languages(const struct config *c)
{
	static const char *const want[] = {"en", "es", "fr", "zh-cmn", NULL};

	assert_languages(c, want);
}

static void check_one_language(const struct config *c)
{
	static const char *const want[] = {"ht", NULL};

	assert_languages(c, want);
}

static void check_period_follows_buffer(const struct config *c)
{
	assert_int_equal(c->buffer_ms, 100);
	assert_int_equal(c->period_ms, 25);
}

static void check_period_half(const struct config *c)
{
	assert_int_equal(c->period_ms, 50);
}

static void check_volume_at_max(const struct config *c)
{
	assert_int_equal(c->volume, 70);
	assert_int_equal(c->max_volume, 70);
}

static void check_keys(const struct config *c)
{
	assert_string_equal(c->keys[0], "stop");
	assert_string_equal(c->keys[7], "volume +10");
	assert_string_equal(c->keys[8], "loop door es");
	assert_null(c->keys[1]);
}

static void check_kit(const struct config *c)
{
	const struct config_button *b = &c->buttons[0];
	const struct config_remote *r = &c->remotes[0];

	assert_int_equal(c->nbuttons, 2);
	assert_string_equal(b->name, "rights");
	assert_null(b->gpio.chip);
	assert_string_equal(b->gpio.line, "GPIO17");
	assert_true(b->gpio.active_low);
	assert_int_equal(b->gpio.bias, GPIO_BIAS_PULL_UP);
	assert_string_equal(b->press, "play rights");
	assert_string_equal(b->hold, "play rights all");
	assert_int_equal(b->hold_ms, 1500);
	assert_int_equal(b->debounce_ms, 30);
	assert_int_equal(b->at, 1);
	b = &c->buttons[1];
	assert_string_equal(b->name, "stop");
	assert_string_equal(b->gpio.chip, "gpiochip2");
	assert_string_equal(b->gpio.line, "5");
	assert_false(b->gpio.active_low);
	assert_int_equal(b->gpio.bias, GPIO_BIAS_NONE);
	assert_null(b->hold);
	assert_int_equal(b->debounce_ms, 0);
	assert_string_equal(c->led.line, "GPIO24");
	assert_false(c->led.active_low);
	assert_string_equal(c->amp.line, "GPIO25");
	assert_true(c->amp.active_low);
	assert_int_equal(c->amp_warmup_ms, 200);
	assert_true(c->amp_idle_off_s == 0);
	assert_int_equal(c->nremotes, 1);
	assert_string_equal(r->name, "clicker");
	assert_string_equal(r->device, "/dev/input/by-id/usb-x-event-kbd");
	assert_int_equal(r->nkeys, 2);
	assert_int_equal(r->keys[0].code, 109); /* KEY_PAGEDOWN */
	assert_string_equal(r->keys[0].press, "play rights");
	assert_string_equal(r->keys[0].hold, "loop rights all");
	assert_int_equal(r->keys[1].code, 28); /* given as a number */
	assert_string_equal(r->keys[1].press, "stop");
	assert_null(r->keys[1].hold);
	assert_int_equal(r->hold_ms, 800);
}

static void check_no_kit(const struct config *c)
{
	assert_int_equal(c->nbuttons, 0);
	assert_int_equal(c->nremotes, 0);
	assert_null(c->led.line);
	assert_null(c->amp.line);
	assert_int_equal(c->amp_warmup_ms, 150);
	assert_true(c->amp_idle_off_s == 60);
}

static void check_absolute_paths(const struct config *c)
{
	assert_string_equal(c->library, "/srv/bullhorn/audio");
	assert_string_equal(c->cache, "/var/cache/bullhorn");
	assert_string_equal(c->state, "/var/lib/bullhorn/state");
	assert_string_equal(c->socket, "/run/bullhorn/bullhorn.sock");
}

static void check_relative_paths(const struct config *c)
{
	assert_path(c->library, tmpdir, "lib");
	assert_path(c->cache, tmpdir, "./cache dir");
	assert_path(c->state, tmpdir, "../state");
	assert_path(c->socket, tmpdir, "run/b.sock");
}

struct good_case {
	const char *name;
	const char *ini;
	void (*check)(const struct config *c);
};

static const struct good_case good_cases[] = {
    {"empty file gives defaults", "", check_defaults},
    {"only comments and headers give defaults",
     "# a comment\n; another\n\n[audio]\n[paths]\n[keys]\n", check_defaults},
    {"lowest allowed values",
     "[audio]\nrate = 8000\nchannels = 1\nbuffer_ms = 10\nperiod_ms = 2\n"
     "[loudness]\ntarget_lufs = -40\nceiling_dbtp = -20\n"
     "highpass_hz = 0\ntrim_db = -80\ntrim_pad_ms = 0\n"
     "[playback]\ngap_s = 0\nloop_limit_s = 0\nvolume = 0\n"
     "max_volume = 1\n[record]\nmax_s = 1\n",
     check_low_bounds},
    {"highest allowed values",
     "[audio]\nrate = 192000\nchannels = 8\nbuffer_ms = 500\n"
     "period_ms = 250\n[loudness]\ntarget_lufs = -5\nceiling_dbtp = 0\n"
     "highpass_hz = 1000\ntrim_db = 0\ntrim_pad_ms = 2000\n"
     "[playback]\ngap_s = 60\nloop_limit_s = 86400\nvolume = 100\n"
     "max_volume = 100\n[record]\nmax_s = 600\ndevice = plughw:1,0\n",
     check_high_bounds},
    {"loop_limit_s at 10", "[playback]\nloop_limit_s = 10.0\n",
     check_loop_limit_10},
    /* BOM, CRLF, indentation (not a continuation line), ':' separator,
     * an inline ';' comment, a repeated section header. */
    {"layout variants",
     "\xef\xbb\xbf[audio]\r\n  rate = 44100 ; CD rate\r\n\tchannels:1\r\n"
     "[playback]\n[audio]\n   buffer_ms=20\ndevice = plughw:1,0\n",
     check_layout},
    {"languages by commas and blanks",
     "[playback]\nlanguages = en,es  fr ,\tzh-cmn\n", check_languages},
    {"one language", "[playback]\nlanguages = ht\n", check_one_language},
    {"period_ms defaults to a quarter of buffer_ms",
     "[audio]\nbuffer_ms = 100\n", check_period_follows_buffer},
    {"period_ms at half of buffer_ms",
     "[audio]\nperiod_ms = 50\nbuffer_ms = 100\n", check_period_half},
    {"volume equal to max_volume", "[playback]\nmax_volume = 70\nvolume = 70\n",
     check_volume_at_max},
    {"keys", "[keys]\n0 = stop\n7 = volume +10\n8 = loop door es\n",
     check_keys},
    {"kit sections",
     "[button rights]\nline = GPIO17\npress = play rights\n"
     "hold = play rights all\nhold_ms = 1500\n"
     "[button stop]\nchip = gpiochip2\nline = 5\nactive = high\n"
     "bias = none\ndebounce_ms = 0\npress = stop\n"
     "[led]\nline = GPIO24\n[amp]\nline = GPIO25\nactive = low\n"
     "warmup_ms = 200\nidle_off_s = 0\n"
     "[remote clicker]\ndevice = /dev/input/by-id/usb-x-event-kbd\n"
     "KEY_PAGEDOWN = play rights\nhold KEY_PAGEDOWN = loop rights all\n"
     "28 = stop\nhold_ms = 800\n",
     check_kit},
    {"no kit sections", "[audio]\n", check_no_kit},
    {"absolute paths",
     "[paths]\nlibrary = /srv/bullhorn/audio\ncache = /var/cache/bullhorn\n"
     "state = /var/lib/bullhorn/state\n"
     "socket = /run/bullhorn/bullhorn.sock\n",
     check_absolute_paths},
    {"relative paths",
     "[paths]\nlibrary = lib\ncache = ./cache dir\nstate = ../state\n"
     "socket = run/b.sock\n",
     check_relative_paths},
};

static void test_good(void **state)
{
	const struct good_case *g = *state;
	struct loaded l;

	load_text(g->ini, &l);
	assert_loaded(&l);
	assert_string_equal(l.c->path, l.path);
	g->check(l.c);
	unload(&l);
}

/* ---- files that must fail --------------------------------------------- */

struct bad_case {
	const char *name;
	const char *ini;
	size_t n_errors;
	const char *want[7]; /* each in some error line */
};

#define AUDIO_KEYS "device, rate, channels, buffer_ms, period_ms"
#define PLAYBACK_KEYS                                                          \
	"languages, gap_s, loop_limit_s, chime, speak_language, volume, "      \
	"max_volume"
#define SECTIONS                                                               \
	"[audio], [paths], [loudness], [playback], [record], [keys], "         \
	"[button NAME], [remote NAME], [led], [amp]"

static const struct bad_case bad_cases[] = {
    /* Whole-value number parsing. */
    {"rate with trailing junk",
     "[audio]\nrate = 48000x\n",
     1,
     {"/t.ini:2: [audio] rate: '48000x' is not a whole number; allowed: "
      "8000 to 192000 Hz"}},
    {"rate with a fraction",
     "[audio]\nrate = 48000.5\n",
     1,
     {"/t.ini:2: [audio] rate: '48000.5' is not a whole number"}},
    {"channels in hex",
     "[audio]\nchannels = 0x2\n",
     1,
     {"/t.ini:2: [audio] channels: '0x2' is not a whole number; "
      "allowed: 1 to 8"}},
    {"period_ms is a word",
     "[audio]\nperiod_ms = ten\n",
     1,
     {"/t.ini:2: [audio] period_ms: 'ten' is not a whole number; "
      "allowed: 2 ms to half of buffer_ms"}},
    {"gap_s with a unit",
     "[playback]\ngap_s = 1.5s\n",
     1,
     {"/t.ini:2: [playback] gap_s: '1.5s' is not a number; allowed: 0 "
      "to 60 s"}},
    {"chime not a yes or no",
     "[playback]\nchime = maybe\n",
     1,
     {"/t.ini:2: [playback] chime: 'maybe' is not yes or no; allowed: yes "
      "or no"}},
    {"speak_language empty-ish",
     "[playback]\nspeak_language = 2\n",
     1,
     {"/t.ini:2: [playback] speak_language: '2' is not yes or no"}},
    {"target_lufs nan",
     "[loudness]\ntarget_lufs = nan\n",
     1,
     {"/t.ini:2: [loudness] target_lufs: 'nan' is not a number"}},
    {"volume with a comma",
     "[playback]\nvolume = 8,0\n",
     1,
     {"/t.ini:2: [playback] volume: '8,0' is not a whole number"}},
    /* Empty values. */
    {"empty device",
     "[audio]\ndevice =\n",
     1,
     {"/t.ini:2: [audio] device: empty value; allowed: an ALSA PCM name"}},
    {"empty rate",
     "[audio]\nrate = \n",
     1,
     {"/t.ini:2: [audio] rate: empty value; allowed: 8000 to 192000 Hz"}},
    {"empty path",
     "[paths]\nlibrary =\n",
     1,
     {"/t.ini:2: [paths] library: empty value; allowed: a folder"}},
    {"empty key action",
     "[keys]\n1 =\n",
     1,
     {"/t.ini:2: [keys] 1: empty value; allowed: play MESSAGE "
      "[LANGUAGE|all]"}},
    /* Unknown names. */
    {"unknown key with suggestion",
     "[audio]\nbufer_ms = 40\n",
     1,
     {"/t.ini:2: [audio] bufer_ms: unknown key (did you mean "
      "'buffer_ms'?); allowed: " AUDIO_KEYS}},
    {"unknown key three edits away gets a suggestion",
     "[audio]\nbuf_ms = 40\n",
     1,
     {"/t.ini:2: [audio] buf_ms: unknown key (did you mean 'buffer_ms'?)"}},
    {"unknown key four edits away gets none",
     "[audio]\nbufms = 40\n",
     1,
     {"/t.ini:2: [audio] bufms: unknown key; allowed: " AUDIO_KEYS}},
    {"one-letter key gets no suggestion",
     "[audio]\nr = 40\n",
     1,
     {"/t.ini:2: [audio] r: unknown key; allowed: " AUDIO_KEYS}},
    {"unknown key with another case",
     "[playback]\nVolume = 50\n",
     1,
     {"/t.ini:2: [playback] Volume: unknown key (did you mean "
      "'volume'?)"}},
    {"unknown key without suggestion",
     "[audio]\n\nloudness_war = yes\n",
     1,
     {"/t.ini:3: [audio] loudness_war: unknown key; allowed: " AUDIO_KEYS}},
    {"key in the wrong section",
     "[playback]\nrate = 48000\n",
     1,
     {"/t.ini:2: [playback] rate: this key belongs in [audio]; allowed "
      "here: " PLAYBACK_KEYS}},
    {"key before any section",
     "volume = 50\n[playback]\n",
     1,
     {"/t.ini:1: volume: key outside any section; allowed: under "
      "[playback]"}},
    {"unknown key before any section",
     "colour = red\n",
     1,
     {"/t.ini:1: colour: key outside any section; allowed: under " SECTIONS}},
    {"unknown section with suggestion, its keys ignored",
     "[audoi]\nrate = 1\nfoo = 2\n[audio]\nrate = 44100\n",
     1,
     {"/t.ini:1: [audoi]: unknown section (did you mean [audio]?); "
      "allowed: " SECTIONS}},
    {"unknown section without suggestion",
     "[buttons]\nrate = 1\n",
     1,
     {"/t.ini:1: [buttons]: unknown section; allowed: " SECTIONS}},
    {"section without closing bracket, its keys ignored",
     "[audio]\nrate = 44100\n[playback\nrate = 2\n",
     1,
     {"/t.ini:3: [playback: no closing ']'; allowed: " SECTIONS}},
    {"line without '='",
     "[audio]\nrate 48000\n",
     1,
     {"/t.ini:2: 'rate 48000' is not a setting; allowed: 'key = value'"}},
    /* Keys set twice, also across two headers of one section. */
    {"duplicate key",
     "[audio]\nrate = 48000\n\nrate = 44100\n",
     1,
     {"/t.ini:4: [audio] rate: set twice, first at line 2; allowed: "
      "once"}},
    {"duplicate key across repeated section",
     "[audio]\nchannels = 2\n[paths]\n[audio]\nchannels = 1\n",
     1,
     {"/t.ini:5: [audio] channels: set twice, first at line 2"}},
    {"duplicate digit key",
     "[keys]\n1 = stop\n1 = play rights\n",
     1,
     {"/t.ini:3: [keys] 1: set twice, first at line 2"}},
    /* Languages. */
    {"duplicate language",
     "[playback]\nlanguages = en, es, en\n",
     1,
     {"/t.ini:2: [playback] languages: 'en' is listed twice; allowed: "
      "language tags"}},
    {"invalid language tags, each reported",
     "[playback]\nlanguages = en e_s, -fr all\n",
     3,
     {"/t.ini:2: [playback] languages: 'e_s' is not a language tag",
      "/t.ini:2: [playback] languages: '-fr' is not a language tag",
      "/t.ini:2: [playback] languages: 'all' is not a language tag"}},
    {"no language",
     "[playback]\nlanguages = , ,\n",
     1,
     {"/t.ini:2: [playback] languages: no language given"}},
    /* Cross-field checks. */
    {"volume above max_volume",
     "[playback]\nvolume = 90\nmax_volume = 70\n",
     1,
     {"/t.ini:2: [playback] volume: '90' is above max_volume 70; "
      "allowed: 0 to max_volume"}},
    {"max_volume below the default volume",
     "[playback]\n\nmax_volume = 50\n",
     1,
     {"/t.ini:3: [playback] max_volume: '50' is below the default volume "
      "80"}},
    {"period_ms above half of buffer_ms",
     "[audio]\nperiod_ms = 51\nbuffer_ms = 100\n",
     1,
     {"/t.ini:2: [audio] period_ms: '51' is out of range; allowed: 2 to "
      "50 ms (half of buffer_ms 100)"}},
    {"period_ms not checked against a wrong buffer_ms",
     "[audio]\nbuffer_ms = 5\nperiod_ms = 100\n",
     1,
     {"/t.ini:2: [audio] buffer_ms: '5' is out of range"}},
    /* [keys]. */
    {"unknown action",
     "[keys]\n1 = dance\n",
     1,
     {"/t.ini:2: [keys] 1: unknown action 'dance'; expected play, loop, "
      "stop, next-language or volume; allowed: play MESSAGE"}},
    {"bad message name in action",
     "[keys]\n2 = play Rights\n",
     1,
     {"/t.ini:2: [keys] 2: 'Rights' is not a message name"}},
    {"bad volume in action",
     "[keys]\n3 = volume +200\n",
     1,
     {"/t.ini:2: [keys] 3: '+200' is not a volume step"}},
    {"key name 10",
     "[keys]\n10 = stop\n",
     1,
     {"/t.ini:2: [keys] 10: unknown key; allowed: 0, 1, 2, 3, 4, 5, 6, 7, 8, "
      "9"}},
    {"key name +",
     "[keys]\n+ = volume +5\n",
     1,
     {"/t.ini:2: [keys] +: unknown key; allowed: 0, 1, 2, 3, 4, 5, 6, 7, 8, "
      "9"}},
    {"setting under [keys]",
     "[keys]\nvolume = 5\n",
     1,
     {"/t.ini:2: [keys] volume: this key belongs in [playback]; allowed "
      "here: 0, 1, 2, 3, 4, 5, 6, 7, 8, 9"}},
    /* Everything at once: every mistake, each at its line. */
    {"many mistakes reported together",
     "[audio]\n"	    /* 1 */
     "rate = 4400\n"	    /* 2 */
     "bufer_ms = 40\n"	    /* 3 */
     "[playback]\n"	    /* 4 */
     "rate = 48000\n"	    /* 5 */
     "volume = 90\n"	    /* 6 */
     "max_volume = 70\n"    /* 7 */
     "languages = en, en\n" /* 8 */
     "[keys]\n"		    /* 9 */
     "1 = dance\n"	    /* 10 */
     "[keyz]\n"		    /* 11 */
     "2 = stop\n",	    /* 12 */
     7,
     {"/t.ini:2: [audio] rate: '4400' is out of range; allowed: 8000 to "
      "192000 Hz",
      "/t.ini:3: [audio] bufer_ms: unknown key (did you mean "
      "'buffer_ms'?)",
      "/t.ini:5: [playback] rate: this key belongs in [audio]",
      "/t.ini:6: [playback] volume: '90' is above max_volume 70",
      "/t.ini:8: [playback] languages: 'en' is listed twice",
      "/t.ini:10: [keys] 1: unknown action 'dance'",
      "/t.ini:11: [keyz]: unknown section (did you mean [keys]?)"}},
    /* The kit's sections. */
    {"button without line or press",
     "[button rights]\nhold = stop\n",
     2,
     {"/t.ini:1: [button rights]: no line given; allowed: line = GPIO17",
      "/t.ini:1: [button rights]: no press action; allowed: press = one "
      "of play MESSAGE"}},
    {"button line offset without chip",
     "[button a]\nline = 17\npress = stop\n",
     1,
     {"/t.ini:2: [button a] line: '17' is an offset but no chip is given; "
      "allowed: a line name such as GPIO17, or chip = gpiochip0 with line "
      "= 17"}},
    {"button bad values",
     "[button a]\nline = GPIO 17\nactive = down\nbias = up\n"
     "debounce_ms = 2000\nhold_ms = 50\npress = dance\ncolour = red\n",
     7,
     {"/t.ini:2: [button a] line: 'GPIO 17' is not a line or chip name",
      "/t.ini:3: [button a] active: 'down' is not low or high; allowed: "
      "low",
      "/t.ini:4: [button a] bias: 'up' is not a bias; allowed: pull-up",
      "/t.ini:5: [button a] debounce_ms: '2000' is out of range; "
      "allowed: 0 to 1000 ms",
      "/t.ini:6: [button a] hold_ms: '50' is out of range; allowed: 100 "
      "to 60000 ms",
      "/t.ini:7: [button a] press: unknown action 'dance'",
      "/t.ini:8: [button a] colour: unknown key; allowed: line, chip, "
      "press"}},
    {"two buttons on one line, LED on a button's line",
     "[button a]\nline = GPIO17\npress = stop\n"
     "[button b]\npress = stop\nline = GPIO17\n"
     "[led]\nline = GPIO17\n",
     2,
     {"/t.ini:6: [button b] line: 'GPIO17' is already used by [button a] "
      "at line 2; allowed: a line of its own",
      "/t.ini:8: [led] line: 'GPIO17' is already used by [button a] at "
      "line 2"}},
    {"same offset on different chips is fine, same chip is not",
     "[button a]\nchip = gpiochip0\nline = 3\npress = stop\n"
     "[button b]\nchip = gpiochip1\nline = 3\npress = stop\n"
     "[button c]\nchip = gpiochip1\nline = 3\npress = stop\n",
     1,
     {"/t.ini:11: [button c] line: '3' is already used by [button b]"}},
    {"bad and repeated section names, keys repeated",
     "[button Rights]\nline = GPIO1\n[button a]\nline = GPIO2\n"
     "press = stop\nline = GPIO3\n[button a]\n[led]\n[led]\n",
     5,
     {"/t.ini:1: [button Rights]: 'Rights' is not a button name",
      "/t.ini:6: line: set twice in this section, first at line 4",
      "/t.ini:7: [button a]: section given twice, first at line 3",
      "/t.ini:8: [led]: no line given",
      "/t.ini:9: [led]: section given twice, first at line 8"}},
    {"amp and led bad keys",
     "[amp]\nline = GPIO25\nidle_off_s = 0.5\nwarmup_ms = 9000\n"
     "bias = none\n[led]\nline = GPIO24\nblink = fast\n",
     4,
     {"/t.ini:3: [amp] idle_off_s: '0.5' is out of range; allowed: 0 "
      "(never) or 1 to 86400 s",
      "/t.ini:4: [amp] warmup_ms: '9000' is out of range; allowed: 0 to "
      "5000 ms",
      "/t.ini:5: [amp] bias: unknown key; allowed: line, chip, active, "
      "warmup_ms, idle_off_s",
      "/t.ini:8: [led] blink: unknown key; allowed: line, chip, active"}},
    {"remote mistakes",
     "[remote clicker]\nKEY_PAGEDWN = stop\nKEY_A = stop\nKEY_A = stop\n"
     "hold KEY_B = dance\n[remote empty]\n",
     6,
     {"/t.ini:2: [remote clicker] KEY_PAGEDWN: unknown key; allowed: "
      "device",
      "/t.ini:4: KEY_A: set twice in this section, first at line 3",
      "/t.ini:5: [remote clicker] hold KEY_B: unknown action 'dance'",
      "/t.ini:1: [remote clicker]: no device given; allowed: device = "
      "/dev/input/by-id/",
      "/t.ini:6: [remote empty]: no device given"}},
};

static void assert_failed(const struct loaded *l, size_t n_errors)
{
	assert_int_equal(l->r, -EINVAL);
	assert_null(l->c);
	if (l->errors.n != n_errors) {
		print_errors(&l->errors);
		fail_msg("%zu error lines, want %zu", l->errors.n, n_errors);
	}
	for (size_t i = 0; i < l->errors.n; i++)
		if (strncmp(l->errors.v[i], l->path, strlen(l->path)) != 0)
			fail_msg("'%s' does not start with the file name",
				 l->errors.v[i]);
}

static void test_bad(void **state)
{
	const struct bad_case *b = *state;
	struct loaded l;

	load_text(b->ini, &l);
	assert_failed(&l, b->n_errors);
	for (size_t i = 0; i < ARRAY_SIZE(b->want) && b->want[i]; i++)
		assert_error(&l.errors, b->want[i]);
	unload(&l);
}

/* ---- every numeric key, just below and just above its range ----------- */

struct range_case {
	const char *section, *key, *value, *allowed;
};

static const struct range_case range_cases[] = {
    {"audio", "rate", "7999", "8000 to 192000 Hz"},
    {"audio", "rate", "192001", "8000 to 192000 Hz"},
    {"audio", "channels", "0", "1 to 8"},
    {"audio", "channels", "9", "1 to 8"},
    {"audio", "buffer_ms", "9", "10 to 500 ms"},
    {"audio", "buffer_ms", "501", "10 to 500 ms"},
    {"audio", "period_ms", "1", "2 to 10 ms (half of buffer_ms 20)"},
    {"audio", "period_ms", "11", "2 to 10 ms (half of buffer_ms 20)"},
    {"loudness", "target_lufs", "-40.5", "-40 to -5 LUFS"},
    {"loudness", "target_lufs", "-4.9", "-40 to -5 LUFS"},
    {"loudness", "ceiling_dbtp", "-20.1", "-20 to 0 dBTP"},
    {"loudness", "ceiling_dbtp", "0.1", "-20 to 0 dBTP"},
    {"loudness", "highpass_hz", "-1", "0 (off) or 20 to 1000 Hz"},
    {"loudness", "highpass_hz", "19.9", "0 (off) or 20 to 1000 Hz"},
    {"loudness", "highpass_hz", "1000.1", "0 (off) or 20 to 1000 Hz"},
    {"loudness", "trim_db", "-80.1", "-80 to 0 dB (0: no trimming)"},
    {"loudness", "trim_db", "0.1", "-80 to 0 dB (0: no trimming)"},
    {"loudness", "trim_pad_ms", "-1", "0 to 2000 ms"},
    {"loudness", "trim_pad_ms", "2000.5", "0 to 2000 ms"},
    {"record", "max_s", "0.9", "1 to 600 s"},
    {"record", "max_s", "601", "1 to 600 s"},
    {"playback", "gap_s", "-0.1", "0 to 60 s"},
    {"playback", "gap_s", "60.01", "0 to 60 s"},
    {"playback", "loop_limit_s", "-1", "0 (no limit) or 10 to 86400 s"},
    {"playback", "loop_limit_s", "9.9", "0 (no limit) or 10 to 86400 s"},
    {"playback", "loop_limit_s", "86401", "0 (no limit) or 10 to 86400 s"},
    {"playback", "volume", "-1", "0 to 100"},
    {"playback", "volume", "101", "0 to 100"},
    {"playback", "max_volume", "0", "1 to 100"},
    {"playback", "max_volume", "101", "1 to 100"},
};

static void test_range(void **state)
{
	const struct range_case *rc = *state;
	char ini[256], want[256];
	struct loaded l;

	/* buffer_ms = 20 gives period_ms a bound to break; the value under
	 * test is on line 6, after a comment, a blank and a second header. */
	snprintf(ini, sizeof(ini), "# range\n[audio]\n%s\n\n[%s]\n%s = %s\n",
		 strcmp(rc->key, "buffer_ms") ? "buffer_ms = 20"
					      : "rate = 48000",
		 rc->section, rc->key, rc->value);
	snprintf(want, sizeof(want),
		 "/t.ini:6: [%s] %s: '%s' is out of range; allowed: %s",
		 rc->section, rc->key, rc->value, rc->allowed);
	load_text(ini, &l);
	assert_failed(&l, 1);
	assert_error(&l.errors, want);
	unload(&l);
}

/* ---- the shipped file, defaults, paths -------------------------------- */

static void test_shipped(void **state)
{
	static const char *const langs[] = {"en", "es", NULL};
	static const char *const keys[] = {
	    "device",	   "rate",    "channels",	"buffer_ms",
	    "#period_ms",  "library", "cache",		"state",
	    "recordings",  "socket",  "target_lufs",	"ceiling_dbtp",
	    "languages",   "gap_s",   "loop_limit_s",	"volume",
	    "max_volume",  "rewind",  "highpass_hz",	"trim_db",
	    "trim_pad_ms", "chime",   "speak_language", "max_s"};
	struct strv errors = {0};
	struct config *c = NULL;
	char *cwd = getcwd(NULL, 0), *dir, *text;
	size_t len;
	int r;

	(void)state;
	r = config_load("config/bullhorn.ini", &c, &errors);
	print_errors(&errors);
	assert_int_equal(r, 0);
	assert_int_equal(errors.n, 0);
	assert_string_equal(c->path, "config/bullhorn.ini");
	check_default_values(c);
	assert_languages(c, langs);
	assert_true(asprintf(&dir, "%s/config", cwd) > 0);
	check_default_paths(c, dir);
	assert_string_equal(c->keys[0], "stop");
	assert_string_equal(c->keys[1], "play rights");
	assert_string_equal(c->keys[2], "play door");
	assert_string_equal(c->keys[3], "play silent");
	assert_string_equal(c->keys[4], "play rights all");
	assert_string_equal(c->keys[5], "loop rights all");
	assert_string_equal(c->keys[9], "next-language");
	assert_null(c->keys[6]);
	assert_null(c->keys[7]);
	assert_null(c->keys[8]);
	/* The wiring docs/wiring.md describes. */
	assert_int_equal(c->nbuttons, 4);
	for (size_t i = 0; i < 4; i++) {
		static const char *const names[] = {"rights", "door", "stop",
						    "language"};
		static const char *const lines[] = {"GPIO17", "GPIO27",
						    "GPIO22", "GPIO23"};

		assert_string_equal(c->buttons[i].name, names[i]);
		assert_string_equal(c->buttons[i].gpio.line, lines[i]);
		assert_null(c->buttons[i].gpio.chip);
		assert_true(c->buttons[i].gpio.active_low);
	}
	assert_string_equal(c->buttons[0].hold, "play rights all");
	assert_string_equal(c->led.line, "GPIO24");
	assert_string_equal(c->amp.line, "GPIO25");
	assert_int_equal(c->nremotes, 0);

	/* Every key is written out for the technician, and `make install`
	 * finds the [paths] lines it rewrites ("^library = " and so on). */
	assert_int_equal(read_file("config/bullhorn.ini", &text, &len, 1 << 20),
			 0);
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		char needle[64];

		snprintf(needle, sizeof(needle), "\n%s = ", keys[i]);
		if (!strstr(text, needle))
			fail_msg("config/bullhorn.ini has no line '%s'",
				 needle + 1);
	}
	/* inih would cut a value at " ;"; the shipped file keeps its
	 * comments on lines of their own. */
	for (char *line = text; line; line = strchr(line, '\n')) {
		line += *line == '\n';
		if (*line != '#' && *line != ';' &&
		    strcspn(line, ";\n") < strcspn(line, "\n"))
			fail_msg("inline comment in config/bullhorn.ini: %.40s",
				 line);
	}
	free(text);
	free(dir);
	free(cwd);
	config_free(c);
	strv_clear(&errors);
}

static void test_new_default(void **state)
{
	struct config *c = config_new_default("/opt/kit/etc");
	char *cwd = getcwd(NULL, 0);

	(void)state;
	assert_non_null(c);
	check_all_defaults(c);
	check_default_paths(c, "/opt/kit/etc");
	assert_null(c->path);
	config_free(c);

	c = config_new_default(NULL);
	assert_non_null(c);
	check_default_paths(c, cwd);
	config_free(c);

	/* A relative folder is made absolute against the current one. */
	c = config_new_default("kit");
	assert_non_null(c);
	assert_true(strncmp(c->library, cwd, strlen(cwd)) == 0);
	assert_string_equal(c->library + strlen(cwd), "/kit/../audio");
	config_free(c);
	free(cwd);
}

/* A file named without a folder is relative to the current folder. */
static void test_bare_file_name(void **state)
{
	int here = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct strv errors = {0};
	struct config *c = NULL;
	char *path;

	(void)state;
	assert_true(here >= 0);
	path = write_file("bare.ini", "[paths]\nlibrary = lib\n");
	assert_int_equal(chdir(tmpdir), 0);
	assert_int_equal(config_load("bare.ini", &c, &errors), 0);
	assert_int_equal(fchdir(here), 0);
	close(here);
	assert_path(c->library, tmpdir, "lib");
	assert_path(c->cache, tmpdir, "../build/run/cache");
	config_free(c);
	strv_clear(&errors);
	free(path);
}

/* The file's folder, not the current one, anchors relative paths. */
static void test_paths_in_subfolder(void **state)
{
	struct strv errors = {0};
	struct config *c = NULL;
	char *sub = tmp_path("etc"), *path;

	(void)state;
	assert_true(mkdir(sub, 0700) == 0 || errno == EEXIST);
	path = write_file("etc/b.ini", "[paths]\nlibrary = sounds\n"
				       "state = /abs/state\n");
	assert_int_equal(config_load(path, &c, &errors), 0);
	assert_path(c->library, sub, "sounds");
	assert_string_equal(c->state, "/abs/state");
	assert_path(c->socket, sub, "../build/run/bullhorn.sock");
	config_free(c);
	strv_clear(&errors);
	free(path);
	free(sub);
}

static void test_socket_length(void **state)
{
	char sock[200], ini[300], want[300];
	struct loaded l;

	(void)state;
	/* 107 bytes fit sun_path with its NUL, 108 do not. */
	memset(sock, 'a', sizeof(sock));
	sock[0] = '/';
	sock[107] = '\0';
	snprintf(ini, sizeof(ini), "[paths]\nsocket = %s\n", sock);
	load_text(ini, &l);
	assert_loaded(&l);
	assert_string_equal(l.c->socket, sock);
	unload(&l);

	sock[107] = 'a';
	sock[108] = '\0';
	snprintf(ini, sizeof(ini), "[paths]\n\nsocket = %s\n", sock);
	snprintf(want, sizeof(want),
		 "/t.ini:3: [paths] socket: '%s' is 108 bytes once resolved; "
		 "allowed: a file path",
		 sock);
	load_text(ini, &l);
	assert_failed(&l, 1);
	assert_error(&l.errors, want);
	unload(&l);
}

/* An unset socket that resolves too long has no line to name. */
static void test_default_socket_too_long(void **state)
{
	char name[120], *path, *want;
	struct loaded l = {0};

	(void)state;
	memset(name, 'd', 100);
	name[100] = '\0';
	path = tmp_path(name);
	assert_true(mkdir(path, 0700) == 0 || errno == EEXIST);
	free(path);
	strcat(name, "/t.ini");
	l.path = write_file(name, "[audio]\n");
	l.r = config_load(l.path, &l.c, &l.errors);
	assert_failed(&l, 1);
	assert_true(asprintf(&want, "%s: [paths] socket: '", l.path) > 0);
	assert_error(&l.errors, want);
	free(want);
	unload(&l);
}

static void test_long_line(void **state)
{
	char ini[600];
	struct loaded l;

	(void)state;
	memset(ini, 0, sizeof(ini));
	strcpy(ini, "[audio]\ndevice = ");
	memset(ini + strlen(ini), 'x', 400);
	strcat(ini, "\nrate = 1\n");
	load_text(ini, &l);
	assert_failed(&l, 2);
	assert_error(&l.errors, "/t.ini:2: line is over ");
	/* Lines after the long one keep their numbers. */
	assert_error(&l.errors, "/t.ini:3: [audio] rate: '1' is out of range");
	unload(&l);
}

static void test_unreadable(void **state)
{
	struct strv errors = {0};
	struct config *c = NULL;
	char *missing = tmp_path("missing.ini"), *want;

	(void)state;
	assert_int_equal(config_load(missing, &c, &errors), -ENOENT);
	assert_null(c);
	assert_int_equal(errors.n, 1);
	assert_true(asprintf(&want,
			     "%s: cannot read the config file: No such file "
			     "or directory; check the path given with --config",
			     missing) > 0);
	assert_true(strncmp(errors.v[0], want, strlen(want)) == 0);
	free(want);
	strv_clear(&errors);

	/* A folder opens but cannot be read. */
	assert_int_equal(config_load(tmpdir, &c, &errors), -EISDIR);
	assert_null(c);
	assert_int_equal(errors.n, 1);
	assert_true(asprintf(&want,
			     "%s: cannot read the config file: Is a "
			     "directory",
			     tmpdir) > 0);
	assert_true(strncmp(errors.v[0], want, strlen(want)) == 0);
	free(want);
	strv_clear(&errors);
	free(missing);
}

static void test_unreadable_permission(void **state)
{
	struct strv errors = {0};
	struct config *c = NULL;
	char *path;

	(void)state;
	if (geteuid() == 0)
		skip(); /* root reads any file */
	path = write_file("secret.ini", "[audio]\n");
	assert_int_equal(chmod(path, 0), 0);
	assert_int_equal(config_load(path, &c, &errors), -EACCES);
	assert_int_equal(errors.n, 1);
	assert_non_null(strstr(errors.v[0], "Permission denied"));
	strv_clear(&errors);
	free(path);
}

static void test_free_null(void **state)
{
	(void)state;
	config_free(NULL);
}

/* ---- runner ----------------------------------------------------------- */

static int rm_entry(const char *path, const struct stat *st, int flag,
		    struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int setup(void **state)
{
	(void)state;
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	return nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* One cmocka test per table row, reported under the row's name. */
static struct CMUnitTest row_test(const char *name, CMUnitTestFunction fn,
				  const void *row)
{
	return (struct CMUnitTest){name, fn, NULL, NULL, (void *)row};
}

int main(void)
{
	static const struct CMUnitTest fixed[] = {
	    cmocka_unit_test(test_shipped),
	    cmocka_unit_test(test_new_default),
	    cmocka_unit_test(test_bool_spellings),
	    cmocka_unit_test(test_bare_file_name),
	    cmocka_unit_test(test_paths_in_subfolder),
	    cmocka_unit_test(test_socket_length),
	    cmocka_unit_test(test_default_socket_too_long),
	    cmocka_unit_test(test_long_line),
	    cmocka_unit_test(test_unreadable),
	    cmocka_unit_test(test_unreadable_permission),
	    cmocka_unit_test(test_free_null),
	};
	static char range_names[ARRAY_SIZE(range_cases)][80];
	struct CMUnitTest tests[ARRAY_SIZE(fixed) + ARRAY_SIZE(good_cases) +
				ARRAY_SIZE(bad_cases) +
				ARRAY_SIZE(range_cases)];
	size_t n = ARRAY_SIZE(fixed);

	memcpy(tests, fixed, sizeof(fixed));
	for (size_t i = 0; i < ARRAY_SIZE(good_cases); i++)
		tests[n++] =
		    row_test(good_cases[i].name, test_good, &good_cases[i]);
	for (size_t i = 0; i < ARRAY_SIZE(bad_cases); i++)
		tests[n++] =
		    row_test(bad_cases[i].name, test_bad, &bad_cases[i]);
	for (size_t i = 0; i < ARRAY_SIZE(range_cases); i++) {
		const struct range_case *rc = &range_cases[i];

		snprintf(range_names[i], sizeof(range_names[i]),
			 "range: [%s] %s = %s", rc->section, rc->key,
			 rc->value);
		tests[n++] = row_test(range_names[i], test_range, rc);
	}
	return cmocka_run_group_tests_name("config", tests, setup, teardown);
}
