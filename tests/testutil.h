/* Helpers for the integration tests: a temp folder with a test library,
 * an ALSA configuration of the tests' own and a config; the real
 * bullhornd started on them; requests over its socket; the captured
 * "speaker" output read back as float samples. Header-only: each test is
 * one file. */
#ifndef BULLHORN_TESTUTIL_H
#define BULLHORN_TESTUTIL_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <math.h>
#include <signal.h>
#include <sndfile.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "control.h"
#include "util.h"

#define TU_RATE 48000

struct tu_opts {
	const char *device;    /* "speaker" (real time) or "nullfile" */
	const char *languages; /* default "en, es" */
	const char *library;   /* default <dir>/lib */
	double gap_s;	       /* default 0.5 */
	double loop_limit_s;   /* default 0 (none) */
	unsigned volume;       /* default 100 */
	unsigned max_volume;   /* default 100 */
	double target_lufs;    /* default -18 */
	unsigned buffer_ms;    /* default 40 */
	double speed;	       /* bhrt speed, default 1 */
	bool chime;
	bool speak_language;
	const char *extra; /* appended to the config: kit sections */
};

struct tu {
	char dir[128];
	char lib[192], cfg[192], sock[192], out[192], events[192], log[192];
	char nocard[192], unplug[192], asound[192];
	struct tu_opts o;
	pid_t pid;
};

static inline void tu_sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* The build folder this test binary was built into (BUILD/tests/NAME),
 * so a test of the libgpiod 2.x build runs that build's daemon; BUILD
 * or "build" when that cannot be told. */
static inline const char *tu_build(void)
{
	static char dir[160]; /* small: callers format it into buffers */
	const char *b = getenv("BUILD");
	ssize_t n;
	char *slash;

	if (dir[0])
		return dir;
	n = readlink("/proc/self/exe", dir, sizeof(dir) - 1);
	dir[n > 0 && n < (ssize_t)sizeof(dir) - 1 ? n : 0] = '\0';
	slash = strrchr(dir, '/');
	if (slash && slash - dir >= 6 && strncmp(slash - 6, "/tests", 6) == 0) {
		slash[-6] = '\0';
		return dir;
	}
	snprintf(dir, sizeof(dir), "%s", b && *b ? b : "build");
	return dir;
}

static inline void tu_write(const char *path, const char *text)
{
	FILE *f = fopen(path, "we");

	if (!f) {
		fprintf(stderr, "cannot write %s: %s\n", path, strerror(errno));
		abort();
	}
	fputs(text, f);
	fclose(f);
}

static inline char *tu_slurp(const char *path);

static inline int tu_rm_one(const char *p, const struct stat *st, int flag,
			    struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(p);
}

/* A fresh folder /tmp/bullhorn-<tag>-XXXXXX into buf; 0 or -1. */
static inline int tu_mkdtemp(char *buf, size_t len, const char *tag)
{
	if ((size_t)snprintf(buf, len, "/tmp/bullhorn-%s-XXXXXX", tag) >= len)
		return -1;
	return mkdtemp(buf) ? 0 : -1;
}

/* A FIFO for a remote (evdev) device the test writes: path gets
 * FOLDER/name in a new temp folder; the FIFO is made there unless absent
 * (the remote is not plugged in yet). 0 or a negative errno. */
static inline int tu_fifo_new(char *path, size_t len, const char *name,
			      bool absent)
{
	char tmp[64];
	int r = tu_mkdtemp(tmp, sizeof(tmp), "fifo");

	if (r < 0)
		return r;
	snprintf(path, len, "%s/%s", tmp, name);
	return absent || mkfifo(path, 0600) == 0 ? 0 : -errno;
}

/* Closes wfd (when >= 0) and removes the FIFO and its folder. */
static inline void tu_fifo_remove(const char *path, int wfd)
{
	char *dir = path_dirname(path);

	if (wfd >= 0)
		close(wfd);
	unlink(path);
	if (dir)
		rmdir(dir);
	free(dir);
}

