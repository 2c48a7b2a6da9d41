#include "testsignal.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TONE_HZ 1000.0

int testsignal_parse_kind(const char *word, enum testsignal_kind *kind)
{
	if (strcmp(word, "tone") == 0)
		*kind = TESTSIGNAL_TONE;
	else if (strcmp(word, "pink") == 0)
		*kind = TESTSIGNAL_PINK;
	else
		return -EINVAL;
	return 0;
}

/* Pink noise: white noise through Paul Kellet's economy filter (within
 * 0.5 dB of -3 dB/octave above 40 Hz), from a fixed-seed generator so
 * every run is the same burst. */
static void pink(float *x, size_t n)
{
	double b0 = 0, b1 = 0, b2 = 0;
	uint32_t seed = 0x9e3779b9u;

	for (size_t i = 0; i < n; i++) {
		double w;

		seed = seed * 1664525u + 1013904223u;
		w = (double)seed / 2147483648.0 - 1.0;
		b0 = 0.99765 * b0 + w * 0.0990460;
		b1 = 0.96300 * b1 + w * 0.2965164;
		b2 = 0.57000 * b2 + w * 1.0526913;
		x[i] = (float)(b0 + b1 + b2 + w * 0.1848);
	}
}

int testsignal_make(enum testsignal_kind kind, double level_dbfs,
		    double seconds, const struct process_settings *s,
		    struct clip **out, char *err, size_t err_len)
{
	struct process_settings ps = *s;
	size_t n = (size_t)(seconds * s->rate), frames;
	struct clip_stats st;
	float *x, *y = NULL, peak = 0;
	double lufs, tp;
	int r;

	if (!(level_dbfs >= TESTSIGNAL_MIN_DBFS &&
	      level_dbfs <= TESTSIGNAL_MAX_DBFS) ||
	    !(seconds >= 0.1 && seconds <= TESTSIGNAL_MAX_S)) {
		snprintf(err, err_len,
			 "level must be %.0f to %.0f dBFS and length 0.1 to "
			 "%.0f s",
			 TESTSIGNAL_MIN_DBFS, TESTSIGNAL_MAX_DBFS,
			 TESTSIGNAL_MAX_S);
		return -EINVAL;
	}
	x = malloc(n * sizeof(*x));
	if (!x)
		return -ENOMEM;
	if (kind == TESTSIGNAL_TONE)
		for (size_t i = 0; i < n; i++)
			x[i] = (float)sin(2 * M_PI * TONE_HZ * (double)i /
					  s->rate);
	else
		pink(x, n);
	for (size_t i = 0; i < n; i++)
		peak = fabsf(x[i]) > peak ? fabsf(x[i]) : peak;
	for (size_t i = 0; i < n; i++)
		x[i] = (float)(x[i] / peak * pow(10.0, level_dbfs / 20.0));
	/* The chain's gain stage aims at the signal's own loudness, so it
	 * adds nothing: the level is the one asked for, and only the
	 * high-pass, the limiter and the fades act. */
	r = loudness_measure(x, n, 1, s->rate, &lufs, &tp);
	if (r == 0) {
		ps.target_lufs = lufs;
		ps.trim_db = 0;
		r = process_buffer(x, n, 1, s->rate, &ps, &y, &frames, &st, err,
				   err_len);
	}
	free(x);
	if (r < 0)
		return r;
	*out = clip_new_owned(y, frames, s->rate, &st);
	if (!*out) {
		free(y);
		return -ENOMEM;
	}
	snprintf((*out)->message, sizeof((*out)->message), "test-%s",
		 kind == TESTSIGNAL_TONE ? "tone" : "pink");
	return 0;
}
