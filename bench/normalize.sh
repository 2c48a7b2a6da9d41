#!/bin/sh
# bench/normalize.sh: bullhorn's processing chain against ffmpeg's
# two-pass loudnorm on the same speech recordings, to the same target
# (-16 LUFS, -1 dBTP): time per minute of audio, peak RSS, and how close
# each output lands, as read by one independent meter (ffmpeg's ebur128
# filter). Run it with `make bench-normalize`, which builds the objects
# first; see bench/README.md.
#
# Environment: BENCH_LANGS (synthesized languages, default
# "en es ru ar cmn"), BENCH_REAL (recorded prompts per language when
# asterisk-core-sounds-*-wav are installed, default 12), BENCH_ASTERISK
# (where to look for them, default /usr/share/asterisk/sounds),
# BENCH_KEEP=1 (keep the temp folder), BUILD (default build), CC (default
# cc).
set -u

root=$(cd "$(dirname "$0")/.." && pwd)
build=$root/${BUILD:-build}
langs=${BENCH_LANGS:-en es ru ar cmn}
real_n=${BENCH_REAL:-12}
asterisk=${BENCH_ASTERISK:-/usr/share/asterisk/sounds}
target=-16
ceiling=-1
tab=$(printf '\t')

. "$root/bench/common.sh"

