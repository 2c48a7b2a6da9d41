/* Integration: the real bullhornd, driven over its control socket,
 * playing through the real libasound into the tests' own ALSA devices
 * (tests/alsa: a real-time "speaker" that records what it played, and
 * the file plugin over null), checked on what came out. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "process.h"
#include "testutil.h"

#define LSB (1.01f / 32767.0f)

static void req_ok(struct tu *t, const char *line, const char *want)
{
	char reply[1024];

	assert_int_equal(tu_request(t, line, reply, sizeof(reply)), 0);
	if (strncmp(reply, want, strlen(want)) != 0)
		fail_msg("'%s' -> '%s', want '%s...'", line, reply, want);
}

static struct tu *started(const struct tu_opts *o)
{
	struct tu *t = tu_new(o);
	int r = tu_start(t);

	if (r != 0) {
		fail_msg("bullhornd did not start (%d); its log follows", r);
	}
	return t;
}

/* cap[off..off+n) is ref*gain, to the 16-bit output's precision. */
static void assert_matches(const float *cap, size_t cap_n, size_t off,
			   const float *ref, size_t n, float gain)
{
	if (off + n > cap_n)
		fail_msg("capture has %zu frames, want at least %zu", cap_n,
			 off + n);
	for (size_t i = 0; i < n; i++)
		if (fabsf(cap[off + i] - ref[i] * gain) > LSB)
			fail_msg("frame %zu: captured %f, rendered %f", off + i,
				 cap[off + i], ref[i] * gain);
}

/* Where ref stands whole in cap from frame from, to the 16-bit output's
 * precision; -1 if nowhere. */
static long find_clip(const float *cap, size_t cap_n, size_t from,
		      const float *ref, size_t ref_n)
{
	return tu_find_clip(cap, cap_n, from, ref, ref_n, LSB);
}

static void assert_silent(const float *cap, size_t from, size_t to)
{
	for (size_t i = from; i < to; i++)
		if (cap[i] != 0.0f)
			fail_msg("frame %zu should be silent: %f", i, cap[i]);
}

static void test_plays_the_rendered_message(void **state)
{
	struct tu *t = started(NULL);
	size_t cap_n, en_n, es_n;
	float *en, *es, *cap;
	long off;

	(void)state;
	req_ok(t, "play rights", "ok playing rights en");
	assert_int_equal(tu_wait_idle(t, 1, 5000), 0);
	req_ok(t, "play rights es", "ok playing rights es");
	assert_int_equal(tu_wait_idle(t, 2, 5000), 0);
	en = tu_render(t, "rights", "en", &en_n);
	es = tu_render(t, "rights", "es", &es_n);
	assert_non_null(en);
	assert_non_null(es);
	cap = tu_capture(t, &cap_n);
	/* Each stream starts with the clip's first frame; the padding after
	 * it is silence (at most two periods), then the next stream. */
	assert_matches(cap, cap_n, 0, en, en_n, 1.0f);
	off = find_clip(cap, cap_n, en_n, es, es_n);
	assert_true(off >= (long)en_n && off <= (long)en_n + 960);
	assert_silent(cap, en_n, (size_t)off);
	assert_silent(cap, (size_t)off + es_n, cap_n);
	free(en);
	free(es);
	free(cap);
	assert_int_equal(tu_stop(t), 0);
	tu_free(t);
}

static void test_file_plugin_over_null(void **state)
{
	struct tu_opts o = {.device = "nullfile"};
	struct tu *t = started(&o);
	size_t cap_n, ref_n;
	float *ref, *cap;

	(void)state;
	req_ok(t, "play silent en", "ok playing silent en");
	/* null consumes instantly: wait for the player to go idle. */
	assert_int_equal(tu_wait_log(t, "debug: idle", 5000), 0);
	assert_int_equal(tu_stop(t), 0);
	ref = tu_render(t, "silent", "en", &ref_n);
	cap = tu_capture(t, &cap_n);
	assert_non_null(ref);
	assert_matches(cap, cap_n, 0, ref, ref_n, 1.0f);
	free(ref);
	free(cap);
	tu_free(t);
}

