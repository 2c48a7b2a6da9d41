/* The libgpiod adapter. The two API generations differ only in the few
 * static functions chip_*() and line_*(), chosen by BULLHORN_GPIOD_MAJOR;
 * the lookup rules and every error sentence are shared.
 *
 * Edge semantics, read from the kernel (drivers/gpio/gpiolib-cdev.c) and
 * both libgpiod generations: with active-low set, the kernel inverts the
 * IRQ trigger for single edges and, for both-edge requests, names the
 * event from the logical value it reads after the interrupt
 * (gpiod_get_value_cansleep, which applies active-low). This holds for
 * the v1 uAPI used by libgpiod 1.6 (lineevent_irq_thread) and for v2 used
 * by 2.x (edge_irq_thread); neither libgpiod generation remaps the id. So
 * a rising edge always means "now active" and no inversion happens here.
 * Timestamps are CLOCK_MONOTONIC: v1 events use it since Linux 5.7, v2
 * events by default (requested explicitly below). */
#include "gpio.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <gpiod.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#ifndef BULLHORN_GPIOD_MAJOR
#error "BULLHORN_GPIOD_MAJOR must be 1 or 2 (the Makefile sets it)"
#elif BULLHORN_GPIOD_MAJOR == 0
#error "pkg-config finds no libgpiod: install libgpiod-dev"
#elif BULLHORN_GPIOD_MAJOR != 1 && BULLHORN_GPIOD_MAJOR != 2
#error "BULLHORN_GPIOD_MAJOR must be 1 or 2"
#endif

#define DEV_DIR	  "/dev"
#define MAX_CHIPS 64
#define MAX_EDGES 16 /* per read; the kernel queues 16 per line by default */

struct gpio_line {
#if BULLHORN_GPIOD_MAJOR == 1
	struct gpiod_chip *chip; /* owns the line in 1.6 */
	struct gpiod_line *line;
#else
	struct gpiod_line_request *req;
	struct gpiod_edge_event_buffer *buf;
#endif
	unsigned int offset;
	bool input;
	int fd;
	char desc[128];
};

/* What the shared code needs to know about an open chip. */
struct chip_facts {
	char name[32];
	char label[64];
	unsigned int num_lines;
};

