#include "devices.h"

#include <alsa/asoundlib.h>
#include <stdbool.h>
#include <string.h>

static void silent(const char *file, int line, const char *function, int err,
		   const char *fmt, ...)
{
	(void)file;
	(void)line;
	(void)function;
	(void)err;
	(void)fmt;
}

/* The card's PCM devices of one direction. */
static int card_devices(snd_ctl_t *ctl, const char *id, const char *name,
			snd_pcm_stream_t dir, FILE *out)
{
	snd_pcm_info_t *info;
	int dev = -1, n = 0;

	snd_pcm_info_alloca(&info);
	while (snd_ctl_pcm_next_device(ctl, &dev) == 0 && dev >= 0) {
		snd_pcm_info_set_device(info, (unsigned)dev);
		snd_pcm_info_set_subdevice(info, 0);
		snd_pcm_info_set_stream(info, dir);
		if (snd_ctl_pcm_info(ctl, info) < 0)
			continue;
		/* plughw converts rate and format when the card cannot
		 * take 48 kHz stereo as it is. */
		fprintf(out, "  %-8s plughw:CARD=%s,DEV=%d   %s: %s\n",
			dir == SND_PCM_STREAM_PLAYBACK ? "playback" : "capture",
			id, dev, name, snd_pcm_info_get_name(info));
		n++;
	}
	return n;
}

static int cards(FILE *out)
{
	int card = -1, n = 0;

	while (snd_card_next(&card) == 0 && card >= 0) {
		snd_ctl_card_info_t *ci;
		snd_ctl_t *ctl;
		char hw[16];

		snd_ctl_card_info_alloca(&ci);
		snprintf(hw, sizeof(hw), "hw:%d", card);
		if (snd_ctl_open(&ctl, hw, 0) < 0)
			continue;
		if (snd_ctl_card_info(ctl, ci) == 0) {
			const char *id = snd_ctl_card_info_get_id(ci);
			const char *name = snd_ctl_card_info_get_name(ci);

			n += card_devices(ctl, id, name,
					  SND_PCM_STREAM_PLAYBACK, out);
			n += card_devices(ctl, id, name, SND_PCM_STREAM_CAPTURE,
					  out);
		}
		snd_ctl_close(ctl);
	}
	return n;
}

/* Named PCMs with a description: what the ALSA configuration defines
 * (default, pulse, a kit's own dmix...). */
static void named(FILE *out)
{
	void **hints, **h;
	bool any = false;

	if (snd_device_name_hint(-1, "pcm", &hints) < 0)
		return;
	for (h = hints; *h; h++) {
		char *name = snd_device_name_get_hint(*h, "NAME");
		char *desc = snd_device_name_get_hint(*h, "DESC");
		char *io = snd_device_name_get_hint(*h, "IOID");

		/* Card devices are listed above under stable names. */
		if (name && !strchr(name, ':')) {
			char *nl = desc ? strchr(desc, '\n') : NULL;

			if (nl)
				*nl = ' ';
			if (!any)
				fprintf(out, "\nNamed devices of the ALSA "
					     "configuration:\n");
			any = true;
			fprintf(out, "  %-8s %-24s %s\n",
				io ? (strcmp(io, "Input") == 0 ? "capture"
							       : "playback")
				   : "both",
				name, desc ? desc : "");
		}
		free(name);
		free(desc);
		free(io);
	}
	snd_device_name_free_hint(hints);
}

int devices_list(FILE *out)
{
	int n;

	/* alsa-lib's own complaints about half-configured cards would
	 * bury the list. */
	snd_lib_error_set_handler(silent);
	fprintf(out, "Sound cards (put the name in [audio] device or "
		     "[record] device):\n");
	n = cards(out);
	if (n == 0)
		fprintf(out, "  none found: is the sound card (USB, HAT) "
			     "connected and its driver loaded? (aplay -l)\n");
	named(out);
	snd_lib_error_set_handler(NULL);
	return n;
}
