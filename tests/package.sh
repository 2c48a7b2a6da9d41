#!/bin/sh
# tests/package.sh: the Debian package, built and checked as CI does.
#
#   sh tests/package.sh             build the package from a copy of this
#                                   tree, then check it
#   sh tests/package.sh FILE.deb    check a package built elsewhere
#
# 1. Build: the source tree as it is (the files git knows of, tracked or
#    new and not ignored: uncommitted work is built too; never build/)
#    is copied to a temporary folder and built there with
#    `dpkg-buildpackage -us -uc -b`. Never in the tree itself: the package
#    build starts with `make clean`, which would wipe build/. The package
#    build runs the test suite (without its libgpiod 2.x half, which needs
#    the network); DEB_BUILD_OPTIONS=nocheck skips it. The .deb, the
#    .changes and the build log are kept in BUILD/package/.
# 2. Contents (dpkg-deb -c, -I): the programs, the library, the systemd,
#    sysusers, tmpfiles, modules-load and udev files, the man pages
#    (rendered without warnings), the config as a conffile with the
#    installed paths, the maintainer scripts, hardened binaries
#    (hardening-check, when devscripts is there); the version agrees with
#    the Makefile's.
# 3. lintian: no errors (warnings and notes are shown).
# 4. As root on Debian, when no bullhorn package is installed yet:
#    installs it (dpkg -i, then apt-get -f install if dependencies are
#    missing); checks the user, groups, folders and the enabled unit;
#    runs the installed bullhornd as user bullhorn, as the unit would
#    (where systemd is not PID 1, as in a CI container, the service
#    cannot start, and postinst must not fail for it; where it is, the
#    running service is checked instead), and an operator's import;
#    changes /etc/bullhorn/bullhorn.ini and reinstalls and upgrades
#    (twice: the new version's default unchanged, then changed) to see
#    the change kept; removes and purges, and checks what is left. At the
#    end the machine is put back as it was (package, users, groups,
#    folders). Skipped when not root, not Debian, or bullhorn is
#    installed here already (it would be purged).
#
# Needs dpkg-dev, debhelper, fakeroot and lintian, and the package's
# Build-Depends; as root, missing ones are installed with apt-get,
# otherwise the apt-get line is printed. Prints cmocka's summary lines,
# as tests/run.sh reads them; not part of `make test` (it installs a
# package). BUILD (default build) names the build folder.
set -u

