#!/bin/sh
# /init of the power-cut test (tests/vm/powercut.sh builds the initramfs
# and boots it again and again on the same disk): busybox, Debian's kernel
# with virtio-blk and ext4 as modules, the real bullhornd and bullhorn
# under /vm/bin, the recordings a user imports under /vm/src.
#
#   /dev/vda  the kit's disk (ext4): bullhorn.ini, lib/, cache/, state
#   /dev/vdb  what the user saw before the last cuts (raw text, NUL
#             padded): the host's copy of every "begin"/"done" line this
#             script printed in the earlier boots
#
# Kernel command line: powercut_boot=N (0: the fresh disk), and
# powercut_mode=write (verify, then write until the host cuts the power)
# or verify (verify, then power off cleanly). Every result is one line:
#
#   POWERCUT: ok NAME: what was found
#   POWERCUT: FAIL NAME: what went wrong
#
# then "POWERCUT: writing" and, per operation, "POWERCUT: begin OP ARGS ."
# before it starts and "POWERCUT: done OP ARGS ." once the command
# reported success (the trailing " ." marks a whole line: the host drops
# a line the cut tore).

export PATH=/bin:/sbin:/vm/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /tmp /run /mnt
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run

arg() { sed -n "s/.*powercut_$1=\([^ ]*\).*/\1/p" /proc/cmdline; }
BOOT=$(arg boot)
MODE=$(arg mode)
D=/mnt
CFG=$D/bullhorn.ini
SRC=/vm/src
LOG=/tmp/daemon.log
# The user replaces en/s0..s3 (versions A and B in turn, /vm/src/sK-A.wav
# and sK-B.wav) and adds new es/nBxJ (from n0..n2.wav), at most
# NEW_PER_BOOT per boot.
NEW_PER_BOOT=3

say() { echo "POWERCUT: $*"; }
ok() {
	n=$1
	shift
	say "ok $n: $*"
}
fail() {
	n=$1
	shift
	say "FAIL $n: $*"
}
up() { cut -d' ' -f1 /proc/uptime; }
finish() {
	say "done"
	cd /
	[ -n "${DPID:-}" ] && kill "$DPID" 2>/dev/null && wait "$DPID"
	umount "$D" 2>/dev/null
	sync
	poweroff -f
}

# --- the disk ---------------------------------------------------------------
while read -r m; do
	insmod "/vm/modules/$m.ko" || {
		fail setup "insmod $m failed"
		finish
	}
done </vm/modules/order
# noauto_da_alloc: ext4 otherwise writes a file's data out when it is
# renamed over an existing one, which would hide a missing fsync. The
# commit interval stays at its default (5 s), the dirty data's expiry too
# (30 s), as on the kit.
w=0
until [ -b /dev/vda ] || [ $w -ge 50 ]; do
	sleep 0.1
	w=$((w + 1))
done
if ! mount -t ext4 -o noauto_da_alloc /dev/vda "$D" 2>/tmp/mount.err; then
	fail mount "/dev/vda: $(cat /tmp/mount.err); $(dmesg | tail -5)"
	finish
fi
tr -d '\000' </dev/vdb >/tmp/witness 2>/dev/null
replay=$(dmesg | grep -c 'recovery complete')
[ "$BOOT" = 0 ] ||
	ok mount "ext4 mounted (noauto_da_alloc), journal replayed:" \
		"$([ "$replay" -gt 0 ] && echo yes || echo 'no (clean)'), $(df -k "$D" |
			awk 'NR == 2 { printf "%d of %d KiB used", $3, $2 }')"

