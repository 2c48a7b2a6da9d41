/* Unit tests for the evdev input module. This machine (and CI) has no
 * /dev/input and no uinput, so what is driven for real is everything
 * but a live libevdev device: the FIFO mode with recorded event streams
 * (presses, releases, autorepeat and other events dropped, records split
 * across writes, the writer going away and coming back, no POLLHUP busy
 * loop), the open errors (missing path, not a device, no such name,
 * permission), key names, and the inotify watch on temp folders. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/input.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "evdev.h"
#include "testutil.h"
#include "util.h"

struct fixture {
	char dir[64];
	char fifo[128];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	if (tu_mkdtemp(f->dir, sizeof(f->dir), "evdev") < 0) {
		free(f);
		return -1;
	}
	snprintf(f->fifo, sizeof(f->fifo), "%s/keys", f->dir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	tu_rmtree(f->dir);
	free(f);
	return 0;
}

/* One raw record as evtest would have recorded it; the timestamp is from
 * another clock and another day, so it must not come through. */
static struct input_event record(unsigned type, unsigned code, int value)
{
	struct input_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.input_event_sec = 1000000000;
	ev.input_event_usec = 123456;
	ev.type = (__u16)type;
	ev.code = (__u16)code;
	ev.value = value;
	return ev;
}

static void write_all(int fd, const void *data, size_t len)
{
	assert_int_equal(write(fd, data, len), (ssize_t)len);
}

static void write_key(int fd, unsigned code, int value)
{
	struct input_event ev[2] = {record(EV_KEY, code, value),
				    record(EV_SYN, SYN_REPORT, 0)};

	write_all(fd, ev, sizeof(ev));
}

/* revents after waiting up to ms; 0 on a timeout. */
static short poll_fd(int fd, int ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};

	assert_true(poll(&p, 1, ms) >= 0);
	return p.revents;
}

/* A FIFO at f->fifo, opened through evdev, and a writer on it. */
static struct evdev *open_fifo(struct fixture *f, int *writer)
{
	char err[256] = "";
	struct evdev *e;

	assert_int_equal(mkfifo(f->fifo, 0600), 0);
	e = evdev_new(f->fifo);
	assert_non_null(e);
	assert_int_equal(evdev_open(e, err, sizeof(err)), 0);
	*writer = open(f->fifo, O_WRONLY | O_CLOEXEC);
	assert_true(*writer >= 0);
	return e;
}

static void test_new_and_closed_state(void **state)
{
	struct evdev *e;
	struct evdev_key k;

	(void)state;
	assert_null(evdev_new(NULL));
	assert_null(evdev_new(""));
	evdev_free(NULL);
	e = evdev_new("/dev/input/by-id/usb-Presenter-event-kbd");
	assert_non_null(e);
	assert_false(evdev_is_open(e));
	assert_int_equal(evdev_fd(e), -1);
	/* Before it was ever open, logs name it by what was configured. */
	assert_string_equal(evdev_describe(e),
			    "/dev/input/by-id/usb-Presenter-event-kbd");
	assert_int_equal(evdev_read(e, &k, 1), -ENODEV);
	evdev_free(e);
}

