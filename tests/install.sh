#!/bin/sh
# tests/install.sh: `make install` into a DESTDIR, and the tree it leaves:
# binaries, the shipped library, the config rewritten to the installed
# layout, the systemd files with ExecStart pointing at PREFIX, man pages;
# a changed config is kept on a second install (the new default beside
# it); `make uninstall` removes what install put there and keeps the
# kit's config. Prints cmocka's summary lines for tests/run.sh.
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-build}
tmp=$(mktemp -d /tmp/bullhorn-install.XXXXXX)
trap 'rm -rf "$tmp"' EXIT INT TERM
passed=0 failed=0

ok() { passed=$((passed + 1)); echo "[       OK ] $1"; }
bad() {
	failed=$((failed + 1))
	echo "[  FAILED  ] $1: $2"
}
check() { # name, then a command that must succeed
	name=$1
	shift
	if "$@" >/dev/null 2>&1; then ok "$name"; else bad "$name" "$*"; fi
}
inst() { # prefix destdir target
	make -s -C "$root" BUILD="$build" PREFIX="$1" DESTDIR="$2" "$3" \
		>"$tmp/make.log" 2>&1 || {
		cat "$tmp/make.log"
		return 1
	}
}

d=$tmp/root
check "make install" inst /usr "$d" install
for f in usr/sbin/bullhornd usr/bin/bullhorn \
	usr/share/bullhorn/audio/en/rights.txt \
	usr/share/bullhorn/audio/_shared/chime.opus \
	etc/bullhorn/bullhorn.ini \
	usr/lib/systemd/system/bullhorn.service \
	usr/lib/sysusers.d/bullhorn.conf usr/lib/tmpfiles.d/bullhorn.conf \
	usr/lib/modules-load.d/bullhorn.conf \
	usr/lib/udev/rules.d/60-bullhorn-gpio.rules; do
	check "installed $f" test -s "$d/$f"
done
for m in "$root"/man/*.[158]; do
	[ -e "$m" ] || continue
	s=${m##*.}
	check "man page ${m##*/}" test -s "$d/usr/share/man/man$s/${m##*/}"
done
check "binaries are executable" test -x "$d/usr/sbin/bullhornd"
ini=$d/etc/bullhorn/bullhorn.ini
for want in "library = /usr/share/bullhorn/audio" \
	"recordings = /var/lib/bullhorn/audio" \
	"cache = /var/cache/bullhorn" "state = /var/lib/bullhorn/state" \
	"socket = /run/bullhorn/bullhorn.sock"; do
	check "config: $want" grep -qx "$want" "$ini"
done
check "ExecStart at PREFIX" grep -q \
	"^ExecStart=/usr/sbin/bullhornd --config /etc/bullhorn/bullhorn.ini" \
	"$d/usr/lib/systemd/system/bullhorn.service"

# A technician's change survives a reinstall (upgrade).
sed -i 's/^volume = .*/volume = 55/' "$ini"
check "reinstall" inst /usr "$d" install
check "changed config kept" grep -qx "volume = 55" "$ini"
check "new default beside it" grep -qx "volume = 80" "$ini.new"

# /usr/local: the unit runs the binary that was installed.
check "install to /usr/local" inst /usr/local "$tmp/local" install
check "ExecStart at /usr/local" grep -q "^ExecStart=/usr/local/sbin/bullhornd" \
	"$tmp/local/usr/local/lib/systemd/system/bullhorn.service"

check "make uninstall" inst /usr "$d" uninstall
left=$(cd "$d" && find . -type f | sort | tr '\n' ' ')
if [ "$left" = "./etc/bullhorn/bullhorn.ini ./etc/bullhorn/bullhorn.ini.new " ]; then
	ok "uninstall keeps only the config"
else
	bad "uninstall keeps only the config" "left: $left"
fi

echo "[==========] $((passed + failed)) test(s) run."
echo "[  PASSED  ] $passed test(s)."
[ "$failed" -eq 0 ] || echo "[  FAILED  ] $failed test(s)."
[ "$failed" -eq 0 ]
