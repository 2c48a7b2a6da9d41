#include "library.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "action.h"
#include "cache.h"

struct library {
	struct clip **clips; /* sorted by language, then message */
	size_t n;
	size_t cap;
	struct strv languages;
	struct strv unrecorded;
	struct library_stats stats;
	bool cache_ro; /* use sound entries, write none, prune none */
};

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int cmp_clip(const void *a, const void *b)
{
	const struct clip *x = *(struct clip *const *)a;
	const struct clip *y = *(struct clip *const *)b;
	int r = strcmp(x->language, y->language);

	return r ? r : strcmp(x->message, y->message);
}

/* One file of a language folder that may be a recording. */
struct entry {
	char name[256];
	char message[ACTION_NAME_MAX];
	bool placeholder;
	bool valid; /* message is a usable name */
};

static int cmp_entry(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;
	int r = strcmp(x->message, y->message);

	/* Within a message: human recordings before placeholders, then by
	 * name, so the choice never depends on readdir order. */
	if (r == 0)
		r = (int)x->placeholder - (int)y->placeholder;
	return r ? r : strcmp(x->name, y->name);
}

/* Splits "rights.placeholder.opus" into message and placeholder flag.
 * False for names that are not recordings at all (scripts, notes,
 * dotfiles, our own temp files). */
static bool parse_name(const char *name, struct entry *e)
{
	const char *dot = strrchr(name, '.');
	size_t stem, pl = strlen(LIBRARY_PLACEHOLDER);

	if (name[0] == '.' || !dot || dot == name || strcmp(dot, ".txt") == 0 ||
	    strcmp(dot, ".md") == 0 || strstr(name, ".tmp.") ||
	    strlen(name) >= sizeof(e->name))
		return false;
	snprintf(e->name, sizeof(e->name), "%s", name);
	stem = (size_t)(dot - name);
	e->placeholder =
	    stem > pl && strncmp(dot - pl, LIBRARY_PLACEHOLDER, pl) == 0;
	if (e->placeholder)
		stem -= pl;
	e->valid = stem < sizeof(e->message);
	if (e->valid) {
		memcpy(e->message, name, stem);
		e->message[stem] = '\0';
		e->valid = action_valid_message(e->message) ||
			   strcmp(e->message, LIBRARY_LANGUAGE_NAME) == 0;
	} else {
		e->message[0] = '\0';
	}
	return true;
}

/* The folder's recordings, sorted by message, best first. */
static int collect(const char *dirpath, struct entry **out, size_t *n,
		   struct strv *scripts)
{
	struct entry *v = NULL, e;
	size_t cap = 0;
	struct dirent *de;
	DIR *d = opendir(dirpath);

	*n = 0;
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);

		if (scripts && len > 4 && de->d_name[0] != '.' &&
		    strcmp(de->d_name + len - 4, ".txt") == 0) {
			char m[ACTION_NAME_MAX];

			if (len - 4 < sizeof(m)) {
				memcpy(m, de->d_name, len - 4);
				m[len - 4] = '\0';
				strv_push(scripts, m);
			}
		}
		if (!parse_name(de->d_name, &e))
			continue;
		if (*n == cap) {
			struct entry *nv;

			cap = cap ? cap * 2 : 16;
			nv = realloc(v, cap * sizeof(*v));
			if (!nv) {
				free(v);
				closedir(d);
				return -ENOMEM;
			}
			v = nv;
		}
		v[(*n)++] = e;
	}
	closedir(d);
	if (*n)
		qsort(v, *n, sizeof(*v), cmp_entry);
	*out = v;
	return 0;
}

char *library_recording_path(const char *root, const char *lang,
			     const char *message)
{
	char dir[4096], *path = NULL;
	struct entry *v = NULL;
	size_t n;

	if (path_join(dir, sizeof(dir), root, lang) < 0 ||
	    collect(dir, &v, &n, NULL) < 0)
		return NULL;
	for (size_t i = 0; i < n && !path; i++)
		if (v[i].valid && strcmp(v[i].message, message) == 0 &&
		    asprintf(&path, "%s/%s", dir, v[i].name) < 0)
			path = NULL;
	free(v);
	return path;
}

char *library_recording_path2(const char *overlay, const char *root,
			      const char *lang, const char *message)
{
	char *p =
	    overlay ? library_recording_path(overlay, lang, message) : NULL;

	return p ? p : library_recording_path(root, lang, message);
}

