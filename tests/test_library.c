/* Unit tests for the announcement library: small libraries of real sound
 * files (written with libsndfile at several rates and channel counts)
 * scanned into clips; files that cannot be used reported and skipped;
 * the cache reused, refreshed, repaired and pruned; loudness on target. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sndfile.h>

#include "cache.h"
#include "library.h"
#include "process.h"
#include "testutil.h"
#include "util.h"

#define RATE 48000

static const struct process_settings defaults = {
    .rate = RATE,
    .target_lufs = -18.0,
    .ceiling_dbtp = -1.0,
    .fade_ms = 5.0,
};

struct fixture {
	char dir[64];
	char root[96];
	char cache[96];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	if (tu_mkdtemp(f->dir, sizeof(f->dir), "library") < 0) {
		free(f);
		return -1;
	}
	snprintf(f->root, sizeof(f->root), "%s/audio", f->dir);
	snprintf(f->cache, sizeof(f->cache), "%s/cache", f->dir);
	if (mkdir(f->root, 0755) < 0) {
		rmdir(f->dir);
		free(f);
		return -1;
	}
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

/* root/rel, with its folders made. */
static void lib_path(const struct fixture *f, const char *rel, char *path,
		     size_t len)
{
	char *dir;

	assert_true((size_t)snprintf(path, len, "%s/%s", f->root, rel) < len);
	dir = path_dirname(path);
	assert_non_null(dir);
	assert_int_equal(mkdir_p(dir, 0755), 0);
	free(dir);
}

/* A tone burst: freq_hz at peak_dbfs on every channel, with a short
 * pause in the middle so it is not a plain sine. */
static void put_tone(const struct fixture *f, const char *rel, unsigned rate,
		     unsigned channels, double seconds, double freq_hz,
		     double peak_dbfs)
{
	size_t frames = (size_t)(seconds * rate);
	float *x = malloc(frames * channels * sizeof(*x));
	double a = pow(10.0, peak_dbfs / 20.0);
	const char *ext = strrchr(rel, '.');
	SF_INFO info = {.samplerate = (int)rate, .channels = (int)channels};
	char path[512];
	SNDFILE *sf;

	assert_non_null(x);
	for (size_t i = 0; i < frames; i++) {
		double t = (double)i / rate;
		float v = (float)(a * sin(2.0 * M_PI * freq_hz * t));

		if (i > frames * 45 / 100 && i < frames * 50 / 100)
			v = 0.0f;
		for (unsigned c = 0; c < channels; c++)
			x[i * channels + c] = v;
	}
	info.format = ext && strcmp(ext, ".flac") == 0
			  ? SF_FORMAT_FLAC | SF_FORMAT_PCM_16
			  : SF_FORMAT_WAV | SF_FORMAT_PCM_16;
	lib_path(f, rel, path, sizeof(path));
	sf = sf_open(path, SFM_WRITE, &info);
	assert_non_null(sf);
	assert_int_equal(sf_writef_float(sf, x, (sf_count_t)frames),
			 (sf_count_t)frames);
	assert_int_equal(sf_close(sf), 0);
	free(x);
}

static void put_bytes(const struct fixture *f, const char *rel,
		      const void *data, size_t len)
{
	char path[512];
	FILE *fp;

	lib_path(f, rel, path, sizeof(path));
	fp = fopen(path, "wb");
	assert_non_null(fp);
	if (len)
		assert_int_equal(fwrite(data, 1, len, fp), len);
	assert_int_equal(fclose(fp), 0);
}

static void remove_rel(const struct fixture *f, const char *rel)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", f->root, rel);
	assert_int_equal(unlink(path), 0);
}

static size_t count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t n = 0;

	if (!d)
		return 0;
	while ((e = readdir(d))) {
		size_t len = strlen(e->d_name);

		n += len > 5 && strcmp(e->d_name + len - 5, ".clip") == 0;
	}
	closedir(d);
	return n;
}

/* The cache entry file of a recording under the default settings. */
static void entry_of(const struct fixture *f, const char *rel, char *path,
		     size_t len)
{
	char src[512], name[32];
	uint64_t key;

	snprintf(src, sizeof(src), "%s/%s", f->root, rel);
	assert_int_equal(cache_key(src, &defaults, &key), 0);
	cache_entry_name(key, name);
	snprintf(path, len, "%s/%s", f->cache, name);
}

