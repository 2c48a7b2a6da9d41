/* Unit tests for the clip cache: exact round trips, what the key depends
 * on, every kind of damage detected as -EBADMSG, pruning, and mapped
 * clips outliving their file. */
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

#include "cache.h"
#include "clip.h"
#include "testutil.h"
#include "util.h"

#define HEADER_SIZE 256 /* where the payload starts in an entry */

static const struct process_settings defaults = {
    .rate = 48000,
    .target_lufs = -18.0,
    .ceiling_dbtp = -1.0,
    .fade_ms = 5.0,
};

struct fixture {
	char dir[64];
	char cache[96];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	if (tu_mkdtemp(f->dir, sizeof(f->dir), "cache") < 0) {
		free(f);
		return -1;
	}
	/* Not made here: cache_store must make it. */
	snprintf(f->cache, sizeof(f->cache), "%s/var/cache", f->dir);
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

static const struct clip_stats sample_stats = {
    .source_rate = 44100,
    .source_channels = 2,
    .duration_s = 1.25,
    .source_lufs = -27.125,
    .source_peak_dbtp = -6.5,
    .gain_db = 9.125,
    .peak_limited = true,
    .lufs = -18.0625,
    .true_peak_dbtp = -1.0078125,
    .too_short = true,
};

/* A clip whose every sample differs, including values a lossy copy would
 * change (denormal, negative zero, odd fractions). */
static struct clip *make_clip(size_t frames, unsigned rate, float seed)
{
	float *x = malloc(frames * sizeof(*x));
	struct clip *c;

	assert_non_null(x);
	for (size_t i = 0; i < frames; i++)
		x[i] = (float)sin((double)i * 0.01 + seed) * 0.7f +
		       (float)i * 1e-9f;
	if (frames > 2) {
		x[1] = -0.0f;
		x[2] = 1e-40f;
	}
	c = clip_new_owned(x, frames, rate, &sample_stats);
	assert_non_null(c);
	return c;
}

static void assert_stats_equal(const struct clip_stats *a,
			       const struct clip_stats *b)
{
	assert_int_equal(a->source_rate, b->source_rate);
	assert_int_equal(a->source_channels, b->source_channels);
	assert_true(a->duration_s == b->duration_s);
	assert_true(a->source_lufs == b->source_lufs);
	assert_true(a->source_peak_dbtp == b->source_peak_dbtp);
	assert_true(a->gain_db == b->gain_db);
	assert_int_equal(a->peak_limited, b->peak_limited);
	assert_true(a->lufs == b->lufs);
	assert_true(a->true_peak_dbtp == b->true_peak_dbtp);
	assert_int_equal(a->too_short, b->too_short);
}

static void entry_path(const struct fixture *f, uint64_t key, char *path,
		       size_t len)
{
	char name[32];

	cache_entry_name(key, name);
	snprintf(path, len, "%s/%s", f->cache, name);
}

static void write_bytes(const char *path, const void *data, size_t len)
{
	FILE *fp = fopen(path, "wb");

	assert_non_null(fp);
	if (len)
		assert_int_equal(fwrite(data, 1, len, fp), len);
	assert_int_equal(fclose(fp), 0);
}

static bool exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

static void test_entry_name(void **state)
{
	char name[32];

	(void)state;
	cache_entry_name(0x0123456789abcdefULL, name);
	assert_string_equal(name, "0123456789abcdef.clip");
	cache_entry_name(0, name);
	assert_string_equal(name, "0000000000000000.clip");
	cache_entry_name(UINT64_MAX, name);
	assert_string_equal(name, "ffffffffffffffff.clip");
}

static void test_round_trip(void **state)
{
	static const struct {
		size_t frames;
		unsigned rate;
	} cases[] = {
	    {1, 8000},
	    {480, 48000},
	    /* payload over one 64 KiB check chunk, not a multiple of it */
	    {70001, 44100},
	};
	struct fixture *f = *state;

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		uint64_t key = 0x1111 * (i + 1);
		struct clip *c =
		    make_clip(cases[i].frames, cases[i].rate, 0.3f);
		struct clip *back = NULL;
		char path[256];
		struct stat st;

		assert_int_equal(cache_store(f->cache, key, c), 0);
		entry_path(f, key, path, sizeof(path));
		assert_int_equal(stat(path, &st), 0);
		assert_int_equal(st.st_size,
				 HEADER_SIZE + cases[i].frames * sizeof(float));
		assert_int_equal(cache_load(f->cache, key, &back), 0);
		assert_non_null(back);
		assert_int_equal(back->frames, cases[i].frames);
		assert_int_equal(back->rate, cases[i].rate);
		assert_memory_equal(back->samples, c->samples,
				    cases[i].frames * sizeof(float));
		assert_stats_equal(&back->stats, &sample_stats);
		assert_int_equal(back->refs, 1);
		assert_non_null(back->map);
		assert_null(back->owned);
		/* A second reference keeps it alive past one unref. */
		assert_ptr_equal(clip_ref(back), back);
		clip_unref(back);
		assert_true(back->samples[0] == c->samples[0]);
		clip_unref(back);
		clip_unref(c);
	}
	clip_unref(NULL);
}

