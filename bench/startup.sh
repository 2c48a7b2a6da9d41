#!/bin/sh
# bench/startup.sh: how soon bullhornd is ready after it is started, with
# a warm cache of 50 messages, and what that start is made of. Run it
# with `make bench-startup`, which builds the programs and the bhrt test
# PCM first; see bench/README.md.
#
# Environment: BENCH_STARTS (warm starts, default 10), BENCH_LANGS (the
# ten languages, default "en es cmn yue ko vi ru ar pt fr"), BENCH_EVICTED
# (starts after dropping the cache from the page cache, default 3; 0 =
# none), BENCH_KEEP=1 (keep the temp folder), BUILD (default build), CC
# (default cc).
set -u

root=$(cd "$(dirname "$0")/.." && pwd)
build=$root/${BUILD:-build}
n=${BENCH_STARTS:-10}
n_evicted=${BENCH_EVICTED:-3}
langs=${BENCH_LANGS:-en es cmn yue ko vi ru ar pt fr}
messages="rights door silent observers leave"

. "$root/bench/common.sh"

now_ns() { date +%s%N; }

# Smallest value of column $1 of file $2, in ms.
min_of() {
	awk -v c="$1" 'NR == 1 || $c < m { m = $c } END { printf "%.1f", m / 1e6 }' "$2"
}

# Median and max of column $1 of file $2, in ms.
med_max() {
	awk -v c="$1" '{ print $c / 1e6 }' "$2" | sort -n | awk '
	{ v[NR] = $1 }
	END { printf "%.1f %.1f", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2, v[NR] }'
}

