/* inih on its own reports the line of the first syntax error and no reason,
 * so this module feeds inih through its own line reader: the reader counts
 * lines and catches the lines inih would only count (broken headers, no
 * '='), and the handler checks every key against one table. Nothing stops
 * at the first mistake: a technician at a kit should fix the whole file in
 * one go. */
#include "config.h"
#include "config_kit.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/un.h>
#include <unistd.h>

/* sun_path must also hold the terminating NUL. */
#define SOCKET_MAX (sizeof(((struct sockaddr_un *)0)->sun_path) - 1)
#define SHOW	   64 /* bytes of a bad value quoted back */
#define SECTIONS                                                               \
	"[audio], [paths], [loudness], [playback], [record], "                 \
	"[keys], " KIT_SECTIONS
#define ACTIONS                                                                \
	"play MESSAGE [LANGUAGE|all], loop MESSAGE [LANGUAGE|all], stop, "     \
	"next-language, volume +N|-N|N"
#define SYNTAX "'key = value', a [section] or a comment starting with ; or #"

enum section {
	SEC_AUDIO,
	SEC_PATHS,
	SEC_LOUDNESS,
	SEC_PLAYBACK,
	SEC_RECORD,
	SEC_KEYS
};
static const char *const sections[] = {"audio",	   "paths",  "loudness",
				       "playback", "record", "keys"};

enum kind { K_STR, K_UINT, K_DOUBLE, K_BOOL, K_LANGS, K_ACTION };

struct key {
	enum section sec;
	const char *name;
	enum kind kind;
	size_t off;
	double min, max, def; /* def: numbers */
	const char *text;     /* def: strings, paths (relative), languages */
	const char *allowed;  /* the "allowed: ..." half of every error */
};

/* One row per key: the whole of what the file may say. */
/* clang-format off */
#define AT(f)    offsetof(struct config, f)
#define KEY(n)   {SEC_KEYS, #n, K_ACTION, AT(keys[n]), 0, 0, 0, NULL, ACTIONS}
#define PATH_TXT "a folder, absolute or relative to the folder of this file"
static const struct key keytab[] = {
	{SEC_AUDIO, "device", K_STR, AT(device), 0, 0, 0, "default",
	 "an ALSA PCM name such as default or hw:1,0"},
	{SEC_AUDIO, "rate", K_UINT, AT(rate), 8000, 192000, 48000, NULL,
	 "8000 to 192000 Hz"},
	{SEC_AUDIO, "channels", K_UINT, AT(channels), 1, 8, 2, NULL, "1 to 8"},
	{SEC_AUDIO, "buffer_ms", K_UINT, AT(buffer_ms), 10, 500, 40, NULL,
	 "10 to 500 ms"},
	/* Bounds and default follow buffer_ms: see check_after(). */
	{SEC_AUDIO, "period_ms", K_UINT, AT(period_ms), 0, 1e6, 10, NULL,
	 "2 ms to half of buffer_ms"},
	{SEC_AUDIO, "rewind", K_STR, AT(rewind), 0, 0, 0, "auto",
	 "auto, yes or no"},
	{SEC_PATHS, "library", K_STR, AT(library), 0, 0, 0, "../audio",
	 PATH_TXT},
	/* No default: without it, imports go into library itself. */
	{SEC_PATHS, "recordings", K_STR, AT(recordings), 0, 0, 0, NULL,
	 PATH_TXT},
	{SEC_PATHS, "cache", K_STR, AT(cache), 0, 0, 0, "../build/run/cache",
	 PATH_TXT},
	{SEC_PATHS, "state", K_STR, AT(state), 0, 0, 0, "../build/run/state",
	 PATH_TXT},
	{SEC_PATHS, "socket", K_STR, AT(socket), 0, 0, 0,
	 "../build/run/bullhorn.sock", "a file path, absolute or relative to "
	 "the folder of this file, at most 107 bytes once resolved"},
	{SEC_LOUDNESS, "target_lufs", K_DOUBLE, AT(target_lufs), -40, -5, -16,
	 NULL, "-40 to -5 LUFS"},
	{SEC_LOUDNESS, "ceiling_dbtp", K_DOUBLE, AT(ceiling_dbtp), -20, 0, -1,
	 NULL, "-20 to 0 dBTP"},
	/* 0 means off; set_value() rejects what lies between 0 and 20. */
	{SEC_LOUDNESS, "highpass_hz", K_DOUBLE, AT(highpass_hz), 0, 1000, 150,
	 NULL, "0 (off) or 20 to 1000 Hz"},
	{SEC_LOUDNESS, "trim_db", K_DOUBLE, AT(trim_db), -80, 0, -40, NULL,
	 "-80 to 0 dB (0: no trimming)"},
	{SEC_LOUDNESS, "trim_pad_ms", K_DOUBLE, AT(trim_pad_ms), 0, 2000, 150,
	 NULL, "0 to 2000 ms"},
	{SEC_PLAYBACK, "languages", K_LANGS, AT(languages), 0, 0, 0, "en",
	 "language tags such as en, es or zh-cmn, each once, separated by "
	 "commas or blanks"},
	{SEC_PLAYBACK, "gap_s", K_DOUBLE, AT(gap_s), 0, 60, 1.5, NULL,
	 "0 to 60 s"},
	/* 0 means no limit; set_value() rejects what lies between 0 and 10. */
	{SEC_PLAYBACK, "loop_limit_s", K_DOUBLE, AT(loop_limit_s), 0, 86400,
	 600, NULL, "0 (no limit) or 10 to 86400 s"},
	{SEC_PLAYBACK, "chime", K_BOOL, AT(chime), 0, 1, 0, NULL,
	 "yes or no"},
	{SEC_PLAYBACK, "speak_language", K_BOOL, AT(speak_language), 0, 1, 0,
	 NULL, "yes or no"},
	{SEC_PLAYBACK, "volume", K_UINT, AT(volume), 0, 100, 80, NULL,
	 "0 to 100"},
	{SEC_PLAYBACK, "max_volume", K_UINT, AT(max_volume), 1, 100, 100,
	 NULL, "1 to 100"},
	{SEC_RECORD, "device", K_STR, AT(record_device), 0, 0, 0, "default",
	 "an ALSA capture PCM name such as default or plughw:1,0"},
	{SEC_RECORD, "max_s", K_DOUBLE, AT(record_max_s), 1, 600, 60, NULL,
	 "1 to 600 s"},
	KEY(0), KEY(1), KEY(2), KEY(3), KEY(4), KEY(5), KEY(6), KEY(7),
	KEY(8), KEY(9),
};
/* clang-format on */
#define NKEYS		  ARRAY_SIZE(keytab)
#define FIELD(c, k, type) ((type *)(void *)((char *)(c) + keytab[k].off))

