/* The player against an in-memory output that plays only when the test
 * says so: sequencing, fades, preemption, stop, loops, volume and device
 * faults, sample by sample and without real time. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "player.h"

#define RATE	 48000
#define BUFFER	 1920 /* 40 ms */
#define PERIOD	 480  /* 10 ms */
#define FADE_OUT ((size_t)(PLAYER_FADE_OUT_MS * RATE / 1000))

struct fake {
	float *rec; /* everything written, in order */
	size_t rec_n, rec_cap;
	size_t played; /* frames of rec the "speaker" has emitted */
	bool open;
	int open_err;	/* next opens fail with this */
	long avail_err; /* the next avail returns this once */
	bool can_rewind;
	bool external;
	int opens, closes, recovers, drops;
	int efd;
};

struct events {
	int count[PLAYER_IDLE + 1];
};

static void on_event(void *data, enum player_event ev, int err,
		     const struct clip *c, const char *detail)
{
	struct events *e = data;

	(void)err;
	(void)c;
	(void)detail;
	e->count[ev]++;
}

static int f_open(void *ctx, const struct output_params *p,
		  struct output_info *info)
{
	struct fake *f = ctx;

	(void)p;
	f->opens++;
	if (f->open_err)
		return f->open_err;
	f->open = true;
	info->buffer_frames = BUFFER;
	info->period_frames = PERIOD;
	info->external = f->external;
	strcpy(info->format, "FLOAT");
	return 0;
}

static void f_close(void *ctx)
{
	struct fake *f = ctx;

	f->closes++;
	f->open = false;
	f->rec_n = f->played; /* what was queued is never heard */
}

static int f_poll_count(void *ctx)
{
	(void)ctx;
	return 1;
}

static int f_poll_fill(void *ctx, struct pollfd *fds, int n)
{
	struct fake *f = ctx;

	(void)n;
	fds[0] = (struct pollfd){.fd = f->efd, .events = POLLOUT};
	return 1;
}

static int f_poll_revents(void *ctx, struct pollfd *fds, int n,
			  unsigned short *revents)
{
	(void)ctx;
	(void)n;
	*revents = fds[0].revents;
	return 0;
}

static long f_avail(void *ctx)
{
	struct fake *f = ctx;

	if (f->avail_err) {
		long e = f->avail_err;

		f->avail_err = 0;
		return e;
	}
	return BUFFER - (long)(f->rec_n - f->played);
}

static long f_write(void *ctx, const float *mono, size_t frames)
{
	struct fake *f = ctx;

	assert_true(f->open);
	assert_true(f->rec_n - f->played + frames <= BUFFER);
	if (f->rec_n + frames > f->rec_cap) {
		f->rec_cap = (f->rec_n + frames) * 2;
		f->rec = realloc(f->rec, f->rec_cap * sizeof(float));
		assert_non_null(f->rec);
	}
	memcpy(f->rec + f->rec_n, mono, frames * sizeof(float));
	f->rec_n += frames;
	return (long)frames;
}

static long f_delay(void *ctx)
{
	struct fake *f = ctx;

	return (long)(f->rec_n - f->played);
}

static long f_rewind(void *ctx, size_t keep, size_t max)
{
	struct fake *f = ctx;
	size_t queued = f->rec_n - f->played, n;

	if (!f->can_rewind || queued <= keep)
		return 0;
	n = queued - keep < max ? queued - keep : max;
	f->rec_n -= n;
	return (long)n;
}

static int f_drop(void *ctx)
{
	struct fake *f = ctx;

	f->drops++;
	f->rec_n = f->played;
	return 0;
}

static int f_recover(void *ctx, int err)
{
	struct fake *f = ctx;

	(void)err;
	f->recovers++;
	return 0;
}

static const struct output_ops fake_ops = {
    .open = f_open,
    .close = f_close,
    .poll_count = f_poll_count,
    .poll_fill = f_poll_fill,
    .poll_revents = f_poll_revents,
    .avail = f_avail,
    .write = f_write,
    .delay = f_delay,
    .rewind = f_rewind,
    .drop = f_drop,
    .recover = f_recover,
};

