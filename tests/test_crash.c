/* Crash consistency (issue 8, item 2). bullhornd and bullhorn are killed
 * with SIGKILL at random points of the operations that write files: a
 * cold start building the cache, an import (new and --replace), volume
 * and language changes saved when playback ends or at exit, and a reload
 * of a changed library. After every kill: each cache entry on disk
 * validates, the state file parses to the old or the new values, the
 * volunteers' recordings are the old set or the new one (a replaced
 * recording is in place or in .backup/, never gone), temp files are never
 * taken for recordings; the daemon starts again, logs no problem (no
 * corrupt entry met), plays exactly what `bullhorn render` makes of the
 * messages being written, and `bullhorn check` passes.
 *
 * Then a full disk (a small tmpfs in a private mount namespace; root
 * only, skipped otherwise): a cache that does not fit and an import into
 * a full writable library: clear errors, nothing half-written, what
 * exists still plays.
 *
 * BULLHORN_CRASH_ITERS: kills in all (default 8, `make crash` 200),
 * shared between the four operations. BULLHORN_CRASH_SEED replays a run:
 * the kill delays are drawn from it (the process' own timing still
 * varies from run to run). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sched.h>
#include <sys/mount.h>

#include "cache.h"
#include "importer.h"
#include "library.h"
#include "state.h"
#include "testutil.h"

#define LSB (1.01f / 32767.0f)

static uint64_t crash_seed, rng;
static unsigned crash_iters;

static uint64_t rnd(void)
{
	/* xorshift64*: enough for delays, and the same on every libc. */
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 0x2545f4914f6cdd1dULL;
}

static double rnd_unit(void)
{
	return (double)(rnd() >> 11) * 0x1.0p-53;
}

/* Half the kills anywhere in the operation (and a little after it), half
 * in its last 40 %, where files are written, synced and renamed. */
static int64_t draw_delay_ns(int64_t op_ns)
{
	double u = rnd_unit();

	return (int64_t)((rnd() & 1 ? 1.1 * u : 0.6 + 0.5 * u) * (double)op_ns);
}

/* The middle one of three durations: one slow run (the machine is
 * shared) must not push most kills past the end of the operation. */
static int64_t median3(const int64_t *v)
{
	int64_t lo = v[0] < v[1] ? v[0] : v[1];
	int64_t hi = v[0] < v[1] ? v[1] : v[0];

	return v[2] < lo ? lo : v[2] > hi ? hi : v[2];
}

