/* soak: the driving half of bench/soak.sh. Sends a seeded random mix of
 * actions to bullhornd's control socket, checks every reply, and samples
 * the daemon's memory as it goes.
 *
 *   soak SOCKET PID ACTIONS SAMPLE_EVERY SEED SAMPLES
 *
 * The mix (per thousand): play 300 (a message, in a language or none;
 * while something plays it preempts), play ... all 40, loop 60, stop 150,
 * volume 150, next-language 60, status 130, ping 30, test-speaker 18,
 * reload 10, SIGHUP 2 (then a status), requests that must be refused 50.
 * One request in 16 comes on a connection of its own, the rest on one
 * kept open; one in 40 is followed by a pause of 0-60 ms, so that some
 * sounds play out and the player goes idle (and saves its state).
 *
 * SAMPLES gets one line every SAMPLE_EVERY actions: "actions seconds
 * VmRSS RssAnon RssFile shadow" (kB: /proc/PID/status, and the resident
 * part of ASan's shadow from /proc/PID/smaps, 0 without ASan), read in
 * the same state every time (quiesce()).
 *
 * stdout: one line per kind of action ("kind count slowest_ms"), then
 *   soak: N actions in S s (R/s); F unanswered or wrong; slowest M ms
 * Exits 1 if any request went unanswered or was answered wrongly (the
 * first ten are printed to stderr), or the daemon went away. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "control.h"

#define REPLY_TIMEOUT_MS 60000 /* a reload under valgrind takes seconds */
#define FRESH_ONE_IN	 16
#define PAUSE_ONE_IN	 40
#define PAUSE_MAX_MS	 60

enum kind {
	K_PLAY,
	K_PLAY_ALL,
	K_LOOP,
	K_STOP,
	K_VOLUME,
	K_NEXT,
	K_STATUS,
	K_PING,
	K_SPEAKER,
	K_RELOAD,
	K_SIGHUP,
	K_BAD,
	K_N
};

static const struct {
	const char *name;
	int per_mille;
	const char *want; /* what the reply starts with */
} kinds[K_N] = {
    [K_PLAY] = {"play", 300, "ok playing "},
    [K_PLAY_ALL] = {"play-all", 40, "ok playing "},
    [K_LOOP] = {"loop", 60, "ok looping "},
    [K_STOP] = {"stop", 150, "ok stopped"},
    [K_VOLUME] = {"volume", 150, "ok volume "},
    [K_NEXT] = {"next-language", 60, "ok language "},
    [K_STATUS] = {"status", 130, "ok state="},
    [K_PING] = {"ping", 30, "ok pong"},
    [K_SPEAKER] = {"test-speaker", 18, "ok test-speaker "},
    [K_RELOAD] = {"reload", 10, "ok reloaded"},
    [K_SIGHUP] = {"sighup", 2, "ok state="},
    [K_BAD] = {"refused", 50, "error: "},
};

static const char *const messages[] = {"rights", "door", "leave", "observers",
				       "silent"};
/* "" = the active language; xx has no recordings (falls back). */
static const char *const languages[] = {"", "en", "es", "ar", "fr", "xx"};
static const char *const bad[] = {
    "dance",
    "play nothing",
    "play \xff\xfe",
    "volume 101",
    "volume 5x",
    "loop",
    "play rights en es",
    "",
    "test-speaker tone 0 0",
    "play rights \x1b[2J",
};

static uint64_t rng;

/* xorshift64*: the same run for the same seed. */
static uint64_t rnd(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 0x2545f4914f6cdd1dULL;
}

static unsigned pick(unsigned n)
{
	return (unsigned)(rnd() % n);
}

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* One request line of kind k. */
static void make_line(enum kind k, char *line, size_t len)
{
	const char *msg = messages[pick(sizeof(messages) / sizeof(*messages))];
	const char *lang =
	    languages[pick(sizeof(languages) / sizeof(*languages))];

	switch (k) {
	case K_PLAY:
		snprintf(line, len, "play %s%s%s", msg, *lang ? " " : "", lang);
		break;
	case K_PLAY_ALL:
		snprintf(line, len, "play %s all", msg);
		break;
	case K_LOOP:
		snprintf(line, len, "loop %s%s", msg,
			 pick(3) ? "" : (pick(2) ? " all" : " es"));
		break;
	case K_STOP:
		snprintf(line, len, "stop");
		break;
	case K_VOLUME:
		if (pick(3) == 0)
			snprintf(line, len, "volume %u", pick(101));
		else
			snprintf(line, len, "volume %c%u", pick(2) ? '+' : '-',
				 1 + pick(30));
		break;
	case K_NEXT:
		snprintf(line, len, "next-language");
		break;
	case K_STATUS:
	case K_SIGHUP:
		snprintf(line, len, "status");
		break;
	case K_PING:
		snprintf(line, len, "ping");
		break;
	case K_SPEAKER:
		snprintf(line, len, "test-speaker %s -%u 0.%u",
			 pick(2) ? "tone" : "pink", 12 + pick(30), 1 + pick(5));
		break;
	case K_RELOAD:
		snprintf(line, len, "reload");
		break;
	case K_BAD:
	case K_N:
		snprintf(line, len, "%s",
			 bad[pick(sizeof(bad) / sizeof(*bad))]);
		break;
	}
}

