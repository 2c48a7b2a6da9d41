/* bhrt: a test-only ALSA playback PCM ("type bhrt") that behaves like a
 * real-time sound card. The null PCM swallows audio instantly, so nothing
 * about preemption, stop timing or latency can be tested against it; this
 * one consumes frames at rate x speed from CLOCK_MONOTONIC, underruns when
 * the application falls behind, wakes poll() at period boundaries once
 * avail >= avail_min, and appends every frame it "played" to a raw file
 * and every state change to an events file. A control file takes fault
 * commands mid-stream (xrun, suspend, unplug, short writes, a stall). See
 * tests/alsa/README.md for the options, the commands and the format.
 *
 * Built on alsa-lib's ioplug. Things ioplug does that shape this file:
 *  - any negative return from the pointer callback becomes XRUN (or a drop
 *    while draining), whatever the errno, so an unplugged card is modelled
 *    by setting DISCONNECTED ourselves and returning a valid position;
 *  - with a drain callback, drain from PREPARED does not call start: we
 *    start the clock ourselves;
 *  - poll_revents, drain and prepare run with the PCM lock released, so
 *    they may call snd_pcm_avail_update(), which is how they advance the
 *    pointer: everything that consumes frames goes through the pointer
 *    callback, which keeps io->hw_ptr equal to our own count.
 *
 * alsa-lib's headers pick the dlsym flavour by PIC, which libtool defines
 * and a plain "cc -fPIC" does not: without it SND_PCM_PLUGIN_SYMBOL
 * registers the entry point for static linking, and dlopen() then fails
 * on the undefined snd_dlsym_start. */
#ifndef PIC
#define PIC 1
#endif
#include <alsa/asoundlib.h>
#include <alsa/pcm_external.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define BHRT_MAX_CHANNELS 8
#define NS_PER_S	  1000000000ULL
#define NS_PER_MS	  1000000ULL
#define CTL_LINE_MAX	  128

/* Why the consumption clock is stopped; it runs when none is set. */
#define FREEZE_PAUSE   1u
#define FREEZE_STALL   2u
#define FREEZE_SUSPEND 4u

struct bhrt {
	snd_pcm_ioplug_t io; /* first: io.private_data points back here */
	char *file_path;
	char *events_path;
	char *open_fail_path;
	char *unplug_path;
	char *control_path;
	double speed;
	int audio_fd;
	int events_fd;
	int timer_fd;
	int control_fd;
	char ctl_line[CTL_LINE_MAX]; /* a command line read in part */
	size_t ctl_len;
	bool ctl_overlong; /* skipping the rest of a too long line */

	/* Set up by hw_params/sw_params. */
	unsigned char *ring; /* buffer_size frames, interleaved */
	snd_pcm_channel_area_t ring_areas[BHRT_MAX_CHANNELS];
	size_t frame_bytes;
	snd_pcm_uframes_t boundary;
	snd_pcm_uframes_t avail_min;

	/* One stream, reset by prepare. */
	uint64_t consumed;    /* frames played since prepare */
	uint64_t t_start_ns;  /* consumption clock origin, moved by freezes */
	uint64_t t_frozen_ns; /* when the clock stopped, while frozen */
	unsigned frozen;      /* FREEZE_* bits */
	bool started;	      /* the clock was started since prepare */
	bool running;	      /* consuming: started, not stopped nor xrun */
	bool paused;
	bool stalled; /* "stall": frozen until stall_until_ns */
	uint64_t stall_until_ns;
	bool suspended;		   /* "suspend": state SUSPENDED */
	uint64_t suspend_until_ns; /* resume refused before this */
	snd_pcm_state_t suspend_state;
	unsigned resume_tries;
	bool in_silence;	    /* the next non-zero sample logs "sound" */
	snd_pcm_uframes_t zero_run; /* all-zero frames handed in a row */
	bool drain_wake; /* non-blocking drain ended: wake the poller */

	bool unplugged; /* sticky until close */
	bool audio_error_logged;
	uint64_t played_total; /* frames appended to file since open */

