/* Errors: open()'s own errno (-ENOENT, -EACCES...); -EINVAL for what is
 * not readable audio or not valid input; -ENODATA for no frames or no
 * sound; -EFBIG for over 10 minutes; -ENOMEM. */
#include "process.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ebur128.h>
#include <sndfile.h>
#include <soxr.h>

#define MAX_DURATION_S 600 /* longer recordings are refused */
#define MIN_WINDOW_MS  10  /* shortest clip measured through the K-filter */
#define ABS_GATE_LUFS  -70.0
#define READ_SAMPLES   16384   /* per sf_readf_float call, all channels */
#define EBUR128_MAX_CH 64      /* libebur128 refuses more channels */
#define EBUR128_MAX_HZ 2822400 /* or a higher rate */
#define INITIAL_FRAMES (1 << 20)

/* Writes the reason into err (when there is room) and returns r. */
__attribute__((format(printf, 4, 5))) static int
fail_with(char *err, size_t err_len, int r, const char *fmt, ...)
{
	va_list ap;

	if (err && err_len) {
		va_start(ap, fmt);
		vsnprintf(err, err_len, fmt, ap);
		va_end(ap);
	}
	return r;
}

/* Unweighted mean-square power of all channels, in the BS.1770 scale. */
static double plain_lufs(const float *in, size_t frames, unsigned channels)
{
	double sum = 0.0;

	for (size_t i = 0; i < frames * channels; i++)
		sum += (double)in[i] * in[i];
	sum /= (double)frames;
	return sum > 0.0 ? 10.0 * log10(sum) - 0.691 : -HUGE_VAL;
}

/*
 * Integrated loudness (BS.1770-4, gated 400 ms blocks) and true peak.
 *
 * A clip shorter than one 400 ms block has no block to gate, and libebur128
 * then reports -HUGE_VAL as if it were silent; a one-word "Stop!" must not
 * be refused or boosted blindly. For such clips we take the K-weighted
 * mean-square power over the whole clip (ebur128_loudness_window with the
 * clip's length), which is the formula of a single ungated block, so it
 * reads close to what a 400 ms block of the same sound would. Under
 * MIN_WINDOW_MS the window (whole milliseconds) is too coarse and the
 * K-filter has not settled, so we estimate with the unweighted mean-square
 * power - 0.691 dB. The -70 LUFS absolute gate applies in both cases.
 */
static int measure(const float *in, size_t frames, unsigned channels,
		   unsigned rate, double *lufs, double *tp_dbtp,
		   bool *too_short)
{
	ebur128_state *st;
	size_t block_frames = (size_t)((rate + 5) / 10) * 4;
	double peak = 0.0, l = -HUGE_VAL;
	int r = 0;

	if (!channels || channels > EBUR128_MAX_CH || rate < 16 ||
	    rate > EBUR128_MAX_HZ)
		return -EINVAL;
	st = ebur128_init(channels, rate,
			  EBUR128_MODE_I | EBUR128_MODE_TRUE_PEAK);
	if (!st)
		return -ENOMEM;
	if (frames && ebur128_add_frames_float(st, in, frames)) {
		r = -ENOMEM;
		goto out;
	}

	*too_short = frames < block_frames;
	if (!*too_short) {
		if (ebur128_loudness_global(st, &l)) {
			r = -EIO;
			goto out;
		}
	} else if (frames) {
		unsigned long clip_ms =
		    (unsigned long)((uint64_t)frames * 1000 / rate);

		if (clip_ms < MIN_WINDOW_MS)
			l = plain_lufs(in, frames, channels);
		else if (ebur128_loudness_window(st, clip_ms, &l)) {
			r = -EIO;
			goto out;
		}
		if (l < ABS_GATE_LUFS)
			l = -HUGE_VAL;
	}

	for (unsigned c = 0; c < channels; c++) {
		double p;

		if (ebur128_true_peak(st, c, &p)) {
			r = -EIO;
			goto out;
		}
		peak = fmax(peak, p);
	}
	*lufs = l;
	*tp_dbtp = peak > 0.0 ? 20.0 * log10(peak) : -HUGE_VAL;
out:
	ebur128_destroy(&st);
	return r;
}

int loudness_measure(const float *in, size_t frames, unsigned channels,
		     unsigned rate, double *lufs, double *true_peak_dbtp)
{
	bool too_short;

	assert(in || !frames);
	assert(lufs && true_peak_dbtp);
	return measure(in, frames, channels, rate, lufs, true_peak_dbtp,
		       &too_short);
}

