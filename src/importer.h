/* Bringing a volunteer's recording into the library: any format
 * libsndfile reads, others converted with ffmpeg when it is installed;
 * checked by processing it; copied in atomically; an existing human
 * recording is kept unless replace is asked for, and then kept as a
 * backup. Nothing here prints. */
#ifndef BULLHORN_IMPORTER_H
#define BULLHORN_IMPORTER_H

#include <stdbool.h>
#include <stddef.h>

#include "clip.h"
#include "process.h"
#include "util.h"

struct import_request {
	const char *source;   /* the recording to import */
	const char *library;  /* the library root */
	const char *language; /* a language tag */
	const char *message;  /* a message name or _language */
	bool replace;	      /* allowed to replace a human recording */
};

struct import_result {
	char dest[4096];   /* where it went */
	char backup[4096]; /* where the replaced recording went, or "" */
	bool converted;	   /* went through ffmpeg */
	bool new_language; /* the language folder was created */
	/* Recordings an earlier, cut-off import had staged whole and this
	 * one put in place ("LANG/MSG.EXT, ..."), or "" */
	char finished[1024];
};

/* Returns 0, or a negative errno with a plain-language reason in err:
 * -EINVAL bad names, -EEXIST a recording is there and !replace,
 * -ENOTSUP a format only ffmpeg reads and ffmpeg is missing, others from
 * processing or the file system. On success *clip (caller unrefs) is the
 * processed recording, for the caller's check row. */
int import_file(const struct import_request *req,
		const struct process_settings *s, struct import_result *res,
		struct clip **clip, char *err, size_t err_len);

/* Lists in out ("LANG/NAME") what imports cut off by a kill or a power
 * cut left under the library root: recordings staged whole, which the
 * next import_file puts in place, and parts of them, which it removes.
 * Returns 0 or a negative errno. */
int import_leftovers(const char *root, struct strv *out);

#endif
