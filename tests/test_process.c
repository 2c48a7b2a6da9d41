/* Unit tests for the processing chain: loudness meter against EBU Tech 3341
 * style signals, normalization, peak cap, mono mix, resampling, fades,
 * refusals, real files in several formats, and an independent check with
 * ffmpeg's ebur128 meter when ffmpeg is installed. */
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

#include <sndfile.h>

#include "process.h"
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
};

static double db_to_amp(double db)
{
	return pow(10.0, db / 20.0);
}

/* Every channel gets the same tone; amplitude is the peak in dBFS. */
static float *tone(size_t frames, unsigned channels, unsigned rate,
		   double freq_hz, double peak_dbfs, double phase)
{
	float *x = malloc(frames * channels * sizeof(*x));
	double a = db_to_amp(peak_dbfs);

	assert_non_null(x);
	for (size_t i = 0; i < frames; i++) {
		float v =
		    (float)(a * sin(2.0 * M_PI * freq_hz * (double)i / rate +
				    phase));

		for (unsigned c = 0; c < channels; c++)
			x[i * channels + c] = v;
	}
	return x;
}

static void scale(float *x, size_t n, double gain_db)
{
	float g = (float)db_to_amp(gain_db);

	for (size_t i = 0; i < n; i++)
		x[i] *= g;
}

/* Something with the shape of speech: a gliding 100-180 Hz voice with
 * falling harmonics, syllables at ~4 Hz and a pause every 1.6 s, scaled to
 * the given loudness. Its peak-to-loudness ratio is about 13 dB. */
static float *speech_like(size_t frames, unsigned rate, double lufs)
{
	float *x = malloc(frames * sizeof(*x));
	double phase = 0.0, l, tp;

	assert_non_null(x);
	for (size_t i = 0; i < frames; i++) {
		double t = (double)i / rate;
		double f0 = 140.0 + 40.0 * sin(2.0 * M_PI * 0.7 * t);
		double syl = sin(M_PI * fmod(t * 4.3, 1.0));
		double env = fmod(t, 1.6) < 1.3 ? pow(syl, 3.0) : 0.0;
		double v = 0.0;

		phase += 2.0 * M_PI * f0 / rate;
		for (int k = 1; k <= 20; k++)
			v += sin(k * phase + 0.37 * k * k) / k;
		x[i] = (float)(0.1 * env * v);
	}
	assert_int_equal(loudness_measure(x, frames, 1, rate, &l, &tp), 0);
	scale(x, frames, lufs - l);
	return x;
}

/* EBU Tech 3341 cases 1 and 2, and a full-scale sine for true peak. */
static void test_measure_tech3341(void **state)
{
	static const struct {
		double peak_dbfs, lufs, tp_dbtp, tol;
	} cases[] = {
	    {-23.0, -23.0, -23.0, 0.1},
	    {-33.0, -33.0, -33.0, 0.1},
	    {0.0, 0.0, 0.0, 0.3},
	};
	size_t frames = 20 * RATE;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		float *x =
		    tone(frames, 2, RATE, 1000.0, cases[i].peak_dbfs, 0.0);
		double lufs, tp;

		assert_int_equal(
		    loudness_measure(x, frames, 2, RATE, &lufs, &tp), 0);
		print_message(
		    "  %5.1f dBFS stereo sine: %.3f LUFS, %.3f dBTP\n",
		    cases[i].peak_dbfs, lufs, tp);
		assert_true(fabs(lufs - cases[i].lufs) <= cases[i].tol);
		assert_true(fabs(tp - cases[i].tp_dbtp) <= 0.3);
		free(x);
	}
}

static void test_measure_silence_and_invalid(void **state)
{
	float zeros[RATE] = {0};
	double lufs = 0.0, tp = 0.0;

	(void)state;
	assert_int_equal(loudness_measure(zeros, RATE, 1, RATE, &lufs, &tp), 0);
	assert_true(isinf(lufs) && lufs < 0);
	assert_true(isinf(tp) && tp < 0);
	assert_int_equal(loudness_measure(zeros, RATE, 0, RATE, &lufs, &tp),
			 -EINVAL);
	assert_int_equal(loudness_measure(zeros, RATE, 1, 0, &lufs, &tp),
			 -EINVAL);
}