static void sleep_ns(int64_t ns)
{
	struct timespec ts = {ns / 1000000000, ns % 1000000000};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* What a run is doing, for failure messages: enough to replay it. */
struct crash {
	struct tu *t;
	const char *op;
	unsigned iter;
	int64_t delay_ns;
	char cache[256];
	unsigned tmp_left;    /* temp files a kill left */
	const char *tmp_fate; /* what becomes of them */
	unsigned finished;    /* the operation ended before the kill */
	unsigned starts;      /* daemon (re)starts checked */
	unsigned plays;	      /* clips compared with bullhorn render */
	unsigned outcome[6];
};

static void crash_fail(const struct crash *x, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void crash_fail(const struct crash *x, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fail_msg("%s, iteration %u, killed after %.3f ms "
		 "(BULLHORN_CRASH_SEED=%llu): %s",
		 x->op, x->iter, (double)x->delay_ns / 1e6,
		 (unsigned long long)crash_seed, msg);
}

/* Kills for one of the four operations. */
static unsigned iters_per_op(void)
{
	return crash_iters / 4 ? crash_iters / 4 : 1;
}

/* A reference clip: what `bullhorn render` makes of (message, lang). */
struct ref {
	char msg[32], lang[16];
	float *s;
	size_t n;
};

static void ref_render(struct crash *x, struct ref *r, const char *msg,
		       const char *lang)
{
	snprintf(r->msg, sizeof(r->msg), "%s", msg);
	snprintf(r->lang, sizeof(r->lang), "%s", lang);
	r->s = tu_render(x->t, msg, lang, &r->n);
	if (!r->s)
		crash_fail(x, "bullhorn render %s %s failed", msg, lang);
}

static void refs_free(struct ref *r, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(r[i].s);
		r[i].s = NULL;
	}
}

/* Temp files in dir (names with ".tmp."). */
static unsigned count_tmp(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	unsigned n = 0;

	while (d && (e = readdir(d)))
		if (strstr(e->d_name, ".tmp."))
			n++;
	if (d)
		closedir(d);
	return n;
}

/* Every entry in the cache folder is whole: the daemon's own check
 * (size, header, CRC) accepts it. Temp files are counted, not read. */
static unsigned check_cache(struct crash *x)
{
	DIR *d = opendir(x->cache);
	struct dirent *e;
	unsigned entries = 0;

	if (!d)
		return 0;
	while ((e = readdir(d))) {
		size_t len = strlen(e->d_name);
		uint64_t key;
		struct clip *c;
		char *end;
		int r;

		if (strstr(e->d_name, ".tmp.") || e->d_name[0] == '.')
			continue;
		if (len != 21 || strcmp(e->d_name + 16, ".clip") != 0) {
			closedir(d);
			crash_fail(x, "unexpected file %s in the cache",
				   e->d_name);
		}
		key = strtoull(e->d_name, &end, 16);
		if (end != e->d_name + 16) {
			closedir(d);
			crash_fail(x, "bad cache entry name %s", e->d_name);
		}
		r = cache_load(x->cache, key, &c);
		if (r < 0) {
			closedir(d);
			crash_fail(x, "cache entry %s is not whole (%s)",
				   e->d_name, strerror(-r));
		}
		clip_unref(c);
		entries++;
	}
	closedir(d);
	return entries;
}

/* The daemon's log since its start has no warning or error: no corrupt
 * cache entry met, no damaged state, no recording skipped. */
static void check_log_clean(struct crash *x)
{
	char *log = tu_slurp(x->t->log), *p;

	for (p = log; p && *p;) {
		char *nl = strchr(p, '\n');

		if (nl)
			*nl = '\0';
		if (strstr(p, ": warning: ") || strstr(p, ": error: ")) {
			char line[512];

			snprintf(line, sizeof(line), "%s", p);
			free(log);
			crash_fail(x, "the restarted daemon logged: %s", line);
		}
		p = nl ? nl + 1 : NULL;
	}
	free(log);
}

static void request_ok(struct crash *x, const char *line, const char *want)
{
	char reply[512];

	if (tu_request(x->t, line, reply, sizeof(reply)) < 0 ||
	    strncmp(reply, want, strlen(want)) != 0)
		crash_fail(x, "'%s' answered '%s', want '%s...'", line, reply,
			   want);
}

/* Starts the daemon on what the kill left and checks it: it answers, its
 * log is clean, the start removed leftover temp files from the cache,
 * each ref plays exactly as rendered, and it stops with 0. */
static void restart_and_play(struct crash *x, const struct ref *refs, size_t n)
{
	struct tu *t = x->t;
	size_t cap_n, from = 0;
	float *cap;
	int r;

	unlink(t->log);
	unlink(t->out);
	tu_spawn_daemon(t);
	r = tu_wait_ready(t, 30000);
	if (r != 0)
		crash_fail(x, "the daemon did not start again (%d)", r);
	x->starts++;
	check_log_clean(x);
	if (count_tmp(x->cache))
		crash_fail(x, "temp files are still in the cache after a "
			      "start");
	for (size_t i = 0; i < n; i++) {
		char line[128], want[128];

		snprintf(line, sizeof(line), "play %s %s", refs[i].msg,
			 refs[i].lang);
		snprintf(want, sizeof(want), "ok playing %s %s", refs[i].msg,
			 refs[i].lang);
		request_ok(x, line, want);
		if (tu_wait_idle(t, (int)i + 1, 10000) < 0)
			crash_fail(x, "%s did not play out", line);
	}
	r = tu_stop(t);
	if (r != 0)
		crash_fail(x, "the daemon exited with %d", r);
	cap = tu_capture(t, &cap_n);
	for (size_t i = 0; i < n; i++) {
		long off =
		    tu_find_clip(cap, cap_n, from, refs[i].s, refs[i].n, LSB);

		if (off < 0) {
			free(cap);
			crash_fail(x,
				   "%s/%s did not play as bullhorn render "
				   "makes it",
				   refs[i].msg, refs[i].lang);
		}
		from = (size_t)off + refs[i].n;
		x->plays++;
	}
	free(cap);
}

static void check_passes(struct crash *x)
{
	char *out, tail[600];
	int r = tu_cli(x->t, "check", &out);
	size_t len = strlen(out);

	/* The end of its output: the errors and the verdict. */
	snprintf(tail, sizeof(tail), "%s", len > 500 ? out + len - 500 : out);
	free(out);
	if (r != 0)
		crash_fail(x, "bullhorn check exited %d:\n%s", r, tail);
}

static struct crash *crash_new(const char *op, const struct tu_opts *o)
{
	struct crash *x = calloc(1, sizeof(*x));

	x->op = op;
	x->t = tu_new(o);
	snprintf(x->cache, sizeof(x->cache), "%s/cache", x->t->dir);
	return x;
}

static void crash_report(const struct crash *x, int64_t t0,
			 const char *const *names)
{
	printf("crash: %s: %u kills in %.1f s; %u finished before the kill; "
	       "%u temp files left by kills (%s); %u restarts and %u clips "
	       "checked against bullhorn render\n",
	       x->op, x->iter, (double)(now_ns() - t0) / 1e9, x->finished,
	       x->tmp_left,
	       x->tmp_fate ? x->tmp_fate : "removed by the next start",
	       x->starts, x->plays);
	for (size_t i = 0; names && names[i]; i++)
		printf("crash: %s:   %-52s %u\n", x->op, names[i],
		       x->outcome[i]);
	fflush(stdout);
}

static void crash_free(struct crash *x)
{
	tu_free(x->t);
	free(x);
}

/* Removes cache entries: all of them, or each with even odds. */
static void thin_cache(struct crash *x, bool all)
{
	DIR *d = opendir(x->cache);
	struct dirent *e;

	while (d && (e = readdir(d))) {
		char path[512];

		if (e->d_name[0] == '.' || (!all && (rnd() & 1)))
			continue;
		/* Leftover temp files stay: the start must ignore them. */
		if (strstr(e->d_name, ".tmp."))
			continue;
		snprintf(path, sizeof(path), "%s/%s", x->cache, e->d_name);
		unlink(path);
	}
	if (d)
		closedir(d);
}

/* (a) A cold start building the cache, killed while it processes. */
static void test_kill_cold_start(void **state)
{
	struct tu_opts o = {.device = "nullfile"};
	struct crash *x = crash_new("cold start", &o);
	static const char *const names[] = {
	    "killed while building (entries missing)",
	    "killed with every entry on disk (written or kept)", NULL};
	struct ref refs[5];
	int64_t runs[3], op_ns, t0;
	unsigned total, n = iters_per_op();

	(void)state;
	/* How long a cold start takes to build the cache, here and now. */
	for (int i = 0; i < 3; i++) {
		int64_t s;

		thin_cache(x, true);
		unlink(x->t->log);
		s = now_ns();
		tu_spawn_daemon(x->t);
		while (tu_count(x->t->log, " recordings ready (") == 0) {
			assert_true(now_ns() - s < 30000000000LL);
			sleep_ns(500000);
		}
		runs[i] = now_ns() - s;
		assert_int_equal(tu_wait_ready(x->t, 30000), 0);
		assert_int_equal(tu_stop(x->t), 0);
	}
	op_ns = median3(runs);
	total = check_cache(x);
	printf("crash: a cold start builds the cache of %u recordings in "
	       "%.0f ms\n",
	       total, (double)op_ns / 1e6);
	ref_render(x, &refs[0], "rights", "en");
	ref_render(x, &refs[1], "rights", "es");
	ref_render(x, &refs[2], "door", "en");
	ref_render(x, &refs[3], "door", "es");
	ref_render(x, &refs[4], "silent", "en");
	t0 = now_ns();
	for (x->iter = 0; x->iter < n; x->iter++) {
		unsigned entries;

		thin_cache(x, rnd() & 1);
		x->delay_ns = draw_delay_ns(op_ns);
		unlink(x->t->log);
		tu_spawn_daemon(x->t);
		sleep_ns(x->delay_ns);
		if (tu_kill9(x->t->pid, NULL))
			crash_fail(x, "the daemon exited by itself");
		x->t->pid = 0;
		x->tmp_left += count_tmp(x->cache);
		entries = check_cache(x);
		x->outcome[entries < total ? 0 : 1]++;
		restart_and_play(x, refs, 5);
		if (check_cache(x) != total)
			crash_fail(x, "the restart did not complete the cache");
		check_passes(x);
	}
	crash_report(x, t0, names);
	refs_free(refs, 5);
	crash_free(x);
}

/* The files under a folder: relative path, size and CRC. */
struct snap_file {
	char rel[256];
	size_t size;
	uint32_t crc;
};

struct snap {
	struct snap_file *f;
	size_t n, cap;
	size_t root_len;
};

static struct snap *snap_cur;

static int snap_one(const char *path, const struct stat *st, int flag,
		    struct FTW *ftw)
{
	struct snap *s = snap_cur;
	struct snap_file *f;

	(void)st;
	(void)ftw;
	if (flag != FTW_F)
		return 0;
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 64;
		s->f = realloc(s->f, s->cap * sizeof(*s->f));
	}
	f = &s->f[s->n];
	snprintf(f->rel, sizeof(f->rel), "%s", path + s->root_len + 1);
	if (tu_file_crc(path, &f->crc, &f->size) < 0)
		return 0; /* gone meanwhile */
	s->n++;
	return 0;
}