static int resample(const float *in, size_t n, unsigned in_rate,
		    unsigned out_rate, float **out, size_t *out_n)
{
	soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I);
	soxr_quality_spec_t q = soxr_quality_spec(SOXR_HQ, 0);
	soxr_runtime_spec_t rt = soxr_runtime_spec(1);
	size_t cap = (size_t)ceil((double)n * out_rate / in_rate) + 1;
	size_t done = 0;
	float *buf;

	buf = malloc(cap * sizeof(*buf));
	if (!buf)
		return -ENOMEM;
	if (soxr_oneshot(in_rate, out_rate, 1, in, n, NULL, buf, cap, &done,
			 &io, &q, &rt)) {
		free(buf);
		return -EIO;
	}
	*out = buf;
	*out_n = done;
	return 0;
}

/* Raised-cosine ramps: smoother in spectrum than a line, so a clip that
 * starts mid-word fades in without a click. */
static void apply_gain_and_fades(float *x, size_t n, double gain_db,
				 size_t fade_frames)
{
	float g = (float)pow(10.0, gain_db / 20.0);

	for (size_t i = 0; i < n; i++)
		x[i] *= g;
	if (fade_frames > n / 2)
		fade_frames = n / 2;
	for (size_t i = 0; i < fade_frames; i++) {
		float w = (float)(0.5 - 0.5 * cos(M_PI * (double)i /
						  (double)fade_frames));

		x[i] *= w;
		x[n - 1 - i] *= w;
	}
}

static bool too_long(uint64_t frames, unsigned rate)
{
	return frames > (uint64_t)rate * MAX_DURATION_S;
}

static bool settings_valid(const struct process_settings *s)
{
	return s->rate >= 8000 && s->rate <= 768000 &&
	       isfinite(s->target_lufs) && isfinite(s->ceiling_dbtp) &&
	       isfinite(s->fade_ms) && s->fade_ms >= 0.0 &&
	       s->fade_ms <= 1000.0;
}

/* Everything after decoding and the mono mix. Takes ownership of mono
 * (n > 0 frames at src_rate): it becomes *samples or is freed. */
static int chain(float *mono, size_t n, unsigned src_rate,
		 unsigned src_channels, const struct process_settings *s,
		 float **samples, size_t *frames, struct clip_stats *stats,
		 char *err, size_t err_len)
{
	struct clip_stats cs = {.source_rate = src_rate,
				.source_channels = src_channels};
	float *out = mono;
	size_t m = n;
	int r;

	for (size_t i = 0; i < n; i++) {
		if (!isfinite(mono[i])) {
			r = fail_with(
			    err, err_len, -EINVAL,
			    "holds invalid samples (NaN or infinity)");
			goto fail;
		}
	}
	if (src_rate != s->rate) {
		r = resample(mono, n, src_rate, s->rate, &out, &m);
		if (r < 0) {
			r = fail_with(err, err_len, r,
				      "could not be resampled (%s)",
				      strerror(-r));
			goto fail;
		}
		free(mono);
		mono = NULL;
	}

	r = measure(out, m, 1, s->rate, &cs.source_lufs, &cs.source_peak_dbtp,
		    &cs.too_short);
	if (r < 0)
		goto fail_measure;
	if (!isfinite(cs.source_lufs)) {
		r = fail_with(err, err_len, -ENODATA,
			      "holds no sound (silent)");
		goto fail;
	}

	/* A plain gain keeps the sound as recorded; where the ceiling forbids
	 * reaching the target the clip simply stays quieter. */
	cs.gain_db = s->target_lufs - cs.source_lufs;
	if (cs.source_peak_dbtp + cs.gain_db > s->ceiling_dbtp) {
		cs.gain_db = s->ceiling_dbtp - cs.source_peak_dbtp;
		cs.peak_limited = true;
	}
	apply_gain_and_fades(out, m, cs.gain_db,
			     (size_t)lround(s->fade_ms * s->rate / 1000.0));

	r = measure(out, m, 1, s->rate, &cs.lufs, &cs.true_peak_dbtp,
		    &cs.too_short);
	if (r < 0)
		goto fail_measure;
	cs.duration_s = (double)m / s->rate;

	*samples = out;
	*frames = m;
	*stats = cs;
	return 0;

fail_measure:
	r = fail_with(err, err_len, r, "could not be measured (%s)",
		      strerror(-r));
fail:
	if (out != mono)
		free(out);
	free(mono);
	return r;
}

int process_buffer(const float *in, size_t in_frames, unsigned channels,
		   unsigned rate, const struct process_settings *s,
		   float **samples, size_t *frames, struct clip_stats *stats,
		   char *err, size_t err_len)
{
	float *mono;

	assert(s && samples && frames && stats);
	assert(in || !in_frames);
	memset(stats, 0, sizeof(*stats));
	if (!settings_valid(s))
		return fail_with(err, err_len, -EINVAL,
				 "invalid processing settings");
	if (!channels || !rate)
		return fail_with(
		    err, err_len, -EINVAL,
		    "has an impossible format (%u channels, %u Hz)", channels,
		    rate);
	if (!in_frames)
		return fail_with(err, err_len, -ENODATA,
				 "holds no audio frames");
	if (too_long(in_frames, rate))
		return fail_with(err, err_len, -EFBIG,
				 "longer than 10 minutes");

	mono = malloc(in_frames * sizeof(*mono));
	if (!mono)
		return fail_with(err, err_len, -ENOMEM, "out of memory");
	for (size_t i = 0; i < in_frames; i++) {
		float sum = 0.0f;

		for (unsigned c = 0; c < channels; c++)
			sum += in[i * channels + c];
		mono[i] = sum / (float)channels;
	}
	return chain(mono, in_frames, rate, channels, s, samples, frames, stats,
		     err, err_len);
}

