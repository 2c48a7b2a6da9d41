/* Unit tests for the processing chain: loudness meter against EBU Tech 3341
 * cases 1-5, normalization, the true-peak limiter on speech with a high
 * peak-to-loudness ratio, the high-pass, trimming, the source statistics
 * (format, clipping, noise floor), mono mix, resampling, fades, refusals,
 * real files in several formats, and an independent check with ffmpeg's
 * ebur128 meter when ffmpeg is installed. */
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
#include <time.h>
#include <unistd.h>

#include <sndfile.h>

#include "process.h"
#include "util.h"

#define RATE 48000

/* The plain chain: no high-pass, no trimming. */
static const struct process_settings defaults = {
    .rate = RATE,
    .target_lufs = -18.0,
    .ceiling_dbtp = -1.0,
    .fade_ms = 5.0,
};

/* The whole chain, at a loud outdoor target. */
static const struct process_settings full = {
    .rate = RATE,
    .target_lufs = -16.0,
    .ceiling_dbtp = -1.0,
    .fade_ms = 5.0,
    .highpass_hz = 120.0,
    .trim_db = -40.0,
    .trim_pad_ms = 100.0,
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
 * falling harmonics, syllables at ~4.3 Hz and a pause every 1.6 s. With
 * glottal pulses (harmonics in phase) and every fifth syllable stressed
 * by stress_db the waveform is as peaky as real speech. */
static float *voice(size_t frames, unsigned rate, bool pulses, double stress_db)
{
	float *x = malloc(frames * sizeof(*x));
	double phase = 0.0, stress = db_to_amp(stress_db);

	assert_non_null(x);
	for (size_t i = 0; i < frames; i++) {
		double t = (double)i / rate;
		double f0 = 140.0 + 40.0 * sin(2.0 * M_PI * 0.7 * t);
		double syl = sin(M_PI * fmod(t * 4.3, 1.0));
		double env = fmod(t, 1.6) < 1.3 ? pow(syl, 3.0) : 0.0;
		double v = 0.0;

		if ((long)(t * 4.3) % 5 == 2)
			env *= stress;
		phase += 2.0 * M_PI * f0 / rate;
		for (int k = 1; k <= 20; k++)
			v += (pulses ? cos(k * phase)
				     : sin(k * phase + 0.37 * k * k)) /
			     k;
		x[i] = (float)(0.05 * env * v);
	}
	return x;
}

static void scale_to(float *x, size_t frames, unsigned rate, double lufs)
{
	double l, tp;

	assert_int_equal(loudness_measure(x, frames, 1, rate, &l, &tp), 0);
	scale(x, frames, lufs - l);
}

/* Scaled to the given loudness; peak-to-loudness ratio about 13.5 dB. */
static float *speech_like(size_t frames, unsigned rate, double lufs)
{
	float *x = voice(frames, rate, false, 0.0);

	scale_to(x, frames, rate, lufs);
	return x;
}

/* Peak-to-loudness ratio about 20 dB, like real speech, and like it from
 * short bursts well above the voice (plosives: 3 ms at 1.5 kHz, at the
 * start of every syllable) rather than from every pitch period: at -16
 * LUFS its peaks would reach +4 dBTP. */
static float *speech_peaky(size_t frames, unsigned rate, double lufs)
{
	float *x = voice(frames, rate, false, 0.0);
	size_t len = rate * 3 / 1000;
	double a = db_to_amp(-3.0);

	scale_to(x, frames, rate, -25.0);
	for (long k = 0;; k++) {
		double t = (k + 0.1) / 4.3;
		size_t at = (size_t)lround(t * rate);

		if (at + len > frames)
			break;
		if (fmod(t, 1.6) >= 1.3)
			continue;
		for (size_t j = 0; j < len; j++)
			x[at + j] += (float)(a * sin(M_PI * (double)j / len) *
					     sin(2.0 * M_PI * 1500.0 *
						 (double)j / rate));
	}
	scale_to(x, frames, rate, lufs);
	return x;
}

/* Adds white noise (deterministic) at the given RMS level. */
static void add_noise(float *x, size_t n, double rms_dbfs)
{
	/* uniform in [-a, a] has RMS a / sqrt(3) */
	double a = db_to_amp(rms_dbfs) * sqrt(3.0);
	uint32_t r = 2463534242u;

	for (size_t i = 0; i < n; i++) {
		r ^= r << 13;
		r ^= r >> 17;
		r ^= r << 5;
		x[i] += (float)(a * ((double)r / 2147483647.5 - 1.0));
	}
}

static double rms_db(const float *x, size_t n)
{
	double sum = 0.0;

	for (size_t i = 0; i < n; i++)
		sum += (double)x[i] * x[i];
	return 10.0 * log10(sum / (double)n);
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* A stereo 1 kHz sine, continuous across steps of level (dBFS peak). */
static float *tone_steps(const double *dbfs, const double *secs, size_t steps,
			 size_t *frames)
{
	size_t n = 0, at = 0;
	float *x;

	for (size_t k = 0; k < steps; k++)
		n += (size_t)lround(secs[k] * RATE);
	x = malloc(2 * n * sizeof(*x));
	assert_non_null(x);
	for (size_t k = 0; k < steps; k++) {
		size_t len = (size_t)lround(secs[k] * RATE);
		double a = db_to_amp(dbfs[k]);

		for (size_t i = at; i < at + len; i++)
			x[2 * i] = x[2 * i + 1] =
			    (float)(a * sin(2.0 * M_PI * 1000.0 * (double)i /
					    RATE));
		at += len;
	}
	*frames = n;
	return x;
}

/* EBU Tech 3341 (2016) cases 1-5, and a full-scale sine for true peak. */
static void test_measure_tech3341(void **state)
{
	static const struct {
		const char *name;
		size_t steps;
		double dbfs[5], secs[5];
		double lufs, tp_dbtp, tol;
	} cases[] = {
	    {"case 1", 1, {-23.0}, {20.0}, -23.0, -23.0, 0.1},
	    {"case 2", 1, {-33.0}, {20.0}, -33.0, -33.0, 0.1},
	    {"case 3",
	     3,
	     {-36.0, -23.0, -36.0},
	     {10.0, 60.0, 10.0},
	     -23.0,
	     -23.0,
	     0.1},
	    {"case 4",
	     5,
	     {-72.0, -36.0, -23.0, -36.0, -72.0},
	     {10.0, 10.0, 60.0, 10.0, 10.0},
	     -23.0,
	     -23.0,
	     0.1},
	    {"case 5",
	     3,
	     {-26.0, -20.0, -26.0},
	     {20.0, 20.1, 20.0},
	     -23.0,
	     -20.0,
	     0.1},
	    {"0 dBFS", 1, {0.0}, {20.0}, 0.0, 0.0, 0.3},
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		size_t frames;
		float *x = tone_steps(cases[i].dbfs, cases[i].secs,
				      cases[i].steps, &frames);
		double lufs, tp;

		assert_int_equal(
		    loudness_measure(x, frames, 2, RATE, &lufs, &tp), 0);
		print_message("  %-7s %5.1f s: %.3f LUFS (%+.3f), %.3f dBTP\n",
			      cases[i].name, (double)frames / RATE, lufs,
			      lufs - cases[i].lufs, tp);
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

/* Clicks on a quiet tone: transients, which the limiter may cut as deep as
 * it needs, so the target is reached. Speech pushed to a target the
 * ceiling cannot allow even with the limiter: the gain stops where the
 * limiter would have to cut the speech's sustained peaks by more than
 * 12 dB, short of the target. */
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
		print_message("  %s (target %.0f): gain %.2f dB, limiter "
			      "%.2f dB -> %.2f LUFS %.2f dBTP\n",
			      i == 0 ? "clicks" : "capped", s.target_lufs,
			      st.gain_db, st.limiter_db, st.lufs,
			      st.true_peak_dbtp);
		assert_true(st.true_peak_dbtp <= s.ceiling_dbtp + 0.1);
		assert_true(st.true_peak_dbtp >= s.ceiling_dbtp - 0.5);
		if (i == 0) {
			assert_false(st.peak_limited);
			assert_true(fabs(st.lufs - s.target_lufs) <= 0.1);
			assert_true(st.limiter_db < -12.0);
		} else {
			assert_true(st.peak_limited);
			assert_true(st.lufs < s.target_lufs - 1.0);
			assert_true(fabs(st.limiter_db + 12.0) < 0.3);
			assert_true(fabs(st.gain_db -
					 (s.ceiling_dbtp - st.source_peak_dbtp +
					  12.0)) < 0.3);
		}
		free(out);
		free(x);
	}
}

/* Speech as peaky as real speech (PLR ~20 dB) to -16 LUFS under a -1 dBTP
 * ceiling: only the limiter can get it there. The high-pass takes some of
 * the glottal pulses' peaks away; without it the limiter works harder. */
static void test_limiter_speech(void **state)
{
	static const double highpass_hz[] = {120.0, 0.0};
	size_t n = 10 * RATE, out_n;
	float *x = speech_peaky(n, RATE, -30.0), *out;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(highpass_hz); i++) {
		struct process_settings s = full;
		struct clip_stats st;
		char err[256] = "";
		double lufs, tp;

		s.highpass_hz = highpass_hz[i];
		assert_int_equal(process_buffer(x, n, 1, RATE, &s, &out, &out_n,
						&st, err, sizeof(err)),
				 0);
		print_message("  PLR %.1f dB, high-pass %.0f Hz: gain %.2f dB, "
			      "limiter %.2f dB -> %.2f LUFS (%+.2f), %.2f "
			      "dBTP\n",
			      st.source_peak_dbtp - st.source_lufs,
			      s.highpass_hz, st.gain_db, st.limiter_db, st.lufs,
			      st.lufs - s.target_lufs, st.true_peak_dbtp);
		assert_true(st.source_peak_dbtp - st.source_lufs > 19.0);
		assert_true(st.source_peak_dbtp - st.source_lufs < 21.0);
		assert_true(fabs(st.lufs - s.target_lufs) <= 0.5);
		assert_true(st.true_peak_dbtp <= s.ceiling_dbtp + 0.1);
		assert_true(st.limiter_db < 0.0);
		assert_true(st.limiter_db >= -12.0);
		assert_false(st.peak_limited);
		/* the stats describe the samples handed back */
		assert_int_equal(
		    loudness_measure(out, out_n, 1, RATE, &lufs, &tp), 0);
		assert_true(fabs(lufs - st.lufs) < 0.01);
		assert_true(fabs(tp - st.true_peak_dbtp) < 0.01);
		assert_true(fabs((double)out_n / RATE - st.duration_s) < 1e-9);
		free(out);
	}
	free(x);
}

/* Through the high-pass alone (no limiting, gain divided out): the level of
 * a steady tone after it, relative to before. */
static double highpass_response_db(double freq_hz, double corner_hz)
{
	struct process_settings s = defaults;
	size_t n = 2 * RATE, out_n;
	float *x = tone(n, 1, RATE, freq_hz, -6.0, 0.0), *out;
	struct clip_stats st;
	char err[256] = "";
	double db;

	/* quiet target and a high ceiling keep the limiter out of it */
	s.target_lufs = -40.0;
	s.ceiling_dbtp = 0.0;
	s.highpass_hz = corner_hz;
	assert_int_equal(process_buffer(x, n, 1, RATE, &s, &out, &out_n, &st,
					err, sizeof(err)),
			 0);
	assert_true(st.limiter_db == 0.0);
	/* the second half: the filter has settled, the fades are far */
	db =
	    rms_db(out + n / 2, n / 2 - RATE / 100) - rms_db(x, n) - st.gain_db;
	free(out);
	free(x);
	return db;
}

static void test_highpass(void **state)
{
	static const struct {
		double freq_hz, corner_hz, min_db, max_db;
	} cases[] = {
	    {1000.0, 150.0, -0.05, 0.05}, {150.0, 150.0, -3.2, -2.8},
	    {75.0, 150.0, -24.5, -23.5},  {50.0, 150.0, -39.0, -37.5},
	    {50.0, 0.0, -0.05, 0.05},
	};
	double db[ARRAY_SIZE(cases)];
	float *x = tone(RATE, 1, RATE, 20.0, -20.0, 0.0), *out = NULL;
	struct process_settings s = defaults;
	struct clip_stats st;
	char err[256] = "";
	size_t out_n;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		db[i] =
		    highpass_response_db(cases[i].freq_hz, cases[i].corner_hz);
		print_message("  %4.0f Hz through %3.0f Hz high-pass: %+.2f "
			      "dB\n",
			      cases[i].freq_hz, cases[i].corner_hz, db[i]);
		assert_true(db[i] >= cases[i].min_db);
		assert_true(db[i] <= cases[i].max_db);
	}
	/* 24 dB/octave: 50 Hz at least 30 dB under 1 kHz */
	assert_true(db[3] - db[0] <= -30.0);

	/* nothing left but rumble */
	s.highpass_hz = 150.0;
	assert_int_equal(process_buffer(x, RATE, 1, RATE, &s, &out, &out_n, &st,
					err, sizeof(err)),
			 -ENODATA);
	print_message("  20 Hz only: \"%s\"\n", err);
	assert_non_null(strstr(err, "no sound above 150 Hz"));
	assert_null(out);
	free(x);
}