root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-build}
case $build in
/*) ;;
*) build=$root/$build ;;
esac
out=$build/package
export LC_ALL=C SYSTEMD_PAGER=cat DEBIAN_FRONTEND=noninteractive

passed=0 failed=0 skipped=0 failed_names='' skipped_names=''
tmp=$(mktemp -d "${TMPDIR:-/tmp}/bullhorn-package.XXXXXX") || {
	echo "package.sh: cannot make a temporary folder"
	echo "[  FAILED  ] 1 test(s)."
	exit 1
}
installed_here=no
cleanup() {
	[ "$installed_here" = yes ] && restore_system >/dev/null 2>&1
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM

# -- cmocka-style reporting ------------------------------------------

# run NAME FUNCTION [ARGS]: FUNCTION returns 0 (passed), 77 (skipped,
# its output says why) or anything else (failed).
run() {
	name=$1
	shift
	echo "[ RUN      ] $name"
	log=$tmp/run.out
	"$@" >"$log" 2>&1
	rc=$?
	sed 's/^/    /' "$log"
	if [ "$rc" -eq 0 ]; then
		echo "[       OK ] $name"
		passed=$((passed + 1))
	elif [ "$rc" -eq 77 ]; then
		echo "[  SKIPPED ] $name"
		skipped=$((skipped + 1))
		skipped_names="$skipped_names|$name"
	else
		echo "[  FAILED  ] $name"
		failed=$((failed + 1))
		failed_names="$failed_names|$name"
	fi
	return "$rc"
}

summary() {
	echo "[==========] $((passed + failed + skipped)) test(s) run."
	echo "[  PASSED  ] $passed test(s)."
	if [ "$skipped" -gt 0 ]; then
		echo "[  SKIPPED ] $skipped test(s), listed below:"
		echo "$skipped_names" | tr '|' '\n' | sed -n 's/^./[  SKIPPED ] &/p'
	fi
	if [ "$failed" -gt 0 ]; then
		echo "[  FAILED  ] $failed test(s), listed below:"
		echo "$failed_names" | tr '|' '\n' | sed -n 's/^./[  FAILED  ] &/p'
		# The count line last: tests/run.sh takes the last match.
		echo "[  FAILED  ] $failed test(s)."
	fi
	[ "$failed" -eq 0 ]
}

# fails with a message: use as `cond || fail "why"` inside a test.
fail() {
	echo "$*"
	return 1
}

is_root() { [ "$(id -u)" = 0 ]; }

# Installs Debian packages when root, or names them and fails.
need_packages() {
	missing=
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
			grep -q 'ok installed' || missing="$missing $p"
	done
	[ -z "$missing" ] && return 0
	if ! is_root; then
		echo "missing Debian packages; as root, run:"
		echo "  apt-get install$missing"
		return 1
	fi
	echo "installing:$missing"
	apt-get update -qq && apt-get install -y -qq $missing >/dev/null
}

# -- 1. the build ----------------------------------------------------

deb=
changes=
version=$(dpkg-parsechangelog -l "$root/debian/changelog" -S Version 2>/dev/null)
arch=$(dpkg --print-architecture 2>/dev/null)

test_tools() {
	command -v dpkg >/dev/null || fail "not a Debian system: no dpkg" || return
	need_packages dpkg-dev debhelper fakeroot lintian
}

# The files git knows of (tracked, or new and not ignored) that exist;
# without git, everything but build/ and .git/.
copy_source() {
	dest=$1
	mkdir -p "$dest"
	if git -C "$root" rev-parse --git-dir >/dev/null 2>&1; then
		(cd "$root" && git ls-files -co --exclude-standard |
			while IFS= read -r f; do
				[ -e "$f" ] && printf '%s\n' "$f"
			done | tar -cf - -T -) | tar -xf - -C "$dest"
	else
		(cd "$root" && tar -cf - --exclude=./build --exclude=./.git .) |
			tar -xf - -C "$dest"
	fi
}

test_build() {
	src=$tmp/src/bullhorn-${version%%-*}
	copy_source "$src" || fail "cannot copy the source tree" || return
	rm -rf "$src/build"
	if ! (cd "$src" && dpkg-checkbuilddeps) >"$tmp/deps.out" 2>&1; then
		if is_root; then
			echo "installing the Build-Depends:"
			cat "$tmp/deps.out"
			apt-get update -qq &&
				apt-get build-dep -y -qq "$src" >/dev/null ||
				fail "apt-get build-dep failed" || return
		else
			cat "$tmp/deps.out"
			echo "as root, run:  apt-get build-dep $root"
			return 1
		fi
	fi
	echo "dpkg-buildpackage -us -uc -b in $src" \
		"(DEB_BUILD_OPTIONS=${DEB_BUILD_OPTIONS:-})"
	mkdir -p "$out"
	if ! (cd "$src" && dpkg-buildpackage -us -uc -b) >"$out/build.log" 2>&1; then
		tail -40 "$out/build.log"
		fail "dpkg-buildpackage failed; the whole log: $out/build.log"
		return
	fi
	# The test suite's last lines, when the build ran it.
	grep -E '^[0-9]+ passed, [0-9]+ failed' "$out/build.log" | tail -1
	rm -f "$out"/*.deb "$out"/*.changes "$out"/*.buildinfo
	cp "$tmp/src"/*.deb "$tmp/src"/*.changes "$tmp/src"/*.buildinfo "$out/"
	ls "$out"
	deb=$out/bullhorn_${version}_$arch.deb
	changes=$out/bullhorn_${version}_$arch.changes
	[ -f "$deb" ] || fail "no $deb"
}

# -- 2. contents -------------------------------------------------------

test_version() {
	mk=$(sed -n 's/^VERSION *:= *//p' "$root/Makefile")
	echo "debian/changelog $version, Makefile $mk"
	[ "${version%%-*}" = "$mk" ] ||
		fail "the package's version is not the Makefile's VERSION"
}

