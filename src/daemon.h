/* bullhornd's core: the config, library, player, state and control
 * socket tied together in one poll() loop. The top layer: it logs. */
#ifndef BULLHORN_DAEMON_H
#define BULLHORN_DAEMON_H

#include <stdbool.h>
#include <stddef.h>

struct daemon;

struct daemon_options {
	const char *config_path;
	bool keys;   /* terminal number keys act as the [keys] buttons */
	int keys_fd; /* where they are read from (stdin) */
};

/* Loads the config and library, opens the socket. Returns NULL after
 * logging why (a broken config, a socket in use). */
struct daemon *daemon_new(const struct daemon_options *opt);
void daemon_free(struct daemon *d);

/* Runs until SIGTERM/SIGINT (or 'q' in keys mode); returns the exit code. */
int daemon_run(struct daemon *d);

/* Handles one action-language or control line, as from the socket. */
void daemon_request(void *data, const char *line, char *reply,
		    size_t reply_len);

#endif