static void print_problems(const struct strv *p)
{
	for (size_t i = 0; i < p->n; i++)
		print_message("    problem: %s\n", p->v[i]);
}

/* The index of the problem line that holds both a and b, or -1. */
static int find_problem(const struct strv *p, const char *a, const char *b)
{
	for (size_t i = 0; i < p->n; i++)
		if (strstr(p->v[i], a) && (!b || strstr(p->v[i], b)))
			return (int)i;
	return -1;
}

static void assert_problem(const struct strv *p, const char *a, const char *b)
{
	if (find_problem(p, a, b) < 0) {
		print_message("  no problem line with '%s' and '%s'\n", a,
			      b ? b : "");
		print_problems(p);
		fail();
	}
}

static void assert_n_problems(const struct strv *p, size_t n)
{
	if (p->n != n) {
		print_message("  %zu problems, want %zu\n", p->n, n);
		print_problems(p);
		fail();
	}
}

static struct library *load(const struct fixture *f, const char *cache,
			    struct strv *problems, struct library_stats *st)
{
	struct library *lib;

	strv_clear(problems);
	lib = library_new(f->root, cache, &defaults, problems);
	assert_non_null(lib);
	library_get_stats(lib, st);
	return lib;
}

struct seen {
	char list[512];
	size_t n;
};

static void collect(const struct clip *c, void *data)
{
	struct seen *s = data;
	size_t used = strlen(s->list);

	snprintf(s->list + used, sizeof(s->list) - used, "%s%s/%s",
		 used ? " " : "", c->language, c->message);
	s->n++;
}

static void test_scan(void **state)
{
	static const struct {
		const char *rel;
		unsigned rate, channels;
		double seconds;
	} files[] = {
	    {"en/rights.wav", 48000, 1, 0.6},
	    {"en/door.wav", 44100, 2, 0.5},
	    {"en/_language.wav", 22050, 1, 0.4},
	    {"en/know_your-rights2.flac", 16000, 1, 0.5},
	    {"es/rights.wav", 32000, 2, 0.7},
	    {"es/_language.wav", 48000, 2, 0.3},
	    {"zh-cmn/door.flac", 8000, 1, 0.5},
	    {"fr/_language.wav", 44100, 1, 0.4},
	};
	struct fixture *f = *state;
	struct strv problems = {0};
	struct library_stats st;
	struct library *lib;
	const struct strv *langs;
	struct seen seen = {0};
	static const char junk[] = "not a recording at all\n";

	for (size_t i = 0; i < ARRAY_SIZE(files); i++)
		put_tone(f, files[i].rel, files[i].rate, files[i].channels,
			 files[i].seconds, 300.0 + 100.0 * (double)i, -20.0);
	/* Not recordings: scripts, notes, dotfiles, temp files, names
	 * without an extension, and folders the scan must not enter. */
	put_bytes(f, "en/rights.txt", junk, sizeof(junk) - 1);
	put_bytes(f, "en/NOTES.md", junk, sizeof(junk) - 1);
	put_bytes(f, "en/.rights.wav.swp", junk, sizeof(junk) - 1);
	put_bytes(f, "en/.hidden.wav", junk, sizeof(junk) - 1);
	put_bytes(f, "en/README", junk, sizeof(junk) - 1);
	put_bytes(f, "es/rights.wav.tmp.123", junk, sizeof(junk) - 1);
	put_bytes(f, "readme.txt", junk, sizeof(junk) - 1);
	put_bytes(f, ".git/config.wav", junk, sizeof(junk) - 1);
	put_bytes(f, "_drafts/door.wav", junk, sizeof(junk) - 1);

	lib = load(f, NULL, &problems, &st);
	assert_n_problems(&problems, 0);
	assert_int_equal(st.clips, ARRAY_SIZE(files));
	assert_int_equal(st.processed, ARRAY_SIZE(files));
	assert_int_equal(st.from_cache, 0);
	assert_int_equal(st.skipped, 0);

	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		char lang[64], msg[64], src[512];
		const char *slash = strchr(files[i].rel, '/');
		const char *dot = strrchr(files[i].rel, '.');
		const struct clip *c;
		double want_frames = files[i].seconds * RATE;

		snprintf(lang, sizeof(lang), "%.*s",
			 (int)(slash - files[i].rel), files[i].rel);
		snprintf(msg, sizeof(msg), "%.*s", (int)(dot - slash - 1),
			 slash + 1);
		snprintf(src, sizeof(src), "%s/%s", f->root, files[i].rel);
		c = library_find(lib, lang, msg);
		if (!c)
			print_message("  %s/%s not found\n", lang, msg);
		assert_non_null(c);
		assert_string_equal(c->language, lang);
		assert_string_equal(c->message, msg);
		assert_non_null(c->source);
		assert_string_equal(c->source, src);
		assert_int_equal(c->rate, RATE);
		assert_int_equal(c->stats.source_rate, files[i].rate);
		assert_int_equal(c->stats.source_channels, files[i].channels);
		assert_true(fabs((double)c->frames - want_frames) <= 2.0);
		assert_non_null(c->samples);
	}
	assert_null(library_find(lib, "en", "missing"));
	assert_null(library_find(lib, "de", "rights"));
	assert_null(library_find(lib, "fr", "rights"));
	assert_null(library_find(lib, "en", "NOTES"));
	assert_null(library_find(lib, "en", "README"));
	assert_null(library_find(lib, "_drafts", "door"));
	assert_null(library_find(lib, "", ""));

	/* fr has only its name: not a language with messages. */
	langs = library_languages(lib);
	assert_int_equal(langs->n, 3);
	assert_string_equal(langs->v[0], "en");
	assert_string_equal(langs->v[1], "es");
	assert_string_equal(langs->v[2], "zh-cmn");
	assert_false(strv_contains(langs, "fr"));

	library_foreach(lib, collect, &seen);
	assert_int_equal(seen.n, ARRAY_SIZE(files));
	assert_string_equal(seen.list,
			    "en/_language en/door en/know_your-rights2 "
			    "en/rights es/_language es/rights fr/_language "
			    "zh-cmn/door");
	library_free(lib);
	library_free(NULL);
	strv_clear(&problems);
}

