#include "buttontest.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "buttons.h"
#include "config.h"
#include "control.h"
#include "gpio.h"
#include "util.h"

#define MAX_FDS 64

struct tester {
	FILE *out;
	int64_t t0;
};

static void on_event(void *data, const struct buttons_event *ev)
{
	struct tester *t = data;

	if (ev->kind != BUTTONS_INPUT) {
		fprintf(t->out, "%s %s\n",
			ev->kind == BUTTONS_PROBLEM ? "problem:" : "note:",
			ev->text);
		fflush(t->out);
		return;
	}
	fprintf(t->out, "%8.3f s  %-24s %-7s %s%s  [%s]\n",
		(double)(ev->edge_ns - t->t0) / 1e9, ev->source,
		button_event_name(ev->ev), ev->action ? "-> " : "",
		ev->action ? ev->action : "(no action)", ev->where);
	fflush(t->out);
}

static void describe(const struct config *c, FILE *out)
{
	for (size_t i = 0; i < c->nbuttons; i++) {
		const struct config_button *b = &c->buttons[i];

		fprintf(out, "  button %-12s %s%s%s  press: %s", b->name,
			b->gpio.chip ? b->gpio.chip : "",
			b->gpio.chip ? " line " : "", b->gpio.line, b->press);
		if (b->hold)
			fprintf(out, "  hold %u ms: %s", b->hold_ms, b->hold);
		fputc('\n', out);
	}
	for (size_t i = 0; i < c->nremotes; i++)
		fprintf(out, "  remote %-12s %s (%zu key%s)\n",
			c->remotes[i].name, c->remotes[i].device,
			c->remotes[i].nkeys,
			c->remotes[i].nkeys == 1 ? "" : "s");
}

static int load(const char *path, struct config **c)
{
	struct strv errors = {0};
	int r = config_load(path, c, &errors);

	for (size_t i = 0; i < errors.n; i++)
		fprintf(stderr, "bullhorn: %s\n", errors.v[i]);
	strv_clear(&errors);
	return r;
}

int buttontest_run(const char *config_path, double seconds, FILE *out)
{
	struct tester t = {.out = out, .t0 = now_ns()};
	struct pollfd fds[MAX_FDS];
	struct buttons *b = NULL;
	struct config *c = NULL;
	int64_t end = seconds > 0 ? t.t0 + (int64_t)(seconds * 1e9) : 0;
	int sfd = -1, fd, rc = 1;
	sigset_t set;

	if (load(config_path, &c) < 0)
		return 4;
	fd = control_connect(c->socket);
	if (fd >= 0) {
		close(fd);
		fprintf(stderr,
			"bullhorn: bullhornd is running (%s) and holds the "
			"buttons' lines; stop it first (sudo systemctl stop "
			"bullhorn), run test-buttons, then start it again\n",
			c->socket);
		goto out;
	}
	if (c->nbuttons == 0 && c->nremotes == 0) {
		fprintf(stderr,
			"bullhorn: %s has no [button NAME] or [remote NAME] "
			"sections: nothing to test\n",
			config_path);
		goto out;
	}
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0 ||
	    (sfd = signalfd(-1, &set, SFD_CLOEXEC)) < 0) {
		fprintf(stderr, "bullhorn: cannot set up signals: %s\n",
			strerror(errno));
		goto out;
	}
	fprintf(out,
		"test-buttons with %s (%s): nothing is played. Press Ctrl-C "
		"to end.\n",
		config_path, gpio_backend());
	describe(c, out);
	fflush(out);
	b = buttons_new(c, on_event, &t);
	if (!b) {
		fprintf(stderr, "bullhorn: out of memory\n");
		goto out;
	}
	if (buttons_faults(b) == c->nbuttons && c->nremotes == 0) {
		fprintf(stderr, "bullhorn: none of the buttons could be "
				"requested (see the problems above)\n");
		goto out;
	}
	fprintf(out, "ready: press a button.\n");
	fflush(out);
	for (;;) {
		int n = buttons_pollfds(b, fds + 1, MAX_FDS - 1), timeout = -1;

		fds[0] = (struct pollfd){.fd = sfd, .events = POLLIN};
		if (end) {
			int64_t left = end - now_ns();

			if (left <= 0)
				break;
			timeout = (int)(left / 1000000) + 1;
		}
		if (poll(fds, (nfds_t)n + 1, timeout) < 0 && errno != EINTR)
			break;
		if (fds[0].revents)
			break;
		buttons_dispatch(b, fds + 1, n);
	}
	rc = 0;
out:
	buttons_free(b);
	if (sfd >= 0)
		close(sfd);
	config_free(c);
	return rc;
}
