/* bullhorn devices: the sound cards' playback and capture devices under
 * names that stay the same across reboots (hw:CARD=Headphones,DEV=0;
 * card numbers change when a USB card is plugged in), ready to put in
 * [audio] device or [record] device, plus the named PCMs of the ALSA
 * configuration (default, plugins). Nothing here logs. */
#ifndef BULLHORN_DEVICES_H
#define BULLHORN_DEVICES_H

#include <stdio.h>

/* Writes the list to out; returns the number of card devices found. */
int devices_list(FILE *out);

#endif