static void test_loudness_and_peak_of_real_speech(void **state)
{
	char lib[128], cmd[1200];
	struct tu_opts o = {.target_lufs = -23, .library = lib};
	struct tu *t;
	size_t cap_n;
	float *cap, peak = 1e-9f; /* never log10(0) */
	double lufs, tp;

	(void)state;
	/* The repo's own (placeholder) recording, through the whole chain. */
	snprintf(lib, sizeof(lib), "/tmp/bullhorn-speech-%d", (int)getpid());
	snprintf(cmd, sizeof(cmd),
		 "rm -rf %s && mkdir -p %s/en && cp "
		 "audio/en/silent.placeholder.opus %s/en/",
		 lib, lib, lib);
	assert_int_equal(system(cmd), 0);
	t = started(&o);
	req_ok(t, "play silent en", "ok playing silent en");
	assert_int_equal(tu_wait_idle(t, 1, 30000), 0);
	cap = tu_capture(t, &cap_n);
	assert_true(cap_n > TU_RATE);
	assert_int_equal(loudness_measure(cap, cap_n, 1, TU_RATE, &lufs, &tp),
			 0);
	for (size_t i = 0; i < cap_n; i++)
		if (fabsf(cap[i]) > peak)
			peak = fabsf(cap[i]);
	print_message("capture: %.2f LUFS, true peak %.2f dBTP, sample peak "
		      "%.2f dBFS\n",
		      lufs, tp, 20 * log10(peak));
	assert_true(fabs(lufs - -23.0) <= 0.5);
	assert_true(20 * log10(peak) <= -1.0);
	free(cap);
	assert_int_equal(tu_stop(t), 0);
	tu_free(t);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", lib);
	assert_int_equal(system(cmd), 0);
}

static void test_preemption_fades_into_new_message(void **state)
{
	struct tu *t = started(NULL);
	size_t cap_n, door_n, rights_n, head;
	float *door, *rights, *cap, worst;

	(void)state;
	req_ok(t, "play door", "ok playing door en");
	tu_sleep_ms(300);
	req_ok(t, "play rights es", "ok playing rights es");
	assert_int_equal(tu_wait_idle(t, 1, 5000), 0);
	door = tu_render(t, "door", "en", &door_n);
	rights = tu_render(t, "rights", "es", &rights_n);
	cap = tu_capture(t, &cap_n);
	/* One continuous stream: door, its fade, then rights whole. */
	assert_true(find_clip(cap, cap_n, 0, rights, rights_n) > 0);
	head = (size_t)find_clip(cap, cap_n, 0, rights, rights_n);
	print_message("door played %.0f ms before rights took over\n",
		      head * 1000.0 / TU_RATE);
	/* 300 ms, plus a period kept queued (10) and the fade (10), plus
	 * scheduling. */
	assert_true(head >= TU_RATE * 280 / 1000);
	assert_true(head <= TU_RATE * 360 / 1000);
	/* Door up to the fade is door itself. */
	assert_matches(cap, cap_n, 0, door, head - TU_RATE / 100, 1.0f);
	/* No click anywhere: never a step larger than the messages' own. */
	worst = fmaxf(tu_max_step(door, door_n), tu_max_step(rights, rights_n));
	assert_true(tu_max_step(cap, cap_n) <= worst * 1.05f + LSB);
	free(door);
	free(rights);
	free(cap);
	assert_int_equal(tu_stop(t), 0);
	tu_free(t);
}

static void test_stop_silences_within_one_buffer(void **state)
{
	struct tu *t = started(NULL);
	size_t cap_n, door_n, last;
	float *door, *cap;
	long long start_ns, stop_sent, sound_end;

	(void)state;
	req_ok(t, "play door", "ok playing door en");
	tu_sleep_ms(400);
	stop_sent = now_ns();
	req_ok(t, "stop", "ok stopped");
	assert_int_equal(tu_wait_idle(t, 1, 5000), 0);
	start_ns = tu_event_ns(t, "start", 0);
	cap = tu_capture(t, &cap_n);
	door = tu_render(t, "door", "en", &door_n);
	for (last = cap_n; last > 0 && cap[last - 1] == 0.0f; last--)
		;
	/* The speaker plays in real time from its start event on. */
	sound_end = start_ns + (long long)last * 1000000000LL / TU_RATE;
	print_message("sound ended %.1f ms after stop was sent\n",
		      (sound_end - stop_sent) / 1e6);
	/* Within one buffer (40 ms): the queued audio is taken back. */
	assert_true(sound_end - stop_sent <= 40 * 1000000LL);
	assert_true(last < door_n);
	assert_true(tu_max_step(cap, cap_n) <=
		    tu_max_step(door, door_n) * 1.05f + LSB);
	free(door);
	free(cap);
	assert_int_equal(tu_stop(t), 0);
	tu_free(t);
}