/* Clips played one after the other with the rig's gap between them, the
 * way the daemon's "all" does. */
static int start(struct player *p, struct clip *const *c, size_t n, bool loop,
		 double gap_s)
{
	struct player_entry e[PLAYER_MAX_ITEMS];

	for (size_t i = 0; i < n && i < PLAYER_MAX_ITEMS; i++)
		e[i] = (struct player_entry){c[i], i ? gap_s : 0};
	return player_start(p, e, n, loop);
}

struct rig {
	double gap;
	struct fake f;
	struct events ev;
	struct player *p;
};

static struct rig *rig_new(double gap_s, double loop_limit_s)
{
	struct rig *r = calloc(1, sizeof(*r));
	struct output_params op = {"fake", RATE, 1, 40, 10};
	struct player_config pc = {RATE, gap_s, loop_limit_s};

	assert_non_null(r);
	r->gap = gap_s;
	r->f.efd = eventfd(0, EFD_CLOEXEC);
	assert_true(r->f.efd >= 0);
	r->p = player_new(&fake_ops, &r->f, &op, &pc, on_event, &r->ev);
	assert_non_null(r->p);
	return r;
}

static void rig_free(struct rig *r)
{
	player_free(r->p);
	close(r->f.efd);
	free(r->f.rec);
	free(r);
}

/* One period of "time": the speaker plays, the loop polls and dispatches,
 * waiting up to wait_ms for the player's own timer. */
static void step(struct rig *r, int wait_ms)
{
	struct pollfd fds[8];
	size_t queued = r->f.rec_n - r->f.played;
	int n;

	n = player_pollfds(r->p, fds, 8);
	/* Not feeding: the device plays out what it has while the player
	 * waits on its timer. */
	if (r->f.open)
		r->f.played += n == 1		 ? queued
			       : queued < PERIOD ? queued
						 : PERIOD;
	assert_true(poll(fds, (nfds_t)n, n > 1 ? 0 : wait_ms) >= 0);
	player_dispatch(r->p, fds, n);
}

static void run_until_idle(struct rig *r)
{
	for (int i = 0; i < 100000 && !player_is_idle(r->p); i++)
		step(r, 100);
	assert_true(player_is_idle(r->p));
}

/* A clip of a tone with 5 ms fades like a processed one: every sample in
 * between differs from 0, so any cut or jump shows. */
static struct clip *tone(double hz, double seconds, float amp)
{
	size_t n = (size_t)(seconds * RATE), fade = RATE / 200;
	float *s = malloc(n * sizeof(float));

	assert_non_null(s);
	for (size_t i = 0; i < n; i++) {
		double env = 1.0;

		if (i < fade)
			env = (double)i / fade;
		else if (n - 1 - i < fade)
			env = (double)(n - 1 - i) / fade;
		s[i] =
		    amp * (float)(env * (0.75 + 0.25 * sin(2 * M_PI * hz *
							   (double)i / RATE)));
	}
	return clip_new_owned(s, n, RATE, NULL);
}

/* The drain pads with at most three periods of silence: the length is
 * the sound's plus that, and the padding is silent. */
static void assert_len(const struct fake *f, size_t sound)
{
	if (f->rec_n < sound || f->rec_n > sound + 3 * PERIOD)
		fail_msg(
		    "wrote %zu frames, want %zu plus at most %d of padding",
		    f->rec_n, sound, 3 * PERIOD);
	for (size_t i = sound; i < f->rec_n; i++)
		assert_float_equal(f->rec[i], 0.0f, 0.0);
}

/* Where clip c stands whole at the end of what was written. */
static size_t find_tail(const struct fake *f, const struct clip *c)
{
	for (size_t off = 0; off + c->frames <= f->rec_n; off++) {
		size_t i;

		for (i = 0; i < c->frames; i++)
			if (fabsf(f->rec[off + i] - c->samples[i]) > 1e-6f)
				break;
		if (i == c->frames)
			return off;
	}
	fail_msg("clip not found whole in the output");
	return 0;
}

