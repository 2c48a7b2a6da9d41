#!/bin/sh
# /init of the VM system test (tests/vm/run.sh builds the initramfs and
# boots it): busybox, Debian's kernel with gpio-sim and snd-aloop, the real
# bullhornd and bullhorn under /vm/bin, the test config and library under
# /vm. Drives the daemon through gpio-sim lines named like the shipped
# config and captures its sound from the loopback's other end. Every
# result is one console line:
#
#   VMTEST: ok NAME: what was measured
#   VMTEST: FAIL NAME: what went wrong
#
# then the daemon logs between "VMTEST: log BEGIN/END" and "VMTEST: done".
# Times are the guest's CLOCK_MONOTONIC (vmprobe): by default qemu's
# virtual clock (-icount, 1 ns per instruction), else the host's, where
# emulation inflates them (tests/vm/README.md, "The guest's clock"). The
# figures compare runs and versions; they promise nothing.

export PATH=/bin:/sbin:/vm/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /tmp
mount -t tmpfs tmpfs /tmp

build=$(sed -n 's/.*bullhorn_vm=\([^ ]*\).*/\1/p' /proc/cmdline)
# The kernel's timer tick: snd-aloop moves its streams in whole ticks.
hz=$(sed -n 's/.*bullhorn_hz=\([0-9]*\).*/\1/p' /proc/cmdline)
TICK_MS=$((1000 / ${hz:-100}))
clock=$(sed -n 's/.*bullhorn_clock=\([a-z]*\).*/\1/p' /proc/cmdline)
CFG=/vm/bullhorn.ini
GHOST=/vm/bullhorn-ghost.ini
MODS=/vm/modules
CAPDEV=hw:Loopback,1,0
WARMUP_MS=150
IDLE_OFF_MS=2000
BUFFER_MS=40
TRIES=4
# Stop must silence within the buffer (+ one tick of snd-aloop's
# granularity); on the host's clock emulation gets a generous margin.
if [ "$clock" = real ]; then
	STOP_MAX=$((BUFFER_MS + 160))
else
	STOP_MAX=$((BUFFER_MS + TICK_MS))
fi

say() { echo "VMTEST: $*"; }
# A scenario that ends in ok or fail is over; one that sets AGAIN and
# returns without either is void and is run again (run, below).
ok() {
	name=$1
	shift
	say "ok $name: $*"
	AGAIN=
}
fail() {
	name=$1
	shift
	say "FAIL $name: $*"
	failed="$failed $name"
	AGAIN=
}
note() { say "note $*"; }
now() { vmprobe now; }
# Milliseconds from $1 to $2 (ns), one decimal.
ms() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", (b - a) / 1e6 }'; }
# Whether $1 <= $2 <= $3, as numbers.
within() { awk -v lo="$1" -v x="$2" -v hi="$3" 'BEGIN { exit !(lo <= x && x <= hi) }'; }
# The value after the word $1 in vmprobe's "key value ..." output $2.
val() { echo "$2" | awk -v k="$1" '{ for (i = 1; i < NF; i++) if ($i == k) { print $(i + 1); exit } }'; }

failed=
t_boot=$(now)

# --- kernel modules and the simulated kit ---------------------------------
load() {
	insmod "$MODS/$1.ko" || {
		say "FAIL setup: insmod $1 failed"
		return 1
	}
}
setup_ok=1
for m in configfs gpio-sim soundcore snd snd-timer snd-pcm; do
	load "$m" || setup_ok=0
done
mount -t configfs configfs /sys/kernel/config || setup_ok=0

# gpio-sim: one bank, lines named like the shipped config's. The order
# gives each line its offset: GPIO17 is sim_gpio0, ..., GPIO25 sim_gpio5.
SIM=/sys/kernel/config/gpio-sim/vmtest
NAMES="GPIO17 GPIO27 GPIO22 GPIO23 GPIO24 GPIO25"
mkdir "$SIM" "$SIM/bank0" || setup_ok=0
echo 8 >"$SIM/bank0/num_lines"
echo bullhorn-kit >"$SIM/bank0/label"
i=0
for n in $NAMES; do
	mkdir "$SIM/bank0/line$i"
	echo "$n" >"$SIM/bank0/line$i/name"
	i=$((i + 1))
