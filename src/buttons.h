/* The kit's inputs: the [button NAME] GPIO lines and the [remote NAME]
 * input devices of the config, each key through button.c's logic, in
 * the caller's poll loop. What they do comes back through one callback:
 * the caller (the daemon, or bullhorn test-buttons) decides whether to
 * act. A line that cannot be requested is reported and left out; the
 * others work. A remote that is switched off is reopened when it comes
 * back. Never logs. */
#ifndef BULLHORN_BUTTONS_H
#define BULLHORN_BUTTONS_H

#include <poll.h>
#include <stddef.h>
#include <stdint.h>

#include "button.h"
#include "config.h"

enum buttons_kind {
	BUTTONS_INPUT,	      /* a press, release or hold */
	BUTTONS_CONNECTED,    /* a remote appeared; text says which */
	BUTTONS_DISCONNECTED, /* a remote went away */
	BUTTONS_PROBLEM,      /* text: one sentence, what to do */
};

struct buttons_event {
	enum buttons_kind kind;
	const char *source; /* "button rights", "remote clicker KEY_NEXT" */
	const char *where;  /* "GPIO17 (gpiochip0 line 17)", device */
	enum button_event ev;
	const char *action; /* what the config maps ev to, or NULL */
	int64_t edge_ns;    /* when the edge happened (kernel clock) */
	const char *text;   /* CONNECTED/DISCONNECTED/PROBLEM */
};

typedef void (*buttons_fn)(void *data, const struct buttons_event *ev);

struct buttons;

/* Requests every configured line and opens every remote that is there.
 * Problems (a missing or busy line, an unreadable device) come through
 * fn as BUTTONS_PROBLEM before this returns. NULL only when out of
 * memory. */
struct buttons *buttons_new(const struct config *cfg, buttons_fn fn,
			    void *data);
/* Releases every line and closes every device. NULL is fine. */
void buttons_free(struct buttons *b);

/* Configured GPIO buttons that could not be requested. */
size_t buttons_faults(const struct buttons *b);

/* Poll loop integration, as player_pollfds. */
int buttons_pollfds(struct buttons *b, struct pollfd *fds, int max);
void buttons_dispatch(struct buttons *b, const struct pollfd *fds, int n);

#endif
