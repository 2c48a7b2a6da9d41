/* normalize: the measuring half of bench/normalize.sh (bench/README.md).
 *
 *   normalize mkinput IN OUT FORMAT RATE CHANNELS GAIN_DB PEAKY PAD SEED
 *       Makes one test recording from IN (any file libsndfile reads):
 *       mono mix, resampled to RATE (libsoxr; 0 = keep), quiet room noise
 *       (-72 dBFS) under all of it, with PAD=1 0.4-1.0 s of that noise
 *       alone before and 0.5-1.5 s after, GAIN_DB applied to all of it,
 *       and with PEAKY=1 three
 *       handling bumps (5 ms broadband bursts 9 dB above the speech's own
 *       peak), written as FORMAT (wav16, flac, vorbis, opus; opus is
 *       48 kHz only) with CHANNELS (1, or 2 = the same signal twice).
 *       16-bit formats clip at full scale, as a hot recorder does.
 *       SEED makes the noise and the bump positions reproducible.
 *       Prints "duration_s sample_peak_dbfs clipped_samples".
 *   normalize bullhorn OUTDIR LIST
 *       LIST has one "name<TAB>path" line per recording. Each goes through
 *       process_file() once (target -16 LUFS, ceiling -1 dBTP, 48 kHz,
 *       5 ms fades, high-pass 150 Hz, trim -40 dB with 150 ms pad), timed
 *       with CLOCK_MONOTONIC around that call alone, then is written to
 *       OUTDIR/name.wav as 32-bit float (timed apart). One line per file:
 *       "name ms write_ms in_s out_s src_lufs gain_db limiter_db
 *        trimmed_s lufs tp peak_limited too_short maxrss_kb", then
 *       "total files ms write_ms in_s cpu_ms maxrss_kb process_version".
 *       maxrss is this process's own peak so far (getrusage
 *       RUSAGE_SELF): the file where it grows is the one that set it.
 *   normalize exec LOG CMD [ARG...]
 *       Runs CMD with stdin from /dev/null and stdout and stderr to LOG,
 *       and prints "wall_ns maxrss_kb cpu_ms" of that one child (wait4).
 *       Exits with the child's status (128+signal if killed).
 *
 * Exits 1 with a reason on stderr when something cannot be measured. */
#include "process.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sndfile.h>
#include <soxr.h>

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static double tv_ms(struct timeval tv)
{
	return (double)tv.tv_sec * 1e3 + (double)tv.tv_usec / 1e3;
}

__attribute__((format(printf, 1, 2), noreturn)) static void die(const char *fmt,
								...)
{
	va_list ap;

	fprintf(stderr, "normalize: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

/* xorshift64*: deterministic noise and positions from SEED. */
static uint64_t rng_state;

static double rnd(void) /* uniform in [0, 1) */
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (double)((rng_state * 2685821657736338717ULL) >> 11) /
	       9007199254740992.0;
}

static float *read_mono(const char *path, size_t *n, unsigned *rate)
{
	SF_INFO info = {0};
	SNDFILE *sf = sf_open(path, SFM_READ, &info);
	size_t cap = 1 << 16, len = 0;
	float *out, *buf;
	sf_count_t got;
	int ch;

	if (!sf)
		die("cannot read %s: %s", path, sf_strerror(NULL));
	ch = info.channels;
	out = malloc(cap * sizeof(*out));
	buf = malloc(4096 * (size_t)ch * sizeof(*buf));
	if (!out || !buf)
		die("out of memory");
	while ((got = sf_readf_float(sf, buf, 4096)) > 0) {
		if (len + (size_t)got > cap) {
			cap = 2 * (len + (size_t)got);
			out = realloc(out, cap * sizeof(*out));
			if (!out)
				die("out of memory");
		}
		for (sf_count_t i = 0; i < got; i++) {
			float s = 0.0f;

			for (int c = 0; c < ch; c++)
				s += buf[i * ch + c];
			out[len++] = s / (float)ch;
		}
	}
	sf_close(sf);
	free(buf);
	if (!len)
		die("%s holds no frames", path);
	*n = len;
	*rate = (unsigned)info.samplerate;
	return out;
}

static float *resample(const float *in, size_t n, unsigned from, unsigned to,
		       size_t *out_n)
{
	soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I);
	soxr_quality_spec_t q = soxr_quality_spec(SOXR_HQ, 0);
	size_t cap = (size_t)ceil((double)n * to / from) + 16, done = 0;
	float *out = malloc(cap * sizeof(*out));

	if (!out)
		die("out of memory");
	if (soxr_oneshot(from, to, 1, in, n, NULL, out, cap, &done, &io, &q,
			 NULL))
		die("soxr failed");
	*out_n = done;
	return out;
}

