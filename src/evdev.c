/* Linux input devices through libevdev, and FIFOs of raw input_event
 * records. See evdev.h for the contract. */
#include "evdev.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libevdev/libevdev.h>
#include <linux/input.h>

#include "util.h"

#define INPUT_DIR    "/dev/input"
#define RECORD_BYTES sizeof(struct input_event)

struct evdev {
	char *spec;
	char *describe; /* kept after a close, for the log line that says so */
	int fd;
	struct libevdev *dev; /* NULL for a FIFO */
	bool syncing; /* after SYN_DROPPED, until the delta is drained */
	/* A FIFO writer may split a record across writes. */
	unsigned char partial[sizeof(struct input_event)];
	size_t partial_len;
};

struct evdev *evdev_new(const char *spec)
{
	struct evdev *e;

	if (!spec || !*spec) {
		errno = EINVAL;
		return NULL;
	}
	e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	e->spec = strdup(spec);
	if (!e->spec) {
		free(e);
		return NULL;
	}
	e->fd = -1;
	return e;
}

static void evdev_close(struct evdev *e)
{
	libevdev_free(e->dev);
	e->dev = NULL;
	if (e->fd >= 0)
		close(e->fd);
	e->fd = -1;
	e->syncing = false;
	e->partial_len = 0;
}

void evdev_free(struct evdev *e)
{
	if (!e)
		return;
	evdev_close(e);
	free(e->describe);
	free(e->spec);
	free(e);
}

bool evdev_is_open(const struct evdev *e)
{
	return e->fd >= 0;
}

const char *evdev_describe(const struct evdev *e)
{
	return e->describe ? e->describe : e->spec;
}

int evdev_fd(const struct evdev *e)
{
	return e->fd;
}

/* libevdev prints to stderr by default; modules never log, and every
 * failure that matters comes back through a return value anyway. */
static void quiet_log(const struct libevdev *dev,
		      enum libevdev_log_priority priority, void *data,
		      const char *file, int line, const char *func,
		      const char *format, va_list args)
{
	(void)dev;
	(void)priority;
	(void)data;
	(void)file;
	(void)line;
	(void)func;
	(void)format;
	(void)args;
}

static int set_describe(struct evdev *e, const char *name, const char *path)
{
	char *d;

	if (asprintf(&d, "%s (%s)", name, path) < 0)
		return -ENOMEM;
	free(e->describe);
	e->describe = d;
	return 0;
}

static bool errno_absent(int err)
{
	/* ENODEV/ENXIO: a node whose device was unplugged while we looked. */
	return err == ENOENT || err == ENODEV || err == ENXIO;
}

/* Opens path and, unless it is a FIFO (*dev stays NULL), attaches
 * libevdev. Returns 0, -ENOENT, -EACCES or another -errno with a sentence
 * in err. */
static int open_node(const char *path, int *fdp, struct libevdev **dev,
		     char *err, size_t err_len)
{
	struct stat st;
	int fd, r;

	*dev = NULL;
	fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		if (errno_absent(-r)) {
			snprintf(err, err_len, "%s is not there", path);
			return -ENOENT;
		}
		if (r == -EACCES || r == -EPERM) {
			snprintf(err, err_len,
				 "cannot read %s: permission denied: add the "
				 "user to the input group",
				 path);
			return -EACCES;
		}
		snprintf(err, err_len, "cannot open %s: %s", path,
			 strerror(-r));
		return r;
	}
	if (fstat(fd, &st) < 0) {
		r = -errno;
		snprintf(err, err_len, "cannot open %s: %s", path,
			 strerror(-r));
		goto fail_fd;
	}
	if (S_ISFIFO(st.st_mode)) {
		*fdp = fd;
		return 0;
	}
	if (!S_ISCHR(st.st_mode)) {
		r = -ENOTTY;
		snprintf(err, err_len,
			 "%s is not an input device: give a /dev/input/event* "
			 "device, a link to one (/dev/input/by-id/...) or a "
			 "device name",
			 path);
		goto fail_fd;
	}
	*dev = libevdev_new();
	if (!*dev) {
		r = -ENOMEM;
		snprintf(err, err_len, "cannot open %s: out of memory", path);
		goto fail_fd;
	}
	libevdev_set_device_log_function(*dev, quiet_log, LIBEVDEV_LOG_ERROR,
					 NULL);
	r = libevdev_set_fd(*dev, fd);
	if (r < 0) {
		if (errno_absent(-r)) {
			snprintf(err, err_len, "%s is not there", path);
			r = -ENOENT;
		} else if (r == -ENOTTY || r == -EINVAL || r == -ENOSYS) {
			/* ENOSYS: a driver, or qemu-user (make cross-test),
			 * that does not know the evdev ioctls at all. */
			snprintf(err, err_len,
				 "%s is not an input (evdev) device: give a "
				 "/dev/input/event* device or a link to one",
				 path);
			r = -ENOTTY;
		} else {
			snprintf(err, err_len, "cannot read %s: %s", path,
				 strerror(-r));
		}
		goto fail_dev;
	}
	*fdp = fd;
	return 0;

