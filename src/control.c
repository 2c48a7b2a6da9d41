#include "control.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "util.h"

#define REPLY_MAX 1024
/* Lines one client gets handled per loop turn: a client that floods
 * requests must not keep the player (or other clients) waiting. */
#define LINES_PER_TURN 4

struct client {
	int fd;
	char in[CONTROL_MAX_LINE];
	size_t in_len;
	char out[REPLY_MAX + 1];
	size_t out_len, out_off;
	bool closing; /* close once out is flushed */
	int64_t deadline_ns;
};

struct control {
	int fd;
	char *path;
	control_request_fn fn;
	void *data;
	struct client clients[CONTROL_MAX_CLIENTS];
	size_t n_clients;
};

static int make_addr(const char *path, struct sockaddr_un *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa->sun_path))
		return -ENAMETOOLONG;
	memcpy(sa->sun_path, path, strlen(path) + 1);
	return 0;
}

int control_new(const char *path, control_request_fn fn, void *data,
		struct control **out)
{
	struct sockaddr_un sa;
	struct control *c;
	struct stat st;
	int r, probe;

	r = make_addr(path, &sa);
	if (r < 0)
		return r;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->fn = fn;
	c->data = data;
	c->path = strdup(path);
	if (!c->path) {
		r = -ENOMEM;
		goto fail_free;
	}
	/* Only ever replace a socket: a typo in [paths] socket must not
	 * delete somebody's file. */
	if (lstat(path, &st) == 0 && !S_ISSOCK(st.st_mode)) {
		r = -EEXIST;
		goto fail_free;
	}
	/* A socket file nobody answers is a leftover of a crash or power
	 * cut; one that answers belongs to a running daemon. */
	probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (probe >= 0) {
		r = connect(probe, (struct sockaddr *)&sa, sizeof(sa));
		close(probe);
		if (r == 0) {
			r = -EADDRINUSE;
			goto fail_free;
		}
	}
	unlink(path);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (c->fd < 0) {
		r = -errno;
		goto fail_free;
	}
	if (bind(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    chmod(path, 0660) < 0 || listen(c->fd, 16) < 0) {
		r = -errno;
		goto fail_close;
	}
	*out = c;
	return 0;
fail_close:
	close(c->fd);
	unlink(path);
fail_free:
	free(c->path);
	free(c);
	return r;
}

static void client_close(struct control *c, size_t i)
{
	close(c->clients[i].fd);
	c->clients[i] = c->clients[--c->n_clients];
}

void control_free(struct control *c)
{
	if (!c)
		return;
	while (c->n_clients)
		client_close(c, 0);
	close(c->fd);
	unlink(c->path);
	free(c->path);
	free(c);
}

int control_pollfds(struct control *c, struct pollfd *fds, int max)
{
	int n = 0;

	if (max < 1)
		return 0;
	fds[n++] = (struct pollfd){.fd = c->fd, .events = POLLIN};
	for (size_t i = 0; i < c->n_clients && n < max; i++)
		fds[n++] = (struct pollfd){
		    .fd = c->clients[i].fd,
		    .events = c->clients[i].out_len ? POLLOUT : POLLIN,
		};
	return n;
}

static void client_reply(struct client *cl, const char *reply)
{
	int n = snprintf(cl->out, sizeof(cl->out), "%s\n", reply);

	if (n < 0 || (size_t)n >= sizeof(cl->out)) {
		/* Keep the line whole: cut it and end it properly. */
		n = (int)sizeof(cl->out) - 1;
		cl->out[n - 1] = '\n';
	}
	cl->out_len = (size_t)n;
	cl->out_off = 0;
}

/* Sends what is pending; false when the client must go. */
static bool client_flush(struct client *cl)
{
	while (cl->out_off < cl->out_len) {
		ssize_t w = send(cl->fd, cl->out + cl->out_off,
				 cl->out_len - cl->out_off, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN)
			return true;
		if (w <= 0)
			return false;
		cl->out_off += (size_t)w;
	}
	cl->out_len = cl->out_off = 0;
	return !cl->closing;
}

/* Handles every complete line in the input; false when the client must
 * go (after its error reply is flushed). */
static bool client_lines(struct control *c, struct client *cl)
{
	char *nl;

	int budget = LINES_PER_TURN;

	while (cl->out_len == 0 && budget-- > 0 &&
	       (nl = memchr(cl->in, '\n', cl->in_len))) {
		char reply[REPLY_MAX];
		size_t used = (size_t)(nl - cl->in) + 1;

		if (memchr(cl->in, '\0', (size_t)(nl - cl->in))) {
			snprintf(reply, sizeof(reply),
				 "error: request contains a NUL byte");
		} else if (!utf8_valid(cl->in, (size_t)(nl - cl->in))) {
			snprintf(reply, sizeof(reply),
				 "error: request is not valid UTF-8 text");
		} else {
			*nl = '\0';
			if (nl > cl->in && nl[-1] == '\r')
				nl[-1] = '\0';
			reply[0] = '\0';
			c->fn(c->data, cl->in, reply, sizeof(reply));
		}
		client_reply(cl, reply);
		memmove(cl->in, cl->in + used, cl->in_len - used);
		cl->in_len -= used;
		cl->deadline_ns = now_ns() + CONTROL_IDLE_MS * 1000000LL;
		if (!client_flush(cl))
			return false;
	}
	if (cl->in_len == sizeof(cl->in) && !memchr(cl->in, '\n', cl->in_len)) {
		char reply[96];

		snprintf(reply, sizeof(reply),
			 "error: request longer than %d bytes; closing",
			 CONTROL_MAX_LINE - 1);
		client_reply(cl, reply);
		cl->closing = true;
		cl->in_len = 0;
		return client_flush(cl);
	}
	return true;
}

/* One read per turn, then the lines it completed (up to the budget).
 * Whole lines left over from an earlier turn go first: the read could
 * find the end of the stream (a client that sent its requests and shut
 * its side down) and drop them unanswered. */
static bool client_read(struct control *c, struct client *cl)
{
	ssize_t n;

	if (cl->in_len == sizeof(cl->in) ||
	    (cl->out_len == 0 && memchr(cl->in, '\n', cl->in_len)))
		return client_lines(c, cl);
	do
		n = recv(cl->fd, cl->in + cl->in_len,
			 sizeof(cl->in) - cl->in_len, 0);
	while (n < 0 && errno == EINTR);
	if (n < 0 && errno == EAGAIN)
		return true;
	if (n <= 0)
		return false; /* closed: half-sent lines are dropped */
	cl->in_len += (size_t)n;
	return client_lines(c, cl);
}

/* A complete request waits and its client may be answered. */
static bool client_ready(const struct client *cl)
{
	return cl->out_len == 0 && memchr(cl->in, '\n', cl->in_len);
}

static void accept_clients(struct control *c)
{
	for (;;) {
		int fd =
		    accept4(c->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		struct client *cl;

		if (fd < 0)
			return;
		if (c->n_clients == CONTROL_MAX_CLIENTS) {
			static const char busy[] =
			    "error: too many clients; try again\n";

			send(fd, busy, sizeof(busy) - 1,
			     MSG_NOSIGNAL | MSG_DONTWAIT);
			close(fd);
			continue;
		}
		cl = &c->clients[c->n_clients++];
		memset(cl, 0, sizeof(*cl));
		cl->fd = fd;
		cl->deadline_ns = now_ns() + CONTROL_IDLE_MS * 1000000LL;
	}
}

void control_dispatch(struct control *c, struct pollfd *fds, int n)
{
	int64_t now = now_ns();

	/* Clients first, by fd, since accepting reorders nothing but
	 * closing does. */
	for (int k = 1; k < n; k++) {
		size_t i;
		bool keep = true;

		for (i = 0; i < c->n_clients; i++)
			if (c->clients[i].fd == fds[k].fd)
				break;
		if (i == c->n_clients)
			continue;
		if (fds[k].revents & POLLOUT)
			keep = client_flush(&c->clients[i]) &&
			       client_lines(c, &c->clients[i]);
		else if (fds[k].revents & (POLLIN | POLLHUP | POLLERR))
			keep = client_read(c, &c->clients[i]);
		else if (client_ready(&c->clients[i]))
			keep = client_lines(c, &c->clients[i]);
		if (keep && c->clients[i].deadline_ns <= now)
			keep = false;
		if (!keep)
			client_close(c, i);
	}
	for (size_t i = 0; i < c->n_clients;)
		if (c->clients[i].deadline_ns <= now)
			client_close(c, i);
		else
			i++;
	if (n > 0 && (fds[0].revents & POLLIN))
		accept_clients(c);
}

int control_timeout_ms(const struct control *c)
{
	int64_t first = INT64_MAX, now;

	for (size_t i = 0; i < c->n_clients; i++) {
		/* Requests left over from a busy client's turn: come back
		 * right after the rest of the loop has had its turn. */
		if (client_ready(&c->clients[i]))
			return 0;
		if (c->clients[i].deadline_ns < first)
			first = c->clients[i].deadline_ns;
	}
	if (first == INT64_MAX)
		return -1;
	now = now_ns();
	return first <= now ? 0 : (int)((first - now) / 1000000 + 1);
}

int control_send_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int control_connect(const char *path)
{
	struct sockaddr_un sa;
	int fd, r = make_addr(path, &sa);

	if (r < 0)
		return r;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

int control_request(const char *path, const char *line, char *reply,
		    size_t reply_len, int timeout_ms)
{
	size_t len = strlen(line), got = 0;
	struct pollfd pfd;
	int fd, r, sent;

	fd = control_connect(path);
	if (fd < 0)
		return fd;
	r = control_send_all(fd, line, len);
	if (r == 0)
		r = control_send_all(fd, "\n", 1);
	/* A daemon with no free slot answers and closes without reading:
	 * the send can fail while that answer waits to be read. */
	if (r < 0 && r != -EPIPE && r != -ECONNRESET)
		goto out;
	sent = r;
	pfd = (struct pollfd){.fd = fd, .events = POLLIN};
	while (got + 1 < reply_len) {
		ssize_t n;

		r = poll(&pfd, 1, timeout_ms);
		if (r == 0) {
			r = -ETIMEDOUT;
			goto out;
		}
		if (r < 0 && errno == EINTR)
			continue;
		n = recv(fd, reply + got, reply_len - got - 1, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r = sent < 0 ? sent : n == 0 ? -ECONNRESET : -errno;
			goto out;
		}
		got += (size_t)n;
		reply[got] = '\0';
		if (memchr(reply, '\n', got))
			break;
	}
	reply[got] = '\0';
	reply[strcspn(reply, "\n")] = '\0';
	r = 0;
out:
	close(fd);
	return r;
}