static void snap_take(struct snap *s, const char *root)
{
	s->n = 0;
	s->root_len = strlen(root);
	snap_cur = s;
	nftw(root, snap_one, 16, FTW_PHYS);
}

static const struct snap_file *snap_find(const struct snap *s, const char *rel)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->f[i].rel, rel) == 0)
			return &s->f[i];
	return NULL;
}

/* Sources to import: speech-like, different lengths and pitches. */
#define N_SOURCES 4
struct source {
	char path[256];
	uint32_t crc;
	size_t size;
};

static void make_sources(struct crash *x, struct source *src)
{
	for (int i = 0; i < N_SOURCES; i++) {
		size_t n;
		float *s = tu_speechlike(1.5 + 0.8 * i, 44100, 0.1, 20 + i, &n);

		snprintf(src[i].path, sizeof(src[i].path), "%s/src-%d.wav",
			 x->t->dir, i);
		tu_write_audio(src[i].path, s, n, 44100, 2,
			       SF_FORMAT_WAV | SF_FORMAT_PCM_16);
		free(s);
		assert_int_equal(
		    tu_file_crc(src[i].path, &src[i].crc, &src[i].size), 0);
	}
}

static void copy_file(const char *from, const char *to)
{
	char *data;
	size_t len;

	assert_int_equal(read_file(from, &data, &len, 64u << 20), 0);
	assert_int_equal(atomic_write_file(to, data, len, 0644), 0);
	free(data);
}

/* An import's temp file ("x.wav.tmp.PID") or staged copy
 * (".x.wav.import", a dotfile): never a recording. */
static bool is_temp(const char *rel)
{
	const char *base = strrchr(rel, '/');

	base = base ? base + 1 : rel;
	return strstr(base, ".tmp.") || base[0] == '.';
}

enum import_outcome {
	IMP_NOTHING,	/* killed before anything changed */
	IMP_TEMP,	/* a temp or staging file left, nothing else */
	IMP_DONE,	/* the new recording in place (old in .backup) */
	IMP_BACKUP_ONLY /* old in .backup, new not yet in place */
};

/* Judges what a killed import left in the writable library rec: every
 * file that was there is still there, unchanged, except the replaced
 * recording, which is in place or in .backup/; anything new is the
 * imported recording whole, its backup or a temp file; the library never
 * offers a temp file as the recording. */
static enum import_outcome judge_import(struct crash *x, const char *rec,
					const struct snap *before,
					const struct snap *after,
					const char *msg, const struct source *s,
					bool replace, uint32_t old_crc)
{
	char dest[64], bprefix[64], *path;
	bool in_place = false, backed_up = false, temp = false;

	snprintf(dest, sizeof(dest), "en/%s.wav", msg);
	snprintf(bprefix, sizeof(bprefix), "en/.backup/%s.wav.", msg);
	for (size_t i = 0; i < before->n; i++) {
		const struct snap_file *b = &before->f[i];
		const struct snap_file *a = snap_find(after, b->rel);

		if (a && a->crc == b->crc && a->size == b->size)
			continue;
		/* Left by an earlier kill: ours, not the volunteer's. */
		if (is_temp(b->rel))
			continue;
		if (replace && strcmp(b->rel, dest) == 0 &&
		    (!a || (a->crc == s->crc && a->size == s->size)))
			continue;
		crash_fail(x, "%s/%s was %s", rec, b->rel,
			   a ? "changed" : "lost");
	}
	for (size_t i = 0; i < after->n; i++) {
		const struct snap_file *a = &after->f[i];
		const struct snap_file *b = snap_find(before, a->rel);

		if (strcmp(a->rel, dest) == 0) {
			if (a->crc != s->crc || a->size != s->size) {
				if (b && a->crc == b->crc)
					continue; /* the old one, in place */
				crash_fail(x,
					   "%s/%s is neither the old nor the "
					   "whole new recording",
					   rec, a->rel);
			}
			in_place = true;
		} else if (b) {
			continue;
		} else if (strncmp(a->rel, bprefix, strlen(bprefix)) == 0) {
			if (!replace || a->crc != old_crc)
				crash_fail(x,
					   "%s/%s is no backup of the old "
					   "recording",
					   rec, a->rel);
			backed_up = true;
		} else if (is_temp(a->rel)) {
			temp = true;
			x->tmp_left++;
		} else {
			crash_fail(x, "unexpected new file %s/%s", rec, a->rel);
		}
	}
	if (replace && !backed_up) {
		const struct snap_file *a = snap_find(after, dest);

		if (!a || a->crc != old_crc)
			crash_fail(x, "the replaced recording is neither in "
				      "place nor in .backup/");
	}
	if (replace && in_place && !backed_up)
		crash_fail(x, "replaced without a backup of the old one");
	path = library_recording_path(rec, "en", msg);
	if (path && !strstr(path, dest + 2)) {
		char p[512];

		snprintf(p, sizeof(p), "%s", path);
		free(path);
		crash_fail(x, "the library offers %s as %s", p, msg);
	}
	free(path);
	return in_place	   ? IMP_DONE
	       : backed_up ? IMP_BACKUP_ONLY
	       : temp	   ? IMP_TEMP
			   : IMP_NOTHING;
}

