/* Signal-processing pieces of the processing chain (process.c): a
 * BS.1770 loudness meter, block levels for trimming and the noise floor,
 * the horn-protecting high-pass, a 4x-oversampled true-peak detector that
 * reads as ffmpeg's ebur128 meter does, and normalization through a
 * look-ahead true-peak limiter. Float audio, mono except for the meter;
 * pure computation, deterministic (the same input gives the same bits from
 * the same build). Nothing here logs. */
#ifndef BULLHORN_DSP_H
#define BULLHORN_DSP_H

#include <stdbool.h>
#include <stddef.h>

/* What libebur128 accepts. */
#define DSP_METER_MAX_CHANNELS 64
#define DSP_METER_MIN_RATE     16
#define DSP_METER_MAX_RATE     2822400

/* A BS.1770-4 meter (libebur128) of integrated loudness and, optionally,
 * true peak, fed interleaved audio in pieces. */
struct dsp_meter;

/* channels and rate within the limits above. Returns NULL when out of
 * memory. */
struct dsp_meter *dsp_meter_new(unsigned channels, unsigned rate,
				bool true_peak);

/* Frees m; does nothing when m is NULL. */
void dsp_meter_free(struct dsp_meter *m);

/* 0, or -ENOMEM. */
int dsp_meter_add(struct dsp_meter *m, const float *x, size_t frames);

/* Integrated loudness of all that was added (-HUGE_VAL for silence or
 * under the -70 LUFS gate) into *lufs and, when tp_dbtp is not NULL (the
 * meter must then have been made with true_peak), the true peak in dBTP.
 * *too_short tells that there was less than one 400 ms gating block, and
 * the loudness is that of the whole clip as a single ungated block.
 * Returns 0, or -EIO when libebur128 fails. */
int dsp_meter_read(struct dsp_meter *m, double *lufs, double *tp_dbtp,
		   bool *too_short);

/* The range [*from, *to) of x from the first to the last block of `block`
 * samples whose RMS level is above threshold_db (dBFS), widened by pad
 * samples each way; all of x when no block is. */
void dsp_trim_range(const float *x, size_t n, size_t block, double threshold_db,
		    size_t pad, size_t *from, size_t *to);

/* Into *level_db, the RMS level (dBFS, -HUGE_VAL for digital silence)
 * that a `fraction` (0 to 1) of the whole blocks of `block` samples in x
 * are at or under. x must hold at least one block. 0, or -ENOMEM. */
int dsp_block_level(const float *x, size_t n, size_t block, double fraction,
		    double *level_db);

/* Filters x in place through a 4th-order Butterworth high-pass (two
 * cascaded biquads, 24 dB/octave) whose -3 dB corner is corner_hz, with
 * its state in double precision. The filter starts at rest. corner_hz must
 * be above 0 and below 0.45 * rate. */
void dsp_highpass(float *x, size_t n, unsigned rate, double corner_hz);

/* Fills peaks[i] with the largest magnitude of the band-limited signal
 * through x, read at quarter-sample spacing (4x oversampling, as BS.1770
 * true peak), from sample i - 1 to sample i + 1; outside x the signal is
 * zero. The interpolator is the one ffmpeg's ebur128 meter reads through
 * (libswresample's 4x filter: Kaiser-windowed sinc, 32 taps per phase), so
 * the two agree on broadband bursts as on tones. A gain applied to sample
 * i therefore covers every inter-sample peak next to it (the limiter's
 * detector). */
void dsp_true_peaks(const float *x, size_t n, float *peaks);

/* The highest true peak of x in dBTP (-HUGE_VAL for silence), as
 * dsp_true_peaks() reads it. */
double dsp_true_peak(const float *x, size_t n);

/* Where dsp_level() is to take a clip. */
struct dsp_level_spec {
	unsigned rate;	     /* DSP_METER_MIN_RATE to DSP_METER_MAX_RATE */
	double target_lufs;  /* integrated loudness to land on */
	double ceiling_dbtp; /* true peak the limiter holds */
	double max_cut_db;   /* deepest cut the limiter may make on the
				sustained peaks (> 0); transients may be cut
				deeper */
	size_t fade_frames;  /* raised-cosine fade at each end */
};

/* What dsp_level() did, and how loud and how high the result reads. */
struct dsp_level_result {
	double gain_db;	   /* plain gain, before the limiter */
	double limiter_db; /* the limiter's deepest cut (<= 0), transients
			      included: it may go past -max_cut_db */
	bool capped;	   /* the gain stopped where the limiter would have had
			      to cut the sustained peaks by more than
			      max_cut_db */
	double lufs;	   /* integrated loudness, BS.1770 */
	double true_peak_dbtp; /* as dsp_true_peak() reads it */
	bool too_short;	       /* see dsp_meter_read() */
};

/* Unless capped, dsp_level() lands within this of the target. */
#define DSP_LEVEL_TOLERANCE_LU 0.1

/* Gain to spec->target_lufs, a look-ahead (5 ms) true-peak limiter
 * holding spec->ceiling_dbtp, and the fades, over the mono x (n >= 1) in
 * place. The limiter aims a few hundredths of a dB under the ceiling, so
 * that res->true_peak_dbtp stays at or under it; the caller may still
 * check. Where the limiter takes loudness away the gain is raised and the
 * whole run again, until the result is within DSP_LEVEL_TOLERANCE_LU or
 * the limiter would have to cut the sustained peaks by more than
 * max_cut_db. A transient - a 5 ms block peaking 6 dB or more above every
 * block within 100 ms around it, counted with the blocks next to it - does
 * not count against max_cut_db: a knock on the microphone or a click may
 * be cut as deep as it needs, and the limiter recovers from such a cut
 * fast. Loudness, before and after, is read by a BS.1770 meter run inside
 * the limiter's loop (libebur128's K-filter coefficients and gating, so it
 * reads as dsp_meter_read() does, short clips included). Returns 0;
 * -ENODATA when x is silent (under the -70 LUFS gate) or no gain makes
 * it heard (a few samples, which the fades take whole), and then x is
 * untouched; -ENOMEM. */
int dsp_level(float *x, size_t n, const struct dsp_level_spec *spec,
	      struct dsp_level_result *res);

#endif