static void test_empty_root(void **state)
{
	struct fixture *f = *state;
	struct strv problems = {0};
	struct library_stats st;
	struct library *lib = load(f, f->cache, &problems, &st);

	assert_n_problems(&problems, 0);
	assert_int_equal(st.clips, 0);
	assert_int_equal(library_languages(lib)->n, 0);
	assert_null(library_find(lib, "en", "rights"));
	library_free(lib);
	strv_clear(&problems);
}

static void test_problems(void **state)
{
	struct fixture *f = *state;
	struct strv problems = {0};
	struct library_stats st;
	struct library *lib;
	unsigned char garbage[3000];
	float silence[4800] = {0};
	char path[512];

	for (size_t i = 0; i < sizeof(garbage); i++)
		garbage[i] = (unsigned char)(i * 97 + 13);
	put_tone(f, "en/rights.wav", 44100, 1, 0.5, 440.0, -20.0);
	put_bytes(f, "en/garbage.wav", garbage, sizeof(garbage));
	put_bytes(f, "en/empty.wav", "", 0);
	put_tone(f, "en/Bad Name.wav", 44100, 1, 0.5, 440.0, -20.0);
	put_tone(f, "es/door.wav", 48000, 2, 0.5, 330.0, -20.0);
	put_tone(f, "not_a_tag/door.wav", 48000, 1, 0.5, 330.0, -20.0);
	put_tone(f, "all/door.wav", 48000, 1, 0.5, 330.0, -20.0);
	{
		SF_INFO info = {.samplerate = 48000,
				.channels = 1,
				.format = SF_FORMAT_WAV | SF_FORMAT_PCM_16};
		SNDFILE *sf;

		lib_path(f, "es/silent.wav", path, sizeof(path));
		sf = sf_open(path, SFM_WRITE, &info);
		assert_non_null(sf);
		sf_writef_float(sf, silence, ARRAY_SIZE(silence));
		sf_close(sf);
	}

	lib = load(f, f->cache, &problems, &st);
	print_problems(&problems);
	assert_int_equal(st.clips, 2);
	assert_non_null(library_find(lib, "en", "rights"));
	assert_non_null(library_find(lib, "es", "door"));
	assert_int_equal(st.skipped, 4);

	snprintf(path, sizeof(path), "%s/en/garbage.wav:", f->root);
	assert_problem(&problems, path, "skipped");
	snprintf(path, sizeof(path), "%s/en/empty.wav:", f->root);
	assert_problem(&problems, path, "skipped");
	snprintf(path, sizeof(path), "%s/en/Bad Name.wav:", f->root);
	assert_problem(&problems, path, "not a message name");
	snprintf(path, sizeof(path), "%s/es/silent.wav:", f->root);
	assert_problem(&problems, path, "no sound");
	snprintf(path, sizeof(path), "%s/not_a_tag:", f->root);
	assert_problem(&problems, path, "not a language tag");
	snprintf(path, sizeof(path), "%s/all:", f->root);
	assert_problem(&problems, path, "not a language tag");
	assert_n_problems(&problems, 6);
	assert_null(library_find(lib, "not_a_tag", "door"));
	assert_int_equal(library_languages(lib)->n, 2);
	/* Nothing cached for what was skipped. */
	assert_int_equal(count_entries(f->cache), 2);
	library_free(lib);
	strv_clear(&problems);
}

