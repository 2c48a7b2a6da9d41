/* bullhorn check: validates the config and the whole library without a
 * daemon, and reports every recording with plain-language warnings.
 * A top-layer command: it prints. */
#ifndef BULLHORN_CHECK_H
#define BULLHORN_CHECK_H

#include <stdbool.h>
#include <stdio.h>

#include "clip.h"

struct config;

/* Plain-language warnings for one processed recording, appended to buf
 * separated by "; ". Returns how many. */
int check_warnings(const struct clip *c, const struct config *cfg, char *buf,
		   size_t len);

/* Prints one table row for a recording (the header with row == NULL). */
void check_print_row(FILE *f, const struct clip *c, const struct config *cfg);

/* Runs the whole check. Returns the exit status: 0 when every recording
 * is usable (warnings allowed unless strict), 1 on any error. */
int check_run(const char *config_path, bool json, bool strict, FILE *out);

#endif