# --- what a file is ---------------------------------------------------------
# "MD5 VERSION" for every recording the user has (s0-A, s0-B, ..., n0...).
md5sum "$SRC"/*.wav | sed 's|  .*/\(.*\)\.wav$| \1|' >/tmp/versions
# The version a file is, or "-".
version_of() {
	s=$(md5sum "$1" 2>/dev/null | cut -d' ' -f1)
	awk -v s="${s:-x}" '$1 == s { print $2; f = 1; exit } END { if (!f) print "-" }' /tmp/versions
}
# Whether a recording's file name is a temp file or a staged copy, which
# the library never reads.
is_temp() {
	case ${1##*/} in .* | *.tmp.*) return 0 ;; esac
	return 1
}

# --- verify -----------------------------------------------------------------
# Collects a check's problems in bad: the first five in full, then a count.
bad='' nbad=0
problem() {
	nbad=$((nbad + 1))
	if [ $nbad -le 5 ]; then
		bad="$bad; $*"
	elif [ $nbad = 6 ]; then
		bad="$bad; ..."
	fi
}
# "N problems: the first; ...; " for a FAIL line.
problems() { echo "$nbad problem(s): ${bad#; }"; }
# Every file under lib/ (recordings and .backup/) is one complete version
# of a recording; then, from what the user saw: a recording whose last
# import said done is in place as that version; one whose last import was
# cut (begun, never done) is in place as the old or the new version, or
# absent with the old one whole in .backup/.
check_recordings() {
	bad='' nbad=0 files=0 temps=0 backups=0
	find "$D/lib" -type f >/tmp/files
	while IFS= read -r f; do
		if is_temp "$f"; then
			temps=$((temps + 1))
			continue
		fi
		files=$((files + 1))
		case $f in */.backup/*) backups=$((backups + 1)) ;; esac
		v=$(version_of "$f")
		if [ "$v" = - ]; then
			sz=$(stat -c %s "$f")
			[ "$sz" = 0 ] && what="zero-length" ||
				what="$sz bytes, no version a user had (torn or garbage)"
			problem "${f#"$D"/}: $what"
		fi
	done </tmp/files
	# key (lang/msg), last done version, the version begun after it.
	awk '$2 == "begin" && $3 == "import" { k = $4 "/" $5; b[k] = $6; seen[k] = 1 }
		$2 == "done" && $3 == "import" { k = $4 "/" $5; d[k] = $6; b[k] = ""; seen[k] = 1 }
		END { for (k in seen) print k, (k in d ? d[k] : "-"), (b[k] != "" ? b[k] : "-") }' \
		/tmp/witness | sort >/tmp/expect
	strict=0 loose=0 aside=0
	while read -r key done_v begun; do
		place=
		for pf in "$D/lib/$key".*; do
			[ -f "$pf" ] && ! is_temp "$pf" && place=$pf && break
		done
		pv=- shown=nothing
		[ -n "$place" ] && pv=$(version_of "$place") && shown=$pv
		[ "$shown" = - ] && shown="a damaged file"
		if [ "$begun" = - ]; then
			strict=$((strict + 1))
			[ "$pv" = "$done_v" ] ||
				problem "$key: import of $done_v said done, in place: $shown"
			continue
		fi
		loose=$((loose + 1))
		if [ -n "$place" ] && [ "$pv" != "$done_v" ] && [ "$pv" != "$begun" ]; then
			problem "$key: in place $pv, expected $done_v or $begun (cut import)"
		fi
		[ "$done_v" = - ] || [ "$pv" = "$done_v" ] && continue
		# The last whole version must be in .backup/.
		found=0
		for bf in "$D/lib/${key%/*}/.backup/${key#*/}".*; do
			[ -f "$bf" ] && [ "$(version_of "$bf")" = "$done_v" ] && found=1 && break
		done
		if [ $found = 1 ]; then
			aside=$((aside + 1))
		else
			problem "$key: import of $done_v said done, no whole copy left (in place: $shown)"
		fi
	done </tmp/expect
	detail="$files files whole ($backups in .backup/), $strict recordings as last imported, $loose cut mid-import: old or new ($aside only in .backup/), $temps temp/staged files (never read)"
	if [ -n "$bad" ]; then
		fail recordings "$(problems); $detail"
	else
		ok recordings "$detail"
	fi
}

# The state file is the old state or the new one the cut interrupted,
# never anything else: the last volume and language a command said done,
# or one begun after it.
check_state() {
	awk '$3 == "volume" || $3 == "language" {
		if ($2 == "done") { d[$3] = $4; p[$3] = "" }
		else p[$3] = p[$3] " " $4 }
		END { print (d["volume"] != "" ? d["volume"] : "-") "|" p["volume"] "|" (d["language"] != "" ? d["language"] : "-") "|" p["language"] }' \
		/tmp/witness >/tmp/state.expect
	IFS='|' read -r dv pv dl pl </tmp/state.expect
	# Before any save the file does not exist; the config's 100 and en.
	[ "$dv" = - ] && dv=100
	[ "$dl" = - ] && dl=en
	if [ ! -e "$D/state" ]; then
		if grep -q 'done \(volume\|language\)' /tmp/witness; then
			fail state "no state file, but a volume or language change said done"
		else
			ok state "no state file yet (nothing was saved before the cut)"
		fi
		return
	fi
	sz=$(stat -c %s "$D/state")
	got=$(tr '\n' ' ' <"$D/state")
	v=$(sed -n 's/^volume=\([0-9]*\)$/\1/p' "$D/state")
	l=$(sed -n 's/^language=\([a-z]*\)$/\1/p' "$D/state")
	if [ "$(wc -l <"$D/state")" != 2 ] || [ -z "$v" ] || [ -z "$l" ]; then
		fail state "$sz bytes, not a whole state: '$got'"
		return
	fi
	case " $dv $pv " in *" $v "*) vok=1 ;; *) vok=0 ;; esac
	case " $dl $pl " in *" $l "*) lok=1 ;; *) lok=0 ;; esac
	if [ $vok = 1 ] && [ $lok = 1 ]; then
		pend=
		[ -z "$pv" ] || pend="volume$pv"
		[ -z "$pl" ] || pend="${pend:+$pend, }language$pl"
		ok state "volume=$v language=$l (last done: $dv $dl; cut mid-change: ${pend:-none})"
	else
		fail state "'$got', expected volume $dv${pv:+ or$pv}, language $dl${pl:+ or$pl}"
	fi
	STATE_V=$v STATE_L=$l
}

