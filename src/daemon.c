#include "daemon.h"

#include <alsa/asoundlib.h>
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <termios.h>
#include <unistd.h>

#include "action.h"
#include "buttons.h"
#include "config.h"
#include "control.h"
#include "libload.h"
#include "library.h"
#include "log.h"
#include "output.h"
#include "panel.h"
#include "player.h"
#include "service.h"
#include "state.h"
#include "testsignal.h"
#include "util.h"

#define MAX_POLLFDS   (4 + CONTROL_MAX_CLIENTS + 16 + 40 + 1)
#define QUIT_GRACE_MS 800
#define SWAP_GRACE_MS 200

struct daemon {
	struct daemon_options opt;
	struct config *cfg;
	struct library *lib;
	struct clip *beep; /* bullhorn record's cue */
	void *out;
	struct player *player;
	struct control *control;
	struct buttons *buttons;
	struct panel *panel;
	struct service *svc;
	size_t lib_problems; /* the LED shows a fault */
	struct state state;
	int sig_fd;
	bool quit;
	int64_t quit_deadline;
	bool swap_pending; /* [audio] changed: new player once quiet */
	int64_t swap_deadline;
	bool state_dirty; /* saved when playback ends, not mid-sound */
	bool keys_on;
	bool tio_saved;
	struct termios tio;
};

static struct output_params params_of(const struct config *c)
{
	return (struct output_params){
	    .device = c->device,
	    .rate = c->rate,
	    .channels = c->channels,
	    .buffer_ms = c->buffer_ms,
	    .period_ms = c->period_ms,
	};
}

static struct player_config player_config_of(const struct config *c)
{
	return (struct player_config){
	    .rate = c->rate,
	    .gap_s = c->gap_s,
	    .loop_limit_s = c->loop_limit_s,
	};
}

static struct config *load_config(const char *path)
{
	struct strv errors = {0};
	struct config *cfg = NULL;

	if (config_load(path, &cfg, &errors) < 0) {
		for (size_t i = 0; i < errors.n; i++)
			log_err("%s", errors.v[i]);
		log_err("%s: %zu mistake%s; fix %s and try again", path,
			errors.n, errors.n == 1 ? "" : "s",
			errors.n == 1 ? "it" : "them");
	}
	strv_clear(&errors);
	return cfg;
}

static void library_progress(void *data)
{
	service_progress(data);
}

/* While a sound plays, the scan runs on a thread and this loop keeps
 * only the player (and the watchdog) going until it is done: requests
 * and buttons wait, as they do for a scan at idle, but the sound does not
 * run dry. NULL when the scan could not run (problems says why). */
static struct library *open_while_playing(struct player *p, struct service *svc,
					  struct library_opts *o,
					  const struct process_settings *s,
					  struct strv *problems)
{
	struct pollfd fds[17];
	struct libload *j;

	o->progress = NULL;
	j = libload_start(o, s);
	if (!j)
		return library_open(o, s, problems);
	for (;;) {
		int n = player_pollfds(p, fds + 1, 16);

		fds[0] = (struct pollfd){.fd = libload_fd(j), .events = POLLIN};
		if (poll(fds, (nfds_t)n + 1, 1000) < 0 && errno != EINTR)
			break;
		player_dispatch(p, fds + 1, n);
		service_progress(svc);
		if (fds[0].revents & POLLIN)
			break;
	}
	return libload_finish(j, problems);
}

static struct library *load_library(const struct config *cfg,
				    struct service *svc, struct player *playing,
				    size_t *nproblems)
{
	struct process_settings s = config_processing(cfg);
	struct library_opts o = {.root = cfg->library,
				 .overlay = cfg->recordings,
				 .cache_dir = cfg->cache,
				 .progress = library_progress,
				 .progress_data = svc};
	struct strv problems = {0};
	struct library_stats st;
	struct library *lib;
	int64_t t0 = now_ns();

	lib = playing && player_is_playing(playing)
		  ? open_while_playing(playing, svc, &o, &s, &problems)
		  : library_open(&o, &s, &problems);
	for (size_t i = 0; i < problems.n; i++)
		log_warn("%s", problems.v[i]);
	*nproblems = problems.n;
	strv_clear(&problems);
	if (!lib)
		return NULL;
	library_get_stats(lib, &st);
	log_info("library %s: %zu recording%s ready (%zu from cache, %zu "
		 "processed, %zu skipped) in %.0f ms",
		 cfg->library, st.clips, st.clips == 1 ? "" : "s",
		 st.from_cache, st.processed, st.skipped,
		 (double)(now_ns() - t0) / 1e6);
	for (size_t i = 0; i < cfg->languages.n; i++)
		if (!strv_contains(library_languages(lib), cfg->languages.v[i]))
			log_warn("language '%s' is configured but has no "
				 "recordings in %s; presses fall back to "
				 "another language",
				 cfg->languages.v[i], cfg->library);
	return lib;
}