fail_dev:
	libevdev_free(*dev);
	*dev = NULL;
fail_fd:
	close(fd);
	return r;
}

/* Takes over fd and dev as the open device. */
static int attach(struct evdev *e, const char *path, int fd,
		  struct libevdev *dev, char *err, size_t err_len)
{
	int r;

	if (dev) {
		/* Timestamps then compare with clock_gettime(MONOTONIC). */
		r = libevdev_set_clock_id(dev, CLOCK_MONOTONIC);
		if (r < 0) {
			snprintf(err, err_len,
				 "cannot set the clock of %s (%s): %s",
				 libevdev_get_name(dev), path, strerror(-r));
			goto fail;
		}
		r = set_describe(e, libevdev_get_name(dev), path);
	} else {
		r = set_describe(e, "event FIFO", path);
	}
	if (r < 0) {
		snprintf(err, err_len, "cannot open %s: out of memory", path);
		goto fail;
	}
	e->fd = fd;
	e->dev = dev;
	e->syncing = false;
	e->partial_len = 0;
	return 0;

fail:
	libevdev_free(dev);
	close(fd);
	return r;
}

static int open_path(struct evdev *e, char *err, size_t err_len)
{
	struct libevdev *dev;
	int fd, r;

	r = open_node(e->spec, &fd, &dev, err, err_len);
	if (r < 0)
		return r;
	if (dev && !libevdev_has_event_type(dev, EV_KEY)) {
		snprintf(err, err_len,
			 "%s (%s) is not a keyboard, keypad or remote: it "
			 "sends no keys",
			 libevdev_get_name(dev), e->spec);
		libevdev_free(dev);
		close(fd);
		return -EINVAL;
	}
	return attach(e, e->spec, fd, dev, err, err_len);
}

static int is_event_node(const struct dirent *d)
{
	return strncmp(d->d_name, "event", 5) == 0;
}

/* Attaches path if it is the device named e->spec and sends keys: 0,
 * -ENOENT when it is not (counting why in denied and keyless), or an
 * error from attaching it. */
static int try_named(struct evdev *e, const char *path, int *denied,
		     int *keyless, char *err, size_t err_len)
{
	struct libevdev *dev;
	char why[256];
	int fd, r;

	r = open_node(path, &fd, &dev, why, sizeof(why));
	if (r == -EACCES)
		(*denied)++;
	if (r < 0)
		return -ENOENT;
	if (dev && strcmp(libevdev_get_name(dev), e->spec) == 0) {
		if (libevdev_has_event_type(dev, EV_KEY))
			return attach(e, path, fd, dev, err, err_len);
		(*keyless)++;
	}
	libevdev_free(dev); /* NULL for a FIFO, which has no name */
	close(fd);
	return -ENOENT;
}

/* The first /dev/input/event* (in number order) with that name that
 * sends keys. A remote often shows up as several devices with one name
 * (keys, mouse, consumer control); the by-id path picks one exactly. */