static void test_normalize_speech(void **state)
{
	size_t n = 6 * RATE, out_n = 0;
	float *x = speech_like(n, RATE, -30.0), *out = NULL;
	struct clip_stats st;
	char err[256] = "";

	(void)state;
	assert_int_equal(process_buffer(x, n, 1, RATE, &defaults, &out, &out_n,
					&st, err, sizeof(err)),
			 0);
	print_message("  speech-like: source %.2f LUFS %.2f dBTP (PLR %.1f), "
		      "gain %.2f dB -> %.2f LUFS %.2f dBTP\n",
		      st.source_lufs, st.source_peak_dbtp,
		      st.source_peak_dbtp - st.source_lufs, st.gain_db, st.lufs,
		      st.true_peak_dbtp);
	assert_int_equal(out_n, n);
	assert_true(fabs(st.source_lufs + 30.0) < 0.05);
	assert_true(st.source_peak_dbtp - st.source_lufs > 11.0);
	assert_true(st.source_peak_dbtp - st.source_lufs < 16.0);
	assert_false(st.peak_limited);
	assert_false(st.too_short);
	assert_true(fabs(st.gain_db - 12.0) < 0.05);
	assert_true(fabs(st.lufs - defaults.target_lufs) <= 0.5);
	assert_true(st.true_peak_dbtp <= defaults.ceiling_dbtp + 0.1);
	assert_int_equal(st.source_rate, RATE);
	assert_int_equal(st.source_channels, 1);
	assert_true(fabs(st.duration_s - 6.0) < 1e-9);
	free(out);
	free(x);
}

/* A click on a quiet tone, and speech pushed to a target the ceiling
 * cannot allow: gain stops at the ceiling, short of the target. */
static void test_peak_capped(void **state)
{
	static const double targets[] = {-18.0, -8.0};
	size_t n = 4 * RATE;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(targets); i++) {
		struct process_settings s = defaults;
		float *x, *out = NULL;
		size_t out_n;
		struct clip_stats st;
		char err[256] = "";

		s.target_lufs = targets[i];
		if (i == 0) {
			x = tone(n, 1, RATE, 440.0, -40.0, 0.0);
			for (size_t k = RATE; k < n; k += RATE)
				x[k] = 0.9f;
		} else {
			x = speech_like(n, RATE, -30.0);
		}
		assert_int_equal(process_buffer(x, n, 1, RATE, &s, &out, &out_n,
						&st, err, sizeof(err)),
				 0);
		print_message("  capped (target %.0f): %.2f LUFS %.2f dBTP\n",
			      s.target_lufs, st.lufs, st.true_peak_dbtp);
		assert_true(st.peak_limited);
		assert_true(st.true_peak_dbtp <= s.ceiling_dbtp + 0.1);
		assert_true(st.true_peak_dbtp >= s.ceiling_dbtp - 0.5);
		assert_true(st.lufs < s.target_lufs - 1.0);
		assert_true(fabs(st.gain_db - (s.ceiling_dbtp -
					       st.source_peak_dbtp)) < 1e-9);
		free(out);
		free(x);
	}
}

/* Mono is the average of the channels: one silent channel costs 6 dB,
 * opposite channels cancel. */
static void test_stereo_mixes_to_mono(void **state)
{
	size_t n = 2 * RATE, out_n;
	float *mono = tone(n, 1, RATE, 1000.0, -20.0, 0.0);
	float *st2 = tone(n, 2, RATE, 1000.0, -20.0, 0.0), *out = NULL;
	double mono_lufs, tp;
	struct clip_stats st;
	char err[256] = "";

	(void)state;
	assert_int_equal(loudness_measure(mono, n, 1, RATE, &mono_lufs, &tp),
			 0);

	assert_int_equal(process_buffer(st2, n, 2, RATE, &defaults, &out,
					&out_n, &st, err, sizeof(err)),
			 0);
	assert_int_equal(st.source_channels, 2);
	assert_int_equal(out_n, n);
	assert_true(fabs(st.source_lufs - mono_lufs) < 0.01);
	free(out);

	for (size_t i = 0; i < n; i++)
		st2[2 * i + 1] = 0.0f;
	assert_int_equal(process_buffer(st2, n, 2, RATE, &defaults, &out,
					&out_n, &st, err, sizeof(err)),
			 0);
	assert_true(fabs(st.source_lufs - (mono_lufs - 20.0 * log10(2.0))) <
		    0.01);
	free(out);

	for (size_t i = 0; i < n; i++)
		st2[2 * i + 1] = -st2[2 * i];
	out = NULL;
	assert_true(process_buffer(st2, n, 2, RATE, &defaults, &out, &out_n,
				   &st, err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "silent"));
	assert_null(out);
	free(st2);
	free(mono);
}

