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

#define LEVEL_LOOKAHEAD_S    0.005
#define LEVEL_RELEASE_S	     0.08  /* time constant */
#define LEVEL_FAST_RELEASE_S 0.005 /* the same, out of a transient's cut */
#define LEVEL_CONTEXT_S	     0.1   /* a transient stands out of this much */
#define LEVEL_TRANSIENT_DB   6.0   /* by this much */
#define LEVEL_BURST_BLOCKS   2	   /* blocks each side that are its own */
#define LEVEL_MARGIN_DB	     0.02  /* the limiter aims this far under */
#define LEVEL_AIM_LU	     0.05  /* trials stop this close to the target */
#define LEVEL_PASSES	     10

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
 * interpolated by a Kaiser-windowed (beta 9) sinc of 32 taps per phase,
 * 16 on each side: the filter libswresample builds for a 4x upsampling,
 * which is what ffmpeg's ebur128 meter reads true peak through. A shorter
 * filter reads broadband bursts (a knock on the microphone) up to 0.5 dB
 * low, and the limiter would then let them through above the ceiling as
 * that meter sees it. The loops run over a block of outputs per tap so
 * that the compiler vectorizes them.
 */
#define TP_PHASES      3
#define TP_TAPS	       32
#define TP_BEFORE      15 /* taps before sample i; TP_TAPS - TP_BEFORE after */
#define TP_BLOCK       256
#define TP_KAISER_BETA 9.0

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
 * --- BS.1770 loudness of what the limiter makes ---
 *
 * libebur128's sums over the output of each trial gain would cost a full
 * meter run per trial; this is the same measurement (K-weighting with
 * libebur128's coefficients for any rate, 100 ms sums, 400 ms blocks every
 * 100 ms, the -70 LUFS and -10 LU gates), fed one sample at a time from the
 * limiter's own loop.
 */
struct kmeter {
	struct biquad shelf, hp;
	size_t sub;	   /* frames per 100 ms */
	size_t at;	   /* frames into the current 100 ms */
	double acc;	   /* its K-weighted sum of squares */
	double *subs;	   /* finished 100 ms sums */
	size_t nsubs, cap; /* how many, room for */
	double raw;	   /* unweighted sum of squares of the first frames */
	size_t frames;
	unsigned rate;
};

/* Room for n frames at rate. 0 or -ENOMEM. */
static int kmeter_init(struct kmeter *k, size_t n, unsigned rate)
{
	double f0 = 1681.974450955533, g = 3.999843853973347;
	double q = 0.7071752369554196, kk, vh, vb, a0;

	*k = (struct kmeter){.rate = rate, .sub = (rate + 5) / 10};
	k->cap = n / k->sub + 1;
	k->subs = malloc(k->cap * sizeof(*k->subs));
	if (!k->subs)
		return -ENOMEM;
	kk = tan(M_PI * f0 / rate);
	vh = pow(10.0, g / 20.0);
	vb = pow(vh, 0.4996667741545416);
	a0 = 1.0 + kk / q + kk * kk;
	k->shelf = (struct biquad){
	    .b0 = (vh + vb * kk / q + kk * kk) / a0,
	    .b1 = 2.0 * (kk * kk - vh) / a0,
	    .b2 = (vh - vb * kk / q + kk * kk) / a0,
	    .a1 = 2.0 * (kk * kk - 1.0) / a0,
	    .a2 = (1.0 - kk / q + kk * kk) / a0,
	};
	f0 = 38.13547087602444;
	q = 0.5003270373238773;
	kk = tan(M_PI * f0 / rate);
	a0 = 1.0 + kk / q + kk * kk;
	k->hp = (struct biquad){
	    .b0 = 1.0,
	    .b1 = -2.0,
	    .b2 = 1.0,
	    .a1 = 2.0 * (kk * kk - 1.0) / a0,
	    .a2 = (1.0 - kk / q + kk * kk) / a0,
	};
	return 0;
}

static void kmeter_restart(struct kmeter *k)
{
	k->shelf.z1 = k->shelf.z2 = k->hp.z1 = k->hp.z2 = 0.0;
	k->at = k->nsubs = k->frames = 0;
	k->acc = k->raw = 0.0;
}

static inline void kmeter_add(struct kmeter *k, double v)
{
	double y = biquad_run(&k->hp, biquad_run(&k->shelf, v));

	if ((uint64_t)k->frames * 1000 < (uint64_t)MIN_WINDOW_MS * k->rate)
		k->raw += v * v;
	k->frames++;
	k->acc += y * y;
	if (++k->at == k->sub) {
		if (k->nsubs < k->cap)
			k->subs[k->nsubs++] = k->acc;
		k->acc = 0.0;
		k->at = 0;
	}
}

