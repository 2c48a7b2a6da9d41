/* Integration tests for bullhornd as a service and for power-loss
 * safety: the systemd notify protocol (READY once the library is loaded,
 * STATUS, RELOADING/READY, STOPPING, the watchdog fed from the loop),
 * read from a notify socket of the test's own; and nothing written to
 * the cache or the state while a sound plays (the state is written once
 * playback ends, atomically). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "testutil.h"

struct notify {
	int fd;
	char path[100];	 /* fits sun_path */
	char seen[8192]; /* every message, one per line */
};

static void notify_open(struct notify *n, struct tu *t, long watchdog_us)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	char us[32];

	assert_true(strlen(t->dir) + 8 < sizeof(n->path));
	snprintf(n->path, sizeof(n->path), "%.90s/notify", t->dir);
	memcpy(a.sun_path, n->path, sizeof(n->path));
	n->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	assert_true(n->fd >= 0);
	assert_int_equal(bind(n->fd, (struct sockaddr *)&a, sizeof(a)), 0);
	n->seen[0] = '\0';
	/* Inherited by the daemon tu_start forks, then taken back. */
	setenv("NOTIFY_SOCKET", n->path, 1);
	snprintf(us, sizeof(us), "%ld", watchdog_us);
	if (watchdog_us)
		setenv("WATCHDOG_USEC", us, 1);
}

static void notify_env_clear(void)
{
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
}

/* Reads what has arrived; returns how often needle is in all of it. */
static int notify_count(struct notify *n, const char *needle)
{
	char buf[1024];
	ssize_t r;
	int count = 0;

	while ((r = recv(n->fd, buf, sizeof(buf) - 1, 0)) > 0) {
		size_t used = strlen(n->seen);

		buf[r] = '\0';
		snprintf(n->seen + used, sizeof(n->seen) - used, "%s\n", buf);
	}
	for (const char *p = n->seen; (p = strstr(p, needle)); p++)
		count++;
	return count;
}

static int notify_wait(struct notify *n, const char *needle, int count,
		       int timeout_ms)
{
	for (int waited = 0; waited < timeout_ms; waited += 10) {
		if (notify_count(n, needle) >= count)
			return 0;
		tu_sleep_ms(10);
	}
	print_message("notify messages so far:\n%s", n->seen);
	return -ETIMEDOUT;
}

static void test_notify_protocol(void **state)
{
	struct tu *t = tu_new(NULL);
	struct notify n;
	char reply[512];
	int before;

	(void)state;
	notify_open(&n, t, 200000);
	assert_int_equal(tu_start(t), 0);
	notify_env_clear();
	/* READY after the library: the log says ready first. */
	assert_int_equal(notify_wait(&n, "READY=1", 1, 5000), 0);
	assert_int_equal(tu_count(t->log, "recordings ready"), 1);
	assert_int_equal(notify_wait(&n, "STATUS=ready; language en", 1, 2000),
			 0);
	/* The watchdog is fed twice per period, by the loop. */
	before = notify_count(&n, "WATCHDOG=1");
	tu_sleep_ms(600);
	assert_true(notify_count(&n, "WATCHDOG=1") >= before + 4);
	/* What plays is in the status line. */
	assert_int_equal(tu_request(t, "play rights", reply, sizeof(reply)), 0);
	assert_int_equal(notify_wait(&n, "STATUS=playing rights/en", 1, 2000),
			 0);
	assert_int_equal(tu_wait_idle(t, 1, 8000), 0);
	assert_int_equal(notify_wait(&n, "STATUS=ready", 2, 2000), 0);
	/* Reload: RELOADING, then READY again. */
	assert_int_equal(tu_request(t, "reload", reply, sizeof(reply)), 0);
	assert_int_equal(notify_wait(&n, "RELOADING=1", 1, 2000), 0);
	assert_int_equal(notify_wait(&n, "READY=1", 2, 2000), 0);
	assert_int_equal(tu_stop(t), 0);
	assert_int_equal(notify_wait(&n, "STOPPING=1", 1, 2000), 0);
	close(n.fd);
	tu_free(t);
}

static void test_no_notify_socket_no_wakeups(void **state)
{
	struct tu *t = tu_new(NULL);
	char reply[512];
	long before;

	(void)state;
	notify_env_clear();
	setenv("WATCHDOG_USEC", "100000", 1); /* without a socket: ignored */
	assert_int_equal(tu_start(t), 0);
	unsetenv("WATCHDOG_USEC");
	assert_int_equal(tu_request(t, "ping", reply, sizeof(reply)), 0);
	/* Outside systemd there is no watchdog timer: asleep when idle. */
	tu_sleep_ms(200);
	before = tu_ctx_switches(t->pid);
	tu_sleep_ms(1000);
	assert_int_equal(tu_ctx_switches(t->pid) - before, 0);
	assert_int_equal(tu_stop(t), 0);
	tu_free(t);
}

