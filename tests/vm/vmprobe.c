/* vmprobe: the measuring hands of the VM system test (tests/vm/run.sh).
 * The host runs it to make the test library; the guest runs it to drive
 * gpio-sim lines, capture the snd-aloop output, watch the LED and amp
 * lines, and read the results back. Every time is CLOCK_MONOTONIC of the
 * machine it runs on, in ns, so presses, line changes and captured frames
 * share one clock.
 *
 *   vmprobe gen OUT.wav SECONDS SEED      speech-like test recording
 *   vmprobe now                           the clock, ns
 *   vmprobe drive [PULLFILE] STEP...      d = press (pull-down), u =
 *                                         release (pull-up), N = wait N ms,
 *                                         @PULLFILE = go on with that line,
 *                                         w:V:FILE = spin until FILE reads V;
 *                                         prints "d|u|w NS FILE" per step
 *   vmprobe watch OUT MS FILE...          every MS ms, appends "NS I V" to
 *                                         OUT when file I's value changed
 *                                         ("stall NS MS" when it woke late)
 *   vmprobe capture DEV OUT.raw TIMELINE  S16_LE stereo 48 kHz until
 *                                         SIGTERM; TIMELINE gets "FRAMES NS":
 *                                         frames read so far, and when the
 *                                         last of them came out ("stall NS
 *                                         MS" when it woke late, "xrun ..."
 *                                         when frames were lost)
 *   vmprobe match RAW TIMELINE REF.wav FROM_NS TAIL_MS
 *                                         where REF (float WAV) stands
 *                                         whole in the capture after
 *                                         FROM_NS, within 1 LSB; its last
 *                                         TAIL_MS may be silence instead
 *   vmprobe sound RAW TIMELINE FROM_NS [TO_NS]
 *                                         "first NS last NS" of the frames
 *                                         above 1 LSB in that window
 *   vmprobe latency RAW TIMELINE NS...    press -> first frame above 1 LSB,
 *                                         per press, median and max
 *   vmprobe edges WATCH I FROM_NS TO_NS   line I in that window: value at
 *                                         both ends, changes, intervals
 */
#include <alsa/asoundlib.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <sched.h>
#include <signal.h>
#include <sndfile.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define RATE	 48000
#define CHANNELS 2
#define SILENT	 1 /* a frame is sound when a sample exceeds this */

static volatile sig_atomic_t stop_flag;

static void on_stop(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static void catch_stop(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
}

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR && !stop_flag)
		;
}

/* With more than one CPU, short waits spin: in real-time emulation on a
 * busy host a vCPU that sleeps may get its host CPU back only many ms
 * later, and a bounce of 1 ms would become 10. With one CPU a spin would
 * starve the daemon: then waits sleep (under qemu -icount the guest's
 * clock only runs while it executes, so sleeps are exact anyway). */
static int spin_ok(void)
{
	return sysconf(_SC_NPROCESSORS_ONLN) > 1;
}

static void wait_ms(long ms)
{
	int64_t until = now_ns() + ms * 1000000LL;

	if (ms > 10 || !spin_ok()) {
		sleep_ms(ms);
		return;
	}
	while (now_ns() < until)
		;
}

/* A wake-up this late means the guest stood still (emulation on a busy
 * host): the instruments note it, and an attempt that failed meanwhile
 * is void (tests/vm/guest.sh). */
#define STALL_MS 20

/* The instruments run ahead of the daemon in the guest (SCHED_FIFO, when
 * allowed), so their timestamps are not delayed by what they measure. */
static void go_realtime(void)
{
	struct sched_param sp = {.sched_priority = 50};

	sched_setscheduler(0, SCHED_FIFO, &sp);
}

static int die(const char *what)
{
	fprintf(stderr, "vmprobe: %s\n", what);
	return 1;
}

/* A speech-like signal (a 120-255 Hz harmonic series under a 4 Hz
 * syllable envelope) that is loud from its first sample, so the first
 * sound of a clip is its first frame, then 100 ms of digital silence, so
 * the loopback's end-of-drain bug only ever eats silence. */
