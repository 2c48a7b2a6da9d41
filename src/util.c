#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

static const char *skip_blanks(const char *s)
{
	while (*s && isspace((unsigned char)*s))
		s++;
	return s;
}

int parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	if (!s)
		return -EINVAL;
	s = skip_blanks(s);
	if (!*s)
		return -EINVAL;
	errno = 0;
	v = strtol(s, &end, 10);
	if (end == s)
		return -EINVAL;
	if (*skip_blanks(end))
		return -EINVAL;
	if (errno == ERANGE || v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

int parse_double(const char *s, double min, double max, double *out)
{
	char *end;
	double v;

	if (!s)
		return -EINVAL;
	s = skip_blanks(s);
	if (!*s)
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (end == s || *skip_blanks(end))
		return -EINVAL;
	/* Overflow is "out of range"; a literal inf or nan is no number. */
	if (errno != ERANGE && !isfinite(v))
		return -EINVAL;
	if (errno == ERANGE || v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

int strv_push(struct strv *l, const char *s)
{
	char *copy;

	if (l->n + 2 > l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 8;
		char **v = realloc(l->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	copy = strdup(s);
	if (!copy)
		return -ENOMEM;
	l->v[l->n++] = copy;
	l->v[l->n] = NULL;
	return 0;
}

int strv_pushf(struct strv *l, const char *fmt, ...)
{
	va_list ap;
	char *s;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (r < 0)
		return -ENOMEM;
	r = strv_push(l, s);
	free(s);
	return r;
}

void strv_clear(struct strv *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = l->cap = 0;
}

bool strv_contains(const struct strv *l, const char *s)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->v[i], s) == 0)
			return true;
	return false;
}

int strv_split(struct strv *l, const char *s)
{
	while (*s) {
		size_t n;
		char buf[256];
		int r;

		while (*s == ',' || isspace((unsigned char)*s))
			s++;
		n = strcspn(s, ", \t\r\n");
		if (n == 0)
			break;
		if (n >= sizeof(buf))
			return -ENAMETOOLONG;
		memcpy(buf, s, n);
		buf[n] = '\0';
		r = strv_push(l, buf);
		if (r < 0)
			return r;
		s += n;
	}
	return 0;
}

bool utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + len;

	while (p < end) {
		unsigned c = *p++;
		unsigned need, min;
		uint32_t cp;

		if (c < 0x80)
			continue;
		if ((c & 0xe0) == 0xc0)
			need = 1, min = 0x80, cp = c & 0x1f;
		else if ((c & 0xf0) == 0xe0)
			need = 2, min = 0x800, cp = c & 0x0f;
		else if ((c & 0xf8) == 0xf0)
			need = 3, min = 0x10000, cp = c & 0x07;
		else
			return false;
		if ((size_t)(end - p) < need)
			return false;
		for (unsigned i = 0; i < need; i++) {
			if ((p[i] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (p[i] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		p += need;
	}
	return true;
}

size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	size_t row[65];

	/* Names compared here are short; longer ones are simply "far". */
	if (lb >= ARRAY_SIZE(row) || la >= ARRAY_SIZE(row))
		return SIZE_MAX;
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0];

		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t up = row[j];
			size_t cost = tolower((unsigned char)a[i - 1]) ==
					      tolower((unsigned char)b[j - 1])
					  ? 0
					  : 1;
			size_t best = diag + cost;

			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			if (up + 1 < best)
				best = up + 1;
			row[j] = best;
			diag = up;
		}
	}
	return row[lb];
}

char *path_resolve(const char *dir, const char *rel)
{
	char *out;

	if (!rel || !*rel)
		return NULL;
	if (rel[0] == '/' || !dir || !*dir)
		return strdup(rel);
	if (asprintf(&out, "%s/%s", dir, rel) < 0)
		return NULL;
	return out;
}

int path_join(char *buf, size_t len, const char *a, const char *b)
{
	int n = snprintf(buf, len, "%s/%s", a, b);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

char *path_dirname(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (!slash)
		return strdup(".");
	if (slash == path)
		return strdup("/");
	return strndup(path, (size_t)(slash - path));
}

/* mkdir that accepts an existing folder but not a file in its place. */
static int make_dir(const char *path, unsigned mode)
{
	struct stat st;

	if (mkdir(path, mode) == 0)
		return 0;
	if (errno != EEXIST)
		return -errno;
	if (stat(path, &st) < 0)
		return -errno;
	return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

int mkdir_p(const char *path, unsigned mode)
{
	char buf[PATH_MAX];
	int r;
	size_t len = strlen(path);

	if (len == 0 || len >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, path, len + 1);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		r = make_dir(buf, mode);
		if (r < 0)
			return r;
		*p = '/';
	}
	return make_dir(buf, mode);
}

int fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), r = 0;

	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		r = -errno;
	close(fd);
	return r;
}