static void assert_samples(const float *got, const float *want, size_t n,
			   float gain)
{
	for (size_t i = 0; i < n; i++)
		if (fabsf(got[i] - want[i] * gain) > 1e-6f)
			fail_msg("sample %zu: got %f want %f", i, got[i],
				 want[i] * gain);
}

static void test_plays_clip_exactly(void **state)
{
	struct rig *r = rig_new(1.0, 0);
	struct clip *a = tone(440, 0.5, 0.5f);

	(void)state;
	assert_int_equal(player_open_device(r->p), 0);
	assert_int_equal(r->ev.count[PLAYER_DEVICE_OPENED], 1);
	assert_int_equal(start(r->p, &a, 1, false, r->gap), 0);
	/* The first sound reaches the output at once, without waiting for a
	 * poll round: the whole buffer is filled right away. */
	assert_int_equal(r->f.rec_n, BUFFER);
	assert_true(player_is_playing(r->p));
	run_until_idle(r);
	assert_len(&r->f, a->frames);
	assert_samples(r->f.rec, a->samples, a->frames, 1.0f);
	assert_int_equal(r->ev.count[PLAYER_CLIP_STARTED], 1);
	assert_int_equal(r->ev.count[PLAYER_FINISHED], 1);
	assert_int_equal(r->ev.count[PLAYER_IDLE], 1);
	assert_int_equal(r->f.drops, 1);
	clip_unref(a);
	rig_free(r);
}

static void test_idle_asks_for_no_wakeups(void **state)
{
	struct rig *r = rig_new(1.0, 0);
	struct clip *a = tone(440, 0.05, 0.5f);
	struct pollfd fds[8];
	int n;

	(void)state;
	player_open_device(r->p);
	start(r->p, &a, 1, false, r->gap);
	run_until_idle(r);
	n = player_pollfds(r->p, fds, 8);
	/* Only the timer, and it is not armed: poll would sleep forever. */
	assert_int_equal(n, 1);
	assert_int_equal(poll(fds, 1, 50), 0);
	clip_unref(a);
	rig_free(r);
}

static void test_preempt_fades_then_switches(void **state)
{
	struct rig *r = rig_new(1.0, 0);
	struct clip *a = tone(440, 2.0, 0.5f), *b = tone(660, 0.3, 0.4f);
	size_t k;

	(void)state;
	player_open_device(r->p);
	start(r->p, &a, 1, false, r->gap);
	for (int i = 0; i < 10; i++)
		step(r, 0);
	k = r->f.rec_n; /* A is written up to here when B arrives */
	start(r->p, &b, 1, false, r->gap);
	run_until_idle(r);
	assert_samples(r->f.rec, a->samples, k, 1.0f);
	/* A fades out over FADE_OUT frames, continuing where it was. */
	for (size_t i = 0; i < FADE_OUT; i++) {
		float g = (float)(FADE_OUT - i) / (float)FADE_OUT;

		assert_float_equal(r->f.rec[k + i], a->samples[k + i] * g,
				   1e-6);
	}
	/* Then B, whole. */
	assert_len(&r->f, k + FADE_OUT + b->frames);
	assert_samples(r->f.rec + k + FADE_OUT, b->samples, b->frames, 1.0f);
	/* Never a jump larger than the tones' own steepest step. */
	for (size_t i = 1; i < r->f.rec_n; i++)
		assert_true(fabsf(r->f.rec[i] - r->f.rec[i - 1]) < 0.05f);
	clip_unref(a);
	clip_unref(b);
	rig_free(r);
}

static void test_stop_fades_and_goes_idle(void **state)
{
	struct rig *r = rig_new(1.0, 0);
	struct clip *a = tone(440, 2.0, 0.5f);
	size_t k;

	(void)state;
	player_open_device(r->p);
	start(r->p, &a, 1, false, r->gap);
	for (int i = 0; i < 5; i++)
		step(r, 0);
	k = r->f.rec_n;
	player_stop(r->p);
	assert_false(player_is_playing(r->p));
	run_until_idle(r);
	/* What was queued plays out (at most one buffer), then the fade;
	 * the padding after it is dropped, never heard. */
	assert_true(r->f.rec_n >= k + FADE_OUT);
	assert_true(r->f.rec_n <= k + FADE_OUT + 2 * PERIOD);
	assert_float_equal(r->f.rec[k + FADE_OUT - 1],
			   a->samples[k + FADE_OUT - 1] / FADE_OUT, 1e-6);
	for (size_t i = k + FADE_OUT; i < r->f.rec_n; i++)
		assert_float_equal(r->f.rec[i], 0.0f, 0.0);
	assert_true(r->f.rec_n - k < BUFFER + FADE_OUT);
	clip_unref(a);
	rig_free(r);
}

