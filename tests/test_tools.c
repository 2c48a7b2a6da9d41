/* The volunteer's tools on files, without a daemon unless said: check
 * (table, warnings, --strict, --json), import (formats, ffmpeg, replace
 * with backup, new languages) and record (from a capture device made of
 * ALSA's file plugin reading a prepared "microphone" input). */
#include <dirent.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "library.h"
#include "testutil.h"

static bool have(const char *tool)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "command -v %s >/dev/null", tool);
	return system(cmd) == 0;
}

/* A speech-like recording at gain_db, optionally clipped or noisy. */
static void make_wav(const char *path, double seconds, double gain_db,
		     bool clip, double noise_db)
{
	size_t n;
	float *s = tu_speechlike(seconds, 44100, 0.1, 3, &n);
	double g = pow(10, gain_db / 20);
	unsigned seed = 1;

	for (size_t i = 0; i < n; i++) {
		double v = s[i] * g;

		if (noise_db > -200) {
			seed = seed * 1103515245u + 12345u;
			v += pow(10, noise_db / 20) *
			     (((seed >> 8) & 0xffff) / 32768.0 - 1.0);
		}
		if (clip)
			v = v > 0.3 ? 1.0 : v < -0.3 ? -1.0 : v;
		s[i] = (float)v;
	}
	tu_write_audio(path, s, n, 44100, 1, SF_FORMAT_WAV | SF_FORMAT_PCM_16);
	free(s);
}

static void assert_has(const char *out, const char *want)
{
	if (!strstr(out, want))
		fail_msg("output lacks '%s':\n%s", want, out);
}

static void test_import_wav_then_refuse_then_replace(void **state)
{
	struct tu *t = tu_new(NULL);
	char src[512], args[1024], *out, *path;

	(void)state;
	snprintf(src, sizeof(src), "%s/phone.wav", t->dir);
	make_wav(src, 2.0, -12, false, -300);
	snprintf(args, sizeof(args), "import %s --language es --message leave",
		 src);
	assert_int_equal(tu_cli(t, args, &out), 0);
	assert_has(out, "es        leave ");
	assert_has(out, "imported as ");
	assert_has(out, "/es/leave.wav");
	free(out);
	path = library_recording_path(t->lib, "es", "leave");
	assert_non_null(path);
	assert_non_null(strstr(path, "/es/leave.wav"));
	free(path);
	/* Again: refused, nothing changed. */
	assert_int_equal(tu_cli(t, args, &out), 1);
	assert_has(out, "already has a recording; add --replace");
	free(out);
	/* With --replace: the old one is kept in .backup. */
	strcat(args, " --replace");
	assert_int_equal(tu_cli(t, args, &out), 0);
	assert_has(out, "the recording it replaces is kept as ");
	assert_has(out, "/es/.backup/leave.wav.");
	free(out);
	tu_free(t);
}

/* What a power cut or a kill leaves mid-import: a recording staged
 * whole beside the one it replaces, and part of another. check names
 * both and the library plays neither; the next import, of anything,
 * puts the staged one in place (the old one to .backup/) and removes the
 * part. */