struct seen {
	unsigned line; /* 0 = not set */
	bool bad;
};

struct loader {
	struct config *c;
	const char *path;
	struct strv *errors;
	FILE *f;
	char *line; /* getline's buffer */
	size_t cap;
	unsigned lineno;
	bool skip; /* under a broken [header, whose keys would be misfiled */
	enum kit_kind kit; /* under a kit section (config_kit.c) */
	struct {
		char key[ACTION_NAME_MAX];
		unsigned line;
	} kit_seen[24]; /* the kit section's keys so far, to catch repeats */
	size_t nkit_seen;
	struct seen seen[NKEYS];
	size_t nerr;
	int r; /* out of memory or a read error: the result is not whole */
};

static void __attribute__((format(printf, 3, 0)))
verrf(struct loader *st, unsigned line, const char *fmt, va_list ap)
{
	char *msg;
	int r;

	r = vasprintf(&msg, fmt, ap);
	if (r < 0) {
		st->r = -ENOMEM;
		return;
	}
	if (line)
		r = strv_pushf(st->errors, "%s:%u: %s", st->path, line, msg);
	else
		r = strv_pushf(st->errors, "%s: %s", st->path, msg);
	free(msg);
	if (r < 0)
		st->r = r;
	st->nerr++;
}

static void __attribute__((format(printf, 3, 4)))
errf(struct loader *st, unsigned line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verrf(st, line, fmt, ap);
	va_end(ap);
}

/* errf for config_kit.c, which sees the loader as a void pointer. */
static void __attribute__((format(printf, 3, 4)))
kit_errf(void *ctx, unsigned line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verrf(ctx, line, fmt, ap);
	va_end(ap);
}

/* A [button NAME], [remote NAME], [led] or [amp] header. Returns false
 * when the section's keys must be skipped. */
static bool begin_kit(struct loader *st, const char *section)
{
	const char *name;
	int r;

	st->kit = kit_header(section, &name);
	st->nkit_seen = 0;
	if (st->kit == KIT_NONE)
		return true;
	r = kit_begin(st->c, st->kit, name, st->lineno, kit_errf, st);
	if (r == -ENOMEM)
		st->r = r;
	return r == 0;
}

