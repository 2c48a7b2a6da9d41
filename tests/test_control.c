/* Unit tests for the control socket. The server runs in this process,
 * driven by the test's own poll loop (control_pollfds, poll,
 * control_dispatch) interleaved with non-blocking client sockets; the
 * client helper control_request is tried against a server in a child
 * process. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "control.h"
#include "testutil.h"
#include "util.h"

#define WAIT_MS 2000 /* the longest any reply may take here */

struct fixture {
	char dir[64];
	char path[128];
	struct control *c;
	int calls;
	char last[CONTROL_MAX_LINE + 8];
};

static void echo(void *data, const char *line, char *reply, size_t len)
{
	struct fixture *f = data;

	f->calls++;
	snprintf(f->last, sizeof(f->last), "%s", line);
	snprintf(reply, len, "ok %s", line);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	if (tu_mkdtemp(f->dir, sizeof(f->dir), "control") < 0) {
		free(f);
		return -1;
	}
	snprintf(f->path, sizeof(f->path), "%s/bullhorn.sock", f->dir);
	/* A peer that goes away must not kill the test with SIGPIPE. */
	signal(SIGPIPE, SIG_IGN);
	*state = f;
	return 0;
}

static int setup_server(void **state)
{
	struct fixture *f;

	if (setup(state) < 0)
		return -1;
	f = *state;
	return control_new(f->path, echo, f, &f->c) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	control_free(f->c);
	tu_rmtree(f->dir);
	free(f);
	return 0;
}

/* One round of the daemon's loop; returns what poll returned. */
static int pump_once(struct control *c, int timeout_ms)
{
	struct pollfd fds[CONTROL_MAX_CLIENTS + 4];
	int n = control_pollfds(c, fds, (int)ARRAY_SIZE(fds));
	int r;

	int t = control_timeout_ms(c);

	assert_true(n >= 1);
	/* As the daemon's loop does: honour the control's own timeout (0
	 * when a busy client's requests wait their turn) and dispatch after
	 * every poll. */
	if (t >= 0 && t < timeout_ms)
		timeout_ms = t;
	r = poll(fds, (nfds_t)n, timeout_ms);
	assert_true(r >= 0);
	control_dispatch(c, fds, n);
	return r > 0 || t == 0;
}

/* Runs the loop until it has nothing more to do. */
static void pump(struct control *c)
{
	for (int i = 0; i < 1000; i++)
		if (pump_once(c, 20) == 0)
			return;
	fail_msg("the control loop never went idle");
}

