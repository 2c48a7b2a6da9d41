#!/bin/sh
# tests/systemd.sh: checks the files in systemd/ with systemd's own tools,
# without installing anything:
#
#   - bullhorn.service passes `systemd-analyze verify` without a warning;
#   - `systemd-analyze security --offline=true` rates it 2.0 or lower
#     (MAX_EXPOSURE below), and the sound, GPIO and input devices stay
#     reachable (so the score is not bought by cutting the hardware off);
#   - bullhorn.sysusers makes user bullhorn, group bullhorn, and puts it in
#     every group the unit names in SupplementaryGroups= (a group missing
#     there stops the service), creating a missing gpio group and leaving
#     existing groups' GIDs alone;
#   - bullhorn.tmpfiles makes the writable library setgid and
#     group-writable for group bullhorn (needs root, for the chown;
#     skipped otherwise).
#
#   sh tests/systemd.sh          (or through tests/run.sh)
#
# Prints cmocka's summary lines, which tests/run.sh reads. Needs
# systemd-analyze, systemd-sysusers and systemd-tmpfiles, all in the Debian
# package "systemd". BUILD (default build) names the build folder: when
# BUILD/bullhornd exists, verify checks the unit against it.
set -u

MAX_EXPOSURE=2.0
# systemd-analyze's --threshold takes tenths: 20 means an exposure of 2.0.
THRESHOLD=$(awk -v m="$MAX_EXPOSURE" 'BEGIN { printf "%d", m * 10 + 0.5 }')