static int cmd_gen(int argc, char **argv)
{
	SF_INFO info = {.samplerate = RATE,
			.channels = 1,
			.format = SF_FORMAT_WAV | SF_FORMAT_PCM_16};
	double seconds, f0;
	size_t n, pad = RATE / 10;
	float *s;
	SNDFILE *sf;

	if (argc != 5)
		return die("usage: gen OUT.wav SECONDS SEED");
	seconds = atof(argv[3]);
	f0 = 120.0 + 15.0 * atoi(argv[4]);
	n = (size_t)(seconds * RATE);
	s = calloc(n + pad, sizeof(float));
	if (!s)
		return die("out of memory");
	for (size_t i = 0; i < n; i++) {
		double t = (double)i / RATE, v = 0;
		double syl = cos(2 * M_PI * 4.0 * t);
		double env = syl > -0.5 ? (syl + 0.5) / 1.5 : 0.05;

		for (int h = 1; h <= 12; h++)
			v += sin(2 * M_PI * f0 * h * t + h * 0.7 + 0.5) / h;
		s[i] = (float)(0.1 * env * v / 3.0);
	}
	sf = sf_open(argv[2], SFM_WRITE, &info);
	if (!sf)
		return die(sf_strerror(NULL));
	sf_writef_float(sf, s, (sf_count_t)(n + pad));
	sf_close(sf);
	free(s);
	return 0;
}

static int write_str(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), r = -1;

	if (fd >= 0) {
		r = write(fd, s, strlen(s)) == (ssize_t)strlen(s) ? 0 : -1;
		close(fd);
	}
	return r;
}

static int cmd_drive(int argc, char **argv)
{
	const char *file = NULL;

	go_realtime();
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i];

		if (*a == '@') {
			file = a + 1;
		} else if (strcmp(a, "d") == 0 || strcmp(a, "u") == 0) {
			int64_t t = now_ns();

			if (!file ||
			    write_str(file, *a == 'd' ? "pull-down"
						      : "pull-up") < 0) {
				perror(file ? file : "no line given");
				return 1;
			}
			printf("%s %" PRId64 " %s\n", a, t, file);
		} else if (strncmp(a, "w:", 2) == 0 && strchr(a + 2, ':')) {
			/* w:VALUE:FILE: spin (or poll every 0.1 ms) until
			 * FILE reads VALUE. */
			const char *path = strchr(a + 2, ':') + 1;
			size_t vlen = (size_t)(path - 1 - (a + 2));
			int64_t t, end = now_ns() + 2000000000LL;
			int fd = open(path, O_RDONLY | O_CLOEXEC);
			char v[16];
			ssize_t r;

			if (fd < 0) {
				perror(path);
				return 1;
			}
			do {
				if (!spin_ok()) {
					struct timespec ts = {0, 100000};

					nanosleep(&ts, NULL);
				}
				r = pread(fd, v, sizeof(v) - 1, 0);
				t = now_ns();
				v[r > 0 ? r : 0] = '\0';
				v[strcspn(v, "\n")] = '\0';
			} while (
			    (strlen(v) != vlen || strncmp(v, a + 2, vlen)) &&
			    t < end);
			close(fd);
			printf("%s %" PRId64 " %s\n", t < end ? "w" : "timeout",
			       t, path);
		} else if (*a >= '0' && *a <= '9') {
			wait_ms(atol(a));
		} else if (i == 2) {
			file = a;
		} else {
			return die("drive: steps are @PULLFILE, d, u or a "
				   "number of ms");
		}
	}
	return 0;
}

