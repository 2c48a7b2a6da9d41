#include "importer.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sndfile.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "action.h"
#include "library.h"
#include "util.h"

extern char **environ;

static int fail(char *err, size_t len, int r, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t len, int r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
	return r;
}

static bool libsndfile_reads(const char *path)
{
	SF_INFO info = {0};
	SNDFILE *sf = sf_open(path, SFM_READ, &info);

	if (sf)
		sf_close(sf);
	return sf != NULL;
}

/* Runs argv, quietly; returns its exit status or a negative errno. */
static int run(char *const argv[])
{
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int status, r;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	r = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (r != 0)
		return -r;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

/* The extension the copy keeps: the source's own, lower-cased. */
static void source_ext(const char *path, char *ext, size_t len)
{
	const char *slash = strrchr(path, '/');
	const char *dot = strrchr(slash ? slash : path, '.');

	snprintf(ext, len, "%s", dot && dot[1] ? dot + 1 : "wav");
	for (char *p = ext; *p; p++)
		*p = (char)tolower((unsigned char)*p);
}

/* A library folder with the setgid bit is shared by a group of
 * operators (the installed /var/lib/bullhorn/audio): what is made in it
 * stays writable by the group, whatever the importing user's umask. */
static bool shared_library(const char *library)
{
	struct stat st;

	return stat(library, &st) == 0 && (st.st_mode & S_ISGID);
}

static int make_dir(const char *dir, bool shared)
{
	int r = mkdir_p(dir, shared ? 02770 : 0755);

	if (r == 0 && shared && chmod(dir, 02770) < 0)
		r = -errno;
	return r;
}

static int copy_atomic(const char *from, const char *to, bool shared)
{
	char *data;
	size_t len;
	int r = read_file(from, &data, &len, 512u << 20);

	if (r < 0)
		return r;
	r = atomic_write_file(to, data, len, shared ? 0660 : 0644);
	free(data);
	return r;
}

/* Moves the human recording(s) of message out of the way, into
 * .backup/ beside them, where the library never looks. */
static int back_up(const char *dir, const char *message, bool shared,
		   char *backup, size_t len)
{
	char bdir[4096], stamp[32];
	struct dirent *e;
	struct stat st;
	time_t now = time(NULL);
	struct tm tm;
	DIR *d;
	int r = 0;

	backup[0] = '\0';
	if (path_join(bdir, sizeof(bdir), dir, ".backup") < 0)
		return -ENAMETOOLONG;
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", &tm);
	d = opendir(dir);
	if (!d)
		return -errno;
	while ((e = readdir(d)) && r == 0) {
		size_t ml = strlen(message);
		char from[4096], to[4096];

		if (strncmp(e->d_name, message, ml) != 0 ||
		    e->d_name[ml] != '.' ||
		    strstr(e->d_name, ".placeholder.") ||
		    strcmp(e->d_name + ml, ".txt") == 0 ||
		    strstr(e->d_name, ".tmp."))
			continue;
		if ((r = make_dir(bdir, shared)) < 0)
			break;
		if (path_join(from, sizeof(from), dir, e->d_name) < 0 ||
		    snprintf(to, sizeof(to), "%s/%s.%s", bdir, e->d_name,
			     stamp) >= (int)sizeof(to)) {
			r = -ENAMETOOLONG;
			break;
		}
		/* Never over an earlier backup: a second replacement within
		 * the same second would lose the first one. */
		for (int k = 2; r == 0 && lstat(to, &st) == 0; k++)
			if (k > 999 ||
			    snprintf(to, sizeof(to), "%s/%s.%s-%d", bdir,
				     e->d_name, stamp, k) >= (int)sizeof(to))
				r = -EEXIST;
		if (r < 0)
			break;
		if (rename(from, to) < 0)
			r = -errno;
		else
			snprintf(backup, len, "%s", to);
	}
	closedir(d);
	/* Its new name on disk before the old one goes from dir (which the
	 * caller syncs after putting the new recording there). */
	if (r == 0 && backup[0])
		r = fsync_dir(bdir);
	return r;
}

/* Puts a recording staged whole at staged in place as dest, in dir: the
 * human recording(s) of message (old names them in a reason) go to
 * .backup/ first. */
static int commit_staged(const char *dir, const char *message, bool shared,
			 const char *staged, const char *dest, const char *old,
			 char *backup, size_t blen, char *err, size_t err_len)
{
	int r = back_up(dir, message, shared, backup, blen);

	if (r < 0)
		return fail(err, err_len, r, "cannot keep a backup of %s (%s)",
			    old, strerror(-r));
	if (rename(staged, dest) < 0 || (r = fsync_dir(dir)) < 0) {
		r = r < 0 ? r : -errno;
		return fail(err, err_len, r, "cannot write %s (%s)%s%s", dest,
			    strerror(-r), backup[0] ? "; the old one is " : "",
			    backup);
	}
	return 0;
}

/* What an import cut off by a kill or a power cut leaves in a language
 * folder: a recording staged whole (".MSG.EXT.import") or part of one
 * (".MSG.EXT.import.tmp.PID"). The library never reads either. */
enum leftover { NOT_LEFTOVER, STAGED, PARTIAL };

static enum leftover leftover_kind(const char *name, char *message, size_t mlen,
				   char *ext, size_t elen)
{
	const char *dot, *imp;
	size_t ml;

	if (name[0] != '.' || !(dot = strchr(name + 1, '.')) ||
	    !(imp = strstr(dot, ".import")) || imp == dot)
		return NOT_LEFTOVER;
	ml = (size_t)(dot - name - 1);
	if (ml >= mlen || (size_t)(imp - dot - 1) >= elen)
		return NOT_LEFTOVER;
	memcpy(message, name + 1, ml);
	message[ml] = '\0';
	memcpy(ext, dot + 1, (size_t)(imp - dot - 1));
	ext[imp - dot - 1] = '\0';
	if ((!action_valid_message(message) &&
	     strcmp(message, LIBRARY_LANGUAGE_NAME) != 0) ||
	    strchr(ext, '.'))
		return NOT_LEFTOVER;
	if (strcmp(imp, ".import") == 0)
		return STAGED;
	return strncmp(imp, ".import.tmp.", 12) == 0 ? PARTIAL : NOT_LEFTOVER;
}

int import_leftovers(const char *root, struct strv *out)
{
	DIR *d = opendir(root), *ld;
	struct dirent *e, *f;
	char dir[4096], m[64], x[16];
	int r = 0;

	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((e = readdir(d)) && r == 0) {
		if (e->d_name[0] == '.' ||
		    path_join(dir, sizeof(dir), root, e->d_name) < 0 ||
		    !(ld = opendir(dir)))
			continue;
		while ((f = readdir(ld)) && r == 0)
			if (leftover_kind(f->d_name, m, sizeof(m), x,
					  sizeof(x)) != NOT_LEFTOVER)
				r = strv_pushf(out, "%s/%s", e->d_name,
					       f->d_name);
		closedir(ld);
	}
	closedir(d);
	return r;
}

/* Finishes what cut-off imports left under root (the caller holds the
 * library's lock, so no other import is writing): a staged recording is
 * whole and was checked, so it is put in place as its import would have
 * done; part of one is removed. The recordings put in place are listed
 * in done ("LANG/MSG.EXT", comma-separated). */
static int finish_leftovers(const char *root, bool shared, char *done,
			    size_t dlen, char *err, size_t err_len)
{
	struct strv l = {0};
	int r = import_leftovers(root, &l);

	for (size_t i = 0; r == 0 && i < l.n; i++) {
		char path[4200], dest[4200], dir[4096], m[64], x[16];
		char backup[4096], why[512], *name = strchr(l.v[i], '/');
		enum leftover k;

		*name++ = '\0'; /* l.v[i] is the language now */
		k = leftover_kind(name, m, sizeof(m), x, sizeof(x));
		if (path_join(dir, sizeof(dir), root, l.v[i]) < 0 ||
		    path_join(path, sizeof(path), dir, name) < 0 ||
		    snprintf(dest, sizeof(dest), "%s/%s.%s", dir, m, x) >=
			(int)sizeof(dest)) {
			r = fail(err, err_len, -ENAMETOOLONG,
				 "library path too long");
			break;
		}
		if (k == PARTIAL) {
			int e = unlink(path) < 0 && errno != ENOENT ? errno : 0;

			if (e)
				r = fail(err, err_len, -e,
					 "cannot remove %s, part of an import "
					 "that was cut off (%s)",
					 path, strerror(e));
			continue;
		}
		r = commit_staged(dir, m, shared, path, dest, dest, backup,
				  sizeof(backup), why, sizeof(why));
		if (r < 0) {
			fail(err, err_len, r,
			     "cannot finish the import of %s that was cut off: "
			     "%s",
			     dest, why);
			break;
		}
		snprintf(done + strlen(done), dlen - strlen(done), "%s%s/%s.%s",
			 done[0] ? ", " : "", l.v[i], m, x);
	}
	strv_clear(&l);
	return r;
}

/* One import at a time in a library: a second volunteer's import waits
 * instead of meeting the first one's staged file. Returns the fd that
 * holds the lock (closing it releases it). */
static int lock_library(const char *root)
{
	int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	while (flock(fd, LOCK_EX) < 0)
		if (errno != EINTR) {
			int r = -errno;

			close(fd);
			return r;
		}
	return fd;
}

int import_file(const struct import_request *req,
		const struct process_settings *s, struct import_result *res,
		struct clip **clip, char *err, size_t err_len)
{
	char dir[4096], ext[16], tmp[] = "/tmp/bullhorn-import-XXXXXX";
	char conv[64] = "", perr[256], *existing, staged[4200];
	struct clip_stats st;
	const char *src = req->source;
	bool shared = shared_library(req->library);
	struct stat sb;
	float *samples;
	size_t frames;
	int r, lock = -1;

	memset(res, 0, sizeof(*res));
	*clip = NULL;
	if (!action_valid_language(req->language))
		return fail(err, err_len, -EINVAL,
			    "'%s' is not a language tag (like es, ko or cmn)",
			    req->language);
	if (!action_valid_message(req->message) &&
	    strcmp(req->message, LIBRARY_LANGUAGE_NAME) != 0)
		return fail(err, err_len, -EINVAL,
			    "'%s' is not a message name (lower-case letters, "
			    "digits, '-' and '_')",
			    req->message);
	if (stat(src, &sb) < 0) {
		r = -errno;
		return fail(err, err_len, r, "%s cannot be read (%s)", src,
			    strerror(-r));
	}
	if (!S_ISREG(sb.st_mode))
		return fail(err, err_len, -EISDIR,
			    "%s cannot be read (not a file)", src);
	source_ext(src, ext, sizeof(ext));
	if (!libsndfile_reads(src)) {
		/* A phone's .m4a and the like: ffmpeg speaks them. */
		char *argv[] = {"ffmpeg", "-nostdin", "-v",	   "error",
				"-y",	  "-i",	      (char *)src, "-vn",
				"-c:a",	  "flac",     conv,	   NULL};

		if (!mkdtemp(tmp))
			return fail(err, err_len, -errno,
				    "cannot make a temporary folder (%s)",
				    strerror(errno));
		snprintf(conv, sizeof(conv), "%s/converted.flac", tmp);
		r = run(argv);
		if (r == -ENOENT) {
			rmdir(tmp);
			return fail(err, err_len, -ENOTSUP,
				    "%s is not in a format bullhorn reads "
				    "directly (WAV, FLAC, Ogg, Opus, MP3); "
				    "install ffmpeg (apt-get install ffmpeg) "
				    "to convert it, or convert it to WAV or "
				    "FLAC first",
				    src);
		}
		if (r != 0) {
			unlink(conv);
			rmdir(tmp);
			return fail(err, err_len, -EINVAL,
				    "%s is not a recording bullhorn or ffmpeg "
				    "can read",
				    src);
		}
		src = conv;
		snprintf(ext, sizeof(ext), "flac");
		res->converted = true;
	}
	r = process_file(src, s, &samples, &frames, &st, perr, sizeof(perr));
	if (r < 0) {
		fail(err, err_len, r, "%s: %s", req->source, perr);
		goto out;
	}
	*clip = clip_new_owned(samples, frames, s->rate, &st);
	if (!*clip) {
		free(samples);
		r = fail(err, err_len, -ENOMEM, "out of memory");
		goto out;
	}
	snprintf((*clip)->language, sizeof((*clip)->language), "%s",
		 req->language);
	snprintf((*clip)->message, sizeof((*clip)->message), "%s",
		 req->message);
	if (path_join(dir, sizeof(dir), req->library, req->language) < 0) {
		r = fail(err, err_len, -ENAMETOOLONG, "library path too long");
		goto out;
	}
	res->new_language = access(dir, F_OK) < 0;
	r = make_dir(dir, shared);
	if (r < 0) {
		fail(err, err_len, r, "cannot create %s (%s)", dir,
		     strerror(-r));
		goto out;
	}
	lock = lock_library(req->library);
	if (lock < 0) {
		r = fail(err, err_len, lock, "cannot lock %s (%s)",
			 req->library, strerror(-lock));
		goto out;
	}
	r = finish_leftovers(req->library, shared, res->finished,
			     sizeof(res->finished), err, err_len);
	if (r < 0)
		goto out;
	existing =
	    library_recording_path(req->library, req->language, req->message);
	if (existing && strstr(existing, LIBRARY_PLACEHOLDER ".")) {
		free(existing);
		existing = NULL;
	}
	if (existing && !req->replace) {
		r = fail(err, err_len, -EEXIST,
			 "%s already has a recording; add --replace to "
			 "replace it (the old one is kept in %s/.backup)",
			 existing, dir);
		goto out_existing;
	}
	if (snprintf(res->dest, sizeof(res->dest), "%s/%s.%s", dir,
		     req->message, ext) >= (int)sizeof(res->dest) ||
	    snprintf(staged, sizeof(staged), "%s/.%s.%s.import", dir,
		     req->message, ext) >= (int)sizeof(staged)) {
		r = fail(err, err_len, -ENAMETOOLONG, "library path too long");
		goto out_existing;
	}
	/* The new recording is written whole first, as a dotfile the
	 * library never reads, and the old one moved aside only then: a full
	 * disk leaves the old one in place, and a killed import leaves it in
	 * place or in .backup/, with the new one staged, which the next
	 * import puts in place (finish_leftovers). */
	r = copy_atomic(src, staged, shared);
	if (r < 0) {
		fail(err, err_len, r,
		     "cannot write %s (%s); nothing was changed", res->dest,
		     strerror(-r));
		goto out_existing;
	}
	r = commit_staged(dir, req->message, shared, staged, res->dest,
			  existing ? existing : res->dest, res->backup,
			  sizeof(res->backup), err, err_len);
	if (r < 0) {
		unlink(staged);
		goto out_existing;
	}
	(*clip)->source = strdup(res->dest);
out_existing:
	free(existing);
out:
	if (lock >= 0)
		close(lock);
	if (res->converted || conv[0]) {
		unlink(conv);
		rmdir(tmp);
	}
	if (r < 0) {
		clip_unref(*clip);
		*clip = NULL;
	}
	return r;
}
