/* The ALSA backend: a non-blocking PCM, short buffer, started by the
 * first period written. Only the open/close/recover paths do anything
 * slow; the write path converts and hands frames over. */
#include "output.h"

#include <alsa/asoundlib.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct output_alsa {
	snd_pcm_t *pcm;
	snd_pcm_format_t format;
	unsigned channels;
	size_t period_frames;
	void *scratch; /* one period in the device's format */
	size_t scratch_frames;
};

void *output_alsa_new(void)
{
	return calloc(1, sizeof(struct output_alsa));
}

static void alsa_close(void *ctx)
{
	struct output_alsa *o = ctx;

	if (o->pcm) {
		snd_pcm_drop(o->pcm);
		snd_pcm_close(o->pcm);
		o->pcm = NULL;
	}
	free(o->scratch);
	o->scratch = NULL;
}

void output_alsa_free(void *ctx)
{
	if (!ctx)
		return;
	alsa_close(ctx);
	free(ctx);
}

/* Maps the errors a vanished or absent card gives to -ENODEV, the one the
 * player treats as "reopen later". */
static int norm_err(int err)
{
	if (err == -ENOENT || err == -ENXIO || err == -EBADFD || err == -EIO ||
	    err == -ESHUTDOWN)
		return -ENODEV;
	return err;
}

static int set_hw(struct output_alsa *o, const struct output_params *p,
		  struct output_info *info)
{
	static const snd_pcm_format_t formats[] = {
	    SND_PCM_FORMAT_S16_LE, SND_PCM_FORMAT_S32_LE,
	    SND_PCM_FORMAT_FLOAT_LE, SND_PCM_FORMAT_S24_LE};
	snd_pcm_hw_params_t *hw;
	snd_pcm_uframes_t buffer, period;
	unsigned rate = p->rate;
	int r = -EINVAL;

	snd_pcm_hw_params_alloca(&hw);
	r = snd_pcm_hw_params_any(o->pcm, hw);
	if (r < 0)
		return r;
	r = snd_pcm_hw_params_set_access(o->pcm, hw,
					 SND_PCM_ACCESS_RW_INTERLEAVED);
	if (r < 0)
		return r;
	for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
		if (snd_pcm_hw_params_test_format(o->pcm, hw, formats[i]) ==
		    0) {
			o->format = formats[i];
			r = snd_pcm_hw_params_set_format(o->pcm, hw,
							 formats[i]);
			break;
		}
		r = -EINVAL;
	}
	if (r < 0)
		return r;
	r = snd_pcm_hw_params_set_channels(o->pcm, hw, p->channels);
	if (r < 0)
		return r;
	/* The library is processed at exactly this rate: a device that can't
	 * do it must go through a "plughw:" name, not be silently resampled
	 * at a different pitch. */
	r = snd_pcm_hw_params_set_rate(o->pcm, hw, rate, 0);
	if (r < 0)
		return r;
	period = (snd_pcm_uframes_t)p->rate * p->period_ms / 1000;
	buffer = (snd_pcm_uframes_t)p->rate * p->buffer_ms / 1000;
	r = snd_pcm_hw_params_set_period_size_near(o->pcm, hw, &period, NULL);
	if (r < 0)
		return r;
	r = snd_pcm_hw_params_set_buffer_size_near(o->pcm, hw, &buffer);
	if (r < 0)
		return r;
	r = snd_pcm_hw_params(o->pcm, hw);
	if (r < 0)
		return r;
	snd_pcm_hw_params_get_period_size(hw, &period, NULL);
	snd_pcm_hw_params_get_buffer_size(hw, &buffer);
	info->buffer_frames = buffer;
	info->period_frames = period;
	info->external = snd_pcm_type(o->pcm) == SND_PCM_TYPE_IOPLUG ||
			 snd_pcm_type(o->pcm) == SND_PCM_TYPE_EXTPLUG;
	snprintf(info->format, sizeof(info->format), "%s",
		 snd_pcm_format_name(o->format));
	return 0;
}

