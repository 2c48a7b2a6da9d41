/* The one INI file (config/bullhorn.ini), read with inih into a typed
 * struct. Every value is range-checked; every mistake is reported as
 * "FILE:LINE: [section] key: what is wrong; what is allowed". */
#ifndef BULLHORN_CONFIG_H
#define BULLHORN_CONFIG_H

#include "action.h"
#include "gpio.h"
#include "process.h"
#include "util.h"

#define CONFIG_MAX_KEYS	       10 /* [keys] 0..9 for the --keys terminal mode */
#define CONFIG_MAX_BUTTONS     16
#define CONFIG_MAX_REMOTES     4
#define CONFIG_MAX_REMOTE_KEYS 32

/* A GPIO line as the kit sections name it. line == NULL: not set. */
struct config_gpio {
	char *chip; /* NULL: line is a name looked up on every chip */
	char *line; /* a line name, or an offset when chip is set */
	bool active_low;
	enum gpio_bias bias;
	unsigned at;	 /* the line of the file that set it, for messages */
	bool line_given; /* even if wrong: "no line given" would mislead */
};

/* [button NAME] */
struct config_button {
	char name[ACTION_NAME_MAX];
	struct config_gpio gpio;
	char *press;	      /* action on press (required) */
	char *hold;	      /* action on hold, or NULL */
	unsigned hold_ms;     /* 100..60000; default 1000 */
	unsigned debounce_ms; /* 0..1000; default 30 */
	unsigned at;	      /* the section's header line */
	bool press_given;
};

struct config_remote_key {
	unsigned code; /* KEY_* */
	char *press;   /* or NULL */
	char *hold;    /* or NULL */
	unsigned at;
};

/* [remote NAME]: an input device (keypad, presenter remote, gpio-key) */
struct config_remote {
	char name[ACTION_NAME_MAX];
	char *device; /* a path under /dev/input, or a device name */
	unsigned hold_ms;
	unsigned debounce_ms; /* default 0: devices debounce themselves */
	struct config_remote_key keys[CONFIG_MAX_REMOTE_KEYS];
	size_t nkeys;
	unsigned at;
};

struct config {
	char *path; /* the file as given */

	/* [audio] */
	char *device;	    /* ALSA PCM name; default "default" */
	unsigned rate;	    /* Hz, 8000..192000; default 48000 */
	unsigned channels;  /* 1..8; default 2 (mono is copied to each) */
	unsigned buffer_ms; /* 10..500; default 40 */
	unsigned period_ms; /* 2..buffer_ms/2; default buffer_ms/4 */
	char *rewind;	    /* "auto", "yes" or "no"; default auto */

	/* [paths], absolute after loading (relative to the file's folder) */
	char *library;
	char *recordings; /* volunteers' writable library, or NULL */
	char *cache;
	char *state;
	char *socket;

	/* [loudness] */
	double target_lufs;  /* -40..-5; default -16 */
	double ceiling_dbtp; /* -20..0; default -1 */
	double highpass_hz;  /* 0 (off) or 20..1000; default 150 */
	double trim_db;	     /* -80..0 (0 = no trimming); default -40 */
	double trim_pad_ms;  /* 0..2000; default 150 */

	/* [playback] */
	struct strv languages; /* at least one; first = active at first start */
	double gap_s;	       /* 0..60; default 1.5 */
	double loop_limit_s;   /* 0 = no limit, else 10..86400; default 600 */
	bool chime;	       /* attention chime before a message; no */
	bool speak_language;   /* 'all' says each language's name first; no */
	unsigned volume;       /* 0..100, first start only; default 80 */
	unsigned max_volume;   /* 1..100; default 100; volume <= max_volume */

	/* [record] */
	char *record_device; /* ALSA capture PCM; default "default" */
	double record_max_s; /* 1..600; default 60 */

	/* [keys]: action for terminal key '0'..'9' in bullhornd --keys */
	char *keys[CONFIG_MAX_KEYS];

	/* The kit's hardware (config_kit.c) */
	struct config_button buttons[CONFIG_MAX_BUTTONS];
	size_t nbuttons;
	struct config_remote remotes[CONFIG_MAX_REMOTES];
	size_t nremotes;
	struct config_gpio led; /* [led]; line NULL = no LED */
	struct config_gpio amp; /* [amp]; line NULL = no amp enable */
	unsigned amp_warmup_ms; /* 0..5000; default 150 */
	double amp_idle_off_s;	/* 0 = never, else 1..86400; default 60 */
};

/* A config with every default filled in and paths resolved against dir
 * (NULL = current folder). */
struct config *config_new_default(const char *dir);

/* Loads path. On success returns 0 and *out. On failure returns a negative
 * errno, *out is NULL and errors holds one line per mistake (all of them,
 * not just the first), each starting with "path:line: ". An unreadable
 * file gives one line naming the file and the reason. */
int config_load(const char *path, struct config **out, struct strv *errors);

/* The processing settings the config asks for: the one place that maps
 * config keys to the processing chain (daemon, check, render, import). */
struct process_settings config_processing(const struct config *c);

void config_free(struct config *c);

#endif