static void err_unreadable(struct strv *errors, const char *path, int e)
{
	(void)strv_pushf(errors,
			 "%s: cannot read the config file: %s; check the path "
			 "given with --config and that bullhornd may read it",
			 path, strerror(e));
}

static int section_find(const char *name)
{
	for (size_t s = 0; s < ARRAY_SIZE(sections); s++)
		if (strcmp(name, sections[s]) == 0)
			return (int)s;
	return -1;
}

/* sec < 0 looks in every section: key names are unique across them. */
static int key_find(int sec, const char *name)
{
	for (size_t k = 0; k < NKEYS; k++)
		if ((sec < 0 || keytab[k].sec == (enum section)sec) &&
		    strcmp(name, keytab[k].name) == 0)
			return (int)k;
	return -1;
}

/* " (did you mean OPEN name CLOSE?)" for the nearest of names, or "". */
static const char *suggest(char *buf, size_t len, const char *word,
			   const char *const *names, size_t n, const char *open,
			   const char *close)
{
	size_t best = SIZE_MAX, i_best = 0;

	for (size_t i = 0; i < n; i++) {
		size_t d = edit_distance(word, names[i]);

		if (d < best) {
			best = d;
			i_best = i;
		}
	}
	/* A one-letter name is one edit from every other: no hint then. */
	if (best > 3 || best >= strlen(word))
		return "";
	snprintf(buf, len, " (did you mean %s%s%s?)", open, names[i_best],
		 close);
	return buf;
}

/* The first of chars in s, stopping as inih does at an inline comment
 * (';' after a blank); NULL if there is none. */
static char *find_char(char *s, const char *chars)
{
	for (bool blank = false; *s && !(blank && *s == ';'); s++) {
		if (strchr(chars, *s))
			return s;
		blank = isspace((unsigned char)*s);
	}
	return NULL;
}

/* inih's fgets. Called once per physical line, so lineno is the line of
 * whatever the handler is called with next. A line whose mistake is
 * reported here reaches inih blank, so inih never counts it again. */
static char *read_line(char *str, int num, void *stream)
{
	struct loader *st = stream;
	char *s, *end, hint[SHOW + 32];
	bool kit_bad = false;
	size_t len;
	ssize_t n;

	errno = 0;
	n = getline(&st->line, &st->cap, st->f);
	if (n < 0) {
		if (ferror(st->f)) {
			st->r = errno ? -errno : -EIO;
			err_unreadable(st->errors, st->path, -st->r);
		}
		return NULL;
	}
	s = st->line;
	if (++st->lineno == 1 && strncmp(s, "\xef\xbb\xbf", 3) == 0)
		s += 3;
	/* inih reads an indented line after a key as more of that key's
	 * value; in this file indentation is only ever layout. */
	s += strspn(s, " \t");
	len = (size_t)n - (size_t)(s - st->line);
	while (len > 0 && isspace((unsigned char)s[len - 1]))
		s[--len] = '\0';
	end = *s == '[' ? find_char(s, "]") : NULL;
	if (len + 2 > (size_t)num) {
		errf(st, st->lineno,
		     "line is over %d characters; allowed: at most %d", num - 2,
		     num - 2);
		end = NULL;
	} else if (*s == '[' && !end) {
		errf(st, st->lineno, "%.*s: no closing ']'; allowed: %s", SHOW,
		     s, SECTIONS);
	} else if (end) {
		*end = '\0';
		if (!begin_kit(st, s + 1))
			kit_bad = true;
		else if (st->kit == KIT_NONE && section_find(s + 1) < 0)
			errf(st, st->lineno,
			     "[%.*s]: unknown section%s; allowed: %s", SHOW,
			     s + 1,
			     suggest(hint, sizeof(hint), s + 1, sections,
				     ARRAY_SIZE(sections), "[", "]"),
			     SECTIONS);
		*end = ']';
	} else if (*s && !strchr(";#", *s) &&
		   (strchr("=:", *s) || !find_char(s, "=:"))) {
		errf(st, st->lineno, "'%.*s' is not a setting; allowed: %s",
		     SHOW, s, SYNTAX);
	} else {
		end = s; /* fine as it is */
	}
	/* Keys under a header that did not parse would land in the section
	 * before it; they are skipped until the next good header. */
	if (*s == '[')
		st->skip = !end || kit_bad;
	len = end ? len : 0;
	memcpy(str, s, len);
	memcpy(str + len, "\n", 2);
	return str;
}