static int mkinput(int argc, char **argv)
{
	const char *in = argv[2], *outp = argv[3], *fmt = argv[4];
	unsigned rate = (unsigned)atoi(argv[5]), src_rate;
	int channels = atoi(argv[6]);
	double gain = pow(10.0, atof(argv[7]) / 20.0);
	int peaky = atoi(argv[8]), pad = atoi(argv[9]);
	size_t n, m, pre = 0, post = 0, clipped = 0;
	float *speech, *x, *il;
	double peak = 0.0, out_peak = 0.0;
	SF_INFO info = {0};
	SNDFILE *sf;

	if (argc != 11)
		die("usage: mkinput IN OUT FORMAT RATE CHANNELS GAIN_DB PEAKY "
		    "PAD SEED");
	rng_state = strtoull(argv[10], NULL, 10) * 0x9E3779B97F4A7C15ULL + 1;
	speech = read_mono(in, &n, &src_rate);
	if (!strcmp(fmt, "opus"))
		rate = 48000;
	if (rate && rate != src_rate) {
		float *r = resample(speech, n, src_rate, rate, &m);

		free(speech);
		speech = r;
		n = m;
	} else {
		rate = src_rate;
	}
	if (pad) {
		pre = (size_t)((0.4 + 0.6 * rnd()) * rate);
		post = (size_t)((0.5 + 1.0 * rnd()) * rate);
	}
	m = pre + n + post;
	x = calloc(m, sizeof(*x));
	if (!x)
		die("out of memory");
	memcpy(x + pre, speech, n * sizeof(*x));
	free(speech);
	for (size_t i = 0; i < m; i++) {
		/* Quiet room noise, -72 dBFS RMS before the gain (about
		 * 50 dB under the speech), under all of it. */
		x[i] += (float)((rnd() - 0.5) * 2.0 * sqrt(3.0) *
				pow(10.0, -72.0 / 20.0));
		x[i] *= (float)gain;
		peak = fmax(peak, fabs(x[i]));
	}
	if (peaky) {
		/* Mic bumps: 5 ms of decaying noise, 9 dB over the speech's
		 * peak, at three places inside the speech. */
		double bump = fmin(0.98, peak * pow(10.0, 9.0 / 20.0));
		size_t len = rate / 200;

		for (int b = 0; b < 3; b++) {
			size_t at =
			    pre + (size_t)((0.15 + 0.25 * b + 0.1 * rnd()) *
					   (double)n);
			float *burst = malloc(len * sizeof(*burst));
			double bp = 0.0;

			if (!burst)
				die("out of memory");
			for (size_t i = 0; i < len; i++) {
				burst[i] =
				    (float)((rnd() - 0.5) *
					    exp(-(double)i / (rate * 0.0015)));
				bp = fmax(bp, fabs(burst[i]));
			}
			for (size_t i = 0; i < len && at + i < m; i++)
				x[at + i] += (float)(burst[i] / bp * bump);
			free(burst);
		}
	}

	info.samplerate = (int)rate;
	info.channels = channels;
	if (!strcmp(fmt, "wav16"))
		info.format = SF_FORMAT_WAV | SF_FORMAT_PCM_16;
	else if (!strcmp(fmt, "flac"))
		info.format = SF_FORMAT_FLAC | SF_FORMAT_PCM_16;
	else if (!strcmp(fmt, "vorbis"))
		info.format = SF_FORMAT_OGG | SF_FORMAT_VORBIS;
	else if (!strcmp(fmt, "opus"))
		info.format = SF_FORMAT_OGG | SF_FORMAT_OPUS;
	else
		die("unknown format %s", fmt);
	if (channels < 1 || channels > 2)
		die("CHANNELS must be 1 or 2");
	sf = sf_open(outp, SFM_WRITE, &info);
	if (!sf)
		die("cannot write %s: %s", outp, sf_strerror(NULL));
	/* A 16-bit recorder clips; without this libsndfile would wrap. */
	sf_command(sf, SFC_SET_CLIPPING, NULL, SF_TRUE);
	il = malloc(m * (size_t)channels * sizeof(*il));
	if (!il)
		die("out of memory");
	for (size_t i = 0; i < m; i++) {
		double a = fabs(x[i]);

		if (a >= 1.0 &&
		    (info.format & SF_FORMAT_SUBMASK) == SF_FORMAT_PCM_16)
			clipped++;
		out_peak = fmax(out_peak, fmin(a, 1.0));
		for (int c = 0; c < channels; c++)
			il[i * (size_t)channels + (size_t)c] = x[i];
	}
	if (sf_writef_float(sf, il, (sf_count_t)m) != (sf_count_t)m)
		die("short write to %s: %s", outp, sf_strerror(sf));
	if (sf_close(sf))
		die("cannot finish %s", outp);
	printf("%.3f %.2f %zu\n", (double)m / rate, 20.0 * log10(out_peak),
	       clipped);
	free(il);
	free(x);
	return 0;
}