# Every cache entry is whole by the daemon's own rules (src/cache.c):
# magic, header size, key = name, header CRC, size = header + frames x 4,
# payload CRC (busybox crc32 is zlib's CRC-32). Temp files are counted:
# the daemon's next start must remove them (checked there).
u32() { od -An -tu4 -j"$2" -N4 "$1" | tr -d ' '; }
check_cache() {
	bad='' nbad=0 n=0 CACHE_TMP=0
	for f in "$D"/cache/*; do
		[ -e "$f" ] || continue
		b=${f##*/}
		case $b in
		*.clip.tmp.*)
			CACHE_TMP=$((CACHE_TMP + 1))
			continue
			;;
		????????????????.clip) ;;
		*)
			problem "unexpected $b"
			continue
			;;
		esac
		n=$((n + 1))
		sz=$(stat -c %s "$f")
		magic=$(od -An -tx1 -N8 "$f" | tr -d ' ')
		key=$(od -An -tx8 -j16 -N8 "$f" | tr -d ' ')
		frames=$(od -An -tu8 -j32 -N8 "$f" | tr -d ' ')
		ss=$(u32 "$f" 40)
		why=
		if [ "$magic" != 4248434c49500001 ] || [ "$(u32 "$f" 8)" != 256 ]; then
			why="bad magic or header ($sz bytes)"
		elif [ "$key" != "${b%.clip}" ] || [ "${frames:-0}" = 0 ]; then
			why="key $key, $frames frames"
		elif [ "$sz" != $((256 + ${frames:-0} * 4)) ]; then
			why="$sz bytes for $frames frames (torn)"
		elif [ "$(printf '%08x' "$(u32 "$f" $((48 + ss)))")" != \
			"$(head -c $((48 + ss)) "$f" | crc32)" ]; then
			why="header CRC"
		elif [ "$(printf '%08x' "$(u32 "$f" 28)")" != \
			"$(tail -c +257 "$f" | crc32)" ]; then
			why="payload CRC"
		fi
		[ -z "$why" ] || problem "$b: $why"
	done
	if [ -n "$bad" ]; then
		fail cache "$(problems)"
	else
		ok cache "$n entries whole (size, header and payload CRC), $CACHE_TMP temp files"
	fi
}

DPID=
daemon_start() {
	bullhornd --config "$CFG" --verbose >>"$LOG" 2>&1 &
	DPID=$!
	# Up to 2 minutes: a start may process recordings under emulation.
	for _ in $(seq 1200); do
		bullhorn -c "$CFG" status >/dev/null 2>&1 && return 0
		kill -0 "$DPID" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}
daemon_kill() { # SIGNAL
	kill "-$1" "$DPID" 2>/dev/null
	wait "$DPID" 2>/dev/null
	DPID=
}

# The daemon starts on what the cut left: every recording ready, no
# entry rejected, the cache's temp files gone, the state it shows is the
# file's.
check_daemon() {
	: >"$LOG"
	t0=$(up)
	if ! daemon_start; then
		fail daemon "did not start: $(tail -5 "$LOG")"
		return
	fi
	t1=$(up)
	ready=$(grep -m1 'recordings\? ready' "$LOG" | sed 's/.*: \([0-9]* recordings\? ready.*\) in .*/\1/')
	st=$(bullhorn -c "$CFG" status 2>&1)
	sv=$(echo "$st" | sed -n 's/.* volume=\([0-9]*\) .*/\1/p')
	sl=$(echo "$st" | sed -n 's/.* language=\([a-z]*\) .*/\1/p')
	left=$(find "$D/cache" -name '*.clip.tmp.*' | wc -l)
	bad='' nbad=0
	grep -q 'corrupt\|skipped (re-record' "$LOG" &&
		problem "$(grep -m2 'corrupt\|skipped (re-record' "$LOG" | tr '\n' ' ')"
	case $ready in *", 0 skipped"*) ;; *) problem "ready: $ready" ;; esac
	[ "$left" = 0 ] || problem "$left cache temp files left after the start"
	if [ "${STATE_V:-100}" != "$sv" ] || [ "${STATE_L:-en}" != "$sl" ]; then
		problem "status volume=$sv language=$sl, state file ${STATE_V:-none} ${STATE_L:-}"
	fi
	if [ -n "$bad" ]; then
		fail daemon "$(problems)"
	else
		ok daemon "started in $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s: $ready; $CACHE_TMP cache temp files removed; status volume=$sv language=$sl"
	fi
}

