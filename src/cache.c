#include "cache.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

#define CACHE_MAGIC	  "BHCLIP\0\1"
#define CACHE_HEADER_SIZE 256 /* payload starts here, float-aligned */

struct cache_header {
	char magic[8];
	uint32_t header_size;
	uint32_t process_version;
	uint64_t key;
	uint32_t rate;
	uint32_t payload_crc;
	uint64_t frames;
	uint32_t stats_size;
	uint32_t reserved;
	struct clip_stats stats;
	uint32_t header_crc; /* over every byte before this field */
};

_Static_assert(sizeof(struct cache_header) <= CACHE_HEADER_SIZE,
	       "cache header outgrew its slot");

int cache_key(const char *source_path, const struct process_settings *s,
	      uint64_t *key)
{
	char settings[256];
	unsigned char buf[65536];
	uint64_t h = HASH64_INIT;
	int fd, len, r = 0;

	/* Every field of process_settings: a setting left out here would
	 * keep playing clips made with its old value after a change. */
	len =
	    snprintf(settings, sizeof(settings),
		     "bullhorn-cache v%d rate=%u target=%.4f ceiling=%.4f "
		     "fade=%.4f highpass=%.4f trim=%.4f trim_pad=%.4f",
		     PROCESS_VERSION, s->rate, s->target_lufs, s->ceiling_dbtp,
		     s->fade_ms, s->highpass_hz, s->trim_db, s->trim_pad_ms);
	h = hash64(h, settings, (size_t)len);
	fd = open(source_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			break;
		}
		if (n == 0)
			break;
		h = hash64(h, buf, (size_t)n);
	}
	close(fd);
	if (r == 0)
		*key = h;
	return r;
}

void cache_entry_name(uint64_t key, char name[32])
{
	snprintf(name, 32, "%016" PRIx64 ".clip", key);
}

static int entry_path(const char *dir, uint64_t key, char *path, size_t len)
{
	char name[32];

	cache_entry_name(key, name);
	if ((size_t)snprintf(path, len, "%s/%s", dir, name) >= len)
		return -ENAMETOOLONG;
	return 0;
}

static uint32_t header_crc(const struct cache_header *h)
{
	return crc32_update(0, h, offsetof(struct cache_header, header_crc));
}

static int check_payload(int fd, size_t frames, uint32_t want)
{
	unsigned char buf[65536];
	size_t left = frames * sizeof(float);
	off_t off = CACHE_HEADER_SIZE;
	uint32_t crc = 0;

	while (left > 0) {
		size_t want_n = left < sizeof(buf) ? left : sizeof(buf);
		ssize_t n = pread(fd, buf, want_n, off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EBADMSG;
		crc = crc32_update(crc, buf, (size_t)n);
		off += n;
		left -= (size_t)n;
	}
	return crc == want ? 0 : -EBADMSG;
}

int cache_load(const char *dir, uint64_t key, struct clip **out)
{
	char path[4096];
	struct cache_header h;
	struct stat st;
	struct clip *c;
	void *map;
	ssize_t n;
	int fd, r;

	r = entry_path(dir, key, path, sizeof(path));
	if (r < 0)
		return r;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		r = -errno;
		goto out_close;
	}
	n = pread(fd, &h, sizeof(h), 0);
	if (n != (ssize_t)sizeof(h) || memcmp(h.magic, CACHE_MAGIC, 8) != 0 ||
	    h.header_size != CACHE_HEADER_SIZE ||
	    h.process_version != PROCESS_VERSION || h.key != key ||
	    h.stats_size != sizeof(h.stats) || header_crc(&h) != h.header_crc ||
	    h.frames == 0 || h.frames > SIZE_MAX / sizeof(float) / 2 ||
	    (uint64_t)st.st_size !=
		CACHE_HEADER_SIZE + h.frames * sizeof(float)) {
		r = -EBADMSG;
		goto out_close;
	}
	r = check_payload(fd, (size_t)h.frames, h.payload_crc);
	if (r < 0)
		goto out_close;
	/* Mapped, not read: pages come in from the page cache as they play,
	 * so a large library costs little resident memory. */
	map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (map == MAP_FAILED) {
		r = -errno;
		goto out_close;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		munmap(map, (size_t)st.st_size);
		r = -ENOMEM;
		goto out_close;
	}
	c->map = map;
	c->map_len = (size_t)st.st_size;
	/* The payload is float samples written by cache_store, at an
	 * offset aligned for float. */
	c->samples = (const float *)(const void *)((const unsigned char *)map +
						   CACHE_HEADER_SIZE);
	c->frames = (size_t)h.frames;
	c->rate = h.rate;
	c->stats = h.stats;
	c->refs = 1;
	*out = c;
	r = 0;
out_close:
	close(fd);
	return r;
}

int cache_store(const char *dir, uint64_t key, const struct clip *c)
{
	char path[4096];
	struct cache_header h;
	size_t payload = c->frames * sizeof(float);
	char *buf;
	int r;

	r = entry_path(dir, key, path, sizeof(path));
	if (r < 0)
		return r;
	r = mkdir_p(dir, 0755);
	if (r < 0)
		return r;
	memset(&h, 0, sizeof(h));
	memcpy(h.magic, CACHE_MAGIC, 8);
	h.header_size = CACHE_HEADER_SIZE;
	h.process_version = PROCESS_VERSION;
	h.key = key;
	h.rate = c->rate;
	h.frames = c->frames;
	h.stats_size = sizeof(h.stats);
	h.stats = c->stats;
	h.payload_crc = crc32_update(0, c->samples, payload);
	h.header_crc = header_crc(&h);
	buf = calloc(1, CACHE_HEADER_SIZE + payload);
	if (!buf)
		return -ENOMEM;
	memcpy(buf, &h, sizeof(h));
	memcpy(buf + CACHE_HEADER_SIZE, c->samples, payload);
	r = atomic_write_file(path, buf, CACHE_HEADER_SIZE + payload, 0644);
	free(buf);
	return r;
}

int cache_prune(const char *dir, const uint64_t *keep, size_t n)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int removed = 0;

	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((e = readdir(d))) {
		size_t len = strlen(e->d_name);
		bool wanted = false;
		char name[32];

		/* Only our own entries and our own leftover temp files. */
		if (!(len > 5 && strcmp(e->d_name + len - 5, ".clip") == 0) &&
		    !strstr(e->d_name, ".clip.tmp."))
			continue;
		for (size_t i = 0; i < n && !wanted; i++) {
			cache_entry_name(keep[i], name);
			wanted = strcmp(name, e->d_name) == 0;
		}
		if (wanted)
			continue;
		if (unlinkat(dirfd(d), e->d_name, 0) == 0)
			removed++;
	}
	closedir(d);
	return removed;
}