test_contents() {
	dpkg-deb -c "$deb" | awk '{print $6}' | sed 's|^\./|/|' >"$tmp/files"
	bad=0
	for f in /usr/sbin/bullhornd /usr/bin/bullhorn \
		/usr/share/bullhorn/audio/en/rights.txt \
		/usr/share/bullhorn/audio/en/rights.placeholder.opus \
		/usr/share/bullhorn/audio/es/_language.placeholder.opus \
		/usr/share/bullhorn/audio/_shared/chime.opus \
		/etc/bullhorn/bullhorn.ini \
		/usr/lib/sysusers.d/bullhorn.conf \
		/usr/lib/tmpfiles.d/bullhorn.conf \
		/usr/lib/modules-load.d/bullhorn.conf \
		/usr/lib/udev/rules.d/60-bullhorn-gpio.rules \
		/usr/share/man/man1/bullhorn.1.gz \
		/usr/share/man/man5/bullhorn.ini.5.gz \
		/usr/share/man/man8/bullhornd.8.gz \
		/usr/share/doc/bullhorn/copyright \
		/usr/share/doc/bullhorn/README.Debian; do
		grep -qx "$f" "$tmp/files" || {
			echo "missing: $f"
			bad=1
		}
	done
	grep -Eqx '(/usr)?/lib/systemd/system/bullhorn.service' "$tmp/files" || {
		echo "missing: /lib/systemd/system/bullhorn.service"
		bad=1
	}
	n=$(grep -c '^/usr/share/bullhorn/audio/.*\.opus$' "$tmp/files")
	echo "$(wc -l <"$tmp/files") entries, $n recordings"
	[ "$n" -ge 12 ] || {
		echo "the library is missing: $n recordings"
		bad=1
	}
	if grep -E '/\.git|/build/|\.o$' "$tmp/files"; then
		echo "build or VCS files in the package"
		bad=1
	fi
	[ "$bad" -eq 0 ]
}

test_control() {
	dpkg-deb -I "$deb" >"$tmp/info" || return
	sed -n '/^ Package:/,/^ Description:/p' "$tmp/info"
	bad=0
	field() { dpkg-deb -f "$deb" "$1"; }
	[ "$(field Package)" = bullhorn ] || bad=1
	[ "$(field Version)" = "$version" ] || {
		echo "Version $(field Version), changelog $version"
		bad=1
	}
	for dep in libgpiod libasound2 libsndfile1 libinih libebur128 \
		libsoxr libevdev 'systemd | systemd-standalone-sysusers'; do
		field Depends | grep -q "$dep" || {
			echo "Depends lacks $dep"
			bad=1
		}
	done
	dpkg-deb --ctrl-tarfile "$deb" | tar -xOf - ./conffiles >"$tmp/conffiles"
	grep -qx /etc/bullhorn/bullhorn.ini "$tmp/conffiles" || {
		echo "/etc/bullhorn/bullhorn.ini is not a conffile"
		bad=1
	}
	mkdir -p "$tmp/ctrl"
	dpkg-deb -e "$deb" "$tmp/ctrl"
	for want in 'postinst:systemd-sysusers.*bullhorn.conf' \
		'postinst:systemd-tmpfiles.*--create bullhorn.conf' \
		"postinst:deb-systemd-helper enable 'bullhorn.service'" \
		"postinst:deb-systemd-invoke" \
		"prerm:deb-systemd-invoke stop 'bullhorn.service'" \
		'postrm:rm -rf /var/cache/bullhorn' \
		"postrm:deb-systemd-helper purge 'bullhorn.service'"; do
		grep -q "${want#*:}" "$tmp/ctrl/${want%%:*}" || {
			echo "${want%%:*} lacks: ${want#*:}"
			bad=1
		}
	done
	[ "$bad" -eq 0 ]
}