/* Whether one of the first n clips is (lang, message): the overlay's,
 * which take precedence. */
static bool have_clip(const struct library *lib, size_t n, const char *lang,
		      const char *message)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(lib->clips[i]->language, lang) == 0 &&
		    strcmp(lib->clips[i]->message, message) == 0)
			return true;
	return false;
}

static int push_clip(struct library *lib, struct clip *c)
{
	if (lib->n == lib->cap) {
		size_t cap = lib->cap ? lib->cap * 2 : 16;
		struct clip **v = realloc(lib->clips, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		lib->clips = v;
		lib->cap = cap;
	}
	lib->clips[lib->n++] = c;
	return 0;
}

/* Makes one recording ready: from the cache when its entry is sound,
 * otherwise processed now and stored for next time. */
static int load_one(struct library *lib, const char *path,
		    const char *cache_dir, const struct process_settings *s,
		    struct clip **out, uint64_t *key, struct strv *problems)
{
	char err[256];
	struct clip_stats st;
	struct clip *c = NULL;
	float *samples;
	size_t frames;
	int r;

	r = cache_key(path, s, key);
	if (r < 0) {
		strv_pushf(problems,
			   "%s: cannot be read (%s); check its permissions",
			   path, strerror(-r));
		return r;
	}
	if (cache_dir) {
		r = cache_load(cache_dir, *key, &c);
		if (r == 0) {
			lib->stats.from_cache++;
			*out = c;
			return 0;
		}
		if (r != -ENOENT && !lib->cache_ro)
			strv_pushf(
			    problems, "%s: cache entry was %s and is rebuilt",
			    path, r == -EBADMSG ? "corrupt" : strerror(-r));
	}
	r = process_file(path, s, &samples, &frames, &st, err, sizeof(err));
	if (r < 0) {
		strv_pushf(problems,
			   "%s: %s; skipped (re-record or convert it to WAV, "
			   "FLAC or Ogg)",
			   path, err);
		return r;
	}
	c = clip_new_owned(samples, frames, s->rate, &st);
	if (!c) {
		free(samples);
		return -ENOMEM;
	}
	lib->stats.processed++;
	if (cache_dir && !lib->cache_ro) {
		struct clip *mapped = NULL;

		r = cache_store(cache_dir, *key, c);
		if (r < 0)
			strv_pushf(problems,
				   "%s: cannot write cache entry in %s (%s); "
				   "playing from memory",
				   path, cache_dir, strerror(-r));
		/* Play from the entry just written, like after a restart:
		 * mapped pages cost no heap and can be paged out. */
		else if (cache_load(cache_dir, *key, &mapped) == 0) {
			clip_unref(c);
			c = mapped;
		}
	}
	*out = c;
	return 0;
}

/* What one root's scan shares: the cache and the keys it keeps, and how
 * many clips (the overlay's) came before this root's. */
struct scan {
	const char *cache_dir;
	const struct process_settings *s;
	uint64_t *keys;
	size_t n_keys;
	size_t n_prior;
	struct strv *problems;
	void (*progress)(void *data);
	void *progress_data;
};

static int scan_language(struct library *lib, const char *root,
			 const char *lang, struct scan *sc)
{
	const char *cache_dir = sc->cache_dir;
	const struct process_settings *s = sc->s;
	uint64_t **keys = &sc->keys;
	size_t *n_keys = &sc->n_keys;
	struct strv *problems = sc->problems;
	char dirpath[4096];
	struct strv scripts = {0};
	struct entry *v = NULL;
	size_t n = 0;
	int r;

	if (path_join(dirpath, sizeof(dirpath), root, lang) < 0)
		return 0;
	r = collect(dirpath, &v, &n, &scripts);
	if (r == -ENOMEM)
		return r;
	if (r < 0) {
		strv_pushf(problems, "%s: cannot be read (%s)", dirpath,
			   strerror(-r));
		return 0;
	}
	r = 0;
	for (size_t i = 0; i < n; i++) {
		char path[4096];
		struct clip *c = NULL;
		uint64_t key, *kv;
		bool done =
		    lib->n &&
		    strcmp(lib->clips[lib->n - 1]->language, lang) == 0 &&
		    strcmp(lib->clips[lib->n - 1]->message, v[i].message) == 0;

		if (path_join(path, sizeof(path), dirpath, v[i].name) < 0)
			continue;
		/* A volunteer's recording in the overlay supersedes it. */
		if (v[i].valid &&
		    have_clip(lib, sc->n_prior, lang, v[i].message))
			continue;
		if (!v[i].valid) {
			strv_pushf(problems,
				   "%s: not a message name (use lower-case "
				   "letters, digits, '-' and '_'); skipped",
				   path);
			lib->stats.skipped++;
			continue;
		}
		if (done) {
			/* A placeholder behind a human recording is simply
			 * superseded; two of a kind is a volunteer's slip. */
			if (v[i].placeholder &&
			    !lib->clips[lib->n - 1]->placeholder)
				continue;
			strv_pushf(problems,
				   "%s: another recording of '%s' in '%s' is "
				   "already used (%s); remove one of them",
				   path, v[i].message, lang,
				   lib->clips[lib->n - 1]->source);
			lib->stats.skipped++;
			continue;
		}
		r = load_one(lib, path, cache_dir, s, &c, &key, problems);
		if (sc->progress)
			sc->progress(sc->progress_data);
		if (r == -ENOMEM)
			goto out;
		if (r < 0) {
			/* The next of this message (a placeholder behind a
			 * broken human recording) still gets its chance. */
			lib->stats.skipped++;
			r = 0;
			continue;
		}
		snprintf(c->language, sizeof(c->language), "%s", lang);
		snprintf(c->message, sizeof(c->message), "%s", v[i].message);
		c->placeholder = v[i].placeholder;
		c->source = strdup(path);
		kv = realloc(*keys, (*n_keys + 1) * sizeof(**keys));
		if (!c->source || !kv || push_clip(lib, c) < 0) {
			if (kv)
				*keys = kv;
			clip_unref(c);
			r = -ENOMEM;
			goto out;
		}
		*keys = kv;
		(*keys)[(*n_keys)++] = key;
	}
	for (size_t i = 0; i < scripts.n; i++) {
		bool have = false;

		char unrec[2 * ACTION_NAME_MAX + 2];

		for (size_t j = 0; j < n && !have; j++)
			have = v[j].valid &&
			       strcmp(v[j].message, scripts.v[i]) == 0;
		have = have || have_clip(lib, sc->n_prior, lang, scripts.v[i]);
		snprintf(unrec, sizeof(unrec), "%s/%s", lang, scripts.v[i]);
		if (!have && !strv_contains(&lib->unrecorded, unrec))
			strv_pushf(&lib->unrecorded, "%s/%s", lang,
				   scripts.v[i]);
	}
out:
	free(v);
	strv_clear(&scripts);
	return r;
}

struct library *library_new(const char *root, const char *cache_dir,
			    const struct process_settings *s,
			    struct strv *problems)
{
	return library_new_with(root, cache_dir, s, 0, problems);
}

struct library *library_new_with(const char *root, const char *cache_dir,
				 const struct process_settings *s,
				 unsigned flags, struct strv *problems)
{
	struct library_opts o = {
	    .root = root, .cache_dir = cache_dir, .flags = flags};

	return library_open(&o, s, problems);
}

/* Scans one root's language folders. A root that cannot be read is
 * -ENOENT (quiet, for a missing overlay) or reported and -EIO. */
static int scan_root(struct library *lib, const char *root, bool overlay,
		     struct scan *sc)
{
	struct strv dirs = {0};
	struct dirent *e;
	DIR *d = opendir(root);
	int r = 0;

	if (!d) {
		if (overlay && errno == ENOENT)
			return -ENOENT;
		strv_pushf(sc->problems,
			   "%s: the library folder cannot be read (%s); check "
			   "[paths] %s",
			   root, strerror(errno),
			   overlay ? "recordings" : "library");
		return -EIO;
	}
	while ((e = readdir(d))) {
		char path[4096];
		struct stat st;

		if (e->d_name[0] == '.' ||
		    (e->d_name[0] == '_' && strcmp(e->d_name, LIBRARY_SHARED)))
			continue;
		if (path_join(path, sizeof(path), root, e->d_name) < 0 ||
		    stat(path, &st) < 0 || !S_ISDIR(st.st_mode))
			continue;
		if (!action_valid_language(e->d_name) &&
		    strcmp(e->d_name, LIBRARY_SHARED) != 0) {
			strv_pushf(
			    sc->problems,
			    "%s: '%s' is not a language tag (use BCP 47, "
			    "like 'es' or 'zh-cmn'); skipped",
			    path, e->d_name);
			continue;
		}
		if (strv_push(&dirs, e->d_name) < 0) {
			r = -ENOMEM;
			goto out;
		}
	}
	if (dirs.n)
		qsort(dirs.v, dirs.n, sizeof(char *), cmp_str);
	for (size_t i = 0; i < dirs.n && r == 0; i++) {
		size_t before = lib->n;

		r = scan_language(lib, root, dirs.v[i], sc);
		for (size_t j = before; j < lib->n && r == 0; j++) {
			if (strcmp(dirs.v[i], LIBRARY_SHARED) != 0 &&
			    strcmp(lib->clips[j]->message,
				   LIBRARY_LANGUAGE_NAME) != 0) {
				if (!strv_contains(&lib->languages,
						   dirs.v[i]) &&
				    strv_push(&lib->languages, dirs.v[i]) < 0)
					r = -ENOMEM;
				break;
			}
		}
	}
out:
	closedir(d);
	strv_clear(&dirs);
	return r;
}

struct library *library_open(const struct library_opts *o,
			     const struct process_settings *s,
			     struct strv *problems)
{
	struct library *lib = calloc(1, sizeof(*lib));
	struct scan sc = {.cache_dir = o->cache_dir,
			  .s = s,
			  .problems = problems,
			  .progress = o->progress,
			  .progress_data = o->progress_data};
	int r = 0;

	if (!lib)
		return NULL;
	lib->cache_ro = o->flags & LIBRARY_CACHE_READONLY;
	if (o->overlay)
		r = scan_root(lib, o->overlay, true, &sc);
	if (r == -ENOENT)
		r = 0;
	sc.n_prior = lib->n;
	if (r == 0)
		r = scan_root(lib, o->root, false, &sc);
	if (r < 0)
		goto fail;
	if (lib->n)
		qsort(lib->clips, lib->n, sizeof(*lib->clips), cmp_clip);
	if (lib->languages.n)
		qsort(lib->languages.v, lib->languages.n, sizeof(char *),
		      cmp_str);
	if (lib->unrecorded.n)
		qsort(lib->unrecorded.v, lib->unrecorded.n, sizeof(char *),
		      cmp_str);
	lib->stats.clips = lib->n;
	/* Entries of recordings that changed or went away would otherwise
	 * pile up on a small SD card. */
	if (o->cache_dir && !lib->cache_ro)
		cache_prune(o->cache_dir, sc.keys, sc.n_keys);
	free(sc.keys);
	return lib;
fail:
	free(sc.keys);
	library_free(lib);
	return NULL;
}

void library_free(struct library *lib)
{
	if (!lib)
		return;
	for (size_t i = 0; i < lib->n; i++)
		clip_unref(lib->clips[i]);
	free(lib->clips);
	strv_clear(&lib->languages);
	strv_clear(&lib->unrecorded);
	free(lib);
}

struct clip *library_find(const struct library *lib, const char *language,
			  const char *message)
{
	size_t lo = 0, hi = lib->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct clip *c = lib->clips[mid];
		int r = strcmp(c->language, language);

		if (r == 0)
			r = strcmp(c->message, message);
		if (r == 0)
			return lib->clips[mid];
		if (r < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

const struct strv *library_languages(const struct library *lib)
{
	return &lib->languages;
}

void library_messages(const struct library *lib, const char *language,
		      struct strv *out)
{
	for (size_t i = 0; i < lib->n; i++)
		if (strcmp(lib->clips[i]->language, language) == 0 &&
		    lib->clips[i]->message[0] != '_' &&
		    !strv_contains(out, lib->clips[i]->message))
			strv_push(out, lib->clips[i]->message);
}

const struct strv *library_unrecorded(const struct library *lib)
{
	return &lib->unrecorded;
}

void library_get_stats(const struct library *lib, struct library_stats *st)
{
	*st = lib->stats;
}

void library_foreach(const struct library *lib,
		     void (*fn)(const struct clip *c, void *data), void *data)
{
	for (size_t i = 0; i < lib->n; i++)
		fn(lib->clips[i], data);
}