static void test_duplicate(void **state)
{
	struct fixture *f = *state;
	struct strv problems = {0};
	struct library_stats st;
	struct library *lib;
	const struct clip *c;
	char wav[512], flac[512];
	const char *unused;

	put_tone(f, "en/rights.wav", 44100, 1, 0.5, 440.0, -20.0);
	put_tone(f, "en/rights.flac", 48000, 1, 0.5, 550.0, -20.0);
	put_tone(f, "en/rights-short.wav", 48000, 1, 0.5, 660.0, -20.0);
	put_tone(f, "en/rights_long.wav", 48000, 1, 0.5, 770.0, -20.0);
	snprintf(wav, sizeof(wav), "%s/en/rights.wav", f->root);
	snprintf(flac, sizeof(flac), "%s/en/rights.flac", f->root);

	/* Twice: the choice must not depend on the directory order of the
	 * day, and a cached second run must make the same one. */
	for (int run = 0; run < 2; run++) {
		lib = load(f, f->cache, &problems, &st);
		assert_int_equal(st.clips, 3);
		assert_int_equal(st.skipped, 1);
		assert_n_problems(&problems, 1);
		c = library_find(lib, "en", "rights");
		assert_non_null(c);
		assert_true(strcmp(c->source, wav) == 0 ||
			    strcmp(c->source, flac) == 0);
		unused = strcmp(c->source, wav) == 0 ? flac : wav;
		assert_problem(&problems, unused, "rights");
		assert_non_null(library_find(lib, "en", "rights-short"));
		assert_non_null(library_find(lib, "en", "rights_long"));
		library_free(lib);
	}

	/* When the one that sorts first cannot be used, the other is. */
	put_bytes(f, "es/door.flac", "garbage", 7);
	put_tone(f, "es/door.wav", 48000, 1, 0.5, 440.0, -20.0);
	lib = load(f, f->cache, &problems, &st);
	c = library_find(lib, "es", "door");
	assert_non_null(c);
	snprintf(wav, sizeof(wav), "%s/es/door.wav", f->root);
	snprintf(flac, sizeof(flac), "%s/es/door.flac", f->root);
	assert_string_equal(c->source, wav);
	assert_problem(&problems, flac, "skipped");
	assert_int_equal(st.skipped, 2); /* that and en/rights.wav */
	assert_n_problems(&problems, 2);
	library_free(lib);
	strv_clear(&problems);
}

