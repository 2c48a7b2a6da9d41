/* bullhorn: the command-line tool for volunteers and technicians. Talks
 * to a running bullhornd over its control socket where it needs one, and
 * works on files alone where it does not (render). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <poll.h>
#include <alsa/asoundlib.h>
#include <sndfile.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "action.h"
#include "buttontest.h"
#include "check.h"
#include "devices.h"
#include "importer.h"
#include "recorder.h"
#include "config.h"
#include "control.h"
#include "library.h"
#include "process.h"
#include "testsignal.h"
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
	fprintf(
	    f,
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
	    "  check [--json] [--strict]     validate the config and the\n"
	    "                                library, list every recording\n"
	    "  import FILE --language L --message M [--replace]\n"
	    "                                add a recording to the library\n"
	    "  record --language L --message M [--seconds N] [--replace]\n"
	    "                                record one from [record] device\n"
	    "  render MESSAGE LANGUAGE -o OUT.wav\n"
	    "                                write exactly what the daemon\n"
	    "                                plays, at full volume (32-bit\n"
	    "                                float WAV; LANGUAGE _shared for\n"
	    "                                the chime)\n"
	    "  devices                       list sound devices by stable\n"
	    "                                name, for [audio] device\n"
	    "  test-speaker [--level DBFS] [--seconds N] [--pink]\n"
	    "                                play a 1 kHz tone (or pink\n"
	    "                                noise) through the daemon for\n"
	    "                                a wiring and level check\n"
	    "  test-buttons [--seconds N]    show every press, release and\n"
	    "                                hold with its action, without\n"
	    "                                playing (bullhornd stopped)\n"
	    "\n"
	    "  -c, --config FILE  config file (default %s)\n"
	    "  -h, --help         this help\n"
	    "  -V, --version      the version\n"
	    "\n"
	    "Exit codes: 0 done, 1 the daemon refused the request, or check,\n"
	    "import or record found an error, 2 usage, 3 no daemon\n"
	    "answering, 4 config has mistakes, 5 render could not read or\n"
	    "write a file.\n",
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
		fprintf(
		    stderr,
		    "bullhorn: usage: render MESSAGE LANGUAGE -o OUT.wav\n");
		return EXIT_USAGE;
	}
	message = argv[1];
	lang = argv[2];
	cfg = load_config(config_path);
	if (!cfg)
		return EXIT_CONFIG;
	src = library_recording_path2(cfg->recordings, cfg->library, lang,
				      message);
	if (!src) {
		fprintf(stderr,
			"bullhorn: no recording of '%s' in '%s' under %s/%s\n",
			message, lang, cfg->library, lang);
		config_free(cfg);
		return EXIT_FILE;
	}
	s = config_processing(cfg);
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
			st.peak_limited ? " (gain held back by the ceiling)"
					: "");
	}
	free(src);
	config_free(cfg);
	return r < 0 ? EXIT_FILE : EXIT_OK;
}

/* Options shared by import and record: --language L --message M
 * [--replace] [--seconds N]; the rest is positional. */
struct file_opts {
	const char *language, *message, *positional;
	bool replace;
	double seconds;
};

static int parse_file_opts(int argc, char **argv, struct file_opts *o)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (strcmp(a, "--replace") == 0) {
			o->replace = true;
		} else if (i + 1 < argc && (strcmp(a, "--language") == 0 ||
					    strcmp(a, "-l") == 0)) {
			o->language = argv[++i];
		} else if (i + 1 < argc && (strcmp(a, "--message") == 0 ||
					    strcmp(a, "-m") == 0)) {
			o->message = argv[++i];
		} else if (i + 1 < argc && strcmp(a, "--seconds") == 0) {
			if (parse_double(argv[++i], 1, 600, &o->seconds) < 0)
				return -EINVAL;
		} else if (a[0] != '-' && !o->positional) {
			o->positional = a;
		} else {
			return -EINVAL;
		}
	}
	return o->language && o->message ? 0 : -EINVAL;
}

