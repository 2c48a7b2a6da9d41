#!/bin/sh
# bench/latency.sh: how soon a press is heard, against aplay-per-press,
# and what bullhornd costs while idle. Run it with `make bench`, which
# builds the programs and the bhrt test PCM first; see bench/README.md.
#
# Environment: BENCH_TRIGGERS (presses per side, default 200),
# BENCH_IDLE_S (idle window, default 10), BENCH_KEEP=1 (keep the temp
# folder), BUILD (default build), CC (default cc).
set -u

root=$(cd "$(dirname "$0")/.." && pwd)
build=$root/${BUILD:-build}
n=${BENCH_TRIGGERS:-200}
idle_s=${BENCH_IDLE_S:-10}
pid=


# kill -0 succeeds on a zombie, and dash reaps any child at its next
# wait (after which the pid may be reused), so "alive" means a /proc
# entry whose state is not Z and whose name is bullhornd (or sh, for the
# instant between fork and exec).
alive() {
	[ -n "$pid" ] || return 1
	st=$(awk '{ print $2, $3 }' "/proc/$pid/stat" 2>/dev/null) || return 1
	case $st in
	*" Z" | *" X") return 1 ;;
	"(bullhornd) "? | "(sh) "?) return 0 ;;
	*) return 1 ;;
	esac
}

gone() {
	die "bullhornd (pid $pid) exited $1; something outside the benchmark may have killed it (see its log below)"
}

# SIGTERM (the daemon fades out and exits), SIGKILL after 3 s.
stop_daemon() {
	if alive; then
		kill "$pid" 2>/dev/null
		i=0
		while alive && [ $i -lt 30 ]; do
			sleep 0.1
			i=$((i + 1))
		done
		alive && kill -9 "$pid" 2>/dev/null
	fi
	[ -n "$pid" ] && wait "$pid" 2>/dev/null
	pid=
}

bench_stop() { stop_daemon; }
. "$root/bench/common.sh"

start_daemon() {
	echo "--- start" >>"$tmp/daemon.log"
	"$build/bullhornd" -c "$cfg" >>"$tmp/daemon.log" 2>&1 &
	pid=$!
	i=0
	until status=$("$build/bullhorn" -c "$cfg" status 2>/dev/null); do
		alive || die "bullhornd exited during start-up"
		i=$((i + 1))
		[ $i -lt 600 ] || die "bullhornd did not answer on $sock within 60 s"
		sleep 0.1
	done
	case $status in
	*state=idle*device=ready*) ;;
	*) die "bullhornd is not idle with its device ready: $status" ;;
	esac
}

vm_hwm_kb() { awk '/^VmHWM:/ { print $2 }' "/proc/$pid/status"; }

case $n in '' | *[!0-9]*) die "BENCH_TRIGGERS must be a number" ;; esac
case $idle_s in '' | *[!0-9]*) die "BENCH_IDLE_S must be whole seconds" ;; esac
[ "$n" -ge 1 ] && [ "$idle_s" -ge 1 ] ||
	die "BENCH_TRIGGERS and BENCH_IDLE_S must be at least 1"
[ "$n" -ge 200 ] ||
	echo "bench: only $n presses per side; quote figures from 200 or more" >&2
for f in bullhornd bullhorn tests/libasound_module_pcm_bhrt.so; do
	[ -e "$build/$f" ] || die "$build/$f is missing; run make bench"
done
command -v aplay >/dev/null || die "aplay not found (apt install alsa-utils)"

lat=$build/bench/latency
bench_compile_client "$root/bench/latency.c" "$lat"

tmp=$(mktemp -d /tmp/bullhorn-bench.XXXXXX) || die "no temp folder"
cfg=$tmp/bullhorn.ini
sock=$tmp/bullhorn.sock