static void test_all_plays_each_language_with_gaps(void **state)
{
	struct tu_opts o = {.gap_s = 0.25};
	struct tu *t = started(&o);
	size_t cap_n, en_n, es_n, gap = TU_RATE / 4;
	float *en, *es, *cap;

	(void)state;
	req_ok(t, "play rights all", "ok playing rights en es");
	assert_int_equal(tu_wait_idle(t, 1, 8000), 0);
	en = tu_render(t, "rights", "en", &en_n);
	es = tu_render(t, "rights", "es", &es_n);
	cap = tu_capture(t, &cap_n);
	assert_matches(cap, cap_n, 0, en, en_n, 1.0f);
	assert_silent(cap, en_n, en_n + gap);
	assert_matches(cap, cap_n, en_n + gap, es, es_n, 1.0f);
	assert_silent(cap, en_n + gap + es_n, cap_n);
	free(en);
	free(es);
	free(cap);
	assert_int_equal(tu_stop(t), 0);
	tu_free(t);
}

static void test_chime_and_spoken_language_names(void **state)
{
	struct tu_opts o = {
	    .gap_s = 0.25, .chime = true, .speak_language = true};
	struct tu *t = started(&o);
	size_t cap_n, n[5] = {0}, at = 0;
	const size_t chime_pause = TU_RATE * 3 / 10,
		     name_pause = TU_RATE * 2 / 5;
	float *r[5], *cap;

	(void)state;
	req_ok(t, "play rights all", "ok playing rights en es");
	assert_int_equal(tu_wait_idle(t, 1, 8000), 0);
	r[0] = tu_render(t, "chime", "_shared", &n[0]);
	r[1] = tu_render(t, "_language", "en", &n[1]);
	r[2] = tu_render(t, "rights", "en", &n[2]);
	r[3] = tu_render(t, "_language", "es", &n[3]);
	r[4] = tu_render(t, "rights", "es", &n[4]);
	cap = tu_capture(t, &cap_n);
	/* chime, 0.3 s, "English", 0.4 s, rights en, gap, "Español", 0.4 s,
	 * rights es. */
	assert_matches(cap, cap_n, at, r[0], n[0], 1.0f);
	at += n[0] + chime_pause;
	assert_matches(cap, cap_n, at, r[1], n[1], 1.0f);
	at += n[1] + name_pause;
	assert_matches(cap, cap_n, at, r[2], n[2], 1.0f);
	at += n[2] + TU_RATE / 4;
	assert_matches(cap, cap_n, at, r[3], n[3], 1.0f);
	at += n[3] + name_pause;
	assert_matches(cap, cap_n, at, r[4], n[4], 1.0f);
	/* A single play: the chime, then the message; no name. */
	req_ok(t, "play door es", "ok playing door es");
	assert_int_equal(tu_wait_idle(t, 2, 8000), 0);
	free(cap);
	cap = tu_capture(t, &cap_n);
	assert_true(find_clip(cap, cap_n, at + n[4], r[0], n[0]) > 0);
	for (int i = 0; i < 5; i++)
		free(r[i]);
	free(cap);
	assert_int_equal(tu_stop(t), 0);
	tu_free(t);
}

static void test_loop_repeats_until_its_limit(void **state)
{
	/* 1.0 s clip + 0.5 s gap, limit 10 s, at 10x speed: clips start at
	 * 0, 1.5, ... 9.0 s; the limit falls in the gap after the seventh,
	 * where the loop ends. */
	struct tu_opts o = {.loop_limit_s = 10, .speed = 10, .buffer_ms = 400};
	struct tu *t = started(&o);
	size_t cap_n, ref_n, unit = TU_RATE * 3 / 2;
	float *ref, *cap;

	(void)state;
	req_ok(t, "loop rights en", "ok looping rights en");
	assert_int_equal(tu_wait_idle(t, 1, 10000), 0);
	ref = tu_render(t, "rights", "en", &ref_n);
	cap = tu_capture(t, &cap_n);
	for (int rep = 0; rep < 7; rep++)
		assert_matches(cap, cap_n, rep * unit, ref, ref_n, 1.0f);
	assert_silent(cap, 6 * unit + ref_n, cap_n);
	assert_int_equal(tu_count(t->log, "loop reached loop_limit_s"), 1);
	free(ref);
	free(cap);
	assert_int_equal(tu_stop(t), 0);
	tu_free(t);
}

