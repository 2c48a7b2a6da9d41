#!/bin/sh
# tests/readonly.sh: a kit whose root file system is read-only (the
# overlay or a read-only mount, README "Read-only root"), with only the
# writable parts the docs name: the state and volunteers' recordings
# (/var/lib/bullhorn), the cache (/var/cache/bullhorn) and the socket's
# folder (/run/bullhorn). In a private mount namespace, / is remounted
# read-only around bind mounts of those folders; bullhornd must start,
# play, save its state and take an import there, and start again warm.
# A second run has the cache read-only too: it must still play.
#
# Needs root and unshare(1) (util-linux); skipped otherwise. Prints
# cmocka's summary lines for tests/run.sh. BUILD names the build folder.
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
build=$root/${BUILD:-build}

summary() { # passed failed skipped
	echo "[==========] $(($1 + $2 + $3)) test(s) run."
	echo "[  PASSED  ] $1 test(s)."
	[ "$3" -gt 0 ] && echo "[  SKIPPED ] $3 test(s)."
	[ "$2" -gt 0 ] && echo "[  FAILED  ] $2 test(s)."
	[ "$2" -eq 0 ]
}

if [ "$(id -u)" != 0 ] || ! unshare -m true 2>/dev/null; then
	echo "[  SKIPPED ] needs root and unshare -m (mount namespaces)"
	summary 0 0 1
	exit 0
fi
if ! command -v sox >/dev/null; then
	echo "[  FAILED  ] sox is missing: apt-get install sox"
	summary 0 1 0
	exit 1
fi

t=$(mktemp -d /tmp/bullhorn-ro.XXXXXX)
trap 'rm -rf "$t"' EXIT INT TERM
w=$t/writable
mkdir -p "$t/lib/en" "$w/state" "$w/cache" "$w/run" "$w/recordings"
sox -n -r 48000 -c 1 "$t/lib/en/rights.wav" synth 1.0 sine 440 gain -12
sox -n -r 48000 -c 1 "$t/phone.wav" synth 1.5 sine 550 gain -6
cat >"$t/asound.conf" <<EOC
pcm.out { type file slave.pcm { type null } file "$w/run/out.raw" format raw }
EOC
cat >"$t/bullhorn.ini" <<EOC
[audio]
device = out
[paths]
library = $t/lib
recordings = $w/recordings
cache = $w/cache
state = $w/state/state
socket = $w/run/bullhorn.sock
[playback]
languages = en
volume = 80
EOC

# The kit: everything read-only but $w (and /dev, /proc for the
# programs). One namespace per phase; each prints OK/FAILED lines.
phase() { # name, script
	unshare -m --propagation private sh -euc "
		mount --bind '$w' '$w'
		mount --bind / /
		mount -o remount,bind,ro /
		$2" "$1" 2>&1
}

# shellcheck disable=SC2016 # expanded inside the namespace's shell
run_kit='
	export ALSA_CONFIG_PATH='"$t"'/asound.conf
	b='"$build"'
	c='"$t"'/bullhorn.ini
	ok() { echo "[       OK ] $1"; }
	no() { echo "[  FAILED  ] $1"; }
	if touch '"$t"'/probe 2>/dev/null; then no "root is read-only"; else ok "root is read-only"; fi
	t0=$(date +%s%N)
	$b/bullhornd -c $c >>'"$w"'/run/log 2>&1 &
	pid=$!
	i=0
	until $b/bullhorn -c $c status >/dev/null 2>&1; do
		i=$((i + 1)); [ $i -lt 500 ] || break; sleep 0.02
	done
	t1=$(date +%s%N)
	echo "ready after $(( (t1 - t0) / 1000000 )) ms"
	echo "$(( (t1 - t0) / 1000000 ))" >'"$w"'/run/ready_ms.$1
	$b/bullhorn -c $c play rights | grep -q "^ok playing rights" && ok "plays" || no "plays"
	$b/bullhorn -c $c volume 50 | grep -q "^ok volume 50" && ok "volume" || no "volume"
	sleep 1.5
	kill $pid; wait $pid && ok "exits 0" || no "exits 0"
'

out=$(phase cold "set -- cold; $run_kit
	export ALSA_CONFIG_PATH=$t/asound.conf
	$build/bullhorn -c $t/bullhorn.ini import $t/phone.wav --language en \
		--message door >/dev/null && ok import || no import")
echo "$out"
passed=$(echo "$out" | grep -c '^\[       OK \]')
failed=$(echo "$out" | grep -c '^\[  FAILED  \]')

check() { # name, command
	if eval "$2" >/dev/null 2>&1; then
		echo "[       OK ] $1"
		passed=$((passed + 1))
	else
		echo "[  FAILED  ] $1"
		failed=$((failed + 1))
	fi
}
check "state saved in the writable part" "grep -q volume=50 $w/state/state"
check "no temp file left" "! ls $w/state | grep -q tmp"
check "cache written" "[ -n \"\$(ls $w/cache)\" ]"
check "import in the writable library" "[ -s $w/recordings/en/door.wav ]"
check "something was played" "[ -s $w/run/out.raw ]"

# Warm start on the same read-only root.
out=$(phase warm "set -- warm; $run_kit")
echo "$out"
passed=$((passed + $(echo "$out" | grep -c '^\[       OK \]')))
failed=$((failed + $(echo "$out" | grep -c '^\[  FAILED  \]')))
check "warm start ready within a second" \
	"[ \$(cat $w/run/ready_ms.warm) -lt 1000 ]"

# The cache read-only as well: slower, but it plays.
out=$(unshare -m --propagation private sh -euc "
	mount --bind '$w' '$w'
	mount --bind '$w/cache' '$w/cache'
	mount -o remount,bind,ro '$w/cache'
	mount --bind / /
	mount -o remount,bind,ro /
	export ALSA_CONFIG_PATH=$t/asound.conf
	rm -f $w/run/out.raw
	$build/bullhornd -c $t/bullhorn.ini >$w/run/log.rocache 2>&1 &
	pid=\$!
	i=0
	until $build/bullhorn -c $t/bullhorn.ini status >/dev/null 2>&1; do
		i=\$((i + 1)); [ \$i -lt 500 ] || break; sleep 0.02
	done
	$build/bullhorn -c $t/bullhorn.ini play door | grep -q '^ok playing'
	sleep 2
	kill \$pid; wait \$pid" 2>&1) && r=0 || r=1
check "read-only cache: still plays" "[ $r = 0 ] && [ -s $w/run/out.raw ]"
[ $r = 0 ] || echo "$out"

summary "$passed" "$failed" 0
