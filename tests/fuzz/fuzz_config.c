/* The config file (src/config.c, src/config_kit.c): the input is the
 * whole file, loaded by config_load() by path from a memfd (nothing is
 * written to disk). Properties:
 *   - 0 with a config and no errors, or a negative errno with no config
 *     and at least one error (-ENOMEM aside);
 *   - each error is one line "PATH:LINE: ... allowed: ..." with a LINE
 *     of the file (or "PATH: ..." about none);
 *   - a loaded config holds only what config.h promises: every number in
 *     its range, every action parses, paths absolute, the socket path
 *     fits sun_path, languages valid and unique. */
#include "fuzz.h"

#include <errno.h>

#include "action.h"
#include "config.h"
#include "util.h"

static int config_action_ok(const char *text)
{
	struct action a;

	return action_parse(text, &a, NULL, 0) == 0;
}

static int config_abs(const char *p)
{
	return p && p[0] == '/';
}

static void config_check_gpio(const struct config_gpio *g)
{
	if (!g->line)
		return;
	FUZZ_CHECK(g->line[0] && strlen(g->line) < ACTION_NAME_MAX);
	FUZZ_CHECK(!g->chip || strlen(g->chip) < ACTION_NAME_MAX);
	FUZZ_CHECK(g->bias == GPIO_BIAS_PULL_UP ||
		   g->bias == GPIO_BIAS_PULL_DOWN || g->bias == GPIO_BIAS_NONE);
}

static void config_check(const struct config *c)
{
	FUZZ_CHECK(c->device && c->record_device && c->rewind);
	FUZZ_CHECK(c->rate >= 8000 && c->rate <= 192000);
	FUZZ_CHECK(c->channels >= 1 && c->channels <= 8);
	FUZZ_CHECK(c->buffer_ms >= 10 && c->buffer_ms <= 500);
	FUZZ_CHECK(c->period_ms >= 2 && c->period_ms <= c->buffer_ms / 2);
	FUZZ_CHECK(strcmp(c->rewind, "auto") == 0 ||
		   strcmp(c->rewind, "yes") == 0 ||
		   strcmp(c->rewind, "no") == 0);

	FUZZ_CHECK(config_abs(c->library) && config_abs(c->cache) &&
		   config_abs(c->state) && config_abs(c->socket));
	FUZZ_CHECK(!c->recordings || config_abs(c->recordings));
	FUZZ_CHECK(strlen(c->socket) <= 107);

	FUZZ_CHECK(c->target_lufs >= -40 && c->target_lufs <= -5);
	FUZZ_CHECK(c->ceiling_dbtp >= -20 && c->ceiling_dbtp <= 0);
	FUZZ_CHECK(c->highpass_hz == 0 ||
		   (c->highpass_hz >= 20 && c->highpass_hz <= 1000));
	FUZZ_CHECK(c->trim_db >= -80 && c->trim_db <= 0);
	FUZZ_CHECK(c->trim_pad_ms >= 0 && c->trim_pad_ms <= 2000);

	FUZZ_CHECK(c->languages.n >= 1);
	for (size_t i = 0; i < c->languages.n; i++) {
		FUZZ_CHECK(action_valid_language(c->languages.v[i]));
		for (size_t j = 0; j < i; j++)
			FUZZ_CHECK(
			    strcmp(c->languages.v[i], c->languages.v[j]) != 0);
	}
	FUZZ_CHECK(c->gap_s >= 0 && c->gap_s <= 60);
	FUZZ_CHECK(c->loop_limit_s == 0 ||
		   (c->loop_limit_s >= 10 && c->loop_limit_s <= 86400));
	FUZZ_CHECK(c->max_volume >= 1 && c->max_volume <= 100);
	FUZZ_CHECK(c->volume <= c->max_volume);
	FUZZ_CHECK(c->record_max_s >= 1 && c->record_max_s <= 600);
	for (size_t i = 0; i < CONFIG_MAX_KEYS; i++)
		FUZZ_CHECK(!c->keys[i] || config_action_ok(c->keys[i]));

	FUZZ_CHECK(c->nbuttons <= CONFIG_MAX_BUTTONS);
	for (size_t i = 0; i < c->nbuttons; i++) {
		const struct config_button *b = &c->buttons[i];

		FUZZ_CHECK(action_valid_message(b->name));
		FUZZ_CHECK(b->gpio.line != NULL);
		config_check_gpio(&b->gpio);
		FUZZ_CHECK(b->press && config_action_ok(b->press));
		FUZZ_CHECK(!b->hold || config_action_ok(b->hold));
		FUZZ_CHECK(b->hold_ms >= 100 && b->hold_ms <= 60000);
		FUZZ_CHECK(b->debounce_ms <= 1000);
	}
	FUZZ_CHECK(c->nremotes <= CONFIG_MAX_REMOTES);
	for (size_t i = 0; i < c->nremotes; i++) {
		const struct config_remote *r = &c->remotes[i];

		FUZZ_CHECK(action_valid_message(r->name));
		FUZZ_CHECK(r->device != NULL);
		FUZZ_CHECK(r->nkeys >= 1 && r->nkeys <= CONFIG_MAX_REMOTE_KEYS);
		FUZZ_CHECK(r->hold_ms >= 100 && r->hold_ms <= 60000);
		FUZZ_CHECK(r->debounce_ms <= 1000);
		for (size_t k = 0; k < r->nkeys; k++) {
			const struct config_remote_key *rk = &r->keys[k];

			FUZZ_CHECK(rk->press || rk->hold);
			FUZZ_CHECK(!rk->press || config_action_ok(rk->press));
			FUZZ_CHECK(!rk->hold || config_action_ok(rk->hold));
			for (size_t j = 0; j < k; j++)
				FUZZ_CHECK(r->keys[j].code != rk->code);
		}
	}
	config_check_gpio(&c->led);
	config_check_gpio(&c->amp);
	FUZZ_CHECK(c->amp_warmup_ms <= 5000);
	FUZZ_CHECK(c->amp_idle_off_s == 0 ||
		   (c->amp_idle_off_s >= 1 && c->amp_idle_off_s <= 86400));
}

