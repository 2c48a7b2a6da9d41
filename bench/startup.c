/* startup: the measuring half of bench/startup.sh. Times bullhornd's
 * start-up: exec -> control socket answers `ping`, and exec -> the first
 * press heard (`play rights` sent as soon as `ping` is answered, heard =
 * the `sound <ns>` line the bhrt test PCM appends to its events file,
 * tests/alsa/README.md). Also the pieces a warm start is made of.
 *
 *   startup run SOCKET EVENTS LOG N OUT BULLHORND [ARG...]
 *       N starts of BULLHORND ARG...: note the time, fork and exec (its
 *       output appended to LOG, after a "--- start I" line), connect and
 *       send "ping" every 0.5 ms until it answers "ok pong", send "play
 *       rights", wait for the next `sound`, read VmHWM, SIGTERM it and
 *       reap it (SIGKILL after 3 s). OUT gets one line per start:
 *       "i ping_ns sound_ns vmhwm_kb", both times from just before fork.
 *   startup scan read|crc|hash FILE...
 *       Reads every FILE in 64 KiB preads, as cache_load's payload check
 *       does; `crc` also runs bullhorn's own crc32_update over the bytes,
 *       `hash` its hash64 (the cache key of a source). Prints "bytes ns".
 *   startup evict FILE...
 *       posix_fadvise(DONTNEED) on every FILE: drops its (clean) pages
 *       from the page cache, as after a reboot, without root.
 *
 * Exits 1 with a reason on stderr when something cannot be measured. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "control.h"

#include "util.h"

#define START_WAIT_NS (120 * 1000000000LL) /* a cold start processes all */
#define WAIT_NS	      (3 * 1000000000LL)   /* a reply, a `sound` */
#define RETRY_NS      500000		   /* connect / events polling */

/* SIGINT/SIGTERM: stop waiting, end the daemon, exit 1. */
static volatile sig_atomic_t quit;

static void on_signal(int sig)
{
	(void)sig;
	quit = 1;
}

static void sleep_ns(int64_t ns)
{
	struct timespec ts = {.tv_sec = ns / 1000000000LL,
			      .tv_nsec = ns % 1000000000LL};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR && !quit)
		;
}

