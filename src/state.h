/* What the daemon remembers across power cycles: the volume and the
 * active language. Saved only when they change (never during playback),
 * atomically, so a power cut leaves the old or the new file. */
#ifndef BULLHORN_STATE_H
#define BULLHORN_STATE_H

struct state {
	unsigned volume;   /* 0..100 */
	char language[64]; /* "" = none remembered */
};

/* Returns -ENOENT when there is no state yet, -EBADMSG when the file is
 * not ours or is damaged (fields that did parse are kept in *st). */
int state_load(const char *path, struct state *st);
int state_save(const char *path, const struct state *st);

#endif
