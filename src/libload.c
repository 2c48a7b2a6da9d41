#include "libload.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

struct libload {
	struct library_opts o;
	struct process_settings s;
	struct strv problems;
	struct library *lib;
	pthread_t thread;
	int fd;
};

static void *run(void *data)
{
	struct libload *j = data;
	uint64_t one = 1;

	j->lib = library_open(&j->o, &j->s, &j->problems);
	if (write(j->fd, &one, sizeof(one)) < 0) {
		/* Cannot fail for an eventfd far from its limit. */
	}
	return NULL;
}

struct libload *libload_start(const struct library_opts *o,
			      const struct process_settings *s)
{
	struct libload *j = calloc(1, sizeof(*j));
	int r;

	if (!j)
		return NULL;
	j->o = *o;
	j->s = *s;
	j->fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (j->fd < 0) {
		free(j);
		return NULL;
	}
	r = pthread_create(&j->thread, NULL, run, j);
	if (r != 0) {
		close(j->fd);
		free(j);
		errno = r;
		return NULL;
	}
	return j;
}

int libload_fd(const struct libload *j)
{
	return j->fd;
}

struct library *libload_finish(struct libload *j, struct strv *problems)
{
	struct library *lib;

	pthread_join(j->thread, NULL);
	lib = j->lib;
	for (size_t i = 0; i < j->problems.n; i++)
		strv_push(problems, j->problems.v[i]);
	strv_clear(&j->problems);
	close(j->fd);
	free(j);
	return lib;
}