/* What a kill left mid-import, the next import finishes before its own
 * work: the staged recording of msg (whole) in place, parts removed.
 * That import, of door without --replace, is then refused (door is
 * there), so only the finishing changes the library. Returns whether a
 * staged recording was put in place. */
static bool finish_cut_off(struct crash *x, const char *rec, const char *out,
			   const char *msg, const struct source *s)
{
	const char *args[] = {"import",	   s->path, "--language", "en",
			      "--message", "door",  NULL};
	struct strv l = {0};
	char staged[64], dest[300];
	bool was_staged = false;
	uint32_t crc;
	size_t size;
	int status;

	snprintf(staged, sizeof(staged), "en/.%s.wav.import", msg);
	assert_int_equal(import_leftovers(rec, &l), 0);
	was_staged = strv_contains(&l, staged);
	strv_clear(&l);
	waitpid(tu_spawn_cli(x->t, out, args), &status, 0);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 1)
		crash_fail(x, "the import after the kill was not refused");
	assert_int_equal(import_leftovers(rec, &l), 0);
	if (l.n)
		crash_fail(x, "%s/%s is left after the next import", rec,
			   l.v[0]);
	strv_clear(&l);
	snprintf(dest, sizeof(dest), "%s/en/%s.wav", rec, msg);
	if (was_staged && (tu_file_crc(dest, &crc, &size) < 0 || crc != s->crc))
		crash_fail(x,
			   "the staged recording of %s was not put in "
			   "place by the next import",
			   msg);
	return was_staged;
}

/* (b) bullhorn import into the writable library, new and --replace,
 * killed at random. */
static void test_kill_import(void **state)
{
	char extra[512], rec[256], door[300], out[300];
	struct tu_opts o = {.device = "nullfile", .extra = extra};
	struct crash *x;
	static const char *const names[] = {
	    "killed before anything changed", "killed leaving only a temp file",
	    "killed after the new one was in place",
	    "killed with the old one in .backup/, the new not yet", NULL};
	struct source src[N_SOURCES];
	struct snap before = {0}, after = {0};
	int64_t op_ns[N_SOURCES], t0;
	unsigned n = iters_per_op(), finished_staged = 0;

	(void)state;
	/* The folder is known once the tu exists; the config is written
	 * again then. */
	extra[0] = '\0';
	x = crash_new("import", &o);
	x->tmp_fate = "never read; the next import puts a staged recording "
		      "in place and removes parts";
	snprintf(rec, sizeof(rec), "%s/rec", x->t->dir);
	snprintf(extra, sizeof(extra), "[paths]\nrecordings = %s\n", rec);
	tu_write_config(x->t);
	mkdir(rec, 0755);
	snprintf(door, sizeof(door), "%s/en/door.wav", rec);
	snprintf(out, sizeof(out), "%s/import.out", x->t->dir);
	make_sources(x, src);
	/* How long an import of each source takes (replacing, but for the
	 * very first). */
	for (int k = 0; k < N_SOURCES; k++) {
		const char *args[] = {"import",	   src[k].path, "--language",
				      "en",	   "--message", "door",
				      "--replace", NULL};
		int64_t s = now_ns();
		int status;

		waitpid(tu_spawn_cli(x->t, out, args), &status, 0);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
		op_ns[k] = now_ns() - s;
	}
	printf("crash: an import takes %.0f to %.0f ms\n",
	       (double)op_ns[0] / 1e6, (double)op_ns[N_SOURCES - 1] / 1e6);
	t0 = now_ns();
	for (x->iter = 0; x->iter < n; x->iter++) {
		bool replace = x->iter % 2;
		const char *msg = replace ? "door" : "leave";
		const struct source *s = &src[x->iter % N_SOURCES];
		const char *args[] = {"import",	   s->path, "--language", "en",
				      "--message", msg,	    "--replace",  NULL};
		uint32_t old_crc = 0;
		size_t old_size;
		struct ref refs[2];
		size_t nrefs = 0;
		char leave[300], *p;

		snprintf(leave, sizeof(leave), "%s/en/leave.wav", rec);
		if (replace) {
			/* The volunteer's current recording: another source
			 * than the one imported over it. */
			if (tu_file_crc(door, &old_crc, &old_size) < 0 ||
			    old_crc == s->crc) {
				copy_file(src[(x->iter + 1) % N_SOURCES].path,
					  door);
				assert_int_equal(
				    tu_file_crc(door, &old_crc, &old_size), 0);
			}
		} else {
			unlink(leave);
			args[6] = NULL;
		}
		snap_take(&before, rec);
		x->delay_ns = draw_delay_ns(op_ns[x->iter % N_SOURCES]);
		{
			pid_t pid = tu_spawn_cli(x->t, out, args);
			int status;

			sleep_ns(x->delay_ns);
			if (tu_kill9(pid, &status)) {
				x->finished++;
				if (!WIFEXITED(status) ||
				    WEXITSTATUS(status) != 0) {
					char *o2 = tu_slurp(out);
					char m[400];

					snprintf(m, sizeof(m), "%s", o2);
					free(o2);
					crash_fail(x, "import failed: %s", m);
				}
			}
		}
		snap_take(&after, rec);
		x->outcome[judge_import(x, rec, &before, &after, msg, s,
					replace, old_crc)]++;
		finished_staged += finish_cut_off(x, rec, out, msg, s);
		/* The daemon plays what the library now has for the
		 * message, as rendered, and the shipped rights. */
		ref_render(x, &refs[nrefs++], "rights", "en");
		p = library_recording_path2(rec, x->t->lib, "en", msg);
		if (p)
			ref_render(x, &refs[nrefs++], msg, "en");
		free(p);
		restart_and_play(x, refs, nrefs);
		refs_free(refs, nrefs);
		check_passes(x);
	}
	crash_report(x, t0, names);
	printf("crash: import: %u staged recordings put in place by the next "
	       "import\n",
	       finished_staged);
	free(before.f);
	free(after.f);
	crash_free(x);
}

