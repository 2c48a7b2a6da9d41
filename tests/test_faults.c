/* Fault injection through the real libasound: the real bullhornd plays
 * into the real-time test speaker (tests/alsa/pcm_bhrt.c), which is told
 * through its control file to underrun, suspend, vanish, refuse to open,
 * take only part of each write, or stall, in the middle of a message.
 * For each fault the daemon must recover (or wait and resume) with the
 * rest of the message, log one clear line, keep answering its socket,
 * and use little CPU meanwhile: its CPU time (/proc/PID/stat) and
 * context switches are measured over the fault. The figures are printed
 * for docs/reliability.md. Margins are wide: the machine is shared. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "testutil.h"

#define LSB (1.01f / 32767.0f)
/* Far below a busy loop (100 %), far above what the daemon uses through
 * any of these faults (< 5 % measured). */
#define MAX_CPU_PCT 20.0
/* 200 ms (50 ms periods): a wake-up may come 100 ms late before the card
 * runs dry, so a loaded machine does not add underruns of its own. */
#define BUFFER_MS      200
#define BUFFER_FRAMES  (TU_RATE * BUFFER_MS / 1000)
#define FADE_IN_FRAMES (TU_RATE * 5 / 1000) /* PLAYER_RESUME_FADE_MS */

static void req_ok(struct tu *t, const char *line, const char *want)
{
	char reply[1024];

	assert_int_equal(tu_request(t, line, reply, sizeof(reply)), 0);
	if (strncmp(reply, want, strlen(want)) != 0)
		fail_msg("'%s' -> '%s', want '%s...'", line, reply, want);
}

/* A daemon on the real-time speaker with its control file; card is
 * false to start it with the card missing. */
static struct tu *started(bool card)
{
	struct tu_opts o = {.buffer_ms = BUFFER_MS};
	struct tu *t = tu_new(&o);
	int r;

	tu_fault_enable(t);
	if (!card)
		tu_write(t->nocard, "");
	r = tu_start(t);
	if (r != 0)
		fail_msg("bullhornd did not start (%d)", r);
	return t;
}

/* Plays door (3 s) and returns once it has sounded for ms. */
static void play_door_for(struct tu *t, int ms)
{
	req_ok(t, "play door", "ok playing door en");
	assert_true(tu_wait_event(t, "start", 0, 3000) >= 0);
	tu_sleep_ms(ms);
}

/* What the daemon cost over a stretch of time. */
struct window {
	const char *what;
	int64_t t0;
	long cpu0, ctx0;
	double ms, cpu_pct;
	long ctx;
};

static void window_begin(struct tu *t, struct window *w, const char *what)
{
	w->what = what;
	w->t0 = now_ns();
	w->cpu0 = tu_cpu_ms(t->pid);
	w->ctx0 = tu_ctx_switches(t->pid);
	assert_true(w->cpu0 >= 0);
}

/* Ends the window; fails if the daemon used MAX_CPU_PCT of it or more,
 * or switched context more than max_ctx_per_s times a second. */
static void window_end(struct tu *t, struct window *w, double max_ctx_per_s)
{
	long cpu = tu_cpu_ms(t->pid);

	w->ms = (double)(now_ns() - w->t0) / 1e6;
	w->ctx = tu_ctx_switches(t->pid) - w->ctx0;
	w->cpu_pct = 100.0 * (double)(cpu - w->cpu0) / w->ms;
	print_message("%s: %.0f ms, daemon CPU %ld ms (%.1f %%), %ld context "
		      "switches\n",
		      w->what, w->ms, cpu - w->cpu0, w->cpu_pct, w->ctx);
	if (w->cpu_pct >= MAX_CPU_PCT)
		fail_msg("%s: the daemon used %.1f %% CPU (busy loop?)",
			 w->what, w->cpu_pct);
	if ((double)w->ctx > max_ctx_per_s * w->ms / 1000.0)
		fail_msg("%s: %ld context switches in %.0f ms", w->what, w->ctx,
			 w->ms);
}