static int open_name(struct evdev *e, char *err, size_t err_len)
{
	struct dirent **names;
	int n, r = -ENOENT, denied = 0, keyless = 0;

	n = scandir(INPUT_DIR, &names, is_event_node, versionsort);
	if (n < 0) {
		r = -errno;
		if (errno_absent(-r)) {
			snprintf(err, err_len,
				 "no input device named '%s' (there is no "
				 "%s)",
				 e->spec, INPUT_DIR);
			return -ENOENT;
		}
		snprintf(err, err_len, "cannot list %s: %s", INPUT_DIR,
			 strerror(-r));
		return r;
	}
	for (int i = 0; i < n; i++) {
		char path[sizeof(INPUT_DIR) + 256];

		if (r == -ENOENT && path_join(path, sizeof(path), INPUT_DIR,
					      names[i]->d_name) == 0)
			r = try_named(e, path, &denied, &keyless, err, err_len);
		free(names[i]);
	}
	free(names);
	if (r != -ENOENT)
		return r;
	if (denied) {
		snprintf(err, err_len,
			 "no readable input device is named '%s': %d of the "
			 "devices in %s cannot be read: add the user to the "
			 "input group",
			 e->spec, denied, INPUT_DIR);
		return -EACCES;
	}
	if (keyless) {
		snprintf(err, err_len,
			 "the input device '%s' is not a keyboard, keypad or "
			 "remote: it sends no keys",
			 e->spec);
		return -EINVAL;
	}
	snprintf(err, err_len, "no input device is named '%s'", e->spec);
	return -ENOENT;
}

int evdev_open(struct evdev *e, char *err, size_t err_len)
{
	if (e->fd >= 0)
		return 0;
	if (e->spec[0] == '/')
		return open_path(e, err, err_len);
	return open_name(e, err, err_len);
}

static int64_t event_ns(const struct input_event *ev)
{
	return (int64_t)ev->input_event_sec * 1000000000 +
	       (int64_t)ev->input_event_usec * 1000;
}

/* Presses and releases; autorepeat (2) and everything else is dropped. */
static bool take_key(const struct input_event *ev, int64_t ts_ns,
		     struct evdev_key *k)
{
	if (ev->type != EV_KEY || (ev->value != 0 && ev->value != 1))
		return false;
	k->code = ev->code;
	k->pressed = ev->value == 1;
	k->ts_ns = ts_ns;
	return true;
}

/* read() gives 0 both when no writer has come yet and when the last
 * one has left; only the second is the end (Linux reports POLLHUP on a
 * reading end only after a writer came and went, for this open file).
 *
 * That is also why the FIFO is not held open for writing by us as well:
 * it would hide the writer closing. Closing on the end and reopening
 * gives a fresh file that does not report POLLHUP, so the caller's poll
 * does not spin while no writer is there. */
static bool fifo_hung_up(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};

	return poll(&p, 1, 0) > 0 && (p.revents & POLLHUP);
}

/* FIFO records: the recorded timestamps come from another clock (and
 * another time), so a key is stamped when it is read. Only as many
 * bytes as max records are read, so what is left keeps the fd readable
 * for the caller's poll. */
static int fifo_read(struct evdev *e, struct evdev_key *keys, size_t max)
{
	unsigned char buf[64 * sizeof(struct input_event)];
	size_t n = 0;

	while (n < max) {
		size_t want = (max - n) * RECORD_BYTES, have, off;
		int64_t now;
		ssize_t got;

		if (want > sizeof(buf))
			want = sizeof(buf);
		memcpy(buf, e->partial, e->partial_len);
		got = read(e->fd, buf + e->partial_len, want - e->partial_len);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0 && errno == EAGAIN)
			break;
		if (got < 0)
			return n ? (int)n : -errno;
		if (got == 0) {
			/* Keys read before the end go out first; the next
			 * call meets the end again. */
			if (n || !fifo_hung_up(e->fd))
				break;
			evdev_close(e);
			return -ENODEV;
		}
		now = now_ns();
		have = e->partial_len + (size_t)got;
		for (off = 0; off + RECORD_BYTES <= have; off += RECORD_BYTES) {
			struct input_event ev;

			memcpy(&ev, buf + off, sizeof(ev));
			if (take_key(&ev, now, &keys[n]))
				n++;
		}
		e->partial_len = have - off;
		memcpy(e->partial, buf + off, e->partial_len);
	}
	return (int)n;
}