static int client_new(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_true(strlen(path) < sizeof(sa.sun_path));
	memcpy(sa.sun_path, path, strlen(path) + 1);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

static void send_all(int fd, const void *data, size_t len)
{
	assert_int_equal(send(fd, data, len, MSG_NOSIGNAL), (ssize_t)len);
}

static void send_str(int fd, const char *s)
{
	send_all(fd, s, strlen(s));
}

static int count_lines(const char *s)
{
	int n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/* Runs the server and reads what the client gets, until lines reply
 * lines arrived (lines > 0) or the server closed the connection
 * (lines == 0), or WAIT_MS passed. Sets *eof when the connection was
 * closed by the server. */
static size_t read_reply(struct control *c, int fd, char *buf, size_t len,
			 int lines, bool *eof)
{
	int64_t end = now_ns() + WAIT_MS * 1000000LL;
	size_t got = 0;

	*eof = false;
	buf[0] = '\0';
	while (now_ns() < end) {
		ssize_t n;

		pump_once(c, 5);
		n = recv(fd, buf + got, len - 1 - got, 0);
		if (n > 0) {
			got += (size_t)n;
			buf[got] = '\0';
		} else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
			*eof = true;
			break;
		}
		if (lines > 0 && count_lines(buf) >= lines)
			break;
		assert_true(got < len - 1);
	}
	return got;
}

/* Nothing arrives, and the connection stays open. */
static void assert_silent(struct control *c, int fd)
{
	char b;

	pump(c);
	assert_int_equal(recv(fd, &b, 1, 0), -1);
	assert_int_equal(errno, EAGAIN);
}

static void test_one_request(void **state)
{
	struct fixture *f = *state;
	char buf[256];
	bool eof;
	int fd = client_new(f->path);

	send_str(fd, "status\n");
	read_reply(f->c, fd, buf, sizeof(buf), 1, &eof);
	assert_string_equal(buf, "ok status\n");
	assert_false(eof);
	assert_int_equal(f->calls, 1);
	assert_string_equal(f->last, "status");
	/* The connection stays for the next request; exactly one reply. */
	assert_silent(f->c, fd);
	send_str(fd, "play rights es\n");
	read_reply(f->c, fd, buf, sizeof(buf), 1, &eof);
	assert_string_equal(buf, "ok play rights es\n");
	assert_int_equal(f->calls, 2);
	assert_silent(f->c, fd);
	close(fd);
	pump(f->c);
}

static void test_pipelined(void **state)
{
	struct fixture *f = *state;
	char buf[8192], want[8192] = "", req[8192] = "";
	bool eof;
	int fd = client_new(f->path);

	send_str(fd, "a\nb\n");
	read_reply(f->c, fd, buf, sizeof(buf), 2, &eof);
	assert_string_equal(buf, "ok a\nok b\n");
	assert_int_equal(f->calls, 2);

	/* Far more than one buffer's worth at once: lines cross the
	 * server's read boundaries and must come back whole, in order. */
	for (int i = 0; i < 300; i++) {
		char line[32];

		snprintf(line, sizeof(line), "request-%d\n", i);
		strcat(req, line);
		snprintf(line, sizeof(line), "ok request-%d\n", i);
		strcat(want, line);
	}
	send_str(fd, req);
	read_reply(f->c, fd, buf, sizeof(buf), 300, &eof);
	assert_string_equal(buf, want);
	assert_int_equal(f->calls, 302);
	assert_false(eof);
	close(fd);
	pump(f->c);
}

static void test_split_request(void **state)
{
	static const char *const pieces[] = {"pl", "ay ri", "", "ghts es"};
	struct fixture *f = *state;
	char buf[256];
	bool eof;
	int fd = client_new(f->path);

	for (size_t i = 0; i < ARRAY_SIZE(pieces); i++) {
		if (*pieces[i])
			send_str(fd, pieces[i]);
		assert_silent(f->c, fd);
	}
	assert_int_equal(f->calls, 0);
	send_str(fd, "\n");
	read_reply(f->c, fd, buf, sizeof(buf), 1, &eof);
	assert_string_equal(buf, "ok play rights es\n");
	assert_int_equal(f->calls, 1);
	close(fd);
	pump(f->c);
}

/* Lines typed on Windows or sent by a telnet client end in CRLF. */
static void test_crlf(void **state)
{
	struct fixture *f = *state;
	char buf[256];
	bool eof;
	int fd = client_new(f->path);

	send_str(fd, "stop\r\n");
	read_reply(f->c, fd, buf, sizeof(buf), 1, &eof);
	if (strcmp(buf, "ok stop\n") != 0)
		print_message("  'stop\\r\\n' got '%s'\n", buf);
	assert_string_equal(buf, "ok stop\n");
	assert_string_equal(f->last, "stop");

	send_str(fd, "a\r\nb\n");
	read_reply(f->c, fd, buf, sizeof(buf), 2, &eof);
	assert_string_equal(buf, "ok a\nok b\n");
	close(fd);
	pump(f->c);
}

static void test_nul_byte(void **state)
{
	struct fixture *f = *state;
	char buf[256];
	bool eof;
	int fd = client_new(f->path);

	send_all(fd, "play\0rights\n", 12);
	read_reply(f->c, fd, buf, sizeof(buf), 1, &eof);
	assert_int_equal(strncmp(buf, "error: ", 7), 0);
	assert_non_null(strstr(buf, "NUL"));
	assert_int_equal(count_lines(buf), 1);
	assert_int_equal(f->calls, 0); /* never reaches the handler */

	send_all(fd, "\0\n", 2);
	read_reply(f->c, fd, buf, sizeof(buf), 1, &eof);
	assert_int_equal(strncmp(buf, "error: ", 7), 0);
	assert_int_equal(f->calls, 0);
	close(fd);
	pump(f->c);
}

/* Bytes that are not text never reach the handler. */
static void test_not_utf8(void **state)
{
	struct fixture *f = *state;
	char buf[256];
	bool eof;
	int fd = client_new(f->path);

	send_str(fd, "play \xff\xfe\n");
	read_reply(f->c, fd, buf, sizeof(buf), 1, &eof);
	assert_int_equal(strncmp(buf, "error: ", 7), 0);
	assert_int_equal(count_lines(buf), 1);
	assert_int_equal(f->calls, 0);
	/* Real UTF-8 passes through untouched. */
	send_str(fd, "say \xc3\xb1"
		     "and\xc3\xba\n");
	read_reply(f->c, fd, buf, sizeof(buf), 1, &eof);
	assert_string_equal(buf, "ok say \xc3\xb1"
				 "and\xc3\xba\n");
	close(fd);
	pump(f->c);
}

static void test_longest_line(void **state)
{
	struct fixture *f = *state;
	char line[CONTROL_MAX_LINE + 1], want[CONTROL_MAX_LINE + 8], buf[2048];
	bool eof;
	int fd = client_new(f->path);

	/* CONTROL_MAX_LINE bytes with the newline: the longest allowed. */
	memset(line, 'a', CONTROL_MAX_LINE - 1);
	line[CONTROL_MAX_LINE - 1] = '\n';
	line[CONTROL_MAX_LINE] = '\0';
	send_str(fd, line);
	read_reply(f->c, fd, buf, sizeof(buf), 1, &eof);
	snprintf(want, sizeof(want), "ok %s", line);
	assert_string_equal(buf, want);
	assert_int_equal(f->calls, 1);
	assert_false(eof);
	close(fd);
	pump(f->c);
}

static void test_too_long(void **state)
{
	static const size_t sizes[] = {CONTROL_MAX_LINE, CONTROL_MAX_LINE + 1,
				       CONTROL_MAX_LINE + 300, 4000};
	struct fixture *f = *state;

	for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
		char big[4000], buf[1024];
		bool eof;
		int fd = client_new(f->path);

		memset(big, 'x', sizeof(big));
		send_all(fd, big, sizes[i]);
		read_reply(f->c, fd, buf, sizeof(buf), 0, &eof);
		if (!strstr(buf, "longer than"))
			print_message("  %zu bytes: got '%s'\n", sizes[i], buf);
		assert_int_equal(strncmp(buf, "error: ", 7), 0);
		assert_non_null(strstr(buf, "longer than"));
		assert_int_equal(count_lines(buf), 1);
		assert_true(eof); /* and then the server hangs up */
		assert_int_equal(f->calls, 0);
		close(fd);
	}
	pump(f->c);
	assert_int_equal(control_timeout_ms(f->c), -1);
}