/* 1 s of quiet, 2 s of speech starting and ending mid-syllable (with 10
 * ms ramps, as a word starts and ends), 1 s of quiet: the speech and the
 * pads are kept. */
static void test_trim(void **state)
{
	static const struct {
		const char *name;
		double quiet_db; /* relative to the speech; -INFINITY: zeros */
		double pad_ms;
	} cases[] = {
	    {"digital silence", -INFINITY, 100.0},
	    {"room noise at -55 dB", -55.0, 100.0},
	    {"no pad", -INFINITY, 0.0},
	    {"long pad", -INFINITY, 400.0},
	};
	/* 0.2 / 4.3 s in, a syllable is loud; 2 s later one is too */
	size_t skip = (size_t)lround(0.2 / 4.3 * RATE), n = 4 * RATE;
	size_t ramp = RATE / 100;
	float *speech = speech_like(2 * RATE + skip, RATE, -25.0);

	(void)state;
	for (size_t k = 0; k < ramp; k++) {
		float w = (float)(0.5 - 0.5 * cos(M_PI * (double)k / ramp));

		speech[skip + k] *= w;
		speech[skip + 2 * RATE - 1 - k] *= w;
	}
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct process_settings s = full;
		float *x = calloc(n, sizeof(*x)), *out;
		struct clip_stats st;
		char err[256] = "";
		double want_s = 2.0 + 2.0 * cases[i].pad_ms / 1000.0;
		size_t out_n;

		assert_non_null(x);
		if (isfinite(cases[i].quiet_db))
			add_noise(x, n, -25.0 + cases[i].quiet_db);
		for (size_t k = 0; k < 2 * RATE; k++)
			x[RATE + k] += speech[skip + k];
		s.trim_pad_ms = cases[i].pad_ms;
		assert_int_equal(process_buffer(x, n, 1, RATE, &s, &out, &out_n,
						&st, err, sizeof(err)),
				 0);
		print_message("  %s, pad %.0f ms: %.3f s kept, %.3f s cut, "
			      "%.2f LUFS\n",
			      cases[i].name, cases[i].pad_ms, st.duration_s,
			      st.trimmed_s, st.lufs);
		assert_true(fabs(st.duration_s - want_s) <= 0.02);
		assert_true(fabs(st.trimmed_s - (4.0 - want_s)) <= 0.02);
		assert_true(fabs(st.duration_s + st.trimmed_s - 4.0) < 1e-9);
		assert_true(fabs(st.source_duration_s - 4.0) < 1e-9);
		assert_true(fabs(st.lufs - s.target_lufs) <= 0.5);
		free(out);
		free(x);
	}
	free(speech);
}