static void err_unknown_key(struct loader *st, int sec, const char *name)
{
	const char *names[NKEYS];
	char allowed[160] = "", hint[SHOW + 32];
	int home = key_find(-1, name);
	size_t n = 0, used = 0;

	if (sec < 0) {
		errf(st, st->lineno,
		     "%.*s: key outside any section; allowed: under %s%s%s",
		     SHOW, name, home < 0 ? SECTIONS : "[",
		     home < 0 ? "" : sections[keytab[home].sec],
		     home < 0 ? "" : "]");
		return;
	}
	for (size_t k = 0; k < NKEYS; k++) {
		if (keytab[k].sec != (enum section)sec)
			continue;
		names[n++] = keytab[k].name;
		if (used < sizeof(allowed))
			used += (size_t)snprintf(
			    allowed + used, sizeof(allowed) - used, "%s%s",
			    used ? ", " : "", keytab[k].name);
	}
	if (home >= 0)
		errf(st, st->lineno,
		     "[%s] %s: this key belongs in [%s]; allowed here: %s",
		     sections[sec], name, sections[keytab[home].sec], allowed);
	else
		errf(st, st->lineno, "[%s] %.*s: unknown key%s; allowed: %s",
		     sections[sec], SHOW, name,
		     sec == SEC_KEYS ? ""
				     : suggest(hint, sizeof(hint), name, names,
					       n, "'", "'"),
		     allowed);
}

static bool set_languages(struct loader *st, const struct key *k,
			  const char *value)
{
	struct strv l = {0};
	int r = strv_split(&l, value);
	bool ok = r == 0 && l.n > 0, bad = false;

	if (r == -ENOMEM)
		st->r = r;
	else if (!ok)
		errf(st, st->lineno, "[playback] languages: %s; allowed: %s",
		     r < 0 ? "a tag is too long" : "no language given",
		     k->allowed);
	for (size_t i = 0; ok && i < l.n; i++) {
		const char *why = NULL;

		for (size_t j = 0; j < i; j++)
			if (strcmp(l.v[i], l.v[j]) == 0)
				why = "is listed twice";
		if (!action_valid_language(l.v[i]))
			why = "is not a language tag";
		if (why)
			errf(st, st->lineno,
			     "[playback] languages: '%.*s' %s; allowed: %s",
			     SHOW, l.v[i], why, k->allowed);
		bad = bad || why;
	}
	ok = ok && !bad;
	if (ok) {
		strv_clear(&st->c->languages);
		st->c->languages = l;
	} else {
		strv_clear(&l);
	}
	return ok;
}

/* Returns false when the value is wrong; the mistake is reported. */
static bool set_value(struct loader *st, const struct key *k, const char *value)
{
	void *field = (char *)st->c + k->off;
	const char *what = "not a number";
	char *copy, err[160];
	struct action a;
	double d;
	long l;
	int r;

	if (k->kind == K_LANGS)
		return set_languages(st, k, value);
	if (k->kind == K_ACTION &&
	    action_parse(value, &a, err, sizeof(err)) < 0) {
		errf(st, st->lineno, "[keys] %s: %s; allowed: %s", k->name, err,
		     k->allowed);
		return false;
	}
	if (k->off == AT(rewind) && strcmp(value, "auto") &&
	    strcmp(value, "yes") && strcmp(value, "no")) {
		errf(st, st->lineno,
		     "[audio] rewind: '%.*s' is not allowed; "
		     "allowed: %s",
		     SHOW, value, k->allowed);
		return false;
	}
	if (k->kind == K_STR || k->kind == K_ACTION) {
		if (!(copy = strdup(value))) {
			st->r = -ENOMEM;
			return false;
		}
		free(*(char **)field);
		*(char **)field = copy;
		return true;
	}
	if (k->kind == K_BOOL) {
		static const char *const yes[] = {"yes", "true", "on", "1"};
		static const char *const no[] = {"no", "false", "off", "0"};

		for (size_t i = 0; i < ARRAY_SIZE(yes); i++) {
			if (strcasecmp(value, yes[i]) == 0) {
				*(bool *)field = true;
				return true;
			}
			if (strcasecmp(value, no[i]) == 0) {
				*(bool *)field = false;
				return true;
			}
		}
		errf(st, st->lineno,
		     "[%s] %s: '%.*s' is not yes or no; allowed: %s",
		     sections[k->sec], k->name, SHOW, value, k->allowed);
		return false;
	}
	if (k->kind == K_UINT) {
		what = "not a whole number";
		r = parse_long(value, (long)k->min, (long)k->max, &l);
		if (r == 0)
			*(unsigned *)field = (unsigned)l;
	} else {
		r = parse_double(value, k->min, k->max, &d);
		if (r == 0 && k->off == AT(loop_limit_s) && d > 0 && d < 10)
			r = -ERANGE;
		if (r == 0 && k->off == AT(highpass_hz) && d > 0 && d < 20)
			r = -ERANGE;
		if (r == 0)
			*(double *)field = d;
	}
	if (r < 0)
		errf(st, st->lineno, "[%s] %s: '%.*s' is %s; allowed: %s",
		     sections[k->sec], k->name, SHOW, value,
		     r == -ERANGE ? "out of range" : what, k->allowed);
	return r == 0;
}