	/* Commands read from the control file, waiting for a running stream
	 * (xrun, suspend, stall) or for writes (short). */
	bool want_xrun;
	bool want_suspend;
	unsigned want_suspend_ms;
	bool want_stall;
	unsigned want_stall_ms;
	bool want_unplug;
	unsigned short_left; /* writes still to be cut short */
	bool short_owed;     /* the rest of a cut write is refused */
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

static bool path_exists(const char *path)
{
	struct stat st;

	return path && stat(path, &st) == 0;
}

static int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* One line per event, written at once so a reader never sees half. */
__attribute__((format(printf, 2, 3))) static void
bhrt_event(struct bhrt *b, const char *fmt, ...)
{
	char line[128];
	va_list ap;
	int n;

	if (b->events_fd < 0)
		return;
	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	(void)write_all(b->events_fd, line, (size_t)n);
}

/* Frames the card has consumed by time t_ns since the clock started. */
static uint64_t frames_at(const struct bhrt *b, uint64_t t_ns)
{
	double f;

	if (t_ns <= b->t_start_ns)
		return 0;
	f = (double)(t_ns - b->t_start_ns) * b->io.rate * b->speed /
	    (double)NS_PER_S;
	return (uint64_t)f;
}

/* The first time (ns after the clock start) at which frames_at() reaches
 * frames; rounded up so a timer set to it never fires a frame early. */
static uint64_t ns_for(const struct bhrt *b, uint64_t frames)
{
	double x =
	    (double)frames * (double)NS_PER_S / ((double)b->io.rate * b->speed);
	uint64_t ns = (uint64_t)x;

	if ((double)ns < x)
		ns++;
	while (frames_at(b, b->t_start_ns + ns) < frames)
		ns++;
	return ns;
}

/* Frames written by the application and not yet played. */
static snd_pcm_uframes_t buffered(const struct bhrt *b)
{
	return snd_pcm_ioplug_hw_avail(&b->io, b->io.hw_ptr, b->io.appl_ptr);
}

static snd_pcm_sframes_t position(const struct bhrt *b)
{
	return (snd_pcm_sframes_t)(b->consumed % b->boundary);
}

/* Pause, a stall and a suspend each stop the consumption clock; they may
 * overlap, and the clock runs again, from where it stopped, at t_ns when
 * the last of them ends. */
static void freeze(struct bhrt *b, unsigned why, uint64_t t_ns)
{
	if (!b->frozen)
		b->t_frozen_ns = t_ns;
	b->frozen |= why;
}

static void thaw(struct bhrt *b, unsigned why, uint64_t t_ns)
{
	if (!(b->frozen & why))
		return;
	b->frozen &= ~why;
	if (!b->frozen && t_ns > b->t_frozen_ns)
		b->t_start_ns += t_ns - b->t_frozen_ns;
}

static void timer_set(struct bhrt *b, uint64_t abs_ns)
{
	struct itimerspec its = {
	    .it_value = {.tv_sec = (time_t)(abs_ns / NS_PER_S),
			 .tv_nsec = (long)(abs_ns % NS_PER_S)},
	};

	/* Re-arming also clears pending expirations: the descriptor is
	 * readable again only when the new time comes. 0 disarms; 1 ns is
	 * in the past, so it is readable at once. */
	(void)timerfd_settime(b->timer_fd, TFD_TIMER_ABSTIME, &its, NULL);
}

#define TIMER_OFF 0
#define TIMER_NOW 1

/* Arms the poll descriptor like a card's interrupt would wake a poller:
 * level-triggered on avail >= avail_min, but only at period boundaries
 * while running; at the end of the data while draining; at once when
 * broken; never when stopped. have = frames buffered. */
static void timer_update(struct bhrt *b, snd_pcm_state_t state,
			 snd_pcm_uframes_t have)
{
	snd_pcm_uframes_t size = b->io.buffer_size;
	uint64_t written = b->consumed + have;
	uint64_t need, period = b->io.period_size;

	/* A stalled card wakes nobody; the end of the stall is our own
	 * business, so the timer wakes the poller then to look again. */
	if (b->stalled && (state == SND_PCM_STATE_RUNNING ||
			   state == SND_PCM_STATE_DRAINING)) {
		timer_set(b, b->stall_until_ns);
		return;
	}
	switch (state) {
	case SND_PCM_STATE_PREPARED:
		timer_set(b,
			  size - have >= b->avail_min ? TIMER_NOW : TIMER_OFF);
		break;
	case SND_PCM_STATE_RUNNING:
		if (b->paused || !b->running) {
			timer_set(b, TIMER_OFF);
			break;
		}
		/* Frames consumed when avail reaches avail_min. */
		need = written + b->avail_min > size
			   ? written + b->avail_min - size
			   : 0;
		if (need <= frames_at(b, now_ns())) {
			timer_set(b, TIMER_NOW);
			break;
		}
		need = (need + period - 1) / period * period;
		timer_set(b, b->t_start_ns + ns_for(b, need));
		break;
	case SND_PCM_STATE_DRAINING:
		timer_set(b, b->running ? b->t_start_ns + ns_for(b, written)
					: TIMER_NOW);
		break;
	case SND_PCM_STATE_XRUN:
	case SND_PCM_STATE_DISCONNECTED:
	case SND_PCM_STATE_SUSPENDED:
		timer_set(b, TIMER_NOW);
		break;
	case SND_PCM_STATE_PAUSED:
		timer_set(b, TIMER_OFF);
		break;
	default:
		timer_set(b, b->drain_wake ? TIMER_NOW : TIMER_OFF);
		break;
	}
}

/* Plays n buffered frames: appends them to the file. */
static void consume(struct bhrt *b, uint64_t n)
{
	snd_pcm_uframes_t size = b->io.buffer_size;

	while (n > 0) {
		snd_pcm_uframes_t pos = b->consumed % size;
		snd_pcm_uframes_t chunk = size - pos;
		int r = 0;

		if (chunk > n)
			chunk = (snd_pcm_uframes_t)n;
		if (b->audio_fd >= 0)
			r = write_all(b->audio_fd,
				      b->ring + pos * b->frame_bytes,
				      chunk * b->frame_bytes);
		if (r < 0 && !b->audio_error_logged) {
			SNDERR("bhrt: writing %s: %s", b->file_path,
			       strerror(-r));
			b->audio_error_logged = true;
		}
		b->consumed += chunk;
		b->played_total += chunk;
		n -= chunk;
	}
}

static void begin_run(struct bhrt *b)
{
	b->t_start_ns = now_ns();
	b->running = true;
	b->started = true;
	bhrt_event(b, "start %" PRIu64, b->t_start_ns);
}

/* Consumes what the clock says has been played. Running dry is an
 * underrun, except while draining, where it is the end. Returns -EPIPE
 * on underrun. */
static int advance(struct bhrt *b, bool draining)
{
	uint64_t t = b->frozen ? b->t_frozen_ns : now_ns();
	uint64_t target = frames_at(b, t);
	uint64_t due = target > b->consumed ? target - b->consumed : 0;
	snd_pcm_uframes_t have = buffered(b);

	if (due >= have && !draining) {
		consume(b, have);
		b->running = false;
		/* Logged at the moment the last frame finished playing, which
		 * does not depend on when somebody asked. */
		bhrt_event(b, "xrun %" PRIu64,
			   b->t_start_ns + ns_for(b, b->consumed));
		return -EPIPE;
	}
	consume(b, due < have ? due : have);
	return 0;
}

static void unplug(struct bhrt *b)
{
	if (b->running)
		(void)advance(b, true); /* played until we noticed */
	b->running = false;
	b->unplugged = true;
	bhrt_event(b, "unplug %" PRIu64, now_ns());
	snd_pcm_ioplug_set_state(&b->io, SND_PCM_STATE_DISCONNECTED);
	timer_set(b, TIMER_NOW);
}

/* A number argument of a command: decimal, nothing after it, in
 * [min, max]; false if it is not. */
static bool ctl_number(const char *s, unsigned min, unsigned max, unsigned *out)
{
	unsigned long v;
	char *end;

	if (!s || *s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return false;
	*out = (unsigned)v;
	return true;
}

/* One line of the control file: "NAME [NUMBER]"; blank lines and lines
 * starting with '#' are ignored. The fault waits until it can happen. */
static void ctl_command(struct bhrt *b, char *line)
{
	char *save = NULL;
	char *name = strtok_r(line, " \t\r", &save);
	char *arg = name ? strtok_r(NULL, " \t\r", &save) : NULL;
	bool ok = false;
	unsigned v = 0;

	if (!name || name[0] == '#')
		return;
	if (strtok_r(NULL, " \t\r", &save)) {
		ok = false;
	} else if (!strcmp(name, "xrun")) {
		ok = !arg;
		b->want_xrun = b->want_xrun || ok;
	} else if (!strcmp(name, "suspend")) {
		ok = !arg || ctl_number(arg, 0, 3600000, &v);
		if (ok) {
			b->want_suspend = true;
			b->want_suspend_ms = v;
		}
	} else if (!strcmp(name, "stall")) {
		ok = ctl_number(arg, 1, 3600000, &v);
		if (ok) {
			b->want_stall = true;
			b->want_stall_ms = v;
		}
	} else if (!strcmp(name, "unplug")) {
		ok = !arg;
		b->want_unplug = ok || b->want_unplug;
	} else if (!strcmp(name, "short")) {
		v = 1;
		ok = !arg || ctl_number(arg, 1, 1000000, &v);
		if (ok) {
			b->short_left = v;
			bhrt_event(b, "short %" PRIu64 " %u", now_ns(), v);
		}
	}
	if (!ok) {
		SNDERR("bhrt: %s: bad command '%s%s%s'", b->control_path, name,
		       arg ? " " : "", arg ? arg : "");
		bhrt_event(b, "error %" PRIu64 " bad command", now_ns());
	}
}

/* Reads the commands appended to the control file since the last look:
 * one read() when there are none. */
static void ctl_poll(struct bhrt *b)
{
	char buf[256];
	ssize_t n;

	if (b->control_fd < 0)
		return;
	while ((n = read(b->control_fd, buf, sizeof(buf))) > 0) {
		for (ssize_t i = 0; i < n; i++) {
			if (buf[i] != '\n') {
				if (b->ctl_len + 1 < sizeof(b->ctl_line))
					b->ctl_line[b->ctl_len++] = buf[i];
				else
					b->ctl_overlong = true;
				continue;
			}
			b->ctl_line[b->ctl_len] = '\0';
			if (b->ctl_overlong) {
				SNDERR("bhrt: %s: line too long",
				       b->control_path);
				bhrt_event(b, "error %" PRIu64 " bad command",
					   now_ns());
			} else {
				ctl_command(b, b->ctl_line);
			}
			b->ctl_len = 0;
			b->ctl_overlong = false;
		}
	}
}

/* A stall ends at stall_until_ns, whenever somebody looks: the clock runs
 * again from then, not from when it was noticed. */
static void stall_check(struct bhrt *b, uint64_t now)
{
	if (!b->stalled || now < b->stall_until_ns)
		return;
	b->stalled = false;
	thaw(b, FREEZE_STALL, b->stall_until_ns);
	bhrt_event(b, "stall_end %" PRIu64, b->stall_until_ns);
}

/* The faults that need a running stream; advance() has just played what
 * was due. Returns the pointer callback's result. */
static snd_pcm_sframes_t apply_faults(struct bhrt *b)
{
	uint64_t now = now_ns();

	if (b->want_xrun) {
		b->want_xrun = false;
		/* As a card stopped on an xrun: what is still buffered is
		 * never played. */
		b->running = false;
		bhrt_event(b, "xrun %" PRIu64 " forced %lu", now,
			   (unsigned long)buffered(b));
		timer_set(b, TIMER_NOW);
		return -EPIPE;
	}
	if (b->want_suspend) {
		b->want_suspend = false;
		b->suspended = true;
		b->suspend_until_ns = now + b->want_suspend_ms * NS_PER_MS;
		b->suspend_state = b->io.state;
		b->resume_tries = 0;
		freeze(b, FREEZE_SUSPEND, now);
		snd_pcm_ioplug_set_state(&b->io, SND_PCM_STATE_SUSPENDED);
		bhrt_event(b, "suspend %" PRIu64 " %u", now,
			   b->want_suspend_ms);
		timer_set(b, TIMER_NOW);
		return position(b);
	}
	if (b->want_stall && !b->stalled) {
		b->want_stall = false;
		b->stalled = true;
		b->stall_until_ns = now + b->want_stall_ms * NS_PER_MS;
		freeze(b, FREEZE_STALL, now);
		bhrt_event(b, "stall %" PRIu64 " %u", now, b->want_stall_ms);
		timer_update(b, b->io.state, buffered(b));
	}
	return position(b);
}

static snd_pcm_sframes_t bhrt_pointer(snd_pcm_ioplug_t *io)
{
	struct bhrt *b = io->private_data;

	if (!b->ring)
		return 0;
	ctl_poll(b);
	if (!b->unplugged && (b->want_unplug || path_exists(b->unplug_path)))
		unplug(b);
	if (b->unplugged)
		return position(b);
	if (io->state == SND_PCM_STATE_XRUN)
		return -EPIPE;
	/* Nothing moves, and an empty buffer is no underrun, until resumed. */
	if (io->state == SND_PCM_STATE_SUSPENDED)
		return position(b);
	stall_check(b, now_ns());
	if (b->running && advance(b, io->state == SND_PCM_STATE_DRAINING) < 0) {
		timer_set(b, TIMER_NOW);
		return -EPIPE;
	}
	if (io->state == SND_PCM_STATE_RUNNING && b->running && !b->paused)
		return apply_faults(b);
	return position(b);
}

static int bhrt_start(snd_pcm_ioplug_t *io)
{
	struct bhrt *b = io->private_data;
	snd_pcm_uframes_t have = buffered(b);

	if (b->unplugged)
		return -ENODEV;
	/* Like the kernel: nothing to play is an underrun at once. */
	if (have == 0)
		return -EPIPE;
	begin_run(b);
	timer_update(b, SND_PCM_STATE_RUNNING, have);
	return 0;
}

static int bhrt_stop(snd_pcm_ioplug_t *io)
{
	struct bhrt *b = io->private_data;
	bool drained = io->state == SND_PCM_STATE_DRAINING;

	stall_check(b, now_ns());
	if (b->running) {
		snd_pcm_uframes_t have = buffered(b);
		uint64_t before = b->consumed;
		int r = advance(b, drained);

		if (r == 0)
			bhrt_event(b, "stop %" PRIu64 " %" PRIu64, now_ns(),
				   b->played_total);
		drained = drained && b->consumed - before >= have;
		b->running = false;
	}
	b->paused = false;
	b->stalled = false;
	b->suspended = false;
	b->frozen = 0;
	/* A non-blocking drainer waits in poll() for the end; one that
	 * dropped instead does not want a wake-up. */
	if (drained && io->nonblock)
		b->drain_wake = true;
	timer_update(b, SND_PCM_STATE_SETUP, 0);
	return 0;
}

static int bhrt_pause(snd_pcm_ioplug_t *io, int enable)
{
	struct bhrt *b = io->private_data;

	if (enable && !b->paused) {
		b->paused = true;
		freeze(b, FREEZE_PAUSE, now_ns());
		timer_set(b, TIMER_OFF);
	} else if (!enable && b->paused) {
		thaw(b, FREEZE_PAUSE, now_ns());
		b->paused = false;
		timer_update(b, SND_PCM_STATE_RUNNING, buffered(b));
	}
	return 0;
}

/* snd_pcm_resume(): refused (the state stays SUSPENDED) until the
 * suspend's time is over, then the stream runs on with its buffer. ioplug
 * drops what this returns, so snd_pcm_resume() says 0 either way: the
 * caller must look at snd_pcm_state(). */
static int bhrt_resume(snd_pcm_ioplug_t *io)
{
	struct bhrt *b = io->private_data;
	uint64_t now = now_ns();

	if (!b->suspended || io->state != SND_PCM_STATE_SUSPENDED)
		return 0;
	b->resume_tries++;
	if (now < b->suspend_until_ns)
		return -EAGAIN;
	b->suspended = false;
	thaw(b, FREEZE_SUSPEND, now);
	snd_pcm_ioplug_set_state(io, b->suspend_state);
	bhrt_event(b, "resume %" PRIu64 " %u", now, b->resume_tries);
	timer_update(b, b->suspend_state, buffered(b));
	return 0;
}

static int bhrt_prepare(snd_pcm_ioplug_t *io)
{
	struct bhrt *b = io->private_data;

	if (b->unplugged)
		return -ENODEV;
	if (!b->ring)
		return -EBADFD;
	/* ioplug has already reset its pointers to 0. */
	b->consumed = 0;
	b->started = false;
	b->running = false;
	b->paused = false;
	b->stalled = false;
	b->suspended = false;
	b->frozen = 0;
	b->drain_wake = false;
	b->in_silence = true;
	b->zero_run = 0;
	bhrt_event(b, "prepare %" PRIu64, now_ns());
	timer_update(b, SND_PCM_STATE_PREPARED, 0);
	return 0;
}

static bool frame_is_zero(const struct bhrt *b, const unsigned char *p)
{
	/* Integers are zero when all their bytes are; a float also when only
	 * its sign bit (top bit of the last byte, little-endian) is set. */
	unsigned char top =
	    b->io.format == SND_PCM_FORMAT_FLOAT_LE ? 0x7f : 0xff;
	size_t i;

	for (i = 0; i < b->frame_bytes; i++)
		if (p[i] & (i % 4 == 3 ? top : 0xff))
			return false;
	return true;
}

/* Logs "sound" for the first non-zero frame after prepare or after at
 * least a period of zeros. */
static void scan_for_sound(struct bhrt *b, snd_pcm_uframes_t pos,
			   snd_pcm_uframes_t frames)
{
	snd_pcm_uframes_t size = b->io.buffer_size, i;
	bool logged = false;

	for (i = 0; i < frames; i++) {
		const unsigned char *p =
		    b->ring + ((pos + i) % size) * b->frame_bytes;

		if (frame_is_zero(b, p)) {
			if (!b->in_silence &&
			    ++b->zero_run >= b->io.period_size)
				b->in_silence = true;
			continue;
		}
		b->zero_run = 0;
		if (b->in_silence && !logged) {
			bhrt_event(b, "sound %" PRIu64, now_ns());
			logged = true;
		}
		b->in_silence = false;
	}
}

static snd_pcm_sframes_t bhrt_transfer(snd_pcm_ioplug_t *io,
				       const snd_pcm_channel_area_t *areas,
				       snd_pcm_uframes_t offset,
				       snd_pcm_uframes_t size)
{
	struct bhrt *b = io->private_data;
	snd_pcm_uframes_t pos, done = 0, have;

	if (b->unplugged)
		return -ENODEV;
	if (!b->ring)
		return -EBADFD;
	/* "short": take half of a write, then refuse the rest, so that
	 * snd_pcm_writei() returns a short count (alsa-lib would otherwise
	 * loop over a short transfer itself). */
	if (b->short_owed) {
		b->short_owed = false;
		return -EAGAIN;
	}
	if (b->short_left > 0 && size > 1) {
		size /= 2;
		b->short_owed = true;
		if (--b->short_left == 0)
			bhrt_event(b, "short_end %" PRIu64, now_ns());
	}
	have = buffered(b);
	/* offset indexes the caller's areas; our ring follows appl_ptr. */
	pos = io->appl_ptr % io->buffer_size;
	while (done < size) {
		snd_pcm_uframes_t at = (pos + done) % io->buffer_size;
		snd_pcm_uframes_t chunk = io->buffer_size - at;

		if (chunk > size - done)
			chunk = size - done;
		snd_pcm_areas_copy(b->ring_areas, at, areas, offset + done,
				   io->channels, chunk, io->format);
		done += chunk;
	}
	scan_for_sound(b, pos, size);
	if (io->state == SND_PCM_STATE_PREPARED ||
	    io->state == SND_PCM_STATE_RUNNING)
		timer_update(b, io->state, have + size);
	return (snd_pcm_sframes_t)size;
}

/* ioplug calls this with the PCM unlocked, so ending a drain goes through
 * snd_pcm_avail_update() and thus our pointer callback. */
static int bhrt_drain(snd_pcm_ioplug_t *io)
{
	struct bhrt *b = io->private_data;

	/* From PREPARED ioplug goes straight to DRAINING without start. */
	if (io->state == SND_PCM_STATE_DRAINING && !b->started &&
	    !b->unplugged && buffered(b) > 0)
		begin_run(b);
	for (;;) {
		struct timespec ts;
		uint64_t end, next;

		(void)snd_pcm_avail_update(io->pcm);
		if (io->state != SND_PCM_STATE_DRAINING)
			break;
		end = b->t_start_ns + ns_for(b, b->consumed + buffered(b));
		/* Stalled: nothing moves before the stall ends. */
		if (b->stalled && end < b->stall_until_ns)
			end = b->stall_until_ns;
		timer_set(b, end);
		if (io->nonblock)
			return -EAGAIN;
		/* Wake up every period, as for an interrupt, so an unplug
		 * during a long drain is seen as soon as it happens. */
		next = b->t_start_ns +
		       ns_for(b, (b->consumed / io->period_size + 1) *
				     io->period_size);
		if (next < end && !b->stalled)
			end = next;
		ts.tv_sec = (time_t)(end / NS_PER_S);
		ts.tv_nsec = (long)(end % NS_PER_S);
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts,
				       NULL) == EINTR)
			;
	}
	if (io->state == SND_PCM_STATE_DISCONNECTED)
		return -ENODEV;
	return 0;
}

