#include "recorder.h"

#include <alsa/asoundlib.h>
#include <errno.h>
#include <stdlib.h>

#define RECORDER_CHUNK 2048

struct recorder {
	snd_pcm_t *pcm;
};

int recorder_open(const char *device, unsigned rate, struct recorder **out)
{
	struct recorder *r = calloc(1, sizeof(*r));
	int e;

	if (!r)
		return -ENOMEM;
	e = snd_pcm_open(&r->pcm, device, SND_PCM_STREAM_CAPTURE,
			 SND_PCM_NONBLOCK);
	if (e < 0)
		goto fail;
	/* Resampling allowed: USB microphones often offer only 44.1 or
	 * 48 kHz; latency does not matter here. */
	e = snd_pcm_set_params(r->pcm, SND_PCM_FORMAT_S16_LE,
			       SND_PCM_ACCESS_RW_INTERLEAVED, 1, rate, 1,
			       200000);
	if (e < 0)
		goto fail;
	e = snd_pcm_start(r->pcm);
	if (e < 0)
		goto fail;
	*out = r;
	return 0;
fail:
	recorder_free(r);
	return e;
}

void recorder_free(struct recorder *r)
{
	if (!r)
		return;
	if (r->pcm)
		snd_pcm_close(r->pcm);
	free(r);
}

int recorder_pollfds(struct recorder *r, struct pollfd *fds, int max)
{
	int n = snd_pcm_poll_descriptors_count(r->pcm);

	if (n <= 0 || n > max)
		return 0;
	return snd_pcm_poll_descriptors(r->pcm, fds, (unsigned)n);
}

long recorder_read(struct recorder *r, int16_t *buf, size_t max)
{
	snd_pcm_sframes_t n;

	/* Never more than the device buffer holds (some plugins refuse). */
	if (max > RECORDER_CHUNK)
		max = RECORDER_CHUNK;
	n = snd_pcm_readi(r->pcm, buf, max);

	if (n == -EPIPE || n == -ESTRPIPE) {
		snd_pcm_prepare(r->pcm);
		snd_pcm_start(r->pcm);
		return -EPIPE;
	}
	return n;
}