static void test_stop_with_rewind_is_heard_at_once(void **state)
{
	struct rig *r = rig_new(1.0, 0);
	struct clip *a = tone(440, 2.0, 0.5f);
	size_t heard;

	(void)state;
	r->f.can_rewind = true;
	player_open_device(r->p);
	start(r->p, &a, 1, false, r->gap);
	for (int i = 0; i < 5; i++)
		step(r, 0);
	heard = r->f.played;
	assert_true(r->f.rec_n - heard > 2 * PERIOD); /* a full queue */
	player_stop(r->p);
	/* One period stays queued as a margin, then the fade: the sound
	 * ends a period plus the fade from now, not a buffer from now. */
	run_until_idle(r);
	assert_samples(r->f.rec, a->samples, heard + PERIOD, 1.0f);
	for (size_t i = 0; i < FADE_OUT; i++) {
		float g = (float)(FADE_OUT - i) / (float)FADE_OUT;
		size_t k = heard + PERIOD + i;

		assert_float_equal(r->f.rec[k], a->samples[k] * g, 1e-6);
	}
	assert_len(&r->f, heard + PERIOD + FADE_OUT);
	clip_unref(a);
	rig_free(r);
}

static void test_rewind_modes(void **state)
{
	static const struct {
		bool external;
		int mode;
		bool rewinds;
	} cases[] = {
	    {false, PLAYER_REWIND_AUTO, true},
	    {true, PLAYER_REWIND_AUTO, false},
	    {true, PLAYER_REWIND_YES, true},
	    {false, PLAYER_REWIND_NO, false},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct rig *r = rig_new(1.0, 0);
		struct clip *a = tone(440, 2.0, 0.5f);
		size_t heard;

		r->f.can_rewind = true;
		r->f.external = cases[i].external;
		player_set_rewind(r->p, cases[i].mode);
		player_open_device(r->p);
		start(r->p, &a, 1, false, 1.0);
		for (int k = 0; k < 5; k++)
			step(r, 0);
		heard = r->f.played;
		player_stop(r->p);
		run_until_idle(r);
		/* Rewound: a period, then the fade. Not: the whole queue. */
		if (cases[i].rewinds)
			assert_len(&r->f, heard + PERIOD + FADE_OUT);
		else
			assert_true(r->f.rec_n >= heard + BUFFER);
		clip_unref(a);
		rig_free(r);
	}
}

static void test_volume_change_then_rewind_never_jumps(void **state)
{
	struct rig *r = rig_new(1.0, 0);
	struct clip *a = tone(440, 2.0, 0.5f);

	(void)state;
	r->f.can_rewind = true;
	player_open_device(r->p);
	start(r->p, &a, 1, false, 1.0);
	step(r, 0);
	/* The ramp runs in what is queued; the rewind must replay it as it
	 * was heard, not at the new gain. */
	player_set_volume(r->p, 0);
	step(r, 0);
	step(r, 0);
	player_stop(r->p);
	run_until_idle(r);
	for (size_t i = 1; i < r->f.rec_n; i++)
		if (fabsf(r->f.rec[i] - r->f.rec[i - 1]) > 0.05f)
			fail_msg("jump of %f at %zu",
				 r->f.rec[i] - r->f.rec[i - 1], i);
	clip_unref(a);
	rig_free(r);
}