static void test_import_finishes_cut_off_import(void **state)
{
	struct tu *t = tu_new(NULL);
	char staged[512], part[512], door[512], src[512], args[1024];
	char *out, *got;
	uint32_t staged_crc, old_crc, crc;
	size_t size;
	DIR *d;
	struct dirent *e;
	int backups = 0;

	(void)state;
	snprintf(staged, sizeof(staged), "%s/en/.door.wav.import", t->lib);
	snprintf(part, sizeof(part), "%s/en/.leave.wav.import.tmp.4242",
		 t->lib);
	snprintf(door, sizeof(door), "%s/en/door.wav", t->lib);
	make_wav(staged, 1.5, -9, false, -300);
	tu_write(part, "RIFF, cut off half way");
	assert_int_equal(tu_file_crc(staged, &staged_crc, &size), 0);
	assert_int_equal(tu_file_crc(door, &old_crc, &size), 0);
	assert_int_not_equal(staged_crc, old_crc);

	assert_int_equal(tu_cli(t, "check", &out), 0);
	assert_has(out, "en/.door.wav.import: left by an import that was "
			"cut off");
	assert_has(out, "puts this recording in place (it is whole)");
	assert_has(out, "en/.leave.wav.import.tmp.4242: left by an import "
			"that was cut off");
	assert_has(out, "removes it");
	free(out);
	got = library_recording_path(t->lib, "en", "door");
	assert_string_equal(got, door);
	free(got);

	snprintf(src, sizeof(src), "%s/phone.wav", t->dir);
	make_wav(src, 2.0, -12, false, -300);
	snprintf(args, sizeof(args), "import %s --language es --message leave",
		 src);
	assert_int_equal(tu_cli(t, args, &out), 0);
	assert_has(out, "finished an import that was cut off earlier");
	assert_has(out, "en/door.wav is in place now");
	free(out);
	assert_int_equal(tu_file_crc(door, &crc, &size), 0);
	assert_int_equal(crc, staged_crc);
	assert_int_equal(access(staged, F_OK), -1);
	assert_int_equal(access(part, F_OK), -1);
	snprintf(args, sizeof(args), "%s/en/.backup", t->lib);
	d = opendir(args);
	assert_non_null(d);
	while ((e = readdir(d))) {
		char b[1400];

		if (strncmp(e->d_name, "door.wav.", 9) != 0)
			continue;
		snprintf(b, sizeof(b), "%s/%s", args, e->d_name);
		assert_int_equal(tu_file_crc(b, &crc, &size), 0);
		assert_int_equal(crc, old_crc);
		backups++;
	}
	closedir(d);
	assert_int_equal(backups, 1);

	assert_int_equal(tu_cli(t, "check", &out), 0);
	if (strstr(out, "cut off"))
		fail_msg("check still reports a cut-off import:\n%s", out);
	free(out);
	tu_free(t);
}

static void test_import_over_placeholder_and_new_language(void **state)
{
	struct tu *t = tu_new(NULL);
	char src[512], path[512], args[1024], *out, *got;

	(void)state;
	/* A placeholder is not a human recording: no --replace needed, and
	 * the human one wins. */
	snprintf(path, sizeof(path), "%s/en/observers.placeholder.wav", t->lib);
	make_wav(path, 1.0, -20, false, -300);
	snprintf(src, sizeof(src), "%s/obs.wav", t->dir);
	make_wav(src, 1.5, -6, false, -300);
	snprintf(args, sizeof(args),
		 "import %s --language en --message observers", src);
	assert_int_equal(tu_cli(t, args, &out), 0);
	free(out);
	got = library_recording_path(t->lib, "en", "observers");
	assert_non_null(strstr(got, "/en/observers.wav"));
	free(got);
	/* A language that is not there yet. */
	snprintf(args, sizeof(args), "import %s --language ht --message rights",
		 src);
	assert_int_equal(tu_cli(t, args, &out), 0);
	assert_has(out, "new language 'ht'");
	free(out);
	snprintf(path, sizeof(path), "%s/ht/rights.wav", t->lib);
	assert_int_equal(access(path, F_OK), 0);
	/* Bad names and unreadable input: exit 1, clear reasons, nothing
	 * written. */
	snprintf(args, sizeof(args), "import %s --language e$ --message rights",
		 src);
	assert_int_equal(tu_cli(t, args, &out), 1);
	assert_has(out, "not a language tag");
	free(out);
	snprintf(args, sizeof(args), "import %s --language en --message Rights",
		 src);
	assert_int_equal(tu_cli(t, args, &out), 1);
	assert_has(out, "not a message name");
	free(out);
	assert_int_equal(tu_cli(t, "import --language en", &out), 2);
	free(out);
	snprintf(path, sizeof(path), "%s/junk.wav", t->dir);
	tu_write(path, "RIFF not really");
	snprintf(args, sizeof(args), "import %s --language en --message door",
		 path);
	assert_int_equal(tu_cli(t, args, &out), 1);
	assert_has(out, "junk.wav");
	free(out);
	snprintf(path, sizeof(path), "%s/en/door.wav", t->lib);
	assert_int_equal(access(path, F_OK), 0); /* the old one untouched */
	tu_free(t);
}