static int handle_kit(struct loader *st, const char *name, const char *value)
{
	int r;

	for (size_t i = 0; i < st->nkit_seen; i++)
		if (strcmp(st->kit_seen[i].key, name) == 0) {
			errf(st, st->lineno,
			     "%.*s: set twice in this section, first at line "
			     "%u; allowed: once",
			     SHOW, name, st->kit_seen[i].line);
			return 1;
		}
	if (st->nkit_seen < ARRAY_SIZE(st->kit_seen) &&
	    strlen(name) < sizeof(st->kit_seen[0].key)) {
		snprintf(st->kit_seen[st->nkit_seen].key,
			 sizeof(st->kit_seen[0].key), "%s", name);
		st->kit_seen[st->nkit_seen++].line = st->lineno;
	}
	r = kit_set(st->c, st->kit, name, value, st->lineno, kit_errf, st);
	if (r == -ENOMEM)
		st->r = r;
	return 1;
}

static int handle(void *user, const char *section, const char *name,
		  const char *value)
{
	struct loader *st = user;
	int sec = section_find(section), i;

	/* Keys under an unknown or broken header: the header was reported. */
	if (st->skip)
		return 1;
	if (st->kit != KIT_NONE)
		return handle_kit(st, name, value);
	if (sec < 0 && *section)
		return 1;
	i = sec < 0 ? -1 : key_find(sec, name);
	if (i < 0) {
		err_unknown_key(st, sec, name);
		return 1;
	}
	if (st->seen[i].line) {
		errf(st, st->lineno,
		     "[%s] %s: set twice, first at line %u; allowed: once",
		     section, name, st->seen[i].line);
		return 1;
	}
	st->seen[i].line = st->lineno;
	st->seen[i].bad = !*value || !set_value(st, &keytab[i], value);
	if (!*value)
		errf(st, st->lineno, "[%s] %s: empty value; allowed: %s",
		     section, name, keytab[i].allowed);
	return 1;
}

/* The config's folder made absolute, so that a later chdir cannot move
 * what the paths point at. */
static char *base_dir(const char *dir)
{
	char *cwd, *out;

	if (dir && dir[0] == '/')
		return strdup(dir);
	cwd = getcwd(NULL, 0);
	if (!cwd || !dir || !*dir || strcmp(dir, ".") == 0)
		return cwd;
	out = path_resolve(cwd, dir);
	free(cwd);
	return out;
}

static int resolve_paths(struct config *c, const char *dir)
{
	char *base;
	int r = 0;

	errno = 0;
	base = base_dir(dir);
	if (!base)
		return errno ? -errno : -ENOMEM;
	for (size_t k = 0; k < NKEYS && r == 0; k++) {
		char **field = FIELD(c, k, char *), *p;

		if (keytab[k].sec != SEC_PATHS || !*field)
			continue;
		if (!(p = path_resolve(base, *field)))
			r = -ENOMEM;
		free(*field);
		*field = p;
	}
	free(base);
	return r;
}

static const struct seen *seen(const struct loader *st, const char *name)
{
	return &st->seen[key_find(-1, name)];
}