static void test_overlay_takes_precedence(void **state)
{
	struct fixture *f = *state;
	struct library_opts o = {.root = f->root, .cache_dir = f->cache};
	struct strv problems = {0};
	const struct clip *c;
	struct library *lib;
	char overlay[128], want[256];

	/* The shipped library: a human recording, a placeholder, scripts. */
	put_tone(f, "en/rights.wav", 48000, 1, 0.5, 440.0, -20.0);
	put_tone(f, "en/door.placeholder.wav", 48000, 1, 0.5, 440.0, -20.0);
	put_bytes(f, "en/door.txt", "Door.", 5);
	put_bytes(f, "en/leave.txt", "Leave.", 6);
	/* A missing overlay is simply empty. */
	snprintf(overlay, sizeof(overlay), "%s/volunteers", f->dir);
	o.overlay = overlay;
	lib = library_open(&o, &defaults, &problems);
	assert_non_null(lib);
	assert_n_problems(&problems, 0);
	assert_true(library_find(lib, "en", "door")->placeholder);
	library_free(lib);
	/* Volunteers record door (replacing the placeholder) and rights,
	 * and start a new language. */
	put_tone(f, "../volunteers/en/door.flac", 48000, 1, 0.5, 660.0, -20.0);
	put_tone(f, "../volunteers/en/rights.wav", 48000, 1, 0.5, 550.0, -20.0);
	put_tone(f, "../volunteers/ht/rights.wav", 48000, 1, 0.5, 770.0, -20.0);
	lib = library_open(&o, &defaults, &problems);
	assert_non_null(lib);
	assert_n_problems(&problems, 0);
	c = library_find(lib, "en", "door");
	snprintf(want, sizeof(want), "%s/en/door.flac", overlay);
	assert_string_equal(c->source, want);
	assert_false(c->placeholder);
	c = library_find(lib, "en", "rights");
	snprintf(want, sizeof(want), "%s/en/rights.wav", overlay);
	assert_string_equal(c->source, want);
	assert_non_null(library_find(lib, "ht", "rights"));
	/* Each language once, sorted; door is no longer unrecorded. */
	assert_int_equal(library_languages(lib)->n, 2);
	assert_string_equal(library_languages(lib)->v[0], "en");
	assert_string_equal(library_languages(lib)->v[1], "ht");
	assert_int_equal(library_unrecorded(lib)->n, 1);
	assert_string_equal(library_unrecorded(lib)->v[0], "en/leave");
	library_free(lib);
	/* What render and import look at, in the same order. */
	{
		char *p =
		    library_recording_path2(overlay, f->root, "en", "rights");

		snprintf(want, sizeof(want), "%s/en/rights.wav", overlay);
		assert_string_equal(p, want);
		free(p);
		p = library_recording_path2(overlay, f->root, "es", "rights");
		assert_null(p);
	}
	strv_clear(&problems);
}

/* One library's samples, copied, to compare with a later load. */
static float *copy_samples(const struct clip *c)
{
	float *x = malloc(c->frames * sizeof(*x));

	assert_non_null(x);
	memcpy(x, c->samples, c->frames * sizeof(*x));
	return x;
}