static void test_fifo_stream(void **state)
{
	struct fixture *f = *state;
	struct input_event stream[] = {
	    record(EV_MSC, MSC_SCAN, 0x7004e),
	    record(EV_KEY, KEY_PAGEDOWN, 1),
	    record(EV_SYN, SYN_REPORT, 0),
	    record(EV_KEY, KEY_PAGEDOWN, 2), /* autorepeat */
	    record(EV_SYN, SYN_REPORT, 0),
	    record(EV_KEY, KEY_PAGEDOWN, 2),
	    record(EV_SYN, SYN_REPORT, 0),
	    record(EV_KEY, KEY_PAGEDOWN, 0),
	    record(EV_SYN, SYN_REPORT, 0),
	    record(EV_REL, REL_X, 5), /* a remote's mouse half */
	    record(EV_SYN, SYN_REPORT, 0),
	    record(EV_KEY, BTN_LEFT, 1),
	    record(EV_KEY, KEY_B, 7), /* not a key state */
	    record(EV_LED, LED_CAPSL, 1),
	    record(EV_SYN, SYN_REPORT, 0),
	    record(EV_KEY, BTN_LEFT, 0),
	    record(EV_SYN, SYN_REPORT, 0),
	};
	static const struct {
		unsigned code;
		bool pressed;
	} want[] = {
	    {KEY_PAGEDOWN, true},
	    {KEY_PAGEDOWN, false},
	    {BTN_LEFT, true},
	    {BTN_LEFT, false},
	};
	struct evdev_key keys[16];
	int w, n;
	int64_t before, after;
	struct evdev *e;

	e = open_fifo(f, &w);
	assert_true(evdev_is_open(e));
	assert_true(evdev_fd(e) >= 0);
	assert_int_equal(fcntl(evdev_fd(e), F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
	assert_true(strstr(evdev_describe(e), f->fifo) != NULL);

	/* Nothing written yet: nothing to read, and nothing to wake for. */
	assert_int_equal(poll_fd(evdev_fd(e), 50), 0);
	assert_int_equal(evdev_read(e, keys, ARRAY_SIZE(keys)), 0);

	before = now_ns();
	write_all(w, stream, sizeof(stream));
	assert_true(poll_fd(evdev_fd(e), 1000) & POLLIN);
	n = evdev_read(e, keys, ARRAY_SIZE(keys));
	after = now_ns();
	assert_int_equal(n, (int)ARRAY_SIZE(want));
	for (size_t i = 0; i < ARRAY_SIZE(want); i++) {
		assert_int_equal(keys[i].code, want[i].code);
		assert_int_equal(keys[i].pressed, want[i].pressed);
		/* Stamped on our clock when read, not the recorded time. */
		assert_true(keys[i].ts_ns >= before);
		assert_true(keys[i].ts_ns <= after);
	}
	assert_int_equal(evdev_read(e, keys, ARRAY_SIZE(keys)), 0);
	assert_int_equal(poll_fd(evdev_fd(e), 0), 0);

	close(w);
	evdev_free(e);
}

/* A bridge may write a record in pieces; nothing is lost or invented at
 * the seams. */
static void test_fifo_partial_records(void **state)
{
	struct fixture *f = *state;
	struct input_event two[2] = {record(EV_KEY, KEY_A, 1),
				     record(EV_KEY, KEY_B, 1)};
	const unsigned char *b = (const unsigned char *)two;
	struct evdev_key keys[4];
	struct evdev *e;
	int w;

	e = open_fifo(f, &w);
	write_all(w, b, 10);
	assert_int_equal(evdev_read(e, keys, ARRAY_SIZE(keys)), 0);
	write_all(w, b + 10, sizeof(two[0]) - 10);
	assert_int_equal(evdev_read(e, keys, ARRAY_SIZE(keys)), 1);
	assert_int_equal(keys[0].code, KEY_A);
	assert_true(keys[0].pressed);

	/* One and a half records, then the other half. */
	write_key(w, KEY_C, 0);
	write_all(w, b, sizeof(two[0]) + 5);
	assert_int_equal(evdev_read(e, keys, ARRAY_SIZE(keys)), 2);
	assert_int_equal(keys[0].code, KEY_C);
	assert_false(keys[0].pressed);
	assert_int_equal(keys[1].code, KEY_A);
	write_all(w, b + sizeof(two[0]) + 5, sizeof(two[1]) - 5);
	assert_int_equal(evdev_read(e, keys, ARRAY_SIZE(keys)), 1);
	assert_int_equal(keys[0].code, KEY_B);
	assert_true(keys[0].pressed);
	assert_int_equal(evdev_read(e, keys, ARRAY_SIZE(keys)), 0);

	close(w);
	evdev_free(e);
}

/* Reading stops at max and leaves the rest readable for the next poll. */
static void test_fifo_max(void **state)
{
	struct fixture *f = *state;
	struct evdev_key keys[2];
	struct evdev *e;
	int w;

	e = open_fifo(f, &w);
	for (unsigned code = KEY_1; code <= KEY_5; code++)
		write_key(w, code, 1);
	assert_int_equal(evdev_read(e, keys, 2), 2);
	assert_int_equal(keys[0].code, KEY_1);
	assert_int_equal(keys[1].code, KEY_2);
	assert_true(poll_fd(evdev_fd(e), 0) & POLLIN);
	assert_int_equal(evdev_read(e, keys, 2), 2);
	assert_int_equal(keys[0].code, KEY_3);
	assert_int_equal(keys[1].code, KEY_4);
	assert_true(poll_fd(evdev_fd(e), 0) & POLLIN);
	assert_int_equal(evdev_read(e, keys, 2), 1);
	assert_int_equal(keys[0].code, KEY_5);
	assert_int_equal(evdev_read(e, keys, 2), 0);
	assert_int_equal(poll_fd(evdev_fd(e), 0), 0);

	close(w);
	evdev_free(e);
}

/* The writer closing is a device going away: -ENODEV, closed; it reopens
 * at once and then waits for the next writer without a POLLHUP storm. */
static void test_fifo_writer_closes(void **state)
{
	struct fixture *f = *state;
	struct input_event half = record(EV_KEY, KEY_Z, 1);
	struct evdev_key keys[4];
	char err[256] = "";
	struct evdev *e;
	int w, wakeups = 0;

	e = open_fifo(f, &w);
	write_key(w, KEY_ENTER, 1);
	close(w);
	/* The last key before the close still comes out. */
	assert_true(poll_fd(evdev_fd(e), 1000) & (POLLIN | POLLHUP));
	assert_int_equal(evdev_read(e, keys, ARRAY_SIZE(keys)), 1);
	assert_int_equal(keys[0].code, KEY_ENTER);
	assert_true(poll_fd(evdev_fd(e), 0) & POLLHUP);
	assert_int_equal(evdev_read(e, keys, ARRAY_SIZE(keys)), -ENODEV);
	assert_false(evdev_is_open(e));
	assert_int_equal(evdev_fd(e), -1);
	assert_int_equal(evdev_read(e, keys, ARRAY_SIZE(keys)), -ENODEV);
	/* Logs can still say what went away. */
	assert_true(strstr(evdev_describe(e), f->fifo) != NULL);

	/* Reopened with no writer: the fd stays quiet (a busy loop would
	 * see POLLHUP on every poll). */
	assert_int_equal(evdev_open(e, err, sizeof(err)), 0);
	assert_true(evdev_is_open(e));
	for (int i = 0; i < 10; i++)
		if (poll_fd(evdev_fd(e), 20) != 0)
			wakeups++;
	assert_int_equal(wakeups, 0);
	assert_int_equal(evdev_read(e, keys, ARRAY_SIZE(keys)), 0);
	assert_true(evdev_is_open(e));

	/* A writer that comes and goes without writing is an end too
	 * (its POLLHUP would otherwise wake the caller for ever). */
	w = open(f->fifo, O_WRONLY | O_CLOEXEC);
	assert_true(w >= 0);
	close(w);
	assert_true(poll_fd(evdev_fd(e), 1000) & POLLHUP);
	assert_int_equal(evdev_read(e, keys, ARRAY_SIZE(keys)), -ENODEV);
	assert_int_equal(evdev_open(e, err, sizeof(err)), 0);
	assert_int_equal(poll_fd(evdev_fd(e), 50), 0);

	/* A writer that dies half-way through a record: the fragment goes
	 * with it and does not corrupt the next writer's stream. */
	w = open(f->fifo, O_WRONLY | O_CLOEXEC);
	assert_true(w >= 0);
	write_all(w, &half, 10);
	close(w);
	assert_int_equal(evdev_read(e, keys, ARRAY_SIZE(keys)), -ENODEV);
	assert_int_equal(evdev_open(e, err, sizeof(err)), 0);
	w = open(f->fifo, O_WRONLY | O_CLOEXEC);
	assert_true(w >= 0);
	write_key(w, KEY_SPACE, 0);
	assert_true(poll_fd(evdev_fd(e), 1000) & POLLIN);
	assert_int_equal(evdev_read(e, keys, ARRAY_SIZE(keys)), 1);
	assert_int_equal(keys[0].code, KEY_SPACE);
	assert_false(keys[0].pressed);

	close(w);
	evdev_free(e);
}

/* Not there yet is -ENOENT (the caller waits quietly); once it appears
 * the same evdev opens. */
static void test_open_missing_path(void **state)
{
	struct fixture *f = *state;
	char err[256] = "";
	struct evdev *e = evdev_new(f->fifo);

	assert_non_null(e);
	assert_int_equal(evdev_open(e, err, sizeof(err)), -ENOENT);
	assert_false(evdev_is_open(e));
	assert_int_equal(evdev_fd(e), -1);
	assert_int_equal(mkfifo(f->fifo, 0600), 0);
	assert_int_equal(evdev_open(e, err, sizeof(err)), 0);
	assert_true(evdev_is_open(e));
	/* Open already: nothing changes. */
	{
		int fd = evdev_fd(e);

		assert_int_equal(evdev_open(e, err, sizeof(err)), 0);
		assert_int_equal(evdev_fd(e), fd);
	}
	evdev_free(e);
}

static void expect_not_a_device(const char *path)
{
	char err[512] = "";
	struct evdev *e = evdev_new(path);

	assert_non_null(e);
	assert_int_equal(evdev_open(e, err, sizeof(err)), -ENOTTY);
	if (!strstr(err, path))
		print_message("  message does not name %s: %s\n", path, err);
	assert_non_null(strstr(err, path));
	assert_false(evdev_is_open(e));
	evdev_free(e);
}

/* A regular file, a folder, and a character device that is not evdev
 * (that one goes through libevdev_set_fd, which refuses it). */
static void test_open_not_a_device(void **state)
{
	struct fixture *f = *state;
	char file[128];

	snprintf(file, sizeof(file), "%s/recording.txt", f->dir);
	tu_write(file, "KEY_PAGEDOWN\n");
	expect_not_a_device(file);
	expect_not_a_device(f->dir);
	expect_not_a_device("/dev/null");
}

static void test_open_name_absent(void **state)
{
	char err[256] = "";
	struct evdev *e = evdev_new("No Such Presenter Remote");

	(void)state;
	assert_non_null(e);
	assert_int_equal(evdev_open(e, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "No Such Presenter Remote"));
	assert_false(evdev_is_open(e));
	evdev_free(e);
}

/* Run as root here, so permission is checked from a child that drops to
 * nobody. */
static int open_as_nobody(const char *path)
{
	char err[256] = "";
	struct evdev *e;
	int r;

	if (geteuid() == 0 &&
	    (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(65534) < 0))
		return 10;
	e = evdev_new(path);
	if (!e)
		return 11;
	r = evdev_open(e, err, sizeof(err));
	evdev_free(e);
	if (r != -EACCES)
		return 12;
	if (!strstr(err, path) ||
	    !strstr(err, "add the user to the input group"))
		return 13;
	return 0;
}

static void test_open_permission_denied(void **state)
{
	struct fixture *f = *state;
	int status;
	pid_t pid;

	assert_int_equal(chmod(f->dir, 0755), 0);
	assert_int_equal(mkfifo(f->fifo, 0600), 0);
	if (geteuid() != 0) {
		assert_int_equal(chmod(f->fifo, 0), 0);
		assert_int_equal(open_as_nobody(f->fifo), 0);
		return;
	}
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(open_as_nobody(f->fifo));
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_key_codes(void **state)
{
	static const struct {
		const char *name;
		int code; /* -EINVAL: refused */
	} cases[] = {
	    {"KEY_PAGEDOWN", KEY_PAGEDOWN},
	    {"KEY_PAGEUP", KEY_PAGEUP},
	    {"BTN_LEFT", BTN_LEFT},
	    {"BTN_0", BTN_0},
	    {"KEY_ENTER", KEY_ENTER},
	    {"key_pagedown", KEY_PAGEDOWN},
	    {"Key_B", KEY_B},
	    {"28", 28},
	    {"0", 0},
	    {"767", KEY_MAX},
	    {"28 ", 28},
	    {"", -EINVAL},
	    {"768", -EINVAL},
	    {"-1", -EINVAL},
	    {"+28", -EINVAL},
	    {"28x", -EINVAL},
	    {"0x1c", -EINVAL},
	    {"99999999999999999999", -EINVAL},
	    {"KEY_NOSUCHKEY", -EINVAL},
	    {"PAGEDOWN", -EINVAL},
	    {"ABS_X", -EINVAL},
	    {"REL_X", -EINVAL},
	    {"EV_KEY", -EINVAL},
	    {" KEY_A", -EINVAL},
	    {"KEY_"
	     "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	     "AAAAAAAAAAAAAAAAAAAA",
	     -EINVAL},
	};
	int wrong = 0;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		int got = evdev_key_code(cases[i].name);

		if (got != cases[i].code) {
			print_message("  '%s': got %d, want %d\n",
				      cases[i].name, got, cases[i].code);
			wrong++;
		}
	}
	assert_int_equal(wrong, 0);
	assert_int_equal(evdev_key_code(NULL), -EINVAL);
}

static void test_key_names(void **state)
{
	int named = 0;

	(void)state;
	assert_string_equal(evdev_key_name(KEY_PAGEDOWN), "KEY_PAGEDOWN");
	assert_string_equal(evdev_key_name(KEY_ENTER), "KEY_ENTER");
	assert_string_equal(evdev_key_name(28), "KEY_ENTER");
	assert_string_equal(evdev_key_name(BTN_LEFT), "BTN_LEFT");
	assert_null(evdev_key_name(KEY_MAX + 1));
	assert_null(evdev_key_name(0xffffffffU));
	/* Every named code goes to its name and back. */
	for (unsigned code = 0; code <= KEY_MAX; code++) {
		const char *name = evdev_key_name(code);

		if (!name)
			continue;
		named++;
		if (evdev_key_code(name) != (int)code) {
			print_message("  %u -> %s -> %d\n", code, name,
				      evdev_key_code(name));
			fail();
		}
	}
	assert_true(named > 500);
}

/* Drains fd after waiting up to 1 s for it to become readable. */
static bool drained(int fd)
{
	poll_fd(fd, 1000);
	return evdev_watch_drain(fd);
}

static void mkpath(const char *dir, const char *name, char *out, size_t len)
{
	assert_int_equal(path_join(out, len, dir, name), 0);
}

static void test_watch_dir(void **state)
{
	struct fixture *f = *state;
	char path[256], moved[256], sub[256];
	int fd = evdev_watch_new(f->dir);

	assert_true(fd >= 0);
	assert_int_equal(fcntl(fd, F_GETFD), FD_CLOEXEC);
	assert_false(evdev_watch_drain(fd));
	assert_int_equal(poll_fd(fd, 0), 0);

	mkpath(f->dir, "event0", path, sizeof(path));
	tu_write(path, "");
	assert_true(drained(fd));
	assert_false(evdev_watch_drain(fd));
	/* udev fixes the owner and mode after the node appears. */
	assert_int_equal(chmod(path, 0660), 0);
	assert_true(drained(fd));
	mkpath(f->dir, ".tmp", moved, sizeof(moved));
	tu_write(moved, "");
	assert_true(drained(fd));
	mkpath(f->dir, "event1", path, sizeof(path));
	assert_int_equal(rename(moved, path), 0);
	assert_true(drained(fd));
	assert_int_equal(unlink(path), 0);
	assert_true(drained(fd));
	assert_false(evdev_watch_drain(fd));

	/* by-id appears later (with the first USB keypad): its links are
	 * watched from then on. */
	mkpath(f->dir, "by-id", sub, sizeof(sub));
	assert_int_equal(mkdir(sub, 0755), 0);
	assert_true(drained(fd));
	mkpath(sub, "usb-Remote-event-kbd", path, sizeof(path));
	assert_int_equal(symlink("../event0", path), 0);
	assert_true(drained(fd));
	assert_false(evdev_watch_drain(fd));
	close(fd);
}

/* by-id and by-path already there are watched from the start. */
static void test_watch_existing_subdirs(void **state)
{
	struct fixture *f = *state;
	char path[256], sub[256];
	int fd;

	mkpath(f->dir, "by-path", sub, sizeof(sub));
	assert_int_equal(mkdir(sub, 0755), 0);
	fd = evdev_watch_new(f->dir);
	assert_true(fd >= 0);
	assert_false(evdev_watch_drain(fd));
	mkpath(sub, "platform-gpio-keys-event", path, sizeof(path));
	assert_int_equal(symlink("../event0", path), 0);
	assert_true(drained(fd));
	close(fd);
}

/* /dev/input does not exist until the first input device does: the
 * parent is watched for it, and only for it. */
static void test_watch_dir_appears(void **state)
{
	struct fixture *f = *state;
	char input[128], path[256], other[256];
	int fd;

	mkpath(f->dir, "input", input, sizeof(input));
	fd = evdev_watch_new(input);
	assert_true(fd >= 0);
	assert_false(evdev_watch_drain(fd));

	/* Other nodes in the parent (/dev/ttyUSB0...) are not changes. */
	mkpath(f->dir, "ttyUSB0", other, sizeof(other));
	tu_write(other, "");
	poll_fd(fd, 50);
	assert_false(evdev_watch_drain(fd));

	assert_int_equal(mkdir(input, 0755), 0);
	assert_true(drained(fd));
	mkpath(input, "event0", path, sizeof(path));
	tu_write(path, "");
	assert_true(drained(fd));
	/* The parent is no longer watched once input is there. */
	assert_int_equal(unlink(other), 0);
	tu_write(other, "");
	poll_fd(fd, 50);
	assert_false(evdev_watch_drain(fd));

	/* The last device goes and devtmpfs removes the folder: back to
	 * watching the parent, and the folder coming back is seen. */
	assert_int_equal(unlink(path), 0);
	assert_int_equal(rmdir(input), 0);
	assert_true(drained(fd));
	poll_fd(fd, 50);
	evdev_watch_drain(fd); /* the removed watches' IN_IGNORED */
	assert_int_equal(mkdir(input, 0755), 0);
	assert_true(drained(fd));
	tu_write(path, "");
	assert_true(drained(fd));
	close(fd);
}

static void test_watch_errors(void **state)
{
	struct fixture *f = *state;
	char path[256];
	int fd;

	/* Neither the folder nor its parent: nothing to wait on. */
	snprintf(path, sizeof(path), "%s/no/input", f->dir);
	assert_int_equal(evdev_watch_new(path), -ENOENT);
	assert_int_equal(evdev_watch_new(""), -EINVAL);

	/* The default is /dev/input, or /dev while there is none (as on
	 * this test machine). */
	fd = evdev_watch_new(NULL);
	assert_true(fd >= 0);
	evdev_watch_drain(fd);
	close(fd);

	/* Watches are made and closed many times over in a daemon's life
	 * (more than its bookkeeping slots); each still works. */
	for (int i = 0; i < 20; i++) {
		fd = evdev_watch_new(f->dir);
		assert_true(fd >= 0);
		close(fd);
	}
	fd = evdev_watch_new(f->dir);
	assert_true(fd >= 0);
	mkpath(f->dir, "new", path, sizeof(path));
	assert_int_equal(mkdir(path, 0755), 0);
	assert_true(drained(fd));
	close(fd);
}

/* Several live at once (a reload holds the old set and the new): each
 * keeps its own folder, also for re-adding watches on its by-id. */
static void test_watch_many_live(void **state)
{
	struct fixture *f = *state;
	char dir[12][128], path[256];
	int fds[12];

	for (size_t i = 0; i < ARRAY_SIZE(fds); i++) {
		snprintf(dir[i], sizeof(dir[i]), "%s/input%zu", f->dir, i);
		fds[i] = evdev_watch_new(dir[i]);
		assert_true(fds[i] >= 0);
	}
	for (size_t i = 0; i < ARRAY_SIZE(fds); i++) {
		assert_int_equal(mkdir(dir[i], 0755), 0);
		mkpath(dir[i], "by-id", path, sizeof(path));
		assert_int_equal(mkdir(path, 0755), 0);
	}
	for (size_t i = 0; i < ARRAY_SIZE(fds); i++)
		assert_true(drained(fds[i]));
	for (size_t i = 0; i < ARRAY_SIZE(fds); i++) {
		mkpath(dir[i], "by-id/usb-Keypad-event-kbd", path,
		       sizeof(path));
		tu_write(path, "");
		assert_true(drained(fds[i]));
		/* Only its own folder: nothing for the others. */
		for (size_t j = 0; j < ARRAY_SIZE(fds); j++)
			if (j != i)
				assert_false(evdev_watch_drain(fds[j]));
	}
	for (size_t i = 0; i < ARRAY_SIZE(fds); i++)
		close(fds[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_new_and_closed_state),
	    cmocka_unit_test_setup_teardown(test_fifo_stream, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_fifo_partial_records, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_fifo_max, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_fifo_writer_closes, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_open_missing_path, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_open_not_a_device, setup,
					    teardown),
	    cmocka_unit_test(test_open_name_absent),
	    cmocka_unit_test_setup_teardown(test_open_permission_denied, setup,
					    teardown),
	    cmocka_unit_test(test_key_codes),
	    cmocka_unit_test(test_key_names),
	    cmocka_unit_test_setup_teardown(test_watch_dir, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_watch_existing_subdirs, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_watch_dir_appears, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_watch_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_watch_many_live, setup,
					    teardown),
	};

	return cmocka_run_group_tests_name("evdev", tests, NULL, NULL);
}