/* Two replacements within one second each keep their old recording: the
 * backups' names carry the time to the second, and the second one was
 * renamed over the first. Backups named for the next few seconds are
 * there already, so the clash happens whatever the timing. */
static void test_backups_never_overwritten(void **state)
{
	char extra[512], rec[256], bdir[300], path[400], args[600], *out;
	struct tu_opts o = {.device = "nullfile", .extra = extra};
	struct source src[N_SOURCES];
	struct snap after = {0};
	struct crash *x;
	time_t now = time(NULL);
	unsigned found = 0;

	(void)state;
	extra[0] = '\0';
	x = crash_new("backups", &o);
	snprintf(rec, sizeof(rec), "%s/rec", x->t->dir);
	snprintf(extra, sizeof(extra), "[paths]\nrecordings = %s\n", rec);
	tu_write_config(x->t);
	make_sources(x, src);
	snprintf(bdir, sizeof(bdir), "%s/en/.backup", rec);
	assert_int_equal(mkdir_p(bdir, 0755), 0);
	for (int i = 0; i < 30; i++) {
		char stamp[32];
		time_t t = now + i;
		struct tm tm;

		gmtime_r(&t, &tm);
		strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", &tm);
		snprintf(path, sizeof(path), "%s/door.wav.%s", bdir, stamp);
		tu_write(path, "an older backup\n");
	}
	for (int i = 0; i < 3; i++) {
		snprintf(args, sizeof(args),
			 "import %.400s --language en --message door "
			 "--replace",
			 src[i].path);
		assert_int_equal(tu_cli(x->t, args, &out), 0);
		free(out);
	}
	/* The first two recordings are backups now, beside the 30 older
	 * ones, which are untouched; the third is in place. */
	snap_take(&after, rec);
	for (size_t i = 0; i < after.n; i++) {
		if (strcmp(after.f[i].rel, "en/door.wav") == 0)
			assert_int_equal(after.f[i].crc, src[2].crc);
		else if (after.f[i].size == strlen("an older backup\n"))
			found++;
		else if (after.f[i].crc == src[0].crc ||
			 after.f[i].crc == src[1].crc)
			found += 100;
	}
	assert_int_equal(found, 230);
	assert_int_equal(after.n, 33);
	free(after.f);
	crash_free(x);
}

/* Runs the request lines in a child process, so the daemon can be killed
 * while it handles them; with sigterm, SIGTERMs it after the last. */
static pid_t send_async(struct tu *t, const char *const *lines, bool sigterm)
{
	pid_t daemon = t->pid, pid = fork();

	if (pid == 0) {
		char reply[512];

		for (size_t i = 0; lines[i]; i++)
			control_request(t->sock, lines[i], reply, sizeof(reply),
					5000);
		if (sigterm)
			kill(daemon, SIGTERM);
		_exit(0);
	}
	return pid;
}

/* (c) Volume and language changes, saved at once when idle, when
 * playback ends, or at a SIGTERM; the daemon killed at random. */