/* A short 880 Hz cue for bullhorn record, at the library's loudness. */
static struct clip *make_beep(const struct config *cfg)
{
	struct process_settings s = config_processing(cfg);
	size_t n = cfg->rate * 15 / 100, frames;
	struct clip_stats st;
	float *tone = malloc(n * sizeof(float)), *out = NULL;
	struct clip *c = NULL;
	char err[128];

	if (!tone)
		return NULL;
	for (size_t i = 0; i < n; i++)
		tone[i] = (float)(0.5 * sin(2 * M_PI * 880.0 * (double)i /
					    cfg->rate));
	s.trim_db = 0;
	if (process_buffer(tone, n, 1, cfg->rate, &s, &out, &frames, &st, err,
			   sizeof(err)) == 0) {
		c = clip_new_owned(out, frames, cfg->rate, &st);
		if (!c)
			free(out);
	}
	free(tone);
	return c;
}

static int rewind_mode(const struct config *c)
{
	return strcmp(c->rewind, "yes") == 0  ? PLAYER_REWIND_YES
	       : strcmp(c->rewind, "no") == 0 ? PLAYER_REWIND_NO
					      : PLAYER_REWIND_AUTO;
}

static void save_state(struct daemon *d);

/* Switches the amp on for a sound about to start; returns the silence
 * to put before it while the amp warms up. */
static double amp_lead(struct daemon *d)
{
	double s = d->panel ? panel_amp_want(d->panel) : 0;

	if (s > 0)
		log_debug("amplifier on: sound starts after its %.0f ms "
			  "warm-up",
			  s * 1e3);
	return s;
}

static void on_player_event(void *data, enum player_event ev, int err,
			    const struct clip *c, const char *detail)
{
	struct daemon *d = data;
	const char *dev = d->cfg->device;

	switch (ev) {
	case PLAYER_DEVICE_OPENED:
		log_info("sound device '%s' ready (%s)", dev, detail);
		break;
	case PLAYER_DEVICE_FAILED:
		log_err(
		    "sound device '%s' cannot be opened (%s); is it plugged "
		    "in, and is [audio] device in %s right (bullhorn "
		    "devices lists them)? Retrying in the background",
		    dev, strerror(-err), d->cfg->path);
		break;
	case PLAYER_DEVICE_LOST:
		log_err("sound device '%s' went away (%s); retrying in the "
			"background",
			dev, strerror(-err));
		break;
	case PLAYER_XRUN:
		log_warn("sound device '%s' ran dry (underrun); recovered",
			 dev);
		break;
	case PLAYER_SUSPENDED:
		log_warn("sound device '%s' was suspended; resuming", dev);
		break;
	case PLAYER_STALLED:
		log_warn("sound device '%s' stalled: it has taken no audio for "
			 "%d s; waiting for it",
			 dev, PLAYER_STALL_MS / 1000);
		break;
	case PLAYER_UNSTALLED:
		log_info("sound device '%s' takes audio again", dev);
		break;
	case PLAYER_CLIP_STARTED:
		log_info("playing %s (%s)", c->message, c->language);
		break;
	case PLAYER_LOOP_LIMIT:
		log_info("loop reached loop_limit_s (%.0f s); ending after "
			 "this clip",
			 d->cfg->loop_limit_s);
		break;
	case PLAYER_FINISHED:
		log_debug("sequence finished");
		break;
	case PLAYER_IDLE:
		log_debug("idle");
		if (d->panel)
			panel_amp_idle(d->panel);
		if (d->state_dirty)
			save_state(d);
		break;
	}
}

/* Saves now when nothing plays; otherwise when playback ends, so no
 * fsync ever competes with the sound (PLAYER_IDLE, and at exit). */
static void save_state(struct daemon *d)
{
	int r;

	if (!d->player || !player_is_idle(d->player)) {
		d->state_dirty = true;
		return;
	}
	d->state_dirty = false;
	r = state_save(d->cfg->state, &d->state);

	if (r < 0)
		log_err("cannot save volume and language to %s (%s); they "
			"will be forgotten at the next start",
			d->cfg->state, strerror(-r));
}

/* The clip of message in lang, or the first fallback language that has
 * it: the next configured ones, then any. */
