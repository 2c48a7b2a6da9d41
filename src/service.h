/* bullhornd as a systemd service (Type=notify): READY once the library
 * is loaded and the socket is open, STATUS lines a technician sees in
 * `systemctl status bullhorn`, RELOADING/STOPPING, and the watchdog's
 * keep-alive from the poll loop, so a hung loop is restarted. Through
 * libsystemd's sd_notify; outside systemd (no NOTIFY_SOCKET) every call
 * does nothing and nothing wakes up. Never logs. */
#ifndef BULLHORN_SERVICE_H
#define BULLHORN_SERVICE_H

#include <poll.h>
#include <stdbool.h>

struct service;

struct service *service_new(void);
void service_free(struct service *s);

void service_ready(struct service *s);
void service_reloading(struct service *s);
void service_stopping(struct service *s);
/* One line for `systemctl status`; repeated lines are sent once. */
void service_status(struct service *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Long work in the loop (a library being processed) calls this between
 * pieces: keeps the watchdog fed and, before READY, the start timeout
 * extended. Rate-limited; cheap to call often. */
void service_progress(struct service *s);

/* The watchdog's timer, for the poll loop (none when no watchdog). */
int service_pollfds(struct service *s, struct pollfd *fds, int max);
void service_dispatch(struct service *s, const struct pollfd *fds, int n);

#endif
