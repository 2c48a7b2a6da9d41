/* The cache of processed clips: one file per (recording content,
 * processing settings, processing version), named by a 64-bit key.
 * Entries are written atomically and checked (size, header, CRC) before
 * use, so a corrupt or truncated entry is detected and rebuilt, and the
 * whole cache can be deleted at any time. */
#ifndef BULLHORN_CACHE_H
#define BULLHORN_CACHE_H

#include <stdint.h>

#include "clip.h"
#include "process.h"

/* The key for a recording: its bytes, the settings and PROCESS_VERSION. */
int cache_key(const char *source_path, const struct process_settings *s,
	      uint64_t *key);

/* The file name of an entry inside the cache folder ("<16 hex>.clip"). */
void cache_entry_name(uint64_t key, char name[32]);

/* Maps an entry. Returns -ENOENT when absent, -EBADMSG when corrupt or
 * truncated (the caller rebuilds it), other negative errnos on I/O. */
int cache_load(const char *dir, uint64_t key, struct clip **out);

/* Writes an entry atomically (temp file, fsync, rename). */
int cache_store(const char *dir, uint64_t key, const struct clip *c);

/* Removes entries whose name is not in keep (n keys). Returns the number
 * removed or a negative errno. */
int cache_prune(const char *dir, const uint64_t *keep, size_t n);

#endif
