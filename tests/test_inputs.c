/* Integration tests for the daemon's inputs, down to the captured ALSA
 * output: a [remote] fed a recorded evdev event stream through a FIFO
 * (the real evdev record format, read by the same code path after the
 * device is opened), with the real bullhornd and the real-time test PCM.
 * Press, hold, bounces, a remote unplugged and back, a GPIO button whose
 * line does not exist (this machine has no GPIO chip: the daemon names
 * it, the LED state says fault, the remote still works), and
 * bullhorn test-buttons. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <linux/input.h>
#include <sys/stat.h>

#include "testutil.h"

#define LSB (1.5f / 32767.0f)

struct rig {
	struct tu *t;
	char fifo[256];
	char extra[1024];
	int wfd;
};

/* A daemon whose config has a remote on a FIFO, plus more sections;
 * absent: the FIFO (the remote) is not there yet. */
static void rig_start_with(struct rig *r, const char *more, bool absent)
{
	struct tu_opts o = {.extra = r->extra};

	/* The FIFO's folder must exist before the config names it. */
	assert_int_equal(
	    tu_fifo_new(r->fifo, sizeof(r->fifo), "pocket.events", absent), 0);
	snprintf(r->extra, sizeof(r->extra),
		 "[remote pocket]\ndevice = %s\nKEY_PAGEDOWN = play rights\n"
		 "hold KEY_PAGEDOWN = play door\nKEY_ESC = stop\n"
		 "hold_ms = 400\ndebounce_ms = 30\n\n%s",
		 r->fifo, more ? more : "");
	r->t = tu_new(&o);
	assert_int_equal(tu_start(r->t), 0);
	r->wfd = -1;
	if (absent)
		return;
	assert_int_equal(tu_wait_log(r->t, "remote pocket: event FIFO", 5000),
			 0);
	r->wfd = open(r->fifo, O_WRONLY | O_CLOEXEC);
	assert_true(r->wfd >= 0);
}

static void rig_start(struct rig *r, const char *more)
{
	rig_start_with(r, more, false);
}

static void rig_free(struct rig *r)
{
	tu_fifo_remove(r->fifo, r->wfd);
	assert_int_equal(tu_stop(r->t), 0);
	tu_free(r->t);
}

/* One key event and its SYN_REPORT, as the kernel writes them. */
static void key(struct rig *r, unsigned code, int value)
{
	struct input_event ev[2] = {
	    {.type = EV_KEY, .code = (uint16_t)code, .value = value},
	    {.type = EV_SYN, .code = SYN_REPORT, .value = 0},
	};

	assert_int_equal(write(r->wfd, ev, sizeof(ev)), (ssize_t)sizeof(ev));
}

static void test_press_plays_the_message(void **state)
{
	struct rig r = {0};
	size_t cap_n, ref_n = 0;
	float *cap, *ref;

	(void)state;
	rig_start(&r, NULL);
	key(&r, KEY_PAGEDOWN, 1);
	tu_sleep_ms(80);
	key(&r, KEY_PAGEDOWN, 0);
	assert_int_equal(tu_wait_idle(r.t, 1, 8000), 0);
	assert_int_equal(tu_count(r.t->log,
				  "remote pocket KEY_PAGEDOWN: press -> play "
				  "rights"),
			 1);
	assert_int_equal(tu_count(r.t->log, "after the edge"), 1);
	cap = tu_capture(r.t, &cap_n);
	ref = tu_render(r.t, "rights", "en", &ref_n);
	assert_non_null(ref);
	/* What came out is the message, whole, from the first frame. */
	assert_true(tu_find_clip(cap, cap_n, 0, ref, ref_n, LSB) == 0);
	free(cap);
	free(ref);
	rig_free(&r);
}