/* Removes a folder and everything in it. */
static inline void tu_rmtree(const char *dir)
{
	nftw(dir, tu_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* The names in dir, sorted, joined by '|' ("a|b"); -1 if it cannot be
 * read or out is too small. */
static inline int tu_list_dir(const char *dir, char *out, size_t len)
{
	struct dirent **names;
	int n = scandir(dir, &names, NULL, alphasort), r = 0;
	size_t used = 0;

	if (n < 0)
		return -1;
	out[0] = '\0';
	for (int i = 0; i < n; i++) {
		const char *name = names[i]->d_name;

		if (r == 0 && strcmp(name, ".") != 0 &&
		    strcmp(name, "..") != 0) {
			int w = snprintf(out + used, len - used, "%s%s",
					 used ? "|" : "", name);

			if (w < 0 || (size_t)w >= len - used)
				r = -1;
			else
				used += (size_t)w;
		}
		free(names[i]);
	}
	free(names);
	return r;
}

/* A speech-like test signal: a 150 Hz harmonic series (falling 6 dB per
 * octave) under a syllable-rate envelope, so its peak-to-loudness ratio
 * is that of plain speech and the loudness target is reachable under the
 * ceiling. seed varies the pitch so messages differ. */
static inline float *tu_speechlike(double seconds, unsigned rate, double amp,
				   int seed, size_t *frames)
{
	size_t n = (size_t)(seconds * rate);
	float *s = calloc(n, sizeof(float));
	double f0 = 120.0 + 15.0 * seed;

	for (size_t i = 0; s && i < n; i++) {
		double t = (double)i / rate, v = 0;
		/* Syllables with short pauses between them, like speech. */
		double syl = sin(2 * M_PI * 4.0 * t);
		double env = syl > -0.5 ? (syl + 0.5) / 1.5 : 0.0;

		for (int h = 1; h <= 12; h++)
			v += sin(2 * M_PI * f0 * h * t + h * 0.7) / h;
		s[i] = (float)(amp * env * v / 3.0);
	}
	*frames = n;
	return s;
}

/* Writes a recording with libsndfile (format e.g. SF_FORMAT_WAV |
 * SF_FORMAT_PCM_16), channels copies of the mono signal. */
static inline void tu_write_audio(const char *path, const float *mono,
				  size_t frames, unsigned rate,
				  unsigned channels, int format)
{
	SF_INFO info = {.samplerate = (int)rate,
			.channels = (int)channels,
			.format = format};
	SNDFILE *sf = sf_open(path, SFM_WRITE, &info);
	float *buf = malloc(frames * channels * sizeof(float));

	if (!sf || !buf) {
		fprintf(stderr, "cannot write %s\n", path);
		abort();
	}
	for (size_t i = 0; i < frames; i++)
		for (unsigned c = 0; c < channels; c++)
			buf[i * channels + c] = mono[i];
	sf_writef_float(sf, buf, (sf_count_t)frames);
	sf_close(sf);
	free(buf);
}

/* The standard test library: a chime in _shared; en and es, messages rights
 * (1.0 s), door (3.0 s, long enough to be interrupted) and silent (0.6 s, en
 * only as 44.1 kHz stereo, to go through the resampler); _language names. */
static inline void tu_make_library(const char *lib)
{
	static const struct {
		const char *lang, *msg;
		double seconds;
		unsigned rate, channels;
	} items[] = {
	    {"en", "rights", 1.0, 48000, 1},
	    {"es", "rights", 1.2, 48000, 1},
	    {"en", "door", 3.0, 48000, 1},
	    {"es", "door", 3.0, 48000, 1},
	    {"en", "silent", 0.6, 44100, 2},
	    {"en", "_language", 0.4, 48000, 1},
	    {"es", "_language", 0.5, 48000, 1},
	};
	char path[512];

	mkdir(lib, 0755);
	{
		size_t n;
		float *s = tu_speechlike(0.3, 48000, 0.1, 9, &n);

		snprintf(path, sizeof(path), "%s/_shared", lib);
		mkdir(path, 0755);
		snprintf(path, sizeof(path), "%s/_shared/chime.wav", lib);
		tu_write_audio(path, s, n, 48000, 1,
			       SF_FORMAT_WAV | SF_FORMAT_PCM_16);
		free(s);
	}
	for (size_t i = 0; i < sizeof(items) / sizeof(items[0]); i++) {
		size_t n;
		float *s = tu_speechlike(items[i].seconds, items[i].rate, 0.1,
					 (int)i, &n);

		snprintf(path, sizeof(path), "%s/%s", lib, items[i].lang);
		mkdir(path, 0755);
		snprintf(path, sizeof(path), "%s/%s/%s.wav", lib, items[i].lang,
			 items[i].msg);
		tu_write_audio(path, s, n, items[i].rate, items[i].channels,
			       SF_FORMAT_WAV | SF_FORMAT_PCM_16);
		free(s);
	}
}

static inline void tu_write_config(struct tu *t)
{
	char text[4096];
	const struct tu_opts *o = &t->o;

	snprintf(text, sizeof(text),
		 "[audio]\ndevice = %s\nrate = 48000\nchannels = 2\n"
		 "buffer_ms = %u\n"
		 "# The test PCM is an external plugin that rewinds for real.\n"
		 "rewind = yes\n\n"
		 "[paths]\nlibrary = %s\ncache = %s/cache\nstate = %s/state\n"
		 "socket = %s\n\n"
		 "[loudness]\ntarget_lufs = %.1f\nceiling_dbtp = -1.0\n\n"
		 "[playback]\nlanguages = %s\ngap_s = %.3f\n"
		 "loop_limit_s = %.1f\nvolume = %u\nmax_volume = %u\n"
		 "chime = %s\nspeak_language = %s\n\n"
		 "[record]\ndevice = mic\nmax_s = 5\n\n"
		 "[keys]\n1 = play rights\n0 = stop\n\n%s",
		 o->device, o->buffer_ms, t->lib, t->dir, t->dir, t->sock,
		 o->target_lufs, o->languages, o->gap_s, o->loop_limit_s,
		 o->volume, o->max_volume, o->chime ? "yes" : "no",
		 o->speak_language ? "yes" : "no", o->extra ? o->extra : "");
	tu_write(t->cfg, text);
}

/* Every live tu, so a test that fails half-way (cmocka jumps out of it)
 * still has its daemon killed and folder removed by tu_teardown. */
#define TU_MAX_LIVE 8
static struct tu *tu_live[TU_MAX_LIVE];

/* Makes the folder, library (unless o->library), ALSA config and config. */
static inline struct tu *tu_new(const struct tu_opts *opts)
{
	struct tu *t = calloc(1, sizeof(*t));
	char text[2048];

	if (tu_mkdtemp(t->dir, sizeof(t->dir), "test") < 0)
		abort();
	if (opts)
		t->o = *opts;
	if (!t->o.device)
		t->o.device = "speaker";
	if (!t->o.languages)
		t->o.languages = "en, es";
	if (t->o.gap_s == 0)
		t->o.gap_s = 0.5;
	if (!t->o.volume)
		t->o.volume = 100;
	if (!t->o.max_volume)
		t->o.max_volume = 100;
	if (t->o.target_lufs == 0)
		t->o.target_lufs = -18;
	if (!t->o.buffer_ms)
		t->o.buffer_ms = 40;
	if (t->o.speed == 0)
		t->o.speed = 1;
#define TU_PATH(f, name) snprintf(t->f, sizeof(t->f), "%s/" name, t->dir)
	TU_PATH(lib, "lib");
	TU_PATH(cfg, "bullhorn.ini");
	TU_PATH(sock, "sock");
	TU_PATH(out, "out.raw");
	TU_PATH(events, "events");
	TU_PATH(log, "log");
	TU_PATH(nocard, "nocard");
	TU_PATH(unplug, "unplug");
	TU_PATH(asound, "asound.conf");
#undef TU_PATH
	if (t->o.library)
		snprintf(t->lib, sizeof(t->lib), "%s", t->o.library);
	else
		tu_make_library(t->lib);
	snprintf(
	    text, sizeof(text),
	    "pcm_type.bhrt { lib \"%s/%s/tests/libasound_module_pcm_bhrt.so\" "
	    "}\n"
	    "pcm.speaker { type bhrt file \"%s\" events \"%s\" speed %.2f "
	    "open_fail \"%s\" unplug \"%s\"\n"
	    "  hint { show on description \"bullhorn test speaker\" } }\n"
	    "pcm.nullfile { type file slave.pcm { type null } "
	    "file \"%s\" format raw }\n"
	    "pcm.mic { type file slave.pcm { type null } file \"/dev/null\" "
	    "infile \"%s/mic.raw\" format raw }\n",
	    tu_build()[0] == '/' ? ""
	    : getenv("PWD")	 ? getenv("PWD")
				 : ".",
	    tu_build()[0] == '/' ? tu_build() + 1 : tu_build(), t->out,
	    t->events, t->o.speed, t->nocard, t->unplug, t->out, t->dir);
	tu_write(t->asound, text);
	tu_write_config(t);
	for (int i = 0; i < TU_MAX_LIVE; i++)
		if (!tu_live[i]) {
			tu_live[i] = t;
			break;
		}
	return t;
}

static inline int tu_request(struct tu *t, const char *line, char *reply,
			     size_t len)
{
	return control_request(t->sock, line, reply, len, 5000);
}

/* Starts bullhornd (with --keys reading keys_fd as its stdin when
 * keys_fd >= 0) and returns at once; its output is appended to t->log.
 * Returns its pid (also in t->pid). */
static inline pid_t tu_spawn_with(struct tu *t, int keys_fd)
{
	char daemon[256];

	snprintf(daemon, sizeof(daemon), "%s/bullhornd", tu_build());
	t->pid = fork();
	if (t->pid == 0) {
		int fd = open(t->log, O_WRONLY | O_CREAT | O_APPEND, 0644);

		dup2(fd, 1);
		dup2(fd, 2);
		setenv("ALSA_CONFIG_PATH", t->asound, 1);
		if (keys_fd >= 0) {
			dup2(keys_fd, 0);
			execl(daemon, daemon, "--config", t->cfg, "--verbose",
			      "--keys", NULL);
		}
		execl(daemon, daemon, "--config", t->cfg, "--verbose", NULL);
		_exit(127);
	}
	return t->pid;
}

/* tu_spawn_with, then: 0 once it answers, or its exit status (as a
 * positive number) if it exited first. */
static inline int tu_start_with(struct tu *t, int keys_fd)
{
	char reply[256];

	tu_spawn_with(t, keys_fd);
	/* Sanitized builds process a library many times slower. */
	for (int i = 0; i < 3000; i++) {
		int status;

		if (waitpid(t->pid, &status, WNOHANG) == t->pid) {
			t->pid = 0;
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
		}
		if (tu_request(t, "ping", reply, sizeof(reply)) == 0)
			return 0;
		tu_sleep_ms(20);
	}
	return -ETIMEDOUT;
}

static inline int tu_start(struct tu *t)
{
	return tu_start_with(t, -1);
}

/* Runs the bullhorn CLI with args on this tu's config; returns its exit
 * code and, in out (caller frees), what it printed on stdout and stderr. */
static inline int tu_cli(struct tu *t, const char *args, char **out)
{
	char cmd[2048], file[256];
	int status;

	snprintf(file, sizeof(file), "%s/cli.out", t->dir);
	snprintf(
	    cmd, sizeof(cmd),
	    "ALSA_CONFIG_PATH=%s %s/bullhorn --config %s %s </dev/null >%s "
	    "2>&1",
	    t->asound, tu_build(), t->cfg, args, file);
	status = system(cmd);
	*out = tu_slurp(file);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

/* SIGTERM and wait; returns the exit code (or 128+signal). */
static inline int tu_stop(struct tu *t)
{
	int status = 0;

	if (t->pid <= 0)
		return -1;
	kill(t->pid, SIGTERM);
	waitpid(t->pid, &status, 0);
	t->pid = 0;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static inline void tu_free(struct tu *t)
{
	for (int i = 0; i < TU_MAX_LIVE; i++)
		if (tu_live[i] == t)
			tu_live[i] = NULL;
	if (t->pid > 0) {
		kill(t->pid, SIGKILL);
		waitpid(t->pid, NULL, 0);
	}
	if (getenv("TU_KEEP"))
		fprintf(stderr, "kept %s\n", t->dir);
	else
		tu_rmtree(t->dir);
	free(t);
}

static inline int tu_teardown(void **state)
{
	(void)state;
	for (int i = 0; i < TU_MAX_LIVE; i++)
		if (tu_live[i]) {
			if (getenv("TU_KEEP") == NULL) {
				char *log = tu_slurp(tu_live[i]->log);

				fprintf(stderr,
					"--- daemon log of the failed "
					"test:\n%s---\n",
					log);
				free(log);
			}
			tu_free(tu_live[i]);
		}
	return 0;
}

/* Whole file as a string (empty when missing). Caller frees. */
static inline char *tu_slurp(const char *path)
{
	char *data = NULL;
	size_t len;

	if (read_file(path, &data, &len, 64 << 20) < 0)
		return strdup("");
	return data;
}

static inline int tu_count(const char *path, const char *needle)
{
	char *s = tu_slurp(path), *p = s;
	int n = 0;

	while ((p = strstr(p, needle))) {
		n++;
		p += strlen(needle);
	}
	free(s);
	return n;
}

/* Waits until the daemon has gone idle n times since it started: every
 * sequence has played out and the output is stopped, so the capture is
 * complete. */
static inline int tu_wait_idle(struct tu *t, int n, int timeout_ms)
{
	for (int waited = 0; waited < timeout_ms; waited += 10) {
		if (tu_count(t->log, "debug: idle") >= n)
			return 0;
		tu_sleep_ms(10);
	}
	return -ETIMEDOUT;
}

static inline int tu_wait_log(struct tu *t, const char *needle, int timeout_ms)
{
	for (int waited = 0; waited < timeout_ms; waited += 10) {
		if (tu_count(t->log, needle) > 0)
			return 0;
		tu_sleep_ms(10);
	}
	return -ETIMEDOUT;
}

/* The speaker's output: S16 stereo; the left channel as float. */
static inline float *tu_capture(struct tu *t, size_t *frames)
{
	char *raw = NULL;
	size_t len = 0;
	float *s;

	if (read_file(t->out, &raw, &len, 256 << 20) < 0)
		len = 0;
	*frames = len / 4;
	s = calloc(*frames + 1, sizeof(float));
	for (size_t i = 0; i < *frames; i++) {
		int16_t v;

		memcpy(&v, raw + i * 4, 2);
		s[i] = (float)v / 32767.0f;
	}
	free(raw);
	return s;
}

/* `bullhorn render` of (message, lang) read back as float. */
static inline float *tu_render(struct tu *t, const char *message,
			       const char *lang, size_t *frames)
{
	char cmd[1024], wav[256];
	SF_INFO info = {0};
	SNDFILE *sf;
	float *s;

	snprintf(wav, sizeof(wav), "%s/render-%s-%s.wav", t->dir, message,
		 lang);
	snprintf(cmd, sizeof(cmd),
		 "%s/bullhorn -c %s render %s %s -o %s 2>/dev/null", tu_build(),
		 t->cfg, message, lang, wav);
	if (system(cmd) != 0)
		return NULL;
	sf = sf_open(wav, SFM_READ, &info);
	if (!sf)
		return NULL;
	s = calloc((size_t)info.frames + 1, sizeof(float));
	*frames = (size_t)sf_readf_float(sf, s, info.frames);
	sf_close(sf);
	return s;
}

/* A /proc file whole (tu_slurp cannot: they have size 0); "" when it
 * cannot be read. Caller frees. */
static inline char *tu_slurp_proc(const char *path)
{
	size_t len = 0, cap = 8192;
	char *s = calloc(1, cap);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (!s)
		abort();
	while (fd >= 0 && len < cap - 1 &&
	       (n = read(fd, s + len, cap - 1 - len)) > 0)
		len += (size_t)n;
	s[len] = '\0';
	if (fd >= 0)
		close(fd);
	return s;
}

/* Voluntary and involuntary context switches of pid so far: a daemon
 * that sleeps in poll() without a timeout adds none. */
static inline long tu_ctx_switches(pid_t pid)
{
	char path[64], *s, *p;
	long total = 0;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	s = tu_slurp_proc(path);
	for (p = s; (p = strstr(p, "ctxt_switches:")); p++)
		total += atol(p + strlen("ctxt_switches:"));
	free(s);
	return total;
}

/* Where ref stands whole in cap (every sample within tol), searching
 * from frame from; -1 if nowhere. */
static inline long tu_find_clip(const float *cap, size_t cap_n, size_t from,
				const float *ref, size_t ref_n, float tol)
{
	for (size_t off = from; off + ref_n <= cap_n; off++) {
		size_t i;

		for (i = 0; i < ref_n; i++)
			if (fabsf(cap[off + i] - ref[i]) > tol)
				break;
		if (i == ref_n)
			return (long)off;
	}
	return -1;
}

/* Largest sample-to-sample step: a click shows as a step far larger than
 * the signal's own. */
static inline float tu_max_step(const float *s, size_t n)
{
	float m = 0;

	for (size_t i = 1; i < n; i++)
		if (fabsf(s[i] - s[i - 1]) > m)
			m = fabsf(s[i] - s[i - 1]);
	return m;
}

/* Starts bullhornd and returns at once, without waiting for it to answer
 * (tests that kill it mid-start); its log is appended to t->log. Returns
 * its pid (also in t->pid). */
static inline pid_t tu_spawn_daemon(struct tu *t)
{
	return tu_spawn_with(t, -1);
}

/* Waits for a spawned bullhornd to answer ping (polling every 2 ms):
 * 0, its exit status (positive) if it exited first, or -ETIMEDOUT. */
static inline int tu_wait_ready(struct tu *t, int timeout_ms)
{
	char reply[64];
	int64_t end = now_ns() + (int64_t)timeout_ms * 1000000;

	while (now_ns() < end) {
		int status;

		if (waitpid(t->pid, &status, WNOHANG) == t->pid) {
			t->pid = 0;
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
		}
		if (control_request(t->sock, "ping", reply, sizeof(reply),
				    1000) == 0)
			return 0;
		tu_sleep_ms(2);
	}
	return -ETIMEDOUT;
}

/* Starts `bullhorn --config <t's config> args...` (args ends with NULL)
 * and returns at once; what it prints goes to out_path. */
static inline pid_t tu_spawn_cli(struct tu *t, const char *out_path,
				 const char *const *args)
{
	char prog[256];
	const char *argv[16];
	size_t n = 0;
	pid_t pid;

	snprintf(prog, sizeof(prog), "%s/bullhorn", tu_build());
	argv[n++] = prog;
	argv[n++] = "--config";
	argv[n++] = t->cfg;
	for (size_t i = 0; args[i] && n < 15; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	pid = fork();
	if (pid == 0) {
		int fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		int null = open("/dev/null", O_RDONLY);

		dup2(null, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		setenv("ALSA_CONFIG_PATH", t->asound, 1);
		execv(prog, (char *const *)argv);
		_exit(127);
	}
	return pid;
}

/* SIGKILLs pid and reaps it. True when it had already exited by itself
 * (then *status holds how). */
static inline bool tu_kill9(pid_t pid, int *status)
{
	int st = 0;
	bool exited = waitpid(pid, &st, WNOHANG) == pid;

	if (!exited) {
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
	}
	if (status)
		*status = st;
	return exited;
}

/* CRC-32 and size of a whole file; -errno when it cannot be read. */
static inline int tu_file_crc(const char *path, uint32_t *crc, size_t *size)
{
	char *data;
	size_t len;
	int r = read_file(path, &data, &len, 256u << 20);

	if (r < 0)
		return r;
	*crc = crc32_update(0, data, len);
	*size = len;
	free(data);
	return 0;
}

/* The events file's value for the first line starting with word. */
static inline long long tu_event_ns(struct tu *t, const char *word, int nth)
{
	char *s = tu_slurp(t->events), *line = s;
	long long v = -1;
	size_t wl = strlen(word);

	while (line && *line) {
		if (strncmp(line, word, wl) == 0 && line[wl] == ' ' &&
		    nth-- == 0) {
			v = atoll(line + wl + 1);
			break;
		}
		line = strchr(line, '\n');
		if (line)
			line++;
	}
	free(s);
	return v;
}

/* Fault injection through the speaker's control file (tests/alsa/
 * README.md, "Commands"). tu_fault_enable adds the file to t's ALSA
 * config (call it before tu_start); tu_fault appends one command line,
 * which the speaker carries out at its next pointer read. */
static inline void tu_fault_path(const struct tu *t, char *buf, size_t len)
{
	snprintf(buf, len, "%s/control", t->dir);
}

static inline void tu_fault_enable(struct tu *t)
{
	char path[256], line[320];
	int fd = open(t->asound, O_WRONLY | O_APPEND | O_CLOEXEC);

	tu_fault_path(t, path, sizeof(path));
	/* ALSA merges this key into the speaker defined above it. */
	snprintf(line, sizeof(line), "pcm.speaker.control \"%s\"\n", path);
	if (fd < 0 || write(fd, line, strlen(line)) != (ssize_t)strlen(line))
		abort();
	close(fd);
}

static inline void tu_fault(struct tu *t, const char *command)
{
	char path[256], line[160];
	int fd, n;

	tu_fault_path(t, path, sizeof(path));
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	n = snprintf(line, sizeof(line), "%s\n", command);
	/* One write: the speaker never reads half a command. */
	if (fd < 0 || n <= 0 || write(fd, line, (size_t)n) != n)
		abort();
	close(fd);
}

/* Lines of the events file that start with word and a space. */
static inline int tu_event_count(struct tu *t, const char *word)
{
	int n = 0;

	while (tu_event_ns(t, word, n) >= 0)
		n++;
	return n;
}

/* Waits for the nth event line starting with word; its time, or -1. */
static inline long long tu_wait_event(struct tu *t, const char *word, int nth,
				      int timeout_ms)
{
	for (int waited = 0; waited < timeout_ms; waited += 5) {
		long long ns = tu_event_ns(t, word, nth);

		if (ns >= 0)
			return ns;
		tu_sleep_ms(5);
	}
	return -1;
}

/* CPU time pid has used so far (user + system, from /proc/PID/stat), in
 * milliseconds; -1 if it cannot be read. */
static inline long tu_cpu_ms(pid_t pid)
{
	char path[64], *s, *p;
	unsigned long long utime, stime;
	long tick = sysconf(_SC_CLK_TCK);

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	s = tu_slurp_proc(path);
	/* The name in parentheses may hold spaces: fields count from the
	 * last ')'; utime and stime are fields 14 and 15. */
	p = strrchr(s, ')');
	if (!p || tick <= 0 ||
	    sscanf(p + 1,
		   " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
		   &utime, &stime) != 2) {
		free(s);
		return -1;
	}
	free(s);
	return (long)((utime + stime) * 1000ULL / (unsigned long long)tick);
}

#endif