static void test_device_lost_while_stopping_stays_stopped(void **state)
{
	struct rig *r = rig_new(1.0, 0);
	struct clip *a = tone(440, 2.0, 0.5f);
	size_t before;

	(void)state;
	player_open_device(r->p);
	start(r->p, &a, 1, false, 1.0);
	step(r, 0);
	player_stop(r->p);
	r->f.avail_err = -ENODEV;
	step(r, 0);
	assert_true(player_is_idle(r->p));
	assert_int_equal(r->ev.count[PLAYER_IDLE], 1);
	assert_int_equal(a->refs, 1); /* the player let go of it */
	before = r->f.rec_n;
	for (int i = 0; i < 20 && !player_device_ok(r->p); i++)
		step(r, 1000);
	assert_true(player_device_ok(r->p));
	step(r, 0);
	/* What was stopped does not come back with the card. */
	assert_int_equal(r->f.rec_n, before);
	clip_unref(a);
	rig_free(r);
}

static void test_preempt_with_rewind_never_replays_old_fade(void **state)
{
	struct rig *r = rig_new(1.0, 0);
	struct clip *a = tone(440, 2.0, 0.5f), *b = tone(660, 2.0, 0.4f);
	struct clip *c = tone(880, 0.3, 0.3f);
	size_t heard;

	(void)state;
	r->f.can_rewind = true;
	player_open_device(r->p);
	start(r->p, &a, 1, false, r->gap);
	step(r, 0);
	/* B preempts A, and C preempts B before B's first buffer is heard:
	 * the rewind may take back B's samples but never A's fade. */
	start(r->p, &b, 1, false, r->gap);
	step(r, 0);
	heard = r->f.played;
	start(r->p, &c, 1, false, r->gap);
	run_until_idle(r);
	assert_true(find_tail(&r->f, c) > heard);
	for (size_t i = 1; i < r->f.rec_n; i++)
		assert_true(fabsf(r->f.rec[i] - r->f.rec[i - 1]) < 0.05f);
	clip_unref(a);
	clip_unref(b);
	clip_unref(c);
	rig_free(r);
}

static void test_sequence_with_gaps(void **state)
{
	struct rig *r = rig_new(0.25, 0);
	struct clip *c[2] = {tone(440, 0.2, 0.5f), tone(660, 0.3, 0.5f)};
	size_t gap = RATE / 4;

	(void)state;
	player_open_device(r->p);
	start(r->p, c, 2, false, r->gap);
	run_until_idle(r);
	assert_len(&r->f, c[0]->frames + gap + c[1]->frames);
	assert_samples(r->f.rec, c[0]->samples, c[0]->frames, 1.0f);
	for (size_t i = 0; i < gap; i++)
		assert_float_equal(r->f.rec[c[0]->frames + i], 0.0f, 0.0);
	assert_samples(r->f.rec + c[0]->frames + gap, c[1]->samples,
		       c[1]->frames, 1.0f);
	assert_int_equal(r->ev.count[PLAYER_CLIP_STARTED], 2);
	clip_unref(c[0]);
	clip_unref(c[1]);
	rig_free(r);
}

static void test_loop_ends_at_clip_after_limit(void **state)
{
	/* 0.2 s clip + 0.1 s gap; limit 0.7 s: reached inside the third
	 * clip (0.6..0.8 s), which still plays to its end. */
	struct rig *r = rig_new(0.1, 0.7);
	struct clip *a = tone(440, 0.2, 0.5f);
	size_t gap = RATE / 10, unit = a->frames + gap;

	(void)state;
	player_open_device(r->p);
	start(r->p, &a, 1, true, r->gap);
	run_until_idle(r);
	assert_int_equal(r->ev.count[PLAYER_LOOP_LIMIT], 1);
	assert_len(&r->f, 2 * unit + a->frames);
	for (int rep = 0; rep < 3; rep++)
		assert_samples(r->f.rec + rep * unit, a->samples, a->frames,
			       1.0f);
	clip_unref(a);
	rig_free(r);
}

