#!/bin/sh
# bench/soak.sh: a long run of actions against bullhornd at accelerated
# speed. First with the daemon under ASan+UBSan (or valgrind's memcheck):
# no memory error, no leak at exit, every request answered. Then, for a
# run long enough to judge it, the same actions on the plain build, whose
# memory must stay flat. Run it with `make soak`, which builds what it
# needs; see bench/README.md, "bench/soak".
#
# Environment:
#   SOAK_ACTIONS    actions per run (default 100000, at least 1000)
#   SOAK_MODE       asan (default): build/san/bullhornd, or the one in
#                   SOAK_SAN_BUILD; valgrind: build/bullhornd under
#                   memcheck; plain: only the plain run
#   SOAK_SPEED      the test PCM's speed (default 20)
#   SOAK_BUFFER_MS  the device buffer (default 200)
#   SOAK_SAMPLES    memory samples per run (default 200)
#   SOAK_WARMUP     actions before memory is compared (default 15000);
#                   memory is judged when SOAK_ACTIONS is at least twice
#                   that; the plain run is made only then (or when
#                   SOAK_MODE=plain)
#   SOAK_SEED       the driver's random seed (default 1)
#   BENCH_KEEP=1 (keep the temp folder), BUILD (default build), CC
set -u

root=$(cd "$(dirname "$0")/.." && pwd)
build=$root/${BUILD:-build}
n=${SOAK_ACTIONS:-100000}
mode=${SOAK_MODE:-asan}
speed=${SOAK_SPEED:-20}
buffer_ms=${SOAK_BUFFER_MS:-200}
nsamples=${SOAK_SAMPLES:-200}
warm=${SOAK_WARMUP:-15000}
seed=${SOAK_SEED:-1}
pid=

# As in latency.sh: "alive" is a /proc entry that is not a zombie.
alive() {
	[ -n "$pid" ] || return 1
	st=$(awk '{ print $3 }' "/proc/$pid/stat" 2>/dev/null) || return 1
	case $st in Z | X) return 1 ;; esac
	return 0
}

# SIGTERM; the exit status in $daemon_rc. The leak check at exit takes a
# while under ASan and valgrind: 120 s before SIGKILL.
daemon_rc=
stop_daemon() {
	[ -n "$pid" ] || return 0
	kill "$pid" 2>/dev/null
	i=0
	while alive && [ $i -lt 1200 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	alive && kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	daemon_rc=$?
	pid=
}

bench_stop() { stop_daemon; }
. "$root/bench/common.sh"

for v in "SOAK_ACTIONS=$n" "SOAK_SAMPLES=$nsamples" "SOAK_WARMUP=$warm" \
	"SOAK_SEED=$seed" "SOAK_BUFFER_MS=$buffer_ms"; do
	case ${v#*=} in '' | *[!0-9]*) die "${v%%=*} must be a whole number" ;; esac
done
case $speed in '' | *[!0-9.]*) die "SOAK_SPEED must be a number" ;; esac
[ "$n" -ge 1000 ] || die "SOAK_ACTIONS must be at least 1000"
[ "$nsamples" -ge 20 ] || die "SOAK_SAMPLES must be at least 20"
judged=0
[ "$n" -ge $((2 * warm)) ] && judged=1
san_daemon=$root/${SOAK_SAN_BUILD:-build/san}/bullhornd
case $mode in
asan) need=$san_daemon ;;
valgrind)
	need=''
	command -v valgrind >/dev/null ||
		die "valgrind not found (apt install valgrind)"
	;;
plain) need='' ;;
*) die "SOAK_MODE must be asan, valgrind or plain" ;;
esac
for f in $need "$build/bullhornd" "$build/bullhorn" \
	"$build/tests/libasound_module_pcm_bhrt.so"; do
	[ -e "$f" ] || die "$f is missing; run make soak"
done

drv=$build/bench/soak
bench_compile_client "$root/bench/soak.c" "$drv"

tmp=$(mktemp -d /tmp/bullhorn-soak.XXXXXX) || die "no temp folder"
cfg=$tmp/bullhorn.ini
sock=$tmp/bullhorn.sock

# No capture file (it would grow by gigabytes); the events file counts
# the underruns.
cat >"$tmp/asound.conf" <<EOF
pcm_type.bhrt { lib "$build/tests/libasound_module_pcm_bhrt.so" }
pcm.speaker { type bhrt events "$tmp/events" speed $speed }
EOF
ALSA_CONFIG_PATH=$tmp/asound.conf
export ALSA_CONFIG_PATH
: >"$tmp/events"

# Four languages of the repo's library: reloads read every recording,
# and the soak needs no more to play in three, fall back and play a
# fourth that is not configured.
mkdir "$tmp/library" || die "cannot create $tmp/library"
for l in _shared en es ar fr; do
	cp -R "$root/audio/$l" "$tmp/library/" || die "cannot copy audio/$l"
done