static void test_loop_until_stop(void **state)
{
	struct tu_opts o = {.speed = 10, .buffer_ms = 400};
	struct tu *t = started(&o);
	size_t cap_n;
	float *cap;

	(void)state;
	req_ok(t, "loop rights all", "ok looping rights en es");
	tu_sleep_ms(1000); /* 10 s of sound */
	req_ok(t, "status", "ok state=playing");
	req_ok(t, "stop", "ok stopped");
	assert_int_equal(tu_wait_idle(t, 1, 5000), 0);
	req_ok(t, "status", "ok state=idle");
	cap = tu_capture(t, &cap_n);
	assert_true(cap_n > 8 * TU_RATE);
	free(cap);
	assert_int_equal(tu_stop(t), 0);
	tu_free(t);
}

static void test_missing_language_falls_back(void **state)
{
	struct tu_opts o = {.languages = "fr, es, en"};
	struct tu *t = started(&o);
	char path[512];

	(void)state;
	/* fr is active and has nothing: the next configured language that
	 * has the message plays, and the log says so. */
	req_ok(t, "play rights", "ok playing rights es");
	assert_int_equal(tu_wait_log(t,
				     "rights: no recording in 'fr'; "
				     "playing 'es' instead",
				     2000),
			 0);
	/* silent exists only in en. */
	req_ok(t, "play silent es", "ok playing silent en");
	req_ok(t, "play silent all", "ok playing silent en");
	req_ok(t, "play nothing", "error: no recording of 'nothing'");
	assert_int_equal(tu_count(t->log, "language 'fr' is configured but "
					  "has no recordings"),
			 1);
	snprintf(path, sizeof(path), "%s", t->log);
	assert_int_equal(tu_stop(t), 0);
	tu_free(t);
}

static void test_volume_cap_and_persistence(void **state)
{
	struct tu_opts o = {.max_volume = 60, .volume = 50};
	struct tu *t = started(&o);
	size_t cap_n, ref_n;
	float *ref, *cap;

	(void)state;
	req_ok(t, "volume 100", "ok volume 60 (capped by max_volume)");
	req_ok(t, "volume +5", "ok volume 60");
	req_ok(t, "volume -20", "ok volume 40");
	req_ok(t, "volume -100", "ok volume 0");
	req_ok(t, "volume +40", "ok volume 40");
	req_ok(t, "volume 1000", "error:");
	req_ok(t, "play rights en", "ok playing");
	assert_int_equal(tu_wait_idle(t, 1, 5000), 0);
	ref = tu_render(t, "rights", "en", &ref_n);
	cap = tu_capture(t, &cap_n);
	/* Volume 40 on the cubic curve is a gain of 0.064 (-23.9 dB). */
	assert_matches(cap, cap_n, 0, ref, ref_n, 0.064f);
	free(ref);
	free(cap);
	assert_int_equal(tu_stop(t), 0);
	/* Remembered across a restart, not reset to the config's 50. */
	assert_int_equal(tu_start(t), 0);
	req_ok(t, "status",
	       "ok state=idle device=ready language=en volume=40 "
	       "max_volume=60");
	assert_int_equal(tu_stop(t), 0);
	tu_free(t);
}

static void test_next_language_speaks_and_persists(void **state)
{
	struct tu *t = started(NULL);
	size_t cap_n, ref_n;
	float *ref, *cap;

	(void)state;
	req_ok(t, "next-language", "ok language es");
	assert_int_equal(tu_wait_idle(t, 1, 5000), 0);
	ref = tu_render(t, "_language", "es", &ref_n);
	cap = tu_capture(t, &cap_n);
	assert_non_null(ref);
	assert_matches(cap, cap_n, 0, ref, ref_n, 1.0f);
	req_ok(t, "play rights", "ok playing rights es");
	assert_int_equal(tu_stop(t), 0);
	assert_int_equal(tu_start(t), 0);
	req_ok(t, "status", "ok state=idle device=ready language=es");
	req_ok(t, "next-language", "ok language en");
	free(ref);
	free(cap);
	assert_int_equal(tu_stop(t), 0);
	tu_free(t);
}

