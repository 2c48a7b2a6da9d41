/* One timerfd serves every button's debounce window and hold, armed at
 * the earliest deadline; nothing wakes while all buttons are at rest. */
#include "buttons.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "evdev.h"
#include "gpio.h"
#include "util.h"

#define CONSUMER "bullhorn"
#define MAX_KEYS                                                               \
	(CONFIG_MAX_BUTTONS + CONFIG_MAX_REMOTES * CONFIG_MAX_REMOTE_KEYS)
#define MAX_POLLED (2 + CONFIG_MAX_BUTTONS + 2 * CONFIG_MAX_REMOTES)
#define SKEW_NS	   1000000000LL

struct key {
	char source[2 * ACTION_NAME_MAX + 16];
	char *press, *hold; /* actions, or NULL */
	struct button logic;
	struct gpio_line *line; /* GPIO buttons */
	size_t remote;		/* remote keys: index into remotes */
	unsigned code;
	bool is_remote;
};

struct remote {
	char name[ACTION_NAME_MAX];
	struct evdev *dev;
	unsigned hold_ms, debounce_ms;
};

struct buttons {
	buttons_fn fn;
	void *data;
	struct key keys[MAX_KEYS];
	size_t nkeys;
	struct remote remotes[CONFIG_MAX_REMOTES];
	size_t nremotes;
	size_t faults;
	int timer_fd;
	/* inotify: /dev/input, and the folder of a remote given by a path
	 * outside it (an event FIFO), so its return is noticed. */
	int watch_fds[1 + CONFIG_MAX_REMOTES];
	char *watch_dirs[1 + CONFIG_MAX_REMOTES];
	size_t nwatch;
	int64_t armed_ns; /* the timer's deadline, or BUTTON_NEVER */
	/* What each pollfd of the last buttons_pollfds() was. */
	struct {
		struct key *key;       /* a GPIO line */
		struct remote *remote; /* an input device */
		int special;	       /* 1 timer, 2 + i watch_fds[i] */
	} polled[MAX_POLLED];
	int npolled;
};

static void notify(struct buttons *b, enum buttons_kind kind,
		   const char *source, const char *where, const char *text)
{
	struct buttons_event ev = {
	    .kind = kind, .source = source, .where = where, .text = text};

	b->fn(b->data, &ev);
}

static char *dup_or_null(const char *s, int *r)
{
	char *d = s ? strdup(s) : NULL;

	if (s && !d)
		*r = -ENOMEM;
	return d;
}

static int add_gpio(struct buttons *b, const struct config_button *cb)
{
	struct key *k = &b->keys[b->nkeys];
	struct gpio_spec spec = {
	    .chip = cb->gpio.chip,
	    .line = cb->gpio.line,
	    .active_low = cb->gpio.active_low,
	    .bias = cb->gpio.bias,
	};
	char err[256];
	int r = 0, level;

	snprintf(k->source, sizeof(k->source), "button %s", cb->name);
	r = gpio_request_input(&spec, CONSUMER, &k->line, err, sizeof(err));
	if (r < 0) {
		char text[400];

		if (r == -ENOMEM)
			return r;
		snprintf(text, sizeof(text), "[%s]: %s; the other buttons work",
			 k->source, err);
		notify(b, BUTTONS_PROBLEM, k->source, NULL, text);
		b->faults++;
		return 0;
	}
	k->press = dup_or_null(cb->press, &r);
	k->hold = dup_or_null(cb->hold, &r);
	level = gpio_get(k->line);
	button_init(&k->logic, cb->debounce_ms, cb->hold ? cb->hold_ms : 0,
		    level > 0, now_ns());
	b->nkeys++;
	if (level > 0) {
		char text[400];

		snprintf(text, sizeof(text),
			 "[%s]: %s is pressed (or stuck) at start; it acts "
			 "once it has been released",
			 k->source, gpio_describe(k->line));
		notify(b, BUTTONS_PROBLEM, k->source, gpio_describe(k->line),
		       text);
	}
	return r;
}