static void test_import_into_writable_library(void **state)
{
	struct tu *t = tu_new(NULL);
	char src[512], args[1024], vol[256], path[512], extra[512];
	char *out, *shipped;
	struct stat st;
	mode_t old_umask;

	(void)state;
	/* An installed kit: the shipped library stays as it is, volunteers'
	 * recordings go to a group-shared folder (setgid) that wins. */
	snprintf(vol, sizeof(vol), "%s/volunteers", t->dir);
	assert_int_equal(mkdir(vol, 0770), 0);
	assert_int_equal(chmod(vol, 02770), 0);
	snprintf(extra, sizeof(extra), "\n[paths]\nrecordings = %s\n", vol);
	{
		char *cfg = tu_slurp(t->cfg), *both;

		assert_true(asprintf(&both, "%s%s", cfg, extra) > 0);
		tu_write(t->cfg, both);
		free(both);
		free(cfg);
	}
	shipped = library_recording_path(t->lib, "en", "rights");
	assert_non_null(shipped);
	snprintf(src, sizeof(src), "%s/phone.wav", t->dir);
	make_wav(src, 2.0, -12, false, -300);
	snprintf(args, sizeof(args), "import %s --language en --message rights",
		 src);
	/* A strict umask must not lock other operators out. */
	old_umask = umask(077);
	assert_int_equal(tu_cli(t, args, &out), 0);
	umask(old_umask);
	free(out);
	snprintf(path, sizeof(path), "%s/en", vol);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 02770);
	snprintf(path, sizeof(path), "%s/en/rights.wav", vol);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0660);
	/* The shipped one is untouched; check and render use the new one. */
	assert_int_equal(access(shipped, F_OK), 0);
	assert_int_equal(tu_cli(t, "check --json", &out), 0);
	assert_has(out, path);
	free(out);
	free(shipped);
	tu_free(t);
}

static void test_devices_lists_stable_names(void **state)
{
	struct tu *t = tu_new(NULL);
	char *out;

	(void)state;
	/* No cards here; the tests' ALSA configuration names a speaker. */
	assert_int_equal(tu_cli(t, "devices", &out), 0);
	assert_has(out, "none found");
	assert_has(out, "speaker");
	assert_has(out, "bullhorn test speaker");
	free(out);
	tu_free(t);
}

/* Peak in dBFS and zero crossings per second of cap[from, to). */
static void measure(const float *cap, size_t from, size_t to, double *peak_db,
		    double *crossings)
{
	float peak = 0;
	size_t z = 0;

	for (size_t i = from; i < to; i++) {
		peak = fabsf(cap[i]) > peak ? fabsf(cap[i]) : peak;
		z += i > from && (cap[i - 1] < 0) != (cap[i] < 0);
	}
	*peak_db = peak > 0 ? 20 * log10(peak) : -HUGE_VAL;
	*crossings = (double)z * TU_RATE / (double)(to - from);
}

static void test_test_speaker_plays_a_calibrated_tone(void **state)
{
	struct tu *t = tu_new(NULL);
	double peak, cross;
	size_t n, first = 0;
	float *cap;
	char *out;

	(void)state;
	assert_int_equal(tu_start(t), 0);
	assert_int_equal(
	    tu_cli(t, "test-speaker --level -12 --seconds 1", &out), 0);
	assert_has(out, "ok test-speaker tone -12.0 dBFS for 1.0 s");
	assert_has(out, "at volume 100 the output peaks at -12.0 dBFS");
	free(out);
	assert_int_equal(tu_wait_idle(t, 1, 5000), 0);
	cap = tu_capture(t, &n);
	while (first < n && cap[first] == 0.0f)
		first++;
	/* One second of it; its middle (past the fades) at the level
	 * asked for, at 1 kHz (2000 zero crossings a second). */
	assert_true(n - first >= TU_RATE - TU_RATE / 100);
	measure(cap, first + TU_RATE / 4, first + TU_RATE * 3 / 4, &peak,
		&cross);
	print_message("tone: peak %.2f dBFS, %.0f crossings/s\n", peak, cross);
	assert_true(fabs(peak + 12) < 0.1);
	assert_true(fabs(cross - 2000) < 10);
	free(cap);
	/* Pink noise asked louder than the ceiling: the limiter holds it. */
	assert_int_equal(
	    tu_cli(t, "test-speaker --pink --level 0 --seconds 1", &out), 0);
	free(out);
	assert_int_equal(tu_wait_idle(t, 2, 5000), 0);
	cap = tu_capture(t, &n);
	measure(cap, 0, n, &peak, &cross);
	print_message("pink: peak %.2f dBFS\n", peak);
	assert_true(peak <= -1.0 + 0.05);
	assert_true(peak > -3.0);
	free(cap);
	/* Out of range: usage, nothing sent. */
	assert_int_equal(tu_cli(t, "test-speaker --level 3", &out), 2);
	assert_has(out, "usage: test-speaker");
	free(out);
	assert_int_equal(tu_stop(t), 0);
	tu_free(t);
}

