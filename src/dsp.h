/* Signal-processing pieces of the processing chain (process.c): a
 * BS.1770 loudness meter, block levels for trimming and the noise floor,
 * the horn-protecting high-pass, a 4x-oversampled true-peak detector, and
 * normalization through a look-ahead true-peak limiter. Float audio, mono
 * except for the meter; pure computation, deterministic (the same input
 * gives the same bits from the same build). Nothing here logs. */
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
 * zero. A gain applied to sample i therefore covers every inter-sample
 * peak next to it (the limiter's detector). */
void dsp_true_peaks(const float *x, size_t n, float *peaks);

/* The highest true peak of x in dBTP (-HUGE_VAL for silence), as
 * dsp_true_peaks() reads it. */
double dsp_true_peak(const float *x, size_t n);

/* Where dsp_level() is to take a clip. */
struct dsp_level_spec {
	unsigned rate;	     /* DSP_METER_MIN_RATE to DSP_METER_MAX_RATE */
	double target_lufs;  /* integrated loudness to land on */
	double ceiling_dbtp; /* true peak the limiter holds */
	double max_cut_db;   /* deepest cut the limiter may make (> 0) */
	size_t fade_frames;  /* raised-cosine fade at each end */
};

/* What dsp_level() did, and what libebur128 reads of the result. */
struct dsp_level_result {
	double gain_db;	   /* plain gain, before the limiter */
	double limiter_db; /* the limiter's deepest cut (<= 0) */
	bool capped;	   /* the gain stopped where the limiter would have had
			      to cut more than max_cut_db */
	double lufs;
	double true_peak_dbtp;
	bool too_short; /* see dsp_meter_read() */
};

/* Within this of the target, dsp_level() stops refining the gain. */
#define DSP_LEVEL_TOLERANCE_LU 0.1

/* Gain to spec->target_lufs, a look-ahead true-peak limiter holding
 * spec->ceiling_dbtp, and the fades, over the mono x (n >= 1) in place.
 * Where the limiter takes loudness away the gain is raised and the whole
 * run again, until the result is within DSP_LEVEL_TOLERANCE_LU or the cut
 * would exceed max_cut_db. The result is then measured by libebur128.
 * The inter-sample peaks our detector and libebur128's see may differ by
 * a few hundredths of a dB, so the caller checks res->true_peak_dbtp.
 * Returns 0; -ENODATA when x is silent (under the -70 LUFS gate), and
 * then x is untouched; -ENOMEM; -EIO from libebur128. */
int dsp_level(float *x, size_t n, const struct dsp_level_spec *spec,
	      struct dsp_level_result *res);

#endif