done
echo 1 >"$SIM/live" || setup_ok=0
G=/sys/devices/platform/$(cat "$SIM/dev_name")/$(cat "$SIM/bank0/chip_name")
P_RIGHTS=$G/sim_gpio0/pull
P_DOOR=$G/sim_gpio1/pull
P_STOP=$G/sim_gpio2/pull
V_LED=$G/sim_gpio4/value
V_AMP=$G/sim_gpio5/value
if [ ! -e "$P_RIGHTS" ] || [ ! -e "$V_AMP" ]; then
	say "FAIL setup: gpio-sim lines not found under $G"
	setup_ok=0
fi
note "clock $clock, kernel $(uname -r), gpio-sim $(cat "$SIM/dev_name") $(cat "$SIM/bank0/chip_name")" \
	"lines $NAMES, build $build, HZ ${hz:-?}, boot to setup $(ms 0 "$t_boot") ms"

# --- helpers ---------------------------------------------------------------
# How many lines of file $1 hold the fixed string $2 (0 if no file).
count() {
	c=$(grep -c -F -- "$2" "$1" 2>/dev/null)
	echo "${c:-0}"
}
# Waits (up to $4 ms) until file $1 holds $2 at least $3 times.
wait_log() {
	w=0
	while [ "$(count "$1" "$2")" -lt "$3" ]; do
		[ "$w" -ge "$4" ] && return 1
		sleep 0.05
		w=$((w + 50))
	done
	return 0
}
# Waits (up to $2 ms) until file $3 holds the value $1.
wait_value() {
	w=0
	while [ "$(cat "$3")" != "$1" ]; do
		[ "$w" -ge "$2" ] && return 1
		sleep 0.05
		w=$((w + 50))
	done
	return 0
}

DPID='' LOG=/tmp/A.log DCFG=$CFG
daemon_start() { # CONFIG LOGNAME
	LOG=/tmp/$2.log
	DCFG=$1
	bullhornd --config "$1" --verbose >"$LOG" 2>&1 &
	DPID=$!
	w=0
	until bullhorn -c "$1" status >/dev/null 2>&1; do
		if ! kill -0 "$DPID" 2>/dev/null || [ "$w" -ge 60000 ]; then
			return 1
		fi
		sleep 0.1
		w=$((w + 100))
	done
	return 0
}
daemon_stop() {
	[ -n "$DPID" ] || return 0
	kill "$DPID" 2>/dev/null
	wait "$DPID"
	rc=$?
	DPID=
	return "$rc"
}
status() { bullhorn -c "$DCFG" status 2>&1; }
idles() { count "$LOG" "debug: idle"; }
underruns() { count "$LOG" "ran dry"; }
# Waits until the daemon went idle more than $1 times (up to $2 ms).
wait_idle() { wait_log "$LOG" "debug: idle" $(($1 + 1)) "${2:-15000}"; }

CPID='' CAP=/tmp/none
capture_start() { # NAME
	CAP=/tmp/$1
	rm -f "$CAP.raw.ready"
	vmprobe capture "$CAPDEV" "$CAP.raw" "$CAP.tl" 2>"$CAP.err" &
	CPID=$!
	w=0
	until [ -e "$CAP.raw.ready" ]; do
		if ! kill -0 "$CPID" 2>/dev/null || [ "$w" -ge 5000 ]; then
			note "capture $1 did not start: $(cat "$CAP.err")"
			return 1
		fi
		sleep 0.02
		w=$((w + 20))
	done
}
capture_stop() {
	[ -n "$CPID" ] && kill "$CPID" && wait "$CPID"
	CPID=
	return 0
}
WPID=''
watch_start() { # FILE INTERVAL_MS: the LED (0) and amp (1) lines
	WATCH=$1
	vmprobe watch "$WATCH" "$2" "$V_LED" "$V_AMP" &
	WPID=$!
}
watch_stop() {
	[ -n "$WPID" ] && kill "$WPID" && wait "$WPID"
	WPID=
}
# One press of the line whose pull file is $1, held $2 ms (default 60):
# prints the press's time.
press() {
	vmprobe drive "$1" d "${2:-60}" u | awk '$1 == "d" { print $2 }'
}
# The "handled X ms after the edge" figures of the log's last $1 presses
# of rights.
handled() {
	grep -F 'button rights: handled' "$LOG" | tail -n "$1" |
		sed 's/.*handled \([0-9.]*\) ms.*/\1/' | sort -n |
		awk '{ v[NR] = $1 } END { if (NR) printf "median %.2f ms, max %.2f ms", (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2), v[NR] }'
}