static void test_import_m4a_through_ffmpeg(void **state)
{
	struct tu *t;
	char src[512], cmd[1024], args[1024], *out;

	(void)state;
	if (!have("ffmpeg")) {
		print_message("ffmpeg missing: apt-get install ffmpeg\n");
		skip();
	}
	t = tu_new(NULL);
	snprintf(src, sizeof(src), "%s/memo.m4a", t->dir);
	snprintf(cmd, sizeof(cmd),
		 "ffmpeg -nostdin -v error -f lavfi -i "
		 "'sine=frequency=220:duration=2' -af 'volume=0.3' -c:a aac "
		 "%s",
		 src);
	assert_int_equal(system(cmd), 0);
	snprintf(args, sizeof(args), "import %s --language es --message silent",
		 src);
	assert_int_equal(tu_cli(t, args, &out), 0);
	assert_has(out, "/es/silent.flac (converted with ffmpeg)");
	free(out);
	/* Without ffmpeg: a clear message naming what to install. */
	snprintf(args, sizeof(args),
		 "import %s --language es --message door --replace", src);
	snprintf(cmd, sizeof(cmd), "PATH=/nonexistent %s/bullhorn", tu_build());
	{
		char full[2048], file[256];

		snprintf(file, sizeof(file), "%s/noffmpeg.out", t->dir);
		snprintf(full, sizeof(full),
			 "PATH=/nonexistent %s/bullhorn "
			 "--config %s %s >%s 2>&1",
			 tu_build(), t->cfg, args, file);
		assert_int_not_equal(system(full), 0);
		out = tu_slurp(file);
		assert_has(out, "install ffmpeg (apt-get install ffmpeg)");
		free(out);
	}
	tu_free(t);
}

static void test_check_warnings_strict_and_json(void **state)
{
	struct tu_opts o = {.languages = "en, es"};
	struct tu *t = tu_new(&o);
	char path[512], *out;

	(void)state;
	/* The test library has no es/silent: a warning, not an error. */
	assert_int_equal(tu_cli(t, "check", &out), 0);
	assert_has(out, "silent: missing in 'es'");
	free(out);
	assert_int_equal(tu_cli(t, "check --strict", &out), 1);
	free(out);
	snprintf(path, sizeof(path), "%s/es/silent.wav", t->lib);
	make_wav(path, 2.0, 0, false, -300);
	snprintf(path, sizeof(path), "%s/_shared/chime.wav", t->lib);
	make_wav(path, 1.0, 0, false, -300);
	assert_int_equal(tu_cli(t, "check --strict", &out), 0);
	assert_has(out, "no problems");
	free(out);
	snprintf(path, sizeof(path), "%s/en/observers.wav", t->lib);
	make_wav(path, 2.0, 20, true, -300);
	snprintf(path, sizeof(path), "%s/en/leave.wav", t->lib);
	make_wav(path, 2.0, 6, false, -40);
	snprintf(path, sizeof(path), "%s/es/observers.wav", t->lib);
	make_wav(path, 2.0, -20, false, -300);
	assert_int_equal(tu_cli(t, "check", &out), 0);
	assert_has(out, "usable, with warnings");
	assert_has(out, "clipped (");
	assert_has(out, "very noisy (");
	assert_has(out, "too quiet (");
	assert_has(out, "leave: missing in 'es'");
	assert_has(out, "WAV 16-bit");
	free(out);
	assert_int_equal(tu_cli(t, "check --strict", &out), 1);
	assert_has(out, "not passed");
	free(out);
	assert_int_equal(tu_cli(t, "check --json", &out), 0);
	assert_has(out, "\"ok\": true");
	assert_has(out, "\"message\": \"observers\"");
	assert_has(out, "\"warnings\": \"clipped (");
	free(out);
	/* An unreadable recording is an error. */
	snprintf(path, sizeof(path), "%s/es/door.mp3", t->lib);
	tu_write(path, "ID3 nothing");
	assert_int_equal(tu_cli(t, "check", &out), 1);
	assert_has(out, "es/door.mp3: ");
	free(out);
	assert_int_equal(tu_cli(t, "check --json", &out), 1);
	assert_has(out, "\"ok\": false");
	free(out);
	assert_int_equal(tu_cli(t, "check --bogus", &out), 2);
	free(out);
	tu_free(t);
}