struct conn {
	int fd;
	char buf[4096];
	size_t len;
};

/* The kept connection, (re)opened if need be. */
static int conn_open(struct conn *c, const char *path)
{
	if (c->fd >= 0)
		return 0;
	c->fd = control_connect(path);
	c->len = 0;
	if (c->fd < 0)
		fprintf(stderr, "soak: connect %s: %s\n", path,
			strerror(-c->fd));
	return c->fd < 0 ? -1 : 0;
}

/* One request on the kept connection: the line out, one line back. */
static int conn_request(struct conn *c, const char *line, char *reply,
			size_t reply_len)
{
	size_t len;
	char *nl;
	int r;

	r = control_send_all(c->fd, line, strlen(line));
	if (r == 0)
		r = control_send_all(c->fd, "\n", 1);
	if (r < 0)
		return r;
	while (!(nl = memchr(c->buf, '\n', c->len))) {
		struct pollfd p = {.fd = c->fd, .events = POLLIN};
		ssize_t n;

		if (c->len == sizeof(c->buf))
			return -EMSGSIZE;
		r = poll(&p, 1, REPLY_TIMEOUT_MS);
		if (r < 0 && errno == EINTR)
			continue;
		if (r == 0)
			return -ETIMEDOUT;
		n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n == 0 ? -ECONNRESET : -errno;
		c->len += (size_t)n;
	}
	len = (size_t)(nl - c->buf) < reply_len ? (size_t)(nl - c->buf)
						: reply_len - 1;
	memcpy(reply, c->buf, len);
	reply[len] = '\0';
	c->len -= (size_t)(nl + 1 - c->buf);
	memmove(c->buf, nl + 1, c->len);
	return 0;
}

/* Resident kB of ASan's shadow memory: the anonymous mappings of 1 GiB
 * and more (its shadow and shadow gap reserve terabytes; nothing else in
 * the daemon maps that much). The shadow grows with every new address
 * the daemon maps, and the recordings are mapped afresh at each reload,
 * at addresses that wander: RSS minus this is what the daemon holds. */
static long shadow_kb(pid_t pid)
{
	char path[64], line[512];
	bool in_shadow = false;
	long kb = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/smaps", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long lo, hi, inode;
		int name = 0;

		if (sscanf(line, "%llx-%llx %*s %*s %*s %llu %n", &lo, &hi,
			   &inode, &name) == 3)
			in_shadow = inode == 0 && line[name] == '\0' &&
				    hi - lo >= (1ULL << 30);
		else if (in_shadow && strncmp(line, "Rss:", 4) == 0)
			kb += strtol(line + 4, NULL, 10);
	}
	fclose(f);
	return kb;
}

/* VmRSS, RssAnon, RssFile and the shadow of pid in kB; false once it is
 * gone. */
static bool memory_kb(pid_t pid, long kb[4])
{
	static const char *const keys[3] = {"VmRSS:", "RssAnon:", "RssFile:"};
	char path[64], line[256];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	kb[0] = kb[1] = kb[2] = -1;
	while (fgets(line, sizeof(line), f))
		for (int i = 0; i < 3; i++)
			if (strncmp(line, keys[i], strlen(keys[i])) == 0)
				kb[i] =
				    strtol(line + strlen(keys[i]), NULL, 10);
	fclose(f);
	kb[3] = shadow_kb(pid);
	return kb[0] >= 0 && kb[1] >= 0 && kb[3] >= 0;
}

/* Before each memory sample: stop, wait until nothing plays, reload.
 * Memory is then read in the same state every time: no sound or test
 * signal in flight, and the recordings freshly mapped (their pages come
 * in as they play, so what the last few hundred actions happened to
 * play would otherwise show in VmRSS). */
static int quiesce(struct conn *c)
{
	static const char *const steps[] = {"stop", "status", "reload"};
	char reply[1024];

	for (size_t i = 0; i < sizeof(steps) / sizeof(*steps); i++) {
		bool wait_idle = strcmp(steps[i], "status") == 0;
		int64_t end = now_ns() + REPLY_TIMEOUT_MS * 1000000LL;
		int e;

		for (;;) {
			e = conn_request(c, steps[i], reply, sizeof(reply));
			if (e < 0 || !wait_idle ||
			    strncmp(reply, "ok state=idle", 13) == 0 ||
			    now_ns() > end)
				break;
			sleep_ms(2);
		}
		if (e < 0 || strncmp(reply, "ok", 2) != 0 ||
		    (wait_idle && strncmp(reply, "ok state=idle", 13) != 0)) {
			fprintf(stderr, "soak: before a sample, '%s': %s\n",
				steps[i], e < 0 ? strerror(-e) : reply);
			return -EIO;
		}
	}
	return 0;
}