/* Upward zero crossings of a tone give its frequency. */
static size_t crossings(const float *x, size_t from, size_t to)
{
	size_t n = 0;

	for (size_t i = from + 1; i < to; i++)
		n += x[i - 1] < 0.0f && x[i] >= 0.0f;
	return n;
}

static void test_resample(void **state)
{
	static const unsigned rates[] = {44100, 22050, 8000, 96000, 11025};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(rates); i++) {
		size_t n = 2 * rates[i], out_n;
		float *x = tone(n, 1, rates[i], 1000.0, -20.0, 0.0), *out;
		struct clip_stats st;
		char err[256] = "";
		size_t zc;

		assert_int_equal(process_buffer(x, n, 1, rates[i], &defaults,
						&out, &out_n, &st, err,
						sizeof(err)),
				 0);
		/* 0.1 s to 1.9 s: 1800 cycles of 1 kHz */
		zc = crossings(out, RATE / 10, RATE * 19 / 10);
		print_message("  %u -> %u Hz: %zu frames, %zu crossings in "
			      "1.8 s, %.2f LUFS\n",
			      rates[i], RATE, out_n, zc, st.lufs);
		assert_true(out_n >= 2 * RATE - 1 && out_n <= 2 * RATE + 1);
		assert_true(zc >= 1799 && zc <= 1801);
		assert_int_equal(st.source_rate, rates[i]);
		assert_true(fabs(st.lufs - defaults.target_lufs) <= 0.5);
		free(out);
		free(x);
	}
}

static void test_fades(void **state)
{
	static const double fades_ms[] = {5.0, 20.0, 0.0};
	size_t n = RATE;

	(void)state;
	for (size_t f = 0; f < ARRAY_SIZE(fades_ms); f++) {
		struct process_settings s = defaults;
		/* a cosine starts at full amplitude: worst case for a click */
		float *x = tone(n, 1, RATE, 1000.0, -20.0, M_PI / 2), *out;
		size_t out_n, fade = (size_t)(fades_ms[f] * RATE / 1000);
		struct clip_stats st;
		char err[256] = "";
		double g, prev = 0.0;

		s.fade_ms = fades_ms[f];
		assert_int_equal(process_buffer(x, n, 1, RATE, &s, &out, &out_n,
						&st, err, sizeof(err)),
				 0);
		g = db_to_amp(st.gain_db);
		if (fade) {
			assert_true(fabs(out[0]) < 1e-6);
			assert_true(fabs(out[n - 1]) < 1e-6);
		} else {
			assert_true(fabs(out[0] - g * x[0]) < 1e-5);
		}
		/* the envelope out/(g*in) rises monotonically to 1 */
		for (size_t i = 0; i < fade + 200; i++) {
			double env;

			if (fabs(x[i]) < 0.02)
				continue;
			env = out[i] / (g * x[i]);
			assert_true(env >= prev - 1e-4);
			assert_true(env <= 1.0 + 1e-4);
			if (i >= fade)
				assert_true(fabs(env - 1.0) < 1e-4);
			prev = env;
		}
		/* and falls back at the end */
		prev = 1.0;
		for (size_t i = n - fade - 200; i < n; i++) {
			double env;

			if (fabs(x[i]) < 0.02)
				continue;
			env = out[i] / (g * x[i]);
			assert_true(env <= prev + 1e-4);
			prev = env;
		}
		free(out);
		free(x);
	}
}