static void test_close_mid_line(void **state)
{
	struct fixture *f = *state;
	char buf[256];
	bool eof;
	int fd = client_new(f->path);

	send_str(fd, "play rig");
	pump(f->c);
	close(fd);
	pump(f->c);
	assert_int_equal(f->calls, 0);
	assert_int_equal(control_timeout_ms(f->c), -1); /* client gone */

	/* A client that stops writing after its line still gets its
	 * reply, then the server closes. */
	fd = client_new(f->path);
	send_str(fd, "stop\n");
	assert_int_equal(shutdown(fd, SHUT_WR), 0);
	read_reply(f->c, fd, buf, sizeof(buf), 0, &eof);
	assert_string_equal(buf, "ok stop\n");
	assert_true(eof);
	close(fd);

	/* The server is none the worse. */
	fd = client_new(f->path);
	send_str(fd, "status\n");
	read_reply(f->c, fd, buf, sizeof(buf), 1, &eof);
	assert_string_equal(buf, "ok status\n");
	close(fd);
	pump(f->c);
}

static void test_too_many_clients(void **state)
{
	struct fixture *f = *state;
	int fds[CONTROL_MAX_CLIENTS], extra;
	char buf[256], want[64];
	bool eof;

	for (int i = 0; i < CONTROL_MAX_CLIENTS; i++) {
		fds[i] = client_new(f->path);
		pump(f->c);
	}
	extra = client_new(f->path);
	read_reply(f->c, extra, buf, sizeof(buf), 0, &eof);
	assert_true(eof);
	assert_int_equal(strncmp(buf, "error: too many clients", 23), 0);
	assert_int_equal(count_lines(buf), 1);
	close(extra);

	/* Every accepted client still works, all at once. */
	for (int i = 0; i < CONTROL_MAX_CLIENTS; i++) {
		snprintf(want, sizeof(want), "client %d\n", i);
		send_str(fds[i], want);
	}
	for (int i = 0; i < CONTROL_MAX_CLIENTS; i++) {
		read_reply(f->c, fds[i], buf, sizeof(buf), 1, &eof);
		snprintf(want, sizeof(want), "ok client %d\n", i);
		assert_string_equal(buf, want);
		assert_false(eof);
	}
	assert_int_equal(f->calls, CONTROL_MAX_CLIENTS);

	/* One leaves: room for a new one. */
	close(fds[3]);
	pump(f->c);
	fds[3] = client_new(f->path);
	send_str(fds[3], "again\n");
	read_reply(f->c, fds[3], buf, sizeof(buf), 1, &eof);
	assert_string_equal(buf, "ok again\n");
	for (int i = 0; i < CONTROL_MAX_CLIENTS; i++)
		close(fds[i]);
	pump(f->c);
	assert_int_equal(control_timeout_ms(f->c), -1);
}