/* Storing again under the same key replaces the entry. */
static void test_store_replaces(void **state)
{
	struct fixture *f = *state;
	struct clip *a = make_clip(1000, 48000, 0.0f);
	struct clip *b = make_clip(2000, 22050, 1.0f);
	struct clip *back = NULL;

	assert_int_equal(cache_store(f->cache, 42, a), 0);
	assert_int_equal(cache_store(f->cache, 42, b), 0);
	assert_int_equal(cache_load(f->cache, 42, &back), 0);
	assert_int_equal(back->frames, 2000);
	assert_int_equal(back->rate, 22050);
	assert_memory_equal(back->samples, b->samples, 2000 * sizeof(float));
	clip_unref(back);
	clip_unref(a);
	clip_unref(b);
}

static void test_key(void **state)
{
	struct fixture *f = *state;
	char src[256], other[256];
	unsigned char data[100000];
	uint64_t k0, k, seen[24];
	size_t n_seen = 0;
	struct process_settings s;

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (unsigned char)(i * 13 + (i >> 8));
	snprintf(src, sizeof(src), "%s/rights.wav", f->dir);
	write_bytes(src, data, sizeof(data));

	assert_int_equal(cache_key(src, &defaults, &k0), 0);
	assert_int_equal(cache_key(src, &defaults, &k), 0);
	assert_true(k == k0); /* stable */
	seen[n_seen++] = k0;

	/* Same bytes under another name: same key. */
	snprintf(other, sizeof(other), "%s/copy.wav", f->dir);
	write_bytes(other, data, sizeof(data));
	assert_int_equal(cache_key(other, &defaults, &k), 0);
	assert_true(k == k0);

	/* One byte changed, at the start, past the first read chunk, at
	 * the end; one byte more; one byte less. */
	{
		static const size_t at[] = {0, 70000, sizeof(data) - 1};

		for (size_t i = 0; i < ARRAY_SIZE(at); i++) {
			data[at[i]] ^= 0x01;
			write_bytes(other, data, sizeof(data));
			data[at[i]] ^= 0x01;
			assert_int_equal(cache_key(other, &defaults, &k), 0);
			assert_true(k != k0);
		}
		write_bytes(other, data, sizeof(data) - 1);
		assert_int_equal(cache_key(other, &defaults, &k), 0);
		assert_true(k != k0);
	}

	/* Each setting changes the key, and each to a different one. */
	s = defaults;
	s.rate = 44100;
	assert_int_equal(cache_key(src, &s, &seen[n_seen++]), 0);
	s = defaults;
	s.target_lufs = -16.0;
	assert_int_equal(cache_key(src, &s, &seen[n_seen++]), 0);
	s = defaults;
	s.target_lufs = -18.5;
	assert_int_equal(cache_key(src, &s, &seen[n_seen++]), 0);
	s = defaults;
	s.ceiling_dbtp = -2.0;
	assert_int_equal(cache_key(src, &s, &seen[n_seen++]), 0);
	s = defaults;
	s.ceiling_dbtp = -1.5;
	assert_int_equal(cache_key(src, &s, &seen[n_seen++]), 0);
	s = defaults;
	s.fade_ms = 10.0;
	assert_int_equal(cache_key(src, &s, &seen[n_seen++]), 0);
	s = defaults;
	s.fade_ms = 0.0;
	assert_int_equal(cache_key(src, &s, &seen[n_seen++]), 0);
	/* The [loudness] chain's own settings too (once missing: a changed
	 * high-pass or trim kept playing the old clips). */
	s = defaults;
	s.highpass_hz = 400;
	assert_int_equal(cache_key(src, &s, &seen[n_seen++]), 0);
	s = defaults;
	s.trim_db = -30;
	assert_int_equal(cache_key(src, &s, &seen[n_seen++]), 0);
	s = defaults;
	s.trim_pad_ms = 300;
	assert_int_equal(cache_key(src, &s, &seen[n_seen++]), 0);
	for (size_t i = 0; i < n_seen; i++)
		for (size_t j = i + 1; j < n_seen; j++)
			assert_true(seen[i] != seen[j]);

	snprintf(other, sizeof(other), "%s/missing.wav", f->dir);
	k = 7;
	assert_int_equal(cache_key(other, &defaults, &k), -ENOENT);
	assert_true(k == 7);
}

