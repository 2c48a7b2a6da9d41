/* The status LED's pattern, as pure logic: the daemon says what the kit
 * is doing, the LED says it to the patroller. Off when the daemon is not
 * running; on = ready; slow blink (1 Hz) = playing; fast blink (4 Hz) =
 * fault (no sound device, a configured line missing, library errors).
 * Playing wins over fault: a kit that plays is heard anyway. */
#ifndef BULLHORN_LED_H
#define BULLHORN_LED_H

#include <stdbool.h>
#include <stdint.h>

#define LED_NEVER INT64_MAX

enum led_mode { LED_OFF, LED_READY, LED_PLAYING, LED_FAULT };

struct led {
	enum led_mode mode;
	bool on;
	int64_t next_ns; /* next toggle, or LED_NEVER */
};

enum led_mode led_mode_for(bool playing, bool fault);
/* Changes the pattern; a blink starts with the LED on. No-op when the
 * mode is unchanged (a blink keeps its phase). */
void led_set(struct led *l, enum led_mode mode, int64_t now_ns);
/* Call at or after next_ns: advances the blink. */
void led_timer(struct led *l, int64_t now_ns);
const char *led_mode_name(enum led_mode mode);

#endif