static struct clip *resolve(struct daemon *d, const char *message,
			    const char *lang)
{
	const struct strv *langs = &d->cfg->languages;
	const struct strv *have = library_languages(d->lib);
	struct clip *c = library_find(d->lib, lang, message);
	size_t start = 0;

	if (c)
		return c;
	for (size_t i = 0; i < langs->n; i++)
		if (strcmp(langs->v[i], lang) == 0)
			start = i + 1;
	for (size_t k = 0; k < langs->n; k++) {
		c = library_find(d->lib, langs->v[(start + k) % langs->n],
				 message);
		if (c)
			return c;
	}
	for (size_t i = 0; i < have->n; i++) {
		c = library_find(d->lib, have->v[i], message);
		if (c)
			return c;
	}
	return NULL;
}

/* Pauses inside a sequence: after the chime, and after a language's
 * name, before the words it announces. */
#define PAUSE_AFTER_CHIME_S 0.3
#define PAUSE_AFTER_NAME_S  0.4

struct seq {
	struct player_entry e[PLAYER_MAX_ITEMS / 2];
	size_t n;
	double pause; /* before the next entry */
};

static void seq_add(struct seq *s, struct clip *c, double pause_after)
{
	if (!c || s->n == ARRAY_SIZE(s->e))
		return;
	s->e[s->n++] = (struct player_entry){c, s->pause};
	s->pause = pause_after;
}

static void run_play(struct daemon *d, const struct action *a, char *reply,
		     size_t len)
{
	const char *lang = a->language[0] ? a->language : d->state.language;
	struct clip *msgs[PLAYER_MAX_ITEMS / 4];
	struct seq s = {.n = 0};
	size_t n = 0, off;
	int r;

	if (a->all) {
		for (size_t i = 0;
		     i < d->cfg->languages.n && n < ARRAY_SIZE(msgs); i++) {
			struct clip *c = library_find(
			    d->lib, d->cfg->languages.v[i], a->message);

			if (c)
				msgs[n++] = c;
			else
				log_warn(
				    "%s: no recording in '%s'; left out of "
				    "'all'",
				    a->message, d->cfg->languages.v[i]);
		}
		if (n == 0 && (msgs[0] = resolve(d, a->message, lang)))
			n = 1;
	} else if ((msgs[0] = resolve(d, a->message, lang))) {
		n = 1;
		if (strcmp(msgs[0]->language, lang) != 0)
			log_warn(
			    "%s: no recording in '%s'; playing '%s' instead",
			    a->message, lang, msgs[0]->language);
	}
	if (n == 0) {
		snprintf(reply, len,
			 "error: no recording of '%s' in any language; see "
			 "bullhorn status for what there is",
			 a->message);
		log_warn("%s: no recording in any language; nothing to play",
			 a->message);
		return;
	}
	s.pause = amp_lead(d);
	if (d->cfg->chime) {
		struct clip *chime =
		    library_find(d->lib, LIBRARY_SHARED, LIBRARY_CHIME);

		if (chime)
			seq_add(&s, chime, PAUSE_AFTER_CHIME_S);
		else
			log_warn("chime is on but %s/%s/%s.* is missing",
				 d->cfg->library, LIBRARY_SHARED,
				 LIBRARY_CHIME);
	}
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			s.pause = d->cfg->gap_s;
		if (a->all && d->cfg->speak_language)
			seq_add(&s,
				library_find(d->lib, msgs[i]->language,
					     LIBRARY_LANGUAGE_NAME),
				PAUSE_AFTER_NAME_S);
		seq_add(&s, msgs[i], 0);
	}
	r = player_start(d->player, s.e, s.n, a->type == ACTION_LOOP);
	if (r < 0) {
		if (d->panel && player_is_idle(d->player))
			panel_amp_idle(d->panel);
		snprintf(reply, len, "error: cannot start playback (%s)",
			 strerror(-r));
		return;
	}
	off = (size_t)snprintf(reply, len, "ok %s %s",
			       a->type == ACTION_LOOP ? "looping" : "playing",
			       a->message);
	for (size_t i = 0; i < n && off < len; i++)
		off += (size_t)snprintf(reply + off, len - off, " %s",
					msgs[i]->language);
	if (!player_device_ok(d->player) && off < len)
		snprintf(reply + off, len - off,
			 " (no sound device yet: plays when it appears)");
}