/* When no block passes (a 4 kHz tone reads louder through the K-weighting
 * than its RMS level, so a threshold 1 dB under its loudness is above
 * every block), nothing is cut; trimming off cuts nothing either. */
static void test_trim_keeps_all(void **state)
{
	static const double trims_db[] = {-1.0, 0.0};
	size_t n = 2 * RATE;
	float *x = tone(n, 1, RATE, 4000.0, -20.0, 0.0);

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(trims_db); i++) {
		struct process_settings s = full;
		struct clip_stats st;
		char err[256] = "";
		size_t out_n;
		float *out;

		s.trim_db = trims_db[i];
		assert_int_equal(process_buffer(x, n, 1, RATE, &s, &out, &out_n,
						&st, err, sizeof(err)),
				 0);
		assert_int_equal(out_n, n);
		assert_true(st.trimmed_s == 0.0);
		free(out);
	}
	free(x);
}

/* Runs of 3+ samples at full scale count; touching it once does not. */
static void test_clipping(void **state)
{
	static const struct {
		const char *name;
		double peak_dbfs; /* before clipping at +-1 */
		unsigned channels;
		bool clip_one_channel;
		double min_pct, max_pct, sample_peak_dbfs;
	} cases[] = {
	    {"clean -1 dBFS", -1.0, 1, false, 0.0, 0.0, -1.0},
	    {"touching 0 dBFS", 0.0, 1, false, 0.0, 0.0, 0.0},
	    /* twice full scale: |sin| >= 1/2 two thirds of the time (and
	     * at 1 kHz two of 48 samples a cycle sit at exactly 1/2) */
	    {"+6 dB hard-clipped", 6.0206, 1, false, 65.0, 72.0, 0.0},
	    {"one of two channels clipped", 6.0206, 2, true, 32.0, 36.0, 0.0},
	};
	size_t n = 2 * RATE;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		unsigned ch = cases[i].channels;
		float *x = tone(n, ch, RATE, 1000.0, cases[i].peak_dbfs, 0.0);
		struct clip_stats st;
		char err[256] = "";
		size_t out_n;
		float *out;

		for (size_t k = 0; k < n * ch; k++) {
			if (cases[i].clip_one_channel && k % 2)
				x[k] *= 0.25f;
			x[k] = fminf(fmaxf(x[k], -1.0f), 1.0f);
		}
		assert_int_equal(process_buffer(x, n, ch, RATE, &defaults, &out,
						&out_n, &st, err, sizeof(err)),
				 0);
		print_message("  %s: %.2f%% clipped, sample peak %.2f dBFS\n",
			      cases[i].name, st.clipped_pct,
			      st.source_sample_peak_dbfs);
		assert_true(st.clipped_pct >= cases[i].min_pct);
		assert_true(st.clipped_pct <= cases[i].max_pct);
		assert_true(fabs(st.source_sample_peak_dbfs -
				 cases[i].sample_peak_dbfs) < 0.01);
		free(out);
		free(x);
	}
}