# pick K WORD...: the (K mod count)-th word, from 0.
pick() {
	k=$1
	shift
	shift $((k % $#))
	printf '%s' "$1"
}

# json KEY LOG: the last value loudnorm printed for KEY.
json() {
	sed -n "s/^[[:space:]]*\"$1\" : \"\([^\"]*\)\".*/\1/p" "$2" | tail -n 1
}

# meter FILE: "I TP" from ffmpeg's ebur128 summary (framelog=verbose keeps
# the per-frame lines out of the info-level log).
meter() {
	ffmpeg -nostdin -hide_banner -nostats -i "$1" \
		-af ebur128=peak=true:framelog=verbose -f null - 2>&1 |
		awk '/^[ \t]+I:/ { i = $2 } /^[ \t]+Peak:/ { p = $2 }
		     END { if (i == "" || p == "") exit 1; print i, p }'
}

case $real_n in '' | *[!0-9]*) die "BENCH_REAL must be a number" ;; esac
for t in espeak-ng ffmpeg pkg-config; do
	command -v "$t" >/dev/null ||
		die "$t not found (apt-get install espeak-ng ffmpeg pkg-config)"
done
filters=$(ffmpeg -hide_banner -filters 2>/dev/null)
for f in loudnorm ebur128 aformat; do
	echo "$filters" | grep -q " $f " || die "this ffmpeg has no $f filter"
done

nb=$build/bench/normalize
bench_compile "$root/bench/normalize.c" "$nb"

tmp=$(mktemp -d /tmp/bullhorn-normalize.XXXXXX) || die "no temp folder"
mkdir "$tmp/src" "$tmp/in" "$tmp/bh" "$tmp/ff" || die "cannot fill $tmp"
: >"$tmp/sources"

# 1. The test set. Synthesized speech: every script of each language,
# spoken by the voice audio/voices.txt names (as make-placeholders does).
echo "bench: synthesizing speech with espeak-ng: $langs"
for lang in $langs; do
	voice=$(awk -v l="$lang" '$1 == l && $1 !~ /^#/ { print $2 }' \
		"$root/audio/voices.txt")
	[ -n "$voice" ] || die "audio/voices.txt has no espeak-ng voice for $lang"
	for txt in "$root/audio/$lang"/*.txt; do
		[ -e "$txt" ] || die "no scripts in audio/$lang"
		name=syn-$lang-$(basename "$txt" .txt | sed 's/^_//')
		espeak-ng -v "$voice" -s 145 -p 40 -w "$tmp/src/$name.wav" \
			-f "$txt" 2>"$tmp/espeak.log" ||
			die "espeak-ng -v $voice failed: $(cat "$tmp/espeak.log")"
		printf '%s\t%s\n' "$name" "$tmp/src/$name.wav" >>"$tmp/sources"
	done
done

# Recorded speech: an even sample of the longer Asterisk prompts (3 s and
# more), English and Spanish, when Debian's packages are installed.
nreal=0
if [ -d "$asterisk" ] && [ "$real_n" -gt 0 ]; then
	find -L "$asterisk" -type f -name '*.wav' -size +47k 2>/dev/null |
		while read -r f; do
			top=${f#"$asterisk"/}
			top=${top%%/*}
			l=${top%%_*}
			printf '%s\t%s\n' "$l" "$(realpath "$f")"
		done | sort -t "$tab" -k2,2 -u | sort >"$tmp/asterisk"
	for lang in en es; do
		awk -F "$tab" -v l="$lang" '$1 == l { print $2 }' "$tmp/asterisk" |
			awk -v n="$real_n" '{ a[NR] = $0 }
			END { for (i = 0; i < n && i < NR; i++) print a[int(i * NR / n) + 1] }' |
			while read -r f; do
				nreal=$((nreal + 1))
				printf 'real-%s-%02d-%s\t%s\n' "$lang" "$nreal" \
					"$(basename "$f" .wav | tr -c 'A-Za-z0-9_\n-' _)" "$f"
			done >>"$tmp/sources"
	done
	nreal=$(grep -c '^real-' "$tmp/sources")
fi
if [ "$nreal" -eq 0 ]; then
	echo "bench: no recorded speech (nothing under $asterisk); for real prompts too:"
	echo "bench:   apt-get install asterisk-core-sounds-en-wav asterisk-core-sounds-es-wav"
else
	echo "bench: $nreal recorded prompts from $asterisk"
fi

# Every recording gets a different level, format, rate and layout; some
# get mic bumps (peaky), some room noise before and after (pad). Gains
# span -20..+6 dB; +6 clips the 16-bit formats, as a hot phone does.
echo "bench: making the inputs (levels -20..+6 dB, WAV/FLAC/Vorbis/Opus)"
i=0
: >"$tmp/list"
: >"$tmp/meta"
while IFS="$tab" read -r name src; do
	gain=$(pick $i -20 -6 0 -14 6 -10 -3 -12)
	fmt=$(pick $i wav16 flac vorbis wav16 opus flac vorbis)
	rate=$(pick $i 0 44100 48000 16000 0)
	ch=$(pick $i 1 1 2)
	peaky=$(pick $i 0 1 0 0)
	pad=$(pick $i 1 0)
	case $fmt in wav16) ext=wav ;; flac) ext=flac ;; vorbis) ext=ogg ;; opus) ext=opus ;; esac
	in=$tmp/in/$name.$ext
	m=$("$nb" mkinput "$src" "$in" "$fmt" "$rate" "$ch" "$gain" "$peaky" \
		"$pad" "$i" 2>"$tmp/mkinput.log") ||
		die "cannot make $in: $(cat "$tmp/mkinput.log")"
	printf '%s\t%s\n' "$name" "$in" >>"$tmp/list"
	echo "$name $fmt $ch $gain $peaky $pad $m" >>"$tmp/meta"
	i=$((i + 1))
done <"$tmp/sources"
total_s=$(awk '{ s += $7 } END { printf "%.0f", s }' "$tmp/meta")
echo "bench: $i recordings, $total_s s of audio"

# 2. bullhorn: process_file() on each, in one process.
echo "bench: bullhorn process_file() on each"
load0=$(cut -d' ' -f1 /proc/loadavg)
run "$nb" bullhorn "$tmp/bh" "$tmp/list" >"$tmp/bh.out" 2>"$tmp/bh.err" ||
	die "bullhorn: $(cat "$tmp/bh.err")"

# 3. ffmpeg: two-pass loudnorm, linear where it can, to 48 kHz float WAV,
# mono (the same downmix before both passes).
echo "bench: ffmpeg two-pass loudnorm on each"
ln="loudnorm=I=$target:TP=$ceiling:LRA=11"
: >"$tmp/ff.out"
while IFS="$tab" read -r name in; do
	t1=$("$nb" exec "$tmp/ff1.log" ffmpeg -nostdin -hide_banner -nostats \
		-i "$in" -af "aformat=channel_layouts=mono,$ln:print_format=json" \
		-f null -) || die "ffmpeg pass 1 failed on $in: $(tail -n 3 "$tmp/ff1.log")"
	mi=$(json input_i "$tmp/ff1.log")
	mtp=$(json input_tp "$tmp/ff1.log")
	mlra=$(json input_lra "$tmp/ff1.log")
	mth=$(json input_thresh "$tmp/ff1.log")
	off=$(json target_offset "$tmp/ff1.log")
	if [ -z "$mi" ] || [ -z "$mtp" ] || [ -z "$mlra" ] || [ -z "$mth" ] ||
		[ -z "$off" ]; then
		die "no loudnorm measurement in pass 1 on $in"
	fi
	t2=$("$nb" exec "$tmp/ff2.log" ffmpeg -nostdin -hide_banner -nostats -y \
		-i "$in" -af "aformat=channel_layouts=mono,$ln:measured_I=$mi:measured_TP=$mtp:measured_LRA=$mlra:measured_thresh=$mth:offset=$off:linear=true:print_format=json" \
		-ar 48000 -c:a pcm_f32le "$tmp/ff/$name.wav") ||
		die "ffmpeg pass 2 failed on $in: $(tail -n 3 "$tmp/ff2.log")"
	type=$(json normalization_type "$tmp/ff2.log")
	echo "$name $t1 $t2 $mi $mtp ${type:-?}" >>"$tmp/ff.out"
done <"$tmp/list"

load1=$(cut -d' ' -f1 /proc/loadavg)

# 4. The one meter for both: ffmpeg's ebur128, true peak on.
echo "bench: metering every output with ffmpeg ebur128=peak=true"
: >"$tmp/meter.out"
while IFS="$tab" read -r name in; do
	b=$(meter "$tmp/bh/$name.wav") || die "cannot meter bullhorn's $name"
	f=$(meter "$tmp/ff/$name.wav") || die "cannot meter ffmpeg's $name"
	echo "$name $b $f" >>"$tmp/meter.out"
done <"$tmp/list"

# Everything below is arithmetic on what was measured above.
awk -v target="$target" -v ceiling="$ceiling" -v raw="$build/bench/normalize.tsv" \
	-v cpus="$(nproc)" -v load="$load0 -> $load1" -v ffv="$(ffmpeg -version | awk 'NR == 1 { print $3 }')" '
function abs(x) { return x < 0 ? -x : x }
function verdict(ok) { return ok ? "meets" : "MISSES" }
function row(what, b, f, t, v) {
	printf "  %-32s %-18s %-22s %-10s %s\n", what, b, f, t, v
}
FILENAME ~ /meta$/ {
	n++; order[n] = $1
	fmt[$1] = $2; ch[$1] = $3; gain[$1] = $4; peaky[$1] = $5; pad[$1] = $6
	clip[$1] = $9
	next
}
FILENAME ~ /bh.out$/ {
	if ($1 == "total") {
		bfiles = $2; bms = $3; bwrite = $4; ins = $5; bcpu = $6
		brss = $7; pver = $8
		next
	}
	bt[$1] = $2; ins_s[$1] = $4; outs[$1] = $5; gdb[$1] = $7
	lim[$1] = $8; trim[$1] = $9; own[$1] = $10; short[$1] = $13
	plim[$1] = $12
	if ($14 > rss_prev) { rss_file = $1; rss_prev = $14 }
	next
}
FILENAME ~ /ff.out$/ {
	f1[$1] = $2 / 1e6; f1rss[$1] = $3; f1cpu[$1] = $4
	f2[$1] = $5 / 1e6; f2rss[$1] = $6; f2cpu[$1] = $7
	inI[$1] = $8; inTP[$1] = $9; mode[$1] = $10
	next
}
FILENAME ~ /meter.out$/ {
	bI[$1] = $2; bTP[$1] = $3; fI[$1] = $4; fTP[$1] = $5
}
END {
	printf "\n%d recordings, %.1f min of speech, each normalized to %s LUFS, ceiling %s dBTP, 48 kHz\n",
		n, ins / 60, target, ceiling
	printf "I/TP out: ffmpeg %s ebur128=peak=true on both tools'"'"' outputs; in: loudnorm pass 1\n", ffv
	printf "flags: b = mic bumps (peaky), p = room-noise pad, c = clipped source, st = stereo\n\n"
	printf "  %-24s %-6s %-6s %6s %6s %6s | %7s %6s %5s %5s %6s %6s | %7s %4s %6s %6s\n",
		"recording", "format", "flags", "secs", "in I", "in TP",
		"bh ms", "gain", "lim", "trim", "I", "TP",
		"ff ms", "mode", "I", "TP"
	printf "name\tformat\tchannels\tgain_db\tpeaky\tpad\tclipped\tin_s\tin_i\tin_tp\tbh_ms\tbh_gain_db\tbh_limiter_db\tbh_trimmed_s\tbh_own_i\tbh_i\tbh_tp\tff_pass1_ms\tff_pass2_ms\tff_rss_kb\tff_mode\tff_i\tff_tp\n" >raw
	bmax = fmax = -1; bmin_i = fmin_i = 1e9; bmax_i = fmax_i = -1e9
	btp = ftp = -1e9; bin = fin = 0; bover = fover = 0; deepest = 0
	for (k = 1; k <= n; k++) {
		r = order[k]
		fl = (peaky[r] ? "b" : "") (pad[r] ? "p" : "") (clip[r] > 0 ? "c" : "") (ch[r] == 2 ? "st" : "")
		fms = f1[r] + f2[r]; fsum += fms; f1sum += f1[r]; f2sum += f2[r]
		fcpu += f1cpu[r] + f2cpu[r]
		frss = f1rss[r] > frss ? f1rss[r] : frss
		frss = f2rss[r] > frss ? f2rss[r] : frss
		eb = abs(bI[r] - target); ef = abs(fI[r] - target)
		if (eb > bmax) { bmax = eb; bworst = r }
		if (ef > fmax) { fmax = ef; fworst = r }
		if (bI[r] < bmin_i) bmin_i = bI[r]
		if (bI[r] > bmax_i) bmax_i = bI[r]
		if (fI[r] < fmin_i) fmin_i = fI[r]
		if (fI[r] > fmax_i) fmax_i = fI[r]
		if (bTP[r] > btp) btp = bTP[r]
		if (fTP[r] > ftp) ftp = fTP[r]
		if (ins_s[r] >= 3) {
			if (eb > bmax3) bmax3 = eb
			if (ef > fmax3) fmax3 = ef
			n3++
		}
		if (!peaky[r]) {
			if (eb > bmaxnb) bmaxnb = eb
			if (ef > fmaxnb) fmaxnb = ef
			nnb++
		}
		bin += eb <= 0.5; fin += ef <= 0.5
		bover += bTP[r] > ceiling + 0.1; fover += fTP[r] > ceiling + 0.1
		bsumI += bI[r]; fsumI += fI[r]
		if (lim[r] < 0) { nlim++; if (lim[r] < deepest) deepest = lim[r] }
		if (trim[r] > 0) { ntrim++; trimmed += trim[r] }
		nplim += plim[r]; nshort += short[r]
		if (mode[r] == "linear") nlin++
		printf "  %-24s %-6s %-6s %6.1f %6.1f %6.1f | %7.1f %+6.1f %5.1f %5.2f %6.1f %6.1f | %7.0f %4s %6.1f %6.1f\n",
			substr(r, 1, 24), fmt[r], fl, ins_s[r], inI[r], inTP[r],
			bt[r], gdb[r], lim[r], trim[r], bI[r], bTP[r],
			fms, substr(mode[r], 1, 3), fI[r], fTP[r]
		printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%.3f\t%.3f\t%d\t%s\t%s\t%s\n",
			r, fmt[r], ch[r], gain[r], peaky[r], pad[r], clip[r], ins_s[r],
			inI[r], inTP[r], bt[r], gdb[r], lim[r], trim[r], own[r],
			bI[r], bTP[r], f1[r], f2[r], (f1rss[r] > f2rss[r] ? f1rss[r] : f2rss[r]),
			mode[r], fI[r], fTP[r] >raw
	}
	min = ins / 60
	bpm = bms / min; fpm = fsum / min; speed = fpm / bpm
	printf "\n"
	row("figure", "bullhorn", "ffmpeg 2-pass", "target", "")
	row("wall time per min of audio", sprintf("%.1f ms", bpm),
		sprintf("%.0f ms (%.0f + %.0f)", fpm, f1sum / min, f2sum / min), "", "")
	row("  bullhorn incl. writing WAVs", sprintf("%.1f ms", (bms + bwrite) / min), "", "", "")
	row("speedup (ffmpeg / bullhorn)", sprintf("%.1fx", speed), "", ">= 10x", verdict(speed >= 10))
	row("CPU per min of audio", sprintf("%.1f ms", bcpu / min), sprintf("%.0f ms", fcpu / min), "", "")
	row("peak RSS", sprintf("%.1f MB", brss / 1024), sprintf("%.1f MB", frss / 1024),
		"<= 16 MB", verdict(brss / 1024 <= 16))
	row("  bullhorn peak set by", sprintf("%s", substr(rss_file, 1, 18)),
		sprintf("(%.1f s)", ins_s[rss_file]), "", "")
	row("max |I - target|", sprintf("%.1f LU", bmax), sprintf("%.1f LU", fmax),
		"< ffmpeg", verdict(bmax < fmax))
	row("  worst file", substr(bworst, 1, 18), substr(fworst, 1, 22), "", "")
	row(sprintf("  same, the %d inputs >= 3 s", n3), sprintf("%.1f LU", bmax3),
		sprintf("%.1f LU", fmax3), "", "")
	row(sprintf("  same, the %d without bumps", nnb), sprintf("%.1f LU", bmaxnb),
		sprintf("%.1f LU", fmaxnb), "", "")
	row("mean I", sprintf("%.2f LUFS", bsumI / n), sprintf("%.2f LUFS", fsumI / n), "", "")
	row("spread of I (max - min)", sprintf("%.1f LU", bmax_i - bmin_i),
		sprintf("%.1f LU", fmax_i - fmin_i), "", "")
	row("files within +-0.5 LU", sprintf("%d of %d", bin, n), sprintf("%d of %d", fin, n), "", "")
	row("worst true peak", sprintf("%.1f dBTP", btp), sprintf("%.1f dBTP", ftp), "", "")
	row("true-peak overshoot", sprintf("%.1f dB", btp > ceiling ? btp - ceiling : 0),
		sprintf("%.1f dB", ftp > ceiling ? ftp - ceiling : 0), "", "")
	row("files over ceiling + 0.1 dB", sprintf("%d of %d", bover, n), sprintf("%d of %d", fover, n), "", "")
	row("ffmpeg kept linear mode", "", sprintf("%d of %d", nlin, n), "", "")
	printf "\n  bullhorn: PROCESS_VERSION %d (src/process.h as compiled); trimmed %.1f s in %d files; limiter in %d files (deepest %.1f dB); %d peak-limited, %d too short\n",
		pver, trimmed, ntrim, nlim, deepest, nplim, nshort
	if (pver >= 2 && ntrim == 0 && nlim == 0)
		printf "  note: no trimming and no limiting seen: src/process.c may not have the version %d chain yet\n", pver
	printf "  ms = wall clock (bullhorn: the process_file() call; ffmpeg: both passes, process start included)\n"
	printf "  load average (1 min) before bullhorn -> after ffmpeg: %s on %d CPUs\n", load, cpus
	printf "  per-file figures: %s\n\n", raw
	printf "normalize: bullhorn %.1f ms/min, ffmpeg %.0f ms/min, speedup %.1f; max error bullhorn %.1f LU, ffmpeg %.1f LU; rss %.1f MB\n",
		bpm, fpm, speed, bmax, fmax, brss / 1024
}' "$tmp/meta" "$tmp/bh.out" "$tmp/ff.out" "$tmp/meter.out" ||
	die "cannot format the report"
