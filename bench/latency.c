/* latency: the measuring half of bench/latency.sh. Times "trigger ->
 * first non-silent frame handed to ALSA" against the `sound <ns>` lines
 * the bhrt test PCM appends to its events file (tests/alsa/README.md).
 *
 *   latency daemon SOCKET EVENTS N OUT
 *       N presses over bullhornd's control socket: connect, note the
 *       time, send "play rights", wait for the next `sound`; then
 *       "stop", wait for the `stop` (or `xrun`) event and the `prepare`
 *       of the daemon's drop, and for status state=idle;
 *       then a random 10-60 ms pause.
 *   latency exec EVENTS N OUT LOG CMD [ARG...]
 *       N runs of CMD (e.g. aplay -q -D speaker2 x.wav): note the time,
 *       fork and exec, wait for the next `sound`, SIGTERM the child and
 *       reap it; then the same pause. The child's output goes to LOG.
 *
 * OUT gets one line per trigger, "i trigger_ns sound_ns latency_ns", and
 * in daemon mode also "stop_sent_ns idle_ns stop|xrun": the stop request,
 * the PCM prepared again after the fade-out and drain, and whether the
 * stream was dropped while playing or had run dry first.
 * stdout gets one line, "n min median p99 max" in ns (p99 by nearest
 * rank). Exits 1 with a reason on stderr when a trigger cannot be
 * measured: a benchmark with holes is not a benchmark. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "control.h"

#define WAIT_NS (3 * 1000000000LL) /* for any one event or reply */
#define POLL_NS 100000		   /* events file polling interval */

/* SIGINT/SIGTERM: stop waiting, end the child, exit 1. */
static volatile sig_atomic_t quit;