static void test_cache_reuse(void **state)
{
	struct fixture *f = *state;
	struct strv problems = {0};
	struct library_stats st;
	struct library *lib;
	const struct clip *c;
	float *door;
	size_t door_frames;
	double door_lufs;
	char entry[512], path[512];

	put_tone(f, "en/rights.wav", 44100, 2, 0.5, 440.0, -20.0);
	put_tone(f, "en/door.wav", 48000, 1, 0.6, 330.0, -25.0);
	put_tone(f, "en/_language.wav", 22050, 1, 0.4, 550.0, -20.0);
	put_tone(f, "es/rights.wav", 16000, 1, 0.5, 220.0, -30.0);

	/* First run: everything processed and stored. */
	lib = load(f, f->cache, &problems, &st);
	assert_n_problems(&problems, 0);
	assert_int_equal(st.clips, 4);
	assert_int_equal(st.processed, 4);
	assert_int_equal(st.from_cache, 0);
	assert_int_equal(count_entries(f->cache), 4);
	c = library_find(lib, "en", "door");
	assert_non_null(c);
	door = copy_samples(c);
	door_frames = c->frames;
	door_lufs = c->stats.lufs;
	library_free(lib);

	/* Second run: nothing decoded, the same samples. */
	lib = load(f, f->cache, &problems, &st);
	assert_n_problems(&problems, 0);
	assert_int_equal(st.clips, 4);
	assert_int_equal(st.from_cache, 4);
	assert_int_equal(st.processed, 0);
	assert_int_equal(st.skipped, 0);
	c = library_find(lib, "en", "door");
	assert_non_null(c);
	assert_int_equal(c->frames, door_frames);
	assert_memory_equal(c->samples, door, door_frames * sizeof(float));
	assert_true(c->stats.lufs == door_lufs);
	assert_string_equal(c->language, "en");
	assert_string_equal(c->message, "door");
	snprintf(path, sizeof(path), "%s/en/door.wav", f->root);
	assert_string_equal(c->source, path);
	assert_non_null(library_find(lib, "en", "_language"));
	assert_int_equal(library_languages(lib)->n, 2);
	library_free(lib);

	/* One recording re-recorded: only it is processed again, and its
	 * old entry does not linger. */
	put_tone(f, "en/rights.wav", 44100, 2, 0.5, 440.0, -22.0);
	lib = load(f, f->cache, &problems, &st);
	assert_n_problems(&problems, 0);
	assert_int_equal(st.clips, 4);
	assert_int_equal(st.processed, 1);
	assert_int_equal(st.from_cache, 3);
	assert_int_equal(count_entries(f->cache), 4);
	library_free(lib);

	/* A corrupt entry is reported, rebuilt, and sound next time. */
	entry_of(f, "en/door.wav", entry, sizeof(entry));
	{
		int fd = open(entry, O_RDWR | O_CLOEXEC);
		unsigned char b;

		assert_true(fd >= 0);
		assert_int_equal(pread(fd, &b, 1, 1000), 1);
		b ^= 0x40;
		assert_int_equal(pwrite(fd, &b, 1, 1000), 1);
		close(fd);
	}
	lib = load(f, f->cache, &problems, &st);
	assert_n_problems(&problems, 1);
	assert_problem(&problems, path, "corrupt");
	assert_int_equal(st.clips, 4);
	assert_int_equal(st.processed, 1);
	assert_int_equal(st.from_cache, 3);
	c = library_find(lib, "en", "door");
	assert_non_null(c);
	assert_memory_equal(c->samples, door, door_frames * sizeof(float));
	library_free(lib);
	lib = load(f, f->cache, &problems, &st);
	assert_n_problems(&problems, 0);
	assert_int_equal(st.from_cache, 4);
	library_free(lib);

	/* A zero-length entry (a card pulled at the wrong moment) too. */
	assert_int_equal(truncate(entry, 0), 0);
	lib = load(f, f->cache, &problems, &st);
	assert_n_problems(&problems, 1);
	assert_problem(&problems, path, "corrupt");
	assert_int_equal(st.processed, 1);
	library_free(lib);

	/* A recording deleted: its entry goes at the next load. */
	remove_rel(f, "en/door.wav");
	lib = load(f, f->cache, &problems, &st);
	assert_n_problems(&problems, 0);
	assert_int_equal(st.clips, 3);
	assert_int_equal(st.from_cache, 3);
	assert_null(library_find(lib, "en", "door"));
	assert_int_equal(count_entries(f->cache), 3);
	assert_int_equal(access(entry, F_OK), -1);
	library_free(lib);

	/* Different settings: everything processed again for them, and
	 * the entries of the old settings pruned. */
	{
		struct process_settings s = defaults;

		s.target_lufs = -20.0;
		strv_clear(&problems);
		lib = library_new(f->root, f->cache, &s, &problems);
		assert_non_null(lib);
		library_get_stats(lib, &st);
		assert_int_equal(st.processed, 3);
		assert_int_equal(st.from_cache, 0);
		assert_int_equal(count_entries(f->cache), 3);
		library_free(lib);
	}
	free(door);
	strv_clear(&problems);
}

/* A cache that cannot be written costs speed, never the announcements. */
static void test_cache_unwritable(void **state)
{
	struct fixture *f = *state;
	struct strv problems = {0};
	struct library_stats st;
	struct library *lib;
	FILE *fp;

	put_tone(f, "en/rights.wav", 48000, 1, 0.5, 440.0, -20.0);
	fp = fopen(f->cache, "w"); /* a file where the folder should be */
	assert_non_null(fp);
	fclose(fp);
	lib = load(f, f->cache, &problems, &st);
	assert_int_equal(st.clips, 1);
	assert_int_equal(st.processed, 1);
	assert_non_null(library_find(lib, "en", "rights"));
	assert_true(problems.n >= 1);
	assert_problem(&problems, "rights.wav", f->cache);
	library_free(lib);
	strv_clear(&problems);
}

