/* The control socket's protocol (src/control.c), through a real struct
 * control on a Unix socket, driven in this process by a poll loop like
 * the daemon's (control_pollfds, poll, control_dispatch). Input: the
 * first byte is the size of each write the client makes (0: 4096), the
 * rest is the byte stream it sends; then it shuts its side down and
 * reads until the server closes. The request handler is a stub that
 * records each line. Properties:
 *   - the handler gets exactly the lines a model of the protocol
 *     predicts, in order: each complete line of at most
 *     CONTROL_MAX_LINE - 1 bytes without NUL and in valid UTF-8 (checked
 *     apart from util.c), newline and one trailing '\r' removed; nothing
 *     after an oversized line, nothing of a half-sent last line;
 *   - the client reads exactly the reply lines the model predicts: one
 *     per complete line (an error for a NUL byte or bad UTF-8) and the
 *     error that closes an oversized line;
 *   - the server closes the connection by itself after that, and keeps
 *     no client (control_timeout_ms() is -1 again). */
#include "fuzz.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/socket.h>

#include "control.h"

#define CONTROL_STEPS_MAX 100000 /* loop turns for one input: a hang */

struct control_fuzz {
	struct control *c;
	char dir[64], path[96];
	/* what the handler got, one after the other, NUL-separated */
	char *got;
	size_t got_len, got_cap;
	size_t calls;
};

static struct control_fuzz control_fz;

static void control_append(char **buf, size_t *len, size_t *cap, const void *p,
			   size_t n)
{
	if (n == 0)
		return;
	if (*len + n > *cap) {
		size_t ncap = (*len + n) * 2 + 256;
		char *b = realloc(*buf, ncap);

		FUZZ_CHECK(b != NULL);
		*buf = b;
		*cap = ncap;
	}
	memcpy(*buf + *len, p, n);
	*len += n;
}

static void __attribute__((format(printf, 4, 5)))
control_appendf(char **buf, size_t *len, size_t *cap, const char *fmt, ...)
{
	char tmp[2 * CONTROL_MAX_LINE];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	FUZZ_CHECK(n >= 0 && (size_t)n < sizeof(tmp));
	control_append(buf, len, cap, tmp, (size_t)n);
}

/* The stub handler: checks what any request handler may rely on. */
static void control_stub(void *data, const char *line, char *reply,
			 size_t reply_len)
{
	struct control_fuzz *fz = data;
	size_t n = strlen(line);

	FUZZ_CHECK(n <= CONTROL_MAX_LINE - 1);
	FUZZ_CHECK(memchr(line, '\n', n) == NULL);
	FUZZ_CHECK(fuzz_utf8_ok((const uint8_t *)line, n));
	FUZZ_CHECK(reply_len > n + 4);
	FUZZ_CHECK(reply[0] == '\0');
	control_append(&fz->got, &fz->got_len, &fz->got_cap, line, n + 1);
	fz->calls++;
	snprintf(reply, reply_len, "ok %s", line);
}

static void control_cleanup(void)
{
	control_free(control_fz.c);
	control_fz.c = NULL;
	rmdir(control_fz.dir);
	free(control_fz.got);
}

/* One server for the whole run: binding a socket per input would cost
 * more than the input. */
static struct control *control_server(void)
{
	if (control_fz.c)
		return control_fz.c;
	/* A peer that goes away must not kill the run with SIGPIPE. */
	signal(SIGPIPE, SIG_IGN);
	snprintf(control_fz.dir, sizeof(control_fz.dir),
		 "/tmp/bullhorn-fuzz-XXXXXX");
	FUZZ_CHECK(mkdtemp(control_fz.dir) != NULL);
	snprintf(control_fz.path, sizeof(control_fz.path), "%s/sock",
		 control_fz.dir);
	FUZZ_CHECK(control_new(control_fz.path, control_stub, &control_fz,
			       &control_fz.c) == 0);
	atexit(control_cleanup);
	return control_fz.c;
}

/* One turn of the daemon's loop, without waiting. */
static void control_turn(struct control *c)
{
	struct pollfd fds[CONTROL_MAX_CLIENTS + 1];
	int n = control_pollfds(c, fds, CONTROL_MAX_CLIENTS + 1);

	FUZZ_CHECK(poll(fds, (nfds_t)n, 0) >= 0);
	control_dispatch(c, fds, n);
}