# The "library ...: N recordings ready (A from cache, B processed, C
# skipped) in X ms" line of start $1 in the daemon log: "N A B C X".
lib_line() {
	awk -v want="--- start $1" '
	/^--- start / { on = ($0 == want) ; next }
	on && / recordings? ready \(/ {
		s = $0; sub(/.* ready \(/, "", s)
		split(s, w, /[ ,()]+/)
		m = $0; sub(/ recordings? ready.*/, "", m); sub(/.* /, "", m)
		x = $NF == "ms" ? $(NF - 1) : ""
		print m, w[1], w[4], w[6], x; exit
	}' "$2"
}

case $n in '' | *[!0-9]*) die "BENCH_STARTS must be a number" ;; esac
case $n_evicted in '' | *[!0-9]*) die "BENCH_EVICTED must be a number" ;; esac
[ "$n" -ge 1 ] || die "BENCH_STARTS must be at least 1"
set -- $langs
[ $# -eq 10 ] || echo "bench: $# languages, not 10: $(($# * 5)) messages" >&2
for f in bullhornd bullhorn tests/libasound_module_pcm_bhrt.so obj/util.o; do
	[ -e "$build/$f" ] || die "$build/$f is missing; run make bench-startup"
done
for tool in espeak-ng opusenc; do
	command -v "$tool" >/dev/null ||
		die "$tool is missing (apt-get install espeak-ng opus-tools)"
done

helper=$build/bench/startup
bench_compile "$root/bench/startup.c" "$helper"

tmp=$(mktemp -d /tmp/bullhorn-startup.XXXXXX) || die "no temp folder"
cfg=$tmp/bullhorn.ini
sock=$tmp/bullhorn.sock
lib=$tmp/library
cache=$tmp/cache

# The library: the repository's scripts, spoken by espeak-ng as `make
# placeholders` does, saved as a volunteer's recording (<message>.opus).
echo "bench: synthesizing $(($# * 5)) messages into $lib"
for lang in $langs; do
	voice=$(awk -v l="$lang" '$1 == l { print $2 }' "$root/audio/voices.txt")
	[ -n "$voice" ] || die "no espeak-ng voice for '$lang' in audio/voices.txt"
	mkdir -p "$lib/$lang" || die "cannot create $lib/$lang"
	for m in $messages; do
		txt=$root/audio/$lang/$m.txt
		[ -e "$txt" ] || die "$txt is missing"
		cp "$txt" "$lib/$lang/" &&
			espeak-ng -v "$voice" -s 145 -p 40 -w "$tmp/s.wav" -f "$txt" &&
			opusenc --quiet --serial 1 --bitrate 32 --discard-comments \
				"$tmp/s.wav" "$lib/$lang/$m.opus" ||
			die "cannot synthesize $lang/$m"
	done
done
rm -f "$tmp/s.wav"

cat >"$tmp/asound.conf" <<EOF
pcm_type.bhrt { lib "$build/tests/libasound_module_pcm_bhrt.so" }
pcm.speaker { type bhrt file "$tmp/out.raw" events "$tmp/events" speed 1 }
EOF
ALSA_CONFIG_PATH=$tmp/asound.conf
export ALSA_CONFIG_PATH
: >"$tmp/events"

sed -e '/^\[audio\]/,/^\[/ s|^device = .*|device = speaker|' \
    -e "s|^library = .*|library = $lib|" \
    -e "s|^cache = .*|cache = $cache|" \
    -e "s|^state = .*|state = $tmp/state|" \
    -e "s|^socket = .*|socket = $sock|" \
    "$root/config/bullhorn.ini" >"$cfg" || die "cannot write $cfg"
for k in "device = speaker" "library = $lib" "cache = $cache" "socket = $sock"; do
	grep -qx "$k" "$cfg" || die "config/bullhorn.ini changed shape: no '$k' after sed"
done

audio_s=$(for f in "$lib"/*/*.opus; do opusinfo "$f" 2>/dev/null; done |
	awk '/Playback length:/ {
		s = $3; m = 0; if (s ~ /m:/) { split(s, a, "m:"); m = a[1]; s = a[2] }
		sub(/s/, "", s); t += m * 60 + s; k++
		if (k == 1 || m * 60 + s < lo) lo = m * 60 + s
		if (m * 60 + s > hi) hi = m * 60 + s }
	END { printf "%.0f %.1f %.1f", t, lo, hi }')

# Cold: the cache is empty, the start processes every recording.
echo "bench: cold start (empty cache: processes the library)"
run "$helper" run "$sock" "$tmp/events" "$tmp/daemon.log" 1 "$tmp/cold.txt" \
	"$build/bullhornd" -c "$cfg" || die "the cold start could not be measured"
cold_lib=$(lib_line 0 "$tmp/daemon.log")
set -- $cold_lib
[ $# -eq 5 ] || die "no 'recordings ready' line in the log of the cold start"
clips=$1
[ "$3" -eq "$clips" ] || die "the cold start took $2 of $clips from the cache; was the cache empty?"

entries=$(find "$cache" -name '*.clip' | wc -l)
cache_b=$(find "$cache" -name '*.clip' -exec cat {} + | wc -c)
[ "$entries" -eq "$clips" ] || die "$entries cache entries for $clips recordings"

# Warm: the kit's every boot after the first, cache files in memory.
echo "bench: $n warm starts (cache filled; exec -> ping, exec -> first sound)"
load0=$(cut -d' ' -f1 /proc/loadavg)
: >"$tmp/warm.log"
run "$helper" run "$sock" "$tmp/events" "$tmp/warm.log" "$n" "$tmp/warm.txt" \
	"$build/bullhornd" -c "$cfg" || die "the warm starts could not be measured"
load1=$(cut -d' ' -f1 /proc/loadavg)
cat "$tmp/warm.log" >>"$tmp/daemon.log"
: >"$tmp/warm.lib"
i=0
while [ $i -lt "$n" ]; do
	l=$(lib_line $i "$tmp/warm.log")
	set -- $l
	[ $# -eq 5 ] || die "no 'recordings ready' line in warm start $i"
	[ "$1" -eq "$clips" ] && [ "$2" -eq "$clips" ] ||
		die "warm start $i: $2 of $1 recordings from the cache, want $clips of $clips"
	echo "$i $5" >>"$tmp/warm.lib"
	i=$((i + 1))
done

# The same, after dropping the cache files from the page cache, as after
# a reboot (the program and its libraries stay in memory).
if [ "$n_evicted" -ge 1 ]; then
	echo "bench: $n_evicted starts with the cache files evicted from memory"
	: >"$tmp/evict.txt"
	: >"$tmp/evict.log"
	i=0
	while [ $i -lt "$n_evicted" ]; do
		"$helper" evict "$cache"/*.clip || die "cannot evict the cache files"
		run "$helper" run "$sock" "$tmp/events" "$tmp/evict.log" 1 "$tmp/e.txt" \
			"$build/bullhornd" -c "$cfg" || die "an evicted start could not be measured"
		l=$(lib_line 0 "$tmp/evict.log")
		set -- $l
		[ $# -eq 5 ] && [ "$2" -eq "$clips" ] || die "evicted start $i did not load from the cache"
		awk -v x="$5" '{ print $0, x }' "$tmp/e.txt" >>"$tmp/evict.txt"
		cat "$tmp/evict.log" >>"$tmp/daemon.log"
		: >"$tmp/evict.log"
		i=$((i + 1))
	done
fi

# The pieces: reading every cache file (cat, and the helper's 64 KiB
# preads, as the payload check reads), bullhorn's CRC over the same
# bytes, and the cache keys' hash over the sources. Seven times each,
# page cache warm; the fastest counts (a floor: other work on the
# machine only ever adds to it).
echo "bench: the I/O floor and the checksums (7 times each)"
cat "$cache"/*.clip >/dev/null
: >"$tmp/pieces.txt"
for k in 1 2 3 4 5 6 7; do
	t0=$(now_ns)
	cat "$cache"/*.clip >/dev/null || die "cannot cat the cache"
	t1=$(now_ns)
	r=$("$helper" scan read "$cache"/*.clip) || die "scan read failed"
	c=$("$helper" scan crc "$cache"/*.clip) || die "scan crc failed"
	h=$("$helper" scan hash "$lib"/*/*.opus) || die "scan hash failed"
	echo "$((t1 - t0)) $r $c $h" >>"$tmp/pieces.txt"
done
src_b=$(awk 'NR == 1 { print $6 }' "$tmp/pieces.txt")

cp "$tmp/cold.txt" "$tmp/warm.txt" "$tmp/daemon.log" "$build/bench/" 2>/dev/null
[ -s "$tmp/evict.txt" ] 2>/dev/null && cp "$tmp/evict.txt" "$build/bench/"

cold_ms=$(awk '{ printf "%.1f", $2 / 1e6 }' "$tmp/cold.txt")
cold_snd=$(awk '{ printf "%.1f", $3 / 1e6 }' "$tmp/cold.txt")
cold_kb=$(awk '{ print $4 }' "$tmp/cold.txt")
set -- $cold_lib
cold_libms=$5
set -- $(med_max 2 "$tmp/warm.txt")
w_med=$1 w_max=$2
set -- $(med_max 3 "$tmp/warm.txt")
s_med=$1 s_max=$2
lib_mm=$(awk '{ print $2 * 1e6 }' "$tmp/warm.lib" >"$tmp/wl.txt" && med_max 1 "$tmp/wl.txt")
rss_kb=$(awk '$4 > m { m = $4 } END { print m }' "$tmp/warm.txt")
if [ -s "$tmp/evict.txt" ]; then
	ev=$(med_max 2 "$tmp/evict.txt")
	ev_lib=$(awk '{ print $5 * 1e6 }' "$tmp/evict.txt" >"$tmp/el.txt" && med_max 1 "$tmp/el.txt")
else
	ev="- -" ev_lib="- -"
fi
cat_ms=$(min_of 1 "$tmp/pieces.txt")
read_ms=$(min_of 3 "$tmp/pieces.txt")
crc_ms=$(min_of 5 "$tmp/pieces.txt")
hash_ms=$(min_of 7 "$tmp/pieces.txt")
lib_min=$(min_of 1 "$tmp/wl.txt")
set -- $audio_s
audio_t=$1 audio_lo=$2 audio_hi=$3

echo | awk -v clips="$clips" -v cache_b="$cache_b" -v src_b="$src_b" \
	-v audio_t="$audio_t" -v audio_lo="$audio_lo" -v audio_hi="$audio_hi" \
	-v cold_ms="$cold_ms" -v cold_snd="$cold_snd" -v cold_kb="$cold_kb" \
	-v cold_libms="$cold_libms" -v w="$w_med $w_max" -v s="$s_med $s_max" \
	-v lib_mm="$lib_mm" -v lib_min="$lib_min" -v ev="$ev" -v ev_lib="$ev_lib" -v rss_kb="$rss_kb" \
	-v cat_ms="$cat_ms" -v read_ms="$read_ms" -v crc_ms="$crc_ms" \
	-v hash_ms="$hash_ms" -v n="$n" -v n_ev="$n_evicted" \
	-v load="$load0 -> $load1" -v cpus="$(nproc)" -v raw="$build/bench" '
function row(what, a, b, c) { printf "  %-44s %10s %10s %s\n", what, a, b, c }
{
	mb = cache_b / 1048576; split(w, W); split(s, S); split(lib_mm, L)
	split(ev, E); split(ev_lib, EL)
	printf "\nbullhornd start-up, %d recordings (%.0f s of speech, %.1f-%.1f s each)\n", clips, audio_t, audio_lo, audio_hi
	printf "cache: %d entries, %.1f MB (float, mono, 48 kHz); sources %.1f MB Ogg Opus\n\n", clips, mb, src_b / 1048576
	row("", "median ms", "max ms", "")
	row("cold: exec -> ping answered", cold_ms, cold_ms, "(1 start, processes all)")
	row("  its log: library ready in", cold_libms, cold_libms, "")
	row(sprintf("warm: exec -> ping answered (%d starts)", n), W[1], W[2], "")
	row("warm: exec -> first press heard", S[1], S[2], "")
	row("  its log: library ready in", L[1], L[2], "")
	if (n_ev > 0) {
		row(sprintf("cache evicted: exec -> ping (%d starts)", n_ev), E[1], E[2], "")
		row("  its log: library ready in", EL[1], EL[2], "")
	}
	printf "\nwhat a warm start reads (page cache warm, fastest of 7)\n\n"
	row("", "ms", "ms/MB", "")
	row(sprintf("cat every cache file (%.1f MB)", mb), cat_ms, sprintf("%.2f", cat_ms / mb), "the I/O floor")
	row("  the same in 64 KiB preads", read_ms, sprintf("%.2f", read_ms / mb), "")
	row("  crc32_update over them (read + CRC)", crc_ms, sprintf("%.2f", crc_ms / mb), sprintf("= %.0f MB/s", mb / crc_ms * 1000))
	row(sprintf("hash64 over the sources (%.1f MB)", src_b / 1048576), hash_ms, sprintf("%.2f", hash_ms / (src_b / 1048576)), "cache keys")
	printf "\n  CRC alone (crc - preads): %.1f ms, %.2f ms/MB; fastest warm library load: %.0f ms (%.2f ms/MB)\n", crc_ms - read_ms, (crc_ms - read_ms) / mb, lib_min, lib_min / mb
	printf "  CRC share of that load: %.0f %%; the load above the cat floor: %.0f ms\n", 100 * (crc_ms - read_ms) / lib_min, lib_min - cat_ms
	printf "  peak RSS (VmHWM): warm %.1f MB, cold %.1f MB\n", rss_kb / 1024, cold_kb / 1024
	printf "  cold start, first press heard: %.1f ms after exec\n", cold_snd
	printf "\n  target (stated, not enforced): warm start <= 1000 ms: %s (median %.1f ms)\n", W[1] <= 1000 && W[2] <= 1000 ? "meets" : "MISSES", W[1]
	printf "  load average (1 min) before -> after the warm starts: %s on %d CPUs\n", load, cpus
	printf "  raw figures and the daemon log: %s/\n\n", raw
	printf "startup: cold %.0f ms, warm median %.0f ms max %.0f ms, first sound %.0f ms; %d messages, cache %.0f MB, rss %.1f MB\n", cold_ms, W[1], W[2], S[1], clips, mb, rss_kb / 1024
}' || die "cannot format the report"