/* The log has exactly n lines holding needle. */
static void assert_log_count(struct tu *t, const char *needle, int n)
{
	int got = tu_count(t->log, needle);

	if (got != n)
		fail_msg("'%s' logged %d times, want %d", needle, got, n);
}

/* cap[off..off+n) is ref, to the 16-bit output's precision. */
static void assert_matches(const float *cap, size_t cap_n, size_t off,
			   const float *ref, size_t n)
{
	if (off + n > cap_n)
		fail_msg("capture has %zu frames, want at least %zu", cap_n,
			 off + n);
	for (size_t i = 0; i < n; i++)
		if (fabsf(cap[off + i] - ref[i]) > LSB)
			fail_msg("frame %zu: captured %f, rendered %f", off + i,
				 cap[off + i], ref[i]);
}

/* The capture holds ref whole from frame 0: nothing was lost. */
static void assert_whole(struct tu *t, const char *message)
{
	size_t cap_n, ref_n;
	float *cap = tu_capture(t, &cap_n);
	float *ref = tu_render(t, message, "en", &ref_n);

	assert_non_null(ref);
	assert_matches(cap, cap_n, 0, ref, ref_n);
	free(cap);
	free(ref);
}

/* The capture is message from frame skip of the capture on, continuing
 * the message from some point in it, up to its end (skip: the frames of
 * a fade-in). Returns where in the message the capture picks up. */
static size_t assert_rest_of(struct tu *t, const char *message, size_t cap_at,
			     size_t skip)
{
	size_t cap_n, ref_n, probe = TU_RATE / 2, from;
	float *cap = tu_capture(t, &cap_n);
	float *ref = tu_render(t, message, "en", &ref_n);
	long q;

	assert_non_null(ref);
	assert_true(ref_n > probe);
	/* The message's last half second, found whole after cap_at. */
	q = tu_find_clip(cap, cap_n, cap_at, ref + ref_n - probe, probe, LSB);
	if (q < 0)
		fail_msg("the end of %s is not in the capture", message);
	if ((size_t)q - cap_at > ref_n - probe)
		fail_msg("%s: %zu frames too many in the capture", message,
			 (size_t)q - cap_at - (ref_n - probe));
	from = ref_n - probe - ((size_t)q - cap_at);
	assert_matches(cap, cap_n, cap_at + skip, ref + from + skip,
		       ref_n - from - skip);
	free(cap);
	free(ref);
	return from;
}

/* The first frame at which the capture leaves the rendered message. */
static size_t first_difference(struct tu *t, const char *message)
{
	size_t cap_n, ref_n, i;
	float *cap = tu_capture(t, &cap_n);
	float *ref = tu_render(t, message, "en", &ref_n);

	assert_non_null(ref);
	for (i = 0; i < cap_n && i < ref_n; i++)
		if (fabsf(cap[i] - ref[i]) > LSB)
			break;
	free(cap);
	free(ref);
	return i;
}

/* The first event line "word <ns>..." with <ns> after after_ns and
 * holding tail when tail is not NULL, waiting up to timeout_ms for it;
 * its time, or -1. */
static long long event_after(struct tu *t, const char *word, long long after_ns,
			     const char *tail, int timeout_ms)
{
	for (int waited = 0; waited <= timeout_ms; waited += 5) {
		for (int i = 0;; i++) {
			long long ns = tu_event_ns(t, word, i);
			char *s, *line, want[64];

			if (ns < 0)
				break;
			if (ns <= after_ns)
				continue;
			if (!tail)
				return ns;
			snprintf(want, sizeof(want), "%s %lld %s", word, ns,
				 tail);
			s = tu_slurp(t->events);
			line = strstr(s, want);
			free(s);
			if (line)
				return ns;
		}
		tu_sleep_ms(5);
	}
	return -1;
}

/* Warnings and errors in the log, but for underruns, each of which must
 * have its one line: a loaded machine may starve the daemon on its own,
 * and the speaker logs each (forced or not) in its events. */