static int dev_read(struct evdev *e, struct evdev_key *keys, size_t max)
{
	size_t n = 0;

	while (n < max) {
		unsigned flags = e->syncing ? LIBEVDEV_READ_FLAG_SYNC
					    : LIBEVDEV_READ_FLAG_NORMAL;
		struct input_event ev;
		int r = libevdev_next_event(e->dev, flags, &ev);

		if (r == -EAGAIN && e->syncing) {
			/* The delta is out; back to the normal stream. */
			e->syncing = false;
			continue;
		}
		if (r == -EAGAIN)
			break;
		if (r == -EINTR)
			continue;
		if (r < 0) {
			/* Keys read before the end go out first; the
			 * next call meets the error again. */
			if (n)
				break;
			if (r == -ENODEV)
				evdev_close(e);
			return r;
		}
		if (r == LIBEVDEV_READ_STATUS_SYNC && !e->syncing) {
			/* ev is the SYN_DROPPED: the kernel's buffer
			 * overran. Reading on with FLAG_SYNC gives the
			 * difference between the state libevdev knew and
			 * the device's, as events. Until that is drained
			 * (across calls if max runs out) a NORMAL read
			 * would throw the difference away. */
			e->syncing = true;
			continue;
		}
		if (take_key(&ev, event_ns(&ev), &keys[n]))
			n++;
	}
	return (int)n;
}

int evdev_read(struct evdev *e, struct evdev_key *keys, size_t max)
{
	if (e->fd < 0)
		return -ENODEV;
	return e->dev ? dev_read(e, keys, max) : fifo_read(e, keys, max);
}

int evdev_key_code(const char *name)
{
	char upper[64];
	size_t len;
	long v;
	int code;

	if (!name)
		return -EINVAL;
	if (isdigit((unsigned char)*name))
		return parse_long(name, 0, KEY_MAX, &v) == 0 ? (int)v : -EINVAL;
	len = strlen(name);
	if (len == 0 || len >= sizeof(upper))
		return -EINVAL;
	/* Config files are forgiving about case: key_pagedown works. */
	for (size_t i = 0; i <= len; i++)
		upper[i] = (char)toupper((unsigned char)name[i]);
	code = libevdev_event_code_from_name(EV_KEY, upper);
	return code >= 0 && code <= KEY_MAX ? code : -EINVAL;
}

const char *evdev_key_name(unsigned code)
{
	if (code > KEY_MAX)
		return NULL;
	return libevdev_event_code_get_name(EV_KEY, code);
}

/* Watches. The API hands out a bare inotify fd, so what drain needs to
 * re-add watches (the folder's path) is kept here, by fd number: a small
 * table, grown as needed (a daemon holds a few watches; during a reload
 * the old and new set). An entry goes stale when its fd is closed and is
 * reused by the next watch. */
#define DIR_MASK    (IN_CREATE | IN_DELETE | IN_ATTRIB | IN_MOVED_TO | IN_ONLYDIR)
#define PARENT_MASK (IN_CREATE | IN_MOVED_TO | IN_ONLYDIR)

struct watch {
	int fd;
	int parent_wd; /* -1 unless dir is missing and its parent watched */
	char *dir;     /* NULL: a free entry; no trailing slash */
	char *parent;
	const char *base; /* dir's last component, inside dir */
};

static struct watch *watches;
static size_t nwatches;

static struct watch *watch_find(int fd)
{
	for (size_t i = 0; i < nwatches; i++)
		if (watches[i].dir && watches[i].fd == fd)
			return &watches[i];
	return NULL;
}

static void watch_clear(struct watch *w)
{
	free(w->dir);
	free(w->parent);
	memset(w, 0, sizeof(*w));
}

/* A free entry for the new inotify fd. Entries under the same number
 * (that number was free to be handed out again) or with a closed fd are
 * stale and freed first. */
static struct watch *watch_slot(int fd)
{
	struct watch *grown, *free_w = NULL;

