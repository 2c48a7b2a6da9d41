/* The control socket: a local Unix stream socket (mode 0660), one request
 * line in, one reply line out. Garbage, oversized or half-sent requests
 * get an error reply or are dropped; no client can stall the daemon. */
#ifndef BULLHORN_CONTROL_H
#define BULLHORN_CONTROL_H

#include <poll.h>
#include <stddef.h>

#define CONTROL_MAX_LINE    512 /* request bytes, newline included */
#define CONTROL_MAX_CLIENTS 16
#define CONTROL_IDLE_MS	    10000 /* a silent client is dropped after this */

/* Fills reply (no newline) for one request line (no newline). */
typedef void (*control_request_fn)(void *data, const char *line, char *reply,
				   size_t reply_len);

struct control;

/* Binds path. A stale socket file is replaced; a live one (another
 * daemon answering) gives -EADDRINUSE. */
int control_new(const char *path, control_request_fn fn, void *data,
		struct control **out);
/* Closes every client and removes the socket file. */
void control_free(struct control *c);

int control_pollfds(struct control *c, struct pollfd *fds, int max);
void control_dispatch(struct control *c, struct pollfd *fds, int n);
/* Milliseconds until the next client deadline, or -1 when none. */
int control_timeout_ms(const struct control *c);

/* Client side: a blocking connection to the socket at path (fd, O_CLOEXEC)
 * or a negative errno. */
int control_connect(const char *path);

/* Client side: sends all of p on a blocking socket (no SIGPIPE). */
int control_send_all(int fd, const char *p, size_t len);

/* Client side: sends one line and reads one reply line (timeout_ms). */
int control_request(const char *path, const char *line, char *reply,
		    size_t reply_len, int timeout_ms);

#endif
