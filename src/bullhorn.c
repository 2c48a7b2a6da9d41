/* bullhorn: the command-line tool for volunteers and technicians. Talks
 * to a running bullhornd over its control socket where it needs one, and
 * works on files alone where it does not (render). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <sndfile.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "action.h"
#include "config.h"
#include "control.h"
#include "library.h"
#include "process.h"
#include "util.h"

#ifndef BULLHORN_DEFAULT_CONFIG
#define BULLHORN_DEFAULT_CONFIG "/etc/bullhorn/bullhorn.ini"
#endif

enum exit_code {
	EXIT_OK = 0,
	EXIT_REFUSED = 1, /* the daemon answered with an error */
	EXIT_USAGE = 2,
	EXIT_NO_DAEMON = 3,
	EXIT_CONFIG = 4,
	EXIT_FILE = 5, /* a recording or output file could not be used */
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: bullhorn [--config FILE] COMMAND [ARGS]\n"
		"\n"
		"Commands that talk to the running bullhornd:\n"
		"  play MESSAGE [LANGUAGE|all]   play once\n"
		"  loop MESSAGE [LANGUAGE|all]   repeat until stopped\n"
		"  stop                          silence now\n"
		"  next-language                 switch language, speak its name\n"
		"  volume +N|-N|N                change or set the volume (0-100)\n"
		"  status                        what the daemon is doing\n"
		"  reload                        re-read config and library\n"
		"  send LINE                     send one raw request line\n"
		"Commands that work on files alone:\n"
		"  check                         validate the config and the\n"
		"                                library, list every recording\n"
		"  render MESSAGE LANGUAGE -o OUT.wav\n"
		"                                (LANGUAGE _shared: the chime)\n"
		"                                write exactly what the daemon\n"
		"                                plays, at full volume (32-bit\n"
		"                                float WAV)\n"
		"\n"
		"  -c, --config FILE  config file (default %s)\n"
		"  -h, --help         this help\n"
		"  -V, --version      the version\n"
		"\n"
		"Exit codes: 0 done, 1 the daemon refused the request, 2 usage,\n"
		"3 no daemon answering, 4 config has mistakes, 5 a recording\n"
		"or file could not be used (check: the library has problems).\n",
		BULLHORN_DEFAULT_CONFIG);
}

static struct config *load_config(const char *path)
{
	struct strv errors = {0};
	struct config *cfg = NULL;

	if (config_load(path, &cfg, &errors) < 0)
		for (size_t i = 0; i < errors.n; i++)
			fprintf(stderr, "bullhorn: %s\n", errors.v[i]);
	strv_clear(&errors);
	return cfg;
}

static int send_line(const char *config_path, const char *line)
{
	struct config *cfg = load_config(config_path);
	char reply[1024];
	int r;

	if (!cfg)
		return EXIT_CONFIG;
	r = control_request(cfg->socket, line, reply, sizeof(reply), 5000);
	if (r < 0) {
		fprintf(stderr,
			"bullhorn: no daemon answers on %s (%s); is bullhornd "
			"running with this config?\n",
			cfg->socket, strerror(-r));
		config_free(cfg);
		return EXIT_NO_DAEMON;
	}
	config_free(cfg);
	puts(reply);
	return strncmp(reply, "ok", 2) == 0 ? EXIT_OK : EXIT_REFUSED;
}

static int write_wav(const char *out, const float *samples, size_t frames,
		     unsigned rate)
{
	SF_INFO info = {.samplerate = (int)rate,
			.channels = 1,
			.format = SF_FORMAT_WAV | SF_FORMAT_FLOAT};
	char *tmp;
	SNDFILE *sf;
	int fd, r = 0;

	if (asprintf(&tmp, "%s.tmp.%ld", out, (long)getpid()) < 0)
		return -ENOMEM;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		r = -errno;
		goto out_free;
	}
	sf = sf_open_fd(fd, SFM_WRITE, &info, 0);
	if (!sf) {
		r = -EIO;
		goto out_close;
	}
	if (sf_writef_float(sf, samples, (sf_count_t)frames) !=
	    (sf_count_t)frames)
		r = -EIO;
	if (sf_close(sf) != 0 && r == 0)
		r = -EIO;
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
out_close:
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r == 0 && rename(tmp, out) < 0)
		r = -errno;
	if (r < 0)
		unlink(tmp);