static void test_bounces_are_one_press_and_hold_takes_over(void **state)
{
	struct rig r = {0};
	size_t cap_n, door_n = 0;
	float *cap, *door;

	(void)state;
	rig_start(&r, NULL);
	/* A bouncing press (within debounce_ms 30), held past hold_ms. */
	key(&r, KEY_PAGEDOWN, 1);
	key(&r, KEY_PAGEDOWN, 0);
	key(&r, KEY_PAGEDOWN, 1);
	key(&r, KEY_PAGEDOWN, 2); /* autorepeat: ignored */
	tu_sleep_ms(700);
	key(&r, KEY_PAGEDOWN, 0);
	assert_int_equal(tu_wait_log(r.t, "playing door (en)", 5000), 0);
	assert_int_equal(tu_wait_idle(r.t, 1, 10000), 0);
	assert_int_equal(tu_count(r.t->log, "KEY_PAGEDOWN: press ->"), 1);
	assert_int_equal(tu_count(r.t->log, "KEY_PAGEDOWN: hold ->"), 1);
	assert_int_equal(tu_count(r.t->log, "playing rights (en)"), 1);
	/* The hold's message preempted the press's and played whole. */
	cap = tu_capture(r.t, &cap_n);
	door = tu_render(r.t, "door", "en", &door_n);
	assert_true(tu_find_clip(cap, cap_n, 0, door, door_n, LSB) > 0);
	free(cap);
	free(door);
	rig_free(&r);
}

static void wait_connected(struct rig *r, int n)
{
	const char *needle = "pocket.events) connected";

	for (int i = 0; i < 500 && tu_count(r->t->log, needle) < n; i++)
		tu_sleep_ms(10);
	assert_int_equal(tu_count(r->t->log, needle), n);
}

static void test_remote_switched_on_late_and_off_again(void **state)
{
	struct rig r = {0};
	char reply[512];

	(void)state;
	/* Not there at start: said once, and the daemon serves. */
	rig_start_with(&r, NULL, true);
	assert_int_equal(tu_count(r.t->log,
				  "remote pocket is not connected; it is used "
				  "as soon as it appears"),
			 1);
	assert_int_equal(tu_request(r.t, "ping", reply, sizeof(reply)), 0);
	/* Switched on: its folder changes, and it is opened. */
	assert_int_equal(mkfifo(r.fifo, 0600), 0);
	wait_connected(&r, 1);
	r.wfd = open(r.fifo, O_WRONLY | O_CLOEXEC);
	assert_true(r.wfd >= 0);
	key(&r, KEY_PAGEDOWN, 1);
	key(&r, KEY_PAGEDOWN, 0);
	assert_int_equal(tu_wait_log(r.t, "playing rights (en)", 5000), 0);
	assert_int_equal(tu_wait_idle(r.t, 1, 8000), 0);
	/* Switched off (the writer goes) and on again. */
	close(r.wfd);
	r.wfd = -1;
	assert_int_equal(tu_wait_log(r.t, "remote pocket went away", 5000), 0);
	wait_connected(&r, 2);
	r.wfd = open(r.fifo, O_WRONLY | O_CLOEXEC);
	assert_true(r.wfd >= 0);
	key(&r, KEY_ESC, 1);
	key(&r, KEY_ESC, 0);
	key(&r, KEY_PAGEDOWN, 1);
	key(&r, KEY_PAGEDOWN, 0);
	assert_int_equal(tu_wait_idle(r.t, 2, 8000), 0);
	assert_int_equal(tu_count(r.t->log, "playing rights (en)"), 2);
	assert_int_equal(tu_count(r.t->log, "KEY_ESC: press -> stop"), 1);
	rig_free(&r);
}

static void test_missing_line_is_named_others_work(void **state)
{
	struct rig r = {0};
	char reply[512];

	(void)state;
	rig_start(&r, "[button rights]\nline = GPIO17\npress = play rights\n"
		      "[led]\nline = GPIO24\n");
	/* Named with its section and line; the LED state is fault. */
	assert_true(tu_count(r.t->log, "[button rights]: ") == 1);
	assert_true(tu_count(r.t->log, "'GPIO17'") >= 1);
	assert_true(tu_count(r.t->log, "[led]: ") == 1);
	assert_int_equal(tu_request(r.t, "status", reply, sizeof(reply)), 0);
	assert_non_null(strstr(reply, "led=fault"));
	assert_non_null(strstr(reply, "faults=2"));
	/* The remote still plays, and the LED state follows. */
	key(&r, KEY_PAGEDOWN, 1);
	key(&r, KEY_PAGEDOWN, 0);
	assert_int_equal(tu_wait_log(r.t, "playing rights (en)", 5000), 0);
	assert_int_equal(tu_request(r.t, "status", reply, sizeof(reply)), 0);
	assert_non_null(strstr(reply, "led=playing"));
	assert_int_equal(tu_wait_idle(r.t, 1, 8000), 0);
	/* Reload re-requests the lines: fixed config, no fault left. */
	{
		char *cfg = tu_slurp(r.t->cfg), *cut = strstr(cfg, "[button");

		assert_non_null(cut);
		*cut = '\0';
		tu_write(r.t->cfg, cfg);
		free(cfg);
	}
	assert_int_equal(tu_request(r.t, "reload", reply, sizeof(reply)), 0);
	assert_string_equal(reply, "ok reloaded");
	assert_int_equal(tu_request(r.t, "status", reply, sizeof(reply)), 0);
	assert_non_null(strstr(reply, "led=ready"));
	assert_non_null(strstr(reply, "faults=0"));
	rig_free(&r);
}