static int cmd_watch(int argc, char **argv)
{
	int n = argc - 4, fds[16];
	char last[16][16] = {{0}};
	long ms = atol(argv[3]);
	int64_t prev = 0;
	FILE *out;

	if (argc < 5 || n > 16)
		return die("usage: watch OUT MS FILE...");
	out = fopen(argv[2], "we");
	if (!out)
		return die("cannot write the watch file");
	for (int i = 0; i < n; i++) {
		fds[i] = open(argv[4 + i], O_RDONLY | O_CLOEXEC);
		if (fds[i] < 0) {
			perror(argv[4 + i]);
			return 1;
		}
	}
	catch_stop();
	go_realtime();
	while (!stop_flag) {
		int64_t woke = now_ns();

		if (prev && woke - prev > (ms + STALL_MS) * 1000000LL)
			fprintf(out, "stall %" PRId64 " %.1f\n", woke,
				(double)(woke - prev) / 1e6);
		prev = woke;
		for (int i = 0; i < n; i++) {
			char v[16];
			ssize_t r = pread(fds[i], v, sizeof(v) - 1, 0);
			int64_t t = now_ns();

			if (r <= 0)
				continue;
			v[strcspn(v, "\n")] = '\0';
			if (strcmp(v, last[i]) != 0) {
				snprintf(last[i], sizeof(last[i]), "%s", v);
				fprintf(out, "%" PRId64 " %d %s\n", t, i, v);
				fflush(out);
			}
		}
		sleep_ms(ms);
	}
	fclose(out);
	return 0;
}

static int cmd_capture(int argc, char **argv)
{
	snd_pcm_t *pcm;
	snd_pcm_hw_params_t *hw;
	snd_pcm_uframes_t period = 48, buffer = RATE;
	int16_t buf[4800 * CHANNELS];
	uint64_t total = 0;
	int64_t last_t = 0;
	FILE *raw, *tl;
	char ready[512];
	int r, announced = 0;

	if (argc != 5)
		return die("usage: capture DEV OUT.raw TIMELINE");
	r = snd_pcm_open(&pcm, argv[2], SND_PCM_STREAM_CAPTURE, 0);
	if (r < 0) {
		fprintf(stderr, "vmprobe: %s: %s\n", argv[2], snd_strerror(r));
		return 1;
	}
	snd_pcm_hw_params_alloca(&hw);
	snd_pcm_hw_params_any(pcm, hw);
	if ((r = snd_pcm_hw_params_set_access(
		 pcm, hw, SND_PCM_ACCESS_RW_INTERLEAVED)) < 0 ||
	    (r = snd_pcm_hw_params_set_format(pcm, hw, SND_PCM_FORMAT_S16_LE)) <
		0 ||
	    (r = snd_pcm_hw_params_set_channels(pcm, hw, CHANNELS)) < 0 ||
	    (r = snd_pcm_hw_params_set_rate(pcm, hw, RATE, 0)) < 0 ||
	    (r = snd_pcm_hw_params_set_period_size_near(pcm, hw, &period,
							NULL)) < 0 ||
	    (r = snd_pcm_hw_params_set_buffer_size_near(pcm, hw, &buffer)) <
		0 ||
	    (r = snd_pcm_hw_params(pcm, hw)) < 0) {
		fprintf(stderr, "vmprobe: %s: hw params: %s\n", argv[2],
			snd_strerror(r));
		return 1;
	}
	raw = fopen(argv[3], "we");
	tl = fopen(argv[4], "we");
	if (!raw || !tl) {
		if (raw)
			fclose(raw);
		if (tl)
			fclose(tl);
		return die("cannot write the capture files");
	}
	fprintf(tl, "# period %lu buffer %lu\n", (unsigned long)period,
		(unsigned long)buffer);
	snprintf(ready, sizeof(ready), "%s.ready", argv[3]);
	catch_stop();
	go_realtime();
	if ((r = snd_pcm_start(pcm)) < 0) {
		fprintf(stderr, "vmprobe: start: %s\n", snd_strerror(r));
		fclose(raw);
		fclose(tl);
		return 1;
	}
	/* Woken once the card has delivered a period (its timer tick
	 * delivers a few), then everything there is read: the wake-up time
	 * is when those frames came out. */
	while (!stop_flag) {
		snd_pcm_sframes_t n;
		int64_t t;

		r = snd_pcm_wait(pcm, 1000);
		t = now_ns();
		if (last_t && t - last_t > STALL_MS * 1000000LL)
			fprintf(tl, "stall %" PRId64 " %.1f\n", t,
				(double)(t - last_t) / 1e6);
		last_t = t;
		n = r < 0 ? r : snd_pcm_avail_update(pcm);
		if (n == -EINTR || n == -EAGAIN || n == 0)
			continue;
		if (n > 0) {
			if (n > (snd_pcm_sframes_t)(sizeof(buf) /
						    sizeof(buf[0]) / CHANNELS))
				n = sizeof(buf) / sizeof(buf[0]) / CHANNELS;
			n = snd_pcm_readi(pcm, buf, (snd_pcm_uframes_t)n);
		}
		if (n == -EINTR || n == -EAGAIN)
			continue;
		if (n < 0) {
			/* Frames were lost: the time line says where. */
			fprintf(tl, "xrun %" PRIu64 " %" PRId64 " %s\n", total,
				t, snd_strerror((int)n));
			if (snd_pcm_recover(pcm, (int)n, 1) < 0 ||
			    snd_pcm_start(pcm) < 0)
				break;
			continue;
		}
		fwrite(buf, sizeof(int16_t) * CHANNELS, (size_t)n, raw);
		total += (uint64_t)n;
		fprintf(tl, "%" PRIu64 " %" PRId64 "\n", total, t);
		if (!announced) {
			FILE *f = fopen(ready, "we");

			if (f)
				fclose(f);
			announced = 1;
		}
	}
	snd_pcm_close(pcm);
	fclose(raw);
	fclose(tl);
	return 0;
}