# Under emulation a busy host can stall the guest long enough for the
# daemon's 40 ms buffer to run dry, or for snd-aloop's timer to fire so
# late that it copies stale buffer contents. An attempt whose check failed
# while that happened says nothing about the daemon: it is void (AGAIN
# says why) and is run again, up to TRIES times; one that failed
# undisturbed fails.
disturbed() { # UNDERRUNS_BEFORE [WATCHFILE]
	u=$(($(underruns) - $1))
	x=$(count "$CAP.tl" xrun)
	st=$(($(count "$CAP.tl" stall) + $(count "${2:-/nonexistent}" stall)))
	[ "$u" -eq 0 ] && [ "$x" -eq 0 ] && [ "$st" -eq 0 ] && return 1
	AGAIN="emulation: the daemon's device ran dry $u time(s), the"
	AGAIN="$AGAIN capture lost frames $x time(s), the guest stood"
	AGAIN="$AGAIN still (>20 ms) $st time(s)"
	return 0
}
run() { # NAME: runs scenario_NAME until it is not void
	n=$1
	try=1
	while :; do
		AGAIN=
		"scenario_$n"
		[ -z "$AGAIN" ] && return
		if [ $try -ge $TRIES ]; then
			fail "$n" "$TRIES attempts void, the last: $AGAIN"
			return
		fi
		note "$n: attempt $try void ($AGAIN); again"
		try=$((try + 1))
	done
}

# Presses line $1 for $3 ms with the capture running; M is vmprobe match's
# verdict on render $2, TP the press time, PN how many more lines hold $4
# afterwards. Repeated (up to TRIES times) while a failure was disturbed.
press_match() { # PULL REF HOLD_MS NEEDLE
	k=1
	while :; do
		AGAIN=
		u0=$(underruns) p0=$(count "$LOG" "$4") i0=$(idles)
		capture_start "$n" || {
			M="capture did not start"
			return 1
		}
		TP=$(press "$1" "$3")
		wait_idle "$i0" 10000 || note "$n: no idle after the press"
		capture_stop
		PN=$(($(count "$LOG" "$4") - p0))
		M=$(vmprobe match "$CAP.raw" "$CAP.tl" "$2" "$TP" 10)
		case $M in match*) return 0 ;; esac
		if ! disturbed "$u0"; then
			return 1
		elif [ $k -ge $TRIES ]; then
			M="$M; $TRIES attempts, all disturbed, the last: $AGAIN"
			return 1
		fi
		note "$n: attempt $k void ($AGAIN); again"
		k=$((k + 1))
	done
}

# Reference renders, made here by the build under test: bullhorn render
# writes exactly what the daemon plays at full volume.
render() { # MESSAGE LANGUAGE
	bullhorn -c "$CFG" render "$1" "$2" -o "/tmp/ref-$1-$2.wav" \
		>>/tmp/render.log 2>&1 || note "render $1 $2 failed"
}
t0=$(now)
render rights en
render rights es
render door en
note "renders in $(ms "$t0" "$(now)") ms"

# --- session A: the shipped kit, started before the sound card ------------
# The card appears after the daemon started (snd-aloop loaded late). The
# press comes once the daemon has picked the card up: before that there is
# nothing to play on, and a press then is not kept for later.
scenario_late_card() {
	watch_start /tmp/late.watch 5
	if ! daemon_start "$CFG" A; then
		fail "$n" "bullhornd did not start: $(tail -5 "$LOG")"
		return
	fi
	note "$(grep -F 'recordings ready' "$LOG" | sed 's/^bullhornd: info: //')"
	wait_log "$LOG" "cannot be opened" 1 5000 || {
		fail "$n" "no 'cannot be opened' line with no card: $(status)"
		return
	}
	s=$(status)
	case $s in
	*device=missing*led=fault*) ;;
	*)
		fail "$n" "status without a card: $s"
		return
		;;
	esac
	ta=$(now)
	sleep 1.2
	e=$(vmprobe edges /tmp/late.watch 0 "$ta" "$(now)")
	watch_stop
	mean=$(val mean_ms "$e")
	if [ "$(val changes "$e")" -lt 6 ] || ! within 90 "$mean" 200; then
		fail "$n" "LED not blinking fast (4 Hz) with no card: $e"
		return
	fi
	ti=$(now)
	load snd-aloop || {
		fail "$n" "insmod snd-aloop failed"
		return
	}
	if ! wait_log "$LOG" "sound device 'hw:Loopback,0,0' ready" 1 20000; then
		fail "$n" "card not picked up within 20 s: $(tail -3 "$LOG")"
		return
	fi
	tr=$(now)
	if ! press_match "$P_RIGHTS" /tmp/ref-rights-en.wav 80 "playing rights (en)"; then
		fail "$n" "press after the card appeared: $M"
		return
	fi
	s=$(status)
	case $s in
	*device=ready*led=ready*)
		ok "$n" "no card: logged, status device=missing led=fault, LED" \
			"blinking fast (mean half-period $mean ms); snd-aloop" \
			"loaded: card picked up $(ms "$ti" "$tr") ms later, a press" \
			"then played rights/en bit-exact; status device=ready led=ready"
		;;
	*) fail "$n" "played, but status after: $s" ;;
	esac
}