static int log_problems(struct tu *t)
{
	int xruns = tu_event_count(t, "xrun");
	int forced = tu_count(t->events, " forced ");

	assert_log_count(t, "ran dry (underrun); recovered", xruns);
	if (xruns > forced)
		print_message("(%d underruns of the machine's own)\n",
			      xruns - forced);
	return tu_count(t->log, ": warning: ") + tu_count(t->log, ": error: ") -
	       xruns;
}

static void test_underrun_recovers_at_once(void **state)
{
	struct tu *t = started(true);
	struct window w;
	long long xrun, restart;
	size_t cut, from;
	char *events, *forced;
	unsigned long lost = 0;

	(void)state;
	play_door_for(t, 800);
	window_begin(t, &w, "underrun");
	tu_fault(t, "xrun");
	xrun = event_after(t, "xrun", 0, "forced", 2000);
	assert_true(xrun > 0);
	restart = event_after(t, "start", xrun, NULL, 2000);
	assert_true(restart > xrun);
	req_ok(t, "status", "ok state=playing device=ready");
	tu_sleep_ms(1000);
	window_end(t, &w, 1000);
	assert_int_equal(tu_wait_idle(t, 1, 8000), 0);
	assert_int_equal(tu_count(t->events, " forced "), 1);
	assert_int_equal(log_problems(t), 0);
	/* What the card held when it stopped is lost (at most a buffer:
	 * the speaker says how much); the rest of the message follows,
	 * sample for sample. */
	events = tu_slurp(t->events);
	forced = strstr(events, " forced ");
	assert_non_null(forced);
	assert_int_equal(sscanf(forced, " forced %lu", &lost), 1);
	free(events);
	assert_true(lost <= BUFFER_FRAMES);
	cut = first_difference(t, "door");
	from = assert_rest_of(t, "door", cut, 0);
	/* Less when the cut fell in a pause, which matches either way. */
	assert_true(from >= cut && from - cut <= lost);
	print_message("underrun: playing again %.1f ms after it; %.1f ms of "
		      "sound lost (what the card held)\n",
		      (double)(restart - xrun) / 1e6,
		      (double)lost * 1000.0 / TU_RATE);
	assert_true(restart - xrun < 500 * 1000000LL);
	assert_int_equal(tu_stop(t), 0);
	tu_free(t);
}

static void test_suspend_waits_and_resumes(void **state)
{
	struct tu *t = started(true);
	struct window w;
	long long suspend, resume;

	(void)state;
	play_door_for(t, 800);
	window_begin(t, &w, "suspend (1 s)");
	tu_fault(t, "suspend 1000");
	suspend = tu_wait_event(t, "suspend", 0, 2000);
	assert_true(suspend > 0);
	tu_sleep_ms(300);
	req_ok(t, "status", "ok state=playing");
	resume = tu_wait_event(t, "resume", 0, 5000);
	assert_true(resume > 0);
	window_end(t, &w, 300);
	assert_int_equal(tu_wait_idle(t, 1, 8000), 0);
	assert_log_count(t, "sound device 'speaker' was suspended; resuming",
			 1);
	assert_int_equal(log_problems(t), 1);
	/* Resumed with its buffer: nothing is lost. */
	assert_whole(t, "door");
	print_message("suspend: resumed %.1f ms after the card allowed it\n",
		      (double)(resume - suspend - 1000000000LL) / 1e6);
	assert_true(resume - suspend < 1500 * 1000000LL);
	assert_int_equal(tu_stop(t), 0);
	tu_free(t);
}

/* Backoff: each retry waits about twice as long as the one before. */
static void assert_backoff(struct tu *t, int first, int n)
{
	for (int i = first + 2; i < n; i++) {
		long long a = tu_event_ns(t, "openfail", i - 2);
		long long b = tu_event_ns(t, "openfail", i - 1);
		long long c = tu_event_ns(t, "openfail", i);

		if (c - b < (b - a) * 3 / 2)
			fail_msg("retry %d came %.0f ms after the one before, "
				 "which came %.0f ms after its own",
				 i, (double)(c - b) / 1e6,
				 (double)(b - a) / 1e6);
	}
}