static void test_noise_floor(void **state)
{
	static const struct {
		const char *name;
		size_t ms;
		double noise_db; /* relative to the speech; -INFINITY: none */
		double min_db, max_db;
	} cases[] = {
	    {"clean, silent pauses", 8000, -INFINITY, -100.0, -40.0},
	    {"noise at -20 dB", 8000, -20.0, -26.0, -14.0},
	    {"noise at -30 dB", 8000, -30.0, -36.0, -24.0},
	    {"noise at -10 dB", 8000, -10.0, -16.0, -4.0},
	    {"too short to tell", 900, -20.0, 0.0, 0.0},
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		size_t n = cases[i].ms * RATE / 1000, out_n;
		float *x = speech_like(n, RATE, -23.0), *out;
		struct clip_stats st;
		char err[256] = "";

		if (isfinite(cases[i].noise_db))
			add_noise(x, n, -23.0 + cases[i].noise_db);
		assert_int_equal(process_buffer(x, n, 1, RATE, &full, &out,
						&out_n, &st, err, sizeof(err)),
				 0);
		print_message("  %s: noise floor %.1f dB\n", cases[i].name,
			      st.noise_floor_db);
		assert_true(st.noise_floor_db >= cases[i].min_db);
		assert_true(st.noise_floor_db <= cases[i].max_db);
		free(out);
		free(x);
	}
}