out_free:
	free(tmp);
	return r;
}

static int cmd_render(const char *config_path, int argc, char **argv)
{
	const char *out = NULL, *message, *lang;
	struct process_settings s;
	struct clip_stats st;
	struct config *cfg;
	char err[256], *src;
	float *samples;
	size_t frames;
	int r;

	/* render MESSAGE LANGUAGE -o OUT */
	if (argc == 5 && strcmp(argv[3], "-o") == 0)
		out = argv[4];
	if (!out ||
	    (!action_valid_message(argv[1]) &&
	     strcmp(argv[1], LIBRARY_LANGUAGE_NAME) != 0) ||
	    (!action_valid_language(argv[2]) &&
	     strcmp(argv[2], LIBRARY_SHARED) != 0)) {
		fprintf(stderr,
			"bullhorn: usage: render MESSAGE LANGUAGE -o OUT.wav\n");
		return EXIT_USAGE;
	}
	message = argv[1];
	lang = argv[2];
	cfg = load_config(config_path);
	if (!cfg)
		return EXIT_CONFIG;
	src = library_recording_path(cfg->library, lang, message);
	if (!src) {
		fprintf(stderr,
			"bullhorn: no recording of '%s' in '%s' under %s/%s\n",
			message, lang, cfg->library, lang);
		config_free(cfg);
		return EXIT_FILE;
	}
	s = (struct process_settings){.rate = cfg->rate,
				      .target_lufs = cfg->target_lufs,
				      .ceiling_dbtp = cfg->ceiling_dbtp,
				      .fade_ms = 5.0};
	r = process_file(src, &s, &samples, &frames, &st, err, sizeof(err));
	if (r < 0) {
		fprintf(stderr, "bullhorn: %s: %s\n", src, err);
		free(src);
		config_free(cfg);
		return EXIT_FILE;
	}
	r = write_wav(out, samples, frames, cfg->rate);
	free(samples);
	if (r < 0) {
		fprintf(stderr, "bullhorn: cannot write %s (%s)\n", out,
			strerror(-r));
	} else {
		fprintf(stderr,
			"%s: %.2f s, %.1f LUFS -> %.1f LUFS, true peak %.1f "
			"dBTP%s\n",
			src, st.duration_s, st.source_lufs, st.lufs,
			st.true_peak_dbtp,
			st.peak_limited ? " (gain held back by the ceiling)" : "");
	}
	free(src);
	config_free(cfg);
	return r < 0 ? EXIT_FILE : EXIT_OK;
}

struct check_ctx {
	const struct config *cfg;
	int notes;
	int placeholders;
};

static void check_row(const struct clip *c, void *data)
{
	struct check_ctx *x = data;
	char note[160] = "";

	if (c->stats.peak_limited) {
		snprintf(note, sizeof(note),
			 "%.1f LU under target: its peaks are high for its "
			 "loudness",
			 x->cfg->target_lufs - c->stats.lufs);
		x->notes++;
	} else if (c->stats.too_short) {
		snprintf(note, sizeof(note), "very short (under 0.4 s)");
	} else if (c->stats.duration_s > 30.0) {
		snprintf(note, sizeof(note),
			 "long for a field announcement (over 30 s)");
		x->notes++;
	}
	printf("%-10s %-12s %6.1f s %7.1f %7.1f %7.1f  %s%s%s\n", c->language,
	       c->message, c->stats.duration_s, c->stats.source_lufs,
	       c->stats.lufs, c->stats.true_peak_dbtp,
	       c->placeholder ? "placeholder" : "",
	       c->placeholder && note[0] ? "; " : "", note);
	if (c->placeholder)
		x->placeholders++;
}

/* Validates the config and the whole library and lists every recording,
 * without a daemon and without touching the daemon's cache. */