root=$(cd "$(dirname "$0")/.." && pwd)
sysd=$root/systemd
unit=$sysd/bullhorn.service
build=${BUILD:-build}
case $build in
/*) ;;
*) build=$root/$build ;;
esac

export LC_ALL=C SYSTEMD_PAGER=cat SYSTEMD_COLORS=0

passed=0 failed=0 skipped=0 failed_names='' skipped_names=''

tmp=$(mktemp -d "${TMPDIR:-/tmp}/bullhorn-systemd.XXXXXX") || {
	echo "systemd.sh: cannot make a temporary folder"
	echo "[  FAILED  ] 1 test(s), listed below:"
	echo "[  FAILED  ] setup"
	echo "[  FAILED  ] 1 test(s)."
	exit 1
}
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' HUP INT TERM

# -- cmocka-style reporting ------------------------------------------

run() {
	echo "[ RUN      ] $1"
	out=$tmp/$1.out
	: >"$out"
	if "$@" >"$out" 2>&1; then
		sed 's/^/    /' "$out"
		echo "[       OK ] $1"
		passed=$((passed + 1))
	else
		rc=$?
		sed 's/^/    /' "$out"
		if [ "$rc" -eq 77 ]; then
			echo "[  SKIPPED ] $1"
			skipped=$((skipped + 1))
			skipped_names="$skipped_names $1"
		else
			echo "[  FAILED  ] $1"
			failed=$((failed + 1))
			failed_names="$failed_names $1"
		fi
	fi
}

summary() {
	total=$((passed + failed + skipped))
	echo "[==========] $total test(s) run."
	echo "[  PASSED  ] $passed test(s)."
	if [ "$skipped" -gt 0 ]; then
		echo "[  SKIPPED ] $skipped test(s), listed below:"
		for t in $skipped_names; do echo "[  SKIPPED ] $t"; done
	fi
	if [ "$failed" -gt 0 ]; then
		echo "[  FAILED  ] $failed test(s), listed below:"
		for t in $failed_names; do echo "[  FAILED  ] $t"; done
	fi
	# The count line last: tests/run.sh takes the last match.
	[ "$failed" -eq 0 ] || echo "[  FAILED  ] $failed test(s)."
}

# The value of KEY= lines in the unit, all assignments joined by spaces.
unit_value() {
	sed -n "s/^$1=//p" "$unit" | tr '\n' ' '
}

# -- the tools -------------------------------------------------------

missing=
for tool in systemd-analyze systemd-sysusers systemd-tmpfiles; do
	command -v "$tool" >/dev/null 2>&1 || missing="$missing $tool"
done
if [ -n "$missing" ]; then
	echo "systemd.sh:$missing not found. They come with the Debian package"
	echo "'systemd' (sudo apt install systemd); this test cannot run without."
	echo "[  FAILED  ] 1 test(s), listed below:"
	echo "[  FAILED  ] tools"
	echo "[  FAILED  ] 1 test(s)."
	exit 1
fi
echo "systemd.sh: $(systemd-analyze --version | head -1)"

# -- the unit --------------------------------------------------------

# verify checks that every command exists. The unit runs
# /usr/sbin/bullhornd, which is not installed here, so a copy of the unit
# runs the built daemon instead (or a stand-in when it is not built); no
# other line is changed. verify reports most mistakes (unknown keys, bad
# values) as warnings with exit status 0: any output at all fails.
unit_verify() {
	bin=$build/bullhornd
	if [ ! -x "$bin" ]; then
		echo "note: $bin is not built; verifying against a stand-in"
		bin=$tmp/bullhornd
		printf '#!/bin/sh\nexit 0\n' >"$bin"
		chmod 755 "$bin"
	fi
	mkdir -p "$tmp/verify"
	copy=$tmp/verify/bullhorn.service
	sed -e "s|^ExecStart=/usr/sbin/bullhornd |ExecStart=$bin |" \
		-e "s|^ExecStart=/usr/sbin/bullhornd\$|ExecStart=$bin|" \
		"$unit" >"$copy"
	changed=$(diff "$unit" "$copy" | grep -c '^>')
	if [ "$changed" -ne 1 ]; then
		echo "expected one ExecStart=/usr/sbin/bullhornd line, changed $changed"
		return 1
	fi
	# --man=no: the man pages named in Documentation= are not installed
	# here; they are checked where they are built.
	systemd-analyze verify --man=no "$copy" >"$tmp/verify.out" 2>&1
	rc=$?
	cat "$tmp/verify.out"
	[ "$rc" -eq 0 ] && [ ! -s "$tmp/verify.out" ]
}

security() {
	[ -f "$tmp/security.out" ] && return 0
	systemd-analyze security --offline=true --threshold="$THRESHOLD" --no-pager \
		"$unit" >"$tmp/security.out" 2>"$tmp/security.err"
	echo $? >"$tmp/security.rc"
}

unit_exposure() {
	security
	rc=$(cat "$tmp/security.rc")
	score=$(sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\) .*/\1/p' \
		"$tmp/security.out")
	cat "$tmp/security.err"
	grep -v '^[+-] ' "$tmp/security.out" | grep -v '^ *NAME ' |
		grep -v '^$' || true
	if [ -z "$score" ]; then
		echo "no overall exposure level in the output"
		return 1
	fi
	# Show what is still counted against the unit.
	grep '^- ' "$tmp/security.out" | sed 's/  */ /g'
	echo "exposure $score (at most $MAX_EXPOSURE): systemd-analyze security" \
		"--offline=true --threshold=$THRESHOLD systemd/bullhorn.service"
	# Unknown keys and bad values are warnings here too.
	[ ! -s "$tmp/security.err" ] || return 1
	[ "$rc" -eq 0 ] &&
		awk -v s="$score" -v m="$MAX_EXPOSURE" 'BEGIN { exit !(s <= m) }'
}

# The score must not come from cutting off the hardware: the device ACL
# must still hold sound (rw), GPIO (rw) and input (r), the host /dev must
# stay (PrivateDevices= would hide hot-plugged devices), and the sound
# core must be loaded before start so that "alsa" resolves.
unit_devices_reachable() {
	security
	ok=0
	acl=$(grep '^[+-] DeviceAllow=' "$tmp/security.out")
	echo "${acl:-no DeviceAllow= line}" | sed 's/  */ /g'
	for want in char-alsa:rw char-gpiochip:rw char-input:r; do
		case " $acl " in
		*" $want "*) ;;
		*)
			echo "DeviceAllow= lacks $want"
			ok=1
			;;
		esac
	done
	if ! grep -q '^- PrivateDevices= .*has access to hardware devices' \
		"$tmp/security.out"; then
		echo "PrivateDevices= hides /dev/snd, /dev/gpiochip*, /dev/input"
		ok=1
	fi
	case " $(unit_value DevicePolicy) " in
	*" closed "*) ;;
	*)
		echo "DevicePolicy= is not closed"
		ok=1
		;;
	esac
	if ! grep -qx 'snd' "$sysd/bullhorn-modules.conf"; then
		echo "bullhorn-modules.conf does not load snd early"
		ok=1
	fi
	return $ok
}

# -- users, groups and folders ---------------------------------------