# The config in the package: the installed layout, the unit's ExecStart.
test_installed_paths() {
	dpkg-deb --fsys-tarfile "$deb" >"$tmp/data.tar"
	tar -xOf "$tmp/data.tar" ./etc/bullhorn/bullhorn.ini >"$tmp/ini"
	bad=0
	for want in "library = /usr/share/bullhorn/audio" \
		"recordings = /var/lib/bullhorn/audio" \
		"cache = /var/cache/bullhorn" \
		"state = /var/lib/bullhorn/state" \
		"socket = /run/bullhorn/bullhorn.sock"; do
		grep -qx "$want" "$tmp/ini" || {
			echo "bullhorn.ini lacks: $want"
			bad=1
		}
	done
	unit=$(tar -tf "$tmp/data.tar" | grep 'systemd/system/bullhorn.service$')
	tar -xOf "$tmp/data.tar" "$unit" | grep -q \
		'^ExecStart=/usr/sbin/bullhornd --config /etc/bullhorn/bullhorn.ini' ||
		{
			echo "$unit: ExecStart is not /usr/sbin/bullhornd"
			bad=1
		}
	[ "$bad" -eq 0 ]
}

test_man_pages() {
	command -v man >/dev/null || {
		echo "man-db not installed"
		return 77
	}
	tar -xf "$tmp/data.tar" -C "$tmp" ./usr/share/man
	bad=0
	for m in "$tmp"/usr/share/man/man*/*.gz; do
		w=$(MANWIDTH=80 man --warnings -l "$m" 2>&1 >/dev/null)
		if [ -n "$w" ]; then
			echo "${m##*/}: $w"
			bad=1
		else
			echo "${m##*/}: renders without warnings"
		fi
	done
	[ "$bad" -eq 0 ]
}

test_hardening() {
	command -v hardening-check >/dev/null || {
		echo "hardening-check (devscripts) not installed"
		return 77
	}
	tar -xf "$tmp/data.tar" -C "$tmp" ./usr/sbin/bullhornd ./usr/bin/bullhorn
	# Control-flow protection (-fcf-protection) is not among the flags
	# Debian 12's dpkg-buildflags gives; Debian 13's does.
	hardening-check --nocfprotection "$tmp/usr/sbin/bullhornd" \
		"$tmp/usr/bin/bullhorn"
}

# -- 3. lintian --------------------------------------------------------

test_lintian() {
	target=$deb
	[ -n "$changes" ] && [ -f "$changes" ] && target=$changes
	echo "lintian $(lintian --version | sed 's/^Lintian v//') on ${target##*/}"
	lintian --fail-on error --display-info --pedantic "$target" >"$tmp/lintian" 2>&1
	rc=$?
	grep -v 'running with root privileges is not recommended' "$tmp/lintian"
	echo "errors: $(grep -c '^E:' "$tmp/lintian")," \
		"warnings: $(grep -c '^W:' "$tmp/lintian")," \
		"notes: $(grep -c '^[IP]:' "$tmp/lintian")"
	return "$rc"
}

# -- 4. install, upgrade, purge ---------------------------------------

ini=/etc/bullhorn/bullhorn.ini
wants=/etc/systemd/system/multi-user.target.wants/bullhorn.service

# The user and the groups bullhorn.sysusers may create, and which of
# them existed before the install tests.
groups_made='bullhorn audio input gpio'
had_user=no had_groups=
exists_user() { getent passwd "$1" >/dev/null; }
exists_group() { getent group "$1" >/dev/null; }

can_install() {
	if ! is_root; then
		echo "needs root: installs the package on this machine"
		return 77
	fi
	if [ ! -e /etc/debian_version ]; then
		echo "not a Debian system"
		return 77
	fi
	if dpkg-query -W -f='${Status}' bullhorn 2>/dev/null |
		grep -q 'installed\|config-files'; then
		echo "a bullhorn package is installed here: this test would" \
			"purge it (and its kit's settings); not run"
		return 77
	fi
	if [ -e /var/lib/bullhorn ] || [ -e /etc/bullhorn ]; then
		echo "/var/lib/bullhorn or /etc/bullhorn exists already; not run"
		return 77
	fi
	return 0
}