static int check_after(struct loader *st, const char *dir)
{
	struct config *c = st->c;
	const struct seen *period = seen(st, "period_ms");
	const struct seen *buffer = seen(st, "buffer_ms");
	const struct seen *vol = seen(st, "volume");
	const struct seen *max = seen(st, "max_volume");
	int r;

	if (!period->line)
		c->period_ms = c->buffer_ms / 4;
	else if (!period->bad && !buffer->bad &&
		 (c->period_ms < 2 || c->period_ms > c->buffer_ms / 2))
		errf(st, period->line,
		     "[audio] period_ms: '%u' is out of range; allowed: 2 to "
		     "%u ms (half of buffer_ms %u)",
		     c->period_ms, c->buffer_ms / 2, c->buffer_ms);

	if (!vol->bad && !max->bad && c->volume > c->max_volume) {
		if (vol->line)
			errf(st, vol->line,
			     "[playback] volume: '%u' is above max_volume %u; "
			     "allowed: 0 to max_volume",
			     c->volume, c->max_volume);
		else
			errf(st, max->line,
			     "[playback] max_volume: '%u' is below the default "
			     "volume %u; allowed: %u to 100, or set volume to "
			     "at most max_volume",
			     c->max_volume, c->volume, c->volume);
	}

	kit_check(c, kit_errf, st);
	r = resolve_paths(c, dir);
	/* An unset socket has no line to point at; errf then names none. */
	if (r == 0 && strlen(c->socket) > SOCKET_MAX)
		errf(st, seen(st, "socket")->line,
		     "[paths] socket: '%s' is %zu bytes once resolved; "
		     "allowed: %s",
		     c->socket, strlen(c->socket),
		     keytab[key_find(-1, "socket")].allowed);
	return r;
}

static struct config *config_alloc(void)
{
	struct config *c = calloc(1, sizeof(*c));
	int r = c ? 0 : -ENOMEM;

	if (c)
		kit_defaults(c);
	for (size_t k = 0; k < NKEYS && r == 0; k++) {
		if (keytab[k].kind == K_UINT)
			*FIELD(c, k, unsigned) = (unsigned)keytab[k].def;
		else if (keytab[k].kind == K_DOUBLE)
			*FIELD(c, k, double) = keytab[k].def;
		else if (keytab[k].kind == K_BOOL)
			*FIELD(c, k, bool) = keytab[k].def != 0;
		else if (keytab[k].kind == K_LANGS)
			r = strv_split(&c->languages, keytab[k].text);
		else if (keytab[k].text &&
			 !(*FIELD(c, k, char *) = strdup(keytab[k].text)))
			r = -ENOMEM;
	}
	if (r < 0) {
		config_free(c);
		return NULL;
	}
	return c;
}

struct process_settings config_processing(const struct config *c)
{
	return (struct process_settings){
	    .rate = c->rate,
	    .target_lufs = c->target_lufs,
	    .ceiling_dbtp = c->ceiling_dbtp,
	    .fade_ms = 5.0,
	    .highpass_hz = c->highpass_hz,
	    .trim_db = c->trim_db,
	    .trim_pad_ms = c->trim_pad_ms,
	};
}

struct config *config_new_default(const char *dir)
{
	struct config *c = config_alloc();

	if (c && resolve_paths(c, dir) < 0) {
		config_free(c);
		return NULL;
	}
	return c;
}

int config_load(const char *path, struct config **out, struct strv *errors)
{
	struct loader st = {.path = path, .errors = errors};
	char *dir = NULL;
	int r;

	assert(path && out && errors);
	*out = NULL;
	st.f = fopen(path, "re");
	if (!st.f) {
		r = -errno;
		err_unreadable(errors, path, -r);
		return r;
	}
	st.c = config_alloc();
	if (!st.c || !(st.c->path = strdup(path))) {
		r = -ENOMEM;
		goto out;
	}
	r = ini_parse_stream(read_line, &st, handle, &st);
	if (st.r < 0 || r < 0) {
		r = st.r < 0 ? st.r : -ENOMEM;
		goto out;
	}
	/* read_line hands inih only lines it has checked; this catches a
	 * syntax it did not foresee. */
	if (r > 0)
		errf(&st, (unsigned)r, "cannot read this line; allowed: %s",
		     SYNTAX);
	dir = path_dirname(path);
	r = dir ? check_after(&st, dir) : -ENOMEM;
	if (r == 0)
		r = st.r < 0 ? st.r : st.nerr ? -EINVAL : 0;
	if (r == 0) {
		*out = st.c;
		st.c = NULL;
	}
out:
	free(dir);
	free(st.line);
	fclose(st.f);
	config_free(st.c);
	return r;
}

void config_free(struct config *c)
{
	if (!c)
		return;
	for (size_t k = 0; k < NKEYS; k++)
		if (keytab[k].kind == K_STR || keytab[k].kind == K_ACTION)
			free(*FIELD(c, k, char *));
	kit_free(c);
	strv_clear(&c->languages);
	free(c->path);
	free(c);
}