static int add_remote(struct buttons *b, const struct config_remote *cr)
{
	struct remote *rm = &b->remotes[b->nremotes];
	int r = 0;

	snprintf(rm->name, sizeof(rm->name), "%s", cr->name);
	rm->hold_ms = cr->hold_ms;
	rm->debounce_ms = cr->debounce_ms;
	rm->dev = evdev_new(cr->device);
	if (!rm->dev)
		return -ENOMEM;
	for (size_t i = 0; i < cr->nkeys && r == 0; i++) {
		const struct config_remote_key *ck = &cr->keys[i];
		struct key *k = &b->keys[b->nkeys++];
		const char *kn = evdev_key_name(ck->code);
		char num[16];

		if (!kn) {
			snprintf(num, sizeof(num), "%u", ck->code);
			kn = num;
		}
		snprintf(k->source, sizeof(k->source), "remote %s %s", cr->name,
			 kn);
		k->is_remote = true;
		k->remote = b->nremotes;
		k->code = ck->code;
		k->press = dup_or_null(ck->press, &r);
		k->hold = dup_or_null(ck->hold, &r);
		button_init(&k->logic, cr->debounce_ms,
			    ck->hold ? cr->hold_ms : 0, false, now_ns());
	}
	b->nremotes++;
	return r;
}

/* Opens a remote that is closed; quiet while it is simply not there. */
static void open_remote(struct buttons *b, struct remote *rm, bool at_start)
{
	char err[256], text[400];
	int r;

	if (evdev_is_open(rm->dev))
		return;
	r = evdev_open(rm->dev, err, sizeof(err));
	if (r == 0) {
		snprintf(text, sizeof(text), "remote %s: %s connected",
			 rm->name, evdev_describe(rm->dev));
		notify(b, BUTTONS_CONNECTED, rm->name, evdev_describe(rm->dev),
		       text);
	} else if (r == -ENOENT) {
		if (at_start) {
			snprintf(text, sizeof(text),
				 "remote %s is not connected; it is used as "
				 "soon as it appears",
				 rm->name);
			notify(b, BUTTONS_DISCONNECTED, rm->name, NULL, text);
		}
	} else {
		snprintf(text, sizeof(text), "[remote %s]: %s", rm->name, err);
		notify(b, BUTTONS_PROBLEM, rm->name, NULL, text);
	}
}

static void add_watch(struct buttons *b, const char *dir)
{
	char text[400];
	int fd;

	for (size_t i = 0; i < b->nwatch; i++)
		if (dir && b->watch_dirs[i] &&
		    strcmp(dir, b->watch_dirs[i]) == 0)
			return;
	if (b->nwatch == ARRAY_SIZE(b->watch_fds))
		return;
	fd = evdev_watch_new(dir);
	if (fd < 0) {
		snprintf(text, sizeof(text),
			 "cannot watch %s for remotes (%s); a remote switched "
			 "on later is used after bullhorn reload",
			 dir ? dir : "/dev/input", strerror(-fd));
		notify(b, BUTTONS_PROBLEM, "remotes", NULL, text);
		return;
	}
	b->watch_dirs[b->nwatch] = dir ? strdup(dir) : NULL;
	b->watch_fds[b->nwatch++] = fd;
}

struct buttons *buttons_new(const struct config *cfg, buttons_fn fn, void *data)
{
	struct buttons *b = calloc(1, sizeof(*b));
	int r = 0;