static void test_unplugged_then_absent_then_back(void **state)
{
	struct tu *t = started(true);
	struct window w;
	long long unplugged, reopen, start = 0;
	int64_t back;
	int tries;
	size_t from;
	double heard_s;

	(void)state;
	play_door_for(t, 800);
	tu_write(t->nocard, ""); /* reopening fails until it is removed */
	window_begin(t, &w, "unplugged, card absent (3 s)");
	tu_fault(t, "unplug");
	unplugged = tu_wait_event(t, "unplug", 0, 2000);
	assert_true(unplugged > 0);
	assert_int_equal(
	    tu_wait_log(t, "sound device 'speaker' went away", 3000), 0);
	req_ok(t, "status", "ok state=playing device=missing");
	tu_sleep_ms(3000);
	req_ok(t, "ping", "ok pong");
	window_end(t, &w, 50);
	tries = tu_event_count(t, "openfail");
	/* 0.25 s, 0.5 s, 1 s, 2 s: three or four in 3 s. */
	if (tries < 2 || tries > 5)
		fail_msg("%d reopen attempts in 3 s", tries);
	assert_backoff(t, 0, tries);
	back = now_ns();
	unlink(t->nocard);
	assert_true(tu_wait_event(t, "open", 1, 9000) > 0);
	reopen = tu_event_ns(t, "open", 1);
	assert_int_equal(tu_wait_idle(t, 1, 8000), 0);
	assert_log_count(t, "sound device 'speaker' went away", 1);
	assert_log_count(t, "cannot be opened", 0);
	assert_log_count(t, "sound device 'speaker' ready", 2);
	assert_int_equal(log_problems(t), 1);
	/* The reopened card's capture starts afresh: the rest of door,
	 * ramped in over 5 ms from about where it was cut. */
	from = assert_rest_of(t, "door", 0, FADE_IN_FRAMES);
	for (int i = 0; tu_event_ns(t, "start", i) >= 0 &&
			tu_event_ns(t, "start", i) < unplugged;
	     i++)
		start = tu_event_ns(t, "start", i);
	/* How far door had sounded on the old card (its clock started at
	 * start, with no underrun since, or the check above would fail). */
	heard_s = (double)(unplugged - start) / 1e9;
	assert_true((double)from / TU_RATE >= heard_s - 0.01);
	print_message("unplug: %d reopen attempts while absent; reopened "
		      "%.0f ms after the card came back; door picked up at "
		      "%.2f s, heard up to %.2f s (%.0f ms lost)\n",
		      tries, (double)(reopen - back) / 1e6,
		      (double)from / TU_RATE, heard_s,
		      ((double)from / TU_RATE - heard_s) * 1000.0);
	assert_true(reopen - back < 8500 * 1000000LL);
	assert_int_equal(tu_stop(t), 0);
	tu_free(t);
}

static void test_open_failure_retries_with_backoff(void **state)
{
	struct tu *t = started(false);
	struct window w;
	long long opened;
	int64_t back;
	int tries;
	size_t cap_n, ref_n;
	float *cap, *ref;

	(void)state;
	assert_log_count(t, "sound device 'speaker' cannot be opened", 1);
	req_ok(t, "play rights", "ok playing rights en (no sound device yet");
	window_begin(t, &w, "open failing (2.5 s)");
	tu_sleep_ms(1200);
	req_ok(t, "status", "ok state=playing device=missing");
	tu_sleep_ms(1300);
	window_end(t, &w, 50);
	tries = tu_event_count(t, "openfail");
	/* At start, then 0.25 s, 0.75 s, 1.75 s (and 3.75 s) after. */
	if (tries < 3 || tries > 6)
		fail_msg("%d open attempts", tries);
	assert_backoff(t, 1, tries);
	back = now_ns();
	unlink(t->nocard);
	opened = tu_wait_event(t, "open", 0, 9000);
	assert_true(opened > 0);
	assert_int_equal(tu_wait_idle(t, 1, 8000), 0);
	assert_log_count(t, "cannot be opened", 1);
	assert_log_count(t, "sound device 'speaker' ready", 1);
	assert_int_equal(log_problems(t), 1);
	/* The press made meanwhile plays whole (ramped in over 5 ms). */
	cap = tu_capture(t, &cap_n);
	ref = tu_render(t, "rights", "en", &ref_n);
	assert_non_null(ref);
	assert_matches(cap, cap_n, FADE_IN_FRAMES, ref + FADE_IN_FRAMES,
		       ref_n - FADE_IN_FRAMES);
	free(cap);
	free(ref);
	print_message("open failure: %d attempts; opened %.0f ms after the "
		      "card came back\n",
		      tries, (double)(opened - back) / 1e6);
	assert_true(opened - back < 8500 * 1000000LL);
	assert_int_equal(tu_stop(t), 0);
	tu_free(t);
}