static void test_address_in_use(void **state)
{
	struct fixture *f = *state;
	struct control *second = NULL;
	char buf[256];
	bool eof;
	int fd;

	assert_int_equal(control_new(f->path, echo, f, &second), -EADDRINUSE);
	assert_null(second);
	/* The first server keeps its socket and still answers. */
	fd = client_new(f->path);
	send_str(fd, "status\n");
	read_reply(f->c, fd, buf, sizeof(buf), 1, &eof);
	assert_string_equal(buf, "ok status\n");
	close(fd);
	pump(f->c);
}

/* What a crash or a power cut leaves: the file of a socket nobody
 * listens on. */
static void make_stale_socket(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct stat st;

	assert_true(fd >= 0);
	memcpy(sa.sun_path, path, strlen(path) + 1);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
}

static void test_stale_socket_replaced(void **state)
{
	struct fixture *f = *state;
	char buf[256];
	bool eof;
	int fd;

	make_stale_socket(f->path);
	assert_int_equal(control_new(f->path, echo, f, &f->c), 0);
	fd = client_new(f->path);
	send_str(fd, "status\n");
	read_reply(f->c, fd, buf, sizeof(buf), 1, &eof);
	assert_string_equal(buf, "ok status\n");
	close(fd);
	pump(f->c);
}

/* A socket path that names an ordinary file (a typo in the config, say
 * the config file itself) must not cost that file: only a socket can be
 * stale. */
static void test_regular_file_kept(void **state)
{
	struct fixture *f = *state;
	char buf[64] = "";
	FILE *fp = fopen(f->path, "w");
	int r;

	assert_non_null(fp);
	fputs("[paths]\nlibrary = audio\n", fp);
	assert_int_equal(fclose(fp), 0);
	r = control_new(f->path, echo, f, &f->c); /* teardown frees it */
	if (r == 0)
		print_message("  control_new replaced a regular file\n");
	assert_true(r < 0);
	fp = fopen(f->path, "r");
	assert_non_null(fp);
	if (!fgets(buf, sizeof(buf), fp))
		buf[0] = '\0';
	fclose(fp);
	assert_string_equal(buf, "[paths]\n");
}