	for (size_t i = 0; i < nwatches; i++) {
		struct watch *w = &watches[i];

		if (w->dir && (w->fd == fd || fcntl(w->fd, F_GETFD) < 0))
			watch_clear(w);
		if (!w->dir && !free_w)
			free_w = w;
	}
	if (free_w)
		return free_w;
	grown = realloc(watches, (nwatches + 4) * sizeof(*watches));
	if (!grown)
		return NULL;
	watches = grown;
	memset(&watches[nwatches], 0, 4 * sizeof(*watches));
	nwatches += 4;
	return &watches[nwatches - 4];
}

static void watch_subdirs(const struct watch *w)
{
	static const char *const subs[] = {"by-id", "by-path"};
	char path[4096];

	for (size_t i = 0; i < ARRAY_SIZE(subs); i++)
		if (path_join(path, sizeof(path), w->dir, subs[i]) == 0)
			/* Absent now: its IN_CREATE on dir brings it. */
			(void)inotify_add_watch(w->fd, path, DIR_MASK);
}

/* Brings the watches in line with what exists: dir and its subfolders
 * when dir is there (adding a watch twice is harmless), else dir's
 * parent, to see dir appear. Idempotent; drain calls it after folders
 * came or went. */
static int watch_sync(struct watch *w)
{
	if (inotify_add_watch(w->fd, w->dir, DIR_MASK) < 0) {
		if (errno != ENOENT && errno != ENOTDIR)
			return -errno;
		if (w->parent_wd < 0) {
			int wd =
			    inotify_add_watch(w->fd, w->parent, PARENT_MASK);

			if (wd < 0)
				return -errno;
			w->parent_wd = wd;
		}
		/* dir may have appeared before the parent was watched. */
		if (inotify_add_watch(w->fd, w->dir, DIR_MASK) < 0)
			return 0;
	}
	watch_subdirs(w);
	if (w->parent_wd >= 0) {
		/* The parent (/dev) is busy with unrelated nodes: stop
		 * waking the caller for them. */
		inotify_rm_watch(w->fd, w->parent_wd);
		w->parent_wd = -1;
	}
	return 0;
}

int evdev_watch_new(const char *dir)
{
	struct watch *w;
	size_t len;
	int fd, r;

	if (!dir)
		dir = INPUT_DIR;
	len = strlen(dir);
	while (len > 1 && dir[len - 1] == '/')
		len--;
	if (len == 0)
		return -EINVAL;
	fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	if (fd < 0)
		return -errno;
	w = watch_slot(fd);
	if (!w) {
		r = -ENOMEM;
		goto fail_fd;
	}
	w->fd = fd;
	w->parent_wd = -1;
	w->dir = strndup(dir, len);
	w->parent = w->dir ? path_dirname(w->dir) : NULL;
	if (!w->dir || !w->parent) {
		r = -ENOMEM;
		goto fail_slot;
	}
	w->base = strrchr(w->dir, '/') ? strrchr(w->dir, '/') + 1 : w->dir;
	r = watch_sync(w);
	if (r < 0)
		goto fail_slot;
	return fd;

fail_slot:
	watch_clear(w);
fail_fd:
	close(fd);
	return r;
}

bool evdev_watch_drain(int fd)
{
	char buf[4096]
	    __attribute__((aligned(__alignof__(struct inotify_event))));
	struct watch *w = watch_find(fd);
	bool changed = false, resync = false;

	for (;;) {
		ssize_t got = read(fd, buf, sizeof(buf));
		const struct inotify_event *ev;

		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			break;
		for (char *p = buf; p < buf + got; p += sizeof(*ev) + ev->len) {
			ev = (const struct inotify_event *)(void *)p;
			if (ev->mask & IN_Q_OVERFLOW) {
				changed = resync = true;
			} else if (ev->mask & IN_IGNORED) {
				/* A watched folder went (or our own
				 * rm_watch of the parent). */
				resync = true;
			} else if (w && ev->wd == w->parent_wd) {
				if (ev->len && strcmp(ev->name, w->base) == 0)
					changed = resync = true;
			} else {
				changed = true;
				if (ev->mask & IN_ISDIR)
					resync = true;
			}
		}
	}
	if (w && resync)
		/* A failure (no watches left) shows as no more events;
		 * there is nothing better to do with it here. */
		(void)watch_sync(w);
	return changed;
}
