#include "check.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "importer.h"
#include "library.h"
#include "util.h"

/* Thresholds of the warnings, chosen for speech recorded on phones. */
#define QUIET_LUFS     -45.0 /* needs over ~30 dB of gain: noise comes up */
#define CLIPPED_PCT    0.1   /* audibly distorted */
#define NOISY_FLOOR_DB -20.0 /* noise within 20 dB of the speech */
#define LONG_S	       30.0  /* far over the ~20 s a message should take */

static void add(char *buf, size_t len, int *n, const char *text)
{
	size_t used = strlen(buf);

	snprintf(buf + used, len - used, "%s%s", *n ? "; " : "", text);
	(*n)++;
}

int check_warnings(const struct clip *c, const struct config *cfg, char *buf,
		   size_t len)
{
	const struct clip_stats *s = &c->stats;
	char t[160];
	int n = 0;

	buf[0] = '\0';
	if (s->source_lufs < QUIET_LUFS) {
		snprintf(t, sizeof(t),
			 "too quiet (%.0f LUFS): record closer to the "
			 "microphone",
			 s->source_lufs);
		add(buf, len, &n, t);
	}
	if (s->clipped_pct > CLIPPED_PCT) {
		snprintf(t, sizeof(t),
			 "clipped (%.1f%% of the samples): record further from "
			 "the microphone or speak softer",
			 s->clipped_pct);
		add(buf, len, &n, t);
	}
	/* The noise and length warnings are about speech; the shared sounds
	 * (the chime) are tones. */
	if (strcmp(c->language, LIBRARY_SHARED) != 0 &&
	    s->noise_floor_db != 0 && s->noise_floor_db > NOISY_FLOOR_DB) {
		snprintf(t, sizeof(t),
			 "very noisy (background only %.0f dB under the "
			 "voice): record in a quiet room",
			 -s->noise_floor_db);
		add(buf, len, &n, t);
	}
	if (s->duration_s > LONG_S) {
		snprintf(t, sizeof(t),
			 "far too long (%.0f s): keep a message under 20 s",
			 s->duration_s);
		add(buf, len, &n, t);
	}
	if (s->peak_limited) {
		snprintf(
		    t, sizeof(t),
		    "%.1f LU under the target: its peaks are very high for "
		    "its loudness",
		    cfg->target_lufs - s->lufs);
		add(buf, len, &n, t);
	}
	if (s->too_short)
		add(buf, len, &n, "very short (under 0.4 s)");
	return n;
}

void check_print_row(FILE *f, const struct clip *c, const struct config *cfg)
{
	char warn[640];

	if (!c) {
		fprintf(f, "%-9s %-10s %-13s %5s %6s %7s %7s %7s %6s %6s  %s\n",
			"language", "message", "source", "kHz", "length",
			"LUFS in", "out", "peak", "gain", "limit", "notes");
		return;
	}
	check_warnings(c, cfg, warn, sizeof(warn));
	fprintf(f,
		"%-9s %-10s %-13.13s %5.1f %5.1fs %7.1f %7.1f %7.1f %+6.1f "
		"%6.1f  %s%s%s\n",
		c->language, c->message, c->stats.source_format,
		c->stats.source_rate / 1000.0, c->stats.duration_s,
		c->stats.source_lufs, c->stats.lufs, c->stats.true_peak_dbtp,
		c->stats.gain_db, c->stats.limiter_db,
		c->placeholder ? "placeholder" : "",
		c->placeholder && warn[0] ? "; " : "", warn);
}

static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			fprintf(f, "\\%c", ch);
		else if (ch < 0x20)
			fprintf(f, "\\u%04x", ch);
		else
			fputc(ch, f);
	}
	fputc('"', f);
}

static void json_num(FILE *f, const char *key, double v)
{
	fprintf(f, "\"%s\": ", key);
	if (isfinite(v))
		fprintf(f, "%.2f, ", v);
	else
		fprintf(f, "null, ");
}

struct ctx {
	const struct config *cfg;
	FILE *out;
	bool json;
	size_t rows;
	size_t warned;
	size_t placeholders;
};

static void row(const struct clip *c, void *data)
{
	struct ctx *x = data;
	char warn[640];
	int n = check_warnings(c, x->cfg, warn, sizeof(warn));

	x->warned += n > 0;
	x->placeholders += c->placeholder;
	if (!x->json) {
		check_print_row(x->out, c, x->cfg);
		return;
	}
	fprintf(x->out, "%s\n    {\"language\": ", x->rows++ ? "," : "");
	json_str(x->out, c->language);
	fprintf(x->out, ", \"message\": ");
	json_str(x->out, c->message);
	fprintf(x->out, ", \"source\": ");
	json_str(x->out, c->source ? c->source : "");
	fprintf(x->out, ", \"format\": ");
	json_str(x->out, c->stats.source_format);
	fprintf(x->out, ", \"placeholder\": %s, \"source_rate\": %u, ",
		c->placeholder ? "true" : "false", c->stats.source_rate);
	json_num(x->out, "duration_s", c->stats.duration_s);
	json_num(x->out, "lufs_in", c->stats.source_lufs);
	json_num(x->out, "lufs_out", c->stats.lufs);
	json_num(x->out, "true_peak_dbtp", c->stats.true_peak_dbtp);
	json_num(x->out, "gain_db", c->stats.gain_db);
	json_num(x->out, "limiter_db", c->stats.limiter_db);
	json_num(x->out, "noise_floor_db", c->stats.noise_floor_db);
	fprintf(x->out, "\"warnings\": ");
	json_str(x->out, warn);
	fprintf(x->out, "}");
}

