#include "player.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

#define CHUNK_FRAMES	1024
#define BACKOFF_MIN_MS	250
#define BACKOFF_MAX_MS	8000
#define RESUME_RETRY_MS 20
#define VOLUME_RAMP_MS	20.0

enum play_state {
	PS_IDLE,     /* output stopped (or closed), nothing to play */
	PS_PLAYING,  /* feeding a sequence */
	PS_FADING,   /* feeding the old sequence's fade-out */
	PS_DRAINING, /* everything written; timer stops the output */
};

enum timer_use {
	TIMER_NONE,
	TIMER_DRAIN,
	TIMER_REOPEN,
	TIMER_RESUME,
	TIMER_STALL,
};

struct item {
	struct clip *clip; /* NULL = silence_frames of silence */
	size_t silence_frames;
};

struct sequence {
	struct item items[PLAYER_MAX_ITEMS + 1]; /* + a lead-in */
	size_t n;
	size_t first; /* where each round of a loop starts: after a lead-in */
	bool loop;
	bool ending; /* loop limit reached: finish the current clip */
	size_t idx;
	size_t pos;
	size_t played; /* frames generated, for the loop limit */
};

struct player {
	const struct output_ops *ops;
	void *out;
	struct output_params params;
	char device[256];
	struct player_config cfg;
	player_event_fn fn;
	void *data;

	bool open;
	int rewind_mode; /* PLAYER_REWIND_* */
	bool external;	 /* the open output is an external plugin */
	bool failed_reported;
	unsigned backoff_ms;
	struct output_info info;

	enum play_state state;
	struct sequence cur;
	struct sequence next; /* waits for the fade-out of cur */
	bool have_next;
	size_t fade_total, fade_left;
	size_t fadein_total, fadein_left;
	bool announced; /* PLAYER_CLIP_STARTED sent for cur.items[idx] */
	struct clip *to_announce; /* started in the last refill, not told yet */

	float gain, gain_target, gain_step;

	/* Every sample generated (before gain), by generation index, so
	 * what a rewind takes back from the device can be faded out from
	 * exactly where the listener is. */
	float *hist;
	size_t hist_len;
	size_t gen;	   /* generation index of the next sample */
	size_t replay_end; /* while gen < replay_end, replay from hist */
	size_t gen_seq;	   /* gen of the current sequence's first sample */

	float pend[CHUNK_FRAMES]; /* generated, not yet accepted by output */
	size_t pend_n, pend_off;
	size_t written;	   /* frames handed to the output since it opened */
	size_t pad_left;   /* silence still to write before the drain */
	size_t pend_pad;   /* trailing frames of pend that are that silence */
	size_t taken;	   /* frames the output ever took: the stall check */
	size_t stall_mark; /* taken when the stall timer was armed */
	bool stalled;	   /* PLAYER_STALLED told, PLAYER_UNSTALLED not */

	int timer_fd;
	enum timer_use timer_use;
};

static void emit(struct player *p, enum player_event ev, int err,
		 const struct clip *c, const char *detail)
{
	if (p->fn)
		p->fn(p->data, ev, err, c, detail);
}

static void seq_clear(struct sequence *s)
{
	for (size_t i = 0; i < s->n; i++)
		clip_unref(s->items[i].clip);
	memset(s, 0, sizeof(*s));
}

static size_t ms_to_frames(const struct player *p, double ms)
{
	return (size_t)(ms * p->cfg.rate / 1000.0 + 0.5);
}

static void timer_arm(struct player *p, enum timer_use use, double ms)
{
	struct itimerspec its = {0};
	long long ns = (long long)(ms * 1e6);

	if (ns < 1)
		ns = 1; /* zero would disarm */
	its.it_value.tv_sec = ns / 1000000000LL;
	its.it_value.tv_nsec = ns % 1000000000LL;
	timerfd_settime(p->timer_fd, 0, &its, NULL);
	p->timer_use = use;
}

static void timer_disarm(struct player *p)
{
	struct itimerspec its = {0};

	if (p->timer_use == TIMER_NONE)
		return;
	timerfd_settime(p->timer_fd, 0, &its, NULL);
	p->timer_use = TIMER_NONE;
}