# Puts the machine back as it was before the install tests.
restore_system() {
	pkill_daemon
	dpkg -P bullhorn >/dev/null 2>&1
	rm -rf /var/lib/bullhorn /var/cache/bullhorn /run/bullhorn /etc/bullhorn
	exists_user bhpkgtest && userdel bhpkgtest
	[ "$had_user" = no ] && exists_user bullhorn && userdel bullhorn
	for g in $groups_made; do
		case " $had_groups " in
		*" $g "*) ;;
		*) exists_group "$g" && groupdel "$g" ;;
		esac
	done
	installed_here=no
}

daemon_pid=
pkill_daemon() {
	if [ -n "$daemon_pid" ]; then
		kill -TERM "$daemon_pid" 2>/dev/null
		wait "$daemon_pid" 2>/dev/null
		daemon_pid=
	fi
}

dpkg_install() { # deb [dpkg options]
	d=$1
	shift
	if dpkg "$@" -i "$d" </dev/null; then
		return 0
	fi
	echo "dpkg -i failed; trying apt-get -f install for the dependencies"
	apt-get update -qq && apt-get -f install -y -qq </dev/null
	dpkg-query -W -f='${Status}\n' bullhorn | grep -qx 'install ok installed'
}

test_install() {
	exists_user bullhorn && had_user=yes
	for g in $groups_made; do
		exists_group "$g" && had_groups="$had_groups $g"
	done
	installed_here=yes
	dpkg_install "$deb" || fail "the package did not install" || return
	bad=0
	status=$(dpkg-query -W -f='${Status}' bullhorn)
	echo "dpkg: $status"
	[ "$status" = "install ok installed" ] || bad=1
	for f in /usr/sbin/bullhornd /usr/bin/bullhorn "$ini" \
		/usr/share/bullhorn/audio/en/rights.txt \
		/usr/lib/sysusers.d/bullhorn.conf /usr/lib/tmpfiles.d/bullhorn.conf; do
		[ -e "$f" ] || {
			echo "not installed: $f"
			bad=1
		}
	done
	dpkg -L bullhorn | grep -q 'systemd/system/bullhorn.service$' || bad=1
	/usr/bin/bullhorn --version && /usr/sbin/bullhornd --version || bad=1
	[ "$bad" -eq 0 ]
}

test_user() {
	id bullhorn || fail "no user bullhorn" || return
	for g in bullhorn audio input gpio; do
		id -nG bullhorn | tr ' ' '\n' | grep -qx "$g" ||
			fail "bullhorn is not in group $g" || return
	done
	shell=$(getent passwd bullhorn | cut -d: -f7)
	echo "shell: $shell"
	case $shell in
	*/nologin | */false) ;;
	*) fail "a system user with a login shell" ;;
	esac
}

# What systemd-tmpfiles made (owner, group, mode).
test_folders() {
	bad=0
	for want in "/var/lib/bullhorn bullhorn:bullhorn 750" \
		"/var/lib/bullhorn/audio bullhorn:bullhorn 2770"; do
		set -- $want
		got=$(stat -c '%U:%G %a' "$1" 2>/dev/null)
		echo "$1: $got"
		[ "$got" = "$2 $3" ] || bad=1
	done
	[ "$bad" -eq 0 ]
}

test_enabled() {
	ls -l "$wants" 2>&1
	[ -L "$wants" ] || fail "bullhorn.service is not enabled" || return
	if [ -d /run/systemd/system ]; then
		systemctl is-enabled bullhorn.service
	else
		echo "systemd is not PID 1 here: the unit is enabled, not started" \
			"(and postinst did not fail for it)"
	fi
}

