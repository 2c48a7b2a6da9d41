/* Every message says where (section and key, with the line from the
 * caller) and what is allowed, like the rest of the file: a technician
 * wiring a kit fixes the whole file in one go. */
#include "config_kit.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evdev.h"

#define SHOW 64

#define BUTTON_KEYS                                                            \
	"line, chip, press, hold, hold_ms, active, bias, debounce_ms"
#define REMOTE_KEYS                                                            \
	"device, hold_ms, debounce_ms, KEY_NAME = action, "                    \
	"hold KEY_NAME = action"
#define LED_KEYS "line, chip, active"
#define AMP_KEYS "line, chip, active, warmup_ms, idle_off_s"
#define ACTIONS                                                                \
	"play MESSAGE [LANGUAGE|all], loop MESSAGE [LANGUAGE|all], stop, "     \
	"next-language, volume +N|-N|N"

struct where {
	struct config *c;
	enum kit_kind kind;
	const char *key;
	unsigned line;
	kit_err_fn err;
	void *ctx;
	char sec[ACTION_NAME_MAX + 16]; /* "[button rights]" */
};

static const char *const prefixes[] = {
    [KIT_BUTTON] = "button",
    [KIT_REMOTE] = "remote",
    [KIT_LED] = "led",
    [KIT_AMP] = "amp",
};

enum kit_kind kit_header(const char *section, const char **name)
{
	for (int k = KIT_BUTTON; k <= KIT_AMP; k++) {
		size_t n = strlen(prefixes[k]);

		if (strncmp(section, prefixes[k], n) != 0)
			continue;
		*name = section + n;
		if (k >= KIT_LED && !**name)
			return (enum kit_kind)k;
		if (k < KIT_LED && isspace((unsigned char)**name)) {
			while (isspace((unsigned char)**name))
				(*name)++;
			return (enum kit_kind)k;
		}
	}
	*name = NULL;
	return KIT_NONE;
}

static void section_of(struct where *w)
{
	const struct config *c = w->c;

	if (w->kind == KIT_BUTTON)
		snprintf(w->sec, sizeof(w->sec), "[button %s]",
			 c->buttons[c->nbuttons - 1].name);
	else if (w->kind == KIT_REMOTE)
		snprintf(w->sec, sizeof(w->sec), "[remote %s]",
			 c->remotes[c->nremotes - 1].name);
	else
		snprintf(w->sec, sizeof(w->sec), "[%s]", prefixes[w->kind]);
}

static void gpio_defaults(struct config_gpio *g, bool active_low)
{
	*g = (struct config_gpio){.active_low = active_low,
				  .bias = GPIO_BIAS_PULL_UP};
}

void kit_defaults(struct config *c)
{
	gpio_defaults(&c->led, false);
	gpio_defaults(&c->amp, false);
	c->amp_warmup_ms = 150;
	c->amp_idle_off_s = 60;
}

/* The header line of the [button NAME] or [remote NAME] already given,
 * or 0. */
static unsigned section_line(const struct config *c, enum kit_kind kind,
			     const char *name)
{
	size_t n = kind == KIT_BUTTON ? c->nbuttons : c->nremotes;

	for (size_t i = 0; i < n; i++) {
		if (kind == KIT_BUTTON && strcmp(c->buttons[i].name, name) == 0)
			return c->buttons[i].at;
		if (kind == KIT_REMOTE && strcmp(c->remotes[i].name, name) == 0)
			return c->remotes[i].at;
	}
	return 0;
}