struct player *player_new(const struct output_ops *ops, void *out,
			  const struct output_params *params,
			  const struct player_config *pc, player_event_fn fn,
			  void *data)
{
	struct player *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->timer_fd =
	    timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (p->timer_fd < 0) {
		free(p);
		return NULL;
	}
	p->ops = ops;
	p->out = out;
	p->params = *params;
	snprintf(p->device, sizeof(p->device), "%s", params->device);
	p->params.device = p->device;
	p->cfg = *pc;
	p->fn = fn;
	p->data = data;
	p->rewind_mode = PLAYER_REWIND_AUTO;
	p->gain = p->gain_target = 1.0f;
	p->gain_step = (float)(1.0 / (VOLUME_RAMP_MS * pc->rate / 1000.0));
	return p;
}

void player_free(struct player *p)
{
	if (!p)
		return;
	if (p->open)
		p->ops->close(p->out);
	seq_clear(&p->cur);
	seq_clear(&p->next);
	close(p->timer_fd);
	clip_unref(p->to_announce);
	free(p->hist);
	free(p);
}

static void schedule_reopen(struct player *p)
{
	if (p->backoff_ms == 0)
		p->backoff_ms = BACKOFF_MIN_MS;
	timer_arm(p, TIMER_REOPEN, p->backoff_ms);
	p->backoff_ms *= 2;
	if (p->backoff_ms > BACKOFF_MAX_MS)
		p->backoff_ms = BACKOFF_MAX_MS;
}

static void fill(struct player *p);

int player_open_device(struct player *p)
{
	char detail[96];
	int r;

	if (p->open)
		return 0;
	r = p->ops->open(p->out, &p->params, &p->info);
	if (r < 0) {
		if (!p->failed_reported)
			emit(p, PLAYER_DEVICE_FAILED, r, NULL, NULL);
		p->failed_reported = true;
		schedule_reopen(p);
		return r;
	}
	free(p->hist);
	p->hist_len = p->info.buffer_frames + CHUNK_FRAMES;
	p->hist = calloc(p->hist_len, sizeof(float));
	/* Without it, stop and preemption just wait for the queued audio. */
	if (!p->hist)
		p->hist_len = 0;
	p->open = true;
	p->external = p->info.external;
	p->written = 0;
	p->gen = p->replay_end = p->gen_seq = 0;
	p->failed_reported = false;
	p->backoff_ms = 0;
	timer_disarm(p);
	snprintf(detail, sizeof(detail),
		 "%s, %zu-frame buffer, %zu-frame period", p->info.format,
		 p->info.buffer_frames, p->info.period_frames);
	emit(p, PLAYER_DEVICE_OPENED, 0, NULL, detail);
	if (p->state == PS_PLAYING || p->state == PS_FADING) {
		/* Picking up mid-clip: ramp in rather than jump in. */
		p->fadein_total = p->fadein_left =
		    ms_to_frames(p, PLAYER_RESUME_FADE_MS);
		fill(p);
	} else {
		p->state = PS_IDLE;
	}
	return 0;
}

/* The fade-out is over: the next sequence takes over, or the player
 * goes to `quiet` (draining what is queued, or idle when nothing is). */
static void end_fade(struct player *p, enum play_state quiet)
{
	p->replay_end = 0;
	seq_clear(&p->cur);
	if (p->have_next) {
		p->cur = p->next;
		memset(&p->next, 0, sizeof(p->next));
		p->have_next = false;
		p->state = PS_PLAYING;
		p->announced = false;
		p->gen_seq = p->gen;
	} else {
		p->state = quiet;
	}
}