/* Some line of text holds a, then b, then c. */
static bool has_line(const char *text, const char *a, const char *b,
		     const char *c)
{
	for (const char *l = text; l && *l; l = strchr(l, '\n'), l += !!l) {
		size_t len = strcspn(l, "\n");
		char line[512];
		const char *p;

		snprintf(line, sizeof(line), "%.*s", (int)len, l);
		if ((p = strstr(line, a)) && (p = strstr(p, b)) && strstr(p, c))
			return true;
	}
	return false;
}

static void test_test_buttons_shows_presses(void **state)
{
	struct rig r = {0};
	char cmd[1024], file[256], *out;
	int status, wfd;
	pid_t pid;

	(void)state;
	rig_start(&r, NULL);
	/* While the daemon runs: refused, with what to do. */
	assert_int_equal(tu_cli(r.t, "test-buttons --seconds 1", &out), 1);
	assert_non_null(strstr(out, "bullhornd is running"));
	assert_non_null(strstr(out, "systemctl stop bullhorn"));
	free(out);
	close(r.wfd);
	r.wfd = -1;
	assert_int_equal(tu_stop(r.t), 0);
	r.t->pid = 0;

	snprintf(file, sizeof(file), "%s/tb.out", r.t->dir);
	snprintf(cmd, sizeof(cmd),
		 "%s/bullhorn --config %s test-buttons --seconds 2 >%s 2>&1",
		 tu_build(), r.t->cfg, file);
	pid = fork();
	if (pid == 0) {
		execl("/bin/sh", "sh", "-c", cmd, NULL);
		_exit(127);
	}
	for (int i = 0; i < 300 && tu_count(file, "ready: press") == 0; i++)
		tu_sleep_ms(10);
	wfd = open(r.fifo, O_WRONLY | O_CLOEXEC);
	assert_true(wfd >= 0);
	r.wfd = wfd;
	key(&r, KEY_PAGEDOWN, 1);
	tu_sleep_ms(500);
	key(&r, KEY_PAGEDOWN, 0);
	key(&r, KEY_ESC, 1);
	key(&r, KEY_ESC, 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	out = tu_slurp(file);
	print_message("%s", out);
	assert_true(has_line(out, "KEY_PAGEDOWN", " press ", "-> play rights"));
	assert_true(has_line(out, "KEY_PAGEDOWN", " hold ", "-> play door"));
	assert_true(has_line(out, "KEY_PAGEDOWN", " release ", "(no action)"));
	assert_true(has_line(out, "KEY_ESC", " press ", "-> stop"));
	assert_true(has_line(out, "KEY_ESC", " release ", "(no action)"));
	assert_false(has_line(out, "KEY_ESC", " hold ", ""));
	free(out);
	/* Nothing was played: no daemon, and no sound device opened. */
	assert_int_equal(tu_count(r.t->out, "x"), 0);
	r.t->pid = -1;
	close(r.wfd);
	r.wfd = -1;
	unlink(r.fifo);
	{
		char *dir = path_dirname(r.fifo);

		rmdir(dir);
		free(dir);
	}
	tu_free(r.t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_teardown(test_press_plays_the_message,
				      tu_teardown),
	    cmocka_unit_test_teardown(
		test_bounces_are_one_press_and_hold_takes_over, tu_teardown),
	    cmocka_unit_test_teardown(
		test_remote_switched_on_late_and_off_again, tu_teardown),
	    cmocka_unit_test_teardown(test_missing_line_is_named_others_work,
				      tu_teardown),
	    cmocka_unit_test_teardown(test_test_buttons_shows_presses,
				      tu_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