static void test_load_missing(void **state)
{
	struct fixture *f = *state;
	struct clip *c = NULL;
	struct clip *one = make_clip(10, 48000, 0.0f);

	/* No folder at all, then a folder without that entry. */
	assert_int_equal(cache_load(f->cache, 1, &c), -ENOENT);
	assert_int_equal(cache_store(f->cache, 1, one), 0);
	assert_int_equal(cache_load(f->cache, 2, &c), -ENOENT);
	assert_null(c);
	clip_unref(one);
}

enum damage {
	TRUNCATE_ONE,	 /* last payload byte gone */
	TRUNCATE_HEADER, /* only the header slot left */
	TRUNCATE_SHORT,	 /* shorter than the header */
	APPEND_ONE,	 /* one byte too many */
	EMPTY,		 /* zero-length file */
	FLIP,		 /* one bit flipped at the offset */
	WRONG_MAGIC,	 /* another program's file */
	OTHER_KEY,	 /* a sound entry filed under another key */
};

static void damage_entry(const struct fixture *f, uint64_t key, enum damage how,
			 off_t off)
{
	char path[256];
	struct stat st;
	int fd;

	entry_path(f, key, path, sizeof(path));
	fd = open(path, O_RDWR | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	switch (how) {
	case TRUNCATE_ONE:
		assert_int_equal(ftruncate(fd, st.st_size - 1), 0);
		break;
	case TRUNCATE_HEADER:
		assert_int_equal(ftruncate(fd, HEADER_SIZE), 0);
		break;
	case TRUNCATE_SHORT:
		assert_int_equal(ftruncate(fd, 100), 0);
		break;
	case APPEND_ONE:
		assert_int_equal(pwrite(fd, "", 1, st.st_size), 1);
		break;
	case EMPTY:
		assert_int_equal(ftruncate(fd, 0), 0);
		break;
	case FLIP: {
		unsigned char b;

		assert_int_equal(pread(fd, &b, 1, off), 1);
		b ^= 0x10;
		assert_int_equal(pwrite(fd, &b, 1, off), 1);
		break;
	}
	case WRONG_MAGIC:
		assert_int_equal(pwrite(fd, "RIFF\0\0\0\0", 8, 0), 8);
		break;
	case OTHER_KEY:
		break;
	}
	close(fd);
}

static void test_damage_detected(void **state)
{
	/* Header offsets follow the layout in cache.c: magic 0, header size
	 * 8, version 12, key 16, rate 24, payload CRC 28, frames 32, stats
	 * size 40, stats 48.., header CRC after the stats. */
	static const struct {
		const char *what;
		enum damage how;
		off_t off;
	} cases[] = {
	    {"truncated by one byte", TRUNCATE_ONE, 0},
	    {"truncated to the header", TRUNCATE_HEADER, 0},
	    {"truncated inside the header", TRUNCATE_SHORT, 0},
	    {"one byte appended", APPEND_ONE, 0},
	    {"zero-length", EMPTY, 0},
	    {"wrong magic", WRONG_MAGIC, 0},
	    {"flipped magic byte", FLIP, 3},
	    {"flipped header size", FLIP, 8},
	    {"flipped version", FLIP, 12},
	    {"flipped key", FLIP, 16},
	    {"flipped rate", FLIP, 24},
	    {"flipped payload CRC", FLIP, 28},
	    {"flipped frame count", FLIP, 32},
	    {"flipped stats size", FLIP, 40},
	    {"flipped stats (source rate)", FLIP, 48},
	    {"flipped reserved", FLIP, 44},
	    {"flipped stats (lufs)", FLIP, 48 + 48},
	    {"flipped stats (too_short)", FLIP, 48 + 64},
	    {"flipped header CRC", FLIP, 120},
	    {"flipped first payload byte", FLIP, HEADER_SIZE},
	    {"flipped payload byte past 64 KiB", FLIP, HEADER_SIZE + 70000},
	    {"flipped last payload byte", FLIP, HEADER_SIZE + 4 * 20000 - 1},
	    {"entry filed under another key", OTHER_KEY, 0},
	};
	struct fixture *f = *state;
	struct clip *c = make_clip(20000, 48000, 0.5f);
	int wrong = 0;

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		uint64_t key = 0xabc0 + i;
		struct clip *back = NULL;
		int r;

		if (cases[i].how == OTHER_KEY) {
			char from[256], to[256];

			assert_int_equal(cache_store(f->cache, 1, c), 0);
			entry_path(f, 1, from, sizeof(from));
			entry_path(f, key, to, sizeof(to));
			assert_int_equal(rename(from, to), 0);
		} else {
			assert_int_equal(cache_store(f->cache, key, c), 0);
			damage_entry(f, key, cases[i].how, cases[i].off);
		}
		r = cache_load(f->cache, key, &back);
		if (r != -EBADMSG) {
			print_message("  %s: cache_load = %d, want -EBADMSG\n",
				      cases[i].what, r);
			wrong++;
		}
		if (r == 0)
			clip_unref(back);
	}
	assert_int_equal(wrong, 0);
	clip_unref(c);
}