# The daemon plays on "speaker", aplay on "speaker2": two bhrt instances
# with their own events, so the two measurements never see each other.
cat >"$tmp/asound.conf" <<EOF
pcm_type.bhrt { lib "$build/tests/libasound_module_pcm_bhrt.so" }
pcm.speaker { type bhrt file "$tmp/out.raw" events "$tmp/events" speed 1 }
pcm.speaker2 { type bhrt file "$tmp/out2.raw" events "$tmp/events2" speed 1 }
EOF
ALSA_CONFIG_PATH=$tmp/asound.conf
export ALSA_CONFIG_PATH
: >"$tmp/events"
: >"$tmp/events2"

sed -e '/^\[audio\]/,/^\[/ s|^device = .*|device = speaker|' \
    -e "s|^library = .*|library = $root/audio|" \
    -e "s|^cache = .*|cache = $tmp/cache|" \
    -e "s|^state = .*|state = $tmp/state|" \
    -e "s|^socket = .*|socket = $sock|" \
    "$root/config/bullhorn.ini" >"$cfg" || die "cannot write $cfg"
for k in "device = speaker" "library = $root/audio" "socket = $sock"; do
	grep -qx "$k" "$cfg" || die "config/bullhorn.ini changed shape: no '$k' after sed"
done

"$build/bullhorn" -c "$cfg" render rights en -o "$tmp/rights.wav" \
	>/dev/null 2>"$tmp/render.log" ||
	die "bullhorn render rights en failed: $(cat "$tmp/render.log")"

# A kit boots with its cache filled, so the measured daemon is the second
# start; the first one processes the library and shows what that costs.
echo "bench: first start of bullhornd (processes the library into the cache)"
start_daemon
cold_kb=$(vm_hwm_kb)
[ -n "$cold_kb" ] || die "no VmHWM for bullhornd"
stop_daemon
echo "bench: second start (from the cache); this one is measured"
start_daemon

echo "bench: $n presses on bullhornd (play rights, then stop)"
load0=$(cut -d' ' -f1 /proc/loadavg)
run "$lat" daemon "$sock" "$tmp/events" "$n" "$tmp/daemon.lat" \
	>"$tmp/daemon.sum" || die "daemon latency could not be measured"
d=$(cat "$tmp/daemon.sum")
load1=$(cut -d' ' -f1 /proc/loadavg)