static void device_lost(struct player *p, int err)
{
	p->ops->close(p->out);
	p->open = false;
	p->stalled = false;
	p->pend_n = p->pend_off = p->pend_pad = p->pad_left = 0;
	emit(p, PLAYER_DEVICE_LOST, err, NULL, NULL);
	/* What was queued is gone with the device. A fade-out has nothing
	 * left to fade: what was stopped or preempted must not come back
	 * with the card. A drain has nothing left to wait for. */
	if (p->state == PS_FADING) {
		end_fade(p, PS_IDLE);
		if (p->state == PS_IDLE)
			emit(p, PLAYER_IDLE, 0, NULL, NULL);
	} else if (p->state == PS_DRAINING) {
		seq_clear(&p->cur);
		p->state = PS_IDLE;
		emit(p, PLAYER_IDLE, 0, NULL, NULL);
	}
	p->failed_reported = true;
	p->backoff_ms = 0;
	schedule_reopen(p);
}

/* The next sample of a sequence, advancing it; false at its end. */
static bool seq_next(struct player *p, struct sequence *s, float *out)
{
	for (;;) {
		struct item *it;

		if (s->idx >= s->n) {
			if (!s->loop || s->ending || s->n == 0)
				return false;
			s->idx = s->first;
			s->pos = 0;
		}
		it = &s->items[s->idx];
		if (it->clip && s->pos < it->clip->frames) {
			*out = it->clip->samples[s->pos++];
			s->played++;
			return true;
		}
		/* A loop past its limit does not sit out a whole gap. */
		if (!it->clip && s->ending)
			return false;
		if (!it->clip && s->pos < it->silence_frames) {
			*out = 0.0f;
			s->pos++;
			s->played++;
			return true;
		}
		/* Item done; a loop past its limit ends here. */
		if (s->ending)
			return false;
		s->idx++;
		s->pos = 0;
		if (s == &p->cur)
			p->announced = false;
	}
}

static void check_loop_limit(struct player *p)
{
	size_t limit;

	if (!p->cur.loop || p->cur.ending || p->cfg.loop_limit_s <= 0)
		return;
	limit = (size_t)(p->cfg.loop_limit_s * p->cfg.rate);
	if (p->cur.played >= limit) {
		p->cur.ending = true;
		emit(p, PLAYER_LOOP_LIMIT, 0, NULL, NULL);
	}
}

static void step_gain(struct player *p)
{
	if (p->gain == p->gain_target)
		return;
	if (fabsf(p->gain_target - p->gain) <= p->gain_step)
		p->gain = p->gain_target;
	else if (p->gain < p->gain_target)
		p->gain += p->gain_step;
	else
		p->gain -= p->gain_step;
}

/* Generates up to n frames into buf; returns how many (fewer at the end
 * of what there is to play). */
static size_t generate(struct player *p, float *buf, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		float s, fade = 1.0f;

		if (p->state == PS_PLAYING && !p->announced &&
		    p->cur.idx < p->cur.n && p->cur.items[p->cur.idx].clip) {
			p->announced = true;
			/* Told after the write: a slow log must never hold
			 * back the first frame. */
			p->to_announce =
			    clip_ref(p->cur.items[p->cur.idx].clip);
		}
		if (p->state != PS_PLAYING && p->state != PS_FADING)
			break;
		if (p->gen < p->replay_end) {
			/* Exactly what the listener would have heard, gain
			 * and all: only the fade-out is new. */
			s = p->hist[p->gen % p->hist_len];
		} else if (!seq_next(p, &p->cur, &s)) {
			/* The old sound ended inside its own fade-out. */
			s = 0.0f;
			if (p->state == PS_FADING) {
				p->fade_left = 0;
			} else {
				p->state = PS_DRAINING;
				emit(p, PLAYER_FINISHED, 0, NULL, NULL);
				break;
			}
		} else {
			if (p->fadein_left > 0) {
				s *= 1.0f - (float)p->fadein_left /
						(float)p->fadein_total;
				p->fadein_left--;
			}
			step_gain(p);
			s *= p->gain;
		}
		if (p->hist)
			p->hist[p->gen % p->hist_len] = s;
		p->gen++;
		if (p->state == PS_FADING) {
			fade = (float)p->fade_left / (float)p->fade_total;
			if (p->fade_left > 0)
				p->fade_left--;
			if (p->fade_left == 0)
				end_fade(p, PS_DRAINING);
		}
		buf[i] = s * fade;
		if ((i & 255) == 0)
			check_loop_limit(p);
	}
	return i;
}