int fuzz_config_one(const uint8_t *data, size_t size)
{
	struct strv errors = {0};
	struct config *c = NULL;
	char path[64];
	size_t plen, lines = 0;
	unsigned long line;
	int fd, r;

	fd = fuzz_memfile(data, size, path, sizeof(path));
	FUZZ_CHECK(fd >= 0);
	plen = strlen(path);
	for (size_t i = 0; i < size; i++)
		lines += data[i] == '\n';
	lines += size && data[size - 1] != '\n';
	r = config_load(path, &c, &errors);
	if (r == 0) {
		FUZZ_CHECK(c != NULL);
		FUZZ_CHECK(errors.n == 0);
		FUZZ_CHECK(c->path && strcmp(c->path, path) == 0);
		config_check(c);
	} else {
		FUZZ_CHECK(r < 0);
		FUZZ_CHECK(c == NULL);
		FUZZ_CHECK(errors.n >= 1 || r == -ENOMEM);
	}
	for (size_t i = 0; i < errors.n; i++) {
		const char *e = errors.v[i];
		char *end;

		FUZZ_CHECK(strncmp(e, path, plen) == 0 && e[plen] == ':');
		FUZZ_CHECK(strchr(e, '\n') == NULL);
		FUZZ_CHECK(strstr(e, "allowed") != NULL);
		if (e[plen + 1] == ' ')
			continue; /* about no one line */
		errno = 0;
		line = strtoul(e + plen + 1, &end, 10);
		FUZZ_CHECK(errno == 0 && end > e + plen + 1 && *end == ':');
		FUZZ_CHECK(line >= 1 && line <= lines);
	}
	config_free(c);
	strv_clear(&errors);
	close(fd);
	return 0;
}

#ifndef FUZZ_NO_ENTRY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_config_one(data, size);
}
#endif