static int fsync_dir_of(const char *path)
{
	char *dir = path_dirname(path);
	int r;

	if (!dir)
		return -ENOMEM;
	r = fsync_dir(dir);
	free(dir);
	return r;
}

int atomic_write_leftovers_remove(const char *path)
{
	char *dir = path_dirname(path);
	const char *base = strrchr(path, '/');
	size_t bl;
	struct dirent *e;
	DIR *d;
	int removed = 0;

	if (!dir)
		return -ENOMEM;
	base = base ? base + 1 : path;
	bl = strlen(base);
	d = opendir(dir);
	free(dir);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((e = readdir(d))) {
		long pid;

		if (strncmp(e->d_name, base, bl) != 0 ||
		    strncmp(e->d_name + bl, ".tmp.", 5) != 0 ||
		    parse_long(e->d_name + bl + 5, 1, INT_MAX, &pid) < 0 ||
		    kill((pid_t)pid, 0) == 0 || errno != ESRCH)
			continue;
		if (unlinkat(dirfd(d), e->d_name, 0) == 0)
			removed++;
	}
	closedir(d);
	return removed;
}

int atomic_write_file(const char *path, const void *data, size_t len,
		      unsigned mode)
{
	char *tmp;
	const char *p = data;
	int fd, r;

	if (asprintf(&tmp, "%s.tmp.%ld", path, (long)getpid()) < 0)
		return -ENOMEM;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0) {
		r = -errno;
		goto out_free;
	}
	/* The mode asked for, not what the caller's umask leaves of it. */
	if (fchmod(fd, mode) < 0) {
		r = -errno;
		goto out_unlink;
	}
	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			goto out_unlink;
		}
		p += n;
		len -= (size_t)n;
	}
	if (fsync(fd) < 0) {
		r = -errno;
		goto out_unlink;
	}
	if (close(fd) < 0) {
		fd = -1;
		r = -errno;
		goto out_unlink;
	}
	fd = -1;
	if (rename(tmp, path) < 0) {
		r = -errno;
		goto out_unlink;
	}
	free(tmp);
	return fsync_dir_of(path);

out_unlink:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
out_free:
	free(tmp);
	return r;
}

int read_file(const char *path, char **data, size_t *len, size_t max_len)
{
	struct stat st;
	char *buf;
	size_t got = 0;
	int fd, r;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		r = -errno;
		goto out_close;
	}
	if (!S_ISREG(st.st_mode)) {
		r = -EISDIR;
		goto out_close;
	}
	if ((size_t)st.st_size > max_len) {
		r = -EFBIG;
		goto out_close;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		r = -ENOMEM;
		goto out_close;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			free(buf);
			goto out_close;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	buf[got] = '\0';
	*data = buf;
	*len = got;
	r = 0;
out_close:
	close(fd);
	return r;
}

int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

uint64_t hash64(uint64_t h, const void *data, size_t len)
{
	const unsigned char *p = data;

	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

uint32_t crc32_update(uint32_t crc, const void *data, size_t len)
{
	const unsigned char *p = data;

	/* zlib's CRC-32 (the same IEEE polynomial) runs several times faster
	 * than a byte table: it is most of a warm start's time. */
	while (len > 0) {
		uInt n = len > UINT32_MAX ? UINT32_MAX : (uInt)len;

		crc = (uint32_t)crc32(crc, p, n);
		p += n;
		len -= n;
	}
	return crc;
}
