/* The action language (src/action.c), as buttons, [keys], the control
 * socket and the CLI hand it text. The input is the action text (cut at
 * its first NUL). Properties:
 *   - action_parse returns 0 or -EINVAL;
 *   - on failure *out is untouched and err is one line of text that fits
 *     err_len (err_len varies with the input, down to 0), UTF-8 when the
 *     action is (reasons go back over the control socket);
 *   - on success every field is valid, and action_format gives canonical
 *     text that parses back to the same action and formats to the same
 *     text; action_format writes nothing past len and says -ENOSPC when
 *     the text does not fit. */
#include "fuzz.h"

#include <errno.h>

#include "action.h"

#define ACTION_TEXT_MAX 256 /* action_parse's own buffer */

static void action_check_valid(const struct action *a)
{
	switch (a->type) {
	case ACTION_PLAY:
	case ACTION_LOOP:
		FUZZ_CHECK(action_valid_message(a->message));
		FUZZ_CHECK(!a->language[0] ||
			   action_valid_language(a->language));
		FUZZ_CHECK(!(a->all && a->language[0]));
		break;
	case ACTION_VOLUME:
		FUZZ_CHECK(a->volume >= 0 && a->volume <= 100);
		FUZZ_CHECK(a->volume_mode == VOLUME_SET ||
			   a->volume_mode == VOLUME_UP ||
			   a->volume_mode == VOLUME_DOWN);
		break;
	case ACTION_STOP:
	case ACTION_NEXT_LANGUAGE:
		break;
	default:
		FUZZ_CHECK(!"an action type out of the enum");
	}
}

/* Field by field: struct padding is not part of an action. */
static int action_same(const struct action *a, const struct action *b)
{
	if (a->type != b->type)
		return 0;
	switch (a->type) {
	case ACTION_PLAY:
	case ACTION_LOOP:
		return strcmp(a->message, b->message) == 0 &&
		       strcmp(a->language, b->language) == 0 &&
		       a->all == b->all;
	case ACTION_VOLUME:
		return a->volume_mode == b->volume_mode &&
		       a->volume == b->volume;
	default:
		return 1;
	}
}

/* The error text: NUL-terminated inside err_len, one line, no control
 * characters (the action's own were refused before any was quoted);
 * when whole, UTF-8 if the action was (it is a reply on the socket). */
static void action_check_err(const char *err, size_t err_len, bool utf8)
{
	const char *end;

	if (err_len == 0)
		return;
	end = memchr(err, '\0', err_len);
	FUZZ_CHECK(end != NULL);
	FUZZ_CHECK(err_len == 1 || end > err);
	for (const char *p = err; p < end; p++)
		FUZZ_CHECK((unsigned char)*p >= 0x20);
	/* "a one-sentence reason (no trailing period)", when whole */
	if (err_len < 160)
		return;
	FUZZ_CHECK(end[-1] != '.');
	FUZZ_CHECK(!utf8 ||
		   fuzz_utf8_ok((const uint8_t *)err, (size_t)(end - err)));
}

/* Formats a into a heap buffer of exactly len bytes, so that ASan sees
 * any byte written past it. */
static int action_format_in(const struct action *a, size_t len, char *copy)
{
	char *buf = malloc(len ? len : 1);
	int n;

	FUZZ_CHECK(buf != NULL);
	n = action_format(a, buf, len);
	if (n >= 0)
		memcpy(copy, buf, (size_t)n + 1);
	free(buf);
	return n;
}

int fuzz_action_one(const uint8_t *data, size_t size)
{
	static const size_t err_lens[] = {160, 0, 1, 2, 16, 40, 160, 512};
	size_t err_len =
	    err_lens[size % (sizeof(err_lens) / sizeof(*err_lens))];
	char *text = fuzz_string(data, size), *err;
	char canon[ACTION_TEXT_MAX], again[ACTION_TEXT_MAX];
	struct action a, before, b;
	int r, n;

	FUZZ_CHECK(text != NULL);
	err = malloc(err_len ? err_len : 1);
	FUZZ_CHECK(err != NULL);
	memset(err, 0x5a, err_len ? err_len : 1);
	memset(&a, 0xa5, sizeof(a));
	memcpy(&before, &a, sizeof(a)); /* padding too */

	r = action_parse(text, &a, err_len ? err : NULL, err_len);
	FUZZ_CHECK(r == 0 || r == -EINVAL);
	if (r < 0) {
		FUZZ_CHECK(memcmp(&a, &before, sizeof(a)) == 0);
		action_check_err(
		    err, err_len,
		    fuzz_utf8_ok((const uint8_t *)text, strlen(text)));
		goto out;
	}
	action_check_valid(&a);

	n = action_format(&a, canon, sizeof(canon));
	FUZZ_CHECK(n > 0 && (size_t)n < sizeof(canon));
	FUZZ_CHECK(strlen(canon) == (size_t)n);
	/* Exactly the room it needs, and one byte less. */
	FUZZ_CHECK(action_format_in(&a, (size_t)n + 1, again) == n);
	FUZZ_CHECK(strcmp(again, canon) == 0);
	FUZZ_CHECK(action_format_in(&a, (size_t)n, again) == -ENOSPC);
	FUZZ_CHECK(action_format_in(&a, 0, again) == -ENOSPC);

	r = action_parse(canon, &b, err, err_len);
	FUZZ_CHECK(r == 0);
	FUZZ_CHECK(action_same(&a, &b));
	FUZZ_CHECK(action_format(&b, again, sizeof(again)) == n);
	FUZZ_CHECK(strcmp(again, canon) == 0);
out:
	free(err);
	free(text);
	return 0;
}

#ifndef FUZZ_NO_ENTRY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_action_one(data, size);
}
#endif
