/* Linux input devices (evdev) as buttons: keys exposed by the gpio-key
 * device-tree overlay, USB keypads, foot switches, wireless presenter
 * remotes. A thin adapter over libevdev: it opens a device chosen by
 * path (/dev/input/by-id/...) or by its name, hands the fd to the
 * caller's poll loop and turns key events into struct evdev_key. A
 * device that goes away (a remote switched off) is closed, and the
 * caller reopens it when /dev/input changes (evdev_watch). It never
 * logs.
 *
 * A FIFO given as the path is read as a stream of raw struct input_event
 * records: a recorded event stream replayed by tests, or a bridge from
 * another input program. When its writer closes, evdev_read returns
 * -ENODEV like an unplugged device; evdev_open reopens it at once, and
 * the new fd waits for the next writer without polling POLLHUP. */
#ifndef BULLHORN_EVDEV_H
#define BULLHORN_EVDEV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct evdev_key {
	unsigned code; /* KEY_* / BTN_* */
	bool pressed;  /* value 1; releases are 0; autorepeat is dropped */
	int64_t ts_ns; /* CLOCK_MONOTONIC */
};

struct evdev;

/* spec: a path (starting with '/') or a device name as the kernel gives
 * it (evtest, /proc/bus/input/devices). Does not open anything yet. */
struct evdev *evdev_new(const char *spec);
void evdev_free(struct evdev *e);

/* Opens the device if it is closed. 0 when open (or already open);
 * -ENOENT when it is not there (yet); other -errno with a sentence in
 * err (permission: "add the user to the input group"). Grabs nothing:
 * other programs still see the keys. */
int evdev_open(struct evdev *e, char *err, size_t err_len);
bool evdev_is_open(const struct evdev *e);
/* The open device's name and path, for logs ("Presenter (/dev/...)"). */
const char *evdev_describe(const struct evdev *e);

/* -1 when closed. */
int evdev_fd(const struct evdev *e);
/* Reads pending key events without blocking, up to max. Returns the
 * count, or -ENODEV once the device has gone (it is then closed: call
 * evdev_open again when /dev/input changes). A kernel buffer overrun
 * (SYN_DROPPED) is resynced: keys whose state changed meanwhile come out
 * as events. A return of max means more may be waiting (libevdev queues
 * events the fd no longer shows): call it again. */
int evdev_read(struct evdev *e, struct evdev_key *keys, size_t max);

/* Key names for config files: "KEY_PAGEDOWN", "BTN_LEFT" or a number.
 * Returns the code or -EINVAL. */
int evdev_key_code(const char *name);
/* "KEY_PAGEDOWN" for a code, or NULL. */
const char *evdev_key_name(unsigned code);

/* An inotify watch on dir (NULL: /dev/input, and its by-id/by-path
 * folders; /dev itself while /dev/input does not exist yet) that becomes
 * readable when devices come or go; returns the fd for the poll loop or
 * -errno. evdev_watch_drain empties it and returns true if anything
 * changed (it re-adds watches on folders that appeared). close(2) ends
 * a watch. */
int evdev_watch_new(const char *dir);
bool evdev_watch_drain(int fd);

#endif
