/* The microphone, for bullhorn record only: an ALSA capture PCM read
 * as 16-bit mono without blocking. bullhornd never opens it. */
#ifndef BULLHORN_RECORDER_H
#define BULLHORN_RECORDER_H

#include <poll.h>
#include <stddef.h>
#include <stdint.h>

struct recorder;

/* Opens device for capture at rate, mono (ALSA converts as needed). */
int recorder_open(const char *device, unsigned rate, struct recorder **out);
void recorder_free(struct recorder *r);

int recorder_pollfds(struct recorder *r, struct pollfd *fds, int max);
/* Reads what is there, up to max frames; -EAGAIN when nothing is. An
 * overrun is recovered from and reported once as -EPIPE. */
long recorder_read(struct recorder *r, int16_t *buf, size_t max);

#endif
