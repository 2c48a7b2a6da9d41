#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* Set once at start-up by main, read by every log call. */
static const char *log_ident = "bullhorn";
static enum log_level log_max = LOG_INFO;
static int log_journal;

void log_init(const char *ident, enum log_level max_level)
{
	log_ident = ident;
	log_max = max_level;
	log_journal = getenv("JOURNAL_STREAM") != NULL;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	static const char *const names[] = {
	    [LOG_ERR] = "error",
	    [LOG_WARN] = "warning",
	    [LOG_INFO] = "info",
	    [LOG_DEBUG] = "debug",
	};
	char line[1024];
	va_list ap;

	if (level > log_max)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	/* One write per line so lines from concurrent processes never mix. */
	if (log_journal)
		fprintf(stderr, "<%d>%s\n", (int)level, line);
	else
		fprintf(stderr, "%s: %s: %s\n", log_ident, names[level], line);
}