static void run_next_language(struct daemon *d, char *reply, size_t len)
{
	const struct strv *langs = &d->cfg->languages;
	size_t next = 0;
	struct clip *name;

	for (size_t i = 0; i < langs->n; i++)
		if (strcmp(langs->v[i], d->state.language) == 0)
			next = (i + 1) % langs->n;
	snprintf(d->state.language, sizeof(d->state.language), "%s",
		 langs->v[next]);
	log_info("active language is now '%s'", d->state.language);
	name = library_find(d->lib, d->state.language, LIBRARY_LANGUAGE_NAME);
	if (name) {
		struct player_entry e = {name, amp_lead(d)};

		player_start(d->player, &e, 1, false);
	} else
		log_warn("'%s' has no spoken name (%s/%s/%s.*); switched "
			 "silently",
			 d->state.language, d->cfg->library, d->state.language,
			 LIBRARY_LANGUAGE_NAME);
	/* After the start: saved once the name has been spoken. */
	save_state(d);
	snprintf(reply, len, "ok language %s", d->state.language);
}

static void run_volume(struct daemon *d, const struct action *a, char *reply,
		       size_t len)
{
	int v = (int)d->state.volume;
	int max = (int)d->cfg->max_volume;

	if (a->volume_mode == VOLUME_UP)
		v += a->volume;
	else if (a->volume_mode == VOLUME_DOWN)
		v -= a->volume;
	else
		v = a->volume;
	if (v < 0)
		v = 0;
	if (v > max)
		v = max;
	if ((unsigned)v != d->state.volume) {
		d->state.volume = (unsigned)v;
		player_set_volume(d->player, d->state.volume);
		save_state(d);
		log_info("volume %d", v);
	}
	snprintf(reply, len, "ok volume %d%s", v,
		 v == max && a->volume_mode != VOLUME_DOWN && max < 100
		     ? " (capped by max_volume)"
		     : "");
}

/* "test-speaker tone|pink LEVEL_DBFS SECONDS": a wiring and level
 * check through the kit's own device, volume and amplifier. */
static void run_test_speaker(struct daemon *d, const char *args, char *reply,
			     size_t len)
{
	struct process_settings s = config_processing(d->cfg);
	char kind_w[16], level_w[32], secs_w[32], extra, err[160];
	enum testsignal_kind kind;
	double level, secs, gain_db;
	struct player_entry e;
	struct clip *c;
	int r;

	if (sscanf(args, "%15s %31s %31s %c", kind_w, level_w, secs_w,
		   &extra) != 3 ||
	    testsignal_parse_kind(kind_w, &kind) < 0 ||
	    parse_double(level_w, TESTSIGNAL_MIN_DBFS, TESTSIGNAL_MAX_DBFS,
			 &level) < 0 ||
	    parse_double(secs_w, 0.1, TESTSIGNAL_MAX_S, &secs) < 0) {
		snprintf(reply, len,
			 "error: test-speaker takes tone|pink, a level of %.0f "
			 "to %.0f dBFS and 0.1 to %.0f seconds",
			 TESTSIGNAL_MIN_DBFS, TESTSIGNAL_MAX_DBFS,
			 TESTSIGNAL_MAX_S);
		return;
	}
	r = testsignal_make(kind, level, secs, &s, &c, err, sizeof(err));
	if (r < 0) {
		snprintf(reply, len, "error: %s", err);
		return;
	}
	e = (struct player_entry){c, amp_lead(d)};
	r = player_start(d->player, &e, 1, false);
	clip_unref(c);
	if (r < 0) {
		snprintf(reply, len, "error: cannot start playback (%s)",
			 strerror(-r));
		return;
	}
	/* The volume's cubic curve applies, as to announcements. */
	gain_db =
	    d->state.volume ? 60.0 * log10(d->state.volume / 100.0) : -HUGE_VAL;
	log_info("test-speaker: %s at %.1f dBFS for %.1f s", kind_w, level,
		 secs);
	snprintf(reply, len,
		 "ok test-speaker %s %.1f dBFS for %.1f s; at volume %u the "
		 "output peaks at %.1f dBFS%s",
		 kind_w, level, secs, d->state.volume,
		 (level < s.ceiling_dbtp ? level : s.ceiling_dbtp) + gain_db,
		 player_device_ok(d->player) ? "" : " (no sound device yet)");
}

static void run_status(struct daemon *d, char *reply, size_t len)
{
	const struct clip *c = player_current(d->player);
	struct library_stats st;

	library_get_stats(d->lib, &st);
	snprintf(reply, len,
		 "ok state=%s device=%s language=%s volume=%u max_volume=%u "
		 "recordings=%zu now=%s%s%s led=%s amp=%s faults=%zu",
		 player_is_playing(d->player) ? "playing" : "idle",
		 player_device_ok(d->player) ? "ready" : "missing",
		 d->state.language, d->state.volume, d->cfg->max_volume,
		 st.clips, c ? c->message : "-", c ? "/" : "",
		 c ? c->language : "", led_mode_name(panel_mode(d->panel)),
		 panel_amp_on(d->panel) ? "on" : "off",
		 buttons_faults(d->buttons) + panel_faults(d->panel));
}