static void begin_drain(struct player *p)
{
	long delay;
	double ms;

	delay = p->ops->delay(p->out);
	if (delay < 0)
		delay = 0;
	ms = (double)delay * 1000.0 / p->cfg.rate;
	/* Stop a period before the padding runs out: the sound has played
	 * (the padding is at least two periods), and a wake-up up to a
	 * period late still finds the device running. */
	ms -= 1000.0 * (double)p->info.period_frames / p->cfg.rate;
	timer_arm(p, TIMER_DRAIN, ms > 0 ? ms : 0);
}

static void handle_error(struct player *p, long err)
{
	int r;

	if (err == -EPIPE || err == -ESTRPIPE) {
		emit(p, err == -EPIPE ? PLAYER_XRUN : PLAYER_SUSPENDED,
		     (int)err, NULL, NULL);
		r = p->ops->recover(p->out, (int)err);
		if (r == -EAGAIN) {
			timer_arm(p, TIMER_RESUME, RESUME_RETRY_MS);
			return;
		}
		if (r == 0)
			return;
		err = r;
	}
	device_lost(p, (int)err);
}

/* Refills pend with at most max frames: sound while there is some, then
 * the drain's padding. Never more than the output takes right now, so a
 * preemption or stop acts on the very next frame the device gets.
 * Returns false when there is nothing more to write. */
static bool refill(struct player *p, size_t max)
{
	size_t per = p->info.period_frames;

	if (max > CHUNK_FRAMES)
		max = CHUNK_FRAMES;
	p->pend_off = 0;
	p->pend_n = 0;
	if (p->state == PS_PLAYING || p->state == PS_FADING) {
		p->pend_n = generate(p, p->pend, max);
		if (p->state == PS_DRAINING) {
			/* Silence to the next period boundary and two periods
			 * more, so the device starts even for a tiny clip and
			 * never runs dry before the drain stops it. */
			size_t end = p->written + p->pend_n;

			p->pad_left = 2 * per + (per - end % per) % per;
		}
	}
	p->pend_pad = 0;
	while (p->state == PS_DRAINING && p->pad_left > 0 && p->pend_n < max) {
		p->pend[p->pend_n++] = 0.0f;
		p->pad_left--;
		p->pend_pad++;
	}
	return p->pend_n > 0;
}

static void announce(struct player *p)
{
	struct clip *c = p->to_announce;

	if (!c)
		return;
	p->to_announce = NULL;
	emit(p, PLAYER_CLIP_STARTED, 0, c, NULL);
	clip_unref(c);
}

/* A device whose clock stopped wakes nobody: while a sound plays, a
 * timer looks every PLAYER_STALL_MS whether the output took anything
 * since the last look. The timer is free then: drain, reopen and resume
 * use it only when nothing is being fed. */
static void stall_watch(struct player *p)
{
	if (!p->open || p->timer_use != TIMER_NONE ||
	    (p->state != PS_PLAYING && p->state != PS_FADING))
		return;
	p->stall_mark = p->taken;
	timer_arm(p, TIMER_STALL, PLAYER_STALL_MS);
}

/* Writes as much as the output takes, but at most one buffer per call:
 * a device that consumes as fast as it is fed (ALSA's null, a stalled
 * clock) must not keep the loop from serving everything else. */
static void fill(struct player *p)
{
	size_t budget = p->info.buffer_frames;

	if (!p->open || p->timer_use == TIMER_RESUME)
		return;
	while (budget > 0) {
		long avail, w;
		size_t want;

		if (p->state == PS_DRAINING && p->pend_n == 0 &&
		    p->pad_left == 0)
			break;
		avail = p->ops->avail(p->out);
		if (avail < 0) {
			handle_error(p, avail);
			goto out;
		}
		if (avail == 0)
			goto out;
		if ((size_t)avail > budget)
			avail = (long)budget;
		if (p->pend_n == 0 && !refill(p, (size_t)avail))
			break;
		want = p->pend_n < (size_t)avail ? p->pend_n : (size_t)avail;
		w = p->ops->write(p->out, p->pend + p->pend_off, want);
		if (w < 0) {
			handle_error(p, w);
			goto out;
		}
		p->pend_off += (size_t)w;
		p->pend_n -= (size_t)w;
		p->written += (size_t)w;
		p->taken += (size_t)w;
		if (w > 0 && p->stalled) {
			p->stalled = false;
			emit(p, PLAYER_UNSTALLED, 0, NULL, NULL);
		}
		budget -= (size_t)w;
		if (p->pend_pad > p->pend_n)
			p->pend_pad = p->pend_n;
		if ((size_t)w < want)
			goto out;
	}
	if (p->state == PS_DRAINING && p->timer_use != TIMER_DRAIN)
		begin_drain(p);
out:
	stall_watch(p);
	announce(p);
}