/* Messages some configured language has and another lacks. */
static void missing(const struct library *lib, const struct config *cfg,
		    struct strv *warnings)
{
	const struct strv *langs = &cfg->languages;
	struct strv seen = {0};

	/* Every message any configured language has, checked in each. */
	for (size_t j = 0; j < langs->n; j++)
		library_messages(lib, langs->v[j], &seen);
	for (size_t i = 0; i < langs->n; i++)
		for (size_t k = 0; k < seen.n; k++)
			if (!library_find(lib, langs->v[i], seen.v[k]))
				strv_pushf(warnings,
					   "%s: missing in '%s' (a press "
					   "there plays another language)",
					   seen.v[k], langs->v[i]);
	strv_clear(&seen);
}

/* What imports cut off by a power cut or a kill left in the library
 * volunteers import into: never played, finished by the next import. */
static void cut_off_imports(const struct config *cfg, struct strv *warnings)
{
	const char *root = cfg->recordings ? cfg->recordings : cfg->library;
	struct strv l = {0};

	import_leftovers(root, &l);
	for (size_t i = 0; i < l.n; i++)
		strv_pushf(warnings,
			   "%s/%s: left by an import that was cut off (a "
			   "power cut or a kill); the next `bullhorn import` "
			   "%s",
			   root, l.v[i],
			   strstr(l.v[i], ".tmp.")
			       ? "removes it"
			       : "puts this recording in place (it is whole)");
	strv_clear(&l);
}

static void print_list(FILE *f, bool json, const char *key, const char *title,
		       const struct strv *l)
{
	if (json) {
		fprintf(f, "  \"%s\": [", key);
		for (size_t i = 0; i < l->n; i++) {
			fprintf(f, "%s", i ? ", " : "");
			json_str(f, l->v[i]);
		}
		fprintf(f, "],\n");
		return;
	}
	if (!l->n)
		return;
	fprintf(f, "\n%s:\n", title);
	for (size_t i = 0; i < l->n; i++)
		fprintf(f, "  %s\n", l->v[i]);
}

int check_run(const char *config_path, bool json, bool strict, FILE *out)
{
	struct strv errors = {0}, warnings = {0};
	struct process_settings s;
	struct library *lib = NULL;
	struct config *cfg = NULL;
	struct ctx x = {.out = out, .json = json};
	int code;

	if (config_load(config_path, &cfg, &errors) == 0) {
		s = config_processing(cfg);
		/* The daemon's cache speeds this up when it is readable;
		 * nothing is written there. */
		struct library_opts o = {
		    .root = cfg->library,
		    .overlay = cfg->recordings,
		    .cache_dir = cfg->cache,
		    .flags = LIBRARY_CACHE_READONLY,
		};

		lib = library_open(&o, &s, &errors);
	}
	if (json)
		fprintf(out, "{\n  \"config\": ");
	if (json)
		json_str(out, config_path);
	else if (cfg)
		fprintf(out, "config %s: ok\n\n", cfg->path);
	if (json)
		fprintf(out, ",\n  \"recordings\": [");
	if (lib) {
		x.cfg = cfg;
		if (!json)
			check_print_row(out, NULL, cfg);
		library_foreach(lib, row, &x);
		missing(lib, cfg, &warnings);
		cut_off_imports(cfg, &warnings);
		for (size_t i = 0; i < cfg->languages.n; i++)
			if (!strv_contains(library_languages(lib),
					   cfg->languages.v[i]))
				strv_pushf(
				    &warnings,
				    "language '%s' is in [playback] "
				    "languages but has no recordings in %s",
				    cfg->languages.v[i], cfg->library);
	}
	if (json)
		fprintf(out, "\n  ],\n");
	else if (x.placeholders)
		fprintf(out,
			"\n%zu placeholder%s (synthesized, named "
			"<message>.placeholder.<ext>): human recordings "
			"replace them\n",
			x.placeholders, x.placeholders == 1 ? "" : "s");
	if (lib)
		print_list(out, json, "needs_recording",
			   "needs a recording (the script is there; presses "
			   "fall back to another language)",
			   library_unrecorded(lib));
	print_list(out, json, "warnings", "warnings", &warnings);
	print_list(out, json, "errors", "errors", &errors);
	code = errors.n || (strict && (warnings.n || x.warned)) ? 1 : 0;
	if (json)
		fprintf(out, "  \"ok\": %s\n}\n", code ? "false" : "true");
	else
		fprintf(out, "\n%s\n",
			errors.n ? "errors: fix them and check again"
			: code	 ? "warnings (and --strict): not passed"
			: warnings.n || x.warned ? "usable, with warnings"
						 : "no problems");
	strv_clear(&errors);
	strv_clear(&warnings);
	library_free(lib);
	config_free(cfg);
	return code;
}
