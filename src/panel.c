#include "panel.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "amp.h"
#include "gpio.h"
#include "util.h"

#define CONSUMER "bullhorn"

struct panel {
	panel_fn fn;
	void *data;
	struct gpio_line *led_line, *amp_line;
	char *led_id, *amp_id; /* "chip/line" as configured, for reloads */
	struct led led;
	struct amp amp;
	unsigned faults;
	int timer_fd;
	int64_t armed_ns;
};

static char *line_id(const struct config_gpio *g)
{
	char *s = NULL;

	if (!g->line)
		return strdup("");
	if (asprintf(&s, "%s/%s/%d", g->chip ? g->chip : "", g->line,
		     g->active_low) < 0)
		return NULL;
	return s;
}

static struct gpio_line *request(struct panel *p, const char *sec,
				 const struct config_gpio *g)
{
	struct gpio_spec spec = {
	    .chip = g->chip, .line = g->line, .active_low = g->active_low};
	struct gpio_line *l = NULL;
	char err[256], text[400];

	if (!g->line)
		return NULL;
	if (gpio_request_output(&spec, CONSUMER, false, &l, err, sizeof(err)) <
	    0) {
		snprintf(text, sizeof(text), "[%s]: %s", sec, err);
		p->fn(p->data, text);
		p->faults++;
		return NULL;
	}
	return l;
}

struct panel *panel_new(const struct config *cfg, panel_fn fn, void *data)
{
	struct panel *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->fn = fn;
	p->data = data;
	p->armed_ns = LED_NEVER;
	p->timer_fd =
	    timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	p->led_id = line_id(&cfg->led);
	p->amp_id = line_id(&cfg->amp);
	if (p->timer_fd < 0 || !p->led_id || !p->amp_id) {
		panel_free(p);
		return NULL;
	}
	amp_init(&p->amp, cfg->amp_warmup_ms, cfg->amp_idle_off_s);
	p->led_line = request(p, "led", &cfg->led);
	p->amp_line = request(p, "amp", &cfg->amp);
	panel_show(p, LED_READY);
	return p;
}

void panel_free(struct panel *p)
{
	if (!p)
		return;
	/* Set off before release: a released output keeps its level. */
	if (p->led_line)
		gpio_set(p->led_line, false);
	if (p->amp_line)
		gpio_set(p->amp_line, false);
	gpio_release(p->led_line);
	gpio_release(p->amp_line);
	if (p->timer_fd >= 0)
		close(p->timer_fd);
	free(p->led_id);
	free(p->amp_id);
	free(p);
}

bool panel_same_lines(const struct panel *p, const struct config *cfg)
{
	char *led = line_id(&cfg->led), *amp = line_id(&cfg->amp);
	bool same = led && amp && strcmp(led, p->led_id) == 0 &&
		    strcmp(amp, p->amp_id) == 0;

	free(led);
	free(amp);
	return same;
}

void panel_configure(struct panel *p, const struct config *cfg)
{
	p->amp.warmup_ms = cfg->amp_warmup_ms;
	p->amp.idle_off_s = cfg->amp_idle_off_s;
}

unsigned panel_faults(const struct panel *p)
{
	return p ? p->faults : 0;
}

static void update(struct panel *p)
{
	if (p->led_line)
		gpio_set(p->led_line, p->led.on);
	if (p->amp_line)
		gpio_set(p->amp_line, p->amp.on);
}

void panel_show(struct panel *p, enum led_mode mode)
{
	/* Called every loop turn: only a change reaches the line. */
	if (!p || (p->led.mode == mode && p->led.next_ns != 0))
		return;
	led_set(&p->led, mode, now_ns());
	update(p);
}

enum led_mode panel_mode(const struct panel *p)
{
	return p ? p->led.mode : LED_OFF;
}

double panel_amp_want(struct panel *p)
{
	int64_t now = now_ns(), ready;

	if (!p->amp_line)
		return 0;
	ready = amp_want(&p->amp, now);
	update(p);
	return (double)(ready - now) / 1e9;
}

void panel_amp_idle(struct panel *p)
{
	amp_idle(&p->amp, now_ns());
}

bool panel_amp_on(const struct panel *p)
{
	return p && p->amp.on;
}

static int64_t deadline(const struct panel *p)
{
	int64_t a = p->led_line ? p->led.next_ns : LED_NEVER;
	int64_t b = amp_deadline(&p->amp);

	return a < b ? a : b;
}

int panel_pollfds(struct panel *p, struct pollfd *fds, int max)
{
	struct itimerspec its = {{0, 0}, {0, 0}};
	int64_t next;

	if (!p)
		return 0;
	next = deadline(p);
	if (next != p->armed_ns) {
		p->armed_ns = next;
		if (next != LED_NEVER) {
			its.it_value.tv_sec = next / 1000000000;
			its.it_value.tv_nsec = next % 1000000000;
			if (next <= 0)
				its.it_value.tv_nsec = 1;
		}
		timerfd_settime(p->timer_fd, TFD_TIMER_ABSTIME, &its, NULL);
	}
	if (next == LED_NEVER || max < 1)
		return 0;
	fds[0] = (struct pollfd){.fd = p->timer_fd, .events = POLLIN};
	return 1;
}

void panel_dispatch(struct panel *p, const struct pollfd *fds, int n)
{
	uint64_t ticks;
	int64_t now;

	if (!p || n < 1 || !(fds[0].revents & POLLIN))
		return;
	if (read(p->timer_fd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
		return;
	now = now_ns();
	led_timer(&p->led, now);
	amp_timer(&p->amp, now);
	update(p);
}