/* Not an assertion on speed: the figure is printed for the record. */
static void test_speed(void **state)
{
	size_t n = 60 * RATE, out_n;
	float *x = speech_peaky(n, RATE, -30.0), *out;
	struct clip_stats st;
	char err[256] = "";
	double t0, ms;

	(void)state;
	add_noise(x, n, -75.0);
	t0 = now_ms();
	assert_int_equal(process_buffer(x, n, 1, RATE, &full, &out, &out_n, &st,
					err, sizeof(err)),
			 0);
	ms = now_ms() - t0;
	print_message("  1 min of 48 kHz speech: %.0f ms (%.2f LUFS, %.2f "
		      "dBTP, limiter %.2f dB)\n",
		      ms, st.lufs, st.true_peak_dbtp, st.limiter_db);
	assert_true(fabs(st.lufs - full.target_lufs) <= 0.5);
	assert_true(st.true_peak_dbtp <= full.ceiling_dbtp + 0.1);
	free(out);
	free(x);
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
	static const struct {
		const char *name;
		size_t offset; /* of the double to set, or of rate */
		double value;
	} cases[] = {
	    {"rate 0", offsetof(struct process_settings, rate), 0.0},
	    {"rate 7999", offsetof(struct process_settings, rate), 7999.0},
	    {"fade -1", offsetof(struct process_settings, fade_ms), -1.0},
	    {"fade 1001", offsetof(struct process_settings, fade_ms), 1001.0},
	    {"target NaN", offsetof(struct process_settings, target_lufs), NAN},
	    {"ceiling inf", offsetof(struct process_settings, ceiling_dbtp),
	     INFINITY},
	    {"high-pass -1", offsetof(struct process_settings, highpass_hz),
	     -1.0},
	    {"high-pass at Nyquist",
	     offsetof(struct process_settings, highpass_hz), 24000.0},
	    {"high-pass NaN", offsetof(struct process_settings, highpass_hz),
	     NAN},
	    {"trim +3 dB", offsetof(struct process_settings, trim_db), 3.0},
	    {"trim -101 dB", offsetof(struct process_settings, trim_db),
	     -101.0},
	    {"trim NaN", offsetof(struct process_settings, trim_db), NAN},
	    {"pad -1", offsetof(struct process_settings, trim_pad_ms), -1.0},
	    {"pad 10001", offsetof(struct process_settings, trim_pad_ms),
	     10001.0},
	};
	float *x = tone(RATE, 1, RATE, 440.0, -20.0, 0.0), *out = NULL;
	size_t out_n;
	struct clip_stats st;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct process_settings s = full;
		char err[256] = "";

		if (cases[i].offset == offsetof(struct process_settings, rate))
			s.rate = (unsigned)cases[i].value;
		else
			memcpy((char *)&s + cases[i].offset, &cases[i].value,
			       sizeof(double));
		print_message("  %s: refused\n", cases[i].name);
		assert_int_equal(process_buffer(x, RATE, 1, RATE, &s, &out,
						&out_n, &st, err, sizeof(err)),
				 -EINVAL);
		assert_non_null(strstr(err, "invalid processing settings"));
		assert_int_equal(process_file("/nonexistent", &s, &out, &out_n,
					      &st, NULL, 0),
				 -EINVAL);
		assert_null(out);
	}
	free(x);
}

/* Under 400 ms there is no gated block; the loudness must still agree with
 * a long measurement of the same sound, plain or through the whole chain,
 * and a short word trimmed out of silence is one too. */