# The shipped config on that library, three languages, a buffer of
# SOAK_BUFFER_MS (at speed 20, 200 ms of sound last 10 ms: a preemption
# renders that much again), without the kit's GPIO sections: the soak is
# about the daemon, not this machine's GPIO lines.
sed -e '/^\[audio\]/,/^\[/ s|^device = .*|device = speaker|' \
    -e "s|^buffer_ms = .*|buffer_ms = $buffer_ms|" \
    -e "s|^library = .*|library = $tmp/library|" \
    -e "s|^recordings = .*|recordings = $tmp/recordings|" \
    -e "s|^cache = .*|cache = $tmp/cache|" \
    -e "s|^state = .*|state = $tmp/state|" \
    -e "s|^socket = .*|socket = $sock|" \
    -e 's|^languages = .*|languages = en, es, ar|' \
    -e '/^\[button /,$d' \
    "$root/config/bullhorn.ini" >"$cfg" || die "cannot write $cfg"
for k in "device = speaker" "buffer_ms = $buffer_ms" \
	"library = $tmp/library" "socket = $sock" "languages = en, es, ar"; do
	grep -qx "$k" "$cfg" || die "config/bullhorn.ini changed shape: no '$k' after sed"
done

# Waits for the daemon at $pid to answer status (timeout in seconds).
wait_ready() {
	i=0
	until "$build/bullhorn" -c "$cfg" status >/dev/null 2>&1; do
		alive || die "bullhornd exited during start-up (see $log)"
		i=$((i + 1))
		[ $i -lt $(($1 * 10)) ] || die "bullhornd did not answer within $1 s"
		sleep 0.1
	done
}

# The plain build fills the cache first (the ASan or valgrind daemon
# would take minutes over it): each run starts warm, like a kit.
echo "soak: filling the cache (plain bullhornd)"
log=$tmp/cache.log
"$build/bullhornd" -c "$cfg" >"$log" 2>&1 &
pid=$!
wait_ready 300
stop_daemon
[ "$daemon_rc" = 0 ] || die "the plain bullhornd exited $daemon_rc filling the cache"

# One run: bullhornd as $1 (asan, valgrind or plain) driven through
# SOAK_ACTIONS actions, then stopped. Leaves $tmp/$1.{log,out,samples}
# (and valgrind.log), the driver's status in $drv_rc, the daemon's in
# $daemon_rc and the underruns it met in $xruns.
soak_run() {
	kind=$1
	log=$tmp/$kind.log
	x0=$(grep -c '^xrun ' "$tmp/events")
	case $kind in
	asan)
		# ASan's defaults otherwise (a 256 MB quarantine of freed
		# blocks): the strongest check for use after free.
		ASAN_OPTIONS=detect_leaks=1${ASAN_OPTIONS:+:$ASAN_OPTIONS} \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
			"$san_daemon" -c "$cfg" >"$log" 2>&1 &
		;;
	valgrind)
		valgrind --tool=memcheck --leak-check=full \
			--show-leak-kinds=definite,indirect,possible \
			--errors-for-leak-kinds=definite,indirect,possible \
			--error-exitcode=99 --log-file="$tmp/valgrind.log" \
			"$build/bullhornd" -c "$cfg" >"$log" 2>&1 &
		;;
	plain)
		"$build/bullhornd" -c "$cfg" >"$log" 2>&1 &
		;;
	esac
	pid=$!
	wait_ready 300
	every=$((n / nsamples))
	[ "$every" -ge 1 ] || every=1
	echo "soak: $n actions on bullhornd ($kind, test PCM at speed $speed), memory every $every"
	run "$drv" "$sock" "$pid" "$n" "$every" "$seed" "$tmp/$kind.samples" \
		>"$tmp/$kind.out" 2>"$tmp/$kind.err"
	drv_rc=$?
	cat "$tmp/$kind.err" >&2
	alive || die "bullhornd ($kind) died during the soak (see its log)"
	echo "soak: stopping bullhornd ($kind)"
	stop_daemon
	xruns=$(($(grep -c '^xrun ' "$tmp/events") - x0))
	tail -n 1 "$tmp/$kind.out" | grep -q '^soak: ' ||
		die "the driver ended early (exit $drv_rc)"
	cp "$tmp/$kind.samples" "$tmp/$kind.out" "$log" "$build/bench/"
}

# Memory of one run (its samples file): the samples after the warm-up
# (all of them when the run is not judged), the mean of their first 10 %
# and of their last 10 %. Prints "first last change% shadow_first
# shadow_last samples" for VmRSS less ASan's shadow (VmRSS itself for
# the plain build).
memory() {
	awk -v warm="$1" '
function mean(a, from, to,   i, s) {
	for (i = from; i <= to; i++)
		s += a[i]
	return s / (to - from + 1)
}
$1 > warm { k++; own[k] = $3 - $6; sh[k] = $6 }
END {
	if (k < 10)
		exit 1
	m = int(k / 10)
	o0 = mean(own, 1, m); o1 = mean(own, k - m + 1, k)
	printf "%.0f %.0f %+.2f %.0f %.0f %d\n", o0, o1, (o1 - o0) / o0 * 100,
		mean(sh, 1, m), mean(sh, k - m + 1, k), k
}' "$2"
}

