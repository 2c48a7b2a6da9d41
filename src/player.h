/* The player: turns sequences of clips into a continuous stream on an
 * output, in the daemon's poll loop. A new sequence or a stop fades the
 * current sound out (no clicks) and takes over; when nothing plays the
 * output is stopped and nothing wakes up. A missing or vanished device is
 * reopened with backoff while the rest of the daemon goes on. */
#ifndef BULLHORN_PLAYER_H
#define BULLHORN_PLAYER_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>

#include "clip.h"
#include "output.h"

#define PLAYER_MAX_ITEMS      128
#define PLAYER_FADE_OUT_MS    10.0 /* preemption and stop */
#define PLAYER_RESUME_FADE_MS 5.0
#define PLAYER_STALL_MS	      1000 /* taking nothing this long: stalled */

struct player_config {
	unsigned rate;
	double gap_s;	     /* silence between the rounds of a loop */
	double loop_limit_s; /* 0 = none; loops end at the clip boundary */
};

enum player_event {
	PLAYER_DEVICE_OPENED, /* detail: format and buffer */
	PLAYER_DEVICE_FAILED, /* err; only the first failure in a row */
	PLAYER_DEVICE_LOST,   /* err */
	PLAYER_XRUN,
	PLAYER_SUSPENDED,
	PLAYER_STALLED,	     /* the device took nothing for PLAYER_STALL_MS
				while a sound played (its clock stopped) */
	PLAYER_UNSTALLED,    /* it takes audio again */
	PLAYER_CLIP_STARTED, /* clip */
	PLAYER_FINISHED,     /* the sequence ended by itself */
	PLAYER_LOOP_LIMIT,   /* the loop hit loop_limit_s */
	PLAYER_IDLE,	     /* the output is stopped: nothing more sounds */
};

typedef void (*player_event_fn)(void *data, enum player_event ev, int err,
				const struct clip *clip, const char *detail);

struct player;

/* ops/out: the output and its context (borrowed). params are copied. */
struct player *player_new(const struct output_ops *ops, void *out,
			  const struct output_params *params,
			  const struct player_config *pc, player_event_fn fn,
			  void *data);
void player_free(struct player *p);

/* Tries to open the device now (the first try at start-up); on failure
 * retries run from the poll loop with backoff. */
int player_open_device(struct player *p);

/* One clip of a sequence and the silence before it. Before the first
 * clip it is a lead-in played once (the amplifier's warm-up); a loop
 * puts gap_s, not the lead-in, before its first clip each round. */
struct player_entry {
	struct clip *clip;
	double pause_s;
};

/* Plays the clips in order; loop repeats the whole sequence after gap_s.
 * Takes references. Whatever was playing fades out first. n must be
 * 1..PLAYER_MAX_ITEMS/2. */
int player_start(struct player *p, const struct player_entry *e, size_t n,
		 bool loop);
/* Fades out whatever plays; a no-op when idle. */
void player_stop(struct player *p);

/* 0..100, on a cubic curve (100 = full level, 50 ~ -18 dB, 0 = mute);
 * changes ramp over 20 ms so they never click. */
void player_set_volume(struct player *p, unsigned volume);

bool player_is_playing(const struct player *p);
/* Nothing queued or sounding: the output is stopped. */
bool player_is_idle(const struct player *p);
/* Whether stop and preemption may take back queued audio: AUTO (the
 * default) does unless the output is an external plugin, which may have
 * passed the audio on already. */
enum { PLAYER_REWIND_AUTO, PLAYER_REWIND_YES, PLAYER_REWIND_NO };
void player_set_rewind(struct player *p, int mode);
/* New gap and loop limit, for sequences started from now on. */
void player_configure(struct player *p, const struct player_config *pc);
bool player_device_ok(const struct player *p);
/* The clip now being written, or NULL. */
const struct clip *player_current(const struct player *p);

/* Poll loop integration: fills up to max descriptors (the output's while
 * it must be fed, plus the player's timer) and returns the count; after
 * poll(), hand the same array back to player_dispatch. */
int player_pollfds(struct player *p, struct pollfd *fds, int max);
void player_dispatch(struct player *p, struct pollfd *fds, int n);

#endif