static int import_and_report(const struct config *cfg, const char *source,
			     const struct file_opts *o)
{
	struct import_request req = {
	    .source = source,
	    /* Volunteers' recordings go to the
	     * writable library when there is one. */
	    .library = cfg->recordings ? cfg->recordings : cfg->library,
	    .language = o->language,
	    .message = o->message,
	    .replace = o->replace};
	struct process_settings s = config_processing(cfg);
	struct import_result res;
	struct clip *c;
	char err[512];
	int r = import_file(&req, &s, &res, &c, err, sizeof(err));

	if (r < 0) {
		fprintf(stderr, "bullhorn: %s\n", err);
		return 1;
	}
	if (res.finished[0])
		printf("finished an import that was cut off earlier (a power "
		       "cut or a kill): %s is in place now\n\n",
		       res.finished);
	check_print_row(stdout, NULL, cfg);
	check_print_row(stdout, c, cfg);
	printf("\nimported as %s%s\n", res.dest,
	       res.converted ? " (converted with ffmpeg)" : "");
	if (res.backup[0])
		printf("the recording it replaces is kept as %s\n", res.backup);
	/* New to the writable library is not new to the kit when the
	 * shipped library has it. */
	if (res.new_language && cfg->recordings) {
		char dir[4096];

		res.new_language = path_join(dir, sizeof(dir), cfg->library,
					     o->language) < 0 ||
				   access(dir, F_OK) < 0;
	}
	if (res.new_language)
		printf("new language '%s': add it to [playback] languages, and "
		       "record its name as message _language\n",
		       o->language);
	printf("run `bullhorn reload` to play it on the running kit\n");
	clip_unref(c);
	return 0;
}

static int cmd_import(const char *config_path, int argc, char **argv)
{
	struct file_opts o = {0};
	struct config *cfg;
	int code;

	if (parse_file_opts(argc, argv, &o) < 0 || !o.positional) {
		fprintf(stderr, "bullhorn: usage: import FILE --language L "
				"--message M [--replace]\n");
		return EXIT_USAGE;
	}
	cfg = load_config(config_path);
	if (!cfg)
		return EXIT_CONFIG;
	code = import_and_report(cfg, o.positional, &o);
	config_free(cfg);
	return code;
}

/* Asks the running daemon for its beep; says so when there is none. */
static void beep(const struct config *cfg)
{
	char reply[128];

	if (control_request(cfg->socket, "beep", reply, sizeof(reply), 2000) <
		0 ||
	    strncmp(reply, "ok", 2) != 0)
		fprintf(stderr, "(no beep: bullhornd is not running)\a\n");
	/* Let the beep end before the microphone opens or closes. */
	usleep(400 * 1000);
}

static void show_level(const int16_t *buf, size_t n, double seconds)
{
	int peak = 0, bars;
	double db;

	for (size_t i = 0; i < n; i++)
		if (abs(buf[i]) > peak)
			peak = abs(buf[i]);
	db = peak > 0 ? 20 * log10(peak / 32767.0) : -90;
	bars = db < -60 ? 0 : (int)((db + 60) / 2);
	fprintf(stderr, "\rrecording %5.1f s  level %4.0f dBFS %-30.*s%s",
		seconds, db, bars, "##############################",
		db > -1	   ? " TOO LOUD"
		: db < -40 ? " too quiet"
			   : "        ");
}