	if (!b)
		return NULL;
	b->fn = fn;
	b->data = data;
	b->armed_ns = BUTTON_NEVER;
	b->timer_fd =
	    timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (b->timer_fd < 0)
		goto fail;
	for (size_t i = 0; i < cfg->nbuttons && r == 0; i++)
		r = add_gpio(b, &cfg->buttons[i]);
	for (size_t i = 0; i < cfg->nremotes && r == 0; i++)
		r = add_remote(b, &cfg->remotes[i]);
	if (r < 0)
		goto fail;
	if (b->nremotes)
		add_watch(b, NULL);
	for (size_t i = 0; i < cfg->nremotes; i++) {
		const char *dev = cfg->remotes[i].device;
		char *dir;

		if (dev[0] != '/' || strncmp(dev, "/dev/input/", 11) == 0)
			continue;
		dir = path_dirname(dev);
		if (dir)
			add_watch(b, dir);
		free(dir);
	}
	for (size_t i = 0; i < b->nremotes; i++)
		open_remote(b, &b->remotes[i], true);
	return b;
fail:
	buttons_free(b);
	return NULL;
}

void buttons_free(struct buttons *b)
{
	if (!b)
		return;
	for (size_t i = 0; i < b->nkeys; i++) {
		gpio_release(b->keys[i].line);
		free(b->keys[i].press);
		free(b->keys[i].hold);
	}
	for (size_t i = 0; i < b->nremotes; i++)
		evdev_free(b->remotes[i].dev);
	if (b->timer_fd >= 0)
		close(b->timer_fd);
	for (size_t i = 0; i < b->nwatch; i++) {
		close(b->watch_fds[i]);
		free(b->watch_dirs[i]);
	}
	free(b);
}

size_t buttons_faults(const struct buttons *b)
{
	return b ? b->faults : 0;
}

static void emit(struct buttons *b, struct key *k, enum button_event ev,
		 int64_t t_ns)
{
	struct buttons_event e = {
	    .kind = BUTTONS_INPUT,
	    .source = k->source,
	    .ev = ev,
	    .action = ev == BUTTON_PRESS  ? k->press
		      : ev == BUTTON_HOLD ? k->hold
					  : NULL,
	    .edge_ns = t_ns,
	};

	if (ev == BUTTON_NONE)
		return;
	e.where = k->is_remote ? evdev_describe(b->remotes[k->remote].dev)
			       : gpio_describe(k->line);
	b->fn(b->data, &e);
}

/* The kernel's timestamp, unless it is clearly from another clock (an
 * old kernel's realtime stamps): then the time it was read. */
static int64_t edge_time(int64_t ts, int64_t now)
{
	return ts > now + SKEW_NS || ts < now - SKEW_NS ? now : ts;
}

static void read_gpio(struct buttons *b, struct key *k)
{
	struct gpio_edge edges[16];
	int n;

	while ((n = gpio_read_edges(k->line, edges, ARRAY_SIZE(edges))) > 0) {
		int64_t now = now_ns();

		for (int i = 0; i < n; i++) {
			int64_t t = edge_time(edges[i].ts_ns, now);

			emit(b, k, button_edge(&k->logic, edges[i].active, t),
			     t);
		}
		if ((size_t)n < ARRAY_SIZE(edges))
			break;
	}
}

static void read_remote(struct buttons *b, struct remote *rm)
{
	struct evdev_key keys[32];
	size_t idx = (size_t)(rm - b->remotes);
	int n;

	while ((n = evdev_read(rm->dev, keys, ARRAY_SIZE(keys))) > 0) {
		int64_t now = now_ns();

		for (int i = 0; i < n; i++)
			for (size_t j = 0; j < b->nkeys; j++) {
				struct key *k = &b->keys[j];
				int64_t t = edge_time(keys[i].ts_ns, now);

				if (!k->is_remote || k->remote != idx ||
				    k->code != keys[i].code)
					continue;
				emit(b, k,
				     button_edge(&k->logic, keys[i].pressed, t),
				     t);
			}
		if ((size_t)n < ARRAY_SIZE(keys))
			break;
	}
	if (n == -ENODEV) {
		char text[256];

		/* Keys held when it went are released: no hold fires. */
		for (size_t j = 0; j < b->nkeys; j++)
			if (b->keys[j].is_remote && b->keys[j].remote == idx)
				button_init(&b->keys[j].logic,
					    b->keys[j].logic.debounce_ms,
					    b->keys[j].logic.hold_ms, false,
					    now_ns());
		snprintf(text, sizeof(text),
			 "remote %s went away; it is used again when it comes "
			 "back",
			 rm->name);
		notify(b, BUTTONS_DISCONNECTED, rm->name, NULL, text);
		/* An unplugged device is simply absent now (quiet); an event
		 * FIFO whose writer left is ready for the next one, and no
		 * folder change would announce that. */
		open_remote(b, rm, false);
	}
}