scenario_single_press() {
	p0=$(count "$LOG" "button rights: press -> play rights")
	if ! press_match "$P_RIGHTS" /tmp/ref-rights-en.wav 80 "playing rights (en)"; then
		fail "$n" "capture does not hold the render: $M"
		return
	fi
	p=$(($(count "$LOG" "button rights: press -> play rights") - p0))
	if [ "$PN" = 1 ] && [ "$p" -ge 1 ]; then
		ok "$n" "press -> 'button rights: press -> play rights', one" \
			"'playing rights (en)'; capture = render within 1 LSB" \
			"(${M%; at *}); handled $(handled 1) after the edge"
	else
		fail "$n" "'playing rights (en)' $PN times (want 1)"
	fi
}

scenario_led_amp() {
	# The amp must be off first: idle_off_s after the last sound.
	wait_value 0 $((IDLE_OFF_MS + 3000)) "$V_AMP" || {
		fail "$n" "amp still on $((IDLE_OFF_MS + 3000)) ms after the last sound"
		return
	}
	watch_start /tmp/ledamp.watch 5
	sleep 0.6
	u0=$(underruns)
	capture_start ledamp || {
		fail "$n" "capture did not start"
		return
	}
	i0=$(idles)
	# The amp's rise is timed by spinning on its value right after the
	# press (the watch, every 5 ms, times the rest).
	out=$(vmprobe drive "$P_DOOR" d "w:1:$V_AMP" 60 u)
	tp=$(echo "$out" | awk '$1 == "d" { print $2 }')
	rise=$(echo "$out" | awk '$1 == "w" { print $2 }')
	wait_idle "$i0" 15000 || note "$n: no idle after the press"
	wait_value 0 $((IDLE_OFF_MS + 3000)) "$V_AMP"
	sleep 0.2
	capture_stop
	watch_stop
	te=$(now)
	m=$(vmprobe match "$CAP.raw" "$CAP.tl" /tmp/ref-door-en.wav "$tp" 10)
	snd=$(vmprobe sound "$CAP.raw" "$CAP.tl" "$tp")
	first=$(val first "$snd") last=$(val last "$snd")
	W=/tmp/ledamp.watch
	before=$(vmprobe edges $W 0 $((tp - 500000000)) "$tp")
	playing=$(vmprobe edges $W 0 $((${first:-0} + 100000000)) $((${last:-0} - 100000000)))
	after=$(vmprobe edges $W 0 $((${last:-0} + 600000000)) "$te")
	amp=$(vmprobe edges $W 1 $((tp - 500000000)) "$te")
	why=
	[ -n "$first" ] || why="no sound captured; "
	# on = ready: steady on before the press and after the sound.
	if [ "$(val start "$before")" != 1 ] || [ "$(val changes "$before")" != 0 ]; then
		why="${why}LED not steady on when ready ($before); "
	fi
	if [ "$(val start "$after")" != 1 ] || [ "$(val changes "$after")" != 0 ]; then
		why="${why}LED not steady on after playing ($after); "
	fi
	# 1 Hz blink while playing: 500 ms half-periods.
	slow=$(val mean_ms "$playing")
	if [ "$(val changes "$playing")" -lt 3 ] || ! within 400 "$slow" 650; then
		why="${why}LED not blinking at 1 Hz while playing ($playing); "
	fi
	# The amp: off before, on before the sound, the sound after the
	# warm-up, off idle_off_s after the sound.
	fall=$(val fall "$amp")
	if [ "$(val start "$amp")" != 0 ] || [ -z "$rise" ] || [ "$fall" -le 0 ]; then
		why="${why}amp did not go on and off ($amp); "
	fi
	case $m in match*) ;; *) why="${why}door not played whole: $m; " ;; esac
	if [ -z "$why" ]; then
		lead=$(ms "$rise" "$first")
		idle=$(ms "$last" "$fall")
		# snd-aloop counts a stream's time from the tick it started
		# in, so its sound can come out up to one tick early: a
		# tick (+1 ms) of slack.
		within $((WARMUP_MS - TICK_MS - 1)) "$lead" 100000 ||
			why="${why}first sound only $lead ms after the amp went on (warmup_ms $WARMUP_MS); "
		within $((IDLE_OFF_MS - 100)) "$idle" $((IDLE_OFF_MS + 1500)) ||
			why="${why}amp off $idle ms after the last sound (idle_off_s $((IDLE_OFF_MS / 1000))); "
	fi
	if [ -z "$why" ]; then
		ok "$n" "LED steady on when ready, 1 Hz blink while playing" \
			"(mean half-period $slow ms), steady on after; amp on" \
			"$(ms "$tp" "$rise") ms after the press, first sound" \
			"$lead ms after the amp went on (warmup_ms $WARMUP_MS)," \
			"amp off $idle ms after the last sound (idle_off_s" \
			"$((IDLE_OFF_MS / 1000))); door = render within 1 LSB"
	elif ! disturbed "$u0" $W; then
		fail "$n" "$why"
	fi
}