static void apply_state(struct daemon *d)
{
	const struct strv *langs = &d->cfg->languages;

	if (d->state.volume > d->cfg->max_volume)
		d->state.volume = d->cfg->max_volume;
	if (!strv_contains(langs, d->state.language))
		snprintf(d->state.language, sizeof(d->state.language), "%s",
			 langs->v[0]);
	player_set_volume(d->player, d->state.volume);
}

/* A new player on the reloaded [audio] settings, once the old one is
 * quiet (or its grace ran out). */
static void swap_player(struct daemon *d)
{
	struct output_params op = params_of(d->cfg);
	struct player_config pc = player_config_of(d->cfg);
	struct player *p;

	p = player_new(&output_alsa_ops, d->out, &op, &pc, on_player_event, d);
	if (!p) {
		/* The old player stays; the switch is retried later. */
		log_err("out of memory while switching sound settings");
		return;
	}
	d->swap_pending = false;
	/* Both share the one output: the old one closes it first. */
	player_free(d->player);
	d->player = p;
	player_set_rewind(p, rewind_mode(d->cfg));
	player_set_volume(p, d->state.volume);
	player_open_device(p);
}

static void on_buttons(void *data, const struct buttons_event *ev);
static void on_panel(void *data, const char *problem);

/* Buttons are requested afresh on every reload (a line fixed in the
 * config or rewired is picked up); the LED and amp only when their lines
 * changed, so a reload never cuts the amp under a sound. */
static int kit_reload(struct daemon *d)
{
	struct buttons *b;

	buttons_free(d->buttons);
	d->buttons = NULL;
	b = buttons_new(d->cfg, on_buttons, d);
	if (!b)
		return -ENOMEM;
	d->buttons = b;
	if (d->panel && panel_same_lines(d->panel, d->cfg)) {
		panel_configure(d->panel, d->cfg);
		return 0;
	}
	panel_free(d->panel);
	d->panel = panel_new(d->cfg, on_panel, d);
	return d->panel ? 0 : -ENOMEM;
}

static int reload_config(struct daemon *d, char *reply, size_t len);

/* RELOADING=1, then READY=1 whether or not the new config was taken:
 * systemd waits for the second. */
static int reload(struct daemon *d, char *reply, size_t len)
{
	int r;

	service_reloading(d->svc);
	r = reload_config(d, reply, len);
	service_ready(d->svc);
	return r;
}

static int reload_config(struct daemon *d, char *reply, size_t len)
{
	struct config *cfg = load_config(d->opt.config_path);
	struct output_params np, op;
	struct library *lib;
	struct player_config pc;
	size_t nproblems = 0;
	bool audio_changed;

	if (!cfg) {
		snprintf(reply, len,
			 "error: %s has mistakes (see the log or run bullhorn "
			 "check); still running on the old config",
			 d->opt.config_path);
		return -EINVAL;
	}
	lib = load_library(cfg, d->svc, d->player, &nproblems);
	if (!lib) {
		snprintf(reply, len,
			 "error: library %s cannot be read; still running on "
			 "the old config",
			 cfg->library);
		config_free(cfg);
		return -EIO;
	}
	if (strcmp(cfg->socket, d->cfg->socket) != 0)
		log_warn("[paths] socket changed to %s; it takes effect at the "
			 "next start",
			 cfg->socket);
	np = params_of(cfg);
	op = params_of(d->cfg);
	pc = player_config_of(cfg);
	/* Compared before the old config (which op points into) is freed. */
	audio_changed = strcmp(np.device, op.device) != 0 ||
			np.rate != op.rate || np.channels != op.channels ||
			np.buffer_ms != op.buffer_ms ||
			np.period_ms != op.period_ms;
	config_free(d->cfg);
	d->cfg = cfg;
	if (audio_changed) {
		/* The new device settings take over once what plays has
		 * faded out: never a cut mid-sample. */
		player_stop(d->player);
		d->swap_pending = true;
		d->swap_deadline = now_ns() + SWAP_GRACE_MS * 1000000LL;
	} else {
		player_configure(d->player, &pc);
		player_set_rewind(d->player, rewind_mode(d->cfg));
	}
	library_free(d->lib);
	d->lib = lib;
	d->lib_problems = nproblems;
	kit_reload(d);
	clip_unref(d->beep);
	d->beep = make_beep(d->cfg);
	apply_state(d);
	log_info("reloaded %s", d->cfg->path);
	snprintf(reply, len, "ok reloaded");
	return 0;
}

