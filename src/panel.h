/* The kit's outputs: the status LED ([led]) and the amplifier's enable
 * line ([amp]), each optional, with led.c's patterns and amp.c's
 * warm-up and idle switch-off, on one timerfd in the caller's poll loop.
 * Both are switched off when the panel is freed. Never logs: problems
 * come back as sentences through the callback. */
#ifndef BULLHORN_PANEL_H
#define BULLHORN_PANEL_H

#include <poll.h>
#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "led.h"

typedef void (*panel_fn)(void *data, const char *problem);

struct panel;

/* Requests the configured lines; the LED starts "ready", the amp off.
 * NULL only when out of memory. */
struct panel *panel_new(const struct config *cfg, panel_fn fn, void *data);
/* LED and amp off, lines released. NULL is fine. */
void panel_free(struct panel *p);
/* True when cfg names the same LED and amp lines as the panel has (so a
 * reload keeps them, and the amp is not cut mid-sound). */
bool panel_same_lines(const struct panel *p, const struct config *cfg);
/* New warm-up and idle times from a reloaded config. */
void panel_configure(struct panel *p, const struct config *cfg);

/* Configured lines that could not be requested. */
unsigned panel_faults(const struct panel *p);

void panel_show(struct panel *p, enum led_mode mode);
enum led_mode panel_mode(const struct panel *p);
/* Sound is about to start: switches the amp on. Returns how long the
 * sound must wait for its warm-up, in seconds (0: no amp, or warm). */
double panel_amp_want(struct panel *p);
/* Nothing sounds any more: the amp goes off after idle_off_s. */
void panel_amp_idle(struct panel *p);
/* The amp's current state (for status and tests). */
bool panel_amp_on(const struct panel *p);

int panel_pollfds(struct panel *p, struct pollfd *fds, int max);
void panel_dispatch(struct panel *p, const struct pollfd *fds, int n);

#endif