check='' errors=0 leaked=0 c_drv=0 c_rc=0 c_xruns=0
if [ "$mode" != plain ]; then
	check=$mode
	soak_run "$check"
	c_drv=$drv_rc c_rc=$daemon_rc c_xruns=$xruns
	if [ "$check" = asan ]; then
		errors=$(grep -c -e 'ERROR: AddressSanitizer' \
			-e 'runtime error:' "$tmp/asan.log")
		leaked=$(sed -n 's/^SUMMARY: AddressSanitizer: \([0-9]*\) byte.*leaked.*/\1/p' "$tmp/asan.log" | head -n 1)
		grep -q 'ERROR: LeakSanitizer' "$tmp/asan.log" && leaked=${leaked:-1}
	else
		errors=$(sed -n 's/.*ERROR SUMMARY: \([0-9,]*\) errors.*/\1/p' \
			"$tmp/valgrind.log" | tr -d , | tail -n 1)
		[ -n "$errors" ] || die "no ERROR SUMMARY in $tmp/valgrind.log"
		leaked=$(awk '/(definitely|indirectly|possibly) lost:/ {
			gsub(",", "", $4); s += $4 } END { print s + 0 }' \
			"$tmp/valgrind.log")
		cp "$tmp/valgrind.log" "$build/bench/"
	fi
	leaked=${leaked:-0}
	c_mem=$(memory "$([ $judged = 1 ] && echo "$warm" || echo 0)" \
		"$tmp/$check.samples") || die "too few memory samples ($check)"
fi
p_drv=0 p_rc=0 p_xruns=0 p_mem=
if [ $judged = 1 ] || [ "$mode" = plain ]; then
	soak_run plain
	p_drv=$drv_rc p_rc=$daemon_rc p_xruns=$xruns
	p_mem=$(memory "$([ $judged = 1 ] && echo "$warm" || echo 0)" \
		"$tmp/plain.samples") || die "too few memory samples (plain)"
fi

# Everything below is reporting what was measured above. The memory
# figures are word lists, split on purpose.
# shellcheck disable=SC2086
set -- ${p_mem:-0 0 0 0 0 0}
flat=$(awk -v d="$3" 'BEGIN { print (d <= 1 && d >= -1) ? 1 : 0 }')
ok=1
[ "$errors" = 0 ] && [ "$leaked" = 0 ] && [ "$c_drv" = 0 ] &&
	[ "$c_rc" = 0 ] && [ "$p_drv" = 0 ] && [ "$p_rc" = 0 ] || ok=0
[ $judged = 0 ] || [ "$flat" = 1 ] || ok=0
echo
if [ -n "$check" ]; then
	# shellcheck disable=SC2086
	set -- $c_mem
	echo "under $check ($([ "$check" = asan ] && echo "$san_daemon" || echo "memcheck, $build/bullhornd")):"
	echo "  $(tail -n 1 "$tmp/$check.out")"
	echo "  memory errors:            $errors"
	echo "  leaked at exit:           $leaked bytes"
	echo "  exit status after TERM:   $c_rc"
	echo "  underruns:                $c_xruns"
	if [ "$check" = asan ]; then
		echo "  RSS less ASan's shadow:   $1 -> $2 kB ($3 %), not judged: mostly ASan's own (quarantine; its shadow: $4 -> $5 kB)"
	else
		echo "  VmRSS:                    $1 -> $2 kB ($3 %), not judged: mostly memcheck's own"
	fi
fi
if [ -n "$p_mem" ]; then
	# shellcheck disable=SC2086
	set -- $p_mem
	echo "plain build ($build/bullhornd), the same actions:"
	echo "  $(tail -n 1 "$tmp/plain.out")"
	echo "  exit status after TERM:   $p_rc"
	echo "  underruns:                $p_xruns"
	if [ $judged = 1 ]; then
		echo "  VmRSS, first -> last 10 % of $6 samples after $warm actions: $1 -> $2 kB ($3 %): $([ "$flat" = 1 ] && echo flat || echo NOT FLAT)"
	else
		echo "  VmRSS, first -> last 10 % of all $6 samples: $1 -> $2 kB ($3 %)"
	fi
fi
[ $judged = 1 ] ||
	echo "memory not judged: that needs SOAK_ACTIONS of at least $((2 * warm))"
echo "  load average (1 min) now: $(cut -d' ' -f1 /proc/loadavg) on $(nproc) CPUs; raw samples and logs: $build/bench/"
echo
summary="soak: $([ $ok = 1 ] && echo PASS || echo FAIL); $n actions, speed $speed"
if [ -n "$check" ]; then
	# shellcheck disable=SC2046
	set -- $(tail -n 1 "$tmp/$check.out")
	summary="$summary; $check: $5 s, $8 unanswered or wrong, errors $errors, leaked $leaked bytes"
fi
if [ -n "$p_mem" ]; then
	# shellcheck disable=SC2086
	set -- $p_mem
	summary="$summary; plain: VmRSS $1 -> $2 kB ($3 %$([ $judged = 1 ] || echo ", not judged"))"
fi
echo "$summary"
[ $ok = 1 ] || { bench_failed=1; exit 1; }