static double energy_to_lufs(double e)
{
	return e > 0.0 ? 10.0 * log10(e) - 0.691 : -HUGE_VAL;
}

/* As dsp_meter_read() reads it. */
static double kmeter_lufs(const struct kmeter *k, bool *too_short)
{
	double abs_gate = pow(10.0, (ABS_GATE_LUFS + 0.691) / 10.0);
	double block = 4.0 * (double)k->sub, sum = 0.0, rel;
	size_t count = 0;

	*too_short = k->nsubs < 4;
	if (*too_short) {
		double l = -HUGE_VAL;

		if ((uint64_t)k->frames * 1000 >=
		    (uint64_t)MIN_WINDOW_MS * k->rate) {
			double e = k->acc;

			for (size_t i = 0; i < k->nsubs; i++)
				e += k->subs[i];
			l = energy_to_lufs(e / (double)k->frames);
		} else if (k->raw > 0.0) {
			l = 10.0 * log10(k->raw / (double)k->frames) - 0.691;
		}
		return l < ABS_GATE_LUFS ? -HUGE_VAL : l;
	}
	for (size_t i = 0; i + 4 <= k->nsubs; i++) {
		double e = (k->subs[i] + k->subs[i + 1] + k->subs[i + 2] +
			    k->subs[i + 3]) /
			   block;

		if (e >= abs_gate) {
			sum += e;
			count++;
		}
	}
	if (!count)
		return -HUGE_VAL;
	rel = sum / (double)count * 0.1;
	sum = 0.0;
	count = 0;
	for (size_t i = 0; i + 4 <= k->nsubs; i++) {
		double e = (k->subs[i] + k->subs[i + 1] + k->subs[i + 2] +
			    k->subs[i + 3]) /
			   block;

		if (e >= abs_gate && e >= rel) {
			sum += e;
			count++;
		}
	}
	return energy_to_lufs(sum / (double)count);
}

/*
 * --- The limiter's gain ---
 *
 * The allowed gains go through a sliding minimum over the last `window`
 * values, then a moving average over as many. A sample whose allowed gain
 * is a is inside every minimum the average at its own position takes, so
 * the result there is <= a, and it falls towards a in a straight ramp over
 * the window before it; a train of peaks gives one smooth dip instead of a
 * flutter. The release then lets the gain rise: fast while the gain is
 * under the floor the speech around needs (the cut went deeper for a
 * transient), slowly above it. It only ever lowers the result, so the
 * bound holds. The gain lags the allowed gains by window - 1 samples: the
 * audio is delayed as much, and 1 is pushed window - 1 more times at the
 * end.
 */