static int bhrt_poll_revents(snd_pcm_ioplug_t *io, struct pollfd *pfd,
			     unsigned int nfds, unsigned short *revents)
{
	struct bhrt *b = io->private_data;
	uint64_t ticks;
	snd_pcm_state_t state = io->state;

	*revents = 0;
	if (nfds < 1)
		return -EINVAL;
	(void)pfd;
	if (read(b->timer_fd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
		return -errno;
	if (state == SND_PCM_STATE_PREPARED || state == SND_PCM_STATE_RUNNING ||
	    state == SND_PCM_STATE_DRAINING || state == SND_PCM_STATE_PAUSED)
		(void)snd_pcm_avail_update(io->pcm);
	state = io->state;
	switch (state) {
	case SND_PCM_STATE_XRUN:
	case SND_PCM_STATE_DISCONNECTED:
	case SND_PCM_STATE_SUSPENDED:
		/* As the kernel does: writable and in error. */
		*revents = POLLOUT | POLLERR;
		break;
	case SND_PCM_STATE_PREPARED:
	case SND_PCM_STATE_RUNNING:
		if (io->buffer_size - buffered(b) >= b->avail_min)
			*revents = POLLOUT;
		break;
	case SND_PCM_STATE_SETUP:
		if (b->drain_wake)
			*revents = POLLOUT;
		b->drain_wake = false;
		break;
	default:
		break;
	}
	timer_update(b, state, b->ring ? buffered(b) : 0);
	return 0;
}

static int bhrt_hw_params(snd_pcm_ioplug_t *io, snd_pcm_hw_params_t *params)
{
	struct bhrt *b = io->private_data;
	int width = snd_pcm_format_physical_width(io->format);
	unsigned c;

	(void)params;
	if (width <= 0 || io->channels > BHRT_MAX_CHANNELS)
		return -EINVAL;
	free(b->ring);
	b->frame_bytes = (size_t)width / 8 * io->channels;
	b->ring = calloc(io->buffer_size, b->frame_bytes);
	if (!b->ring)
		return -ENOMEM;
	for (c = 0; c < io->channels; c++) {
		b->ring_areas[c].addr = b->ring;
		b->ring_areas[c].first = c * (unsigned)width;
		b->ring_areas[c].step = io->channels * (unsigned)width;
	}
	/* As alsa-lib computes it; sw_params confirms it. */
	b->boundary = io->buffer_size;
	while (b->boundary * 2 <= LONG_MAX - io->buffer_size)
		b->boundary *= 2;
	b->avail_min = io->period_size;
	return 0;
}

static int bhrt_hw_free(snd_pcm_ioplug_t *io)
{
	struct bhrt *b = io->private_data;

	free(b->ring);
	b->ring = NULL;
	return 0;
}

static int bhrt_sw_params(snd_pcm_ioplug_t *io, snd_pcm_sw_params_t *params)
{
	struct bhrt *b = io->private_data;
	snd_pcm_uframes_t v;

	if (snd_pcm_sw_params_get_boundary(params, &v) == 0 && v > 0)
		b->boundary = v;
	if (snd_pcm_sw_params_get_avail_min(params, &v) == 0) {
		if (v < 1)
			v = 1;
		b->avail_min = v > io->buffer_size ? io->buffer_size : v;
	}
	return 0;
}

static void bhrt_free(struct bhrt *b)
{
	if (!b)
		return;
	if (b->audio_fd >= 0)
		close(b->audio_fd);
	if (b->events_fd >= 0)
		close(b->events_fd);
	if (b->timer_fd >= 0)
		close(b->timer_fd);
	if (b->control_fd >= 0)
		close(b->control_fd);
	free(b->ring);
	free(b->file_path);
	free(b->events_path);
	free(b->open_fail_path);
	free(b->unplug_path);
	free(b->control_path);
	free(b);
}

/* The open_fail hook refused an open: one event line, so a test can see
 * how often the application retried. */
static void open_failed(const struct bhrt *b)
{
	char line[64];
	int fd, n;

	if (!b->events_path)
		return;
	fd = open(b->events_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
		  0644);
	if (fd < 0)
		return;
	n = snprintf(line, sizeof(line), "openfail %" PRIu64 "\n", now_ns());
	if (n > 0)
		(void)write_all(fd, line, (size_t)n);
	close(fd);
}

static int bhrt_close(snd_pcm_ioplug_t *io)
{
	struct bhrt *b = io->private_data;

	bhrt_event(b, "close %" PRIu64, now_ns());
	bhrt_free(b);
	return 0;
}

static const snd_pcm_ioplug_callback_t bhrt_callback = {
    .start = bhrt_start,
    .stop = bhrt_stop,
    .pointer = bhrt_pointer,
    .transfer = bhrt_transfer,
    .close = bhrt_close,
    .hw_params = bhrt_hw_params,
    .hw_free = bhrt_hw_free,
    .sw_params = bhrt_sw_params,
    .prepare = bhrt_prepare,
    .drain = bhrt_drain,
    .pause = bhrt_pause,
    .resume = bhrt_resume,
    .poll_revents = bhrt_poll_revents,
};

static int conf_string(snd_config_t *n, const char *id, char **out)
{
	const char *s;

	if (snd_config_get_string(n, &s) < 0 || !*s) {
		SNDERR("bhrt: %s must be a non-empty string", id);
		return -EINVAL;
	}
	free(*out);
	*out = strdup(s);
	return *out ? 0 : -ENOMEM;
}

static int conf_speed(snd_config_t *n, double *out)
{
	double v = 0.0;
	long l;
	long long ll;
	const char *s;
	char *end;

	switch (snd_config_get_type(n)) {
	case SND_CONFIG_TYPE_REAL:
		snd_config_get_real(n, &v);
		break;
	case SND_CONFIG_TYPE_INTEGER:
		snd_config_get_integer(n, &l);
		v = (double)l;
		break;
	case SND_CONFIG_TYPE_INTEGER64:
		snd_config_get_integer64(n, &ll);
		v = (double)ll;
		break;
	case SND_CONFIG_TYPE_STRING:
		snd_config_get_string(n, &s);
		errno = 0;
		v = strtod(s, &end);
		if (errno || end == s || *end)
			v = 0.0;
		break;
	default:
		break;
	}
	if (!(v > 0.0 && v <= 1000.0)) {
		SNDERR("bhrt: speed must be a number in (0, 1000]");
		return -EINVAL;
	}
	*out = v;
	return 0;
}

static int parse_conf(struct bhrt *b, snd_config_t *conf)
{
	snd_config_iterator_t i, next;

	snd_config_for_each(i, next, conf)
	{
		snd_config_t *n = snd_config_iterator_entry(i);
		const char *id;
		int r;

		if (snd_config_get_id(n, &id) < 0)
			continue;
		if (!strcmp(id, "comment") || !strcmp(id, "type") ||
		    !strcmp(id, "hint"))
			continue;
		if (!strcmp(id, "file"))
			r = conf_string(n, id, &b->file_path);
		else if (!strcmp(id, "events"))
			r = conf_string(n, id, &b->events_path);
		else if (!strcmp(id, "open_fail"))
			r = conf_string(n, id, &b->open_fail_path);
		else if (!strcmp(id, "unplug"))
			r = conf_string(n, id, &b->unplug_path);
		else if (!strcmp(id, "control"))
			r = conf_string(n, id, &b->control_path);
		else if (!strcmp(id, "speed"))
			r = conf_speed(n, &b->speed);
		else {
			SNDERR("bhrt: unknown field %s", id);
			r = -EINVAL;
		}
		if (r < 0)
			return r;
	}
	return 0;
}

static int set_constraints(snd_pcm_ioplug_t *io)
{
	static const unsigned int access[] = {
	    SND_PCM_ACCESS_RW_INTERLEAVED,
	    SND_PCM_ACCESS_MMAP_INTERLEAVED,
	};
	static const unsigned int formats[] = {
	    SND_PCM_FORMAT_S16_LE,
	    SND_PCM_FORMAT_S32_LE,
	    SND_PCM_FORMAT_FLOAT_LE,
	};
	int r;

	r = snd_pcm_ioplug_set_param_list(io, SND_PCM_IOPLUG_HW_ACCESS, 2,
					  access);
	if (r >= 0)
		r = snd_pcm_ioplug_set_param_list(io, SND_PCM_IOPLUG_HW_FORMAT,
						  3, formats);
	if (r >= 0)
		r = snd_pcm_ioplug_set_param_minmax(
		    io, SND_PCM_IOPLUG_HW_CHANNELS, 1, BHRT_MAX_CHANNELS);
	if (r >= 0)
		r = snd_pcm_ioplug_set_param_minmax(io, SND_PCM_IOPLUG_HW_RATE,
						    8000, 192000);
	if (r >= 0)
		r = snd_pcm_ioplug_set_param_minmax(
		    io, SND_PCM_IOPLUG_HW_PERIOD_BYTES, 64, 1 << 20);
	if (r >= 0)
		r = snd_pcm_ioplug_set_param_minmax(
		    io, SND_PCM_IOPLUG_HW_BUFFER_BYTES, 128, 8 << 20);
	if (r >= 0)
		r = snd_pcm_ioplug_set_param_minmax(
		    io, SND_PCM_IOPLUG_HW_PERIODS, 2, 64);
	return r;
}

/* The entry point libasound looks up; declared for -Wmissing-prototypes. */
int _snd_pcm_bhrt_open(snd_pcm_t **pcmp, const char *name, snd_config_t *root,
		       snd_config_t *conf, snd_pcm_stream_t stream, int mode);

SND_PCM_PLUGIN_DEFINE_FUNC(bhrt)
{
	struct bhrt *b;
	int r;

	(void)root;
	if (stream != SND_PCM_STREAM_PLAYBACK) {
		SNDERR("bhrt: playback only");
		return -EINVAL;
	}
	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	b->audio_fd = b->events_fd = b->timer_fd = b->control_fd = -1;
	b->speed = 1.0;
	r = parse_conf(b, conf);
	if (r < 0)
		goto fail;
	if (path_exists(b->open_fail_path)) {
		open_failed(b);
		r = -ENODEV;
		goto fail;
	}
	b->timer_fd =
	    timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (b->timer_fd < 0) {
		r = -errno;
		goto fail;
	}
	if (b->file_path) {
		b->audio_fd =
		    open(b->file_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
			 0644);
		if (b->audio_fd < 0) {
			r = -errno;
			SNDERR("bhrt: cannot open %s: %s", b->file_path,
			       strerror(-r));
			goto fail;
		}
	}
	if (b->events_path) {
		b->events_fd =
		    open(b->events_path,
			 O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		if (b->events_fd < 0) {
			r = -errno;
			SNDERR("bhrt: cannot open %s: %s", b->events_path,
			       strerror(-r));
			goto fail;
		}
	}
	if (b->control_path) {
		/* Created if missing, so a test can append to it; what is
		 * in it already was meant for an earlier stream. */
		b->control_fd =
		    open(b->control_path, O_RDONLY | O_CREAT | O_CLOEXEC, 0644);
		if (b->control_fd < 0 ||
		    lseek(b->control_fd, 0, SEEK_END) < 0) {
			r = -errno;
			SNDERR("bhrt: cannot open %s: %s", b->control_path,
			       strerror(-r));
			goto fail;
		}
	}

	b->io.version = SND_PCM_IOPLUG_VERSION;
	b->io.name = "bullhorn real-time test PCM";
	b->io.flags =
	    SND_PCM_IOPLUG_FLAG_MONOTONIC | SND_PCM_IOPLUG_FLAG_BOUNDARY_WA;
	b->io.poll_fd = b->timer_fd;
	b->io.poll_events = POLLIN; /* a timerfd is read, never written */
	b->io.mmap_rw = 0;
	b->io.callback = &bhrt_callback;
	b->io.private_data = b;
	r = snd_pcm_ioplug_create(&b->io, name, stream, mode);
	if (r < 0)
		goto fail;
	/* From here on, snd_pcm_ioplug_delete() frees b via bhrt_close.
	 * ioplug leaves nonblock at 0 for a PCM opened SND_PCM_NONBLOCK
	 * until snd_pcm_nonblock() is called; drain needs the truth. */
	b->io.nonblock = !!(mode & SND_PCM_NONBLOCK);
	r = set_constraints(&b->io);
	if (r < 0) {
		snd_pcm_ioplug_delete(&b->io);
		return r;
	}
	bhrt_event(b, "open %" PRIu64, now_ns());
	*pcmp = b->io.pcm;
	return 0;

fail:
	bhrt_free(b);
	return r;
}

SND_PCM_PLUGIN_SYMBOL(bhrt);