static void test_bad_config_is_named_and_reload_keeps_old(void **state)
{
	struct tu *t = tu_new(NULL);
	char *cfg, bad[4096];

	(void)state;
	cfg = tu_slurp(t->cfg);
	/* At start: exit 3 and the file:line of each mistake. */
	snprintf(bad, sizeof(bad), "%s", cfg);
	*strstr(bad, "rate = 48000") = '\0';
	strcat(bad, "rate = 4800x\nchannles = 2\n");
	tu_write(t->cfg, bad);
	assert_int_equal(tu_start(t), 3);
	assert_true(tu_count(t->log, "bullhorn.ini:3: [audio] rate") == 1);
	assert_true(tu_count(t->log, "bullhorn.ini:4: [audio] channles") == 1);
	assert_true(tu_count(t->log, "did you mean 'channels'") == 1);
	/* At reload: refused, the old config keeps playing. */
	tu_write(t->cfg, cfg);
	assert_int_equal(tu_start(t), 0);
	tu_write(t->cfg, bad);
	req_ok(t, "reload", "error:");
	kill(t->pid, SIGHUP);
	tu_sleep_ms(200);
	req_ok(t, "play rights", "ok playing rights en");
	assert_int_equal(tu_wait_idle(t, 1, 5000), 0);
	/* A good reload applies. */
	tu_write(t->cfg, cfg);
	req_ok(t, "reload", "ok reloaded");
	free(cfg);
	assert_int_equal(tu_stop(t), 0);
	tu_free(t);
}

static void test_reload_with_new_audio_settings_fades(void **state)
{
	struct tu *t = started(NULL);
	size_t cap_n, door_n;
	float *cap, *door;

	(void)state;
	req_ok(t, "play door", "ok playing door en");
	tu_sleep_ms(300);
	t->o.buffer_ms = 80;
	tu_write_config(t);
	req_ok(t, "reload", "ok reloaded");
	assert_int_equal(tu_wait_idle(t, 1, 5000), 0);
	door = tu_render(t, "door", "en", &door_n);
	cap = tu_capture(t, &cap_n);
	/* Door stopped with its fade, not cut, and well before its end. */
	assert_true(cap_n < door_n);
	assert_true(tu_max_step(cap, cap_n) <=
		    tu_max_step(door, door_n) * 1.05f + LSB);
	free(cap);
	/* The new settings play. */
	req_ok(t, "play rights", "ok playing rights en");
	assert_int_equal(tu_wait_log(t, "3840-frame buffer", 3000), 0);
	assert_int_equal(tu_wait_idle(t, 2, 5000), 0);
	free(door);
	assert_int_equal(tu_stop(t), 0);
	tu_free(t);
}

static void test_bad_audio_files_are_skipped(void **state)
{
	struct tu *t = tu_new(NULL);
	char path[512];

	(void)state;
	snprintf(path, sizeof(path), "%s/en/broken.wav", t->lib);
	tu_write(path, "RIFF this is not audio at all");
	snprintf(path, sizeof(path), "%s/en/empty.ogg", t->lib);
	tu_write(path, "");
	snprintf(path, sizeof(path), "%s/en/notes.txt", t->lib);
	tu_write(path, "a script, not a recording");
	assert_int_equal(tu_start(t), 0);
	assert_int_equal(tu_count(t->log, "en/broken.wav: not a recording"), 1);
	assert_int_equal(tu_count(t->log, "en/empty.ogg: "), 1);
	assert_int_equal(tu_count(t->log, "notes.txt"), 0);
	req_ok(t, "status",
	       "ok state=idle device=ready language=en volume=100 "
	       "max_volume=100 recordings=8");
	req_ok(t, "play broken", "error: no recording of 'broken'");
	req_ok(t, "play rights", "ok playing rights en");
	assert_int_equal(tu_wait_idle(t, 1, 5000), 0);
	assert_int_equal(tu_stop(t), 0);
	tu_free(t);
}

static int raw_connect(struct tu *t)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(strlen(t->sock) < sizeof(sa.sun_path));
	memcpy(sa.sun_path, t->sock, strlen(t->sock) + 1);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

/* Sends bytes, reads until `lines` reply lines came (or EOF), and checks
 * that want is in them. */