/* Begins the fade-out of what plays. When the device can take back what
 * it has queued, the fade starts one period from now instead of after the
 * whole buffer: stop and preemption are heard at once. */
static void begin_fade(struct player *p)
{
	size_t fade = ms_to_frames(p, PLAYER_FADE_OUT_MS), max;
	long r;

	p->state = PS_FADING;
	p->fade_total = p->fade_left = fade;
	if (!p->open || !p->hist || !p->ops->rewind ||
	    p->rewind_mode == PLAYER_REWIND_NO ||
	    (p->rewind_mode == PLAYER_REWIND_AUTO && p->external))
		return;
	/* Only this sequence's own samples can be replayed from hist. */
	if (p->gen < p->gen_seq + p->pend_n)
		return;
	max = p->gen - p->pend_n - p->gen_seq;
	if (max > p->written)
		max = p->written;
	r = p->ops->rewind(p->out, p->info.period_frames, max);
	if (r <= 0)
		return;
	/* Replay the taken-back samples (and any generated but unwritten)
	 * from hist; the fade runs over them. */
	p->written -= (size_t)r;
	p->replay_end = p->gen;
	p->gen -= (size_t)r + p->pend_n;
	p->pend_n = p->pend_off = p->pend_pad = 0;
}

static int seq_build(struct player *p, struct sequence *s,
		     const struct player_entry *e, size_t n, bool loop)
{
	size_t gap = (size_t)(p->cfg.gap_s * p->cfg.rate);

	if (n == 0 || n > PLAYER_MAX_ITEMS / 2)
		return -EINVAL;
	memset(s, 0, sizeof(*s));
	for (size_t i = 0; i < n; i++) {
		size_t pause = (size_t)(e[i].pause_s * p->cfg.rate);

		if (pause > 0)
			s->items[s->n++].silence_frames = pause;
		if (i == 0)
			s->first = s->n;
		s->items[s->n++].clip = clip_ref(e[i].clip);
	}
	if (loop && gap > 0)
		s->items[s->n++].silence_frames = gap;
	s->loop = loop;
	return 0;
}

int player_start(struct player *p, const struct player_entry *e, size_t n,
		 bool loop)
{
	struct sequence s;
	int r = seq_build(p, &s, e, n, loop);

	if (r < 0)
		return r;
	switch (p->state) {
	case PS_PLAYING:
	case PS_FADING:
		if (!p->open) {
			/* Nothing is sounding: no fade to wait for. */
			seq_clear(&p->cur);
			seq_clear(&p->next);
			p->have_next = false;
			p->cur = s;
			p->state = PS_PLAYING;
			p->announced = false;
			return 0;
		}
		seq_clear(&p->next);
		p->next = s;
		p->have_next = true;
		if (p->state == PS_PLAYING)
			begin_fade(p);
		break;
	case PS_DRAINING:
	case PS_IDLE:
		if (p->timer_use == TIMER_DRAIN)
			timer_disarm(p);
		/* The drain's padding would only delay the new sound. */
		p->pend_n -= p->pend_pad;
		p->pend_pad = 0;
		p->pad_left = 0;
		p->gen_seq = p->gen;
		seq_clear(&p->cur);
		p->cur = s;
		p->state = PS_PLAYING;
		p->announced = false;
		break;
	}
	if (p->open)
		fill(p);
	return 0;
}