/* The model: the handler's lines (NUL-separated) and the replies. */
static void control_model(const uint8_t *s, size_t len, char **lines,
			  size_t *lines_len, size_t *calls, char **replies,
			  size_t *replies_len)
{
	size_t lines_cap = 0, replies_cap = 0, at = 0;

	while (at < len) {
		const uint8_t *nl = memchr(s + at, '\n', len - at);
		size_t n = nl ? (size_t)(nl - (s + at)) : len - at;

		if (n >= CONTROL_MAX_LINE) {
			control_appendf(replies, replies_len, &replies_cap,
					"error: request longer than %d bytes; "
					"closing\n",
					CONTROL_MAX_LINE - 1);
			return;
		}
		if (!nl)
			return; /* half-sent: dropped when the client goes */
		if (memchr(s + at, '\0', n)) {
			control_appendf(replies, replies_len, &replies_cap,
					"error: request contains a NUL byte\n");
		} else if (!fuzz_utf8_ok(s + at, n)) {
			control_appendf(replies, replies_len, &replies_cap,
					"error: request is not valid UTF-8 "
					"text\n");
		} else {
			size_t m = n && s[at + n - 1] == '\r' ? n - 1 : n;

			control_append(lines, lines_len, &lines_cap, s + at, m);
			control_append(lines, lines_len, &lines_cap, "", 1);
			control_append(replies, replies_len, &replies_cap,
				       "ok ", 3);
			control_append(replies, replies_len, &replies_cap,
				       s + at, m);
			control_append(replies, replies_len, &replies_cap, "\n",
				       1);
			(*calls)++;
		}
		at += n + 1;
	}
}

int fuzz_control_one(const uint8_t *data, size_t size)
{
	struct control *c = control_server();
	const uint8_t *s = size ? data + 1 : data;
	size_t len = size ? size - 1 : 0,
	       chunk = size && data[0] ? data[0] : 4096;
	char *want_lines = NULL, *want_replies = NULL, *got = NULL;
	size_t want_lines_len = 0, want_calls = 0, want_replies_len = 0;
	size_t got_len = 0, got_cap = 0, sent = 0;
	int fd, steps;
	bool shut = false, eof = false;

	control_fz.got_len = 0;
	control_fz.calls = 0;
	control_model(s, len, &want_lines, &want_lines_len, &want_calls,
		      &want_replies, &want_replies_len);

	fd = control_connect(control_fz.path);
	FUZZ_CHECK(fd >= 0);
	FUZZ_CHECK(fcntl(fd, F_SETFL, O_NONBLOCK) == 0);
	for (steps = 0; steps < CONTROL_STEPS_MAX && !eof; steps++) {
		char buf[4096];
		ssize_t n;

		if (sent < len) {
			size_t want = len - sent < chunk ? len - sent : chunk;

			n = send(fd, s + sent, want, MSG_NOSIGNAL);
			if (n > 0)
				sent += (size_t)n;
			else if (n < 0 && errno != EAGAIN)
				sent = len; /* the server has closed */
		} else if (!shut) {
			/* fails only when the server has closed already */
			(void)shutdown(fd, SHUT_WR);
			shut = true;
		}
		control_turn(c);
		for (;;) {
			n = recv(fd, buf, sizeof(buf), 0);
			if (n > 0) {
				control_append(&got, &got_len, &got_cap, buf,
					       (size_t)n);
				continue;
			}
			/* A server that closes with our bytes unread makes
			 * the kernel say ECONNRESET: the end, too. */
			if (n == 0 || errno == ECONNRESET)
				eof = true;
			else
				FUZZ_CHECK(errno == EAGAIN);
			break;
		}
	}
	FUZZ_CHECK(eof); /* else the server neither answers nor closes */
	close(fd);
	FUZZ_CHECK(control_timeout_ms(c) == -1);

	FUZZ_CHECK(control_fz.calls == want_calls);
	FUZZ_CHECK(control_fz.got_len == want_lines_len);
	FUZZ_CHECK(want_lines_len == 0 ||
		   memcmp(control_fz.got, want_lines, want_lines_len) == 0);
	FUZZ_CHECK(got_len == want_replies_len);
	FUZZ_CHECK(got_len == 0 ||
		   memcmp(got, want_replies, want_replies_len) == 0);

	free(got);
	free(want_lines);
	free(want_replies);
	return 0;
}

#ifndef FUZZ_NO_ENTRY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_control_one(data, size);
}
#endif