static int set_sw(struct output_alsa *o, const struct output_info *info)
{
	snd_pcm_sw_params_t *sw;
	snd_pcm_uframes_t boundary;
	int r;

	snd_pcm_sw_params_alloca(&sw);
	r = snd_pcm_sw_params_current(o->pcm, sw);
	if (r < 0)
		return r;
	/* Start as soon as one period is queued: the first write of a
	 * press is heard at once. */
	r = snd_pcm_sw_params_set_start_threshold(o->pcm, sw,
						  info->period_frames);
	if (r < 0)
		return r;
	r = snd_pcm_sw_params_set_avail_min(o->pcm, sw, info->period_frames);
	if (r < 0)
		return r;
	/* Have ALSA silence what has played, so a late wake-up at the end of
	 * a stream replays nothing stale. Best effort: not every plugin
	 * supports it, and the player pads with silence anyway. */
	if (snd_pcm_sw_params_get_boundary(sw, &boundary) == 0) {
		snd_pcm_sw_params_set_silence_threshold(o->pcm, sw, 0);
		snd_pcm_sw_params_set_silence_size(o->pcm, sw, boundary);
	}
	return snd_pcm_sw_params(o->pcm, sw);
}

static int alsa_open(void *ctx, const struct output_params *p,
		     struct output_info *info)
{
	struct output_alsa *o = ctx;
	int r;

	alsa_close(o);
	r = snd_pcm_open(&o->pcm, p->device, SND_PCM_STREAM_PLAYBACK,
			 SND_PCM_NONBLOCK);
	if (r < 0) {
		o->pcm = NULL;
		return norm_err(r);
	}
	o->channels = p->channels;
	r = set_hw(o, p, info);
	if (r < 0)
		goto fail;
	r = set_sw(o, info);
	if (r < 0)
		goto fail;
	r = snd_pcm_prepare(o->pcm);
	if (r < 0)
		goto fail;
	o->period_frames = info->period_frames;
	o->scratch_frames = info->period_frames;
	o->scratch =
	    malloc(o->scratch_frames * o->channels *
		   (size_t)snd_pcm_format_physical_width(o->format) / 8);
	if (!o->scratch) {
		r = -ENOMEM;
		goto fail;
	}
	return 0;
fail:
	alsa_close(o);
	return norm_err(r);
}

static int alsa_poll_count(void *ctx)
{
	struct output_alsa *o = ctx;

	return o->pcm ? snd_pcm_poll_descriptors_count(o->pcm) : 0;
}

static int alsa_poll_fill(void *ctx, struct pollfd *fds, int n)
{
	struct output_alsa *o = ctx;

	return snd_pcm_poll_descriptors(o->pcm, fds, (unsigned)n);
}

static int alsa_poll_revents(void *ctx, struct pollfd *fds, int n,
			     unsigned short *revents)
{
	struct output_alsa *o = ctx;

	return norm_err(snd_pcm_poll_descriptors_revents(o->pcm, fds,
							 (unsigned)n, revents));
}

static long alsa_avail(void *ctx)
{
	struct output_alsa *o = ctx;
	snd_pcm_sframes_t n = snd_pcm_avail_update(o->pcm);

	if (n >= 0) {
		/* avail_update does not see a suspended or broken stream. */
		switch (snd_pcm_state(o->pcm)) {
		case SND_PCM_STATE_XRUN:
			return -EPIPE;
		case SND_PCM_STATE_SUSPENDED:
			return -ESTRPIPE;
		case SND_PCM_STATE_DISCONNECTED:
			return -ENODEV;
		default:
			break;
		}
	}
	return n < 0 ? norm_err((int)n) : (long)n;
}