static void test_prune(void **state)
{
	struct fixture *f = *state;
	struct clip *c = make_clip(64, 48000, 0.0f);
	const uint64_t keep[] = {0x10, 0x30};
	char path[256], tmp_a[256], tmp_b[256], notes[256], sub[256];

	for (uint64_t k = 0x10; k <= 0x40; k += 0x10)
		assert_int_equal(cache_store(f->cache, k, c), 0);
	/* Leftovers of a write cut short, one for a kept key. */
	snprintf(tmp_a, sizeof(tmp_a), "%s/0000000000000010.clip.tmp.4242",
		 f->cache);
	write_bytes(tmp_a, "x", 1);
	snprintf(tmp_b, sizeof(tmp_b), "%s/00000000000000ff.clip.tmp.1",
		 f->cache);
	write_bytes(tmp_b, "x", 1);
	/* Things that are not ours. */
	snprintf(notes, sizeof(notes), "%s/README.txt", f->cache);
	write_bytes(notes, "hands off", 9);
	snprintf(sub, sizeof(sub), "%s/keep-me", f->cache);
	assert_int_equal(mkdir(sub, 0755), 0);

	assert_int_equal(cache_prune(f->cache, keep, ARRAY_SIZE(keep)), 4);
	entry_path(f, 0x10, path, sizeof(path));
	assert_true(exists(path));
	entry_path(f, 0x30, path, sizeof(path));
	assert_true(exists(path));
	entry_path(f, 0x20, path, sizeof(path));
	assert_false(exists(path));
	entry_path(f, 0x40, path, sizeof(path));
	assert_false(exists(path));
	assert_false(exists(tmp_a));
	assert_false(exists(tmp_b));
	assert_true(exists(notes));
	assert_true(exists(sub));

	/* The kept ones still load; a second prune has nothing to do. */
	{
		struct clip *back = NULL;

		assert_int_equal(cache_load(f->cache, 0x30, &back), 0);
		clip_unref(back);
	}
	assert_int_equal(cache_prune(f->cache, keep, ARRAY_SIZE(keep)), 0);

	/* Keeping nothing empties the cache of entries only. */
	assert_int_equal(cache_prune(f->cache, NULL, 0), 2);
	assert_true(exists(notes));

	/* A cache that was never made is nothing to prune. */
	snprintf(path, sizeof(path), "%s/never", f->dir);
	assert_int_equal(cache_prune(path, keep, ARRAY_SIZE(keep)), 0);
	clip_unref(c);
}

