/* The kit's hardware sections of the config file, for config.c only:
 * [button NAME], [remote NAME], [led] and [amp]. Sections that may
 * repeat under different names, so they are not rows of config.c's key
 * table. Errors go through the loader's reporter, with the line. */
#ifndef BULLHORN_CONFIG_KIT_H
#define BULLHORN_CONFIG_KIT_H

#include "config.h"

enum kit_kind { KIT_NONE, KIT_BUTTON, KIT_REMOTE, KIT_LED, KIT_AMP };

#define KIT_SECTIONS "[button NAME], [remote NAME], [led], [amp]"

typedef void (*kit_err_fn)(void *ctx, unsigned line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* What kind of kit section the header text names (KIT_NONE: not one);
 * *name points at the NAME part of "button NAME". */
enum kit_kind kit_header(const char *section, const char **name);
/* A section header at line. Returns 0, -EINVAL after reporting (its keys
 * are to be skipped) or -ENOMEM. */
int kit_begin(struct config *c, enum kit_kind kind, const char *name,
	      unsigned line, kit_err_fn err, void *ctx);
/* One key of the section last begun. Returns 0, -EINVAL after reporting,
 * or -ENOMEM. */
int kit_set(struct config *c, enum kit_kind kind, const char *key,
	    const char *value, unsigned line, kit_err_fn err, void *ctx);
/* What can only be checked once the whole file is read: required keys,
 * a line used twice. */
void kit_check(struct config *c, kit_err_fn err, void *ctx);
void kit_defaults(struct config *c);
void kit_free(struct config *c);

#endif
