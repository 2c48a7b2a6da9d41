/* bullhorn test-buttons: for a technician wiring a kit. Requests the
 * config's buttons and remotes exactly as bullhornd does and prints every
 * press, release and hold with the line's name and the action it would
 * trigger, without playing anything. Refuses while bullhornd runs: the
 * daemon holds the lines. */
#ifndef BULLHORN_BUTTONTEST_H
#define BULLHORN_BUTTONTEST_H

#include <stdio.h>

/* Runs until SIGINT/SIGTERM, or for seconds (> 0). Returns 0, 1 when
 * nothing could be watched or the daemon runs, 4 for a broken config. */
int buttontest_run(const char *config_path, double seconds, FILE *out);

#endif