static void test_socket_file(void **state)
{
	struct fixture *f = *state;
	struct stat st;
	int fd;

	assert_int_equal(control_new(f->path, echo, f, &f->c), 0);
	assert_int_equal(stat(f->path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0660);

	/* Freed with a client still connected: both go, and the file. */
	fd = client_new(f->path);
	pump(f->c);
	control_free(f->c);
	f->c = NULL;
	assert_int_equal(stat(f->path, &st), -1);
	assert_int_equal(errno, ENOENT);
	close(fd);
	control_free(NULL);

	/* A path that cannot be a socket address. */
	{
		char longpath[200];
		struct control *c = NULL;

		memset(longpath, 'x', sizeof(longpath) - 1);
		longpath[0] = '/';
		longpath[sizeof(longpath) - 1] = '\0';
		assert_int_equal(control_new(longpath, echo, f, &c),
				 -ENAMETOOLONG);
		assert_null(c);
	}
}

static void test_timeout_ms(void **state)
{
	struct fixture *f = *state;
	int fd, t;

	assert_int_equal(control_timeout_ms(f->c), -1);
	fd = client_new(f->path);
	pump(f->c);
	t = control_timeout_ms(f->c);
	assert_true(t > 0);
	assert_true(t <= CONTROL_IDLE_MS + 1);
	close(fd);
	pump(f->c);
	assert_int_equal(control_timeout_ms(f->c), -1);
}

/* The loop in a child process: no cmocka asserts there, since a failure
 * would jump back into the parent's copy of the test runner. */
static void child_pump(struct control *c, int timeout_ms)
{
	struct pollfd fds[CONTROL_MAX_CLIENTS + 4];
	int n = control_pollfds(c, fds, (int)ARRAY_SIZE(fds));

	if (n < 1)
		_exit(2);
	if (poll(fds, (nfds_t)n, timeout_ms) > 0)
		control_dispatch(c, fds, n);
}

/* A server in a child process answering n requests, then exiting. */
static pid_t serve_in_child(struct fixture *f, int n)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		int64_t end = now_ns() + 5 * 1000000000LL;

		while (f->calls < n && now_ns() < end)
			child_pump(f->c, 10);
		for (int i = 0; i < 20; i++) /* flush the last reply */
			child_pump(f->c, 5);
		_exit(f->calls == n ? 0 : 1);
	}
	return pid;
}

static void test_request_helper(void **state)
{
	struct fixture *f = *state;
	char reply[256], small[6];
	int status;
	pid_t pid = serve_in_child(f, 3);

	assert_int_equal(
	    control_request(f->path, "status", reply, sizeof(reply), WAIT_MS),
	    0);
	assert_string_equal(reply, "ok status"); /* without the newline */
	assert_int_equal(control_request(f->path, "play rights es", reply,
					 sizeof(reply), WAIT_MS),
			 0);
	assert_string_equal(reply, "ok play rights es");
	/* A reply longer than the buffer is cut, never overflowed. */
	memset(small, '#', sizeof(small));
	assert_int_equal(control_request(f->path, "volume 50", small,
					 sizeof(small), WAIT_MS),
			 0);
	assert_string_equal(small, "ok vo");

	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(f->calls, 0); /* all of it happened in the child */
}

static void test_request_nobody(void **state)
{
	struct fixture *f = *state;
	char reply[64] = "untouched";

	assert_int_equal(
	    control_request(f->path, "status", reply, sizeof(reply), 500),
	    -ENOENT);
	make_stale_socket(f->path);
	assert_int_equal(
	    control_request(f->path, "status", reply, sizeof(reply), 500),
	    -ECONNREFUSED);
}

/* A daemon that accepts but never answers must not hang the CLI. */
static void test_request_timeout(void **state)
{
	struct fixture *f = *state;
	char reply[64];
	int64_t t0 = now_ns();

	assert_int_equal(
	    control_request(f->path, "status", reply, sizeof(reply), 100),
	    -ETIMEDOUT);
	assert_true(now_ns() - t0 < 1000000000LL);
	assert_int_equal(f->calls, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_one_request, setup_server,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_pipelined, setup_server,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_split_request, setup_server,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_crlf, setup_server, teardown),
	    cmocka_unit_test_setup_teardown(test_nul_byte, setup_server,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_not_utf8, setup_server,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_longest_line, setup_server,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_too_long, setup_server,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_close_mid_line, setup_server,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_too_many_clients, setup_server,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_address_in_use, setup_server,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_stale_socket_replaced, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_regular_file_kept, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_socket_file, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_timeout_ms, setup_server,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_request_helper, setup_server,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_request_nobody, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_request_timeout, setup_server,
					    teardown),
	};

	return cmocka_run_group_tests_name("control", tests, NULL, NULL);
}