void daemon_request(void *data, const char *line, char *reply, size_t reply_len)
{
	struct daemon *d = data;
	char err[256];
	struct action a;

	while (*line == ' ' || *line == '\t')
		line++;
	if (d->swap_pending)
		swap_player(d);
	if (strcmp(line, "status") == 0) {
		run_status(d, reply, reply_len);
		return;
	}
	if (strcmp(line, "reload") == 0) {
		reload(d, reply, reply_len);
		return;
	}
	if (strcmp(line, "ping") == 0) {
		snprintf(reply, reply_len, "ok pong");
		return;
	}
	if (strncmp(line, "test-speaker", 12) == 0 &&
	    (line[12] == ' ' || line[12] == '\0')) {
		run_test_speaker(d, line + 12, reply, reply_len);
		return;
	}
	if (strcmp(line, "beep") == 0) {
		struct player_entry e = {d->beep, 0};

		e.pause_s = d->beep ? amp_lead(d) : 0;
		if (!d->beep || player_start(d->player, &e, 1, false) < 0)
			snprintf(reply, reply_len, "error: no beep");
		else
			snprintf(reply, reply_len, "ok beep");
		return;
	}
	if (action_parse(line, &a, err, sizeof(err)) < 0) {
		snprintf(reply, reply_len, "error: %s", err);
		return;
	}
	if (d->quit && a.type != ACTION_STOP) {
		snprintf(reply, reply_len, "error: bullhornd is shutting down");
		return;
	}
	switch (a.type) {
	case ACTION_PLAY:
	case ACTION_LOOP:
		run_play(d, &a, reply, reply_len);
		break;
	case ACTION_STOP:
		player_stop(d->player);
		log_info("stop");
		snprintf(reply, reply_len, "ok stopped");
		break;
	case ACTION_NEXT_LANGUAGE:
		run_next_language(d, reply, reply_len);
		break;
	case ACTION_VOLUME:
		run_volume(d, &a, reply, reply_len);
		break;
	}
}

static void on_buttons(void *data, const struct buttons_event *ev)
{
	struct daemon *d = data;
	char reply[512];

	switch (ev->kind) {
	case BUTTONS_PROBLEM:
		log_err("%s", ev->text);
		return;
	case BUTTONS_CONNECTED:
	case BUTTONS_DISCONNECTED:
		log_info("%s", ev->text);
		return;
	case BUTTONS_INPUT:
		break;
	}
	if (!ev->action) {
		log_debug("%s: %s (%s)", ev->source, button_event_name(ev->ev),
			  ev->where);
		return;
	}
	log_info("%s: %s -> %s", ev->source, button_event_name(ev->ev),
		 ev->action);
	daemon_request(d, ev->action, reply, sizeof(reply));
	if (strncmp(reply, "error", 5) == 0)
		log_warn("%s: %s", ev->source, reply);
	/* The kernel stamped the edge: this is the whole press-to-sound
	 * path except the device's own buffer. */
	log_debug("%s: handled %.2f ms after the edge (%s)", ev->source,
		  (double)(now_ns() - ev->edge_ns) / 1e6, ev->where);
}

static void on_panel(void *data, const char *problem)
{
	(void)data;
	log_err("%s", problem);
}

static bool faulty(const struct daemon *d)
{
	return !player_device_ok(d->player) || d->lib_problems > 0 ||
	       buttons_faults(d->buttons) > 0 || panel_faults(d->panel) > 0;
}

/* The line `systemctl status bullhorn` shows; sent only when it
 * changes. */
static void report_status(struct daemon *d)
{
	const struct clip *c = player_current(d->player);
	size_t faults = buttons_faults(d->buttons) + panel_faults(d->panel);

	service_status(
	    d->svc, "%s%s%s%s; language %s, volume %u%s%s",
	    c ? "playing " : "ready", c ? c->message : "", c ? "/" : "",
	    c ? c->language : "", d->state.language, d->state.volume,
	    player_device_ok(d->player) ? "" : "; NO SOUND DEVICE",
	    faults ? "; a configured line is missing (see log)" : "");
}

static int setup_signals(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -errno;
	signal(SIGPIPE, SIG_IGN);
	return signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}

