#include "dsp.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <ebur128.h>

#define MIN_WINDOW_MS 10 /* shortest clip measured through the K-filter */
#define ABS_GATE_LUFS -70.0

#define LEVEL_LOOKAHEAD_S 0.005
#define LEVEL_RELEASE_S	  0.08 /* time constant */
#define LEVEL_PASSES	  6
#define LEVEL_CHUNK	  4096 /* frames handed to the meters at a time */

static inline double max_d(double a, double b)
{
	return a > b ? a : b;
}

static inline float max_f(float a, float b)
{
	return a > b ? a : b;
}

/* Biquads, in transposed direct form II with double state. */
struct biquad {
	double b0, b1, b2, a1, a2; /* normalized: a0 = 1 */
	double z1, z2;
};

static inline double biquad_run(struct biquad *f, double x)
{
	double y = f->b0 * x + f->z1;

	f->z1 = f->b1 * x - f->a1 * y + f->z2;
	f->z2 = f->b2 * x - f->a2 * y;
	return y;
}

/* --- BS.1770 through libebur128 --- */

struct dsp_meter {
	ebur128_state *st;
	unsigned channels, rate;
	size_t frames;
	double sum_sq; /* unweighted, while under MIN_WINDOW_MS */
};

struct dsp_meter *dsp_meter_new(unsigned channels, unsigned rate,
				bool true_peak)
{
	struct dsp_meter *m;

	assert(channels >= 1 && channels <= DSP_METER_MAX_CHANNELS);
	assert(rate >= DSP_METER_MIN_RATE && rate <= DSP_METER_MAX_RATE);
	m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	m->channels = channels;
	m->rate = rate;
	m->st = ebur128_init(channels, rate,
			     EBUR128_MODE_I |
				 (true_peak ? EBUR128_MODE_TRUE_PEAK : 0));
	if (!m->st) {
		free(m);
		return NULL;
	}
	return m;
}

void dsp_meter_free(struct dsp_meter *m)
{
	if (!m)
		return;
	ebur128_destroy(&m->st);
	free(m);
}

int dsp_meter_add(struct dsp_meter *m, const float *x, size_t frames)
{
	if ((uint64_t)m->frames * 1000 < (uint64_t)MIN_WINDOW_MS * m->rate)
		for (size_t i = 0; i < frames * m->channels; i++)
			m->sum_sq += (double)x[i] * x[i];
	m->frames += frames;
	if (frames && ebur128_add_frames_float(m->st, x, frames))
		return -ENOMEM;
	return 0;
}

/*
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
int dsp_meter_read(struct dsp_meter *m, double *lufs, double *tp_dbtp,
		   bool *too_short)
{
	size_t block_frames = (size_t)((m->rate + 5) / 10) * 4;
	double peak = 0.0, l = -HUGE_VAL;

	*too_short = m->frames < block_frames;
	if (!*too_short) {
		if (ebur128_loudness_global(m->st, &l))
			return -EIO;
	} else if (m->frames) {
		unsigned long clip_ms =
		    (unsigned long)((uint64_t)m->frames * 1000 / m->rate);

		if (clip_ms >= MIN_WINDOW_MS) {
			if (ebur128_loudness_window(m->st, clip_ms, &l))
				return -EIO;
		} else if (m->sum_sq > 0.0) {
			l = 10.0 * log10(m->sum_sq / (double)m->frames) - 0.691;
		}
		if (l < ABS_GATE_LUFS)
			l = -HUGE_VAL;
	}
	*lufs = l;

	if (!tp_dbtp)
		return 0;
	for (unsigned c = 0; c < m->channels; c++) {
		double p;

		if (ebur128_true_peak(m->st, c, &p))
			return -EIO;
		peak = max_d(peak, p);
	}
	*tp_dbtp = peak > 0.0 ? 20.0 * log10(peak) : -HUGE_VAL;
	return 0;
}

/* --- Block levels --- */

static double mean_square(const float *x, size_t n)
{
	double sum = 0.0;

	for (size_t i = 0; i < n; i++)
		sum += (double)x[i] * x[i];
	return sum / (double)n;
}

