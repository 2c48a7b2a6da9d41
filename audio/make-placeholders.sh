#!/bin/sh
# Synthesizes the placeholder recordings (espeak-ng) for every script in
# the library whose language has a voice in voices.txt, as
# <message>.placeholder.opus, and the shared attention chime
# (_shared/chime.opus, with sox).
#
# Usage: sh audio/make-placeholders.sh [AUDIO_DIR]   (or: make placeholders)
#
# Reproducible: the same espeak-ng, sox and opus-tools versions give the
# same bytes (fixed Ogg serial, sox -R, no date or encoder tags that vary).
# A human recording always wins: the library plays <message>.<ext> before
# <message>.placeholder.<ext>, and this script does not make a placeholder
# for a message that already has a human recording.
set -eu
dir=${1:-$(dirname "$0")}
for tool in espeak-ng opusenc sox; do
	command -v "$tool" >/dev/null || {
		echo "make-placeholders: $tool is missing; apt-get install espeak-ng opus-tools sox" >&2
		exit 1
	}
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

encode() { # WAV OUT
	opusenc --quiet --serial 1 --bitrate 32 --discard-comments \
		"$1" "$tmp/out.opus"
	mv "$tmp/out.opus" "$2"
	echo "$2"
}

# The chime: two soft sine notes, G5 then D5 ("ding-dong").
mkdir -p "$dir/_shared"
sox -R -n -r 48000 -b 16 -c 1 "$tmp/a.wav" synth 0.45 sine 784 \
	fade q 0.01 0.45 0.38 vol 0.5
sox -R -n -r 48000 -b 16 -c 1 "$tmp/b.wav" synth 0.75 sine 587.3 \
	fade q 0.01 0.75 0.65 vol 0.5
sox -R "$tmp/a.wav" "$tmp/b.wav" "$tmp/chime.wav"
encode "$tmp/chime.wav" "$dir/_shared/chime.opus"

grep -v '^#' "$dir/voices.txt" | while read -r lang voice; do
	[ -n "$lang" ] || continue
	for txt in "$dir/$lang"/*.txt; do
		name=$(basename "$txt" .txt)
		human=
		for f in "$dir/$lang/$name".*; do
			case $f in
			*.txt | *.placeholder.*) ;;
			*) [ -e "$f" ] && human=$f ;;
			esac
		done
		if [ -n "$human" ]; then
			echo "keeping human recording $human" >&2
			continue
		fi
		# Slightly slow and low-pitched: easier to follow outdoors.
		espeak-ng -v "$voice" -s 145 -p 40 -w "$tmp/$name.wav" -f "$txt"
		encode "$tmp/$name.wav" "$dir/$lang/$name.placeholder.opus"
	done
done