/* Names of what changed in dir since the last call, one per line. */
static void changes(int fd, char *out, size_t len)
{
	char buf[4096]
	    __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t r;

	while ((r = read(fd, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + r;) {
			struct inotify_event *ev = (struct inotify_event *)p;
			size_t used = strlen(out);

			snprintf(out + used, len - used, "%s\n",
				 ev->len ? ev->name : "(dir)");
			p += sizeof(*ev) + ev->len;
		}
	}
}

static void test_nothing_written_while_playing(void **state)
{
	struct tu *t = tu_new(NULL);
	char cache[256], reply[512], during[4096] = "", after[4096] = "";
	int fd;

	(void)state;
	assert_int_equal(tu_start(t), 0);
	snprintf(cache, sizeof(cache), "%s/cache", t->dir);
	fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	assert_true(fd >= 0);
	assert_true(inotify_add_watch(fd, cache,
				      IN_CREATE | IN_MODIFY | IN_MOVED_TO |
					  IN_DELETE | IN_CLOSE_WRITE) >= 0);
	assert_true(
	    inotify_add_watch(fd, t->dir,
			      IN_CREATE | IN_MOVED_TO | IN_CLOSE_WRITE) >= 0);
	/* A sound, and mid-sound a volume and a language change. */
	assert_int_equal(tu_request(t, "play rights", reply, sizeof(reply)), 0);
	tu_sleep_ms(200);
	assert_int_equal(tu_request(t, "volume 70", reply, sizeof(reply)), 0);
	tu_sleep_ms(300);
	changes(fd, during, sizeof(during));
	/* The state file (and its temp) is not touched while it plays;
	 * neither is the cache. */
	print_message("while playing: %s", during);
	assert_null(strstr(during, "state"));
	for (char *l = during; *l; l = strchr(l, '\n') + 1)
		assert_true(strncmp(l, "out.raw", 7) == 0 ||
			    strncmp(l, "events", 6) == 0 ||
			    strncmp(l, "log", 3) == 0 ||
			    strncmp(l, "cli.out", 7) == 0);
	assert_int_equal(tu_wait_idle(t, 1, 8000), 0);
	tu_sleep_ms(100);
	changes(fd, after, sizeof(after));
	/* Then it is written, through a temp file renamed over it. */
	assert_non_null(strstr(after, "state.tmp."));
	assert_non_null(strstr(after, "state\n"));
	{
		char path[256], *s;

		snprintf(path, sizeof(path), "%s/state", t->dir);
		s = tu_slurp(path);
		assert_non_null(strstr(s, "volume=70"));
		free(s);
	}
	close(fd);
	assert_int_equal(tu_stop(t), 0);
	tu_free(t);
}

static void test_reload_with_new_recordings_keeps_playing(void **state)
{
	/* 100 ms of buffer: room for a loaded machine's scheduling, far
	 * less than the seconds the new recordings take to process. */
	struct tu_opts o = {.buffer_ms = 100};
	struct tu *t = tu_new(&o);
	size_t cap_n, ref_n = 0;
	char reply[512];
	float *cap, *ref;

	(void)state;
	assert_int_equal(tu_start(t), 0);
	assert_int_equal(tu_request(t, "play door", reply, sizeof(reply)), 0);
	/* Volunteers drop in six new recordings; a reload mid-message. */
	for (int i = 0; i < 6; i++) {
		char path[512];
		size_t n;
		float *x = tu_speechlike(5.0, 44100, 0.3, i + 3, &n);

		snprintf(path, sizeof(path), "%s/es/new%d.wav", t->lib, i);
		tu_write_audio(path, x, n, 44100, 1,
			       SF_FORMAT_WAV | SF_FORMAT_PCM_16);
		free(x);
	}
	tu_sleep_ms(100);
	assert_int_equal(tu_request(t, "reload", reply, sizeof(reply)), 0);
	assert_string_equal(reply, "ok reloaded");
	assert_int_equal(tu_count(t->log, "6 processed"), 1);
	assert_int_equal(tu_wait_idle(t, 1, 10000), 0);
	/* The message played on, whole and unbroken, through the scan. */
	assert_int_equal(tu_count(t->log, "ran dry"), 0);
	cap = tu_capture(t, &cap_n);
	ref = tu_render(t, "door", "en", &ref_n);
	assert_non_null(ref);
	assert_true(tu_find_clip(cap, cap_n, 0, ref, ref_n, 1.5f / 32767) == 0);
	free(cap);
	free(ref);
	assert_int_equal(tu_request(t, "play new5 es", reply, sizeof(reply)),
			 0);
	assert_string_equal(reply, "ok playing new5 es");
	assert_int_equal(tu_stop(t), 0);
	tu_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_teardown(test_notify_protocol, tu_teardown),
	    cmocka_unit_test_teardown(test_no_notify_socket_no_wakeups,
				      tu_teardown),
	    cmocka_unit_test_teardown(test_nothing_written_while_playing,
				      tu_teardown),
	    cmocka_unit_test_teardown(
		test_reload_with_new_recordings_keeps_playing, tu_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