static void test_missing_root(void **state)
{
	struct fixture *f = *state;
	struct strv problems = {0};
	char root[128];

	snprintf(root, sizeof(root), "%s/nowhere", f->dir);
	assert_null(library_new(root, f->cache, &defaults, &problems));
	assert_n_problems(&problems, 1);
	assert_problem(&problems, root, NULL);
	strv_clear(&problems);

	/* A file is not a library folder either. */
	put_bytes(f, "file", "x", 1);
	snprintf(root, sizeof(root), "%s/file", f->root);
	assert_null(library_new(root, NULL, &defaults, &problems));
	assert_n_problems(&problems, 1);
	assert_problem(&problems, root, NULL);
	strv_clear(&problems);
}

static void measure_clip(const struct clip *c, double *lufs, double *tp)
{
	assert_int_equal(
	    loudness_measure(c->samples, c->frames, 1, c->rate, lufs, tp), 0);
}

static void test_loudness(void **state)
{
	struct fixture *f = *state;
	struct strv problems = {0};
	struct library_stats st;
	struct library *lib;
	const struct clip *c;
	double lufs, tp;

	/* Quiet with room to spare: gain up to the target. */
	put_tone(f, "en/quiet.wav", 44100, 2, 2.0, 1000.0, -35.0);
	/* Loud: gain down to the target. */
	put_tone(f, "en/loud.wav", 48000, 1, 2.0, 500.0, -3.0);
	/* Clicks: the true peak forbids the target. */
	{
		size_t n = 2 * 48000;
		short *x = calloc(n, sizeof(*x));
		SF_INFO info = {.samplerate = 48000,
				.channels = 1,
				.format = SF_FORMAT_WAV | SF_FORMAT_PCM_16};
		char path[512];
		SNDFILE *sf;

		assert_non_null(x);
		for (size_t i = 0; i < n; i += 4800)
			x[i] = 16000;
		lib_path(f, "en/clicks.wav", path, sizeof(path));
		sf = sf_open(path, SFM_WRITE, &info);
		assert_non_null(sf);
		assert_int_equal(sf_writef_short(sf, x, (sf_count_t)n),
				 (sf_count_t)n);
		sf_close(sf);
		free(x);
	}

	for (int run = 0; run < 2; run++) { /* processed, then cached */
		lib = load(f, f->cache, &problems, &st);
		assert_int_equal(st.clips, 3);
		assert_int_equal(st.from_cache, run ? 3 : 0);

		c = library_find(lib, "en", "quiet");
		assert_non_null(c);
		measure_clip(c, &lufs, &tp);
		print_message("  quiet: %.2f LUFS, %.2f dBTP (stats %.2f, "
			      "gain %.2f dB)\n",
			      lufs, tp, c->stats.lufs, c->stats.gain_db);
		assert_true(fabs(lufs - defaults.target_lufs) <= 0.5);
		assert_true(fabs(c->stats.lufs - lufs) <= 0.1);
		assert_true(tp <= defaults.ceiling_dbtp + 0.1);
		assert_false(c->stats.peak_limited);
		assert_true(c->stats.gain_db > 10.0);

		c = library_find(lib, "en", "loud");
		assert_non_null(c);
		measure_clip(c, &lufs, &tp);
		print_message("  loud: %.2f LUFS, %.2f dBTP\n", lufs, tp);
		assert_true(fabs(lufs - defaults.target_lufs) <= 0.5);
		assert_false(c->stats.peak_limited);
		assert_true(c->stats.gain_db < 0.0);

		c = library_find(lib, "en", "clicks");
		assert_non_null(c);
		measure_clip(c, &lufs, &tp);
		print_message("  clicks: %.2f LUFS, %.2f dBTP\n", lufs, tp);
		assert_true(c->stats.peak_limited);
		assert_true(tp <= defaults.ceiling_dbtp + 0.2);
		assert_true(lufs < defaults.target_lufs - 0.5);
		library_free(lib);
	}
	strv_clear(&problems);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_scan, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_empty_root, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_problems, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_duplicate, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_overlay_takes_precedence,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_cache_reuse, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_cache_unwritable, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_missing_root, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_loudness, setup, teardown),
	};

	return cmocka_run_group_tests_name("library", tests, NULL, NULL);
}