void dsp_trim_range(const float *x, size_t n, size_t block, double threshold_db,
		    size_t pad, size_t *from, size_t *to)
{
	double threshold = pow(10.0, threshold_db / 10.0);
	size_t first = SIZE_MAX, last = 0;

	assert(block >= 1);
	for (size_t start = 0; start < n; start += block) {
		size_t len = n - start > block ? block : n - start;

		if (mean_square(x + start, len) > threshold) {
			if (first == SIZE_MAX)
				first = start;
			last = start + len;
		}
	}
	*from = 0;
	*to = n;
	if (first == SIZE_MAX)
		return;
	*from = first > pad ? first - pad : 0;
	*to = n - last > pad ? last + pad : n;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

int dsp_block_level(const float *x, size_t n, size_t block, double fraction,
		    double *level_db)
{
	size_t nb;
	double *ms;

	assert(block >= 1 && n >= block && fraction >= 0.0 && fraction <= 1.0);
	nb = n / block;
	ms = malloc(nb * sizeof(*ms));
	if (!ms)
		return -ENOMEM;
	for (size_t b = 0; b < nb; b++)
		ms[b] = mean_square(x + b * block, block);
	qsort(ms, nb, sizeof(*ms), cmp_double);
	ms[0] = ms[(size_t)(fraction * (double)(nb - 1) + 0.5)];
	*level_db = ms[0] > 0.0 ? 10.0 * log10(ms[0]) : -HUGE_VAL;
	free(ms);
	return 0;
}

/* --- High-pass --- */

/* Q of the two sections of a 4th-order Butterworth: 1 / (2 cos(k pi / 8))
 * for k = 1, 3. Their product is 1/sqrt(2): -3 dB at the corner. */
static const double butterworth4_q[2] = {0.54119610014619698,
					 1.30656296487637653};

/* RBJ audio-EQ-cookbook high-pass: bilinear transform prewarped so the
 * corner lands exactly at corner_hz. */
static struct biquad highpass_section(unsigned rate, double corner_hz, double q)
{
	double w0 = 2.0 * M_PI * corner_hz / rate;
	double cw = cos(w0), alpha = sin(w0) / (2.0 * q), a0 = 1.0 + alpha;

	return (struct biquad){
	    .b0 = (1.0 + cw) / 2.0 / a0,
	    .b1 = -(1.0 + cw) / a0,
	    .b2 = (1.0 + cw) / 2.0 / a0,
	    .a1 = -2.0 * cw / a0,
	    .a2 = (1.0 - alpha) / a0,
	};
}

void dsp_highpass(float *x, size_t n, unsigned rate, double corner_hz)
{
	struct biquad s1, s2;

	assert(x || !n);
	assert(corner_hz > 0.0 && corner_hz < 0.45 * rate);
	s1 = highpass_section(rate, corner_hz, butterworth4_q[0]);
	s2 = highpass_section(rate, corner_hz, butterworth4_q[1]);
	for (size_t i = 0; i < n; i++)
		x[i] = (float)biquad_run(&s2, biquad_run(&s1, x[i]));
}

/*
 * --- True peak ---
 *
 * The three points between samples i and i + 1 (at 1/4, 1/2 and 3/4) are
 * interpolated by a Kaiser-windowed sinc of 16 taps per phase (BS.1770's
 * own filter has 12). At 48 kHz it reads sines up to 10 kHz within 0.01
 * dB and up to 20 kHz within 0.3 dB low, which is what any 4x grid may
 * miss between its points. The loops run over a block of outputs per tap
 * so that the compiler vectorizes them.
 */
#define TP_PHASES      3
#define TP_TAPS	       16
#define TP_BEFORE      7 /* taps before sample i; TP_TAPS - TP_BEFORE after */
#define TP_BLOCK       256
#define TP_KAISER_BETA 7.0

/* Zeroth-order modified Bessel function of the first kind. */
static double bessel_i0(double x)
{
	double sum = 1.0, term = 1.0;

	for (int k = 1; k < 40 && term > 1e-17 * sum; k++) {
		term *= (x / (2.0 * k)) * (x / (2.0 * k));
		sum += term;
	}
	return sum;
}

static void true_peak_taps(float c[TP_PHASES][TP_TAPS])
{
	double half = TP_TAPS / 2.0;

	for (int p = 0; p < TP_PHASES; p++) {
		double frac = (p + 1) / 4.0, h[TP_TAPS], sum = 0.0;

		for (int k = 0; k < TP_TAPS; k++) {
			/* distance from tap k to the interpolated point */
			double t = frac + TP_BEFORE - k, r = t / half;
			double w = fabs(r) < 1.0
				       ? bessel_i0(TP_KAISER_BETA *
						   sqrt(1.0 - r * r)) /
					     bessel_i0(TP_KAISER_BETA)
				       : 0.0;

			h[k] = w * sin(M_PI * t) / (M_PI * t);
			sum += h[k];
		}
		/* unity gain at DC */
		for (int k = 0; k < TP_TAPS; k++)
			c[p][k] = (float)(h[k] / sum);
	}
}

/* out[i] = the largest magnitude over [from + i, from + i + 1), for the
 * len (<= TP_BLOCK) samples from `from`. */
static void true_peak_block(const float *x, size_t n, size_t from, size_t len,
			    const float c[TP_PHASES][TP_TAPS], float *out)
{
	float in[TP_BLOCK + TP_TAPS], acc[TP_BLOCK];

	/* in[j] = x[from - TP_BEFORE + j], zero outside x */
	for (size_t j = 0; j < TP_BLOCK + TP_TAPS; j++) {
		size_t at = from + j;

		in[j] = at >= TP_BEFORE && at - TP_BEFORE < n
			    ? x[at - TP_BEFORE]
			    : 0.0f;
	}
	for (size_t i = 0; i < len; i++)
		out[i] = fabsf(in[i + TP_BEFORE]);
	for (int p = 0; p < TP_PHASES; p++) {
		memset(acc, 0, sizeof(acc));
		for (int k = 0; k < TP_TAPS; k++) {
			float ck = c[p][k];

			for (size_t i = 0; i < TP_BLOCK; i++)
				acc[i] += ck * in[i + (size_t)k];
		}
		for (size_t i = 0; i < len; i++)
			out[i] = max_f(out[i], fabsf(acc[i]));
	}
}

void dsp_true_peaks(const float *x, size_t n, float *peaks)
{
	float c[TP_PHASES][TP_TAPS];

	assert((x && peaks) || !n);
	true_peak_taps(c);
	for (size_t from = 0; from < n; from += TP_BLOCK)
		true_peak_block(x, n, from,
				n - from < TP_BLOCK ? n - from : TP_BLOCK, c,
				peaks + from);
	/* peaks[i] covered [i, i + 1); widen to (i - 1, i + 1) */
	for (size_t i = n; i-- > 1;)
		peaks[i] = max_f(peaks[i], peaks[i - 1]);
}

double dsp_true_peak(const float *x, size_t n)
{
	float c[TP_PHASES][TP_TAPS], out[TP_BLOCK], top = 0.0f;

	assert(x || !n);
	true_peak_taps(c);
	for (size_t from = 0; from < n; from += TP_BLOCK) {
		size_t len = n - from < TP_BLOCK ? n - from : TP_BLOCK;

		true_peak_block(x, n, from, len, c, out);
		for (size_t i = 0; i < len; i++)
			top = max_f(top, out[i]);
	}
	return top > 0.0f ? 20.0 * log10(top) : -HUGE_VAL;
}

/*
 * --- The limiter's gain ---
 *
 * The allowed gains go through a sliding minimum over the last `window`
 * values, then a moving average over as many. A sample whose allowed gain
 * is a is inside every minimum the average at its own position takes, so
 * the result there is <= a, and it falls towards a in a straight ramp over
 * the window before it; a train of peaks gives one smooth dip instead of a
 * flutter. The release then lets the gain rise slowly; it only ever lowers
 * the result, so the bound holds. The gain lags the allowed gains by
 * window - 1 samples: the audio is delayed as much, and 1 is pushed
 * window - 1 more times at the end.
 */
struct limiter {
	size_t window;
	double release; /* one-pole coefficient per sample */
	size_t pushed;
	/* deque of (index, value) with increasing values: the sliding min;
	 * it holds one more while an expired head waits to go */
	size_t dq_head, dq_len;
	size_t *dq_at;
	double *dq_val;
	/* ring of the last `window` minima and their sum */
	double *mins;
	size_t mins_at;
	double sum;
	double gain;
};

static void limiter_free(struct limiter *l)
{
	if (!l)
		return;
	free(l->mins);
	free(l->dq_val);
	free(l->dq_at);
	free(l);
}

static void limiter_reset(struct limiter *l)
{
	l->pushed = 0;
	l->dq_head = l->dq_len = 0;
	for (size_t i = 0; i < l->window; i++)
		l->mins[i] = 0.0;
	l->mins_at = 0;
	l->sum = 0.0;
	l->gain = 1.0;
}

/* window: look-ahead in samples (>= 1); release_frames: release time
 * constant in samples (> 0). NULL when out of memory. */
static struct limiter *limiter_new(size_t window, double release_frames)
{
	struct limiter *l;

	assert(window >= 1 && release_frames > 0.0);
	l = calloc(1, sizeof(*l));
	if (!l)
		return NULL;
	l->window = window;
	l->release = 1.0 - exp(-1.0 / release_frames);
	l->dq_at = malloc((window + 1) * sizeof(*l->dq_at));
	l->dq_val = malloc((window + 1) * sizeof(*l->dq_val));
	l->mins = malloc(window * sizeof(*l->mins));
	if (!l->dq_at || !l->dq_val || !l->mins) {
		limiter_free(l);
		return NULL;
	}
	limiter_reset(l);
	return l;
}

/* Feeds the gain the next sample may have (in (0, 1]). Returns true and
 * sets *gain to the gain for the sample fed window - 1 calls earlier once
 * there is one; false while the look-ahead is filling. */
static bool limiter_push(struct limiter *l, double allowed, double *gain)
{
	size_t cap = l->window + 1, k = l->pushed++, slot;
	double min, avg;

	assert(allowed > 0.0 && allowed <= 1.0);
	while (l->dq_len) {
		slot = l->dq_head + l->dq_len - 1;
		if (l->dq_val[slot < cap ? slot : slot - cap] < allowed)
			break;
		l->dq_len--;
	}
	slot = l->dq_head + l->dq_len++;
	slot = slot < cap ? slot : slot - cap;
	l->dq_at[slot] = k;
	l->dq_val[slot] = allowed;
	if (l->dq_at[l->dq_head] + l->window <= k) {
		l->dq_head = l->dq_head + 1 < cap ? l->dq_head + 1 : 0;
		l->dq_len--;
	}
	min = l->dq_val[l->dq_head];

	/* while all minima are 1 the sum stays an exact integer */
	l->sum += min - l->mins[l->mins_at];
	l->mins[l->mins_at] = min;
	l->mins_at = l->mins_at + 1 < l->window ? l->mins_at + 1 : 0;
	if (k + 1 < l->window)
		return false;

	avg = l->sum / (double)l->window;
	avg = avg < 1.0 ? avg : 1.0;
	if (avg < l->gain)
		l->gain = avg;
	else
		l->gain += (avg - l->gain) * l->release;
	*gain = l->gain;
	return true;
}

/* --- Gain, limiter and fades --- */

/* Raised-cosine ramps: smoother in spectrum than a line, so a clip that
 * starts mid-word fades in without a click. */
static inline double fade_weight(size_t i, size_t n, size_t fade)
{
	size_t edge = i < n - 1 - i ? i : n - 1 - i;

	if (edge >= fade)
		return 1.0;
	return 0.5 - 0.5 * cos(M_PI * (double)edge / (double)fade);
}

/* One run of gain, limiter and fades over x, the audio delayed by the
 * look-ahead, into the meter m; when apply, the result is also written
 * over x. Gives the limiter's lowest gain. */
static int level_pass(float *x, size_t n, const float *peaks, double gain_db,
		      const struct dsp_level_spec *spec, struct limiter *lim,
		      struct dsp_meter *m, bool apply, double *min_gain)
{
	double g = pow(10.0, gain_db / 20.0);
	double ceiling = pow(10.0, spec->ceiling_dbtp / 20.0);
	size_t fade = spec->fade_frames < n / 2 ? spec->fade_frames : n / 2;
	float chunk[LEVEL_CHUNK];
	size_t filled = 0, q = 0;
	int r;

	*min_gain = 1.0;
	limiter_reset(lim);
	for (size_t k = 0; q < n; k++) {
		double allowed = 1.0, env;
		float y;

		if (k < n && g * peaks[k] > ceiling)
			allowed = ceiling / (g * peaks[k]);
		if (!limiter_push(lim, allowed, &env))
			continue;
		*min_gain = env < *min_gain ? env : *min_gain;
		y = (float)(x[q] * g * env * fade_weight(q, n, fade));
		if (apply)
			x[q] = y;
		chunk[filled++] = y;
		if (++q < n && filled < LEVEL_CHUNK)
			continue;
		r = dsp_meter_add(m, chunk, filled);
		if (r < 0)
			return r;
		filled = 0;
	}
	return 0;
}

/* Loudness of x as it is now. */
static int level_measure(const float *x, size_t n, unsigned rate, double *lufs)
{
	struct dsp_meter *m = dsp_meter_new(1, rate, false);
	bool too_short;
	int r;

	if (!m)
		return -ENOMEM;
	r = dsp_meter_add(m, x, n);
	if (r == 0)
		r = dsp_meter_read(m, lufs, NULL, &too_short);
	dsp_meter_free(m);
	return r;
}

/*
 * The peaks are found once; the gain only scales them. Each refinement is
 * a secant step on loudness over gain: loudness rises with the gain, at
 * most as fast, and slower the more the limiter works. Even without the
 * limiter, the fades take loudness from a short clip, so we measure rather
 * than predict. The gain never asks the limiter to cut the highest peak by
 * more than max_cut_db: beyond that speech sounds squashed, and the clip
 * stays quieter instead.
 */
int dsp_level(float *x, size_t n, const struct dsp_level_spec *spec,
	      struct dsp_level_result *res)
{
	struct limiter *lim;
	struct dsp_meter *m = NULL;
	float *peaks = malloc(n * sizeof(*peaks)), top = 0.0f;
	double lufs, gain, tp_db, max_gain, prev_gain = NAN, prev_lufs = NAN;
	double min_gain = 1.0;
	bool too_short;
	int r;

	assert(x && n && spec && res);
	lim = limiter_new(
	    (size_t)max_d(1.0, round(LEVEL_LOOKAHEAD_S * spec->rate)),
	    LEVEL_RELEASE_S * spec->rate);
	if (!peaks || !lim) {
		r = -ENOMEM;
		goto out;
	}
	r = level_measure(x, n, spec->rate, &lufs);
	if (r < 0)
		goto out;
	if (!isfinite(lufs)) {
		r = -ENODATA;
		goto out;
	}
	dsp_true_peaks(x, n, peaks);
	for (size_t i = 0; i < n; i++)
		top = max_f(top, peaks[i]);
	tp_db = 20.0 * log10(top);

	max_gain = spec->ceiling_dbtp - tp_db + spec->max_cut_db;
	gain = fmin(spec->target_lufs - lufs, max_gain);
	for (int pass = 0; pass < LEVEL_PASSES; pass++) {
		double l, miss, slope = 1.0;

		m = dsp_meter_new(1, spec->rate, false);
		if (!m) {
			r = -ENOMEM;
			goto out;
		}
		r = level_pass(x, n, peaks, gain, spec, lim, m, false,
			       &min_gain);
		if (r == 0)
			r = dsp_meter_read(m, &l, NULL, &too_short);
		dsp_meter_free(m);
		m = NULL;
		if (r < 0)
			goto out;
		miss = spec->target_lufs - l;
		if (fabs(miss) <= DSP_LEVEL_TOLERANCE_LU ||
		    (miss > 0.0 && gain >= max_gain))
			break;
		if (!isnan(prev_gain) && gain != prev_gain)
			slope = (l - prev_lufs) / (gain - prev_gain);
		slope = isfinite(slope) ? fmin(max_d(slope, 0.05), 1.0) : 1.0;
		prev_gain = gain;
		prev_lufs = l;
		gain = fmin(gain + miss / slope, max_gain);
	}

	/* the run kept, read with true peak this time */
	m = dsp_meter_new(1, spec->rate, true);
	if (!m) {
		r = -ENOMEM;
		goto out;
	}
	r = level_pass(x, n, peaks, gain, spec, lim, m, true, &min_gain);
	if (r == 0)
		r = dsp_meter_read(m, &res->lufs, &res->true_peak_dbtp,
				   &res->too_short);
	res->gain_db = gain;
	res->limiter_db = 20.0 * log10(min_gain);
	res->capped = gain >= max_gain;
out:
	dsp_meter_free(m);
	limiter_free(lim);
	free(peaks);
	return r;
}