static void test_lead_in_is_played_once(void **state)
{
	/* The amplifier's warm-up: silence before the first clip only, not
	 * before each round of a loop (those get the gap). The limit counts
	 * from the press: 0.85 s falls in the third clip. */
	struct rig *r = rig_new(0.1, 0.85);
	struct clip *a = tone(440, 0.2, 0.5f);
	struct player_entry e = {a, 0.15};
	size_t lead = RATE * 15 / 100, gap = RATE / 10, unit = a->frames + gap;

	(void)state;
	player_open_device(r->p);
	assert_int_equal(player_start(r->p, &e, 1, true), 0);
	run_until_idle(r);
	assert_len(&r->f, lead + 2 * unit + a->frames);
	for (size_t i = 0; i < lead; i++)
		assert_true(r->f.rec[i] == 0.0f);
	for (int rep = 0; rep < 3; rep++)
		assert_samples(r->f.rec + lead + rep * unit, a->samples,
			       a->frames, 1.0f);
	clip_unref(a);
	rig_free(r);
}

static void test_loop_limit_inside_gap_ends_at_once(void **state)
{
	/* 0.2 s clip, 2 s gap, limit 0.25 s: reached in the gap, which is
	 * not sat out. */
	struct rig *r = rig_new(2.0, 0.25);
	struct clip *a = tone(440, 0.2, 0.5f);

	(void)state;
	player_open_device(r->p);
	start(r->p, &a, 1, true, 2.0);
	run_until_idle(r);
	assert_true(r->f.rec_n < a->frames + RATE / 10 + 3 * PERIOD);
	clip_unref(a);
	rig_free(r);
}

static void test_loop_until_stopped(void **state)
{
	struct rig *r = rig_new(0.1, 0);
	struct clip *a = tone(440, 0.2, 0.5f);

	(void)state;
	player_open_device(r->p);
	start(r->p, &a, 1, true, r->gap);
	for (int i = 0; i < 300; i++) /* 3 s of periods */
		step(r, 0);
	assert_true(player_is_playing(r->p));
	assert_true(r->f.rec_n > 9 * a->frames);
	player_stop(r->p);
	run_until_idle(r);
	clip_unref(a);
	rig_free(r);
}

static void test_volume_ramps_to_cubic_gain(void **state)
{
	struct rig *r = rig_new(1.0, 0);
	struct clip *a = tone(440, 1.0, 0.5f);
	size_t tail = RATE / 2;

	(void)state;
	player_open_device(r->p);
	player_set_volume(r->p, 50); /* idle: applies at once */
	start(r->p, &a, 1, false, r->gap);
	run_until_idle(r);
	assert_samples(r->f.rec, a->samples, a->frames, 0.125f);
	/* While playing, a change ramps (20 ms) instead of jumping. */
	r->f.rec_n = r->f.played = 0;
	player_set_volume(r->p, 100);
	start(r->p, &a, 1, false, r->gap);
	player_set_volume(r->p, 0);
	run_until_idle(r);
	for (size_t i = 1; i < r->f.rec_n; i++)
		assert_true(fabsf(r->f.rec[i] - r->f.rec[i - 1]) < 0.05f);
	for (size_t i = a->frames - tail; i < a->frames; i++)
		assert_float_equal(r->f.rec[i], 0.0f, 0.0);
	clip_unref(a);
	rig_free(r);
}

static void test_missing_device_retries_then_plays(void **state)
{
	struct rig *r = rig_new(1.0, 0);
	struct clip *a = tone(440, 0.2, 0.5f);

	(void)state;
	r->f.open_err = -ENODEV;
	assert_int_equal(player_open_device(r->p), -ENODEV);
	assert_int_equal(r->ev.count[PLAYER_DEVICE_FAILED], 1);
	assert_false(player_device_ok(r->p));
	/* A press while the card is missing is kept, not lost. */
	assert_int_equal(start(r->p, &a, 1, false, r->gap), 0);
	step(r, 400); /* first retry after 250 ms: fails again, quietly */
	assert_true(r->f.opens >= 2);
	assert_int_equal(r->ev.count[PLAYER_DEVICE_FAILED], 1);
	r->f.open_err = 0;
	for (int i = 0; i < 20 && !player_device_ok(r->p); i++)
		step(r, 1000);
	assert_true(player_device_ok(r->p));
	assert_int_equal(r->ev.count[PLAYER_DEVICE_OPENED], 1);
	run_until_idle(r);
	assert_len(&r->f, a->frames);
	clip_unref(a);
	rig_free(r);
}

