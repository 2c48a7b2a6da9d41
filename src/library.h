/* The announcement library: <root>/<language>/<message>.<ext>, each
 * recording processed once (or mapped from the cache) and kept ready to
 * play. Scripts (.txt), notes (.md) and dotfiles are not recordings. */
#ifndef BULLHORN_LIBRARY_H
#define BULLHORN_LIBRARY_H

#include <stdbool.h>
#include <stddef.h>

#include "clip.h"
#include "process.h"
#include "util.h"

/* The spoken language name lives beside the messages as _language.<ext>. */
#define LIBRARY_LANGUAGE_NAME "_language"
/* Sounds shared by all languages live in <root>/_shared/, found as if
 * _shared were a language: library_find(lib, LIBRARY_SHARED, "chime"). */
#define LIBRARY_SHARED "_shared"
#define LIBRARY_CHIME  "chime"
/* A synthesized placeholder is named <message>.placeholder.<ext>; any
 * other recording of the same message takes precedence over it. */
#define LIBRARY_PLACEHOLDER ".placeholder"

struct library;

struct library_stats {
	size_t clips;	   /* ready to play */
	size_t from_cache; /* of which mapped from the cache */
	size_t processed;  /* of which decoded and processed now */
	size_t skipped;	   /* unreadable, empty or ambiguous files */
};

/* Where the library is. The volunteers' library (overlay), when there is
 * one, is scanned like root and its recordings take precedence over
 * root's for the same language and message: the shipped library stays
 * read-only, imports go to the overlay. A missing overlay is empty. */
struct library_opts {
	const char *root;
	const char *overlay;   /* or NULL */
	const char *cache_dir; /* or NULL: no cache */
	unsigned flags;	       /* LIBRARY_CACHE_READONLY */
	/* Called after each recording, for a caller that must show signs
	 * of life during a long scan (systemd's watchdog). May be NULL. */
	void (*progress)(void *data);
	void *progress_data;
};

/* Scans root and makes every recording ready. A file that cannot be used
 * adds one line to problems ("PATH: reason; what to do") and is skipped;
 * everything else still loads. cache_dir may be NULL (no cache). Returns
 * NULL only when root itself cannot be read (then problems says why) or on
 * ENOMEM. */
struct library *library_new(const char *root, const char *cache_dir,
			    const struct process_settings *s,
			    struct strv *problems);
/* For tools that must not write where the daemon keeps its files: sound
 * cache entries are used, nothing is written or pruned. */
#define LIBRARY_CACHE_READONLY 1u
struct library *library_new_with(const char *root, const char *cache_dir,
				 const struct process_settings *s,
				 unsigned flags, struct strv *problems);
struct library *library_open(const struct library_opts *o,
			     const struct process_settings *s,
			     struct strv *problems);
void library_free(struct library *lib);

/* The clip for (language, message), or NULL. Borrowed: clip_ref it to
 * keep it beyond the library's life. */
struct clip *library_find(const struct library *lib, const char *language,
			  const char *message);

/* Languages that have at least one message, sorted. */
const struct strv *library_languages(const struct library *lib);

/* Adds the messages of language (not its _language name) missing from
 * out to out. */
void library_messages(const struct library *lib, const char *language,
		      struct strv *out);

/* "language/message" for every script (<message>.txt) that has no
 * recording yet: what volunteers still need to record. */
const struct strv *library_unrecorded(const struct library *lib);

/* The recording the library would use for (language, message): a human
 * one before a placeholder, then by name. Heap path, or NULL. */
char *library_recording_path(const char *root, const char *lang,
			     const char *message);
/* The same, looking in overlay (may be NULL) before root. */
char *library_recording_path2(const char *overlay, const char *root,
			      const char *lang, const char *message);

void library_get_stats(const struct library *lib, struct library_stats *st);

/* Calls fn for every clip in (language, message) order. */
void library_foreach(const struct library *lib,
		     void (*fn)(const struct clip *c, void *data), void *data);

#endif