static void raw_expect_n(int fd, const char *send_bytes, size_t len, int lines,
			 const char *want)
{
	char buf[2048];
	ssize_t n;
	size_t got = 0;
	int seen = 0;

	if (len)
		assert_int_equal(write(fd, send_bytes, len), (ssize_t)len);
	while (got < sizeof(buf) - 1 && seen < lines) {
		n = read(fd, buf + got, sizeof(buf) - 1 - got);
		if (n <= 0)
			break;
		for (ssize_t i = 0; i < n; i++)
			seen += buf[got + (size_t)i] == '\n';
		got += (size_t)n;
	}
	buf[got] = '\0';
	if (!strstr(buf, want))
		fail_msg("reply '%s' lacks '%s'", buf, want);
}

static void raw_expect(int fd, const char *send_bytes, size_t len,
		       const char *want)
{
	raw_expect_n(fd, send_bytes, len, 1, want);
}

static void test_hostile_socket_input(void **state)
{
	struct tu *t = started(NULL);
	char big[2000];
	int fd, half[8];

	(void)state;
	fd = raw_connect(t);
	raw_expect(fd, "dance\n", 6, "error: unknown action 'dance'");
	raw_expect(fd, "play \xff\xfe\n", 8, "error: ");
	raw_expect(fd, "stop\0now\n", 9, "error: request contains a NUL");
	raw_expect(fd, "ping\r\n", 6, "ok pong");
	/* Two requests in one write: two replies, in order. */
	raw_expect_n(fd, "ping\nstatus\n", 12, 2, "ok pong\nok state=");
	close(fd);
	/* Oversized: an error, then the connection is closed. */
	fd = raw_connect(t);
	memset(big, 'a', sizeof(big));
	raw_expect(fd, big, sizeof(big), "error: request longer than");
	/* Closed: EOF, or a reset since the rest was never read. */
	{
		ssize_t n = read(fd, big, sizeof(big));

		assert_true(n == 0 || (n < 0 && errno == ECONNRESET));
	}
	close(fd);
	/* Half-sent requests from clients that then vanish or sit idle. */
	for (int i = 0; i < 8; i++) {
		half[i] = raw_connect(t);
		assert_int_equal(write(half[i], "play rig", 8), 8);
	}
	close(half[0]);
	req_ok(t, "ping", "ok pong");
	req_ok(t, "play rights", "ok playing rights en");
	for (int i = 1; i < 8; i++)
		close(half[i]);
	assert_int_equal(tu_wait_idle(t, 1, 5000), 0);
	req_ok(t, "ping", "ok pong");
	assert_int_equal(tu_stop(t), 0);
	tu_free(t);
}

static void test_device_missing_at_start_then_appears(void **state)
{
	struct tu *t = tu_new(NULL);
	size_t cap_n, ref_n;
	float *cap, *ref;

	(void)state;
	tu_write(t->nocard, "");
	assert_int_equal(tu_start(t), 0);
	assert_int_equal(tu_count(t->log, "sound device 'speaker' cannot be "
					  "opened"),
			 1);
	req_ok(t, "status", "ok state=idle device=missing");
	req_ok(t, "play rights",
	       "ok playing rights en (no sound device yet: plays when it "
	       "appears)");
	tu_sleep_ms(600);
	/* Retries stay quiet in the log. */
	assert_int_equal(tu_count(t->log, "cannot be opened"), 1);
	unlink(t->nocard);
	assert_int_equal(tu_wait_log(t, "sound device 'speaker' ready", 5000),
			 0);
	assert_int_equal(tu_wait_idle(t, 1, 5000), 0);
	cap = tu_capture(t, &cap_n);
	ref = tu_render(t, "rights", "en", &ref_n);
	/* The pending press plays whole (ramped in over 5 ms). */
	assert_true(cap_n >= ref_n);
	assert_matches(cap, cap_n, TU_RATE / 100, ref + TU_RATE / 100,
		       ref_n - TU_RATE / 100, 1.0f);
	free(cap);
	free(ref);
	assert_int_equal(tu_stop(t), 0);
	tu_free(t);
}