static bool parse_num(const char *s, unsigned long long max,
		      unsigned long long *out)
{
	char *end;

	errno = 0;
	*out = strtoull(s, &end, 10);
	return errno == 0 && end != s && *end == '\0' && *out <= max &&
	       s[0] != '-';
}

int main(int argc, char **argv)
{
	unsigned long long n, every, seed, pid_ull;
	unsigned long count[K_N] = {0};
	double slowest[K_N] = {0}, worst = 0;
	struct conn c = {.fd = -1};
	unsigned long failed = 0;
	int64_t t0;
	FILE *samples;
	pid_t pid;

	if (argc != 7 || !parse_num(argv[3], 100000000, &n) || n == 0 ||
	    !parse_num(argv[2], 1u << 22, &pid_ull) ||
	    !parse_num(argv[4], 100000000, &every) || every == 0 ||
	    !parse_num(argv[5], UINT64_MAX, &seed)) {
		fprintf(stderr, "usage: soak SOCKET PID ACTIONS SAMPLE_EVERY "
				"SEED SAMPLES\n");
		return 2;
	}
	pid = (pid_t)pid_ull;
	rng = seed ? seed : 1;
	samples = fopen(argv[6], "we");
	if (!samples) {
		fprintf(stderr, "soak: cannot write %s: %s\n", argv[6],
			strerror(errno));
		return 1;
	}
	t0 = now_ns();
	for (unsigned long long i = 0; i < n; i++) {
		unsigned r = pick(1000), acc = 0;
		enum kind k = K_BAD;
		char line[128], reply[1024];
		int64_t s0;
		double ms;
		int e;

		for (int j = 0; j < K_N; j++) {
			acc += (unsigned)kinds[j].per_mille;
			if (r < acc) {
				k = (enum kind)j;
				break;
			}
		}
		make_line(k, line, sizeof(line));
		if (k == K_SIGHUP && kill(pid, SIGHUP) < 0) {
			fprintf(stderr, "soak: SIGHUP to %d: %s\n", (int)pid,
				strerror(errno));
			return 1;
		}
		if (conn_open(&c, argv[1]) < 0)
			return 1;
		s0 = now_ns();
		if (pick(FRESH_ONE_IN) == 0)
			e = control_request(argv[1], line, reply, sizeof(reply),
					    REPLY_TIMEOUT_MS);
		else
			e = conn_request(&c, line, reply, sizeof(reply));
		ms = (double)(now_ns() - s0) / 1e6;
		count[k]++;
		if (ms > slowest[k])
			slowest[k] = ms;
		if (ms > worst)
			worst = ms;
		if (e < 0 ||
		    strncmp(reply, kinds[k].want, strlen(kinds[k].want)) != 0) {
			if (failed++ < 10)
				fprintf(stderr,
					"soak: action %llu '%s': %s%s%s\n", i,
					line, e < 0 ? "no answer: " : "'",
					e < 0 ? strerror(-e) : reply,
					e < 0 ? "" : "'");
			if (e < 0) {
				close(c.fd);
				c.fd = -1;
			}
		}
		if ((i + 1) % every == 0) {
			long kb[4];

			if (conn_open(&c, argv[1]) < 0)
				return 1;
			if (quiesce(&c) < 0)
				failed++;
			if (!memory_kb(pid, kb)) {
				fprintf(stderr,
					"soak: bullhornd (pid %d) is gone "
					"after %llu actions\n",
					(int)pid, i + 1);
				return 1;
			}
			fprintf(samples, "%llu %.3f %ld %ld %ld %ld\n", i + 1,
				(double)(now_ns() - t0) / 1e9, kb[0], kb[1],
				kb[2], kb[3]);
			fflush(samples);
		}
		if (pick(PAUSE_ONE_IN) == 0)
			sleep_ms(pick(PAUSE_MAX_MS + 1));
	}
	if (c.fd >= 0)
		close(c.fd);
	fclose(samples);
	for (int j = 0; j < K_N; j++)
		printf("%-14s %8lu %10.1f\n", kinds[j].name, count[j],
		       slowest[j]);
	{
		double secs = (double)(now_ns() - t0) / 1e9;

		printf("soak: %llu actions in %.1f s (%.0f/s); %lu unanswered "
		       "or wrong; slowest %.1f ms\n",
		       n, secs, (double)n / secs, failed, worst);
	}
	return failed ? 1 : 0;
}
