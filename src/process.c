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

/* Everything after decoding, the mono mix and the resampling. Takes
 * ownership of out (m frames at s->rate; none only when resampling left
 * nothing of a few source frames): it becomes *samples or is freed. cs holds
 * what the decoding found out; the rest is filled in here. */
static int chain(float *out, size_t m, struct clip_stats *cs,
		 const struct process_settings *s, float **samples,
		 size_t *frames, struct clip_stats *stats, char *err,
		 size_t err_len)
{
	float *p;
	size_t from, to;
	struct dsp_level_spec spec;
	struct dsp_level_result level;
	int r;

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
	free(out);
	return r;
}

/* The mono mix at the output rate, built chunk by chunk through soxr's
 * streaming interface, so the source-rate copy never exists whole next to
 * the resampled one. soxr's output does not depend on how its input is
 * cut, so this gives what one soxr_oneshot() call over the whole mix did. */
struct sink {
	soxr_t rs; /* NULL when the rates match */
	float *out;
	size_t len, cap; /* frames at the output rate */
	uint64_t in_len; /* frames at the source rate */
	unsigned in_rate, out_rate;
	bool invalid; /* a NaN or an infinity: the rest is only counted */
};

/* Past this, a header's frame count is not trusted to size the buffer. */
#define SINK_HINT_MAX_FRAMES ((size_t)1 << 24)
#define SINK_SLACK_FRAMES    4096

/* hint: the source frames the header promises, 0 when unknown. 0,
 * -ENOMEM, or -EIO when soxr refuses the rates. */
static int sink_init(struct sink *k, unsigned in_rate, unsigned out_rate,
		     uint64_t hint)
{
	double est = (double)hint * out_rate / in_rate + SINK_SLACK_FRAMES;

	*k = (struct sink){.in_rate = in_rate, .out_rate = out_rate};
	/* Sized once from the header when it can be: a realloc that moves
	 * would hold the old copy and the new one at once. */
	k->cap = hint && est < (double)SINK_HINT_MAX_FRAMES ? (size_t)est
							    : INITIAL_FRAMES;
	k->out = malloc(k->cap * sizeof(*k->out));
	if (!k->out)
		return -ENOMEM;
	if (in_rate != out_rate) {
		soxr_io_spec_t io =
		    soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I);
		soxr_quality_spec_t q = soxr_quality_spec(SOXR_HQ, 0);
		soxr_runtime_spec_t rt = soxr_runtime_spec(1);
		soxr_error_t e = NULL;

		k->rs = soxr_create(in_rate, out_rate, 1, &e, &io, &q, &rt);
		if (!k->rs || e) {
			free(k->out);
			k->out = NULL;
			return -EIO;
		}
	}
	return 0;
}

static void sink_free(struct sink *k)
{
	soxr_delete(k->rs);
	k->rs = NULL;
	free(k->out);
	k->out = NULL;
}

/* Room for `more` frames after the ones there. 0 or -ENOMEM. */
static int sink_reserve(struct sink *k, size_t more)
{
	size_t ncap;
	float *p;

	if (k->cap - k->len >= more)
		return 0;
	ncap = 2 * k->cap > k->len + more ? 2 * k->cap : k->len + more;
	if (ncap >= SIZE_MAX / sizeof(*k->out))
		return -ENOMEM;
	p = realloc(k->out, ncap * sizeof(*k->out));
	if (!p)
		return -ENOMEM;
	k->out = p;
	k->cap = ncap;
	return 0;
}

/* Appends n frames of the mono mix. 0, -ENOMEM or -EIO. */
static int sink_add(struct sink *k, const float *x, size_t n)
{
	size_t used = 0;
	int r;

	k->in_len += n;
	if (k->invalid)
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (!isfinite(x[i])) {
			k->invalid = true;
			return 0;
		}
	}
	if (!k->rs) {
		r = sink_reserve(k, n);
		if (r < 0)
			return r;
		memcpy(k->out + k->len, x, n * sizeof(*x));
		k->len += n;
		return 0;
	}
	while (used < n) {
		size_t idone = 0, odone = 0;

		r = sink_reserve(
		    k, (size_t)((double)(n - used) * k->out_rate / k->in_rate) +
			   16);
		if (r < 0)
			return r;
		if (soxr_process(k->rs, x + used, n - used, &idone,
				 k->out + k->len, k->cap - k->len, &odone))
			return -EIO;
		if (!idone && !odone)
			return -EIO;
		used += idone;
		k->len += odone;
	}
	return 0;
}

/* Flushes the resampler and keeps as many frames as one soxr_oneshot()
 * call with room for ceil(in_len * out_rate / in_rate) + 1 gave. 0,
 * -ENOMEM or -EIO. */
static int sink_finish(struct sink *k)
{
	size_t want;
	int r;

	if (!k->rs || k->invalid || !k->in_len)
		return 0;
	for (;;) {
		size_t odone = 0;

		r = sink_reserve(k, 1);
		if (r < 0)
			return r;
		if (soxr_process(k->rs, NULL, 0, NULL, k->out + k->len,
				 k->cap - k->len, &odone))
			return -EIO;
		if (!odone)
			break;
		k->len += odone;
	}
	soxr_delete(k->rs);
	k->rs = NULL;
	want = (size_t)ceil((double)k->in_len * k->out_rate / k->in_rate) + 1;
	k->len = k->len < want ? k->len : want;
	return 0;
}