/* Decodes and mixes to mono chunk by chunk, so a long multichannel file
 * never sits in memory whole. */
static int decode_mono(SNDFILE *sf, const SF_INFO *info, float **mono,
		       size_t *n, char *err, size_t err_len)
{
	unsigned ch = (unsigned)info->channels,
		 rate = (unsigned)info->samplerate;
	size_t chunk = READ_SAMPLES / ch ? READ_SAMPLES / ch : 1;
	size_t cap, len = 0;
	float *buf, *out;
	sf_count_t got;
	int r;

	if (info->frames > 0 && too_long((uint64_t)info->frames, rate))
		return fail_with(err, err_len, -EFBIG,
				 "longer than 10 minutes");
	/* The header's frame count is a hint, not trusted for a big malloc. */
	cap = info->frames > 0 && info->frames < INITIAL_FRAMES
		  ? (size_t)info->frames
		  : INITIAL_FRAMES;
	buf = malloc(chunk * ch * sizeof(*buf));
	out = malloc(cap * sizeof(*out));
	if (!buf || !out) {
		r = fail_with(err, err_len, -ENOMEM, "out of memory");
		goto fail;
	}

	while ((got = sf_readf_float(sf, buf, (sf_count_t)chunk)) > 0) {
		if (too_long((uint64_t)len + (uint64_t)got, rate)) {
			r = fail_with(err, err_len, -EFBIG,
				      "longer than 10 minutes");
			goto fail;
		}
		if (len + (size_t)got > cap) {
			size_t ncap = 2 * (len + (size_t)got);
			float *p = ncap < SIZE_MAX / sizeof(*out)
				       ? realloc(out, ncap * sizeof(*out))
				       : NULL;

			if (!p) {
				r = fail_with(err, err_len, -ENOMEM,
					      "out of memory");
				goto fail;
			}
			out = p;
			cap = ncap;
		}
		for (size_t i = 0; i < (size_t)got; i++) {
			float sum = 0.0f;

			for (unsigned c = 0; c < ch; c++)
				sum += buf[i * ch + c];
			out[len++] = sum / (float)ch;
		}
	}
	if (sf_error(sf)) {
		r = fail_with(err, err_len, -EINVAL,
			      "not a recording libsndfile can read (%s)",
			      sf_strerror(sf));
		goto fail;
	}
	if (!len) {
		r = fail_with(err, err_len, -ENODATA, "holds no audio frames");
		goto fail;
	}

	free(buf);
	*mono = out;
	*n = len;
	return 0;

fail:
	free(out);
	free(buf);
	return r;
}

int process_file(const char *path, const struct process_settings *s,
		 float **samples, size_t *frames, struct clip_stats *stats,
		 char *err, size_t err_len)
{
	SF_INFO info = {0};
	SNDFILE *sf;
	float *mono = NULL;
	size_t n = 0;
	int fd, r;

	assert(path && s && samples && frames && stats);
	memset(stats, 0, sizeof(*stats));
	if (!settings_valid(s))
		return fail_with(err, err_len, -EINVAL,
				 "invalid processing settings");

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		return fail_with(err, err_len, r, "cannot be opened (%s)",
				 strerror(-r));
	}
	/* The fd stays ours (close_desc false) and was opened O_CLOEXEC,
	 * which sf_open()'s own open() would not do. */
	sf = sf_open_fd(fd, SFM_READ, &info, SF_FALSE);
	if (!sf) {
		r = fail_with(err, err_len, -EINVAL,
			      "not a recording libsndfile can read (%s)",
			      sf_strerror(NULL));
		goto out_fd;
	}
	if (info.channels < 1 || info.samplerate < 1) {
		r = fail_with(err, err_len, -EINVAL,
			      "not a recording libsndfile can read (%d "
			      "channels, %d Hz)",
			      info.channels, info.samplerate);
		goto out_sf;
	}

	r = decode_mono(sf, &info, &mono, &n, err, err_len);
	if (r < 0)
		goto out_sf;
	r = chain(mono, n, (unsigned)info.samplerate, (unsigned)info.channels,
		  s, samples, frames, stats, err, err_len);

out_sf:
	sf_close(sf);
out_fd:
	close(fd);
	return r;
}