static void test_kill_state_save(void **state)
{
	struct tu_opts o = {.device = "nullfile", .volume = 70};
	struct crash *x = crash_new("state save", &o);
	static const char *const names[] = {
	    "killed before the save (old state)",
	    "killed after the volume was saved, before the language",
	    "killed after the save (new state)", NULL};
	char statef[256];
	int64_t op_ns[3] = {0}, t0;
	unsigned n = iters_per_op();

	(void)state;
	x->tmp_fate = "never read; removed by the next start";
	snprintf(statef, sizeof(statef), "%s/state", x->t->dir);
	t0 = now_ns();
	/* Three iterations per variant measure it (killed after it). */
	for (x->iter = 0; x->iter < n + 3; x->iter++) {
		unsigned variant = x->iter % 3;
		struct state old = {.volume = 70}, now = {.volume = UINT32_MAX};
		unsigned v1;
		char v1line[32], lang1[8], reply[512], *vol, *lang;
		const char *lines[4];
		bool measure = x->iter < 3;
		pid_t sender;
		int64_t s;

		assert_int_equal(tu_start(x->t), 0);
		/* What is saved now (the config's defaults at first). */
		snprintf(old.language, sizeof(old.language), "en");
		if (access(statef, F_OK) == 0 && state_load(statef, &old) < 0)
			crash_fail(x, "the state file does not parse");
		do
			v1 = 10 + (unsigned)(rnd() % 91);
		while (v1 == old.volume);
		snprintf(v1line, sizeof(v1line), "volume %u", v1);
		snprintf(lang1, sizeof(lang1), "%s",
			 strcmp(old.language, "en") == 0 ? "es" : "en");
		/* 0: saved in the request, while idle; 1: after the
		 * announcement and the language name have played; 2: at a
		 * SIGTERM in the middle of the announcement. */
		lines[0] = variant == 0 ? v1line : "play door";
		lines[1] = variant == 0 ? "next-language" : v1line;
		lines[2] = variant == 0 ? NULL : "next-language";
		lines[3] = NULL;
		if (variant == 2)
			lines[2] = NULL;
		s = now_ns();
		sender = send_async(x->t, lines, variant == 2);
		if (measure) {
			/* Until the new values are on disk (variant 2: the
			 * daemon has exited after saving). */
			for (;;) {
				struct state st = {0};

				if (state_load(statef, &st) == 0 &&
				    st.volume == v1 &&
				    (variant == 2 ||
				     strcmp(st.language, lang1) == 0))
					break;
				if (now_ns() - s > 10000000000LL)
					crash_fail(x, "the state was not "
						      "saved");
				sleep_ns(200000);
			}
			op_ns[variant] = now_ns() - s;
			x->delay_ns = op_ns[variant];
		} else {
			x->delay_ns = draw_delay_ns(op_ns[variant]);
			sleep_ns(x->delay_ns);
		}
		if (tu_kill9(x->t->pid, NULL))
			x->finished++;
		x->t->pid = 0;
		waitpid(sender, NULL, 0);
		x->tmp_left += count_tmp(x->t->dir);
		/* The file is the old state, or the new one, never garbage
		 * (a leftover temp file is never read). */
		if (access(statef, F_OK) == 0 && state_load(statef, &now) < 0)
			crash_fail(x, "the state file does not parse");
		if (access(statef, F_OK) != 0)
			now = old;
		if (now.volume != old.volume && now.volume != v1)
			crash_fail(x,
				   "volume %u is neither the old %u nor the "
				   "new %u",
				   now.volume, old.volume, v1);
		if (strcmp(now.language, old.language) != 0 &&
		    strcmp(now.language, lang1) != 0)
			crash_fail(x, "language '%s' is neither '%s' nor '%s'",
				   now.language, old.language, lang1);
		if (!measure)
			x->outcome[now.volume == old.volume ? 0
				   : variant != 2 &&
					   strcmp(now.language, lang1) != 0
				       ? 1
				       : 2]++;
		/* It starts with what the file says, and plays. */
		unlink(x->t->log);
		tu_spawn_daemon(x->t);
		if (tu_wait_ready(x->t, 30000) != 0)
			crash_fail(x, "the daemon did not start again");
		x->starts++;
		check_log_clean(x);
		if (count_tmp(x->t->dir))
			crash_fail(x, "a temp file the kill left is still "
				      "there after the next start");
		assert_int_equal(
		    tu_request(x->t, "status", reply, sizeof(reply)), 0);
		vol = strstr(reply, " volume=");
		lang = strstr(reply, " language=");
		if (!vol || !lang || (unsigned)atoi(vol + 8) != now.volume ||
		    strncmp(lang + 10, now.language, strlen(now.language)))
			crash_fail(x,
				   "status '%s' does not match the state "
				   "file (volume %u, language %s)",
				   reply, now.volume, now.language);
		request_ok(x, "play rights", "ok playing rights");
		if (tu_wait_idle(x->t, 1, 10000) < 0)
			crash_fail(x, "rights did not play out");
		if (tu_stop(x->t) != 0)
			crash_fail(x, "the daemon did not exit with 0");
		if (x->iter == 2)
			printf("crash: state saves take %.1f, %.1f and %.1f ms "
			       "(idle, after playback, at exit)\n",
			       (double)op_ns[0] / 1e6, (double)op_ns[1] / 1e6,
			       (double)op_ns[2] / 1e6);
	}
	x->iter -= 3;
	check_passes(x);
	crash_report(x, t0, names);
	crash_free(x);
}

/* Rewrites the extra recordings of the reload test: en/extra0 and
 * en/extra1 get new content, es/extra2 comes and goes. */
static void change_library(struct crash *x, unsigned round)
{
	char path[512];

	for (int i = 0; i < 3; i++) {
		const char *lang = i == 2 ? "es" : "en";
		size_t n;
		float *s;

		snprintf(path, sizeof(path), "%s/%s/extra%d.wav", x->t->lib,
			 lang, i);
		if (i == 2 && round % 2) {
			unlink(path);
			continue;
		}
		s = tu_speechlike(1.0 + 0.3 * i, 44100, 0.05 + 0.01 * i,
				  (int)(round * 3 + (unsigned)i) % 40, &n);
		/* Written aside and renamed, like a careful copy. */
		{
			char tmp[520];

			snprintf(tmp, sizeof(tmp), "%s/.new.wav", x->t->dir);
			tu_write_audio(tmp, s, n, 44100, 1,
				       SF_FORMAT_WAV | SF_FORMAT_PCM_16);
			assert_int_equal(rename(tmp, path), 0);
		}
		free(s);
	}
}

/* (d) A reload with a changed library, killed while it processes the new
 * recordings. */
static void test_kill_reload(void **state)
{
	struct tu_opts o = {.device = "nullfile"};
	struct crash *x = crash_new("reload", &o);
	static const char *const names[] = {"killed before the reload finished",
					    "killed after the reload finished",
					    NULL};
	const char *lines[] = {"reload", NULL};
	int64_t runs[3], op_ns, t0;
	unsigned n = iters_per_op();

	(void)state;
	change_library(x, 1000);
	/* Measured as the kills will come: on a daemon just started. */
	for (unsigned i = 0; i < 3; i++) {
		int64_t s;

		assert_int_equal(tu_start(x->t), 0);
		change_library(x, 1001 + i);
		s = now_ns();
		request_ok(x, "reload", "ok reloaded");
		runs[i] = now_ns() - s;
		assert_int_equal(tu_stop(x->t), 0);
	}
	/* The longest: a reload's time varies more than the others' (up to
	 * twice the shortest here), and its last recordings and the prune
	 * must be reached too. */
	op_ns = runs[0] > runs[1] ? runs[0] : runs[1];
	op_ns = runs[2] > op_ns ? runs[2] : op_ns;
	printf("crash: a reload with 2-3 new recordings takes %.0f ms\n",
	       (double)op_ns / 1e6);
	t0 = now_ns();
	for (x->iter = 0; x->iter < n; x->iter++) {
		struct ref refs[4];
		size_t nrefs = 0;
		pid_t sender;
		char path[512];

		unlink(x->t->log);
		assert_int_equal(tu_start(x->t), 0);
		change_library(x, x->iter);
		sender = send_async(x->t, lines, false);
		x->delay_ns = draw_delay_ns(op_ns);
		sleep_ns(x->delay_ns);
		x->outcome[tu_count(x->t->log, ": info: reloaded") > 0]++;
		if (tu_kill9(x->t->pid, NULL))
			crash_fail(x, "the daemon exited by itself");
		x->t->pid = 0;
		waitpid(sender, NULL, 0);
		x->tmp_left += count_tmp(x->cache);
		check_cache(x);
		ref_render(x, &refs[nrefs++], "extra0", "en");
		ref_render(x, &refs[nrefs++], "extra1", "en");
		snprintf(path, sizeof(path), "%s/es/extra2.wav", x->t->lib);
		if (access(path, F_OK) == 0)
			ref_render(x, &refs[nrefs++], "extra2", "es");
		ref_render(x, &refs[nrefs++], "rights", "en");
		restart_and_play(x, refs, nrefs);
		refs_free(refs, nrefs);
		check_passes(x);
	}
	crash_report(x, t0, names);
	crash_free(x);
}

