#include "state.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "action.h"
#include "util.h"

int state_load(const char *path, struct state *st)
{
	char *data, *line, *save = NULL;
	size_t len;
	int r, bad = 0;

	r = read_file(path, &data, &len, 4096);
	if (r < 0)
		return r == -EFBIG ? -EBADMSG : r;
	/* A NUL would hide the rest of the file from the line parser. */
	if (memchr(data, '\0', len))
		bad = 1;
	for (line = strtok_r(data, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		long v;

		if (strncmp(line, "volume=", 7) == 0 &&
		    parse_long(line + 7, 0, 100, &v) == 0)
			st->volume = (unsigned)v;
		else if (strncmp(line, "language=", 9) == 0 &&
			 (line[9] == '\0' || action_valid_language(line + 9)))
			snprintf(st->language, sizeof(st->language), "%s",
				 line + 9);
		else
			bad = 1;
	}
	free(data);
	return bad ? -EBADMSG : 0;
}

int state_save(const char *path, const struct state *st)
{
	char buf[128];
	char *dir;
	int n, r;

	n = snprintf(buf, sizeof(buf), "volume=%u\nlanguage=%s\n", st->volume,
		     st->language);
	if (n < 0 || (size_t)n >= sizeof(buf))
		return -EINVAL;
	dir = path_dirname(path);
	if (!dir)
		return -ENOMEM;
	r = mkdir_p(dir, 0755);
	free(dir);
	if (r < 0)
		return r;
	return atomic_write_file(path, buf, (size_t)n, 0644);
}