static int cmd_record(const char *config_path, int argc, char **argv)
{
	const unsigned rate = 48000;
	struct file_opts o = {0};
	char tmp[] = "/tmp/bullhorn-record-XXXXXX", wav[64];
	struct recorder *rec = NULL;
	struct config *cfg;
	int16_t *buf = NULL;
	size_t n = 0, max, last_meter = 0;
	bool tty = isatty(STDERR_FILENO), keys = true;
	int code = 1, r;

	if (parse_file_opts(argc, argv, &o) < 0 || o.positional) {
		fprintf(stderr, "bullhorn: usage: record --language L "
				"--message M [--seconds N] [--replace]\n");
		return EXIT_USAGE;
	}
	cfg = load_config(config_path);
	if (!cfg)
		return EXIT_CONFIG;
	max = (size_t)((o.seconds ? o.seconds : cfg->record_max_s) * rate);
	buf = malloc(max * sizeof(*buf));
	if (!buf || !mkdtemp(tmp)) {
		fprintf(stderr,
			"bullhorn: out of memory or /tmp not writable\n");
		goto out;
	}
	beep(cfg);
	r = recorder_open(cfg->record_device, rate, &rec);
	if (r < 0) {
		fprintf(stderr,
			"bullhorn: cannot open the microphone '%s' (%s); is it "
			"plugged in, and is [record] device right? (arecord -l "
			"lists them)\n",
			cfg->record_device, snd_strerror(r));
		goto out_rmdir;
	}
	fprintf(stderr,
		"recording '%s' in '%s': read the script now; press "
		"Enter to stop (at most %.0f s)\n",
		o.message, o.language, (double)max / rate);
	while (n < max) {
		struct pollfd fds[9];
		int nf = recorder_pollfds(rec, fds, 8);
		long got;

		if (keys)
			fds[nf++] = (struct pollfd){.fd = STDIN_FILENO,
						    .events = POLLIN};
		if (poll(fds, (nfds_t)nf, 1000) < 0 && errno != EINTR)
			break;
		if (keys && (fds[nf - 1].revents & (POLLIN | POLLHUP))) {
			char c[64];
			ssize_t k = read(STDIN_FILENO, c, sizeof(c));

			if (k <= 0)
				keys = false; /* no keyboard: stop at max */
			else if (memchr(c, '\n', (size_t)k))
				break;
		}
		got = recorder_read(rec, buf + n, max - n);
		if (got == -EPIPE)
			fprintf(stderr, "\n(the recording skipped: the system "
					"was too busy)\n");
		if (got > 0)
			n += (size_t)got;
		if (tty && n - last_meter >= rate / 10) {
			show_level(buf + last_meter, n - last_meter,
				   (double)n / rate);
			last_meter = n;
		}
	}
	recorder_free(rec);
	rec = NULL;
	if (tty)
		fputc('\n', stderr);
	beep(cfg);
	snprintf(wav, sizeof(wav), "%s/recording.wav", tmp);
	{
		SF_INFO info = {.samplerate = (int)rate,
				.channels = 1,
				.format = SF_FORMAT_WAV | SF_FORMAT_PCM_16};
		SNDFILE *sf = sf_open(wav, SFM_WRITE, &info);

		if (!sf ||
		    sf_writef_short(sf, buf, (sf_count_t)n) != (sf_count_t)n) {
			fprintf(stderr, "bullhorn: cannot write %s\n", wav);
			if (sf)
				sf_close(sf);
			goto out_unlink;
		}
		sf_close(sf);
	}
	fprintf(stderr, "recorded %.1f s\n", (double)n / rate);
	code = import_and_report(cfg, wav, &o);
out_unlink:
	unlink(wav);
out_rmdir:
	rmdir(tmp);
out:
	recorder_free(rec);
	free(buf);
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

/* Defaults: a 1 kHz tone 12 dB under full scale for 3 s: loud enough to
 * find a bad connection, not so loud it startles a street. */
static int cmd_test_speaker(const char *config_path, int argc, char **argv)
{
	double level = -12, secs = 3;
	const char *kind = "tone";
	char line[128];

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--pink") == 0) {
			kind = "pink";
		} else if (i + 1 < argc && strcmp(argv[i], "--level") == 0 &&
			   parse_double(argv[i + 1], TESTSIGNAL_MIN_DBFS,
					TESTSIGNAL_MAX_DBFS, &level) == 0) {
			i++;
		} else if (i + 1 < argc && strcmp(argv[i], "--seconds") == 0 &&
			   parse_double(argv[i + 1], 0.1, TESTSIGNAL_MAX_S,
					&secs) == 0) {
			i++;
		} else {
			fprintf(stderr,
				"bullhorn: usage: test-speaker [--level DBFS "
				"(%.0f to %.0f)] [--seconds N (0.1 to %.0f)] "
				"[--pink]\n",
				TESTSIGNAL_MIN_DBFS, TESTSIGNAL_MAX_DBFS,
				TESTSIGNAL_MAX_S);
			return EXIT_USAGE;
		}
	}
	snprintf(line, sizeof(line), "test-speaker %s %.2f %.2f", kind, level,
		 secs);
	return send_line(config_path, line);
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
	if (strcmp(cmd, "import") == 0)
		return cmd_import(config_path, argc, argv);
	if (strcmp(cmd, "record") == 0)
		return cmd_record(config_path, argc, argv);
	if (strcmp(cmd, "test-buttons") == 0) {
		double secs = 0;

		if (argc != 1 &&
		    (argc != 3 || strcmp(argv[1], "--seconds") ||
		     parse_double(argv[2], 0.1, 86400, &secs) < 0)) {
			fprintf(stderr, "bullhorn: usage: test-buttons "
					"[--seconds N]\n");
			return EXIT_USAGE;
		}
		return buttontest_run(config_path, secs, stdout);
	}
	if (strcmp(cmd, "devices") == 0 && argc == 1) {
		devices_list(stdout);
		return EXIT_OK;
	}
	if (strcmp(cmd, "test-speaker") == 0)
		return cmd_test_speaker(config_path, argc, argv);
	if (strcmp(cmd, "check") == 0) {
		bool json = false, strict = false;

		for (int i = 1; i < argc; i++) {
			if (strcmp(argv[i], "--json") == 0) {
				json = true;
			} else if (strcmp(argv[i], "--strict") == 0) {
				strict = true;
			} else {
				fprintf(stderr, "bullhorn: usage: check "
						"[--json] [--strict]\n");
				return EXIT_USAGE;
			}
		}
		return check_run(config_path, json, strict, stdout);
	}
	if (strcmp(cmd, "send") == 0) {
		if (argc < 2 ||
		    join_args(argc - 1, argv + 1, line, sizeof(line)) < 0) {
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
