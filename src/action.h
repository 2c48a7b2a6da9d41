/* The action language shared by buttons, the control socket and the CLI:
 *
 *   play MESSAGE [LANGUAGE|all]
 *   loop MESSAGE [LANGUAGE|all]
 *   stop
 *   next-language
 *   volume +N | -N | N
 */
#ifndef BULLHORN_ACTION_H
#define BULLHORN_ACTION_H

#include <stdbool.h>
#include <stddef.h>

#define ACTION_NAME_MAX 64 /* message names and language tags, with NUL */

enum action_type {
	ACTION_PLAY,
	ACTION_LOOP,
	ACTION_STOP,
	ACTION_NEXT_LANGUAGE,
	ACTION_VOLUME,
};

enum volume_mode { VOLUME_SET, VOLUME_UP, VOLUME_DOWN };

struct action {
	enum action_type type;
	char message[ACTION_NAME_MAX];	/* play/loop */
	char language[ACTION_NAME_MAX]; /* play/loop; "" = active language */
	bool all;			/* play/loop ... all */
	enum volume_mode volume_mode;	/* volume */
	int volume;			/* absolute or step, 0..1000 */
};

/* Parses one action. On failure returns -EINVAL, leaves *out untouched and
 * writes a one-sentence reason (no trailing period) into err. */
int action_parse(const char *text, struct action *out, char *err,
		 size_t err_len);

/* Canonical text of an action; returns the length or -ENOSPC. */
int action_format(const struct action *a, char *buf, size_t len);

/* True for a valid message name: [a-z0-9_-], not starting with '_'. */
bool action_valid_message(const char *s);
/* True for a BCP 47-shaped language tag: letters, digits and '-'. */
bool action_valid_language(const char *s);

#endif