/* The sink's frames go to chain(), which owns them from then on. */
static int sink_chain(struct sink *k, struct clip_stats *cs,
		      const struct process_settings *s, float **samples,
		      size_t *frames, struct clip_stats *stats, char *err,
		      size_t err_len)
{
	float *out;
	size_t m;
	int r;

	if (k->invalid) {
		sink_free(k);
		return fail_with(err, err_len, -EINVAL,
				 "holds invalid samples (NaN or infinity)");
	}
	r = sink_finish(k);
	if (r == -ENOMEM) {
		sink_free(k);
		return fail_with(err, err_len, r, "out of memory");
	}
	if (r < 0) {
		sink_free(k);
		return fail_with(err, err_len, r, "could not be resampled (%s)",
				 strerror(-r));
	}
	cs->source_duration_s = (double)k->in_len / cs->source_rate;
	out = k->out;
	m = k->len;
	k->out = NULL;
	sink_free(k);
	return chain(out, m, cs, s, samples, frames, stats, err, err_len);
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
	struct sink k;
	float *mono;
	size_t chunk;
	int r;

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

	chunk = READ_SAMPLES / channels ? READ_SAMPLES / channels : 1;
	mono = malloc(chunk * sizeof(*mono));
	r = mono ? sink_init(&k, rate, s->rate, in_frames) : -ENOMEM;
	if (r < 0 || scan_init(&sc, channels) < 0) {
		if (r == 0)
			sink_free(&k);
		free(mono);
		if (r == -EIO)
			return fail_with(err, err_len, r,
					 "could not be resampled (%s)",
					 strerror(-r));
		return fail_with(err, err_len, -ENOMEM, "out of memory");
	}
	for (size_t at = 0; at < in_frames && r == 0; at += chunk) {
		size_t len = in_frames - at < chunk ? in_frames - at : chunk;

		scan_mix(&sc, in + at * channels, len, mono);
		r = sink_add(&k, mono, len);
	}
	scan_finish(&sc, &cs);
	free(mono);
	if (r < 0) {
		sink_free(&k);
		if (r == -ENOMEM)
			return fail_with(err, err_len, r, "out of memory");
		return fail_with(err, err_len, r, "could not be resampled (%s)",
				 strerror(-r));
	}
	return sink_chain(&k, &cs, s, samples, frames, stats, err, err_len);
}

/* Decodes, mixes to mono and resamples chunk by chunk, so neither a long
 * multichannel file nor its source-rate mono mix sits in memory whole;
 * then runs the chain. */
static int decode(SNDFILE *sf, const SF_INFO *info,
		  const struct process_settings *s, struct clip_stats *cs,
		  float **samples, size_t *frames, struct clip_stats *stats,
		  char *err, size_t err_len)
{
	unsigned ch = (unsigned)info->channels,
		 rate = (unsigned)info->samplerate;
	size_t chunk = READ_SAMPLES / ch ? READ_SAMPLES / ch : 1;
	float *buf, *mono = NULL;
	struct scan sc = {0};
	struct sink k = {0};
	sf_count_t got;
	int r;

	if (info->frames > 0 && too_long((uint64_t)info->frames, rate))
		return fail_with(err, err_len, -EFBIG,
				 "longer than 10 minutes");
	buf = malloc(chunk * ch * sizeof(*buf));
	mono = malloc(chunk * sizeof(*mono));
	if (!buf || !mono || scan_init(&sc, ch) < 0) {
		r = fail_with(err, err_len, -ENOMEM, "out of memory");
		goto fail;
	}
	r = sink_init(&k, rate, s->rate,
		      info->frames > 0 ? (uint64_t)info->frames : 0);
	if (r == -EIO) {
		r = fail_with(err, err_len, r, "could not be resampled (%s)",
			      strerror(-r));
		goto fail;
	}
	if (r < 0) {
		r = fail_with(err, err_len, r, "out of memory");
		goto fail;
	}

	while ((got = sf_readf_float(sf, buf, (sf_count_t)chunk)) > 0) {
		if (too_long(k.in_len + (uint64_t)got, rate)) {
			r = fail_with(err, err_len, -EFBIG,
				      "longer than 10 minutes");
			goto fail;
		}
		scan_mix(&sc, buf, (size_t)got, mono);
		r = sink_add(&k, mono, (size_t)got);
		if (r == -ENOMEM) {
			r = fail_with(err, err_len, r, "out of memory");
			goto fail;
		}
		if (r < 0) {
			r = fail_with(err, err_len, r,
				      "could not be resampled (%s)",
				      strerror(-r));
			goto fail;
		}
	}
	if (sf_error(sf)) {
		r = fail_with(err, err_len, -EINVAL,
			      "not a recording libsndfile can read (%s)",
			      sf_strerror(sf));
		goto fail;
	}
	if (!k.in_len) {
		r = fail_with(err, err_len, -ENODATA, "holds no audio frames");
		goto fail;
	}

	scan_finish(&sc, cs);
	free(mono);
	free(buf);
	return sink_chain(&k, cs, s, samples, frames, stats, err, err_len);

fail:
	sink_free(&k);
	free(sc.run);
	free(mono);
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
	r = decode(sf, &info, s, &cs, samples, frames, stats, err, err_len);

out_sf:
	sf_close(sf);
out_fd:
	close(fd);
	return r;
}
