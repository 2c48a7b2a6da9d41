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
	struct library_stats stats;
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

static bool is_recording_name(const char *name)
{
	const char *dot = strrchr(name, '.');

	if (name[0] == '.' || !dot || dot == name)
		return false;
	return strcmp(dot, ".txt") != 0 && strcmp(dot, ".md") != 0 &&
	       !strstr(name, ".tmp.");
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
		strv_pushf(problems, "%s: cannot be read (%s); check its permissions",
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
		if (r != -ENOENT)
			strv_pushf(problems,
				   "%s: cache entry was %s and is rebuilt", path,
				   r == -EBADMSG ? "corrupt" : strerror(-r));
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
	if (cache_dir) {
		r = cache_store(cache_dir, *key, c);
		if (r < 0)
			strv_pushf(problems,
				   "%s: cannot write cache entry in %s (%s); "
				   "playing from memory",
				   path, cache_dir, strerror(-r));
	}
	*out = c;
	return 0;
}

static int scan_language(struct library *lib, const char *root,
			 const char *lang, const char *cache_dir,
			 const struct process_settings *s, uint64_t **keys,
			 size_t *n_keys, struct strv *problems)
{
	char dirpath[4096];
	struct strv names = {0};
	DIR *d;
	struct dirent *e;
	int r = 0;

	if (path_join(dirpath, sizeof(dirpath), root, lang) < 0)
		return 0;
	d = opendir(dirpath);
	if (!d) {
		strv_pushf(problems, "%s: cannot be read (%s)", dirpath,
			   strerror(errno));
		return 0;
	}
	while ((e = readdir(d)))
		if (is_recording_name(e->d_name) &&
		    strv_push(&names, e->d_name) < 0) {
			r = -ENOMEM;
			goto out;
		}
	/* Sorted so that a duplicate (rights.ogg beside rights.wav) always
	 * resolves the same way. */
	if (names.n)
		qsort(names.v, names.n, sizeof(char *), cmp_str);
	for (size_t i = 0; i < names.n; i++) {
		char path[4096], message[ACTION_NAME_MAX];
		const char *name = names.v[i];
		size_t stem = (size_t)(strrchr(name, '.') - name);
		struct clip *c = NULL;
		uint64_t key, *kv;

		if (path_join(path, sizeof(path), dirpath, name) < 0 ||
		    stem >= sizeof(message)) {
			strv_pushf(problems, "%s: name too long; skipped", path);
			lib->stats.skipped++;
			continue;
		}
		memcpy(message, name, stem);
		message[stem] = '\0';
		if (!action_valid_message(message) &&
		    strcmp(message, LIBRARY_LANGUAGE_NAME) != 0) {
			strv_pushf(problems,
				   "%s: '%s' is not a message name (use lower-case "
				   "letters, digits, '-' and '_'); skipped",
				   path, message);
			lib->stats.skipped++;
			continue;
		}
		if (lib->n && strcmp(lib->clips[lib->n - 1]->language, lang) == 0 &&
		    strcmp(lib->clips[lib->n - 1]->message, message) == 0) {
			strv_pushf(problems,
				   "%s: another recording of '%s' in '%s' is "
				   "already used (%s); remove one of them",
				   path, message, lang, lib->clips[lib->n - 1]->source);
			lib->stats.skipped++;
			continue;
		}
		r = load_one(lib, path, cache_dir, s, &c, &key, problems);
		if (r == -ENOMEM)
			goto out;
		if (r < 0) {
			lib->stats.skipped++;
			r = 0;
			continue;
		}
		snprintf(c->language, sizeof(c->language), "%s", lang);
		snprintf(c->message, sizeof(c->message), "%s", message);
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
out:
	closedir(d);
	strv_clear(&names);
	return r;
}

struct library *library_new(const char *root, const char *cache_dir,
			    const struct process_settings *s,
			    struct strv *problems)
{
	struct library *lib = calloc(1, sizeof(*lib));
	struct strv dirs = {0};
	uint64_t *keys = NULL;
	size_t n_keys = 0;
	DIR *d;
	struct dirent *e;

	if (!lib)
		return NULL;
	d = opendir(root);
	if (!d) {
		strv_pushf(problems,
			   "%s: the library folder cannot be read (%s); check "
			   "[paths] library",
			   root, strerror(errno));
		free(lib);
		return NULL;
	}
	while ((e = readdir(d))) {
		char path[4096];
		struct stat st;

		if (e->d_name[0] == '.' || e->d_name[0] == '_')
			continue;
		if (path_join(path, sizeof(path), root, e->d_name) < 0 ||
		    stat(path, &st) < 0 || !S_ISDIR(st.st_mode))
			continue;
		if (!action_valid_language(e->d_name)) {
			strv_pushf(problems,
				   "%s: '%s' is not a language tag (use BCP 47, "
				   "like 'es' or 'zh-cmn'); skipped",
				   path, e->d_name);
			continue;
		}
		if (strv_push(&dirs, e->d_name) < 0)
			goto fail;
	}
	closedir(d);
	d = NULL;
	if (dirs.n)
		qsort(dirs.v, dirs.n, sizeof(char *), cmp_str);
	for (size_t i = 0; i < dirs.n; i++) {
		size_t before = lib->n;

		if (scan_language(lib, root, dirs.v[i], cache_dir, s, &keys,
				  &n_keys, problems) < 0)
			goto fail;
		for (size_t j = before; j < lib->n; j++) {
			if (strcmp(lib->clips[j]->message,
				   LIBRARY_LANGUAGE_NAME) != 0) {
				if (strv_push(&lib->languages, dirs.v[i]) < 0)
					goto fail;
				break;
			}
		}
	}
	if (lib->n)
		qsort(lib->clips, lib->n, sizeof(*lib->clips), cmp_clip);
	lib->stats.clips = lib->n;
	/* Entries of recordings that changed or went away would otherwise
	 * pile up on a small SD card. */
	if (cache_dir)
		cache_prune(cache_dir, keys, n_keys);
	free(keys);
	strv_clear(&dirs);
	return lib;
fail:
	if (d)
		closedir(d);
	free(keys);
	strv_clear(&dirs);
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