static void test_refusals(void **state)
{
	static const struct {
		const char *name;
		size_t frames;
		unsigned channels, rate;
		double peak_dbfs; /* -INFINITY: zeros; NAN: a NaN inside */
		int ret;
		const char *err;
	} cases[] = {
	    {"silence", RATE, 1, RATE, -INFINITY, -ENODATA, "silent"},
	    {"under the gate", RATE, 2, RATE, -80.0, -ENODATA, "silent"},
	    {"short silence", RATE / 10, 1, RATE, -INFINITY, -ENODATA,
	     "silent"},
	    {"zero frames", 0, 1, RATE, -20.0, -ENODATA, "no audio frames"},
	    {"no channels", RATE, 0, RATE, -20.0, -EINVAL, "channels"},
	    {"no rate", RATE, 1, 0, -20.0, -EINVAL, "Hz"},
	    {"NaN", RATE, 1, RATE, NAN, -EINVAL, "invalid samples"},
	    {"10 min 1 s", 601 * 1000, 1, 1000, -20.0, -EFBIG,
	     "longer than 10 minutes"},
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		size_t n = cases[i].frames;
		unsigned ch = cases[i].channels ? cases[i].channels : 1;
		float *x = calloc(n * ch + 1, sizeof(*x)), *out = NULL;
		size_t out_n = 0;
		struct clip_stats st;
		char err[256] = "";
		int r;

		assert_non_null(x);
		if (isnan(cases[i].peak_dbfs)) {
			free(x);
			x = tone(n, ch, cases[i].rate, 440.0, -20.0, 0.0);
			x[n / 2] = NAN;
		} else if (isfinite(cases[i].peak_dbfs) && cases[i].rate) {
			free(x);
			x = tone(n ? n : 1, ch, cases[i].rate, 440.0,
				 cases[i].peak_dbfs, 0.0);
		}
		r = process_buffer(x, n, cases[i].channels, cases[i].rate,
				   &defaults, &out, &out_n, &st, err,
				   sizeof(err));
		print_message("  %s: %d \"%s\"\n", cases[i].name, r, err);
		assert_int_equal(r, cases[i].ret);
		assert_non_null(strstr(err, cases[i].err));
		assert_null(out);
		free(x);
	}
}

static void test_bad_settings(void **state)
{
	struct process_settings s = defaults;
	float *x = tone(RATE, 1, RATE, 440.0, -20.0, 0.0), *out = NULL;
	size_t out_n;
	struct clip_stats st;
	char err[256] = "";

	(void)state;
	s.rate = 0;
	assert_int_equal(process_buffer(x, RATE, 1, RATE, &s, &out, &out_n, &st,
					err, sizeof(err)),
			 -EINVAL);
	s = defaults;
	s.fade_ms = -1.0;
	assert_int_equal(
	    process_buffer(x, RATE, 1, RATE, &s, &out, &out_n, &st, NULL, 0),
	    -EINVAL);
	s = defaults;
	s.target_lufs = NAN;
	assert_int_equal(process_file("/nonexistent", &s, &out, &out_n, &st,
				      err, sizeof(err)),
			 -EINVAL);
	assert_null(out);
	free(x);
}

/* Under 400 ms there is no gated block; the loudness must still agree with
 * a long measurement of the same sound. */
static void test_too_short(void **state)
{
	static const double lengths_ms[] = {200.0, 399.0, 5.0};
	size_t long_n = 2 * RATE;
	float *ref = tone(long_n, 1, RATE, 1000.0, -20.0, 0.0);
	double ref_lufs, tp;

	(void)state;
	assert_int_equal(loudness_measure(ref, long_n, 1, RATE, &ref_lufs, &tp),
			 0);
	for (size_t i = 0; i < ARRAY_SIZE(lengths_ms); i++) {
		size_t n = (size_t)(lengths_ms[i] * RATE / 1000), out_n;
		float *out;
		struct clip_stats st;
		char err[256] = "";

		assert_int_equal(process_buffer(ref, n, 1, RATE, &defaults,
						&out, &out_n, &st, err,
						sizeof(err)),
				 0);
		print_message("  %.0f ms: source %.2f LUFS (2 s: %.2f), out "
			      "%.2f LUFS %.2f dBTP\n",
			      lengths_ms[i], st.source_lufs, ref_lufs, st.lufs,
			      st.true_peak_dbtp);
		assert_true(st.too_short);
		assert_true(isfinite(st.source_lufs) && isfinite(st.lufs));
		assert_true(fabs(st.source_lufs - ref_lufs) < 0.8);
		assert_true(st.true_peak_dbtp <= defaults.ceiling_dbtp + 0.1);
		if (lengths_ms[i] >= 100.0) {
			assert_true(fabs(st.source_lufs - ref_lufs) < 0.3);
			assert_true(fabs(st.lufs - defaults.target_lufs) <=
				    0.5);
		}
		free(out);
	}
	free(ref);
}