int kit_begin(struct config *c, enum kit_kind kind, const char *name,
	      unsigned line, kit_err_fn err, void *ctx)
{
	const char *what = prefixes[kind];
	unsigned at;

	if (kind == KIT_LED || kind == KIT_AMP) {
		struct config_gpio *g = kind == KIT_LED ? &c->led : &c->amp;

		if (g->at) {
			err(ctx, line,
			    "[%s]: section given twice, first at line %u; "
			    "allowed: once",
			    what, g->at);
			return -EINVAL;
		}
		g->at = line;
		return 0;
	}
	if (!*name || !action_valid_message(name)) {
		err(ctx, line,
		    "[%s %.*s]: '%.*s' is not a %s name; allowed: [%s NAME] "
		    "with NAME of lower-case letters, digits, '-' and '_'",
		    what, SHOW, name, SHOW, name, what, what);
		return -EINVAL;
	}
	at = section_line(c, kind, name);
	if (at) {
		err(ctx, line,
		    "[%s %s]: section given twice, first at line %u; allowed: "
		    "each name once",
		    what, name, at);
		return -EINVAL;
	}
	if ((kind == KIT_BUTTON ? c->nbuttons : c->nremotes) ==
	    (kind == KIT_BUTTON ? CONFIG_MAX_BUTTONS : CONFIG_MAX_REMOTES)) {
		err(ctx, line, "[%s %s]: too many %ss; allowed: at most %d",
		    what, name, what,
		    kind == KIT_BUTTON ? CONFIG_MAX_BUTTONS
				       : CONFIG_MAX_REMOTES);
		return -EINVAL;
	}
	if (kind == KIT_BUTTON) {
		struct config_button *b = &c->buttons[c->nbuttons++];

		snprintf(b->name, sizeof(b->name), "%s", name);
		gpio_defaults(&b->gpio, true);
		b->hold_ms = 1000;
		b->debounce_ms = 30;
		b->at = line;
	} else {
		struct config_remote *r = &c->remotes[c->nremotes++];

		snprintf(r->name, sizeof(r->name), "%s", name);
		r->hold_ms = 1000;
		r->at = line;
	}
	return 0;
}

static int bad(struct where *w, const char *value, const char *why,
	       const char *allowed)
{
	w->err(w->ctx, w->line, "%s %s: '%.*s' %s; allowed: %s", w->sec, w->key,
	       SHOW, value, why, allowed);
	return -EINVAL;
}

static int set_str(char **field, const char *value)
{
	char *copy = strdup(value);

	if (!copy)
		return -ENOMEM;
	free(*field);
	*field = copy;
	return 0;
}

static int set_action(struct where *w, char **field, const char *value)
{
	struct action a;
	char why[160];

	if (action_parse(value, &a, why, sizeof(why)) < 0) {
		w->err(w->ctx, w->line, "%s %s: %s; allowed: %s", w->sec,
		       w->key, why, ACTIONS);
		return -EINVAL;
	}
	return set_str(field, value);
}

static int set_uint(struct where *w, unsigned *field, const char *value,
		    long min, long max, const char *allowed)
{
	long l;
	int r = parse_long(value, min, max, &l);

	if (r < 0)
		return bad(w, value,
			   r == -ERANGE ? "is out of range"
					: "is not a whole number",
			   allowed);
	*field = (unsigned)l;
	return 0;
}

/* Names and offsets as gpioinfo shows them: no blanks, printable. */
static bool line_text_ok(const char *s)
{
	if (!*s || strlen(s) >= ACTION_NAME_MAX)
		return false;
	for (; *s; s++)
		if (!isgraph((unsigned char)*s))
			return false;
	return true;
}

/* line, chip and active: the keys every GPIO section shares. Returns 1
 * when key is not one of them. */
static int set_gpio(struct where *w, struct config_gpio *g, const char *value)
{
	if (strcmp(w->key, "line") == 0 || strcmp(w->key, "chip") == 0) {
		bool is_line = w->key[0] == 'l';

		g->line_given = g->line_given || is_line;
		if (!line_text_ok(value))
			return bad(w, value, "is not a line or chip name",
				   is_line ? "a line name such as GPIO17, or "
					     "an offset with chip"
					   : "a chip such as gpiochip0, its "
					     "path or its label");
		if (is_line)
			g->at = w->line;
		return set_str(is_line ? &g->line : &g->chip, value);
	}
	if (strcmp(w->key, "active") == 0) {
		if (strcmp(value, "low") && strcmp(value, "high"))
			return bad(w, value, "is not low or high",
				   "low (pressed/on connects to ground) or "
				   "high");
		g->active_low = value[0] == 'l';
		return 0;
	}
	return 1;
}

