#include "service.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "util.h"

/* Before READY, each sign of progress buys this much more start time:
 * a first start on a big library may take minutes on a Pi Zero, and a
 * stuck one must still time out. */
#define EXTEND_USEC	  20000000ULL
#define PROGRESS_EVERY_NS 1000000000LL

struct service {
	bool enabled; /* NOTIFY_SOCKET is set */
	bool ready;
	uint64_t watchdog_usec; /* 0: no watchdog */
	int timer_fd;
	int64_t last_progress_ns;
	char status[256];
};

struct service *service_new(void)
{
	struct service *s = calloc(1, sizeof(*s));
	const char *sock = getenv("NOTIFY_SOCKET");

	if (!s)
		return NULL;
	s->timer_fd = -1;
	s->enabled = sock && *sock;
	if (s->enabled && sd_watchdog_enabled(0, &s->watchdog_usec) > 0) {
		/* Twice per period, as sd_watchdog_enabled(3) advises. */
		uint64_t half = s->watchdog_usec / 2;
		struct itimerspec its = {
		    .it_interval = {(time_t)(half / 1000000),
				    (long)(half % 1000000) * 1000},
		};

		its.it_value = its.it_interval;
		s->timer_fd =
		    timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
		if (s->timer_fd >= 0)
			timerfd_settime(s->timer_fd, 0, &its, NULL);
	}
	return s;
}

void service_free(struct service *s)
{
	if (!s)
		return;
	if (s->timer_fd >= 0)
		close(s->timer_fd);
	free(s);
}

static void notify(struct service *s, const char *msg)
{
	if (s && s->enabled)
		sd_notify(0, msg);
}

void service_ready(struct service *s)
{
	if (!s)
		return;
	s->ready = true;
	notify(s, "READY=1");
}

void service_reloading(struct service *s)
{
	notify(s, "RELOADING=1");
}

void service_stopping(struct service *s)
{
	notify(s, "STOPPING=1");
}

void service_status(struct service *s, const char *fmt, ...)
{
	char line[sizeof(s->status)], msg[sizeof(line) + 8];
	va_list ap;

	if (!s || !s->enabled)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (strcmp(line, s->status) == 0)
		return;
	snprintf(s->status, sizeof(s->status), "%s", line);
	snprintf(msg, sizeof(msg), "STATUS=%s", line);
	sd_notify(0, msg);
}

void service_progress(struct service *s)
{
	int64_t now = now_ns();
	char msg[64];

	if (!s || !s->enabled || now - s->last_progress_ns < PROGRESS_EVERY_NS)
		return;
	s->last_progress_ns = now;
	if (!s->ready) {
		snprintf(msg, sizeof(msg), "EXTEND_TIMEOUT_USEC=%llu",
			 (unsigned long long)EXTEND_USEC);
		sd_notify(0, msg);
	}
	if (s->watchdog_usec)
		sd_notify(0, "WATCHDOG=1");
}

int service_pollfds(struct service *s, struct pollfd *fds, int max)
{
	if (!s || s->timer_fd < 0 || max < 1)
		return 0;
	fds[0] = (struct pollfd){.fd = s->timer_fd, .events = POLLIN};
	return 1;
}

void service_dispatch(struct service *s, const struct pollfd *fds, int n)
{
	uint64_t ticks;

	if (!s || n < 1 || !(fds[0].revents & POLLIN))
		return;
	if (read(s->timer_fd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
		return;
	/* Fed from the loop itself: a loop that hangs stops feeding. */
	sd_notify(0, "WATCHDOG=1");
}