static void test_xrun_recovers_in_place(void **state)
{
	struct rig *r = rig_new(1.0, 0);
	struct clip *a = tone(440, 0.5, 0.5f);

	(void)state;
	player_open_device(r->p);
	start(r->p, &a, 1, false, r->gap);
	step(r, 0);
	r->f.avail_err = -EPIPE;
	step(r, 0);
	assert_int_equal(r->ev.count[PLAYER_XRUN], 1);
	assert_int_equal(r->f.recovers, 1);
	run_until_idle(r);
	/* Nothing skipped or repeated. */
	assert_len(&r->f, a->frames);
	assert_samples(r->f.rec, a->samples, a->frames, 1.0f);
	clip_unref(a);
	rig_free(r);
}

static void test_device_lost_mid_play_comes_back(void **state)
{
	struct rig *r = rig_new(1.0, 0);
	struct clip *a = tone(440, 1.0, 0.5f);

	(void)state;
	player_open_device(r->p);
	start(r->p, &a, 1, false, r->gap);
	step(r, 0);
	r->f.avail_err = -ENODEV;
	step(r, 0);
	assert_int_equal(r->ev.count[PLAYER_DEVICE_LOST], 1);
	assert_false(player_device_ok(r->p));
	assert_true(player_is_playing(r->p));
	for (int i = 0; i < 20 && !player_device_ok(r->p); i++)
		step(r, 1000);
	assert_true(player_device_ok(r->p));
	run_until_idle(r);
	assert_int_equal(r->ev.count[PLAYER_FINISHED], 1);
	clip_unref(a);
	rig_free(r);
}

static void test_clip_outlives_caller_reference(void **state)
{
	struct rig *r = rig_new(1.0, 0);
	struct clip *a = tone(440, 0.3, 0.5f);
	float first;

	(void)state;
	player_open_device(r->p);
	start(r->p, &a, 1, false, r->gap);
	first = a->samples[BUFFER + 10];
	assert_int_equal(a->refs, 2); /* the player holds its own */
	/* A reload frees the library while the clip still plays. */
	clip_unref(a);
	run_until_idle(r);
	assert_float_equal(r->f.rec[BUFFER + 10], first, 0.0);
	rig_free(r);
}

static void test_rejects_bad_sequences(void **state)
{
	struct rig *r = rig_new(1.0, 0);
	struct clip *c[PLAYER_MAX_ITEMS] = {0};

	(void)state;
	assert_int_equal(start(r->p, c, 0, false, r->gap), -EINVAL);
	assert_int_equal(start(r->p, c, PLAYER_MAX_ITEMS, false, r->gap),
			 -EINVAL);
	rig_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_plays_clip_exactly),
	    cmocka_unit_test(test_idle_asks_for_no_wakeups),
	    cmocka_unit_test(test_preempt_fades_then_switches),
	    cmocka_unit_test(test_stop_fades_and_goes_idle),
	    cmocka_unit_test(test_stop_with_rewind_is_heard_at_once),
	    cmocka_unit_test(test_preempt_with_rewind_never_replays_old_fade),
	    cmocka_unit_test(test_rewind_modes),
	    cmocka_unit_test(test_volume_change_then_rewind_never_jumps),
	    cmocka_unit_test(test_device_lost_while_stopping_stays_stopped),
	    cmocka_unit_test(test_sequence_with_gaps),
	    cmocka_unit_test(test_loop_ends_at_clip_after_limit),
	    cmocka_unit_test(test_lead_in_is_played_once),
	    cmocka_unit_test(test_loop_limit_inside_gap_ends_at_once),
	    cmocka_unit_test(test_loop_until_stopped),
	    cmocka_unit_test(test_volume_ramps_to_cubic_gain),
	    cmocka_unit_test(test_missing_device_retries_then_plays),
	    cmocka_unit_test(test_xrun_recovers_in_place),
	    cmocka_unit_test(test_device_lost_mid_play_comes_back),
	    cmocka_unit_test(test_clip_outlives_caller_reference),
	    cmocka_unit_test(test_rejects_bad_sequences),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