scenario_bounce() {
	p0=$(count "$LOG" "button rights: press")
	r0=$(count "$LOG" "playing rights (en)")
	i0=$(idles)
	# Contact bounce on press and on release: 5 edges each, ~5 ms.
	# (vmprobe spins through the gaps rather than sleeping.)
	out=$(vmprobe drive "$P_RIGHTS" d 1 u 1 d 2 u 1 d 300 u 1 d 1 u 1 d 1 u)
	spans=$(echo "$out" | awk '{ t[NR] = $2 } END { printf "%.1f %.1f", (t[5] - t[1]) / 1e6, (t[10] - t[6]) / 1e6 }')
	wait_idle "$i0" 10000 || note "$n: no idle after the press"
	sleep 0.2
	p=$(($(count "$LOG" "button rights: press") - p0))
	r=$(($(count "$LOG" "playing rights (en)") - r0))
	# The bursts must fit in debounce_ms (30) to test it.
	set -f
	# shellcheck disable=SC2086
	set -- $spans
	set +f
	if ! within 0 "$1" 27 || ! within 0 "$2" 27; then
		AGAIN="emulation stretched the bursts to $1 and $2 ms, more than debounce_ms allows"
		return
	fi
	if [ "$p" = 1 ] && [ "$r" = 1 ]; then
		ok "$n" "5 edges in $1 ms on press, 5 in $2 ms on release" \
			"(debounce_ms 30): one press, one 'playing rights'"
	else
		fail "$n" "5 edges in $1 ms on press, 5 in $2 ms on release:" \
			"$p presses logged, $r plays (want 1, 1)"
	fi
}

scenario_hold() {
	p0=$(count "$LOG" "button rights: press -> play rights")
	h0=$(count "$LOG" "button rights: hold -> play rights all")
	e0=$(count "$LOG" "playing rights (es)")
	i0=$(idles)
	vmprobe drive "$P_RIGHTS" d 1300 u >/dev/null
	wait_log "$LOG" "playing rights (es)" $((e0 + 1)) 10000
	wait_idle "$i0" 10000 || note "$n: no idle after the hold"
	p=$(($(count "$LOG" "button rights: press -> play rights") - p0))
	h=$(($(count "$LOG" "button rights: hold -> play rights all") - h0))
	e=$(($(count "$LOG" "playing rights (es)") - e0))
	if [ "$p" = 1 ] && [ "$h" = 1 ] && [ "$e" = 1 ]; then
		ok "$n" "held 1.3 s: one press, then one 'hold -> play rights" \
			"all' (rights played in en, then es)"
	else
		fail "$n" "held 1.3 s: $p presses, $h holds, $e plays of rights/es" \
			"(want 1 each)"
	fi
}