static int set_button(struct where *w, struct config_button *b,
		      const char *value)
{
	int r = set_gpio(w, &b->gpio, value);

	if (r <= 0)
		return r;
	if (strcmp(w->key, "press") == 0) {
		b->press_given = true;
		return set_action(w, &b->press, value);
	}
	if (strcmp(w->key, "hold") == 0)
		return set_action(w, &b->hold, value);
	if (strcmp(w->key, "hold_ms") == 0)
		return set_uint(w, &b->hold_ms, value, 100, 60000,
				"100 to 60000 ms");
	if (strcmp(w->key, "debounce_ms") == 0)
		return set_uint(w, &b->debounce_ms, value, 0, 1000,
				"0 to 1000 ms");
	if (strcmp(w->key, "bias") == 0) {
		static const char *const names[] = {
		    [GPIO_BIAS_PULL_UP] = "pull-up",
		    [GPIO_BIAS_PULL_DOWN] = "pull-down",
		    [GPIO_BIAS_NONE] = "none",
		};

		for (size_t i = 0; i < ARRAY_SIZE(names); i++)
			if (strcmp(value, names[i]) == 0) {
				b->gpio.bias = (enum gpio_bias)i;
				return 0;
			}
		return bad(w, value, "is not a bias",
			   "pull-up (buttons to ground), pull-down or none "
			   "(external resistors)");
	}
	w->err(w->ctx, w->line, "%s %.*s: unknown key; allowed: %s", w->sec,
	       SHOW, w->key, BUTTON_KEYS);
	return -EINVAL;
}

static int set_remote(struct where *w, struct config_remote *r,
		      const char *value)
{
	const char *k = w->key;
	bool hold = strncmp(k, "hold", 4) == 0 && isspace((unsigned char)k[4]);
	struct config_remote_key *rk = NULL;
	int code;

	if (strcmp(k, "device") == 0)
		return set_str(&r->device, value);
	if (strcmp(k, "hold_ms") == 0)
		return set_uint(w, &r->hold_ms, value, 100, 60000,
				"100 to 60000 ms");
	if (strcmp(k, "debounce_ms") == 0)
		return set_uint(w, &r->debounce_ms, value, 0, 1000,
				"0 to 1000 ms");
	if (hold)
		k += strspn(k + 4, " \t") + 4;
	code = evdev_key_code(k);
	if (code < 0) {
		w->err(w->ctx, w->line,
		       "%s %.*s: unknown key; allowed: %s (key names as "
		       "evtest shows them, such as KEY_PAGEDOWN)",
		       w->sec, SHOW, w->key, REMOTE_KEYS);
		return -EINVAL;
	}
	for (size_t i = 0; i < r->nkeys; i++)
		if (r->keys[i].code == (unsigned)code)
			rk = &r->keys[i];
	if (rk && (hold ? rk->hold : rk->press)) {
		w->err(w->ctx, w->line,
		       "%s %s: set twice, first at line %u; allowed: once",
		       w->sec, w->key, rk->at);
		return -EINVAL;
	}
	if (!rk) {
		if (r->nkeys == CONFIG_MAX_REMOTE_KEYS) {
			w->err(w->ctx, w->line,
			       "%s %s: too many keys; allowed: at most %d",
			       w->sec, w->key, CONFIG_MAX_REMOTE_KEYS);
			return -EINVAL;
		}
		rk = &r->keys[r->nkeys++];
		rk->code = (unsigned)code;
		rk->at = w->line;
	}
	return set_action(w, hold ? &rk->hold : &rk->press, value);
}

int kit_set(struct config *c, enum kit_kind kind, const char *key,
	    const char *value, unsigned line, kit_err_fn err, void *ctx)
{
	struct where w = {c, kind, key, line, err, ctx, ""};
	int r;

	section_of(&w);
	switch (kind) {
	case KIT_BUTTON:
		return set_button(&w, &c->buttons[c->nbuttons - 1], value);
	case KIT_REMOTE:
		return set_remote(&w, &c->remotes[c->nremotes - 1], value);
	case KIT_LED:
		r = set_gpio(&w, &c->led, value);
		if (r <= 0)
			return r;
		err(ctx, line, "[led] %.*s: unknown key; allowed: %s", SHOW,
		    key, LED_KEYS);
		return -EINVAL;
	case KIT_AMP:
		r = set_gpio(&w, &c->amp, value);
		if (r <= 0)
			return r;
		if (strcmp(key, "warmup_ms") == 0)
			return set_uint(&w, &c->amp_warmup_ms, value, 0, 5000,
					"0 to 5000 ms");
		if (strcmp(key, "idle_off_s") == 0) {
			double d;

			r = parse_double(value, 0, 86400, &d);
			if (r == 0 && d > 0 && d < 1)
				r = -ERANGE;
			if (r < 0)
				return bad(&w, value,
					   r == -ERANGE ? "is out of range"
							: "is not a number",
					   "0 (never) or 1 to 86400 s");
			c->amp_idle_off_s = d;
			return 0;
		}
		err(ctx, line, "[amp] %.*s: unknown key; allowed: %s", SHOW,
		    key, AMP_KEYS);
		return -EINVAL;
	case KIT_NONE:
		break;
	}
	return -EINVAL;
}