check_check() {
	out=$(bullhorn -c "$CFG" check 2>&1)
	rc=$?
	n=$(echo "$out" | grep -c '^e[ns]  ')
	if [ $rc = 0 ]; then
		ok check "bullhorn check exit 0, $n recordings listed"
	else
		fail check "bullhorn check exit $rc: $(echo "$out" | tail -4 | tr '\n' ' ')"
	fi
}

cd "$D" || finish
if [ "$BOOT" != 0 ]; then
	STATE_V='' STATE_L=''
	check_recordings
	check_state
	check_cache
	check_daemon
	check_check
else
	daemon_start || {
		fail daemon "did not start on the fresh disk: $(tail -5 "$LOG")"
		finish
	}
fi
[ "$MODE" = write ] || finish

# --- write until the power is cut ----------------------------------------------
# The version of a replaceable recording to import next: the other one.
next_version() {
	case $(version_of "$D/lib/en/$1.wav") in
	"$1-A") echo B ;;
	*) echo A ;;
	esac
}
# An import first finishes what a cut left staged ("finished an import
# that was cut off earlier ...: en/s2.wav, es/n1x0.wav is in place now"):
# that recording is now as that import was to make it, a done line each.
finished() { # OUTPUT
	list=$(echo "$1" | sed -n 's/^finished an import that was cut off.*: \(.*\) is in place now$/\1/p' | tr -d ,)
	for f in $list; do
		l=${f%%/*} m=${f#*/}
		say "done import $l ${m%.*} $(version_of "$D/lib/$f") ."
	done
}
# Runs OP (a bullhorn command line after -c CFG) between a begin and a
# done line; WHAT is how the lines name it.
op() { # WHAT COMMAND...
	what=$1
	shift
	say "begin $what ."
	if out=$(bullhorn -c "$CFG" "$@" 2>&1); then
		finished "$out"
		say "done $what ."
	else
		fail write "bullhorn $*: $(echo "$out" | tail -2 | tr '\n' ' ')"
	fi
}
[ -n "$DPID" ] || daemon_start
say "writing at $(up) s"
k=0 new=0 vol=$(bullhorn -c "$CFG" status | sed -n 's/.* volume=\([0-9]*\) .*/\1/p')
while [ $k -lt 2000 ]; do
	slot=s$((k % 4))
	# Every fifth turn a cold start: the daemon dies (SIGKILL, or SIGTERM
	# which saves the state), an import is made meanwhile, and the start
	# builds its cache entry.
	cold=$((k % 5 == 4))
	[ $cold = 1 ] && daemon_kill "$([ $((k % 10)) = 4 ] && echo KILL || echo TERM)"
	v=$(next_version "$slot")
	op "import en $slot $slot-$v" import "$SRC/$slot-$v.wav" --language en \
		--message "$slot" --replace
	if [ $((k % 3)) = 0 ] && [ $new -lt $NEW_PER_BOOT ]; then
		name=n${BOOT}x$new src=n$((new % 3))
		op "import es $name $src" import "$SRC/$src.wav" --language es \
			--message "$name"
		new=$((new + 1))
	fi
	if [ $cold = 1 ]; then
		daemon_start || fail write "the daemon did not start: $(tail -3 "$LOG")"
	else
		vol=$((10 + (vol + 37) % 90))
		op "volume $vol" volume "$vol"
		if [ $((k % 4)) = 1 ]; then
			lang=$(bullhorn -c "$CFG" status | sed -n 's/.* language=\([a-z]*\) .*/\1/p')
			[ "$lang" = en ] && lang=es || lang=en
			op "language $lang" next-language
		fi
		bullhorn -c "$CFG" reload >/dev/null 2>&1
	fi
	k=$((k + 1))
done
fail write "never cut: 2000 turns written"
finish