/* Sends line on a connected fd and reads one reply line within wait_ns. */
static int sock_talk(int fd, const char *line, int64_t wait_ns, char *reply,
		     size_t len)
{
	int64_t deadline = now_ns() + wait_ns;
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	size_t got = 0;

	if (send(fd, line, strlen(line), MSG_NOSIGNAL) != (ssize_t)strlen(line))
		return -errno;
	while (got + 1 < len && !memchr(reply, '\n', got)) {
		ssize_t n;

		if (quit)
			return -EINTR;
		if (now_ns() > deadline)
			return -ETIMEDOUT;
		if (poll(&pfd, 1, 100) == 0)
			continue;
		n = recv(fd, reply + got, len - 1 - got, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n == 0 ? -ECONNRESET : -errno;
		got += (size_t)n;
	}
	reply[got] = '\0';
	reply[strcspn(reply, "\n")] = '\0';
	return 0;
}

/* True while pid is a child that has not exited; reaps it when it has. */
static int child_alive(pid_t pid, int *status)
{
	return waitpid(pid, status, WNOHANG) == 0;
}

/* Waits up to wait_ns for a line "sound <ns>" appended to the events file
 * after *off; returns 0 and *ns, or -ETIMEDOUT. */
static int wait_sound(int fd, off_t *off, int64_t wait_ns, int64_t *ns)
{
	int64_t deadline = now_ns() + wait_ns;
	char buf[4096];
	size_t len = 0;

	for (;;) {
		ssize_t n = pread(fd, buf + len, sizeof(buf) - 1 - len, *off);
		char *line, *nl;

		if (n < 0 && errno != EINTR)
			return -errno;
		if (n > 0) {
			*off += n;
			len += (size_t)n;
			buf[len] = '\0';
			line = buf;
			while ((nl = strchr(line, '\n'))) {
				*nl = '\0';
				if (strncmp(line, "sound ", 6) == 0) {
					*ns = strtoll(line + 6, NULL, 10);
					return 0;
				}
				line = nl + 1;
			}
			len = strlen(line);
			memmove(buf, line, len);
			if (len == sizeof(buf) - 1)
				len = 0; /* not ours: no line is this long */
			continue;
		}
		if (quit)
			return -EINTR;
		if (now_ns() > deadline)
			return -ETIMEDOUT;
		sleep_ns(RETRY_NS);
	}
}

static long vm_hwm_kb(pid_t pid)
{
	char path[64], line[256];
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmHWM: %ld", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

/* SIGTERM (the daemon fades out and exits), SIGKILL after 3 s. */
static void end_child(pid_t pid)
{
	int status;

	kill(pid, SIGTERM);
	for (int64_t t0 = now_ns(); waitpid(pid, &status, WNOHANG) == 0;) {
		if (now_ns() - t0 > WAIT_NS) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			return;
		}
		sleep_ns(1000000);
	}
}

static int fail(int i, pid_t pid, const char *what, int err)
{
	fprintf(stderr, "startup: start %d: %s (%s)\n", i, what,
		strerror(-err));
	if (pid > 0)
		end_child(pid);
	return -1;
}

/* One start: *ping and *sound in ns after the fork, *kb its VmHWM. */
static int start_once(char **argv, const char *sock, int ev_fd, int log_fd,
		      int i, int64_t *ping, int64_t *sound, long *kb)
{
	char reply[1024], mark[64];
	int64_t t0, t_ping, t_sound = 0;
	off_t off;
	pid_t pid;
	int fd = -1, status, r;

	off = lseek(ev_fd, 0, SEEK_END);
	if (off < 0)
		return fail(i, 0, "cannot read the events file", -errno);
	snprintf(mark, sizeof(mark), "--- start %d\n", i);
	if (write(log_fd, mark, strlen(mark)) < 0)
		return fail(i, 0, "cannot write the log", -errno);
	t0 = now_ns();
	pid = fork();
	if (pid < 0)
		return fail(i, 0, "fork failed", -errno);
	if (pid == 0) {
		dup2(log_fd, STDOUT_FILENO);
		dup2(log_fd, STDERR_FILENO);
		execv(argv[0], argv);
		_exit(127);
	}
	/* Ask as a client would, as soon as the socket takes connections;
	 * a leftover socket file of the last run refuses them. */
	for (;;) {
		if (quit)
			return fail(i, pid, "interrupted", -EINTR);
		if (!child_alive(pid, &status))
			return fail(i, 0, "bullhornd exited during start-up",
				    -ECHILD);
		if (now_ns() - t0 > START_WAIT_NS)
			return fail(i, pid, "no answer to ping", -ETIMEDOUT);
		fd = control_connect(sock);
		if (fd >= 0)
			break;
		if (fd != -ENOENT && fd != -ECONNREFUSED)
			return fail(i, pid, "cannot connect", fd);
		sleep_ns(RETRY_NS);
	}
	r = sock_talk(fd, "ping\n", START_WAIT_NS, reply, sizeof(reply));
	t_ping = now_ns();
	close(fd);
	if (r < 0)
		return fail(i, pid, "ping failed", r);
	if (strcmp(reply, "ok pong") != 0)
		return fail(i, pid, reply, -EPROTO);
	fd = control_connect(sock);
	if (fd < 0)
		return fail(i, pid, "cannot connect after ping", fd);
	r = sock_talk(fd, "play rights\n", WAIT_NS, reply, sizeof(reply));
	close(fd);
	if (r < 0)
		return fail(i, pid, "play request failed", r);
	if (strncmp(reply, "ok playing", 10) != 0)
		return fail(i, pid, reply, -EPROTO);
	r = wait_sound(ev_fd, &off, WAIT_NS, &t_sound);
	if (r < 0)
		return fail(i, pid, "no `sound` event after play", r);
	*kb = vm_hwm_kb(pid);
	end_child(pid);
	if (*kb < 0)
		return fail(i, 0, "no VmHWM", -ENOENT);
	*ping = t_ping - t0;
	*sound = t_sound - t0;
	return 0;
}

static int run(int argc, char **argv)
{
	const char *sock = argv[2], *events = argv[3], *log = argv[4];
	struct sigaction sa = {.sa_handler = on_signal};
	int ev_fd, log_fd;
	char *end;
	long n;
	FILE *out;

	(void)argc;
	errno = 0;
	n = strtol(argv[5], &end, 10);
	if (errno || *end || n < 1 || n > 10000) {
		fprintf(stderr, "startup: N must be 1 to 10000\n");
		return 2;
	}
	ev_fd = open(events, O_RDONLY | O_CLOEXEC);
	log_fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	out = fopen(argv[6], "we");
	if (ev_fd < 0 || log_fd < 0 || !out) {
		fprintf(stderr, "startup: %s, %s or %s: %s\n", events, log,
			argv[6], strerror(errno));
		return 1;
	}
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	for (int i = 0; i < n; i++) {
		int64_t ping = 0, sound = 0;
		long kb = 0;

		if (start_once(argv + 7, sock, ev_fd, log_fd, i, &ping, &sound,
			       &kb) < 0)
			return 1;
		fprintf(out, "%d %" PRId64 " %" PRId64 " %ld\n", i, ping, sound,
			kb);
		fflush(out);
		sleep_ns(200000000); /* let the machine settle */
		if (quit)
			return 1;
	}
	if (fclose(out) != 0) {
		fprintf(stderr, "startup: %s: %s\n", argv[6], strerror(errno));
		return 1;
	}
	close(ev_fd);
	close(log_fd);
	return 0;
}

static int scan(const char *how, int n, char **files)
{
	static unsigned char buf[65536];
	uint64_t bytes = 0, h = HASH64_INIT;
	uint32_t crc = 0;
	int64_t t0 = now_ns();
	int crc_on = strcmp(how, "crc") == 0,
	    hash_on = strcmp(how, "hash") == 0;

	if (!crc_on && !hash_on && strcmp(how, "read") != 0) {
		fprintf(stderr, "startup: scan read|crc|hash FILE...\n");
		return 2;
	}
	for (int i = 0; i < n; i++) {
		int fd = open(files[i], O_RDONLY | O_CLOEXEC);
		off_t off = 0;
		ssize_t got;

		if (fd < 0) {
			fprintf(stderr, "startup: %s: %s\n", files[i],
				strerror(errno));
			return 1;
		}
		while ((got = pread(fd, buf, sizeof(buf), off)) > 0) {
			if (crc_on)
				crc = crc32_update(crc, buf, (size_t)got);
			else if (hash_on)
				h = hash64(h, buf, (size_t)got);
			off += got;
		}
		close(fd);
		if (got < 0) {
			fprintf(stderr, "startup: %s: %s\n", files[i],
				strerror(errno));
			return 1;
		}
		bytes += (uint64_t)off;
	}
	/* Printed to stderr only so the compiler cannot drop the work. */
	if (crc == 1 && h == 1)
		fprintf(stderr, "startup: unlikely checksum\n");
	printf("%" PRIu64 " %" PRId64 "\n", bytes, now_ns() - t0);
	return 0;
}

static int evict(int n, char **files)
{
	for (int i = 0; i < n; i++) {
		int fd = open(files[i], O_RDONLY | O_CLOEXEC), r;

		if (fd < 0) {
			fprintf(stderr, "startup: %s: %s\n", files[i],
				strerror(errno));
			return 1;
		}
		fdatasync(fd);
		r = posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
		close(fd);
		if (r != 0) {
			fprintf(stderr, "startup: %s: fadvise: %s\n", files[i],
				strerror(r));
			return 1;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 8 && strcmp(argv[1], "run") == 0)
		return run(argc, argv);
	if (argc >= 4 && strcmp(argv[1], "scan") == 0)
		return scan(argv[2], argc - 3, argv + 3);
	if (argc >= 3 && strcmp(argv[1], "evict") == 0)
		return evict(argc - 2, argv + 2);
	fprintf(stderr, "usage: startup run SOCKET EVENTS LOG N OUT BULLHORND "
			"[ARG...]\n"
			"       startup scan read|crc|hash FILE...\n"
			"       startup evict FILE...\n");
	return 2;
}