scenario_stuck_line() {
	p0=$(count "$LOG" "button rights: press")
	h0=$(count "$LOG" "button rights: hold")
	d0=$(count "$LOG" "playing door (en)")
	s0=$(count "$LOG" "button stop: press -> stop")
	i0=$(idles)
	# rights goes down and stays down (a stuck button, a short).
	vmprobe drive "$P_RIGHTS" d >/dev/null
	wait_log "$LOG" "button rights: hold" $((h0 + 1)) 5000
	press "$P_DOOR" >/dev/null
	wait_log "$LOG" "playing door (en)" $((d0 + 1)) 5000
	sleep 0.5
	press "$P_STOP" >/dev/null
	wait_log "$LOG" "button stop: press -> stop" $((s0 + 1)) 5000
	wait_idle "$i0" 10000
	sleep 1
	s=$(status)
	p=$(($(count "$LOG" "button rights: press") - p0))
	h=$(($(count "$LOG" "button rights: hold") - h0))
	d=$(($(count "$LOG" "playing door (en)") - d0))
	st=$(($(count "$LOG" "button stop: press -> stop") - s0))
	vmprobe drive "$P_RIGHTS" u >/dev/null
	sleep 0.1
	case $s in *state=idle*) idle=1 ;; *) idle=0 ;; esac
	if [ "$p" = 1 ] && [ "$h" = 1 ] && [ "$d" = 1 ] && [ "$st" = 1 ] &&
		[ $idle = 1 ]; then
		ok "$n" "rights held down 3 s: one press, one hold, nothing" \
			"more; door played and stop silenced it meanwhile"
	else
		fail "$n" "rights held down: $p presses, $h holds (want 1, 1);" \
			"door plays $d, stops $st (want 1, 1); $s"
	fi
}

scenario_preempt_stop() {
	u0=$(underruns)
	capture_start preempt || {
		fail "$n" "capture did not start"
		return
	}
	r0=$(count "$LOG" "playing rights (en)")
	i0=$(idles)
	t1=$(press "$P_DOOR")
	sleep 0.7
	t2=$(press "$P_RIGHTS")
	wait_log "$LOG" "playing rights (en)" $((r0 + 1)) 5000
	wait_idle "$i0" 10000
	i0=$(idles)
	t3=$(press "$P_DOOR")
	sleep 0.7
	t4=$(press "$P_STOP")
	wait_idle "$i0" 5000
	sleep 0.3
	capture_stop
	m=$(vmprobe match "$CAP.raw" "$CAP.tl" /tmp/ref-rights-en.wav "$t2" 10)
	door=$(vmprobe sound "$CAP.raw" "$CAP.tl" "$t1" "$t2")
	snd=$(vmprobe sound "$CAP.raw" "$CAP.tl" "$t3")
	last=$(val last "$snd")
	why=
	case $door in first*) ;; *) why="door not heard before the preemption; " ;; esac
	case $m in
	match*) pre=$(ms "$t2" "$(echo "$m" | sed 's/.* at \([0-9]*\) ns$/\1/')") ;;
	*) why="${why}rights not whole after the preempting press: $m; " ;;
	esac
	if [ -z "$last" ]; then
		why="${why}no sound after the second door press; "
	else
		stop=$(ms "$t4" "$last")
		within -1000 "$stop" "$STOP_MAX" ||
			why="${why}sound went on $stop ms after stop (buffer_ms $BUFFER_MS, at most $STOP_MAX); "
	fi
	if [ -z "$why" ]; then
		ok "$n" "rights preempted door: its first frame $pre ms after" \
			"the press, whole and within 1 LSB of the render; stop:" \
			"last sound $stop ms after the press (buffer_ms" \
			"$BUFFER_MS; passes up to $STOP_MAX ms)"
	elif ! disturbed "$u0"; then
		fail "$n" "$why"
	fi
}

