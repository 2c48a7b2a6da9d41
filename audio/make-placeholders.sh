#!/bin/sh
# Synthesizes the placeholder recordings (espeak-ng) for every script
# in the library whose language has a voice in voices.txt, as Ogg Opus.
# Every file it writes carries a PLACEHOLDER tag; README.md lists them.
# Human recordings replace these (delete the .opus, drop the new file in).
#
# Usage: sh audio/make-placeholders.sh [AUDIO_DIR]
# Reproducible: same espeak-ng and opus-tools versions give the same
# bytes (fixed Ogg serial, no date or encoder tags that vary).
set -eu
dir=${1:-$(dirname "$0")}
for tool in espeak-ng opusenc; do
	command -v "$tool" >/dev/null || {
		echo "make-placeholders: $tool is missing; apt-get install espeak-ng opus-tools" >&2
		exit 1
	}
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
grep -v '^#' "$dir/voices.txt" | while read -r lang voice; do
	[ -n "$lang" ] || continue
	for txt in "$dir/$lang"/*.txt; do
		name=$(basename "$txt" .txt)
		out="$dir/$lang/$name.opus"
		# Never replace a human recording: another file for this
		# message, or an .opus without our tag, is one.
		human=
		for f in "$dir/$lang/$name".*; do
			case $f in
			*.txt | *.opus) ;;
			*) [ -e "$f" ] && human=$f ;;
			esac
		done
		if [ -e "$out" ] && ! grep -q PLACEHOLDER= "$out"; then
			human=$out
		fi
		if [ -n "$human" ]; then
			echo "keeping human recording $human" >&2
			continue
		fi
		# Slightly slow and low-pitched: easier to follow outdoors.
		espeak-ng -v "$voice" -s 145 -p 40 -w "$tmp/$name.wav" -f "$txt"
		opusenc --quiet --serial 1 --bitrate 32 --discard-comments \
			--comment "PLACEHOLDER=espeak-ng $voice" \
			"$tmp/$name.wav" "$tmp/$name.opus"
		mv "$tmp/$name.opus" "$out"
		echo "$out"
	done
done