static void keys_start(struct daemon *d)
{
	struct termios raw;

	d->keys_on = true;
	if (tcgetattr(d->opt.keys_fd, &d->tio) == 0) {
		raw = d->tio;
		raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
		raw.c_cc[VMIN] = 1;
		raw.c_cc[VTIME] = 0;
		if (tcsetattr(d->opt.keys_fd, TCSANOW, &raw) == 0)
			d->tio_saved = true;
	}
	log_info("keys: press 0-9 for the [keys] actions, q to quit");
	for (int k = 0; k < CONFIG_MAX_KEYS; k++)
		if (d->cfg->keys[k])
			log_info("  %d = %s", k, d->cfg->keys[k]);
}

static void keys_read(struct daemon *d)
{
	char buf[64], reply[512];
	ssize_t n = read(d->opt.keys_fd, buf, sizeof(buf));

	if (n <= 0) {
		if (n == 0 || (errno != EAGAIN && errno != EINTR))
			d->keys_on = false; /* stdin closed: keep running */
		return;
	}
	for (ssize_t i = 0; i < n; i++) {
		int k = buf[i] - '0';

		if (buf[i] == 'q') {
			kill(getpid(), SIGTERM);
			return;
		}
		if (k < 0 || k >= CONFIG_MAX_KEYS || !d->cfg->keys[k])
			continue;
		log_info("key %d: %s", k, d->cfg->keys[k]);
		daemon_request(d, d->cfg->keys[k], reply, sizeof(reply));
		if (strncmp(reply, "error", 5) == 0)
			log_warn("key %d: %s", k, reply);
	}
}

/* alsa-lib prints its own lines on every failed open (a dozen per retry
 * while no card is there); the daemon says what matters in one line of
 * its own, so alsa-lib's go to the debug level. */