static void test_store_makes_folder(void **state)
{
	struct fixture *f = *state;
	struct clip *c = make_clip(16, 48000, 0.0f), *back = NULL;
	char names[256] = "";
	struct dirent *e;
	DIR *d;

	assert_false(exists(f->cache));
	assert_int_equal(cache_store(f->cache, 5, c), 0);
	assert_true(exists(f->cache));
	assert_int_equal(cache_load(f->cache, 5, &back), 0);
	clip_unref(back);
	/* Only the entry: no temp file left behind. */
	d = opendir(f->cache);
	assert_non_null(d);
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			snprintf(names + strlen(names),
				 sizeof(names) - strlen(names), "%s",
				 e->d_name);
	closedir(d);
	assert_string_equal(names, "0000000000000005.clip");

	/* A cache "folder" that is a file cannot be stored into. */
	{
		char file[256];

		snprintf(file, sizeof(file), "%s/plain", f->dir);
		write_bytes(file, "x", 1);
		assert_true(cache_store(file, 5, c) < 0);
	}
	clip_unref(c);
}

/* The player may still be playing a clip when a reload prunes its entry:
 * the mapping must keep the samples readable. */
static void test_mapped_clip_outlives_file(void **state)
{
	struct fixture *f = *state;
	size_t frames = 50000;
	struct clip *c = make_clip(frames, 48000, 2.0f), *back = NULL;
	char path[256];
	double sum_want = 0.0, sum = 0.0;

	assert_int_equal(cache_store(f->cache, 77, c), 0);
	assert_int_equal(cache_load(f->cache, 77, &back), 0);
	entry_path(f, 77, path, sizeof(path));
	assert_int_equal(unlink(path), 0);
	assert_int_equal(cache_prune(f->cache, NULL, 0), 0);
	assert_int_equal(rmdir(f->cache), 0);
	assert_false(exists(path));
	/* Read every sample only now, after the file is gone. */
	for (size_t i = 0; i < frames; i++) {
		sum += back->samples[i];
		sum_want += c->samples[i];
	}
	assert_true(sum == sum_want);
	assert_memory_equal(back->samples, c->samples, frames * sizeof(float));
	clip_unref(back);
	clip_unref(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_entry_name),
	    cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_store_replaces, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_key, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_load_missing, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_damage_detected, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_prune, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_store_makes_folder, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_mapped_clip_outlives_file,
					    setup, teardown),
	};

	return cmocka_run_group_tests_name("cache", tests, NULL, NULL);
}