static void on_signal(int sig)
{
	(void)sig;
	quit = 1;
}

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void sleep_ns(int64_t ns)
{
	struct timespec ts = {.tv_sec = ns / 1000000000LL,
			      .tv_nsec = ns % 1000000000LL};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* The events file, read from where we last stopped. */
struct tail {
	int fd;
	char buf[4096];
	size_t len;
};

/* Drops everything written so far, so the next wait sees only what the
 * next trigger causes. */
static int tail_skip(struct tail *t)
{
	if (lseek(t->fd, 0, SEEK_END) < 0)
		return -errno;
	t->len = 0;
	return 0;
}

/* Waits up to wait_ns for the next line "WORD <ns> ..." whose WORD is
 * one of words (NULL-terminated); returns its index and *ns, or
 * -ETIMEDOUT. */
static int tail_wait(struct tail *t, const char *const *words, int64_t wait_ns,
		     int64_t *ns)
{
	int64_t deadline = now_ns() + wait_ns;

	for (;;) {
		char *nl;
		ssize_t n;

		while ((nl = memchr(t->buf, '\n', t->len))) {
			size_t used = (size_t)(nl - t->buf) + 1;
			int hit = -1;

			*nl = '\0';
			for (int k = 0; words[k] && hit < 0; k++) {
				size_t wlen = strlen(words[k]);

				if (strncmp(t->buf, words[k], wlen) == 0 &&
				    t->buf[wlen] == ' ') {
					*ns = strtoll(t->buf + wlen + 1, NULL,
						      10);
					hit = k;
				}
			}
			t->len -= used;
			memmove(t->buf, t->buf + used, t->len);
			if (hit >= 0)
				return hit;
		}
		if (t->len == sizeof(t->buf))
			t->len = 0; /* not ours: no line is this long */
		n = read(t->fd, t->buf + t->len, sizeof(t->buf) - t->len);
		if (n < 0 && errno != EINTR)
			return -errno;
		if (n > 0) {
			t->len += (size_t)n;
			continue;
		}
		if (quit)
			return -EINTR;
		if (now_ns() > deadline)
			return -ETIMEDOUT;
		sleep_ns(POLL_NS);
	}
}

static const char *const SOUND[] = {"sound", NULL};
static const char *const ENDED[] = {"stop", "xrun", NULL};
static const char *const PREPARED[] = {"prepare", NULL};
static const char *const RESTARTED[] = {"start", "sound", NULL};

/* Sends line (newline included) and reads one reply line. *sent_ns is
 * taken just before send(). */
static int sock_request(const char *path, const char *line, int64_t *sent_ns,
			char *reply, size_t len)
{
	struct pollfd pfd;
	size_t got = 0;
	int fd = control_connect(path), r = 0;

	if (fd < 0)
		return fd;
	*sent_ns = now_ns();
	if (send(fd, line, strlen(line), MSG_NOSIGNAL) !=
	    (ssize_t)strlen(line)) {
		r = -errno;
		goto out;
	}
	pfd = (struct pollfd){.fd = fd, .events = POLLIN};
	while (got + 1 < len && !memchr(reply, '\n', got)) {
		ssize_t n;

		if (quit) {
			r = -EINTR;
			goto out;
		}
		if (poll(&pfd, 1, (int)(WAIT_NS / 1000000)) == 0) {
			r = -ETIMEDOUT;
			goto out;
		}
		n = recv(fd, reply + got, len - 1 - got, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r = n == 0 ? -ECONNRESET : -errno;
			goto out;
		}
		got += (size_t)n;
	}
	reply[got] = '\0';
	reply[strcspn(reply, "\n")] = '\0';
out:
	close(fd);
	return r;
}

static void pause_random(void)
{
	sleep_ns(10000000LL + (int64_t)(random() % 50000000L));
}

static int fail(int i, const char *what, int err)
{
	fprintf(stderr, "latency: trigger %d: %s (%s)\n", i, what,
		strerror(-err));
	return -1;
}

/* One press of the daemon: *sent = request sent, *sound = its `sound`;
 * stop[0] = stop request sent, stop[1] = the PCM dropped and prepared
 * again, stop[2] = 1 when the stream ended in an underrun (`xrun`, no
 * `stop`) rather than being dropped while still playing. */
static int press_daemon(const char *sock, struct tail *t, int i, int64_t *sent,
			int64_t *sound, int64_t stop[3])
{
	char reply[1024];
	int64_t ns, t_stop;
	int r;

	if ((r = tail_skip(t)) < 0)
		return fail(i, "cannot read the events file", r);
	r = sock_request(sock, "play rights\n", sent, reply, sizeof(reply));
	if (r < 0)
		return fail(i, "play request failed", r);
	if (strncmp(reply, "ok playing", 10) != 0)
		return fail(i, reply, -EPROTO);
	if ((r = tail_wait(t, SOUND, WAIT_NS, sound)) < 0)
		return fail(i, "no `sound` event after play", r);
	if (*sound < *sent)
		return fail(i, "`sound` event older than the request", -EPROTO);
	r = sock_request(sock, "stop\n", &stop[0], reply, sizeof(reply));
	if (r < 0 || strncmp(reply, "ok", 2) != 0)
		return fail(i, "stop request failed", r < 0 ? r : -EPROTO);
	/* Ended is a `stop` or `xrun`, then the `prepare` of the daemon's
	 * drop (or of its recovery), then 20 ms without a new `start`: an
	 * underrun the daemon recovered from mid-fade is not the end. */
	do {
		if ((r = tail_wait(t, ENDED, WAIT_NS, &ns)) < 0)
			return fail(i, "no `stop` or `xrun` event after stop",
				    r);
		stop[2] |= r;
		if ((r = tail_wait(t, PREPARED, WAIT_NS, &stop[1])) < 0)
			return fail(i, "no `prepare` after the stream ended",
				    r);
		r = tail_wait(t, RESTARTED, 20000000, &ns);
		if (r < 0 && r != -ETIMEDOUT)
			return fail(i, "cannot read the events file", r);
	} while (r >= 0);
	for (t_stop = now_ns();; sleep_ns(1000000)) {
		r = sock_request(sock, "status\n", &ns, reply, sizeof(reply));
		if (r < 0)
			return fail(i, "status request failed", r);
		if (strstr(reply, "state=idle"))
			break;
		if (now_ns() - t_stop > WAIT_NS)
			return fail(i, "daemon never reported state=idle",
				    -ETIMEDOUT);
	}
	return 0;
}

/* One run of argv: *start = just before fork, *sound = its `sound`. */
static int press_exec(char **argv, int log_fd, struct tail *t, int i,
		      int64_t *start, int64_t *sound)
{
	int status = 0, r;
	pid_t pid;

	if ((r = tail_skip(t)) < 0)
		return fail(i, "cannot read the events file", r);
	*start = now_ns();
	pid = fork();
	if (pid < 0)
		return fail(i, "fork failed", -errno);
	if (pid == 0) {
		dup2(log_fd, STDOUT_FILENO);
		dup2(log_fd, STDERR_FILENO);
		execvp(argv[0], argv);
		_exit(127);
	}
	r = tail_wait(t, SOUND, WAIT_NS, sound);
	kill(pid, SIGTERM);
	for (int64_t t0 = now_ns(); waitpid(pid, &status, WNOHANG) == 0;) {
		if (now_ns() - t0 > WAIT_NS) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			break;
		}
		sleep_ns(1000000);
	}
	if (r < 0)
		return fail(i,
			    WIFEXITED(status) && WEXITSTATUS(status)
				? "no `sound` event; the command failed"
				: "no `sound` event after exec",
			    r);
	if (*sound < *start)
		return fail(i, "`sound` event older than the exec", -EPROTO);
	return 0;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

static int usage(void)
{
	fprintf(stderr, "usage: latency daemon SOCKET EVENTS N OUT\n"
			"       latency exec EVENTS N OUT LOG CMD [ARG...]\n");
	return 2;
}

int main(int argc, char **argv)
{
	bool daemon_mode = argc == 6 && strcmp(argv[1], "daemon") == 0;
	bool exec_mode = argc >= 7 && strcmp(argv[1], "exec") == 0;
	const char *events, *count, *out_path;
	struct sigaction sa = {.sa_handler = on_signal};
	struct tail t = {0};
	int64_t *lat, median;
	char *end;
	FILE *out;
	int log_fd = -1;
	long n;

	if (!daemon_mode && !exec_mode)
		return usage();
	events = argv[daemon_mode ? 3 : 2];
	count = argv[daemon_mode ? 4 : 3];
	out_path = argv[daemon_mode ? 5 : 4];
	errno = 0;
	n = strtol(count, &end, 10);
	if (errno || *end || n < 1 || n > 100000)
		return usage();
	t.fd = open(events, O_RDONLY | O_CLOEXEC);
	if (t.fd < 0) {
		fprintf(stderr, "latency: %s: %s\n", events, strerror(errno));
		return 1;
	}
	if (exec_mode) {
		log_fd = open(argv[5],
			      O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		if (log_fd < 0) {
			fprintf(stderr, "latency: %s: %s\n", argv[5],
				strerror(errno));
			return 1;
		}
	}
	out = fopen(out_path, "we");
	lat = calloc((size_t)n, sizeof(*lat));
	if (!out || !lat) {
		fprintf(stderr, "latency: %s: %s\n", out_path, strerror(errno));
		return 1;
	}
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	srandom((unsigned)now_ns());
	for (int i = 0; i < n; i++) {
		int64_t t0 = 0, snd = 0, stop[3] = {0, 0, 0};
		int r = daemon_mode
			    ? press_daemon(argv[2], &t, i, &t0, &snd, stop)
			    : press_exec(argv + 6, log_fd, &t, i, &t0, &snd);

		if (r < 0)
			return 1;
		lat[i] = snd - t0;
		fprintf(out, "%d %" PRId64 " %" PRId64 " %" PRId64, i, t0, snd,
			lat[i]);
		if (daemon_mode)
			fprintf(out, " %" PRId64 " %" PRId64 " %s", stop[0],
				stop[1], stop[2] ? "xrun" : "stop");
		fputc('\n', out);
		pause_random();
		if (quit)
			return 1;
	}
	if (fclose(out) != 0) {
		fprintf(stderr, "latency: %s: %s\n", out_path, strerror(errno));
		return 1;
	}
	qsort(lat, (size_t)n, sizeof(*lat), cmp_i64);
	median = n % 2 ? lat[n / 2] : (lat[n / 2 - 1] + lat[n / 2]) / 2;
	/* Nearest rank: the smallest value at or above 99 % of samples. */
	printf("%ld %" PRId64 " %" PRId64 " %" PRId64 " %" PRId64 "\n", n,
	       lat[0], median, lat[(99 * n + 99) / 100 - 1], lat[n - 1]);
	free(lat);
	close(t.fd);
	if (log_fd >= 0)
		close(log_fd);
	return 0;
}