# Runs the installed daemon as systemd would (user bullhorn, its
# folders), asks it for its status, changes the volume, stops it.
test_daemon() {
	if [ -d /run/systemd/system ]; then
		# The first start normalizes the library before READY=1.
		echo "systemd runs here: the service itself is the test"
		i=0
		until [ "$(systemctl is-active bullhorn.service)" = active ]; do
			i=$((i + 1))
			[ "$i" -gt 300 ] && break
			sleep 1
		done
		systemctl status --no-pager bullhorn.service | head -5
		[ "$(systemctl is-active bullhorn.service)" = active ] ||
			fail "bullhorn.service is not active" || return
		setpriv --reuid=bhpkgtest --regid=bhpkgtest --init-groups \
			/usr/bin/bullhorn status ||
			fail "an operator in group bullhorn cannot ask the daemon"
		return
	fi
	install -d -o bullhorn -g bullhorn -m 750 /run/bullhorn /var/cache/bullhorn
	setpriv --reuid=bullhorn --regid=bullhorn --init-groups \
		/usr/sbin/bullhornd --config "$ini" >"$tmp/daemon.log" 2>&1 &
	daemon_pid=$!
	# The first start normalizes every recording of the library.
	i=0
	until /usr/bin/bullhorn send ping >/dev/null 2>&1; do
		i=$((i + 1))
		if [ "$i" -gt 600 ] || ! kill -0 "$daemon_pid" 2>/dev/null; then
			cat "$tmp/daemon.log"
			daemon_pid=
			fail "bullhornd did not answer within 5 minutes"
			return
		fi
		sleep 0.5
	done
	echo "ready after about $((i / 2)) s"
	st=$(setpriv --reuid=bhpkgtest --regid=bhpkgtest --init-groups \
		/usr/bin/bullhorn status) ||
		fail "an operator in group bullhorn cannot ask the daemon: $st" ||
		return
	echo "$st"
	/usr/bin/bullhorn volume 55 || return
	kill -TERM "$daemon_pid"
	wait "$daemon_pid"
	rc=$?
	daemon_pid=
	tail -3 "$tmp/daemon.log"
	[ "$rc" -eq 0 ] || fail "bullhornd exited with $rc after SIGTERM" || return
	ls -l /var/lib/bullhorn/state
	[ "$(stat -c %U /var/lib/bullhorn/state)" = bullhorn ] ||
		fail "no state file written by bullhorn" || return
	n=$(find /var/cache/bullhorn -type f | wc -l)
	echo "$n cached recordings"
	[ "$n" -gt 0 ]
}

# An operator (group bullhorn) imports into the writable library.
test_operator_import() {
	setpriv --reuid=bhpkgtest --regid=bhpkgtest --init-groups \
		/usr/bin/bullhorn import \
		/usr/share/bullhorn/audio/es/door.placeholder.opus \
		--language es --message door | tail -3 || return
	f=/var/lib/bullhorn/audio/es/door.opus
	ls -l "$f" || return
	[ "$(stat -c %G "$f")" = bullhorn ] ||
		fail "the import is not in group bullhorn (setgid folder)" || return
	# The volunteers' library takes precedence over the shipped one.
	/usr/bin/bullhorn check --json |
		grep -q "\"source\": \"$f\"" ||
		fail "bullhorn check does not play the import for es/door"
}

# The technician's edit survives a reinstall and two upgrades.
repack() { # version, then "changed" to change the shipped config too
	d=$tmp/repack-$1
	rm -rf "$d"
	dpkg-deb -R "$deb" "$d" || return
	sed -i "s/^Version: .*/Version: $1/" "$d/DEBIAN/control"
	if [ "${2:-}" = changed ]; then
		printf '\n# a new default in version %s\n' "$1" >>"$d/etc/bullhorn/bullhorn.ini"
		sum=$(cd "$d" && md5sum etc/bullhorn/bullhorn.ini)
		sed -i "s|^[0-9a-f]*  etc/bullhorn/bullhorn.ini\$|$sum|" \
			"$d/DEBIAN/md5sums"
	fi
	dpkg-deb -b "$d" "$tmp/bullhorn_$1.deb" >/dev/null
}

test_conffile_kept() {
	sed -i 's/^volume = .*/volume = 55/' "$ini" || return
	grep -qx 'volume = 55' "$ini" || fail "could not edit $ini" || return
	echo "reinstall of $version"
	dpkg_install "$deb" >/dev/null || return
	grep -qx 'volume = 55' "$ini" || fail "reinstall lost the change" || return
	v1=$version+test1 v2=$version+test2
	repack "$v1" && repack "$v2" changed || fail "cannot repack" || return
	echo "upgrade to $v1 (same default config)"
	dpkg_install "$tmp/bullhorn_$v1.deb" >/dev/null || return
	grep -qx 'volume = 55' "$ini" || fail "upgrade lost the change" || return
	echo "upgrade to $v2 (a new default config; keep mine)"
	dpkg_install "$tmp/bullhorn_$v2.deb" --force-confdef --force-confold \
		>/dev/null || return
	grep -qx 'volume = 55' "$ini" || fail "upgrade lost the change" || return
	[ -f "$ini.dpkg-dist" ] ||
		fail "the new default is not beside it as $ini.dpkg-dist" || return
	ls /etc/bullhorn
	[ -L "$wants" ] || fail "the upgrade disabled the unit" || return
	dpkg-query -W -f='${Version}\n' bullhorn
}