static void run_timers(struct buttons *b)
{
	int64_t now = now_ns();
	uint64_t ticks;

	if (read(b->timer_fd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
		return;
	for (size_t i = 0; i < b->nkeys; i++) {
		struct key *k = &b->keys[i];
		int64_t d = button_deadline(&k->logic);

		if (d <= now)
			emit(b, k, button_timer(&k->logic, now), d);
	}
}

static void arm(struct buttons *b)
{
	int64_t next = BUTTON_NEVER;
	struct itimerspec its = {{0, 0}, {0, 0}};

	for (size_t i = 0; i < b->nkeys; i++) {
		int64_t d = button_deadline(&b->keys[i].logic);

		if (d < next)
			next = d;
	}
	if (next == b->armed_ns)
		return;
	b->armed_ns = next;
	if (next != BUTTON_NEVER) {
		/* 0 would disarm: a deadline already past fires at once. */
		if (next <= 0)
			next = 1;
		its.it_value.tv_sec = next / 1000000000;
		its.it_value.tv_nsec = next % 1000000000;
	}
	timerfd_settime(b->timer_fd, TFD_TIMER_ABSTIME, &its, NULL);
}

int buttons_pollfds(struct buttons *b, struct pollfd *fds, int max)
{
	int n = 0;

	if (!b)
		return 0;
	arm(b);
	if (b->armed_ns != BUTTON_NEVER && n < max && n < MAX_POLLED) {
		fds[n] = (struct pollfd){.fd = b->timer_fd, .events = POLLIN};
		b->polled[n++] = (typeof(b->polled[0])){NULL, NULL, 1};
	}
	for (size_t i = 0; i < b->nwatch && n < max && n < MAX_POLLED; i++) {
		fds[n] =
		    (struct pollfd){.fd = b->watch_fds[i], .events = POLLIN};
		b->polled[n++] = (typeof(b->polled[0])){NULL, NULL, 2 + (int)i};
	}
	for (size_t i = 0; i < b->nkeys && n < max && n < MAX_POLLED; i++) {
		if (b->keys[i].is_remote)
			continue;
		fds[n] = (struct pollfd){.fd = gpio_fd(b->keys[i].line),
					 .events = POLLIN};
		b->polled[n++] = (typeof(b->polled[0])){&b->keys[i], NULL, 0};
	}
	for (size_t i = 0; i < b->nremotes && n < max && n < MAX_POLLED; i++) {
		if (!evdev_is_open(b->remotes[i].dev))
			continue;
		fds[n] = (struct pollfd){.fd = evdev_fd(b->remotes[i].dev),
					 .events = POLLIN};
		b->polled[n++] =
		    (typeof(b->polled[0])){NULL, &b->remotes[i], 0};
	}
	b->npolled = n;
	return n;
}

void buttons_dispatch(struct buttons *b, const struct pollfd *fds, int n)
{
	bool rescan = false;

	if (!b)
		return;
	for (int i = 0; i < n && i < b->npolled; i++) {
		if (!fds[i].revents)
			continue;
		if (b->polled[i].special == 1)
			run_timers(b);
		else if (b->polled[i].special >= 2)
			rescan = evdev_watch_drain(
				     b->watch_fds[b->polled[i].special - 2]) ||
				 rescan;
		else if (b->polled[i].key)
			read_gpio(b, b->polled[i].key);
		else if (b->polled[i].remote)
			read_remote(b, b->polled[i].remote);
	}
	if (rescan)
		for (size_t i = 0; i < b->nremotes; i++)
			open_remote(b, &b->remotes[i], false);
}