static void say(char *err, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void say(char *err, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (!err || !len)
		return;
	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
}

/* ---- the two libgpiod generations ---------------------------------- */

#if BULLHORN_GPIOD_MAJOR == 1

static int chip_facts(struct gpiod_chip *c, struct chip_facts *f)
{
	snprintf(f->name, sizeof(f->name), "%s", gpiod_chip_name(c));
	snprintf(f->label, sizeof(f->label), "%s", gpiod_chip_label(c));
	f->num_lines = gpiod_chip_num_lines(c);
	return 0;
}

/* The offset of the line called name, or -errno (-ENOENT: none). */
static int chip_find(struct gpiod_chip *c, const char *name)
{
	struct gpiod_line *line = gpiod_chip_find_line(c, name);

	return line ? (int)gpiod_line_offset(line) : -(errno ? errno : ENOENT);
}

/* The line's name and its current consumer ("" for none). */
static void chip_line_names(struct gpiod_chip *c, unsigned int offset,
			    char name[64], char consumer[64])
{
	struct gpiod_line *line = gpiod_chip_get_line(c, offset);

	name[0] = consumer[0] = '\0';
	if (!line || gpiod_line_update(line) < 0)
		return;
	if (gpiod_line_name(line))
		snprintf(name, 64, "%s", gpiod_line_name(line));
	if (gpiod_line_consumer(line))
		snprintf(consumer, 64, "%s", gpiod_line_consumer(line));
}

/* Requests l->offset; on success l takes c (1.6 lines belong to it). */
static int line_request(struct gpiod_chip *c, struct gpio_line *l,
			const struct gpio_spec *spec, const char *consumer,
			bool initial)
{
	struct gpiod_line *line = gpiod_chip_get_line(c, l->offset);
	int flags = spec->active_low ? GPIOD_LINE_REQUEST_FLAG_ACTIVE_LOW : 0;
	int r;

	if (!line)
		return -errno;
	if (l->input) {
		if (spec->bias == GPIO_BIAS_PULL_UP)
			flags |= GPIOD_LINE_REQUEST_FLAG_BIAS_PULL_UP;
		else if (spec->bias == GPIO_BIAS_PULL_DOWN)
			flags |= GPIOD_LINE_REQUEST_FLAG_BIAS_PULL_DOWN;
		else
			flags |= GPIOD_LINE_REQUEST_FLAG_BIAS_DISABLE;
		r = gpiod_line_request_both_edges_events_flags(line, consumer,
							       flags);
	} else {
		r = gpiod_line_request_output_flags(line, consumer, flags,
						    initial);
	}
	if (r < 0)
		return -errno;
	l->chip = c;
	l->line = line;
	l->fd = l->input ? gpiod_line_event_get_fd(line) : -1;
	return 0;
}

static void line_release(struct gpio_line *l)
{
	if (l->chip)
		gpiod_chip_close(l->chip); /* releases its lines */
}

static int line_read(struct gpio_line *l, struct gpio_edge *edges, size_t max)
{
	struct gpiod_line_event ev[MAX_EDGES];
	int n = gpiod_line_event_read_fd_multiple(l->fd, ev, (unsigned int)max);

	if (n < 0)
		return errno == EAGAIN ? 0 : -errno;
	for (int i = 0; i < n; i++) {
		edges[i].active =
		    ev[i].event_type == GPIOD_LINE_EVENT_RISING_EDGE;
		edges[i].ts_ns =
		    (int64_t)ev[i].ts.tv_sec * 1000000000 + ev[i].ts.tv_nsec;
	}
	return n;
}

static int line_get(struct gpio_line *l)
{
	int v = gpiod_line_get_value(l->line);

	return v < 0 ? -errno : v;
}

static int line_set(struct gpio_line *l, bool active)
{
	return gpiod_line_set_value(l->line, active) < 0 ? -errno : 0;
}

static const char *library_version(void)
{
	return gpiod_version_string();
}

#else /* BULLHORN_GPIOD_MAJOR == 2 */

static int chip_facts(struct gpiod_chip *c, struct chip_facts *f)
{
	struct gpiod_chip_info *info = gpiod_chip_get_info(c);

	if (!info)
		return -errno;
	snprintf(f->name, sizeof(f->name), "%s",
		 gpiod_chip_info_get_name(info));
	snprintf(f->label, sizeof(f->label), "%s",
		 gpiod_chip_info_get_label(info));
	f->num_lines = (unsigned int)gpiod_chip_info_get_num_lines(info);
	gpiod_chip_info_free(info);
	return 0;
}

static int chip_find(struct gpiod_chip *c, const char *name)
{
	int off = gpiod_chip_get_line_offset_from_name(c, name);

	return off >= 0 ? off : -(errno ? errno : ENOENT);
}

static void chip_line_names(struct gpiod_chip *c, unsigned int offset,
			    char name[64], char consumer[64])
{
	struct gpiod_line_info *info = gpiod_chip_get_line_info(c, offset);

	name[0] = consumer[0] = '\0';
	if (!info)
		return;
	if (gpiod_line_info_get_name(info))
		snprintf(name, 64, "%s", gpiod_line_info_get_name(info));
	if (gpiod_line_info_get_consumer(info))
		snprintf(consumer, 64, "%s",
			 gpiod_line_info_get_consumer(info));
	gpiod_line_info_free(info);
}

/* Each setter returns 0 or -1, so their results are or-ed. */
static int settings(struct gpiod_line_settings *ls, bool input,
		    const struct gpio_spec *spec, bool initial)
{
	static const enum gpiod_line_bias bias[] = {
	    [GPIO_BIAS_PULL_UP] = GPIOD_LINE_BIAS_PULL_UP,
	    [GPIO_BIAS_PULL_DOWN] = GPIOD_LINE_BIAS_PULL_DOWN,
	    [GPIO_BIAS_NONE] = GPIOD_LINE_BIAS_DISABLED,
	};

	gpiod_line_settings_set_active_low(ls, spec->active_low);
	if (!input)
		return gpiod_line_settings_set_direction(
			   ls, GPIOD_LINE_DIRECTION_OUTPUT) |
		       gpiod_line_settings_set_output_value(
			   ls, initial ? GPIOD_LINE_VALUE_ACTIVE
				       : GPIOD_LINE_VALUE_INACTIVE);
	gpiod_line_settings_set_debounce_period_us(ls, 0);
	return gpiod_line_settings_set_direction(ls,
						 GPIOD_LINE_DIRECTION_INPUT) |
	       gpiod_line_settings_set_edge_detection(ls,
						      GPIOD_LINE_EDGE_BOTH) |
	       gpiod_line_settings_set_bias(ls, bias[spec->bias]) |
	       gpiod_line_settings_set_event_clock(ls,
						   GPIOD_LINE_CLOCK_MONOTONIC);
}

/* Requests l->offset; on success l takes c, here only to close it (a 2.x
 * request lives on its own). */
static int line_request(struct gpiod_chip *c, struct gpio_line *l,
			const struct gpio_spec *spec, const char *consumer,
			bool initial)
{
	struct gpiod_line_settings *ls = gpiod_line_settings_new();
	struct gpiod_line_config *lc = gpiod_line_config_new();
	struct gpiod_request_config *rc = gpiod_request_config_new();
	int r = -ENOMEM;

	if (!ls || !lc || !rc ||
	    (l->input && !(l->buf = gpiod_edge_event_buffer_new(MAX_EDGES))))
		goto out;
	r = -EINVAL;
	if (settings(ls, l->input, spec, initial) < 0 ||
	    gpiod_line_config_add_line_settings(lc, &l->offset, 1, ls) < 0)
		goto out;
	gpiod_request_config_set_consumer(rc, consumer);
	errno = 0;
	l->req = gpiod_chip_request_lines(c, rc, lc);
	if (!l->req) {
		r = errno ? -errno : -EIO;
		goto out;
	}
	l->fd = l->input ? gpiod_line_request_get_fd(l->req) : -1;
	gpiod_chip_close(c);
	r = 0;
out:
	if (r < 0) {
		gpiod_edge_event_buffer_free(l->buf);
		l->buf = NULL;
	}
	gpiod_request_config_free(rc);
	gpiod_line_config_free(lc);
	gpiod_line_settings_free(ls);
	return r;
}

static void line_release(struct gpio_line *l)
{
	if (l->req)
		gpiod_line_request_release(l->req);
	gpiod_edge_event_buffer_free(l->buf);
}

static int line_read(struct gpio_line *l, struct gpio_edge *edges, size_t max)
{
	int n = gpiod_line_request_read_edge_events(l->req, l->buf, max);

	if (n < 0)
		return errno == EAGAIN ? 0 : -errno;
	for (int i = 0; i < n; i++) {
		struct gpiod_edge_event *ev =
		    gpiod_edge_event_buffer_get_event(l->buf, (unsigned long)i);

		edges[i].active = gpiod_edge_event_get_event_type(ev) ==
				  GPIOD_EDGE_EVENT_RISING_EDGE;
		edges[i].ts_ns = (int64_t)gpiod_edge_event_get_timestamp_ns(ev);
	}
	return n;
}

static int line_get(struct gpio_line *l)
{
	enum gpiod_line_value v =
	    gpiod_line_request_get_value(l->req, l->offset);

	if (v == GPIOD_LINE_VALUE_ERROR)
		return -errno;
	return v == GPIOD_LINE_VALUE_ACTIVE;
}

static int line_set(struct gpio_line *l, bool active)
{
	enum gpiod_line_value v =
	    active ? GPIOD_LINE_VALUE_ACTIVE : GPIOD_LINE_VALUE_INACTIVE;

	return gpiod_line_request_set_value(l->req, l->offset, v) < 0 ? -errno
								      : 0;
}

static const char *library_version(void)
{
	return gpiod_api_version();
}

#endif

/* ---- chips: listing, opening, looking up ------------------------- */

static int cmp_uint(const void *a, const void *b)
{
	unsigned int x = *(const unsigned int *)a, y = *(const unsigned int *)b;

	return (x > y) - (x < y);
}

/* The N of every /dev/gpiochipN, in numeric order. Whether each is really
 * a GPIO chip is left to gpiod_chip_open. */
static size_t list_chips(unsigned int *nums, size_t max)
{
	DIR *d = opendir(DEV_DIR);
	struct dirent *e;
	size_t n = 0;

	if (!d)
		return 0;
	while ((e = readdir(d)) && n < max) {
		const char *p = e->d_name;
		long v;

		if (strncmp(p, "gpiochip", 8) == 0 && p[8] >= '0' &&
		    p[8] <= '9' && parse_long(p + 8, 0, 65535, &v) == 0)
			nums[n++] = (unsigned int)v;
	}
	closedir(d);
	qsort(nums, n, sizeof(*nums), cmp_uint);
	return n;
}

/* Appends ", name" or ", name (note)" to buf, quietly cut at its end. */
static void append(char *buf, size_t len, const char *name, const char *note)
{
	size_t used = strlen(buf);

	if (used + 1 < len)
		snprintf(buf + used, len - used, "%s%s%s%s%s", used ? ", " : "",
			 name, note ? " (" : "", note ? note : "",
			 note ? ")" : "");
}

/* Scans every chip for the one labelled want (label_of) or having a line
 * called want (NULL: none, just list them). Returns 0 with *out (and *offset
 * for a line), or -ENOENT with the chips seen listed in seen (with labels when
 * label_of) and the first one that could not be opened for permission in
 * denied. */
static int scan_chips(const char *want, bool label_of, struct gpiod_chip **out,
		      unsigned int *offset, char *seen, size_t seen_len,
		      char *denied, size_t denied_len)
{
	unsigned int nums[MAX_CHIPS];
	size_t n = list_chips(nums, MAX_CHIPS);

	seen[0] = denied[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		char path[32];
		struct gpiod_chip *c;
		struct chip_facts f = {0};
		int off = -ENOENT;

		snprintf(path, sizeof(path), DEV_DIR "/gpiochip%u", nums[i]);
		c = gpiod_chip_open(path);
		if (!c) {
			if ((errno == EACCES || errno == EPERM) && !denied[0])
				snprintf(denied, denied_len, "%s", path);
			continue;
		}
		if (chip_facts(c, &f) < 0) {
			gpiod_chip_close(c);
			continue;
		}
		if (want && !label_of)
			off = chip_find(c, want);
		else if (want &&
			 (!strcmp(f.label, want) || !strcmp(f.name, want)))
			off = 0;
		if (off >= 0) {
			*out = c;
			*offset = (unsigned int)off;
			return 0;
		}
		append(seen, seen_len, f.name, label_of ? f.label : NULL);
		gpiod_chip_close(c);
	}
	return -ENOENT;
}

static int no_chips(const char *line, char *err, size_t err_len)
{
	say(err, err_len,
	    "no GPIO chips (/dev/gpiochip*) on this machine, so line '%s' "
	    "cannot be found: run bullhornd on the Raspberry Pi itself, or "
	    "check that its GPIO driver is loaded",
	    line);
	return -ENOENT;
}

static int denied(const char *path, const char *line, char *err, size_t err_len)
{
	say(err, err_len,
	    "permission denied on %s (for line '%s'): run as root or add the "
	    "user to the gpio group",
	    path, line);
	return -EACCES;
}

/* Opens the chip spec->chip names: "gpiochipN", "N", a path or a label. */
static int open_named_chip(const char *chip, const char *line,
			   struct gpiod_chip **out, char *err, size_t err_len)
{
	char path[256], seen[512], no[256];
	unsigned int unused;
	long num;
	int e;

	if (chip[0] == '/') {
		snprintf(path, sizeof(path), "%s", chip);
	} else if (parse_long(strncmp(chip, "gpiochip", 8) ? chip : chip + 8, 0,
			      65535, &num) == 0) {
		snprintf(path, sizeof(path), DEV_DIR "/gpiochip%ld", num);
	} else {
		if (!scan_chips(chip, true, out, &unused, seen, sizeof(seen),
				no, sizeof(no)))
			return 0;
		if (no[0])
			return denied(no, line, err, err_len);
		if (!seen[0])
			return no_chips(line, err, err_len);
		say(err, err_len,
		    "no GPIO chip labelled '%s' (for line '%s'): the chips "
		    "here are %s",
		    chip, line, seen);
		return -ENOENT;
	}

	*out = gpiod_chip_open(path);
	if (*out)
		return 0;
	e = errno ? errno : EIO;
	switch (e) {
	case ENOENT:
		/* Lists the chips there are, with their labels. */
		scan_chips(NULL, true, out, &unused, seen, sizeof(seen), no,
			   sizeof(no));
		say(err, err_len, "no GPIO chip '%s' (for line '%s'): %s%s",
		    chip, line,
		    seen[0] ? "the chips here are "
			    : "there are no GPIO chips (/dev/gpiochip*) on "
			      "this machine",
		    seen);
		return -ENOENT;
	case EACCES:
	case EPERM:
		return denied(path, line, err, err_len);
	case ENOTTY:
	case ENODEV:
		say(err, err_len,
		    "%s is not a GPIO chip (for line '%s'): name a chip such "
		    "as gpiochip0, /dev/gpiochip0 or its label",
		    path, line);
		return -ENODEV;
	default:
		say(err, err_len, "cannot open %s (for line '%s'): %s", path,
		    line, strerror(e));
		return -e;
	}
}

/* Finds the chip that has a line called name, trying each in order. */
static int find_line_anywhere(const char *name, struct gpiod_chip **out,
			      unsigned int *offset, char *err, size_t err_len)
{
	char seen[512], no[32];

	if (!scan_chips(name, false, out, offset, seen, sizeof(seen), no,
			sizeof(no)))
		return 0;
	/* The line may well be on the chip that could not be opened. */
	if (no[0])
		return denied(no, name, err, err_len);
	if (!seen[0])
		return no_chips(name, err, err_len);
	say(err, err_len,
	    "no GPIO line named '%s' on any chip (%s): check the name with "
	    "gpioinfo",
	    name, seen);
	return -ENOENT;
}

/* ---- requests ------------------------------------------------------ */

/* Offsets are written in decimal: text starting with a digit or a sign
 * is one (and must be a valid one), anything else is a line name. */
static bool is_offset(const char *s)
{
	return (s[0] >= '0' && s[0] <= '9') || s[0] == '-' || s[0] == '+';
}

/* The spec's own mistakes, found before any chip is touched. */
static int check_spec(const struct gpio_spec *spec, long *off, char *err,
		      size_t err_len)
{
	const char *chip = spec->chip, *line = spec->line;

	*off = -1;
	if (chip && !chip[0]) {
		say(err, err_len,
		    "empty GPIO chip name for line '%s': name one such as "
		    "gpiochip0, or none to look the line up on every chip",
		    line);
		return -EINVAL;
	}
	if (!line[0]) {
		say(err, err_len,
		    "empty GPIO line name: give one such as GPIO17");
		return -EINVAL;
	}
	if (!is_offset(line))
		return 0;
	if (parse_long(line, 0, 65535, off) < 0) {
		say(err, err_len,
		    "bad GPIO line offset '%s'%s%s: an offset is a whole "
		    "number from 0, such as 17",
		    line, chip ? " on " : "", chip ? chip : "");
		return -EINVAL;
	}
	if (!chip) {
		say(err, err_len,
		    "GPIO line %ld is an offset, which needs its chip (such as "
		    "gpiochip0); or use the line's name, such as GPIO%ld",
		    *off, *off);
		return -EINVAL;
	}
	return 0;
}

/* Opens the chip and finds the offset of the line spec names. */
static int locate(const struct gpio_spec *spec, long off, struct gpiod_chip **c,
		  struct chip_facts *f, unsigned int *offset, char *err,
		  size_t err_len)
{
	int r;

	if (!spec->chip)
		r = find_line_anywhere(spec->line, c, offset, err, err_len);
	else
		r = open_named_chip(spec->chip, spec->line, c, err, err_len);
	if (r < 0)
		return r;
	r = chip_facts(*c, f);
	if (r < 0) {
		say(err, err_len, "cannot read the GPIO chip of line '%s': %s",
		    spec->line, strerror(-r));
	} else if (spec->chip && off >= 0 &&
		   (unsigned long)off >= f->num_lines) {
		say(err, err_len,
		    "GPIO line %ld is out of range on %s (%s), which has "
		    "lines 0 to %u",
		    off, f->name, f->label,
		    f->num_lines ? f->num_lines - 1 : 0);
		r = -EINVAL;
	} else if (spec->chip && off >= 0) {
		*offset = (unsigned int)off;
	} else if (spec->chip) {
		r = chip_find(*c, spec->line);
		if (r >= 0)
			*offset = (unsigned int)r;
		else
			say(err, err_len,
			    "no GPIO line named '%s' on %s (%s): check the "
			    "name with gpioinfo %s",
			    spec->line, f->name, f->label, f->name);
	}
	if (r < 0) {
		gpiod_chip_close(*c);
		*c = NULL;
	}
	return r < 0 ? r : 0;
}

static void request_failed(struct gpiod_chip *c, const struct gpio_line *l,
			   const char *chip_name, int r, char *err,
			   size_t err_len)
{
	char name[64], user[64];

	if (r == -EBUSY) {
		chip_line_names(c, l->offset, name, user);
		if (user[0])
			say(err, err_len,
			    "%s is in use by '%s': stop that program or choose "
			    "another line",
			    l->desc, user);
		else
			say(err, err_len,
			    "%s is in use by the kernel or another program: "
			    "choose another line (gpioinfo %s shows its use)",
			    l->desc, chip_name);
	} else if (r == -EACCES || r == -EPERM) {
		say(err, err_len,
		    "permission denied requesting %s: run as root or add the "
		    "user to the gpio group",
		    l->desc);
	} else {
		say(err, err_len, "cannot request %s as an %s: %s", l->desc,
		    l->input ? "input" : "output", strerror(-r));
	}
}

static int request(const struct gpio_spec *spec, const char *consumer,
		   bool input, bool initial, struct gpio_line **out, char *err,
		   size_t err_len)
{
	struct gpiod_chip *c = NULL;
	struct gpio_line *l;
	struct chip_facts f = {0};
	char name[64], user[64];
	long off;
	int r, fl;

	assert(spec && spec->line && out);
	*out = NULL;
	r = check_spec(spec, &off, err, err_len);
	if (r < 0)
		return r;
	l = calloc(1, sizeof(*l));
	if (!l) {
		say(err, err_len, "out of memory requesting GPIO line '%s'",
		    spec->line);
		return -ENOMEM;
	}
	l->input = input;
	l->fd = -1;
	r = locate(spec, off, &c, &f, &l->offset, err, err_len);
	if (r < 0)
		goto fail;

	chip_line_names(c, l->offset, name, user);
	if (name[0])
		snprintf(l->desc, sizeof(l->desc), "%s (%s line %u)", name,
			 f.name, l->offset);
	else
		snprintf(l->desc, sizeof(l->desc), "%s line %u", f.name,
			 l->offset);
	r = line_request(c, l, spec, consumer ? consumer : "bullhorn", initial);
	if (r < 0) {
		request_failed(c, l, f.name, r, err, err_len);
		gpiod_chip_close(c);
		goto fail;
	}
	/* l owns the chip now. Reads must never block the one poll loop. */
	if (input && ((fl = fcntl(l->fd, F_GETFL)) < 0 ||
		      fcntl(l->fd, F_SETFL, fl | O_NONBLOCK) < 0)) {
		r = -errno;
		say(err, err_len, "cannot set up %s: %s", l->desc,
		    strerror(errno));
		goto fail;
	}
	*out = l;
	return 0;

fail:
	gpio_release(l);
	return r;
}

int gpio_request_input(const struct gpio_spec *spec, const char *consumer,
		       struct gpio_line **out, char *err, size_t err_len)
{
	return request(spec, consumer, true, false, out, err, err_len);
}

int gpio_request_output(const struct gpio_spec *spec, const char *consumer,
			bool initial, struct gpio_line **out, char *err,
			size_t err_len)
{
	return request(spec, consumer, false, initial, out, err, err_len);
}

void gpio_release(struct gpio_line *l)
{
	if (!l)
		return;
	line_release(l);
	free(l);
}

int gpio_fd(const struct gpio_line *l)
{
	assert(l);
	return l->input ? l->fd : -EBADF;
}

int gpio_read_edges(struct gpio_line *l, struct gpio_edge *edges, size_t max)
{
	assert(l && (edges || !max));
	if (!l->input)
		return -EINVAL;
	if (!max)
		return 0;
	return line_read(l, edges, max < MAX_EDGES ? max : MAX_EDGES);
}

int gpio_get(struct gpio_line *l)
{
	assert(l);
	return line_get(l);
}

int gpio_set(struct gpio_line *l, bool active)
{
	assert(l);
	return l->input ? -EPERM : line_set(l, active);
}

const char *gpio_describe(const struct gpio_line *l)
{
	assert(l);
	return l->desc;
}

const char *gpio_backend(void)
{
	static char buf[48];

	if (!buf[0])
		snprintf(buf, sizeof(buf), "libgpiod %s", library_version());
	return buf;
}