static void alsa_error(const char *file, int line, const char *function,
		       int err, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static void alsa_error(const char *file, int line, const char *function,
		       int err, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_debug("alsa-lib %s:%d (%s): %s%s%s", file, line, function, msg,
		  err ? ": " : "", err ? snd_strerror(err) : "");
}

struct daemon *daemon_new(const struct daemon_options *opt)
{
	struct daemon *d = calloc(1, sizeof(*d));
	struct output_params op;
	struct player_config pc;
	int r;

	if (!d)
		return NULL;
	d->opt = *opt;
	d->sig_fd = -1;
	d->svc = service_new();
	if (!d->svc) {
		free(d);
		return NULL;
	}
	snd_lib_error_set_handler(alsa_error);
	d->cfg = load_config(opt->config_path);
	if (!d->cfg)
		goto fail;
	d->sig_fd = setup_signals();
	if (d->sig_fd < 0) {
		log_err("cannot set up signal handling (%s)",
			strerror(-d->sig_fd));
		goto fail;
	}
	d->lib = load_library(d->cfg, d->svc, NULL, &d->lib_problems);
	if (!d->lib)
		goto fail;
	d->beep = make_beep(d->cfg);
	d->state.volume = d->cfg->volume;
	r = atomic_write_leftovers_remove(d->cfg->state);
	if (r > 0)
		log_info("removed %d temp file%s of %s that a power cut or a "
			 "kill left mid-save",
			 r, r == 1 ? "" : "s", d->cfg->state);
	r = state_load(d->cfg->state, &d->state);
	if (r < 0 && r != -ENOENT)
		log_warn("%s: saved state is damaged (%s); using what could be "
			 "read and the config's defaults",
			 d->cfg->state, strerror(-r));
	d->out = output_alsa_new();
	op = params_of(d->cfg);
	pc = player_config_of(d->cfg);
	d->player = d->out ? player_new(&output_alsa_ops, d->out, &op, &pc,
					on_player_event, d)
			   : NULL;
	if (!d->player) {
		log_err("out of memory");
		goto fail;
	}
	apply_state(d);
	{
		char *dir = path_dirname(d->cfg->socket);

		/* Failure shows up, with its reason, at bind just below. */
		if (dir)
			mkdir_p(dir, 0755);
		free(dir);
	}
	r = control_new(d->cfg->socket, daemon_request, d, &d->control);
	if (r < 0) {
		log_err("control socket %s: %s%s", d->cfg->socket, strerror(-r),
			r == -EADDRINUSE ? "; another bullhornd is running "
					   "(stop it first)"
			: r == -EEXIST	 ? "; a file that is not a socket is "
					   "there: check [paths] socket"
					 : "; check [paths] socket");
		goto fail;
	}
	player_set_rewind(d->player, rewind_mode(d->cfg));
	player_open_device(d->player);
	if (kit_reload(d) < 0) {
		log_err("out of memory");
		goto fail;
	}
	if (opt->keys)
		keys_start(d);
	log_info("ready: language %s, volume %u, socket %s", d->state.language,
		 d->state.volume, d->cfg->socket);
	service_ready(d->svc);
	return d;
fail:
	daemon_free(d);
	return NULL;
}

void daemon_free(struct daemon *d)
{
	if (!d)
		return;
	if (d->tio_saved)
		tcsetattr(d->opt.keys_fd, TCSANOW, &d->tio);
	buttons_free(d->buttons);
	panel_free(d->panel);
	control_free(d->control);
	player_free(d->player);
	output_alsa_free(d->out);
	/* The configuration alsa-lib parsed at the first open stays for the
	 * process; with no PCM left open it is released, so a leak check at
	 * exit (memcheck: 841 bytes "possibly lost") sees nothing. */
	snd_config_update_free_global();
	library_free(d->lib);
	clip_unref(d->beep);
	if (d->sig_fd >= 0)
		close(d->sig_fd);
	config_free(d->cfg);
	service_free(d->svc);
	free(d);
}

/* At most one reload per loop turn: reloading inside the read loop let
 * SIGHUPs that keep coming (each arriving during the previous reload)
 * hold the loop there while the player starved. */
static void on_signal(struct daemon *d)
{
	struct signalfd_siginfo si;
	char reply[512];
	bool hup = false;

	while (read(d->sig_fd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			hup = true;
		} else if (!d->quit) {
			log_info("%s: fading out and exiting",
				 si.ssi_signo == SIGINT ? "SIGINT" : "SIGTERM");
			d->quit = true;
			service_stopping(d->svc);
			d->quit_deadline = now_ns() + QUIT_GRACE_MS * 1000000LL;
			player_stop(d->player);
		}
	}
	if (hup) {
		log_info("SIGHUP: reloading");
		reload(d, reply, sizeof(reply));
	}
}

int daemon_run(struct daemon *d)
{
	struct pollfd fds[MAX_POLLFDS];

	for (;;) {
		int n = 0, n_ctl, n_play, n_keys = 0, n_btn, n_pan, n_svc;
		int timeout, r;

		if (d->quit &&
		    (player_is_idle(d->player) || now_ns() >= d->quit_deadline))
			break;
		if (d->swap_pending &&
		    (player_is_idle(d->player) || now_ns() >= d->swap_deadline))
			swap_player(d);
		fds[n++] = (struct pollfd){.fd = d->sig_fd, .events = POLLIN};
		n_ctl =
		    control_pollfds(d->control, fds + n, MAX_POLLFDS - n - 17);
		n += n_ctl;
		n_play = player_pollfds(d->player, fds + n, 16);
		n += n_play;
		panel_show(d->panel, led_mode_for(player_is_playing(d->player),
						  faulty(d)));
		n_btn = buttons_pollfds(d->buttons, fds + n, 40);
		n += n_btn;
		n_pan = panel_pollfds(d->panel, fds + n, 1);
		n += n_pan;
		n_svc = service_pollfds(d->svc, fds + n, 1);
		n += n_svc;
		report_status(d);
		if (d->keys_on) {
			fds[n++] = (struct pollfd){.fd = d->opt.keys_fd,
						   .events = POLLIN};
			n_keys = 1;
		}
		/* No timeout unless a client deadline or the exit grace
		 * needs one: idle means asleep. */
		timeout = control_timeout_ms(d->control);
		if (d->quit || d->swap_pending) {
			int64_t until =
			    d->quit ? d->quit_deadline : d->swap_deadline;
			int left = (int)((until - now_ns()) / 1000000);

			if (left < 0)
				left = 0;
			if (timeout < 0 || left < timeout)
				timeout = left;
		}
		r = poll(fds, (nfds_t)n, timeout);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			log_err("poll failed (%s)", strerror(errno));
			return 1;
		}
		player_dispatch(d->player, fds + 1 + n_ctl, n_play);
		buttons_dispatch(d->buttons, fds + 1 + n_ctl + n_play, n_btn);
		panel_dispatch(d->panel, fds + 1 + n_ctl + n_play + n_btn,
			       n_pan);
		service_dispatch(
		    d->svc, fds + 1 + n_ctl + n_play + n_btn + n_pan, n_svc);
		control_dispatch(d->control, fds + 1, n_ctl);
		if (n_keys && (fds[n - 1].revents & (POLLIN | POLLHUP)))
			keys_read(d);
		if (fds[0].revents & POLLIN)
			on_signal(d);
	}
	if (d->state_dirty) {
		d->state_dirty = false;
		if (state_save(d->cfg->state, &d->state) < 0)
			log_err("cannot save volume and language to %s",
				d->cfg->state);
	}
	log_info("stopped");
	return 0;
}
