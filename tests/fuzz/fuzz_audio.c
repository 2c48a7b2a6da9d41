/* Arbitrary bytes as a recording: process_file() (src/process.c), the
 * path every recording takes into the cache, `bullhorn import` and
 * `bullhorn render`, with the settings of the default config. The bytes
 * are a memfd opened by path; process_file() hands libsndfile the fd, so
 * the format is told by the content, never by a file name. Properties:
 *   - success gives sound that holds what process.h promises: frames,
 *     all finite, no true peak above the ceiling, stats that agree with
 *     the samples;
 *   - failure is one of the documented errors, with a reason in err, and
 *     hands back no samples.
 * Bounded work: an input that decodes to more than AUDIO_MAX_S seconds
 * or AUDIO_MAX_FRAMES frames is skipped (counted first with libsndfile
 * on its own), since a few bytes of FLAC or a header with a 1 Hz rate
 * can stand for minutes at 48 kHz; minutes are refused by process.c
 * itself (-EFBIG) and tested in tests/test_process.c. */
#include "fuzz.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <sndfile.h>

#include "config.h"
#include "process.h"

#define AUDIO_MAX_S	 5.0
#define AUDIO_MAX_FRAMES (1 << 20)
#define AUDIO_READ	 65536 /* samples per read while counting */

static struct process_settings audio_settings(void)
{
	static struct process_settings s;
	static bool done;

	if (!done) {
		struct config *c = config_new_default(NULL);

		FUZZ_CHECK(c != NULL);
		s = config_processing(c);
		config_free(c);
		done = true;
	}
	return s;
}

/* Whether the recording at path is short enough to be worth processing
 * here; what libsndfile cannot open is (process_file fails at once). */
static bool audio_small(const char *path)
{
	SF_INFO info = {0};
	sf_count_t frames = 0, got;
	SNDFILE *sf;
	float *buf;
	size_t chunk;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	FUZZ_CHECK(fd >= 0);
	sf = sf_open_fd(fd, SFM_READ, &info, SF_FALSE);
	if (sf && (info.channels < 1 || info.samplerate < 1)) {
		sf_close(sf);
		sf = NULL;
	}
	if (!sf) {
		close(fd);
		return true;
	}
	chunk = AUDIO_READ / (size_t)info.channels;
	chunk = chunk ? chunk : 1;
	buf = malloc(chunk * (size_t)info.channels * sizeof(*buf));
	FUZZ_CHECK(buf != NULL);
	while (frames <= AUDIO_MAX_FRAMES &&
	       (double)frames / info.samplerate <= AUDIO_MAX_S &&
	       (got = sf_readf_float(sf, buf, (sf_count_t)chunk)) > 0)
		frames += got;
	free(buf);
	sf_close(sf);
	close(fd);
	return frames <= AUDIO_MAX_FRAMES &&
	       (double)frames / info.samplerate <= AUDIO_MAX_S;
}

static void audio_check(const struct process_settings *s, const float *x,
			size_t n, const struct clip_stats *st)
{
	double ceiling = pow(10.0, (s->ceiling_dbtp + 0.1) / 20.0);
	float peak = 0.0f;

	FUZZ_CHECK(x != NULL && n > 0);
	for (size_t i = 0; i < n; i++) {
		FUZZ_CHECK(isfinite(x[i]));
		peak = fabsf(x[i]) > peak ? fabsf(x[i]) : peak;
	}
	/* The sample peak never exceeds the true peak. */
	FUZZ_CHECK(peak <= ceiling);
	FUZZ_CHECK(st->true_peak_dbtp <= s->ceiling_dbtp + 1e-6);
	FUZZ_CHECK(isfinite(st->lufs) && isfinite(st->gain_db));
	FUZZ_CHECK(isfinite(st->source_lufs));
	FUZZ_CHECK(st->limiter_db <= 0.0);
	FUZZ_CHECK(fabs(st->duration_s - (double)n / s->rate) < 1e-9);
	FUZZ_CHECK(st->source_rate >= 1 && st->source_channels >= 1);
	FUZZ_CHECK(st->source_duration_s > 0.0);
	FUZZ_CHECK(st->trimmed_s >= 0.0);
	FUZZ_CHECK(st->clipped_pct >= 0.0 && st->clipped_pct <= 100.0);
	FUZZ_CHECK(memchr(st->source_format, '\0', sizeof(st->source_format)) !=
		   NULL);
}

int fuzz_audio_one(const uint8_t *data, size_t size)
{
	struct process_settings s = audio_settings();
	struct clip_stats st;
	float *samples = NULL;
	size_t frames = 0;
	char path[64], err[256] = "";
	int fd, r;

	fd = fuzz_memfile(data, size, path, sizeof(path));
	FUZZ_CHECK(fd >= 0);
	if (!audio_small(path))
		goto out;
	r = process_file(path, &s, &samples, &frames, &st, err, sizeof(err));
	if (r == 0) {
		audio_check(&s, samples, frames, &st);
		free(samples);
	} else {
		FUZZ_CHECK(r == -EINVAL || r == -ENODATA || r == -EFBIG ||
			   r == -EIO || r == -ENOMEM);
		FUZZ_CHECK(err[0] != '\0');
		FUZZ_CHECK(samples == NULL);
	}
out:
	close(fd);
	return 0;
}

#ifndef FUZZ_NO_ENTRY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_audio_one(data, size);
}
#endif