/* "chip/line" as the user wrote it, to find one line used twice. */
static bool same_line(const struct config_gpio *a, const struct config_gpio *b)
{
	if (!a->line || !b->line || strcmp(a->line, b->line) != 0)
		return false;
	return (!a->chip && !b->chip) ||
	       (a->chip && b->chip && strcmp(a->chip, b->chip) == 0);
}

static bool is_number(const char *s)
{
	return *s && strspn(s, "0123456789") == strlen(s);
}

static void check_gpio(const struct config_gpio *g, const char *sec,
		       unsigned sec_at, kit_err_fn err, void *ctx)
{
	if (!g->line && g->line_given)
		return; /* its value was reported */
	if (!g->line)
		err(ctx, sec_at,
		    "%s: no line given; allowed: line = GPIO17 (the line's "
		    "name, as gpioinfo shows it), or chip = gpiochip0 with "
		    "line = 17",
		    sec);
	else if (!g->chip && is_number(g->line))
		err(ctx, g->at,
		    "%s line: '%s' is an offset but no chip is given; "
		    "allowed: a line name such as GPIO%s, or chip = "
		    "gpiochip0 with line = %s",
		    sec, g->line, g->line, g->line);
}

void kit_check(struct config *c, kit_err_fn err, void *ctx)
{
	/* Every configured line in one list, to find one used twice. */
	struct {
		const struct config_gpio *g;
		char sec[ACTION_NAME_MAX + 16];
	} all[CONFIG_MAX_BUTTONS + 2];
	size_t n = 0;

	for (size_t i = 0; i < c->nbuttons; i++) {
		struct config_button *b = &c->buttons[i];

		all[n].g = &b->gpio;
		snprintf(all[n++].sec, sizeof(all[0].sec), "[button %s]",
			 b->name);
		check_gpio(&b->gpio, all[n - 1].sec, b->at, err, ctx);
		if (!b->press && !b->press_given)
			err(ctx, b->at,
			    "%s: no press action; allowed: press = one of "
			    "%s",
			    all[n - 1].sec, ACTIONS);
	}
	if (c->led.at) {
		all[n].g = &c->led;
		snprintf(all[n++].sec, sizeof(all[0].sec), "[led]");
		check_gpio(&c->led, "[led]", c->led.at, err, ctx);
	}
	if (c->amp.at) {
		all[n].g = &c->amp;
		snprintf(all[n++].sec, sizeof(all[0].sec), "[amp]");
		check_gpio(&c->amp, "[amp]", c->amp.at, err, ctx);
	}
	for (size_t i = 1; i < n; i++)
		for (size_t j = 0; j < i; j++)
			if (same_line(all[i].g, all[j].g)) {
				err(ctx, all[i].g->at,
				    "%s line: '%s' is already used by %s at "
				    "line %u; allowed: a line of its own",
				    all[i].sec, all[i].g->line, all[j].sec,
				    all[j].g->at);
				break;
			}
	for (size_t i = 0; i < c->nremotes; i++) {
		struct config_remote *r = &c->remotes[i];

		if (!r->device)
			err(ctx, r->at,
			    "[remote %s]: no device given; allowed: device = "
			    "/dev/input/by-id/... or the device's name as "
			    "evtest shows it",
			    r->name);
		if (r->nkeys == 0)
			err(ctx, r->at,
			    "[remote %s]: no keys mapped; allowed: lines such "
			    "as KEY_PAGEDOWN = play rights",
			    r->name);
	}
}

static void gpio_free(struct config_gpio *g)
{
	free(g->chip);
	free(g->line);
}

void kit_free(struct config *c)
{
	for (size_t i = 0; i < c->nbuttons; i++) {
		gpio_free(&c->buttons[i].gpio);
		free(c->buttons[i].press);
		free(c->buttons[i].hold);
	}
	for (size_t i = 0; i < c->nremotes; i++) {
		free(c->remotes[i].device);
		for (size_t k = 0; k < c->remotes[i].nkeys; k++) {
			free(c->remotes[i].keys[k].press);
			free(c->remotes[i].keys[k].hold);
		}
	}
	gpio_free(&c->led);
	gpio_free(&c->amp);
}
