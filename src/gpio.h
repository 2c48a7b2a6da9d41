/* GPIO lines through libgpiod, one source for both API generations:
 * 1.6 (Debian/Raspberry Pi OS bookworm) and 2.x (trixie), chosen at build
 * time from pkg-config's version (BULLHORN_GPIOD_MAJOR). A thin adapter:
 * it requests one line at a time (so one bad or busy line never takes
 * the others down), hands its fd to the caller's poll loop and turns the
 * kernel's edge events into struct gpio_edge. It never logs; errors come
 * back as -errno plus one sentence naming the line and the chip. */
#ifndef BULLHORN_GPIO_H
#define BULLHORN_GPIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum gpio_bias { GPIO_BIAS_PULL_UP, GPIO_BIAS_PULL_DOWN, GPIO_BIAS_NONE };

struct gpio_spec {
	/* NULL: line is a name (such as GPIO17), looked up on every chip.
	 * Otherwise a chip name ("gpiochip0"), path ("/dev/gpiochip0") or
	 * label ("pinctrl-bcm2711"); line is then a name or an offset.
	 * Text starting with a digit or sign is an offset (decimal). */
	const char *chip;
	const char *line;
	bool active_low;     /* logical 1 = electrically low */
	enum gpio_bias bias; /* inputs only */
};

struct gpio_edge {
	bool active;   /* the logical level after the edge (pressed) */
	int64_t ts_ns; /* the kernel's timestamp, CLOCK_MONOTONIC */
};

struct gpio_line;

/* Requests an input with both-edge events and the spec's bias; kernel
 * debounce is never set (it would delay every press). consumer is the
 * name other programs (gpioinfo) see. On failure returns -errno and
 * writes one sentence into err, e.g. "no GPIO line named 'GPIO99' on
 * any chip (gpiochip0)" or "GPIO17 (gpiochip0 line 17) is in use by
 * 'other'". */
int gpio_request_input(const struct gpio_spec *spec, const char *consumer,
		       struct gpio_line **out, char *err, size_t err_len);
/* Requests an output driven to the logical value initial. */
int gpio_request_output(const struct gpio_spec *spec, const char *consumer,
			bool initial, struct gpio_line **out, char *err,
			size_t err_len);
/* Releases the line (the kernel returns it to its default). NULL is fine. */
void gpio_release(struct gpio_line *l);

/* The fd to poll for POLLIN (inputs; -EBADF for an output). */
int gpio_fd(const struct gpio_line *l);
/* Reads the pending edges without blocking, up to max. Returns the count
 * (0 when none are pending) or -errno. */
int gpio_read_edges(struct gpio_line *l, struct gpio_edge *edges, size_t max);
/* The current logical level: 1, 0 or -errno. */
int gpio_get(struct gpio_line *l);
/* Sets an output's logical level. */
int gpio_set(struct gpio_line *l, bool active);

/* "GPIO17 (gpiochip0 line 17)": for logs. */
const char *gpio_describe(const struct gpio_line *l);
/* "libgpiod 1.6.3" or "libgpiod 2.1.3": the library actually loaded. */
const char *gpio_backend(void);

#endif