static int cmd_check(const char *config_path)
{
	struct check_ctx x = {0};
	struct process_settings s;
	struct strv problems = {0};
	struct library *lib;
	struct config *cfg;
	int code = EXIT_OK;

	cfg = load_config(config_path);
	if (!cfg) {
		fprintf(stderr, "bullhorn: %s has mistakes; nothing else was "
				"checked\n",
			config_path);
		return EXIT_CONFIG;
	}
	printf("config %s: ok\n", cfg->path);
	s = (struct process_settings){.rate = cfg->rate,
				      .target_lufs = cfg->target_lufs,
				      .ceiling_dbtp = cfg->ceiling_dbtp,
				      .fade_ms = 5.0};
	lib = library_new(cfg->library, NULL, &s, &problems);
	if (lib) {
		x.cfg = cfg;
		printf("\n%-10s %-12s %8s %7s %7s %7s\n", "language",
		       "message", "length", "LUFS in", "out", "dBTP");
		library_foreach(lib, check_row, &x);
		if (x.placeholders)
			printf("\n%d placeholder%s (synthesized, marked "
			       "<message>.placeholder.<ext>): human recordings "
			       "replace them\n",
			       x.placeholders, x.placeholders == 1 ? "" : "s");
		if (library_unrecorded(lib)->n) {
			const struct strv *u = library_unrecorded(lib);

			printf("\nneeds a recording (the script is there; "
			       "presses fall back to another language):\n");
			for (size_t i = 0; i < u->n; i++)
				printf("  %s\n", u->v[i]);
		}
		for (size_t i = 0; i < cfg->languages.n; i++)
			if (!strv_contains(library_languages(lib),
					   cfg->languages.v[i]))
				strv_pushf(&problems,
					   "language '%s' is in [playback] "
					   "languages but has no recordings in %s",
					   cfg->languages.v[i], cfg->library);
	}
	if (problems.n) {
		printf("\n%zu problem%s:\n", problems.n,
		       problems.n == 1 ? "" : "s");
		for (size_t i = 0; i < problems.n; i++)
			printf("  %s\n", problems.v[i]);
		code = EXIT_FILE;
	} else {
		printf("\nno problems\n");
	}
	strv_clear(&problems);
	library_free(lib);
	config_free(cfg);
	return code;
}

static int join_args(int argc, char **argv, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	for (int i = 0; i < argc; i++) {
		int n = snprintf(buf + off, len - off, "%s%s", i ? " " : "",
				 argv[i]);

		if (n < 0 || (size_t)n >= len - off)
			return -E2BIG;
		off += (size_t)n;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{0},
	};
	const char *config_path = BULLHORN_DEFAULT_CONFIG;
	char line[CONTROL_MAX_LINE], err[256];
	const char *cmd;
	struct action a;
	int c;

	while ((c = getopt_long(argc, argv, "+c:hV", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config_path = optarg;
			break;
		case 'h':
			usage(stdout);
			return EXIT_OK;
		case 'V':
			printf("bullhorn %s\n", BULLHORN_VERSION);
			return EXIT_OK;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1) {
		usage(stderr);
		return EXIT_USAGE;
	}
	cmd = argv[0];
	if (strcmp(cmd, "render") == 0)
		return cmd_render(config_path, argc, argv);
	if (strcmp(cmd, "check") == 0 && argc == 1)
		return cmd_check(config_path);
	if (strcmp(cmd, "send") == 0) {
		if (argc < 2 || join_args(argc - 1, argv + 1, line,
					  sizeof(line)) < 0) {
			fprintf(stderr, "bullhorn: usage: send LINE\n");
			return EXIT_USAGE;
		}
		return send_line(config_path, line);
	}
	if ((strcmp(cmd, "status") == 0 || strcmp(cmd, "reload") == 0) &&
	    argc == 1)
		return send_line(config_path, cmd);
	/* Everything else is the action language: check it here so a typo
	 * is explained without needing the daemon. */
	if (join_args(argc, argv, line, sizeof(line)) < 0 ||
	    action_parse(line, &a, err, sizeof(err)) < 0) {
		fprintf(stderr, "bullhorn: %s\n",
			strlen(line) ? err : "request too long");
		if (strcmp(cmd, "play") && strcmp(cmd, "loop") &&
		    strcmp(cmd, "stop") && strcmp(cmd, "next-language") &&
		    strcmp(cmd, "volume"))
			usage(stderr);
		return EXIT_USAGE;
	}
	return send_line(config_path, line);
}