struct limiter {
	size_t window;
	double release, fast; /* one-pole coefficients per sample */
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

/* window: look-ahead in samples (>= 1); release_frames and fast_frames:
 * release time constants in samples (> 0). NULL when out of memory. */
static struct limiter *limiter_new(size_t window, double release_frames,
				   double fast_frames)
{
	struct limiter *l;

	assert(window >= 1 && release_frames > 0.0 && fast_frames > 0.0);
	l = calloc(1, sizeof(*l));
	if (!l)
		return NULL;
	l->window = window;
	l->release = 1.0 - exp(-1.0 / release_frames);
	l->fast = 1.0 - exp(-1.0 / fast_frames);
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
 * there is one; false while the look-ahead is filling. Under floor, the
 * gain is released fast. */
static bool limiter_push(struct limiter *l, double allowed, double floor,
			 double *gain)
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
		l->gain +=
		    (avg - l->gain) * (l->gain < floor ? l->fast : l->release);
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

/* Peaks kept as the top 16 bits of the float (bfloat16), rounded up: half
 * the memory, and at most 0.07 dB high, never low. */
static inline uint16_t peak_pack(float p)
{
	uint32_t u;

	memcpy(&u, &p, sizeof(u));
	return (uint16_t)((u + 0xffffu) >> 16);
}

static inline float peak_unpack(uint16_t v)
{
	uint32_t u = (uint32_t)v << 16;
	float p;

	memcpy(&p, &u, sizeof(p));
	return p;
}

/* What the passes share: the input's packed true peaks and, per block of
 * `block` samples, the peak the speech there sustains. */
struct level_plan {
	const uint16_t *peaks;
	const float *sustained;
	size_t block, nblocks;
	double ceiling; /* linear, with the safety margin */
};

/* One run of gain, limiter and fades over x, the audio delayed by the
 * look-ahead, into the meter k; when apply, the result is also written
 * over x. Gives the limiter's lowest gain. */
static void level_pass(float *x, size_t n, const struct level_plan *pl,
		       double gain_db, const struct dsp_level_spec *spec,
		       struct limiter *lim, struct kmeter *k, bool apply,
		       double *min_gain)
{
	double g = pow(10.0, gain_db / 20.0), floor = 1.0;
	double limit = pl->ceiling / g; /* peaks over this get cut */
	size_t fade = spec->fade_frames < n / 2 ? spec->fade_frames : n / 2;
	size_t q = 0, next_block = 0;

	*min_gain = 1.0;
	limiter_reset(lim);
	kmeter_restart(k);
	for (size_t i = 0; q < n; i++) {
		double allowed = 1.0, env, y;
		float p = i < n ? peak_unpack(pl->peaks[i]) : 0.0f;

		if (p > limit)
			allowed = limit / p;
		if (q == next_block) {
			size_t b = q / pl->block;
			float s = pl->sustained[b];

			if (b > 0)
				s = max_f(s, pl->sustained[b - 1]);
			if (b + 1 < pl->nblocks)
				s = max_f(s, pl->sustained[b + 1]);
			floor = s > limit ? limit / s : 1.0;
			next_block += pl->block;
		}
		if (!limiter_push(lim, allowed, floor, &env))
			continue;
		*min_gain = env < *min_gain ? env : *min_gain;
		y = x[q] * g * env;
		if (q < fade || n - q <= fade)
			y *= fade_weight(q, n, fade);
		if (apply)
			x[q] = (float)y;
		kmeter_add(k, (double)(float)y);
		q++;
	}
}

/*
 * Transients: a block whose peak stands LEVEL_TRANSIENT_DB over every
 * block within LEVEL_CONTEXT_S around it, its neighbours within
 * LEVEL_BURST_BLOCKS excluded, is a knock or a click, not speech. A burst
 * spans two or three blocks, so those neighbours belong to it as well:
 * none of them counts for more than what surrounds the transient, however
 * the burst straddles the block edges (its onset block alone may stand
 * less than LEVEL_TRANSIENT_DB out). The limiter may cut a burst as deep as
 * it needs and recovers fast; the gain is capped only by what the speech
 * itself sustains. ctx is scratch room for nb values.
 */
static void find_sustained(const float *bp, size_t nb, size_t radius,
			   float *ctx, float *sustained)
{
	float ratio = (float)pow(10.0, LEVEL_TRANSIENT_DB / 20.0);
	size_t w = LEVEL_BURST_BLOCKS;

	for (size_t b = 0; b < nb; b++) {
		size_t lo = b > radius ? b - radius : 0;
		size_t hi = b + radius < nb ? b + radius : nb - 1;

		ctx[b] = 0.0f;
		for (size_t j = lo; j <= hi; j++)
			if (j + w < b || j > b + w)
				ctx[b] = max_f(ctx[b], bp[j]);
	}
	for (size_t b = 0; b < nb; b++) {
		size_t lo = b > w ? b - w : 0;
		size_t hi = b + w < nb ? b + w : nb - 1;

		sustained[b] = bp[b];
		for (size_t t = lo; t <= hi; t++)
			if (bp[t] > ctx[t] * ratio && ctx[t] < sustained[b])
				sustained[b] = ctx[t];
	}
}

/* The packed true peaks of x and their block maxima. */
static void level_peaks(const float *x, size_t n, size_t block, uint16_t *peaks,
			float *bp)
{
	float c[TP_PHASES][TP_TAPS], out[TP_BLOCK], prev = 0.0f;

	true_peak_taps(c);
	memset(bp, 0, (n + block - 1) / block * sizeof(*bp));
	for (size_t from = 0; from < n; from += TP_BLOCK) {
		size_t len = n - from < TP_BLOCK ? n - from : TP_BLOCK;

		true_peak_block(x, n, from, len, c, out);
		for (size_t i = 0; i < len; i++) {
			/* out[i] covers [i, i + 1); widen to (i - 1, i + 1) */
			float p = max_f(out[i], prev);
			size_t b = (from + i) / block;

			prev = out[i];
			peaks[from + i] = peak_pack(p);
			bp[b] = max_f(bp[b], peak_unpack(peaks[from + i]));
		}
	}
}

/*
 * The peaks are found once; the gain only scales them. Each trial runs the
 * limiter and our own BS.1770 meter over the result without writing it,
 * and the next gain is a secant step on loudness over gain: loudness rises
 * with the gain, at most as fast, and slower the more the limiter works.
 * Even without the limiter, the fades take loudness from a short clip, so
 * we measure rather than predict. The gain never asks the limiter to cut
 * the speech's sustained peaks by more than max_cut_db: beyond that speech
 * sounds squashed, and the clip stays quieter instead. Transients (see
 * find_sustained()) do not count against it.
 */
int dsp_level(float *x, size_t n, const struct dsp_level_spec *spec,
	      struct dsp_level_result *res)
{
	size_t block, nb;
	uint16_t *peaks;
	float *bp, *sus, *ctx;
	struct limiter *lim;
	struct kmeter k = {0};
	struct level_plan pl;
	double lufs, gain, top_db, max_gain, prev_gain = NAN, prev_lufs = NAN;
	double best_gain, best_miss = HUGE_VAL, miss = HUGE_VAL;
	double min_gain = 1.0;
	float top = 0.0f;
	bool too_short;
	int pass, r;

	assert(x && n && spec && res);
	block = (size_t)max_d(1.0, round(LEVEL_LOOKAHEAD_S * spec->rate));
	nb = (n + block - 1) / block;
	peaks = malloc(n * sizeof(*peaks));
	bp = malloc(nb * sizeof(*bp));
	sus = malloc(nb * sizeof(*sus));
	ctx = malloc(nb * sizeof(*ctx));
	lim = limiter_new(block, LEVEL_RELEASE_S * spec->rate,
			  LEVEL_FAST_RELEASE_S * spec->rate);
	if (!peaks || !bp || !sus || !ctx || !lim ||
	    kmeter_init(&k, n, spec->rate)) {
		r = -ENOMEM;
		goto out;
	}
	kmeter_restart(&k);
	for (size_t i = 0; i < n; i++)
		kmeter_add(&k, x[i]);
	lufs = kmeter_lufs(&k, &too_short);
	if (!isfinite(lufs)) {
		r = -ENODATA;
		goto out;
	}
	level_peaks(x, n, block, peaks, bp);
	find_sustained(bp, nb,
		       (size_t)(LEVEL_CONTEXT_S * spec->rate) / block + 1, ctx,
		       sus);
	for (size_t b = 0; b < nb; b++)
		top = max_f(top, sus[b]);
	/* Under LEVEL_BURST_BLOCKS + 1 blocks (15 ms at 48 kHz) no block has
	 * context, so all of it reads as a transient and nothing caps the
	 * gain: an infinite one left the limiter no room at all. The plain
	 * peak caps it instead. */
	if (top <= 0.0f)
		for (size_t b = 0; b < nb; b++)
			top = max_f(top, bp[b]);
	if (top <= 0.0f) {
		r = -ENODATA;
		goto out;
	}
	free(ctx);
	ctx = NULL;
	free(bp);
	bp = NULL;
	top_db = 20.0 * log10(top);
	pl = (struct level_plan){
	    .peaks = peaks,
	    .sustained = sus,
	    .block = block,
	    .nblocks = nb,
	    .ceiling = pow(10.0, (spec->ceiling_dbtp - LEVEL_MARGIN_DB) / 20.0),
	};

	max_gain = spec->ceiling_dbtp - top_db + spec->max_cut_db;
	gain = fmin(spec->target_lufs - lufs, max_gain);
	best_gain = gain;
	for (pass = 0; pass < LEVEL_PASSES; pass++) {
		double l, slope = 1.0;

		level_pass(x, n, &pl, gain, spec, lim, &k, false, &min_gain);
		l = kmeter_lufs(&k, &too_short);
		miss = spec->target_lufs - l;
		if (fabs(miss) < best_miss) {
			best_miss = fabs(miss);
			best_gain = gain;
		}
		if (fabs(miss) <= LEVEL_AIM_LU ||
		    (miss > 0.0 && gain >= max_gain))
			break;
		if (!isnan(prev_gain) && gain != prev_gain)
			slope = (l - prev_lufs) / (gain - prev_gain);
		slope = isfinite(slope) ? fmin(max_d(slope, 0.05), 1.0) : 1.0;
		prev_gain = gain;
		prev_lufs = l;
		gain = fmin(gain + miss / slope, max_gain);
	}
	/* Out of trials, or stopped on one that measured nothing: the
	 * limiter can flatten how the loudness follows the gain, and the
	 * steps then wander (a short clip of clicks ended on an untried
	 * -47 dB: silence). Keep the trial that came closest, never a gain
	 * no pass has measured; none measured anything (a few samples, which
	 * the fades take whole) is as silent as silence. */
	if (pass == LEVEL_PASSES || isinf(miss))
		gain = best_gain;
	if (isinf(best_miss)) {
		r = -ENODATA;
		goto out;
	}

	/* the run kept */
	level_pass(x, n, &pl, gain, spec, lim, &k, true, &min_gain);
	res->lufs = kmeter_lufs(&k, &res->too_short);
	res->true_peak_dbtp = dsp_true_peak(x, n);
	res->gain_db = gain;
	res->limiter_db = 20.0 * log10(min_gain);
	res->capped = gain >= max_gain;
	r = 0;
out:
	free(k.subs);
	limiter_free(lim);
	free(sus);
	free(ctx);
	free(bp);
	free(peaks);
	return r;
}