static void convert(struct output_alsa *o, const float *in, size_t frames)
{
	unsigned ch = o->channels;

	for (size_t i = 0; i < frames; i++) {
		float v = in[i];

		if (v > 1.0f)
			v = 1.0f;
		else if (v < -1.0f)
			v = -1.0f;
		switch (o->format) {
		case SND_PCM_FORMAT_S16_LE: {
			int16_t s = (int16_t)lrintf(v * 32767.0f);

			for (unsigned c = 0; c < ch; c++)
				((int16_t *)o->scratch)[i * ch + c] = s;
			break;
		}
		case SND_PCM_FORMAT_S32_LE: {
			int32_t s = (int32_t)lrint((double)v * 2147483647.0);

			for (unsigned c = 0; c < ch; c++)
				((int32_t *)o->scratch)[i * ch + c] = s;
			break;
		}
		case SND_PCM_FORMAT_S24_LE: {
			int32_t s = (int32_t)lrintf(v * 8388607.0f);

			for (unsigned c = 0; c < ch; c++)
				((int32_t *)o->scratch)[i * ch + c] = s;
			break;
		}
		default:
			for (unsigned c = 0; c < ch; c++)
				((float *)o->scratch)[i * ch + c] = v;
			break;
		}
	}
}

static long alsa_write(void *ctx, const float *mono, size_t frames)
{
	struct output_alsa *o = ctx;
	size_t done = 0;

	while (done < frames) {
		size_t n = frames - done;
		snd_pcm_sframes_t w;

		if (n > o->scratch_frames)
			n = o->scratch_frames;
		convert(o, mono + done, n);
		w = snd_pcm_writei(o->pcm, o->scratch, n);
		if (w == -EAGAIN)
			break;
		if (w < 0) {
			if (done)
				break;
			return norm_err((int)w);
		}
		done += (size_t)w;
		if ((size_t)w < n)
			break;
	}
	return (long)done;
}

static long alsa_delay(void *ctx)
{
	struct output_alsa *o = ctx;
	snd_pcm_sframes_t d;
	int r = snd_pcm_delay(o->pcm, &d);

	if (r < 0)
		return norm_err(r);
	return d < 0 ? 0 : (long)d;
}

static long alsa_rewind(void *ctx, size_t keep, size_t max)
{
	struct output_alsa *o = ctx;
	snd_pcm_sframes_t n = snd_pcm_rewindable(o->pcm);

	/* Some plugins (dmix over some cards, file) cannot rewind: then the
	 * queued audio just plays out, which costs at most one buffer. */
	if (n <= (snd_pcm_sframes_t)keep)
		return n < 0 ? norm_err((int)n) : 0;
	n -= (snd_pcm_sframes_t)keep;
	if ((size_t)n > max)
		n = (snd_pcm_sframes_t)max;
	if (n == 0)
		return 0;
	n = snd_pcm_rewind(o->pcm, (snd_pcm_uframes_t)n);
	return n < 0 ? norm_err((int)n) : (long)n;
}

static int alsa_drop(void *ctx)
{
	struct output_alsa *o = ctx;
	int r = snd_pcm_drop(o->pcm);

	if (r == 0)
		r = snd_pcm_prepare(o->pcm);
	return norm_err(r);
}

static int alsa_recover(void *ctx, int err)
{
	struct output_alsa *o = ctx;
	int r;

	if (err == -ESTRPIPE) {
		r = snd_pcm_resume(o->pcm);
		/* External plugins (ioplug: bluealsa, the tests' bhrt) say 0
		 * whether or not they resumed: still SUSPENDED means not yet.
		 * Taking 0 at its word had the caller poll an errored PCM in
		 * a busy loop, logging each turn. */
		if (r == 0 && snd_pcm_state(o->pcm) == SND_PCM_STATE_SUSPENDED)
			r = -EAGAIN;
		if (r == -EAGAIN)
			return -EAGAIN;
		/* Resumed: the stream runs again with its buffer intact, and
		 * a prepare now would fail (-EBUSY) or throw it away. */
		if (r == 0)
			return 0;
		/* No resume support (-ENOSYS) or it failed: start afresh. */
	}
	r = snd_pcm_prepare(o->pcm);
	return norm_err(r);
}

const struct output_ops output_alsa_ops = {
    .open = alsa_open,
    .close = alsa_close,
    .poll_count = alsa_poll_count,
    .poll_fill = alsa_poll_fill,
    .poll_revents = alsa_poll_revents,
    .avail = alsa_avail,
    .write = alsa_write,
    .delay = alsa_delay,
    .rewind = alsa_rewind,
    .drop = alsa_drop,
    .recover = alsa_recover,
};