/* --- reading results back ------------------------------------------- */

struct capture {
	int16_t *s; /* interleaved stereo */
	size_t frames;
	uint64_t *tl_frames;
	int64_t *tl_ns;
	size_t tl_n;
	int xruns;
};

static int load_capture(struct capture *c, const char *raw, const char *tl)
{
	FILE *f = fopen(raw, "re");
	long len;
	char line[256];

	memset(c, 0, sizeof(*c));
	if (!f)
		return -1;
	if (fseek(f, 0, SEEK_END) < 0 || (len = ftell(f)) < 0) {
		fclose(f);
		return -1;
	}
	rewind(f);
	c->frames = (size_t)len / (sizeof(int16_t) * CHANNELS);
	c->s = malloc(c->frames * sizeof(int16_t) * CHANNELS + 4);
	if (!c->s || fread(c->s, sizeof(int16_t) * CHANNELS, c->frames, f) !=
			 c->frames) {
		fclose(f);
		return -1;
	}
	fclose(f);
	f = fopen(tl, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		uint64_t fr;
		int64_t ns;

		if (strncmp(line, "xrun", 4) == 0)
			c->xruns++;
		if (sscanf(line, "%" SCNu64 " %" SCNd64, &fr, &ns) != 2)
			continue;
		if ((c->tl_n & (c->tl_n - 1)) == 0) {
			size_t cap = c->tl_n ? c->tl_n * 2 : 1;
			uint64_t *nf = realloc(c->tl_frames, cap * sizeof(fr));
			int64_t *nn;

			if (nf)
				c->tl_frames = nf;
			nn = realloc(c->tl_ns, cap * sizeof(ns));
			if (nn)
				c->tl_ns = nn;
			if (!nf || !nn) {
				fclose(f);
				return -1;
			}
		}
		c->tl_frames[c->tl_n] = fr;
		c->tl_ns[c->tl_n++] = ns;
	}
	fclose(f);
	if (c->xruns)
		fprintf(stderr,
			"vmprobe: the capture lost frames (%d xrun%s)\n",
			c->xruns, c->xruns == 1 ? "" : "s");
	return c->tl_n ? 0 : -1;
}

/* When frame f came out of the loopback: the wake-up of the read that
 * brought it (snd-aloop delivers frames on its timer ticks; the capture
 * wakes on each). */