# Idle: let the last client's close be handled, then watch.
run sleep 1
alive || gone "after the presses"
ticks() { awk '{ print $14 + $15 }' "/proc/$pid/stat"; }
switches() {
	cat /proc/"$pid"/task/*/status |
		awk '/^(non)?voluntary_ctxt_switches:/ { s += $2 } END { print s + 0 }'
}
echo "bench: $idle_s s of bullhornd idle"
t0=$(ticks) && s0=$(switches) && alive || gone "before the idle window"
run sleep "$idle_s"
t1=$(ticks) && s1=$(switches) && alive || gone "during the idle window"
hz=$(getconf CLK_TCK) || die "getconf CLK_TCK failed"

echo "bench: $n runs of aplay -D speaker2 (fork/exec, first sound, SIGTERM)"
run "$lat" exec "$tmp/events2" "$n" "$tmp/aplay.lat" "$tmp/aplay.log" \
	aplay -q -D speaker2 "$tmp/rights.wav" >"$tmp/aplay.sum" || {
	tail -n 5 "$tmp/aplay.log" >&2
	die "aplay latency could not be measured"
}
a=$(cat "$tmp/aplay.sum")

alive || gone "during the aplay runs"
warm_kb=$(vm_hwm_kb)
[ -n "$warm_kb" ] || die "no VmHWM for bullhornd"

# How long the stream runs on after "stop": the queued buffer, the fade,
# the padding and the drain, until the PCM is dropped and prepared; and
# how often it ran dry (`xrun`) before the daemon dropped it.
xruns=$(awk '$7 == "xrun" { k++ } END { print k + 0 }' "$tmp/daemon.lat")
stop_ms=$(awk '{ print ($6 - $5) / 1e6 }' "$tmp/daemon.lat" | sort -n |
	awk '{ v[NR] = $1 } END { printf "%.1f", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }')
first_ms=$(awk 'NR == 1 { printf "%.3f", $4 / 1e6 }' "$tmp/daemon.lat")
slowest=$(sort -k4,4nr "$tmp/daemon.lat" | head -n 5 |
	awk '{ printf "%s#%d %.3f", (NR > 1 ? ", " : ""), $1, $4 / 1e6 }')

cp "$tmp/daemon.lat" "$tmp/aplay.lat" "$tmp/daemon.log" "$build/bench/"

# Everything below is arithmetic on what was measured above.
echo "$d" "$a" "$t0 $t1 $s0 $s1 $hz $idle_s $warm_kb $cold_kb" | awk \
	-v stop_ms="$stop_ms" -v first_ms="$first_ms" -v slowest="$slowest" \
	-v xruns="$xruns" \
	-v raw="$build/bench" -v cpus="$(nproc)" -v load="$load0 -> $load1" '
function ms(ns) { return ns / 1e6 }
function verdict(ok) { return ok ? "meets" : "MISSES" }
function row(what, measured, target, ok) {
	printf "  %-34s %-22s %-9s %s\n", what, measured, target, ok
}
{
	n = $1; dmin = $2; dmed = $3; dp99 = $4; dmax = $5
	amin = $7; amed = $8; ap99 = $9; amax = $10
	cpu_ms = ($12 - $11) * 1000 / $15; wk = $14 - $13; secs = $16
	wps = wk / secs; rss = $17 / 1024; cold = $18 / 1024
	ratio = amed / dmed
	printf "\n"
	printf "trigger -> first non-silent frame handed to ALSA, %d presses each\n", n
	printf "(bhrt test PCM at speed 1 stands in for the sound card)\n\n"
	printf "  %-34s %9s %9s %9s %9s\n", "", "min ms", "median ms", "p99 ms", "max ms"
	printf "  %-34s %9.3f %9.3f %9.3f %9.3f\n", "bullhornd: play over the socket", ms(dmin), ms(dmed), ms(dp99), ms(dmax)
	printf "  %-34s %9.3f %9.3f %9.3f %9.3f\n", "aplay per press: fork/exec", ms(amin), ms(amed), ms(ap99), ms(amax)
	printf "\n"
	row("figure", "measured", "target", "")
	row("daemon median", sprintf("%.3f ms", ms(dmed)), "<= 1 ms", verdict(ms(dmed) <= 1))
	row("daemon p99", sprintf("%.3f ms", ms(dp99)), "<= 3 ms", verdict(ms(dp99) <= 3))
	row("aplay median / daemon median", sprintf("%.1fx", ratio), ">= 5x", verdict(ratio >= 5))
	row("idle wake-ups", sprintf("%.1f/s (%d in %d s)", wps, wk, secs), "0", verdict(wk == 0))
	row("idle CPU (utime+stime)", sprintf("%.0f ms in %d s", cpu_ms, secs), "", "")
	row("peak RSS (VmHWM), cache warm", sprintf("%.1f MB", rss), "", "")
	row("peak RSS, first start (no cache)", sprintf("%.1f MB", cold), "", "")
	row("first press after start", sprintf("%.3f ms", first_ms), "", "")
	row("stop -> PCM idle again (median)", sprintf("%.1f ms", stop_ms), "", "")
	row("stops that ran dry first (xrun)", sprintf("%d of %d", xruns, n), "0", verdict(xruns == 0))
	printf "\n  slowest presses (#press ms): %s\n", slowest
	printf "  load average (1 min) before -> after the presses: %s on %d CPUs\n", load, cpus
	printf "  raw samples and the daemon log: %s/\n\n", raw
	printf "latency: median %.3f ms p99 %.3f ms; aplay median %.2f ms; ratio %.1f; idle wakeups %.1f/s; rss %.1f MB\n", ms(dmed), ms(dp99), ms(amed), ratio, wps, rss
}' || die "cannot format the report"