void player_stop(struct player *p)
{
	seq_clear(&p->next);
	p->have_next = false;
	if (p->state == PS_PLAYING && p->open) {
		begin_fade(p);
		fill(p);
	} else if (p->state == PS_PLAYING || p->state == PS_FADING) {
		if (!p->open) {
			seq_clear(&p->cur);
			p->state = PS_IDLE;
		}
	}
}

void player_set_volume(struct player *p, unsigned volume)
{
	double v = volume > 100 ? 1.0 : volume / 100.0;

	p->gain_target = (float)(v * v * v);
	if (p->state == PS_IDLE)
		p->gain = p->gain_target;
}

bool player_is_playing(const struct player *p)
{
	/* A fade-out toward silence is already "stopped" for the user. */
	return p->state == PS_PLAYING ||
	       (p->state == PS_FADING && p->have_next);
}

bool player_is_idle(const struct player *p)
{
	return p->state == PS_IDLE;
}

void player_set_rewind(struct player *p, int mode)
{
	p->rewind_mode = mode;
}

void player_configure(struct player *p, const struct player_config *pc)
{
	p->cfg.gap_s = pc->gap_s;
	p->cfg.loop_limit_s = pc->loop_limit_s;
}

bool player_device_ok(const struct player *p)
{
	return p->open;
}

const struct clip *player_current(const struct player *p)
{
	if (p->state != PS_PLAYING || p->cur.idx >= p->cur.n)
		return NULL;
	return p->cur.items[p->cur.idx].clip;
}

int player_pollfds(struct player *p, struct pollfd *fds, int max)
{
	int n = 0;

	if (max < 1)
		return 0;
	fds[n].fd = p->timer_fd;
	fds[n].events = POLLIN;
	fds[n].revents = 0;
	n++;
	if (p->open && p->timer_use != TIMER_RESUME &&
	    (p->state == PS_PLAYING || p->state == PS_FADING ||
	     (p->state == PS_DRAINING && (p->pend_n > 0 || p->pad_left > 0)))) {
		int c = p->ops->poll_count(p->out);

		if (c > 0 && c <= max - n) {
			c = p->ops->poll_fill(p->out, fds + n, c);
			if (c > 0)
				n += c;
		}
	}
	return n;
}

static void on_timer(struct player *p)
{
	uint64_t ticks;
	enum timer_use use = p->timer_use;
	int r;

	if (read(p->timer_fd, &ticks, sizeof(ticks)) != sizeof(ticks))
		return;
	p->timer_use = TIMER_NONE;
	switch (use) {
	case TIMER_DRAIN:
		if (p->state == PS_DRAINING) {
			r = p->ops->drop(p->out);
			p->written = 0;
			p->pend_n = p->pend_off = p->pend_pad = p->pad_left = 0;
			p->state = PS_IDLE;
			seq_clear(&p->cur);
			if (r < 0)
				device_lost(p, r);
			emit(p, PLAYER_IDLE, 0, NULL, NULL);
		}
		break;
	case TIMER_REOPEN:
		player_open_device(p);
		break;
	case TIMER_RESUME:
		r = p->ops->recover(p->out, -ESTRPIPE);
		if (r == -EAGAIN)
			timer_arm(p, TIMER_RESUME, RESUME_RETRY_MS);
		else if (r < 0)
			device_lost(p, r);
		else
			fill(p);
		break;
	case TIMER_STALL:
		if (p->open && p->taken == p->stall_mark && !p->stalled &&
		    (p->state == PS_PLAYING || p->state == PS_FADING)) {
			p->stalled = true;
			emit(p, PLAYER_STALLED, 0, NULL, NULL);
		}
		stall_watch(p);
		break;
	case TIMER_NONE:
		break;
	}
}

void player_dispatch(struct player *p, struct pollfd *fds, int n)
{
	if (n < 1)
		return;
	if (fds[0].revents & POLLIN)
		on_timer(p);
	if (n > 1 && p->open) {
		unsigned short rev = 0;
		int r = p->ops->poll_revents(p->out, fds + 1, n - 1, &rev);

		if (r < 0) {
			handle_error(p, r);
			return;
		}
		if (rev & (POLLOUT | POLLERR))
			fill(p);
	}
}
