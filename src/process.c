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

#include <sndfile.h>
#include <soxr.h>

#include "dsp.h"
#include "util.h"

#define MAX_DURATION_S 600   /* longer recordings are refused */
#define READ_SAMPLES   16384 /* per sf_readf_float call, all channels */
#define INITIAL_FRAMES (1 << 20)

#define CLIP_LEVEL 0.999f /* a source sample this close to full scale... */
#define CLIP_RUN   3	  /* ...in a run this long was clipped */

#define NOISE_BLOCK_MS	 50
#define NOISE_MIN_BLOCKS 20 /* under 1 s there is too little to tell */
#define NOISE_FLOOR_MIN	 -90.0

#define TRIM_BLOCK_MS 10

/* Deeper than this, a limiter makes speech sound squashed. */
#define LIMITER_MAX_DB 12.0

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

static double db_to_gain(double db)
{
	return pow(10.0, db / 20.0);
}

static double gain_to_db(double g)
{
	return g > 0.0 ? 20.0 * log10(g) : -HUGE_VAL;
}

/* Loudness and (when tp_dbtp is not NULL) true peak of interleaved audio;
 * see dsp_meter_read(). */
static int measure(const float *in, size_t frames, unsigned channels,
		   unsigned rate, double *lufs, double *tp_dbtp,
		   bool *too_short)
{
	struct dsp_meter *m;
	int r;

	if (!channels || channels > DSP_METER_MAX_CHANNELS ||
	    rate < DSP_METER_MIN_RATE || rate > DSP_METER_MAX_RATE)
		return -EINVAL;
	m = dsp_meter_new(channels, rate, tp_dbtp != NULL);
	if (!m)
		return -ENOMEM;
	r = dsp_meter_add(m, in, frames);
	if (r == 0)
		r = dsp_meter_read(m, lufs, tp_dbtp, too_short);
	dsp_meter_free(m);
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

/* The mono source's loudness (libebur128), true peak (our detector, in a
 * fraction of libebur128's time) and noise floor: the 10th percentile of
 * its 50 ms block RMS levels, relative to its loudness. Even fluent speech
 * pauses for more than a tenth of the time, so that percentile falls in
 * the pauses, where only the noise is. */
static int measure_source(const float *x, size_t n, unsigned rate,
			  struct clip_stats *cs)
{
	size_t block = (size_t)rate * NOISE_BLOCK_MS / 1000;
	double level_db;
	bool too_short;
	int r;

	r = measure(x, n, 1, rate, &cs->source_lufs, NULL, &too_short);
	if (r < 0)
		return r;
	cs->source_peak_dbtp = dsp_true_peak(x, n);
	if (n / block < NOISE_MIN_BLOCKS || !isfinite(cs->source_lufs))
		return r;
	r = dsp_block_level(x, n, block, 0.1, &level_db);
	if (r < 0)
		return r;
	/* digital silence between words reads as the bottom of the scale */
	cs->noise_floor_db = fmax(level_db - cs->source_lufs, NOISE_FLOOR_MIN);
	return 0;
}

/* Peak and clipping of the source as decoded, channel by channel. */
struct scan {
	unsigned channels;
	size_t *run; /* full-scale samples in a row so far, per channel */
	uint64_t clipped, samples;
	float peak;
};

static int scan_init(struct scan *sc, unsigned channels)
{
	*sc = (struct scan){.channels = channels};
	sc->run = calloc(channels, sizeof(*sc->run));
	return sc->run ? 0 : -ENOMEM;
}

/* Mixes frames of interleaved audio to mono into out, scanning them. */
static void scan_mix(struct scan *sc, const float *in, size_t frames,
		     float *out)
{
	unsigned ch = sc->channels;

	for (size_t i = 0; i < frames; i++) {
		float sum = 0.0f;

		for (unsigned c = 0; c < ch; c++) {
			float v = in[i * ch + c], a = fabsf(v);

			sum += v;
			sc->peak = a > sc->peak ? a : sc->peak;
			if (a < CLIP_LEVEL)
				sc->run[c] = 0;
			else if (++sc->run[c] == CLIP_RUN)
				sc->clipped += CLIP_RUN;
			else if (sc->run[c] > CLIP_RUN)
				sc->clipped++;
		}
		out[i] = sum / (float)ch;
	}
	sc->samples += (uint64_t)frames * ch;
}

static void scan_finish(struct scan *sc, struct clip_stats *cs)
{
	cs->source_sample_peak_dbfs = gain_to_db(sc->peak);
	cs->clipped_pct =
	    sc->samples ? 100.0 * (double)sc->clipped / (double)sc->samples
			: 0.0;
	free(sc->run);
	sc->run = NULL;
}

struct format_word {
	int id;
	const char *word;
};

static const struct format_word major_words[] = {
    {SF_FORMAT_WAV, "WAV"}, {SF_FORMAT_WAVEX, "WAV"}, {SF_FORMAT_RF64, "RF64"},
    {SF_FORMAT_W64, "W64"}, {SF_FORMAT_AIFF, "AIFF"}, {SF_FORMAT_CAF, "CAF"},
    {SF_FORMAT_AU, "AU"},   {SF_FORMAT_FLAC, "FLAC"}, {SF_FORMAT_OGG, "Ogg"},
};

static const struct format_word subtype_words[] = {
    {SF_FORMAT_PCM_S8, "8-bit"},    {SF_FORMAT_PCM_U8, "8-bit"},
    {SF_FORMAT_PCM_16, "16-bit"},   {SF_FORMAT_PCM_24, "24-bit"},
    {SF_FORMAT_PCM_32, "32-bit"},   {SF_FORMAT_FLOAT, "float"},
    {SF_FORMAT_DOUBLE, "double"},   {SF_FORMAT_ULAW, "u-law"},
    {SF_FORMAT_ALAW, "A-law"},	    {SF_FORMAT_VORBIS, "Vorbis"},
    {SF_FORMAT_OPUS, "Opus"},	    {SF_FORMAT_GSM610, "GSM"},
    {SF_FORMAT_IMA_ADPCM, "ADPCM"}, {SF_FORMAT_MS_ADPCM, "ADPCM"},
};

/* Our word for a major format or subtype, else libsndfile's name. */
static const char *format_word(const struct format_word *words, size_t n,
			       int id, SF_FORMAT_INFO *info)
{
	for (size_t i = 0; i < n; i++)
		if (words[i].id == id)
			return words[i].word;
	info->format = id;
	if (sf_command(NULL, SFC_GET_FORMAT_INFO, info, sizeof(*info)))
		return "?";
	return info->name;
}

/* "WAV 16-bit", "FLAC 24-bit", "Ogg Opus", "MP3". */
static void format_name(int format, char *buf, size_t len)
{
	int major = format & SF_FORMAT_TYPEMASK;
	int sub = format & SF_FORMAT_SUBMASK;
	SF_FORMAT_INFO mi, si;

	if (major == SF_FORMAT_MPEG) {
		snprintf(buf, len, "%s",
			 sub == SF_FORMAT_MPEG_LAYER_I	  ? "MP1"
			 : sub == SF_FORMAT_MPEG_LAYER_II ? "MP2"
							  : "MP3");
		return;
	}
	snprintf(
	    buf, len, "%s %s",
	    format_word(major_words, ARRAY_SIZE(major_words), major, &mi),
	    format_word(subtype_words, ARRAY_SIZE(subtype_words), sub, &si));
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

static bool too_long(uint64_t frames, unsigned rate)
{
	return frames > (uint64_t)rate * MAX_DURATION_S;
}

static bool settings_valid(const struct process_settings *s)
{
	return s->rate >= 8000 && s->rate <= 768000 &&
	       isfinite(s->target_lufs) && isfinite(s->ceiling_dbtp) &&
	       isfinite(s->fade_ms) && s->fade_ms >= 0.0 &&
	       s->fade_ms <= 1000.0 && s->highpass_hz >= 0.0 &&
	       s->highpass_hz < 0.45 * s->rate && s->trim_db >= -100.0 &&
	       s->trim_db <= 0.0 && s->trim_pad_ms >= 0.0 &&
	       s->trim_pad_ms <= 10000.0;
}

/* Everything after decoding and the mono mix. Takes ownership of mono
 * (n > 0 frames at cs->source_rate): it becomes *samples or is freed. cs
 * holds what the decoding found out; the rest is filled in here. */
static int chain(float *mono, size_t n, struct clip_stats *cs,
		 const struct process_settings *s, float **samples,
		 size_t *frames, struct clip_stats *stats, char *err,
		 size_t err_len)
{
	float *out = mono, *p;
	size_t m = n, from, to;
	struct dsp_level_spec spec;
	struct dsp_level_result level;
	int r;

	for (size_t i = 0; i < n; i++) {
		if (!isfinite(mono[i])) {
			r = fail_with(
			    err, err_len, -EINVAL,
			    "holds invalid samples (NaN or infinity)");
			goto fail;
		}
	}
	cs->source_duration_s = (double)n / cs->source_rate;
	if (cs->source_rate != s->rate) {
		r = resample(mono, n, cs->source_rate, s->rate, &out, &m);
		if (r < 0) {
			r = fail_with(err, err_len, r,
				      "could not be resampled (%s)",
				      strerror(-r));
			goto fail;
		}
		free(mono);
		mono = NULL;
	}

	r = measure_source(out, m, s->rate, cs);
	if (r < 0)
		goto fail_measure;
	if (!isfinite(cs->source_lufs)) {
		r = fail_with(err, err_len, -ENODATA,
			      "holds no sound (silent)");
		goto fail;
	}

	if (s->highpass_hz > 0.0)
		dsp_highpass(out, m, s->rate, s->highpass_hz);
	if (s->trim_db < 0.0) {
		dsp_trim_range(
		    out, m, (size_t)s->rate * TRIM_BLOCK_MS / 1000,
		    cs->source_lufs + s->trim_db,
		    (size_t)lround(s->trim_pad_ms * s->rate / 1000.0), &from,
		    &to);
		if (from > 0 || to < m) {
			memmove(out, out + from, (to - from) * sizeof(*out));
			cs->trimmed_s = (double)(m - (to - from)) / s->rate;
			m = to - from;
			p = realloc(out, m * sizeof(*out));
			if (p)
				out = p;
		}
	}

	spec = (struct dsp_level_spec){
	    .rate = s->rate,
	    .target_lufs = s->target_lufs,
	    .ceiling_dbtp = s->ceiling_dbtp,
	    .max_cut_db = LIMITER_MAX_DB,
	    .fade_frames = (size_t)lround(s->fade_ms * s->rate / 1000.0),
	};
	r = dsp_level(out, m, &spec, &level);
	if (r == -ENODATA && s->highpass_hz > 0.0) {
		/* the source was not silent: the high-pass left nothing */
		r = fail_with(err, err_len, r, "holds no sound above %g Hz",
			      s->highpass_hz);
		goto fail;
	}
	if (r == -ENODATA) {
		r = fail_with(err, err_len, r, "holds no sound (silent)");
		goto fail;
	}
	if (r == -ENOMEM) {
		r = fail_with(err, err_len, r, "out of memory");
		goto fail;
	}
	if (r < 0)
		goto fail_measure;
	cs->gain_db = level.gain_db;
	cs->limiter_db = level.limiter_db;
	cs->lufs = level.lufs;
	cs->true_peak_dbtp = level.true_peak_dbtp;
	cs->too_short = level.too_short;
	/* The limiter aims under the ceiling as its own detector reads the
	 * input; the result read afresh has the last word. */
	if (cs->true_peak_dbtp > s->ceiling_dbtp) {
		double fix_db = s->ceiling_dbtp - cs->true_peak_dbtp;
		float g = (float)db_to_gain(fix_db);

		for (size_t i = 0; i < m; i++)
			out[i] *= g;
		cs->gain_db += fix_db;
		cs->lufs += fix_db;
		cs->true_peak_dbtp += fix_db;
	}
	/* reached after all, within what we aim for */
	cs->peak_limited =
	    level.capped && cs->lufs < s->target_lufs - DSP_LEVEL_TOLERANCE_LU;
	cs->duration_s = (double)m / s->rate;

	*samples = out;
	*frames = m;
	*stats = *cs;
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
	struct clip_stats cs = {.source_rate = rate,
				.source_channels = channels,
				.source_format = "float samples"};
	struct scan sc;
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
	if (!mono || scan_init(&sc, channels) < 0) {
		free(mono);
		return fail_with(err, err_len, -ENOMEM, "out of memory");
	}
	scan_mix(&sc, in, in_frames, mono);
	scan_finish(&sc, &cs);
	return chain(mono, in_frames, &cs, s, samples, frames, stats, err,
		     err_len);
}

/* Decodes and mixes to mono chunk by chunk, so a long multichannel file
 * never sits in memory whole. */
static int decode_mono(SNDFILE *sf, const SF_INFO *info, float **mono,
		       size_t *n, struct clip_stats *cs, char *err,
		       size_t err_len)
{
	unsigned ch = (unsigned)info->channels,
		 rate = (unsigned)info->samplerate;
	size_t chunk = READ_SAMPLES / ch ? READ_SAMPLES / ch : 1;
	size_t cap, len = 0;
	float *buf, *out;
	struct scan sc = {0};
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
	if (!buf || !out || scan_init(&sc, ch) < 0) {
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
		scan_mix(&sc, buf, (size_t)got, out + len);
		len += (size_t)got;
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

	scan_finish(&sc, cs);
	free(buf);
	*mono = out;
	*n = len;
	return 0;

fail:
	free(sc.run);
	free(out);
	free(buf);
	return r;
}

int process_file(const char *path, const struct process_settings *s,
		 float **samples, size_t *frames, struct clip_stats *stats,
		 char *err, size_t err_len)
{
	struct clip_stats cs = {0};
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

	cs.source_rate = (unsigned)info.samplerate;
	cs.source_channels = (unsigned)info.channels;
	format_name(info.format, cs.source_format, sizeof(cs.source_format));
	r = decode_mono(sf, &info, &mono, &n, &cs, err, err_len);
	if (r < 0)
		goto out_sf;
	r = chain(mono, n, &cs, s, samples, frames, stats, err, err_len);

out_sf:
	sf_close(sf);
out_fd:
	close(fd);
	return r;
}