static int bullhorn(int argc, char **argv)
{
	const struct process_settings s = {
	    .rate = 48000,
	    .target_lufs = -16.0,
	    .ceiling_dbtp = -1.0,
	    .fade_ms = 5.0,
	    .highpass_hz = 150.0,
	    .trim_db = -40.0,
	    .trim_pad_ms = 150.0,
	};
	char line[4096], outp[8192], err[256];
	double total_ms = 0.0, total_write = 0.0, total_in = 0.0;
	unsigned files = 0;
	struct rusage ru;
	FILE *list;

	if (argc != 4)
		die("usage: bullhorn OUTDIR LIST");
	list = fopen(argv[3], "r");
	if (!list)
		die("cannot open %s: %s", argv[3], strerror(errno));
	while (fgets(line, sizeof(line), list)) {
		char *name = line, *path = strchr(line, '\t');
		struct clip_stats st;
		float *samples = NULL;
		size_t frames = 0;
		SF_INFO info = {.samplerate = 48000,
				.channels = 1,
				.format = SF_FORMAT_WAV | SF_FORMAT_FLOAT};
		SF_INFO in_info = {0};
		SNDFILE *sf;
		int64_t t0, t1, t2;
		double in_s;
		int r;

		if (!path)
			continue;
		*path++ = '\0';
		path[strcspn(path, "\n")] = '\0';
		/* The input's length, from its header, outside the timing. */
		sf = sf_open(path, SFM_READ, &in_info);
		if (!sf)
			die("cannot read %s: %s", path, sf_strerror(NULL));
		sf_close(sf);
		in_s = (double)in_info.frames / in_info.samplerate;

		err[0] = '\0';
		t0 = now_ns();
		r = process_file(path, &s, &samples, &frames, &st, err,
				 sizeof(err));
		t1 = now_ns();
		if (r < 0)
			die("process_file failed on %s: %s", path, err);

		if (snprintf(outp, sizeof(outp), "%s/%s.wav", argv[2], name) >=
		    (int)sizeof(outp))
			die("path too long: %s/%s.wav", argv[2], name);
		sf = sf_open(outp, SFM_WRITE, &info);
		if (!sf)
			die("cannot write %s: %s", outp, sf_strerror(NULL));
		if (sf_writef_float(sf, samples, (sf_count_t)frames) !=
		    (sf_count_t)frames)
			die("short write to %s: %s", outp, sf_strerror(sf));
		if (sf_close(sf))
			die("cannot finish %s", outp);
		t2 = now_ns();
		free(samples);

		getrusage(RUSAGE_SELF, &ru);
		printf("%s %.3f %.3f %.3f %.3f %.2f %.2f %.2f %.3f %.2f %.2f "
		       "%d %d %ld\n",
		       name, (t1 - t0) / 1e6, (t2 - t1) / 1e6, in_s,
		       (double)frames / s.rate, st.source_lufs, st.gain_db,
		       st.limiter_db, st.trimmed_s, st.lufs, st.true_peak_dbtp,
		       st.peak_limited, st.too_short, ru.ru_maxrss);
		total_ms += (t1 - t0) / 1e6;
		total_write += (t2 - t1) / 1e6;
		total_in += in_s;
		files++;
	}
	fclose(list);
	if (!files)
		die("no recordings listed in %s", argv[3]);
	getrusage(RUSAGE_SELF, &ru);
	printf("total %u %.3f %.3f %.3f %.1f %ld %d\n", files, total_ms,
	       total_write, total_in, tv_ms(ru.ru_utime) + tv_ms(ru.ru_stime),
	       ru.ru_maxrss, PROCESS_VERSION);
	return 0;
}

static int run_child(int argc, char **argv)
{
	struct rusage ru;
	int64_t t0, t1;
	int status, fd;
	pid_t pid;

	if (argc < 4)
		die("usage: exec LOG CMD [ARG...]");
	fd = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		die("cannot open %s: %s", argv[2], strerror(errno));
	t0 = now_ns();
	pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid == 0) {
		int nul = open("/dev/null", O_RDONLY);

		if (nul < 0 || dup2(nul, 0) < 0 || dup2(fd, 1) < 0 ||
		    dup2(fd, 2) < 0)
			_exit(127);
		execvp(argv[3], argv + 3);
		dprintf(2, "normalize: cannot run %s: %s\n", argv[3],
			strerror(errno));
		_exit(127);
	}
	close(fd);
	while (wait4(pid, &status, 0, &ru) < 0) {
		if (errno != EINTR)
			die("wait4: %s", strerror(errno));
	}
	t1 = now_ns();
	printf("%" PRId64 " %ld %.1f\n", t1 - t0, ru.ru_maxrss,
	       tv_ms(ru.ru_utime) + tv_ms(ru.ru_stime));
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

int main(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "mkinput"))
		return mkinput(argc, argv);
	if (argc >= 2 && !strcmp(argv[1], "bullhorn"))
		return bullhorn(argc, argv);
	if (argc >= 2 && !strcmp(argv[1], "exec"))
		return run_child(argc, argv);
	fprintf(stderr, "usage: normalize mkinput|bullhorn|exec ... "
			"(see bench/normalize.c)\n");
	return 2;
}
