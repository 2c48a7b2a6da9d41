/* A processed announcement ready to play: mono float samples at the
 * output rate, usually mapped from a cache file. Reference-counted so the
 * player can keep playing a clip while a reload replaces the library. */
#ifndef BULLHORN_CLIP_H
#define BULLHORN_CLIP_H

#include <stdbool.h>
#include <stddef.h>

#include "process.h"

struct clip {
	const float *samples;
	size_t frames;
	unsigned rate;
	struct clip_stats stats;
	char language[64];
	char message[64];
	char *source;	  /* path of the recording it was made from */
	bool placeholder; /* a synthesized stand-in for a human recording */
	int refs;
	/* Exactly one of these backs samples. */
	void *map;
	size_t map_len;
	float *owned;
};

/* Takes ownership of samples (malloc'd). Returns NULL on ENOMEM. */
struct clip *clip_new_owned(float *samples, size_t frames, unsigned rate,
			    const struct clip_stats *stats);
struct clip *clip_ref(struct clip *c);
/* Drops a reference; frees at zero. NULL does nothing. */
void clip_unref(struct clip *c);

#endif