scenario_latency() {
	u0=$(underruns)
	capture_start latency || {
		fail "$n" "capture did not start"
		return
	}
	# One press to have the amp on, then 20 measured: press rights, stop
	# it, silence, next. The amp stays on (idle_off_s 2).
	steps="@$P_RIGHTS d 30 u 300 @$P_STOP d 30 u 300"
	all=
	k=0
	while [ $k -le 20 ]; do
		all="$all $steps"
		k=$((k + 1))
	done
	# shellcheck disable=SC2086
	vmprobe drive $all >/tmp/latency.drive
	sleep 0.3
	capture_stop
	presses=$(awk -v f="$P_RIGHTS" '$1 == "d" && $3 == f { print $2 }' /tmp/latency.drive | tail -n 20)
	# shellcheck disable=SC2086
	vmprobe latency "$CAP.raw" "$CAP.tl" $presses >/tmp/latency.out
	rc=$?
	note "latency: each press, ms: $(sed -n 's/^press [0-9]*: \([0-9.]*\) ms$/\1/p' /tmp/latency.out | tr '\n' ' ')"
	grep -v -e '^press [0-9]*: [0-9.]* ms$' -e '^latency:' /tmp/latency.out |
		sed 's/^/VMTEST: note latency: /'
	sum=$(tail -1 /tmp/latency.out)
	mx=$(echo "$sum" | sed -n 's/.*max \([0-9.]*\) ms.*/\1/p')
	u=$(($(underruns) - u0))
	if [ $rc = 0 ] && within 0 "${mx:-99999}" 1000; then
		ok "$n" "press -> first sound (amp warm, guest clock):" \
			"${sum#latency: }; the daemon's edge -> handled:" \
			"$(handled 20); underruns meanwhile: $u"
	else
		fail "$n" "$sum; underruns meanwhile: $u"
	fi
}

scenario_exit_lines_off() {
	daemon_stop
	rc=$?
	sleep 0.2
	led=$(cat "$V_LED") amp=$(cat "$V_AMP")
	if [ "$rc" = 0 ] && [ "$led" = 0 ] && [ "$amp" = 0 ]; then
		ok "$n" "SIGTERM: exit 0, LED off, amp off"
	else
		fail "$n" "after SIGTERM: exit $rc, LED $led, amp $amp (want 0 0 0)"
	fi
}

# --- session B: a configured line that does not exist ---------------------
scenario_ghost_line() {
	watch_start /tmp/ghost.watch 5
	if ! daemon_start "$GHOST" B; then
		fail "$n" "bullhornd did not start: $(tail -5 "$LOG")"
		return
	fi
	why=
	sleep 0.5
	s=$(status)
	ta=$(now)
	sleep 1.2
	e=$(vmprobe edges /tmp/ghost.watch 0 "$ta" "$(now)")
	watch_stop
	said=$(grep -F 'GPIO99' "$LOG" | grep -F '[button ghost]' | head -1)
	[ -n "$said" ] || why="no log line names [button ghost] and GPIO99; "
	case $s in *led=fault*faults=1*) ;; *) why="${why}status: $s; " ;; esac
	fastmean=$(val mean_ms "$e")
	if [ "$(val changes "$e")" -lt 6 ] || ! within 90 "$fastmean" 200; then
		why="${why}LED not blinking fast (4 Hz): $e; "
	fi
	press_match "$P_RIGHTS" /tmp/ref-rights-en.wav 80 "playing rights (en)" ||
		why="${why}rights with the ghost configured: $M; "
	daemon_stop
	if [ -z "$why" ]; then
		ok "$n" "logged '${said#bullhornd: }'; status faults=1" \
			"led=fault, LED blinking fast (mean half-period" \
			"$fastmean ms); rights still plays, bit-exact"
	else
		fail "$n" "$why"
	fi
}

if [ $setup_ok = 1 ]; then
	for sc in late_card single_press led_amp bounce hold stuck_line \
		preempt_stop latency exit_lines_off ghost_line; do
		run "$sc"
	done
fi
daemon_stop
capture_stop
watch_stop

note "the daemon's device ran dry $(count /tmp/A.log "ran dry") time(s) in" \
	"session A, $(count /tmp/B.log "ran dry") in B (emulation)"
say "guest ran $(ms "$t_boot" "$(now)") ms after setup; failed:${failed:- none}"
say "log BEGIN"
for f in /tmp/A.log /tmp/B.log /tmp/render.log; do
	[ -e "$f" ] || continue
	echo "--- $f"
	cat "$f"
done
echo "--- dmesg (last 40 lines)"
dmesg | tail -40
say "log END"
say "done"
sync
poweroff -f