static void test_short_writes_lose_nothing(void **state)
{
	struct tu *t = started(true);
	struct window w;
	long long first, last;

	(void)state;
	play_door_for(t, 500);
	window_begin(t, &w, "500 short writes");
	tu_fault(t, "short 500");
	last = tu_wait_event(t, "short_end", 0, 5000);
	first = tu_event_ns(t, "short", 0);
	assert_true(first > 0 && last > first);
	print_message("short writes: 500 in %.0f ms\n",
		      (double)(last - first) / 1e6);
	req_ok(t, "status", "ok state=playing device=ready");
	window_end(t, &w, 1000);
	assert_int_equal(tu_wait_idle(t, 1, 8000), 0);
	/* A short write is no fault: nothing to log, nothing lost. */
	assert_int_equal(log_problems(t), 0);
	assert_whole(t, "door");
	assert_int_equal(tu_stop(t), 0);
	tu_free(t);
}

static void test_stall_waits_and_resumes(void **state)
{
	struct tu *t = started(true);
	struct window w;
	long long stall, end;
	char *out = NULL;
	int64_t t0;

	(void)state;
	play_door_for(t, 800);
	window_begin(t, &w, "stall (3 s)");
	tu_fault(t, "stall 3000");
	stall = tu_wait_event(t, "stall", 0, 2000);
	assert_true(stall > 0);
	tu_sleep_ms(500);
	/* The socket answers at once while the card takes nothing. */
	t0 = now_ns();
	assert_int_equal(tu_cli(t, "status", &out), 0);
	if (!strstr(out, "state=playing"))
		fail_msg("bullhorn status during a stall: %s", out);
	print_message("stall: bullhorn status answered in %.0f ms\n",
		      (double)(now_ns() - t0) / 1e6);
	free(out);
	/* Told once, within two stall checks (PLAYER_STALL_MS apart). */
	assert_int_equal(tu_wait_log(t, "sound device 'speaker' stalled", 2500),
			 0);
	print_message("stall: logged %.0f ms after it began\n",
		      (double)(now_ns() - stall) / 1e6);
	end = tu_wait_event(t, "stall_end", 0, 5000);
	assert_true(end > 0);
	window_end(t, &w, 30);
	assert_int_equal(tu_wait_idle(t, 1, 8000), 0);
	assert_log_count(t, "sound device 'speaker' stalled", 1);
	assert_log_count(t, "sound device 'speaker' takes audio again", 1);
	assert_int_equal(log_problems(t), 1);
	/* The card picks up where it stopped: nothing lost. */
	assert_whole(t, "door");
	print_message("stall: %.0f ms\n", (double)(end - stall) / 1e6);
	assert_int_equal(tu_stop(t), 0);
	tu_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_teardown(test_underrun_recovers_at_once,
				      tu_teardown),
	    cmocka_unit_test_teardown(test_suspend_waits_and_resumes,
				      tu_teardown),
	    cmocka_unit_test_teardown(test_unplugged_then_absent_then_back,
				      tu_teardown),
	    cmocka_unit_test_teardown(test_open_failure_retries_with_backoff,
				      tu_teardown),
	    cmocka_unit_test_teardown(test_short_writes_lose_nothing,
				      tu_teardown),
	    cmocka_unit_test_teardown(test_stall_waits_and_resumes,
				      tu_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