static void test_device_vanishes_mid_play(void **state)
{
	struct tu *t = started(NULL);
	size_t cap_n, ref_n;
	float *cap, *ref;

	(void)state;
	req_ok(t, "play door", "ok playing door en");
	tu_sleep_ms(300);
	tu_write(t->unplug, "");
	assert_int_equal(
	    tu_wait_log(t, "sound device 'speaker' went away", 3000), 0);
	req_ok(t, "status", "ok state=playing device=missing");
	req_ok(t, "ping", "ok pong");
	unlink(t->unplug);
	assert_int_equal(tu_wait_log(t, "sound device 'speaker' ready", 5000),
			 0);
	req_ok(t, "play rights", "ok playing rights en");
	assert_int_equal(tu_wait_idle(t, 1, 8000), 0);
	/* The reopened card's capture starts afresh: door's remainder
	 * faded into rights. */
	cap = tu_capture(t, &cap_n);
	ref = tu_render(t, "rights", "en", &ref_n);
	assert_true(cap_n >= ref_n);
	free(cap);
	free(ref);
	assert_int_equal(tu_stop(t), 0);
	tu_free(t);
}

static void test_sigterm_fades_and_exits_fast(void **state)
{
	struct tu *t = started(NULL);
	long long t0;
	int status;

	(void)state;
	req_ok(t, "loop door all", "ok looping door en es");
	tu_sleep_ms(200);
	t0 = now_ns();
	kill(t->pid, SIGTERM);
	assert_int_equal(waitpid(t->pid, &status, 0), t->pid);
	t->pid = 0;
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	print_message("exited %.0f ms after SIGTERM\n", (now_ns() - t0) / 1e6);
	assert_true(now_ns() - t0 < 1000000000LL);
	assert_int_equal(access(t->sock, F_OK), -1);
	tu_free(t);
}

static void test_keys_act_as_buttons(void **state)
{
	struct tu *t = tu_new(NULL);
	int fds[2], status;

	(void)state;
	assert_int_equal(pipe(fds), 0);
	assert_int_equal(tu_start_with(t, fds[0]), 0);
	close(fds[0]);
	assert_int_equal(write(fds[1], "1", 1), 1);
	assert_int_equal(tu_wait_idle(t, 1, 5000), 0);
	assert_int_equal(tu_count(t->log, "key 1: play rights"), 1);
	assert_int_equal(tu_count(t->log, "playing rights (en)"), 1);
	/* Keys without an action do nothing; q quits cleanly. */
	assert_int_equal(write(fds[1], "7x", 2), 2);
	req_ok(t, "ping", "ok pong");
	assert_int_equal(write(fds[1], "q", 1), 1);
	assert_int_equal(waitpid(t->pid, &status, 0), t->pid);
	t->pid = 0;
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close(fds[1]);
	tu_free(t);
}

static void test_check_reports_library_and_config(void **state)
{
	struct tu_opts o = {.languages = "en, es, fr"};
	struct tu *t = tu_new(&o);
	char path[512], *out, *cfg;

	(void)state;
	/* A configured language without recordings is a warning. */
	assert_int_equal(tu_cli(t, "check", &out), 0);
	assert_non_null(strstr(out, "config "));
	assert_non_null(strstr(out, "\nen        rights "));
	assert_non_null(strstr(out, "\nes        door "));
	assert_non_null(strstr(out, "language 'fr' is in [playback] "
				    "languages but has no recordings"));
	free(out);
	/* An unreadable recording is an error: exit 1. */
	snprintf(path, sizeof(path), "%s/es/broken.flac", t->lib);
	tu_write(path, "fLaC but nothing after");
	assert_int_equal(tu_cli(t, "check", &out), 1);
	assert_non_null(strstr(out, "es/broken.flac: not a recording"));
	free(out);
	unlink(path);
	/* A broken config: exit 1, each mistake by file:line. */
	cfg = tu_slurp(t->cfg);
	{
		char bad[8192];

		snprintf(bad, sizeof(bad), "%s[playback]\nlanguges = en\n",
			 cfg);
		tu_write(t->cfg, bad);
	}
	assert_int_equal(tu_cli(t, "check", &out), 1);
	assert_non_null(strstr(out, "bullhorn.ini:"));
	assert_non_null(strstr(out, "did you mean 'languages'"));
	free(out);
	free(cfg);
	tu_free(t);
}

