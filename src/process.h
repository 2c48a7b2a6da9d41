/* The processing chain that turns any recording into what the speaker
 * plays: decode (libsndfile) -> mono -> resample (libsoxr, to the output
 * rate) -> high-pass (protects horn drivers) -> trim leading and trailing
 * silence -> gain to the loudness target (BS.1770 via libebur128) ->
 * look-ahead true-peak limiter holding the ceiling -> short fades.
 * Pure computation on files and buffers; nothing here logs. */
#ifndef BULLHORN_PROCESS_H
#define BULLHORN_PROCESS_H

#include <stdbool.h>
#include <stddef.h>

/* Bump whenever the processing's output for the same input and settings
 * changes, so every cache entry made by an older program is rebuilt. */
#define PROCESS_VERSION 4

struct process_settings {
	unsigned rate;	     /* output rate, Hz */
	double target_lufs;  /* integrated loudness to aim for */
	double ceiling_dbtp; /* true peak never above this */
	double fade_ms;	     /* fade-in and fade-out length; 5 by default */
	double highpass_hz;  /* 0 = off; else the -3 dB corner of a 4th-order
				(24 dB/octave) Butterworth high-pass */
	double trim_db;	     /* 0 = no trimming; else leading and trailing
				audio quieter than this many dB below the
				recording's own loudness is cut (e.g. -40) */
	double trim_pad_ms;  /* silence kept before and after the speech */
};

struct clip_stats {
	unsigned source_rate;
	unsigned source_channels;
	char source_format[32]; /* e.g. "WAV 16-bit", "Ogg Opus" */
	double source_duration_s;
	double duration_s;  /* after processing */
	double source_lufs; /* integrated loudness of the mono source */
	double source_peak_dbtp;
	double source_sample_peak_dbfs;
	double clipped_pct;    /* source samples in runs of 3+ at full scale */
	double noise_floor_db; /* quietest speech-free stretch, relative to the
				  loudness (e.g. -45: clean; -12: very noisy);
				  0 when it cannot be told */
	double trimmed_s;      /* silence cut at both ends together */
	double gain_db;	       /* gain applied before the limiter */
	double limiter_db;     /* the limiter's deepest gain reduction (<= 0) */
	bool peak_limited;     /* target not reached: the limiter would have
				  had to cut more than it may */
	double lufs;	       /* integrated loudness after processing */
	double true_peak_dbtp; /* after processing */
	bool too_short;	       /* under 400 ms: no gated block, so loudness
				  is measured as plain mean-square power */
};

/* Processes a file. On success returns 0 and a malloc'd mono float buffer
 * at s->rate in *samples (caller frees) with its length in *frames. On
 * failure returns a negative errno and writes a plain-language reason
 * into err (e.g. "not a recording libsndfile can read: ...", "holds no
 * sound"). */
int process_file(const char *path, const struct process_settings *s,
		 float **samples, size_t *frames, struct clip_stats *stats,
		 char *err, size_t err_len);

/* Same chain on interleaved float samples already in memory. */
int process_buffer(const float *in, size_t in_frames, unsigned channels,
		   unsigned rate, const struct process_settings *s,
		   float **samples, size_t *frames, struct clip_stats *stats,
		   char *err, size_t err_len);

/* BS.1770 integrated loudness (LUFS) and true peak (dBTP) of interleaved
 * float audio. Silence gives -HUGE_VAL. */
int loudness_measure(const float *in, size_t frames, unsigned channels,
		     unsigned rate, double *lufs, double *true_peak_dbtp);

#endif