/* --- A full disk ------------------------------------------------------ */

static char mounted[2][256];

/* A private mount namespace for this process and what it starts, once;
 * false when that cannot be had (not root, no unshare). */
static bool private_mounts(void)
{
	static int done = -1;

	if (done < 0)
		done = geteuid() == 0 && unshare(CLONE_NEWNS) == 0 &&
		       mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0;
	return done;
}

static void mount_tmpfs(int slot, const char *dir, const char *size)
{
	char opt[64];

	snprintf(opt, sizeof(opt), "size=%s,mode=0755", size);
	mkdir(dir, 0755);
	if (mount("bullhorn-test", dir, "tmpfs", 0, opt) < 0)
		fail_msg("mount tmpfs on %s: %s", dir, strerror(errno));
	snprintf(mounted[slot], sizeof(mounted[slot]), "%s", dir);
}

static int full_teardown(void **state)
{
	for (int i = 0; i < 2; i++)
		if (mounted[i][0]) {
			umount2(mounted[i], MNT_DETACH);
			mounted[i][0] = '\0';
		}
	return tu_teardown(state);
}

/* Fills the file system of dir, leaving leave_kb free (about). */
static void fill(const char *dir, unsigned leave_kb)
{
	char path[300], block[4096];
	FILE *f;
	long kb = 0;

	memset(block, 0x55, sizeof(block));
	snprintf(path, sizeof(path), "%s/filler", dir);
	f = fopen(path, "we");
	assert_non_null(f);
	while (fwrite(block, sizeof(block), 1, f) == 1 && fflush(f) == 0)
		kb += 4;
	fclose(f);
	assert_int_equal(
	    truncate(path,
		     (kb > (long)leave_kb ? kb - (long)leave_kb : 0) * 1024),
	    0);
}

static size_t count_lines(const char *log, const char *a, const char *b)
{
	char *s = tu_slurp(log), *p = s;
	size_t n = 0;

	while ((p = strstr(p, a))) {
		char *nl = strchr(p, '\n');

		if (!b || (nl ? memmem(p, (size_t)(nl - p), b, strlen(b))
			      : strstr(p, b)))
			n++;
		p += strlen(a);
	}
	free(s);
	return n;
}

/* The cache on a small tmpfs that the library's processed clips do not
 * fit: each entry that does not fit is a clear warning (the recording,
 * the cache folder, "No space left on device"), no partial entry or temp
 * file is left, and every message plays as rendered, from memory where
 * needed; a reload adding recordings on the full disk still works. */
static void test_disk_full_cache(void **state)
{
	struct tu_opts o = {.device = "nullfile"};
	struct crash *x;
	struct ref refs[6];
	char want[512];
	size_t warned;

	(void)state;
	if (!private_mounts())
		skip();
	x = crash_new("disk full: cache", &o);
	/* ~1.9 MB of clips; 1 MB holds about half of them. */
	mount_tmpfs(0, x->cache, "1m");
	tu_spawn_daemon(x->t);
	assert_int_equal(tu_wait_ready(x->t, 30000), 0);
	snprintf(want, sizeof(want),
		 "cannot write cache entry in %s (No space left on device); "
		 "playing from memory",
		 x->cache);
	warned = count_lines(x->t->log, ": warning: ", want);
	if (warned == 0) {
		char *log = tu_slurp(x->t->log);

		fail_msg("no clear ENOSPC warning:\n%s", log);
	}
	assert_int_equal(count_lines(x->t->log, ": warning: ", NULL), warned);
	assert_int_equal(count_tmp(x->cache), 0);
	printf("crash: disk full: %zu of the cache entries did not fit, "
	       "%u did\n",
	       warned, check_cache(x));
	assert_int_equal(tu_stop(x->t), 0);
	ref_render(x, &refs[0], "rights", "en");
	ref_render(x, &refs[1], "rights", "es");
	ref_render(x, &refs[2], "door", "en");
	ref_render(x, &refs[3], "door", "es");
	ref_render(x, &refs[4], "silent", "en");
	/* Started again on the full disk, and after a reload adding
	 * recordings: plays all, from cache or memory. */
	{
		size_t cap_n, from = 0;
		float *cap;

		unlink(x->t->log);
		unlink(x->t->out);
		assert_int_equal(tu_start(x->t), 0);
		assert_true(count_lines(x->t->log, want, NULL) > 0);
		change_library(x, 7);
		request_ok(x, "reload", "ok reloaded");
		assert_int_equal(count_tmp(x->cache), 0);
		check_cache(x);
		ref_render(x, &refs[5], "extra0", "en");
		for (int i = 0; i < 6; i++) {
			char line[128];

			snprintf(line, sizeof(line), "play %.31s %.15s",
				 refs[i].msg, refs[i].lang);
			request_ok(x, line, "ok playing");
			assert_int_equal(tu_wait_idle(x->t, i + 1, 10000), 0);
		}
		assert_int_equal(tu_stop(x->t), 0);
		cap = tu_capture(x->t, &cap_n);
		for (int i = 0; i < 6; i++) {
			long off = tu_find_clip(cap, cap_n, from, refs[i].s,
						refs[i].n, LSB);

			if (off < 0)
				fail_msg("%s/%s did not play as rendered",
					 refs[i].msg, refs[i].lang);
			from = (size_t)off + refs[i].n;
		}
		free(cap);
	}
	check_passes(x);
	refs_free(refs, 6);
	umount2(mounted[0], MNT_DETACH);
	mounted[0][0] = '\0';
	crash_free(x);
}

/* The writable library (and the state beside it, as in
 * /var/lib/bullhorn) on a full tmpfs: an import fails with exit 1 and a
 * clear reason, the existing recordings are untouched (a --replace keeps
 * the old one in place), no temp file is left; the volume cannot be
 * saved (said once in the log) and the old state stays whole; the daemon
 * plays what exists. */
