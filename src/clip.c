#include "clip.h"

#include <stdlib.h>
#include <sys/mman.h>

struct clip *clip_new_owned(float *samples, size_t frames, unsigned rate,
			    const struct clip_stats *stats)
{
	struct clip *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->owned = samples;
	c->samples = samples;
	c->frames = frames;
	c->rate = rate;
	if (stats)
		c->stats = *stats;
	c->refs = 1;
	return c;
}

struct clip *clip_ref(struct clip *c)
{
	if (c)
		c->refs++;
	return c;
}

void clip_unref(struct clip *c)
{
	if (!c || --c->refs > 0)
		return;
	if (c->map)
		munmap(c->map, c->map_len);
	free(c->owned);
	free(c->source);
	free(c);
}