static void test_too_short(void **state)
{
	static const double lengths_ms[] = {200.0, 399.0, 5.0};
	static const struct process_settings *settings[] = {&defaults, &full};
	size_t long_n = 2 * RATE;
	float *ref = tone(long_n, 1, RATE, 1000.0, -20.0, 0.0), *x, *out;
	double ref_lufs, tp;
	struct clip_stats st;
	char err[256] = "";
	size_t out_n;

	(void)state;
	assert_int_equal(loudness_measure(ref, long_n, 1, RATE, &ref_lufs, &tp),
			 0);
	for (size_t k = 0; k < ARRAY_SIZE(settings); k++) {
		const struct process_settings *s = settings[k];

		for (size_t i = 0; i < ARRAY_SIZE(lengths_ms); i++) {
			size_t n = (size_t)(lengths_ms[i] * RATE / 1000);

			assert_int_equal(process_buffer(ref, n, 1, RATE, s,
							&out, &out_n, &st, err,
							sizeof(err)),
					 0);
			print_message("  %.0f ms: source %.2f LUFS (2 s: "
				      "%.2f), out %.2f LUFS %.2f dBTP\n",
				      lengths_ms[i], st.source_lufs, ref_lufs,
				      st.lufs, st.true_peak_dbtp);
			assert_true(st.too_short);
			assert_true(isfinite(st.source_lufs) &&
				    isfinite(st.lufs));
			assert_true(fabs(st.source_lufs - ref_lufs) < 0.8);
			assert_true(st.true_peak_dbtp <= s->ceiling_dbtp + 0.1);
			if (lengths_ms[i] >= 100.0) {
				assert_true(fabs(st.source_lufs - ref_lufs) <
					    0.3);
				assert_true(fabs(st.lufs - s->target_lufs) <=
					    0.5);
			}
			free(out);
		}
	}

	/* 150 ms of tone in 2 s of silence: 350 ms with the pads */
	x = calloc(long_n, sizeof(*x));
	assert_non_null(x);
	memcpy(x + RATE, ref, RATE * 150 / 1000 * sizeof(*x));
	assert_int_equal(process_buffer(x, long_n, 1, RATE, &full, &out, &out_n,
					&st, err, sizeof(err)),
			 0);
	print_message("  150 ms word in 2 s: source %.2f LUFS%s, %.3f s kept "
		      "-> %.2f LUFS%s\n",
		      st.source_lufs, "", st.duration_s, st.lufs,
		      st.too_short ? " (too short)" : "");
	assert_true(st.too_short);
	assert_true(fabs(st.duration_s - 0.35) <= 0.02);
	assert_true(fabs(st.lufs - full.target_lufs) <= 0.5);
	free(out);
	free(x);
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

/* ffmpeg's ebur128 filter is an independent implementation of the same
 * standard. Reads its summary for a file: integrated loudness and true
 * peak. */
static void ffmpeg_meter(const char *path, double *i_lufs, double *peak_dbtp)
{
	char cmd[320], line[512];
	bool summary = false;
	FILE *p;

	*i_lufs = *peak_dbtp = NAN;
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
			*i_lufs = strtod(v + 2, NULL);
		else if ((v = strstr(line, "Peak:")))
			*peak_dbtp = strtod(v + 5, NULL);
	}
	assert_int_equal(pclose(p), 0);
	assert_true(isfinite(*i_lufs) && isfinite(*peak_dbtp));
}

