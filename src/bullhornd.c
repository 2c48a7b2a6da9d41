/* bullhornd: the daemon. Watches its control socket (and, with --keys,
 * the terminal), keeps the announcement library ready, plays through
 * ALSA. Exit codes: 0 stopped cleanly, 1 runtime failure, 2 usage,
 * 3 config or library cannot be used. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon.h"
#include "log.h"

#ifndef BULLHORN_DEFAULT_CONFIG
#define BULLHORN_DEFAULT_CONFIG "/etc/bullhorn/bullhorn.ini"
#endif

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "Usage: bullhornd [--config FILE] [--keys] [--verbose]\n"
	    "\n"
	    "The bullhorn daemon: plays announcements through ALSA on\n"
	    "command from its control socket (see bullhorn(1)).\n"
	    "\n"
	    "  -c, --config FILE  config file (default %s)\n"
	    "  -k, --keys         the terminal's number keys act as buttons\n"
	    "                     (the [keys] section); q quits\n"
	    "  -v, --verbose      log debug lines too\n"
	    "  -h, --help         this help\n"
	    "  -V, --version      the version\n"
	    "\n"
	    "Exit codes: 0 stopped cleanly, 1 runtime failure, 2 usage,\n"
	    "3 the config, library or socket cannot be used.\n",
	    BULLHORN_DEFAULT_CONFIG);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"keys", no_argument, NULL, 'k'},
	    {"verbose", no_argument, NULL, 'v'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {0},
	};
	struct daemon_options o = {
	    .config_path = BULLHORN_DEFAULT_CONFIG,
	    .keys_fd = STDIN_FILENO,
	};
	enum log_level level = LOG_INFO;
	struct daemon *d;
	int c, code;

	while ((c = getopt_long(argc, argv, "c:kvhV", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			o.config_path = optarg;
			break;
		case 'k':
			o.keys = true;
			break;
		case 'v':
			level = LOG_DEBUG;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("bullhornd %s\n", BULLHORN_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "bullhornd: unexpected argument '%s'\n",
			argv[optind]);
		usage(stderr);
		return 2;
	}
	log_init("bullhornd", level);
	d = daemon_new(&o);
	if (!d)
		return 3;
	code = daemon_run(d);
	daemon_free(d);
	return code;
}