test_remove() {
	dpkg -r bullhorn || return
	bad=0
	for gone in /usr/sbin/bullhornd /usr/bin/bullhorn /usr/share/bullhorn; do
		[ -e "$gone" ] && {
			echo "left after remove: $gone"
			bad=1
		}
	done
	for kept in "$ini" /var/lib/bullhorn/state \
		/var/lib/bullhorn/audio/es/door.opus; do
		[ -e "$kept" ] || {
			echo "remove deleted $kept"
			bad=1
		}
	done
	exists_user bullhorn || bad=1
	[ "$bad" -eq 0 ]
}

test_purge() {
	dpkg -P bullhorn || return
	bad=0
	for gone in /etc/bullhorn /var/cache/bullhorn /var/lib/bullhorn/state \
		/run/bullhorn "$wants"; do
		if [ -e "$gone" ] || [ -L "$gone" ]; then
			echo "left after purge: $gone"
			bad=1
		fi
	done
	echo "left on purpose:"
	find /var/lib/bullhorn | sed 's/^/  /'
	[ -f /var/lib/bullhorn/audio/es/door.opus ] || {
		echo "purge deleted a volunteer's recording"
		bad=1
	}
	exists_user bullhorn && echo "user bullhorn kept (README.Debian)"
	dpkg-query -W bullhorn >/dev/null 2>&1 && {
		echo "dpkg still knows bullhorn"
		bad=1
	}
	[ "$bad" -eq 0 ]
}

# Without recordings, a purge leaves nothing of bullhorn's folders.
test_purge_clean() {
	rm -rf /var/lib/bullhorn
	dpkg_install "$deb" >/dev/null || return
	mkdir -p /var/lib/bullhorn/audio/fr # an empty language folder
	dpkg -P bullhorn || return
	left=$(ls -d /etc/bullhorn /var/lib/bullhorn /var/cache/bullhorn \
		/run/bullhorn 2>/dev/null)
	[ -z "$left" ] || fail "left after purge: $left"
}

# -- the run -----------------------------------------------------------

echo "package.sh: bullhorn $version on $arch, dpkg $(dpkg-query -W -f='${Version}' dpkg 2>/dev/null)"
if [ -z "$version" ] || [ -z "$arch" ]; then
	echo "package.sh: dpkg-parsechangelog or dpkg is missing (dpkg-dev)"
	echo "[  FAILED  ] 1 test(s)."
	exit 1
fi

run tools test_tools || {
	summary
	exit 1
}
if [ $# -gt 0 ]; then
	deb=$(cd "$(dirname "$1")" && pwd)/${1##*/}
	changes=
	[ -f "$deb" ] || {
		echo "package.sh: no such file: $1"
		echo "[  FAILED  ] 1 test(s)."
		exit 1
	}
	version=$(dpkg-deb -f "$deb" Version)
elif ! run build test_build; then
	summary
	exit 1
fi

run version test_version
run contents test_contents
run control test_control
run installed_paths test_installed_paths
run man_pages test_man_pages
run hardening test_hardening
run lintian test_lintian

run can_install can_install
if [ "$rc" -eq 0 ]; then
	if run install test_install; then
		useradd --system --no-create-home --shell /usr/sbin/nologin \
			-G bullhorn bhpkgtest
		run user test_user
		run folders test_folders
		run enabled test_enabled
		run daemon test_daemon
		run operator_import test_operator_import
		run conffile_kept test_conffile_kept
		run remove test_remove
		run purge test_purge
		run purge_clean test_purge_clean
	fi
	restore_system >/dev/null 2>&1
fi

summary