static void test_file_formats(void **state)
{
	static const struct {
		const char *name;
		int format;
		unsigned rate, channels;
		bool optional; /* not every libsndfile build writes it */
		const char *format_name;
	} cases[] = {
	    {"a.wav", SF_FORMAT_WAV | SF_FORMAT_PCM_16, 44100, 2, false,
	     "WAV 16-bit"},
	    {"b.flac", SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 22050, 1, false,
	     "FLAC 16-bit"},
	    {"c.ogg", SF_FORMAT_OGG | SF_FORMAT_VORBIS, 48000, 2, false,
	     "Ogg Vorbis"},
	    {"d.opus", SF_FORMAT_OGG | SF_FORMAT_OPUS, 48000, 1, true,
	     "Ogg Opus"},
	    {"e.mp3", SF_FORMAT_MPEG | SF_FORMAT_MPEG_LAYER_III, 44100, 2, true,
	     "MP3"},
	    {"f.wav", SF_FORMAT_WAV | SF_FORMAT_FLOAT, 96000, 6, false,
	     "WAV float"},
	    {"g.flac", SF_FORMAT_FLAC | SF_FORMAT_PCM_24, 48000, 2, false,
	     "FLAC 24-bit"},
	    {"h.aiff", SF_FORMAT_AIFF | SF_FORMAT_PCM_24, 32000, 1, false,
	     "AIFF 24-bit"},
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
		print_message("  %s: %d %s; %s, %u Hz %u ch, %.3f s, %.2f -> "
			      "%.2f LUFS, %.2f dBTP, noise floor %.0f dB\n",
			      cases[i].name, r, err, st.source_format,
			      st.source_rate, st.source_channels, st.duration_s,
			      st.source_lufs, st.lufs, st.true_peak_dbtp,
			      st.noise_floor_db);
		assert_int_equal(r, 0);
		assert_string_equal(st.source_format, cases[i].format_name);
		assert_int_equal(st.source_rate, rate);
		assert_int_equal(st.source_channels, ch);
		/* lossy codecs may add priming frames */
		assert_true(fabs(st.duration_s - 3.0) < 0.1);
		assert_true(fabs(st.source_duration_s - 3.0) < 0.1);
		assert_true(fabs((double)out_n / RATE - st.duration_s) < 1e-9);
		assert_true(fabs(st.source_lufs + 28.0) < 0.5);
		assert_true(fabs(st.lufs - defaults.target_lufs) <= 0.5);
		assert_true(st.true_peak_dbtp <= defaults.ceiling_dbtp + 0.1);
		assert_true(st.clipped_pct == 0.0);
		/* codecs and resampling leave a little in the pauses */
		assert_true(st.noise_floor_db < -25.0);
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

/* A recording clipped at 16 bits, read in chunks: runs that straddle a
 * chunk count once. */
static void test_file_clipped(void **state)
{
	struct fixture *fx = *state;
	size_t n = 5 * 44100, out_n;
	float *x = tone(n, 2, 44100, 220.0, 12.0, 0.0), *out;
	struct clip_stats st;
	char path[128], err[256] = "";

	for (size_t k = 0; k < 2 * n; k++)
		x[k] = fminf(fmaxf(x[k], -1.0f), 1.0f);
	snprintf(path, sizeof(path), "%s/clipped.wav", fx->dir);
	assert_int_equal(
	    write_sound(path, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 44100, 2, x, n),
	    0);
	assert_int_equal(
	    process_file(path, &full, &out, &out_n, &st, err, sizeof(err)), 0);
	print_message("  +12 dB sine at 16 bits: %.1f%% clipped, sample peak "
		      "%.2f dBFS, %.2f s\n",
		      st.clipped_pct, st.source_sample_peak_dbfs,
		      st.source_duration_s);
	/* |sin| >= 1/4 about 84% of the time */
	assert_true(st.clipped_pct > 80.0 && st.clipped_pct < 86.0);
	assert_true(st.source_sample_peak_dbfs > -0.01);
	assert_true(fabs(st.source_duration_s - 5.0) < 1e-9);
	free(out);
	free(x);
}

/* Real synthesized speech through the whole chain to -16 LUFS, checked by
 * ffmpeg's meter too when it is there. */
static void test_file_espeak(void **state)
{
	struct fixture *fx = *state;
	char path[128], cmd[256], err[256] = "";
	double ff_i, ff_peak;
	float *out;
	size_t out_n;
	struct clip_stats st;

	if (!have_program("espeak-ng")) {
		print_message("  espeak-ng not installed, skipped\n");
		skip();
	}
	snprintf(path, sizeof(path), "%s/espeak.wav", fx->dir);
	snprintf(cmd, sizeof(cmd),
		 "espeak-ng -w '%s' 'You have the right to remain silent. "
		 "Stay together, and keep your phone off.' >/dev/null 2>&1",
		 path);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(
	    process_file(path, &full, &out, &out_n, &st, err, sizeof(err)), 0);
	print_message("  espeak-ng: %s %u Hz, %.2f s -> %.2f s; %.2f LUFS "
		      "%.2f dBTP (PLR %.1f), noise floor %.0f dB -> gain %.2f "
		      "dB, limiter %.2f dB -> %.2f LUFS %.2f dBTP%s\n",
		      st.source_format, st.source_rate, st.source_duration_s,
		      st.duration_s, st.source_lufs, st.source_peak_dbtp,
		      st.source_peak_dbtp - st.source_lufs, st.noise_floor_db,
		      st.gain_db, st.limiter_db, st.lufs, st.true_peak_dbtp,
		      st.peak_limited ? " (capped)" : "");
	assert_string_equal(st.source_format, "WAV 16-bit");
	assert_true(st.duration_s > 2.0);
	assert_true(fabs(st.lufs - full.target_lufs) <= 0.5);
	assert_true(st.true_peak_dbtp <= full.ceiling_dbtp + 0.1);
	assert_false(st.peak_limited);
	assert_true(st.clipped_pct == 0.0);
	if (have_program("ffmpeg")) {
		snprintf(path, sizeof(path), "%s/espeak-out.wav", fx->dir);
		assert_int_equal(write_sound(path,
					     SF_FORMAT_WAV | SF_FORMAT_FLOAT,
					     RATE, 1, out, out_n),
				 0);
		ffmpeg_meter(path, &ff_i, &ff_peak);
		print_message("  ffmpeg reads %.1f LUFS, %.1f dBTP\n", ff_i,
			      ff_peak);
		assert_true(fabs(ff_i - full.target_lufs) <= 0.5);
		assert_true(ff_peak <= full.ceiling_dbtp + 0.1);
	} else {
		print_message("  ffmpeg not installed, independent meter "
			      "check skipped\n");
	}
	free(out);
}

/* What we claim to have produced must agree with ffmpeg's meter: plain
 * gain, and speech with a PLR of 20 dB through the limiter. */
static void test_ffmpeg_meter(void **state)
{
	static const struct {
		const char *name;
		const struct process_settings *s;
		bool peaky, bumps;
	} cases[] = {
	    {"speech-like, plain gain", &defaults, false, false},
	    {"speech, PLR 20 dB, limited", &full, true, false},
	    {"speech with mic bumps", &full, true, true},
	};
	struct fixture *fx = *state;

	if (!have_program("ffmpeg")) {
		print_message("  ffmpeg not installed, independent meter "
			      "check skipped\n");
		skip();
	}
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		const struct process_settings *s = cases[i].s;
		size_t n = 8 * RATE, out_n;
		float *x = cases[i].peaky ? speech_peaky(n, RATE, -31.0)
					  : speech_like(n, RATE, -31.0);
		float *out;
		struct clip_stats st;
		char path[128], err[256] = "";
		double ff_i, ff_peak;

		float peak = 0.0f;

		/* Mic bumps: 5 ms bursts of decaying broadband noise, 9 dB over
		 * the speech's peak, at three places. */
		for (size_t k = 0; cases[i].bumps && k < n; k++)
			peak = fmaxf(peak, fabsf(x[k]));
		for (size_t b = 0; cases[i].bumps && b < 3; b++) {
			size_t at = n / 5 + b * n / 4;
			uint32_t seed = 12345u + (uint32_t)b;

			for (size_t k = 0; k < RATE / 200; k++) {
				seed = seed * 1664525u + 1013904223u;
				x[at + k] +=
				    (float)(((double)(seed >> 8) / 16777216.0 -
					     0.5) *
					    2.0 * peak * 2.82 *
					    exp(-(double)k / (RATE * 0.0015)));
			}
		}
		assert_int_equal(process_buffer(x, n, 1, RATE, s, &out, &out_n,
						&st, err, sizeof(err)),
				 0);
		snprintf(path, sizeof(path), "%s/out%zu.wav", fx->dir, i);
		assert_int_equal(write_sound(path,
					     SF_FORMAT_WAV | SF_FORMAT_FLOAT,
					     RATE, 1, out, out_n),
				 0);
		ffmpeg_meter(path, &ff_i, &ff_peak);
		print_message("  %s: ffmpeg I %.1f LUFS, peak %.1f dBTP; ours "
			      "%.2f LUFS %.2f dBTP, limiter %.2f dB\n",
			      cases[i].name, ff_i, ff_peak, st.lufs,
			      st.true_peak_dbtp, st.limiter_db);
		assert_true(fabs(ff_i - s->target_lufs) <= 0.5);
		assert_true(ff_peak <= s->ceiling_dbtp + 0.1);
		assert_true(fabs(ff_i - st.lufs) <= 0.2);
		assert_false(st.peak_limited);
		free(out);
		free(x);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_measure_tech3341),
	    cmocka_unit_test(test_measure_silence_and_invalid),
	    cmocka_unit_test(test_normalize_speech),
	    cmocka_unit_test(test_peak_capped),
	    cmocka_unit_test(test_limiter_speech),
	    cmocka_unit_test(test_highpass),
	    cmocka_unit_test(test_trim),
	    cmocka_unit_test(test_trim_keeps_all),
	    cmocka_unit_test(test_clipping),
	    cmocka_unit_test(test_noise_floor),
	    cmocka_unit_test(test_stereo_mixes_to_mono),
	    cmocka_unit_test(test_resample),
	    cmocka_unit_test(test_fades),
	    cmocka_unit_test(test_refusals),
	    cmocka_unit_test(test_bad_settings),
	    cmocka_unit_test(test_too_short),
	    cmocka_unit_test(test_file_formats),
	    cmocka_unit_test(test_file_errors),
	    cmocka_unit_test(test_file_clipped),
	    cmocka_unit_test(test_file_espeak),
	    cmocka_unit_test(test_ffmpeg_meter),
	    cmocka_unit_test(test_speed),
	};

	return cmocka_run_group_tests_name("process", tests, group_setup,
					   group_teardown);
}