static void test_cli_usage_and_exit_codes(void **state)
{
	struct tu *t = tu_new(NULL);
	char *out;

	(void)state;
	assert_int_equal(tu_cli(t, "play", &out), 2);
	assert_non_null(strstr(out, "needs a message name"));
	free(out);
	assert_int_equal(tu_cli(t, "frobnicate", &out), 2);
	assert_non_null(strstr(out, "Usage: bullhorn"));
	free(out);
	/* No daemon yet. */
	assert_int_equal(tu_cli(t, "status", &out), 3);
	assert_non_null(strstr(out, "no daemon answers on"));
	free(out);
	assert_int_equal(tu_start(t), 0);
	assert_int_equal(tu_cli(t, "play nothing", &out), 1);
	assert_non_null(strstr(out, "error: no recording of 'nothing'"));
	free(out);
	assert_int_equal(tu_cli(t, "send ping", &out), 0);
	assert_non_null(strstr(out, "ok pong"));
	free(out);
	assert_int_equal(tu_cli(t, "render nothing en -o /tmp/x.wav", &out), 5);
	free(out);
	assert_int_equal(tu_cli(t, "--version", &out), 0);
	assert_non_null(strstr(out, "bullhorn 0."));
	free(out);
	assert_int_equal(tu_stop(t), 0);
	tu_free(t);
}

static void test_idle_means_idle(void **state)
{
	struct tu *t = started(NULL);
	long before, after;
	struct stat st1, st2;

	(void)state;
	req_ok(t, "play rights", "ok playing");
	assert_int_equal(tu_wait_idle(t, 1, 5000), 0);
	tu_sleep_ms(200);
	stat(t->events, &st1);
	before = tu_ctx_switches(t->pid);
	tu_sleep_ms(1500);
	after = tu_ctx_switches(t->pid);
	stat(t->events, &st2);
	print_message("idle: %ld wake-ups in 1.5 s\n", after - before);
	assert_int_equal(after - before, 0);
	/* And nothing was written to the device either. */
	assert_int_equal(st1.st_size, st2.st_size);
	assert_int_equal(tu_stop(t), 0);
	tu_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_teardown(test_plays_the_rendered_message,
				      tu_teardown),
	    cmocka_unit_test_teardown(test_file_plugin_over_null, tu_teardown),
	    cmocka_unit_test_teardown(test_loudness_and_peak_of_real_speech,
				      tu_teardown),
	    cmocka_unit_test_teardown(test_preemption_fades_into_new_message,
				      tu_teardown),
	    cmocka_unit_test_teardown(test_stop_silences_within_one_buffer,
				      tu_teardown),
	    cmocka_unit_test_teardown(test_all_plays_each_language_with_gaps,
				      tu_teardown),
	    cmocka_unit_test_teardown(test_chime_and_spoken_language_names,
				      tu_teardown),
	    cmocka_unit_test_teardown(test_loop_repeats_until_its_limit,
				      tu_teardown),
	    cmocka_unit_test_teardown(test_loop_until_stop, tu_teardown),
	    cmocka_unit_test_teardown(test_missing_language_falls_back,
				      tu_teardown),
	    cmocka_unit_test_teardown(test_volume_cap_and_persistence,
				      tu_teardown),
	    cmocka_unit_test_teardown(test_next_language_speaks_and_persists,
				      tu_teardown),
	    cmocka_unit_test_teardown(
		test_bad_config_is_named_and_reload_keeps_old, tu_teardown),
	    cmocka_unit_test_teardown(test_reload_with_new_audio_settings_fades,
				      tu_teardown),
	    cmocka_unit_test_teardown(test_bad_audio_files_are_skipped,
				      tu_teardown),
	    cmocka_unit_test_teardown(test_hostile_socket_input, tu_teardown),
	    cmocka_unit_test_teardown(test_device_missing_at_start_then_appears,
				      tu_teardown),
	    cmocka_unit_test_teardown(test_device_vanishes_mid_play,
				      tu_teardown),
	    cmocka_unit_test_teardown(test_sigterm_fades_and_exits_fast,
				      tu_teardown),
	    cmocka_unit_test_teardown(test_idle_means_idle, tu_teardown),
	    cmocka_unit_test_teardown(test_keys_act_as_buttons, tu_teardown),
	    cmocka_unit_test_teardown(test_check_reports_library_and_config,
				      tu_teardown),
	    cmocka_unit_test_teardown(test_cli_usage_and_exit_codes,
				      tu_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