# Makes a root folder $1 holding the sysusers and tmpfiles files where
# they are installed, and runs systemd-sysusers on it.
sysusers_root() {
	r=$1
	mkdir -p "$r/etc" "$r/usr/lib/sysusers.d" "$r/usr/lib/tmpfiles.d"
	cp "$sysd/bullhorn.sysusers" "$r/usr/lib/sysusers.d/bullhorn.conf"
	cp "$sysd/bullhorn.tmpfiles" "$r/usr/lib/tmpfiles.d/bullhorn.conf"
	systemd-sysusers --root="$r" bullhorn.conf
}

# Checks $1/etc: user bullhorn with its own group bullhorn, and member of
# every group in the unit's SupplementaryGroups=.
check_accounts() {
	r=$1
	ok=0
	user=$(grep '^bullhorn:' "$r/etc/passwd")
	group=$(grep '^bullhorn:' "$r/etc/group")
	echo "passwd: $user"
	uid_gid=$(echo "$user" | cut -d: -f4)
	if [ -z "$user" ] || [ -z "$group" ] ||
		[ "$uid_gid" != "$(echo "$group" | cut -d: -f3)" ]; then
		echo "user bullhorn with primary group bullhorn missing"
		ok=1
	fi
	case $(echo "$user" | cut -d: -f7) in
	*/nologin | */false) ;;
	*)
		echo "user bullhorn can log in"
		ok=1
		;;
	esac
	for g in $(unit_value SupplementaryGroups); do
		line=$(grep "^$g:" "$r/etc/group")
		echo "group:  $line"
		case ",$(echo "$line" | cut -d: -f4)," in
		*,bullhorn,*) ;;
		*)
			echo "bullhorn is not in group $g"
			ok=1
			;;
		esac
	done
	return $ok
}

# A plain Debian system: no gpio group yet.
sysusers_fresh_root() {
	r=$tmp/fresh
	sysusers_root "$r" || return 1
	check_accounts "$r"
}

# Raspberry Pi OS: audio, input and gpio exist with their own GIDs, with
# user pi in them; they must stay as they are, bullhorn added.
sysusers_keeps_existing_groups() {
	r=$tmp/pios
	mkdir -p "$r/etc"
	printf '%s\n' 'root:x:0:0:root:/root:/bin/bash' \
		'pi:x:1000:1000::/home/pi:/bin/bash' >"$r/etc/passwd"
	printf '%s\n' 'root:x:0:' 'audio:x:29:pi' 'input:x:105:pi' \
		'gpio:x:997:pi' 'pi:x:1000:' >"$r/etc/group"
	sysusers_root "$r" || return 1
	check_accounts "$r" || return 1
	for want in audio:29 input:105 gpio:997; do
		g=${want%:*} gid=${want#*:}
		line=$(grep "^$g:" "$r/etc/group")
		case "$(echo "$line" | cut -d: -f3) ,$(echo "$line" | cut -d: -f4)," in
		"$gid "*,pi,*) ;;
		*)
			echo "group $g lost its GID $gid or its member pi: $line"
			return 1
			;;
		esac
	done
}

# The writable library: setgid, group bullhorn may write, others nothing;
# /var/lib/bullhorn as StateDirectoryMode= says, so systemd and tmpfiles
# agree. The chown needs root.
tmpfiles_library_permissions() {
	if [ "$(id -u)" -ne 0 ]; then
		echo "needs root to give the folders to user bullhorn; skipped"
		return 77
	fi
	r=$tmp/fresh
	[ -f "$r/etc/passwd" ] || sysusers_root "$r" || return 1
	systemd-tmpfiles --root="$r" --create bullhorn.conf || return 1
	ids=$(grep '^bullhorn:' "$r/etc/passwd" | cut -d: -f3,4)
	state_mode=$(unit_value StateDirectoryMode | tr -d ' ' | sed 's/^0*//')
	ok=0
	for want in "var/lib/bullhorn $state_mode" "var/lib/bullhorn/audio 2770"; do
		p=${want% *} m=${want#* }
		got=$(stat -c '%a %u:%g' "$r/$p")
		echo "/$p: $got"
		if [ "$got" != "$m $ids" ]; then
			echo "/$p: expected $m $ids"
			ok=1
		fi
	done
	return $ok
}

run unit_verify
run unit_exposure
run unit_devices_reachable
run sysusers_fresh_root
run sysusers_keeps_existing_groups
run tmpfiles_library_permissions
summary
[ "$failed" -eq 0 ]