static void test_disk_full_import(void **state)
{
	char extra[512], var[256], rec[300], door[320], path[400], *out;
	struct tu_opts o = {.device = "nullfile", .extra = extra};
	struct source src[N_SOURCES];
	struct snap before = {0}, after = {0};
	struct crash *x;
	struct ref refs[2];
	struct state st = {0};
	char *cfg;

	(void)state;
	if (!private_mounts())
		skip();
	extra[0] = '\0';
	x = crash_new("disk full: import", &o);
	snprintf(var, sizeof(var), "%s/var", x->t->dir);
	snprintf(rec, sizeof(rec), "%s/rec", var);
	snprintf(extra, sizeof(extra), "[paths]\nrecordings = %s\n", rec);
	tu_write_config(x->t);
	/* The state moves next to the recordings. */
	cfg = tu_slurp(x->t->cfg);
	{
		char old[300], *p, *text;

		snprintf(old, sizeof(old), "state = %s/state\n", x->t->dir);
		p = strstr(cfg, old);
		assert_non_null(p);
		assert_true(asprintf(&text, "%.*sstate = %s/state\n%s",
				     (int)(p - cfg), cfg, var,
				     p + strlen(old)) > 0);
		tu_write(x->t->cfg, text);
		free(text);
	}
	free(cfg);
	make_sources(x, src);
	mount_tmpfs(1, var, "1m");
	snprintf(path, sizeof(path), "%s/en", rec);
	assert_int_equal(mkdir_p(path, 0755), 0);
	snprintf(door, sizeof(door), "%s/en/door.wav", rec);
	copy_file(src[0].path, door);
	snprintf(path, sizeof(path), "%s/state", var);
	/* Full volume, so what plays compares with the render. */
	st.volume = 100;
	snprintf(st.language, sizeof(st.language), "es");
	assert_int_equal(state_save(path, &st), 0);

	/* Full to the last block: the volume cannot be saved. */
	fill(var, 0);
	assert_int_equal(tu_start(x->t), 0);
	request_ok(x, "volume 50", "ok volume 50");
	assert_int_equal(tu_stop(x->t), 0);
	snprintf(path, sizeof(path),
		 "cannot save volume and language to %s/state (No space left "
		 "on device)",
		 var);
	assert_int_equal(count_lines(x->t->log, ": error: ", path), 1);
	snprintf(path, sizeof(path), "%s/state", var);
	memset(&st, 0, sizeof(st));
	assert_int_equal(state_load(path, &st), 0);
	assert_int_equal(st.volume, 100);
	assert_int_equal(count_tmp(var), 0);

	/* Room for part of a recording only: the import fails part-way. */
	fill(var, 96);
	snap_take(&before, rec);
	/* A new recording, and one replacing another. */
	for (int k = 0; k < 2; k++) {
		const char *msg = k ? "door" : "leave";
		char args[600];

		snprintf(args, sizeof(args),
			 "import %s --language en --message %s%s", src[3].path,
			 msg, k ? " --replace" : "");
		assert_int_equal(tu_cli(x->t, args, &out), 1);
		snprintf(path, sizeof(path),
			 "cannot write %s/en/%s.wav (No space left on device)",
			 rec, msg);
		if (!strstr(out, path))
			fail_msg("unclear error: %s", out);
		free(out);
	}
	snap_take(&after, rec);
	/* Untouched: the same files, the same bytes, no temp file. */
	assert_int_equal(after.n, before.n);
	for (size_t i = 0; i < before.n; i++) {
		const struct snap_file *a = snap_find(&after, before.f[i].rel);

		if (!a || a->crc != before.f[i].crc)
			fail_msg("%s/%s was %s by a failed import", rec,
				 before.f[i].rel, a ? "changed" : "removed");
	}
	free(before.f);
	free(after.f);

	/* The kit still plays the volunteer's recording. */
	x->op = "disk full: import";
	ref_render(x, &refs[0], "door", "en");
	ref_render(x, &refs[1], "rights", "es");
	restart_and_play(x, refs, 2);
	refs_free(refs, 2);
	check_passes(x);
	umount2(mounted[1], MNT_DETACH);
	mounted[1][0] = '\0';
	crash_free(x);
}

int main(void)
{
	const char *s = getenv("BULLHORN_CRASH_SEED");
	const char *n = getenv("BULLHORN_CRASH_ITERS");
	long v;
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_teardown(test_kill_cold_start, tu_teardown),
	    cmocka_unit_test_teardown(test_kill_import, tu_teardown),
	    cmocka_unit_test_teardown(test_backups_never_overwritten,
				      tu_teardown),
	    cmocka_unit_test_teardown(test_kill_state_save, tu_teardown),
	    cmocka_unit_test_teardown(test_kill_reload, tu_teardown),
	    cmocka_unit_test_teardown(test_disk_full_cache, full_teardown),
	    cmocka_unit_test_teardown(test_disk_full_import, full_teardown),
	};

	crash_seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
	if (s && *s) {
		char *end;

		errno = 0;
		crash_seed = strtoull(s, &end, 10);
		if (errno || *end || end == s) {
			fprintf(stderr,
				"BULLHORN_CRASH_SEED=%s: not a "
				"number\n",
				s);
			return 2;
		}
	}
	crash_iters = 8;
	if (n && *n) {
		if (parse_long(n, 4, 100000, &v) < 0) {
			fprintf(stderr,
				"BULLHORN_CRASH_ITERS=%s: want 4 to "
				"100000\n",
				n);
			return 2;
		}
		crash_iters = (unsigned)v;
	}
	if (getenv("BULLHORN_CRASH_ONLY"))
		cmocka_set_test_filter(getenv("BULLHORN_CRASH_ONLY"));
	rng = crash_seed ? crash_seed : 1;
	printf("crash: BULLHORN_CRASH_SEED=%llu BULLHORN_CRASH_ITERS=%u "
	       "(set them to replay this run)\n",
	       (unsigned long long)crash_seed, crash_iters);
	fflush(stdout);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
