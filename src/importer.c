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

/* Makes a rename in dir durable. */
static int sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), r = 0;

	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		r = -errno;
	close(fd);
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
		r = sync_dir(bdir);
	return r;
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
	int r;

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
	 * place or in .backup/. A staged file left by a kill is overwritten
	 * by the next import of the message. */
	r = copy_atomic(src, staged, shared);
	if (r < 0) {
		fail(err, err_len, r,
		     "cannot write %s (%s); nothing was changed", res->dest,
		     strerror(-r));
		goto out_existing;
	}
	if (existing) {
		r = back_up(dir, req->message, shared, res->backup,
			    sizeof(res->backup));
		if (r < 0) {
			unlink(staged);
			fail(err, err_len, r, "cannot keep a backup of %s (%s)",
			     existing, strerror(-r));
			goto out_existing;
		}
	}
	if (rename(staged, res->dest) < 0 || (r = sync_dir(dir)) < 0) {
		r = r < 0 ? r : -errno;
		unlink(staged);
		fail(err, err_len, r, "cannot write %s (%s)%s%s", res->dest,
		     strerror(-r), res->backup[0] ? "; the old one is " : "",
		     res->backup);
		goto out_existing;
	}
	(*clip)->source = strdup(res->dest);
out_existing:
	free(existing);
out:
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
