/* The processing chain that turns any recording into what the speaker
 * plays: decode (libsndfile) -> mono -> resample (libsoxr, to the output
 * rate) -> gain to the loudness target (BS.1770 via libebur128), capped so
 * the true peak stays under the ceiling -> short fades at both ends.
 * Pure computation on files and buffers; nothing here logs. */
#ifndef BULLHORN_PROCESS_H
#define BULLHORN_PROCESS_H

#include <stdbool.h>
#include <stddef.h>

/* Bump whenever the processing's output for the same input and settings
 * changes, so every cache entry made by an older program is rebuilt. */
#define PROCESS_VERSION 1

struct process_settings {
	unsigned rate;       /* output rate, Hz */
	double target_lufs;  /* integrated loudness to aim for */
	double ceiling_dbtp; /* true peak never above this */
	double fade_ms;      /* fade-in and fade-out length; 5 by default */
};

struct clip_stats {
	unsigned source_rate;
	unsigned source_channels;
	double duration_s;     /* after processing */
	double source_lufs;    /* integrated loudness of the mono source */
	double source_peak_dbtp;
	double gain_db;        /* gain applied */
	bool peak_limited;     /* gain was cut short of the target by the
				  ceiling */
	double lufs;           /* integrated loudness after processing */
	double true_peak_dbtp; /* after processing */
	bool too_short;        /* under 400 ms: no gated block, so loudness
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
