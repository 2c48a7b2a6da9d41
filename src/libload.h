/* A library scan on a worker thread, so the poll loop can keep feeding
 * the sound device while new recordings are processed. Measured: a
 * reload that processed four new 3 s recordings held the loop 226 ms,
 * longer than the 40 ms device buffer, and the message playing ran dry.
 * The thread runs library_open() and nothing else: it touches no daemon
 * state, logs nothing, and signals the end through an eventfd. */
#ifndef BULLHORN_LIBLOAD_H
#define BULLHORN_LIBLOAD_H

#include "library.h"
#include "process.h"
#include "util.h"

struct libload;

/* Starts library_open(o, s) on a thread. o's strings must outlive the
 * job; o->progress must be NULL (it would run on the thread). NULL with
 * errno set when no thread could be started. */
struct libload *libload_start(const struct library_opts *o,
			      const struct process_settings *s);
/* Readable once the scan is done. */
int libload_fd(const struct libload *j);
/* Waits for the thread, frees the job, and hands over the result and its
 * problems (appended to problems). */
struct library *libload_finish(struct libload *j, struct strv *problems);

#endif