static int rm_entry(const char *path, const struct stat *sb, int type,
		    struct FTW *ftw)
{
	(void)sb;
	(void)type;
	(void)ftw;
	return remove(path);
}

static int group_setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/bh-test-process-XXXXXX");
	if (!mkdtemp(f->dir)) {
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int group_teardown(void **state)
{
	struct fixture *f = *state;

	nftw(f->dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

static int write_sound(const char *path, int format, unsigned rate,
		       unsigned channels, const float *x, size_t frames)
{
	SF_INFO info = {.samplerate = (int)rate,
			.channels = (int)channels,
			.format = format};
	SNDFILE *sf;
	sf_count_t w;

	if (!sf_format_check(&info))
		return -ENOTSUP;
	sf = sf_open(path, SFM_WRITE, &info);
	if (!sf)
		return -ENOTSUP;
	w = sf_writef_float(sf, x, (sf_count_t)frames);
	sf_close(sf);
	return w == (sf_count_t)frames ? 0 : -EIO;
}

static bool have_program(const char *name)
{
	const char *path = getenv("PATH");
	char buf[512];

	while (path && *path) {
		size_t len = strcspn(path, ":");

		snprintf(buf, sizeof(buf), "%.*s/%s", (int)len, path, name);
		if (access(buf, X_OK) == 0)
			return true;
		path += len + (path[len] == ':');
	}
	return false;
}

static void test_file_formats(void **state)
{
	static const struct {
		const char *name;
		int format;
		unsigned rate, channels;
		bool optional; /* not every libsndfile build writes it */
	} cases[] = {
	    {"a.wav", SF_FORMAT_WAV | SF_FORMAT_PCM_16, 44100, 2, false},
	    {"b.flac", SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 22050, 1, false},
	    {"c.ogg", SF_FORMAT_OGG | SF_FORMAT_VORBIS, 48000, 2, false},
	    {"d.opus", SF_FORMAT_OGG | SF_FORMAT_OPUS, 48000, 1, true},
	    {"e.mp3", SF_FORMAT_MPEG | SF_FORMAT_MPEG_LAYER_III, 44100, 2,
	     true},
	    {"f.wav", SF_FORMAT_WAV | SF_FORMAT_FLOAT, 96000, 6, false},
	};
	struct fixture *fx = *state;

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		unsigned rate = cases[i].rate, ch = cases[i].channels;
		size_t n = 3 * rate, out_n;
		float *mono = speech_like(n, rate, -28.0), *out;
		float *x = malloc(n * ch * sizeof(*x));
		struct clip_stats st;
		char path[128], err[256] = "";
		int r;

		assert_non_null(x);
		for (size_t k = 0; k < n * ch; k++)
			x[k] = mono[k / ch];
		snprintf(path, sizeof(path), "%s/%s", fx->dir, cases[i].name);
		r = write_sound(path, cases[i].format, rate, ch, x, n);
		if (r == -ENOTSUP && cases[i].optional) {
			print_message("  %s: this libsndfile cannot write it, "
				      "skipped\n",
				      cases[i].name);
			free(x);
			free(mono);
			continue;
		}
		assert_int_equal(r, 0);
		r = process_file(path, &defaults, &out, &out_n, &st, err,
				 sizeof(err));
		print_message("  %s: %d %s; %u Hz %u ch, %.3f s, %.2f -> "
			      "%.2f LUFS, %.2f dBTP\n",
			      cases[i].name, r, err, st.source_rate,
			      st.source_channels, st.duration_s, st.source_lufs,
			      st.lufs, st.true_peak_dbtp);
		assert_int_equal(r, 0);
		assert_int_equal(st.source_rate, rate);
		assert_int_equal(st.source_channels, ch);
		/* lossy codecs may add priming frames */
		assert_true(fabs(st.duration_s - 3.0) < 0.1);
		assert_true(fabs((double)out_n / RATE - st.duration_s) < 1e-9);
		assert_true(fabs(st.source_lufs + 28.0) < 0.5);
		assert_true(fabs(st.lufs - defaults.target_lufs) <= 0.5);
		assert_true(st.true_peak_dbtp <= defaults.ceiling_dbtp + 0.1);
		free(out);
		free(x);
		free(mono);
	}
}

static size_t open_fds(void)
{
	size_t n = 0;

	for (int fd = 0; fd < 1024; fd++)
		n += fcntl(fd, F_GETFD) >= 0;
	return n;
}

/* Refused files, each with the reason a volunteer would be shown; no fd
 * may be left open behind any of them. */
static void test_file_errors(void **state)
{
	enum { GARBAGE, EMPTY, FOLDER, NO_FRAMES, MISSING, TOO_LONG };
	static const struct {
		const char *name;
		int kind, ret;
		const char *err;
	} cases[] = {
	    {"garbage.wav", GARBAGE, -EINVAL,
	     "not a recording libsndfile can read ("},
	    {"empty.ogg", EMPTY, -EINVAL,
	     "not a recording libsndfile can read ("},
	    {"folder.wav", FOLDER, -EINVAL,
	     "not a recording libsndfile can read ("},
	    {"no-frames.wav", NO_FRAMES, -ENODATA, "holds no audio frames"},
	    {"missing.wav", MISSING, -ENOENT, "No such file"},
	    /* 601 s at 1 kHz: a small file over the limit */
	    {"long.wav", TOO_LONG, -EFBIG, "longer than 10 minutes"},
	};
	struct fixture *fx = *state;
	size_t fds = open_fds();

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		unsigned char junk[4096];
		char path[128], err[256] = "";
		float *x, *out = NULL, none = 0.0f;
		size_t out_n;
		struct clip_stats st;
		FILE *fp;
		int r;

		snprintf(path, sizeof(path), "%s/%s", fx->dir, cases[i].name);
		switch (cases[i].kind) {
		case GARBAGE:
		case EMPTY:
			for (size_t k = 0; k < sizeof(junk); k++)
				junk[k] =
				    (unsigned char)(k * 2654435761u >> 13);
			fp = fopen(path, "wb");
			assert_non_null(fp);
			if (cases[i].kind == GARBAGE)
				assert_int_equal(
				    fwrite(junk, 1, sizeof(junk), fp),
				    sizeof(junk));
			fclose(fp);
			break;
		case FOLDER:
			assert_int_equal(mkdir(path, 0700), 0);
			break;
		case NO_FRAMES:
			assert_int_equal(
			    write_sound(path, SF_FORMAT_WAV | SF_FORMAT_PCM_16,
					44100, 2, &none, 0),
			    0);
			break;
		case TOO_LONG:
			x = tone(601 * 1000, 1, 1000, 100.0, -20.0, 0.0);
			assert_int_equal(
			    write_sound(path, SF_FORMAT_WAV | SF_FORMAT_PCM_16,
					1000, 1, x, 601 * 1000),
			    0);
			free(x);
			break;
		default:
			break;
		}
		r = process_file(path, &defaults, &out, &out_n, &st, err,
				 sizeof(err));
		print_message("  %s: %d \"%s\"\n", cases[i].name, r, err);
		assert_int_equal(r, cases[i].ret);
		assert_non_null(strstr(err, cases[i].err));
		assert_null(out);
		assert_int_equal(open_fds(), fds);
	}
}

static void test_file_espeak(void **state)
{
	struct fixture *fx = *state;
	char path[128], cmd[256], err[256] = "";
	float *out;
	size_t out_n;
	struct clip_stats st;

	if (!have_program("espeak-ng")) {
		print_message("  espeak-ng not installed, skipped\n");
		skip();
	}
	snprintf(path, sizeof(path), "%s/espeak.wav", fx->dir);
	snprintf(cmd, sizeof(cmd),
		 "espeak-ng -w '%s' 'You have the right to remain silent.' "
		 ">/dev/null 2>&1",
		 path);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(
	    process_file(path, &defaults, &out, &out_n, &st, err, sizeof(err)),
	    0);
	print_message("  espeak-ng: %u Hz, %.2f s, %.2f LUFS %.2f dBTP -> "
		      "gain %.2f dB -> %.2f LUFS %.2f dBTP%s\n",
		      st.source_rate, st.duration_s, st.source_lufs,
		      st.source_peak_dbtp, st.gain_db, st.lufs,
		      st.true_peak_dbtp, st.peak_limited ? " (capped)" : "");
	assert_true(st.duration_s > 1.0);
	assert_true(st.true_peak_dbtp <= defaults.ceiling_dbtp + 0.1);
	if (!st.peak_limited)
		assert_true(fabs(st.lufs - defaults.target_lufs) <= 0.5);
	free(out);
}

/* ffmpeg's ebur128 filter is an independent implementation of the same
 * standard: it must agree with what we claim to have produced. */
static void test_ffmpeg_meter(void **state)
{
	struct fixture *fx = *state;
	size_t n = 8 * RATE, out_n;
	float *x = speech_like(n, RATE, -31.0), *out;
	struct clip_stats st;
	char path[128], cmd[320], line[512], err[256] = "";
	double ff_i = NAN, ff_peak = NAN;
	bool summary = false;
	FILE *p;

	if (!have_program("ffmpeg")) {
		free(x);
		print_message("  ffmpeg not installed, independent meter "
			      "check skipped\n");
		skip();
	}
	assert_int_equal(process_buffer(x, n, 1, RATE, &defaults, &out, &out_n,
					&st, err, sizeof(err)),
			 0);
	snprintf(path, sizeof(path), "%s/out.wav", fx->dir);
	assert_int_equal(write_sound(path, SF_FORMAT_WAV | SF_FORMAT_FLOAT,
				     RATE, 1, out, out_n),
			 0);
	snprintf(cmd, sizeof(cmd),
		 "ffmpeg -nostats -hide_banner -i '%s' -af ebur128=peak=true "
		 "-f null - 2>&1",
		 path);
	p = popen(cmd, "r");
	assert_non_null(p);
	while (fgets(line, sizeof(line), p)) {
		const char *v;

		/* per-frame lines also carry "I:"; only the summary counts */
		if (strstr(line, "Summary:"))
			summary = true;
		if (!summary)
			continue;
		if ((v = strstr(line, "I:")))
			ff_i = strtod(v + 2, NULL);
		else if ((v = strstr(line, "Peak:")))
			ff_peak = strtod(v + 5, NULL);
	}
	assert_int_equal(pclose(p), 0);
	print_message("  ffmpeg: I %.1f LUFS, peak %.1f dBTP; ours %.2f LUFS "
		      "%.2f dBTP\n",
		      ff_i, ff_peak, st.lufs, st.true_peak_dbtp);
	assert_true(fabs(ff_i - defaults.target_lufs) <= 0.5);
	assert_true(ff_peak <= defaults.ceiling_dbtp + 0.1);
	assert_true(fabs(ff_i - st.lufs) <= 0.2);
	free(out);
	free(x);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_measure_tech3341),
	    cmocka_unit_test(test_measure_silence_and_invalid),
	    cmocka_unit_test(test_normalize_speech),
	    cmocka_unit_test(test_peak_capped),
	    cmocka_unit_test(test_stereo_mixes_to_mono),
	    cmocka_unit_test(test_resample),
	    cmocka_unit_test(test_fades),
	    cmocka_unit_test(test_refusals),
	    cmocka_unit_test(test_bad_settings),
	    cmocka_unit_test(test_too_short),
	    cmocka_unit_test(test_file_formats),
	    cmocka_unit_test(test_file_errors),
	    cmocka_unit_test(test_file_espeak),
	    cmocka_unit_test(test_ffmpeg_meter),
	};

	return cmocka_run_group_tests_name("process", tests, group_setup,
					   group_teardown);
}
