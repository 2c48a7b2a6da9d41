#include "action.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "util.h"

#define MAX_WORDS 4

static void set_err(char *err, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (!err || len == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
}

/* How many bytes of s a reason quotes: at most max, cut where a character
 * starts, so that a UTF-8 action gets a UTF-8 reason (replies on the
 * control socket are text). */
static int quote_len(const char *s, int max)
{
	int n = (int)strnlen(s, (size_t)max), back = 0;

	/* s[n] is the first byte left out: while it continues a character
	 * (three at most), the cut moves back. */
	while (back++ < 3 && n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
		n--;
	return n;
}

bool action_valid_message(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= ACTION_NAME_MAX || s[0] == '_' || s[0] == '-')
		return false;
	for (; *s; s++)
		if (!(islower((unsigned char)*s) ||
		      isdigit((unsigned char)*s) || *s == '_' || *s == '-'))
			return false;
	return true;
}

bool action_valid_language(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= ACTION_NAME_MAX || s[0] == '-' || s[n - 1] == '-')
		return false;
	if (strcmp(s, "all") == 0)
		return false;
	for (; *s; s++)
		if (!(isalnum((unsigned char)*s) || *s == '-'))
			return false;
	return true;
}

/* Splits text into at most MAX_WORDS blank-separated words, in place in
 * buf. Returns the count or -E2BIG. */
static int split_words(char *buf, char *words[MAX_WORDS])
{
	int n = 0;
	char *p = buf;

	for (;;) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p)
			return n;
		if (n == MAX_WORDS)
			return -E2BIG;
		words[n++] = p;
		while (*p && *p != ' ' && *p != '\t')
			p++;
		if (*p)
			*p++ = '\0';
	}
}

static int parse_play(char **w, int n, struct action *a, char *err,
		      size_t err_len)
{
	if (n < 2) {
		set_err(err, err_len,
			"'%s' needs a message name, e.g. '%s rights'", w[0],
			w[0]);
		return -EINVAL;
	}
	if (n > 3) {
		set_err(
		    err, err_len,
		    "'%s' takes a message and at most one language or 'all'",
		    w[0]);
		return -EINVAL;
	}
	if (!action_valid_message(w[1])) {
		set_err(
		    err, err_len,
		    "'%.*s' is not a message name (lower-case letters, digits, "
		    "'-' and '_', up to %d characters)",
		    quote_len(w[1], ACTION_NAME_MAX), w[1],
		    ACTION_NAME_MAX - 1);
		return -EINVAL;
	}
	a->type = strcmp(w[0], "loop") == 0 ? ACTION_LOOP : ACTION_PLAY;
	snprintf(a->message, sizeof(a->message), "%s", w[1]);
	a->language[0] = '\0';
	a->all = false;
	if (n == 3) {
		if (strcmp(w[2], "all") == 0) {
			a->all = true;
		} else if (action_valid_language(w[2])) {
			snprintf(a->language, sizeof(a->language), "%s", w[2]);
		} else {
			set_err(
			    err, err_len,
			    "'%.*s' is not a language tag (like 'en', 'es', "
			    "'zh-cmn') or 'all'",
			    quote_len(w[2], ACTION_NAME_MAX), w[2]);
			return -EINVAL;
		}
	}
	return 0;
}

static int parse_volume(char **w, int n, struct action *a, char *err,
			size_t err_len)
{
	const char *num = n == 2 ? w[1] : "";
	long v;

	if (n != 2) {
		set_err(err, err_len,
			"'volume' takes one value: +N, -N or N (0 to 100)");
		return -EINVAL;
	}
	if (num[0] == '+' || num[0] == '-') {
		if (!isdigit((unsigned char)num[1]) ||
		    parse_long(num + 1, 0, 100, &v) < 0) {
			set_err(
			    err, err_len,
			    "'%.*s' is not a volume step: use +N or -N with N "
			    "from 0 to 100",
			    quote_len(num, 16), num);
			return -EINVAL;
		}
		a->volume_mode = num[0] == '+' ? VOLUME_UP : VOLUME_DOWN;
	} else {
		if (parse_long(num, 0, 100, &v) < 0) {
			set_err(err, err_len,
				"'%.*s' is not a volume: use a number from 0 "
				"to 100, "
				"or +N / -N",
				quote_len(num, 16), num);
			return -EINVAL;
		}
		a->volume_mode = VOLUME_SET;
	}
	a->type = ACTION_VOLUME;
	a->volume = (int)v;
	return 0;
}

int action_parse(const char *text, struct action *out, char *err,
		 size_t err_len)
{
	char buf[256];
	char *w[MAX_WORDS];
	struct action a = {0};
	size_t len = strlen(text);
	int n, r;

	while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r' ||
			   text[len - 1] == ' ' || text[len - 1] == '\t'))
		len--;
	if (len >= sizeof(buf)) {
		set_err(err, err_len,
			"action is too long (%zu bytes, at most %zu)", len,
			sizeof(buf) - 1);
		return -EINVAL;
	}
	memcpy(buf, text, len);
	buf[len] = '\0';
	for (size_t i = 0; i < len; i++) {
		if ((unsigned char)buf[i] < 0x20 && buf[i] != '\t') {
			set_err(err, err_len,
				"action contains a control character");
			return -EINVAL;
		}
	}
	n = split_words(buf, w);
	if (n == 0) {
		set_err(
		    err, err_len,
		    "empty action; expected play, loop, stop, next-language "
		    "or volume");
		return -EINVAL;
	}
	if (n < 0) {
		set_err(err, err_len, "too many words in action");
		return -EINVAL;
	}
	if (strcmp(w[0], "play") == 0 || strcmp(w[0], "loop") == 0) {
		r = parse_play(w, n, &a, err, err_len);
	} else if (strcmp(w[0], "stop") == 0 ||
		   strcmp(w[0], "next-language") == 0) {
		if (n != 1) {
			set_err(err, err_len, "'%s' takes no arguments", w[0]);
			return -EINVAL;
		}
		a.type = w[0][0] == 's' ? ACTION_STOP : ACTION_NEXT_LANGUAGE;
		r = 0;
	} else if (strcmp(w[0], "volume") == 0) {
		r = parse_volume(w, n, &a, err, err_len);
	} else {
		set_err(err, err_len,
			"unknown action '%.*s'; expected play, loop, stop, "
			"next-language or volume",
			quote_len(w[0], 32), w[0]);
		return -EINVAL;
	}
	if (r < 0)
		return r;
	*out = a;
	return 0;
}

int action_format(const struct action *a, char *buf, size_t len)
{
	int n;

	switch (a->type) {
	case ACTION_PLAY:
	case ACTION_LOOP:
		n = snprintf(buf, len, "%s %s%s%s",
			     a->type == ACTION_PLAY ? "play" : "loop",
			     a->message, a->all || a->language[0] ? " " : "",
			     a->all ? "all" : a->language);
		break;
	case ACTION_STOP:
		n = snprintf(buf, len, "stop");
		break;
	case ACTION_NEXT_LANGUAGE:
		n = snprintf(buf, len, "next-language");
		break;
	case ACTION_VOLUME:
		n = snprintf(buf, len, "volume %s%d",
			     a->volume_mode == VOLUME_UP     ? "+"
			     : a->volume_mode == VOLUME_DOWN ? "-"
							     : "",
			     a->volume);
		break;
	default:
		return -EINVAL;
	}
	if (n < 0 || (size_t)n >= len)
		return -ENOSPC;
	return n;
}