static int64_t frame_ns(const struct capture *c, size_t f)
{
	size_t lo = 0, hi = c->tl_n;

	while (lo < hi) { /* the first read that ends past f */
		size_t mid = (lo + hi) / 2;

		if (c->tl_frames[mid] <= f)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < c->tl_n ? c->tl_ns[lo] : c->tl_ns[c->tl_n - 1];
}

/* The first frame that came out at or after t. */
static size_t frame_at(const struct capture *c, int64_t t)
{
	size_t lo = 0, hi = c->frames;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (frame_ns(c, mid) < t)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int sound_at(const struct capture *c, size_t f)
{
	return abs(c->s[f * 2]) > SILENT || abs(c->s[f * 2 + 1]) > SILENT;
}

static int cmd_match(int argc, char **argv)
{
	struct capture c;
	SF_INFO info = {0};
	SNDFILE *sf;
	float *ref;
	int16_t *r16;
	size_t n, from, tail, best_len = 0, best_off = 0;
	long tail_ms;

	if (argc != 7)
		return die("usage: match RAW TIMELINE REF.wav FROM_NS TAIL_MS");
	if (load_capture(&c, argv[2], argv[3]) < 0)
		return die("cannot read the capture");
	sf = sf_open(argv[4], SFM_READ, &info);
	if (!sf || info.channels != 1)
		return die("cannot read the reference (mono WAV)");
	ref = malloc((size_t)info.frames * sizeof(float));
	r16 = malloc((size_t)info.frames * sizeof(int16_t));
	if (!ref || !r16)
		return die("out of memory");
	n = (size_t)sf_readf_float(sf, ref, info.frames);
	sf_close(sf);
	/* What the daemon writes for a sample at full volume. */
	for (size_t i = 0; i < n; i++) {
		float v = ref[i] > 1.0f	   ? 1.0f
			  : ref[i] < -1.0f ? -1.0f
					   : ref[i];

		r16[i] = (int16_t)lrintf(v * 32767.0f);
	}
	from = frame_at(&c, strtoll(argv[5], NULL, 10));
	tail_ms = atol(argv[6]);
	tail = (size_t)tail_ms * RATE / 1000;
	if (tail > n)
		tail = n;
	for (size_t off = from; off + n <= c.frames + tail; off++) {
		size_t i, worst = 0;

		for (i = 0; i < n; i++) {
			int d;

			if (off + i >= c.frames) {
				if (i >= n - tail)
					continue;
				break;
			}
			d = abs(c.s[(off + i) * 2] - r16[i]);
			if (c.s[(off + i) * 2] != c.s[(off + i) * 2 + 1])
				break;
			if (d > 1 &&
			    !(i >= n - tail && c.s[(off + i) * 2] == 0))
				break;
			if (d > 1)
				worst++;
		}
		if (i == n) {
			printf(
			    "match: %zu frames from %.3f s into the capture, "
			    "%zu of them silenced at the end; at %" PRId64
			    " ns\n",
			    n, (double)off / RATE, worst, frame_ns(&c, off));
			return 0;
		}
		if (i > best_len) {
			best_len = i;
			best_off = off;
		}
	}
	printf("no match: %zu frames of reference, capture %zu frames "
	       "(%d xruns); best: %zu frames matched at frame %zu",
	       n, c.frames, c.xruns, best_len, best_off);
	if (best_len < n && best_off + best_len < c.frames)
		printf(", then %d where %d was expected",
		       c.s[(best_off + best_len) * 2], r16[best_len]);
	printf("\n");
	return 1;
}

static int cmd_sound(int argc, char **argv)
{
	struct capture c;
	size_t from, to, first = SIZE_MAX, last = SIZE_MAX;

	if (argc != 5 && argc != 6)
		return die("usage: sound RAW TIMELINE FROM_NS [TO_NS]");
	if (load_capture(&c, argv[2], argv[3]) < 0)
		return die("cannot read the capture");
	from = frame_at(&c, strtoll(argv[4], NULL, 10));
	to = argc == 6 ? frame_at(&c, strtoll(argv[5], NULL, 10)) : c.frames;
	for (size_t f = from; f < to && f < c.frames; f++)
		if (sound_at(&c, f)) {
			if (first == SIZE_MAX)
				first = f;
			last = f;
		}
	if (first == SIZE_MAX) {
		printf("none\n");
		return 1;
	}
	printf("first %" PRId64 " last %" PRId64 "\n", frame_ns(&c, first),
	       frame_ns(&c, last));
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static int cmd_latency(int argc, char **argv)
{
	struct capture c;
	int n = argc - 4, got = 0;
	double *ms = calloc((size_t)(n > 0 ? n : 1), sizeof(double));

	if (n < 1 || !ms) {
		free(ms);
		return die("usage: latency RAW TIMELINE NS...");
	}
	if (load_capture(&c, argv[2], argv[3]) < 0) {
		free(ms);
		return die("cannot read the capture");
	}
	for (int i = 0; i < n; i++) {
		int64_t t = strtoll(argv[4 + i], NULL, 10);
		size_t f = frame_at(&c, t),
		       end = i + 1 < n
				 ? frame_at(&c, strtoll(argv[5 + i], NULL, 10))
				 : c.frames;

		while (f < end && !sound_at(&c, f))
			f++;
		if (f >= end) {
			printf("press %d: no sound before the next press\n",
			       i + 1);
			continue;
		}
		ms[got] = (double)(frame_ns(&c, f) - t) / 1e6;
		printf("press %d: %.1f ms\n", i + 1, ms[got]);
		got++;
	}
	if (got == 0) {
		printf("latency: no press was heard\n");
		return 1;
	}
	qsort(ms, (size_t)got, sizeof(double), cmp_double);
	printf("latency: %d of %d presses heard, min %.1f ms, median %.1f ms, "
	       "max %.1f ms\n",
	       got, n, ms[0],
	       got % 2 ? ms[got / 2] : (ms[got / 2 - 1] + ms[got / 2]) / 2,
	       ms[got - 1]);
	return got == n ? 0 : 1;
}

/* Line I of a watch file between FROM and TO: "start V end V changes N
 * rise NS fall NS min_ms X max_ms Y mean_ms Z" (rise/fall: the first
 * change to 1/0 in the window, -1 if none; the intervals are between
 * consecutive changes in the window). */
static int cmd_edges(int argc, char **argv)
{
	FILE *f;
	char line[128];
	int idx, v0 = -1, v = -1, changes = 0;
	int64_t from, to, prev = -1, rise = -1, fall = -1;
	double mn = 0, mx = 0, sum = 0;
	int intervals = 0;

	if (argc != 6)
		return die("usage: edges WATCH I FROM_NS TO_NS");
	f = fopen(argv[2], "re");
	if (!f)
		return die("cannot read the watch file");
	idx = atoi(argv[3]);
	from = strtoll(argv[4], NULL, 10);
	to = strtoll(argv[5], NULL, 10);
	while (fgets(line, sizeof(line), f)) {
		int64_t t;
		int i, val;

		if (sscanf(line, "%" SCNd64 " %d %d", &t, &i, &val) != 3 ||
		    i != idx)
			continue;
		if (t <= from) {
			v = v0 = val;
			continue;
		}
		if (t > to)
			break;
		if (val == v)
			continue;
		v = val;
		changes++;
		if (val == 1 && rise < 0)
			rise = t;
		if (val == 0 && fall < 0)
			fall = t;
		if (prev >= 0) {
			double d = (double)(t - prev) / 1e6;

			if (intervals == 0 || d < mn)
				mn = d;
			if (intervals == 0 || d > mx)
				mx = d;
			sum += d;
			intervals++;
		}
		prev = t;
	}
	fclose(f);
	printf("start %d end %d changes %d rise %" PRId64 " fall %" PRId64
	       " min_ms %.1f max_ms %.1f mean_ms %.1f\n",
	       v0, v, changes, rise, fall, mn, mx,
	       intervals ? sum / intervals : 0.0);
	return 0;
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : "";

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (strcmp(cmd, "gen") == 0)
		return cmd_gen(argc, argv);
	if (strcmp(cmd, "now") == 0) {
		printf("%" PRId64 "\n", now_ns());
		return 0;
	}
	if (strcmp(cmd, "drive") == 0 && argc >= 4)
		return cmd_drive(argc, argv);
	if (strcmp(cmd, "watch") == 0)
		return cmd_watch(argc, argv);
	if (strcmp(cmd, "capture") == 0)
		return cmd_capture(argc, argv);
	if (strcmp(cmd, "match") == 0)
		return cmd_match(argc, argv);
	if (strcmp(cmd, "sound") == 0)
		return cmd_sound(argc, argv);
	if (strcmp(cmd, "latency") == 0)
		return cmd_latency(argc, argv);
	if (strcmp(cmd, "edges") == 0)
		return cmd_edges(argc, argv);
	fprintf(stderr, "usage: vmprobe gen|now|drive|watch|capture|match|"
			"sound|latency|edges ... (see tests/vm/vmprobe.c)\n");
	return 2;
}
