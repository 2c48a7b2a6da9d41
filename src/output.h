/* The sound output behind a small ops table, so the player can be driven
 * by ALSA in the daemon and by an in-memory fake in unit tests. All calls
 * are non-blocking and return frames or a negative errno:
 *   -EPIPE    underrun (recover and go on)
 *   -ESTRPIPE suspended (recover, maybe -EAGAIN for a while)
 *   -ENODEV   the device is gone (close, reopen later)
 * Samples are mono float; the output copies them to every channel and
 * converts them to the device's format. */
#ifndef BULLHORN_OUTPUT_H
#define BULLHORN_OUTPUT_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>

struct output_params {
	const char *device;
	unsigned rate;
	unsigned channels;
	unsigned buffer_ms;
	unsigned period_ms;
};

struct output_info {
	size_t buffer_frames;
	size_t period_frames;
	char format[16]; /* e.g. "S16_LE", for the log */
	bool external;	 /* an external plugin (PulseAudio, PipeWire, ...):
			    it may pass audio on before it is played, so a
			    rewind cannot be trusted to take it back */
};

struct output_ops {
	/* Opens and prepares the device; it starts once a period is queued. */
	int (*open)(void *ctx, const struct output_params *p,
		    struct output_info *info);
	void (*close)(void *ctx);
	/* Poll descriptors while open: count, fill, and the revents they
	 * mean (POLLOUT: room to write; POLLERR: call avail for the error). */
	int (*poll_count)(void *ctx);
	int (*poll_fill)(void *ctx, struct pollfd *fds, int n);
	int (*poll_revents)(void *ctx, struct pollfd *fds, int n,
			    unsigned short *revents);
	long (*avail)(void *ctx);
	long (*write)(void *ctx, const float *mono, size_t frames);
	/* Frames queued and not yet heard. */
	long (*delay)(void *ctx);
	/* Takes back what was queued but not yet played, except the next
	 * keep frames (a safety margin: the device goes on playing while we
	 * compute), and at most max. Returns the frames taken back (0 when
	 * the device cannot), which the caller writes again, or a negative
	 * errno. */
	long (*rewind)(void *ctx, size_t keep, size_t max);
	/* Discards what is queued and prepares for the next start. */
	int (*drop)(void *ctx);
	/* After -EPIPE/-ESTRPIPE: 0 = ready again, -EAGAIN = try again
	 * shortly, other = give up (close and reopen). */
	int (*recover)(void *ctx, int err);
};

extern const struct output_ops output_alsa_ops;
/* The ALSA backend's context; free with output_alsa_free. */
void *output_alsa_new(void);
void output_alsa_free(void *ctx);

#endif