static void write_mic(struct tu *t, double seconds)
{
	char path[512];
	size_t n;
	float *s = tu_speechlike(seconds, 48000, 0.2, 5, &n);
	int16_t *raw = malloc(n * sizeof(int16_t));
	FILE *f;

	for (size_t i = 0; i < n; i++)
		raw[i] = (int16_t)lrintf(s[i] * 32767);
	snprintf(path, sizeof(path), "%s/mic.raw", t->dir);
	f = fopen(path, "we");
	fwrite(raw, sizeof(int16_t), n, f);
	fclose(f);
	free(raw);
	free(s);
}

static void test_record_from_capture_device(void **state)
{
	struct tu *t = tu_new(NULL);
	char *out, path[512];
	SF_INFO info = {0};
	SNDFILE *sf;

	(void)state;
	write_mic(t, 3.0);
	/* No daemon: no beep, said so; the rest works. */
	assert_int_equal(tu_cli(t,
				"record --language es --message silent "
				"--seconds 2",
				&out),
			 0);
	assert_has(out, "no beep: bullhornd is not running");
	assert_has(out, "recorded 2.0 s");
	assert_has(out, "/es/silent.wav");
	free(out);
	snprintf(path, sizeof(path), "%s/es/silent.wav", t->lib);
	sf = sf_open(path, SFM_READ, &info);
	assert_non_null(sf);
	assert_int_equal(info.frames, 2 * 48000);
	sf_close(sf);
	/* With the daemon: a beep before and after, through the speaker. */
	assert_int_equal(tu_start(t), 0);
	assert_int_equal(tu_cli(t,
				"record --language es --message door "
				"--seconds 1 --replace",
				&out),
			 0);
	assert_true(strstr(out, "no beep") == NULL);
	free(out);
	assert_int_equal(tu_wait_idle(t, 2, 5000), 0);
	assert_int_equal(tu_stop(t), 0);
	/* A microphone that is not there. */
	unlink(t->cfg);
	tu_write_config(t);
	{
		char *cfg = tu_slurp(t->cfg), *p = strstr(cfg, "device = mic");

		memcpy(p, "device = mik", 12);
		tu_write(t->cfg, cfg);
		free(cfg);
	}
	assert_int_equal(tu_cli(t,
				"record --language es --message door "
				"--seconds 1",
				&out),
			 1);
	assert_has(out, "cannot open the microphone 'mik'");
	free(out);
	tu_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_teardown(test_import_wav_then_refuse_then_replace,
				      tu_teardown),
	    cmocka_unit_test_teardown(
		test_import_over_placeholder_and_new_language, tu_teardown),
	    cmocka_unit_test_teardown(test_import_finishes_cut_off_import,
				      tu_teardown),
	    cmocka_unit_test_teardown(test_import_into_writable_library,
				      tu_teardown),
	    cmocka_unit_test_teardown(test_devices_lists_stable_names,
				      tu_teardown),
	    cmocka_unit_test_teardown(test_test_speaker_plays_a_calibrated_tone,
				      tu_teardown),
	    cmocka_unit_test_teardown(test_import_m4a_through_ffmpeg,
				      tu_teardown),
	    cmocka_unit_test_teardown(test_check_warnings_strict_and_json,
				      tu_teardown),
	    cmocka_unit_test_teardown(test_record_from_capture_device,
				      tu_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
