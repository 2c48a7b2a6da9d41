#!/bin/sh
# Fetches Debian packages of any suite and architecture and unpacks them
# into a folder, without installing anything into this system:
#
#   sh tests/sysroot.sh SUITE ARCH DEST PKG...
#   sh tests/sysroot.sh trixie amd64 build/sysroot/trixie-amd64 \
#           libgpiod-dev libgpiod3
#
# apt runs on a private configuration kept in DEST.apt/ (its own sources
# list, package lists, cache and an empty dpkg status) pointed at this
# machine's Debian mirror; set BULLHORN_APT_MIRROR=URI to use another.
# Only the packages named are fetched, not their dependencies. DEST is
# replaced as a whole once every package is unpacked, and a stamp in it
# records suite, architecture and packages: a second run with the same
# arguments does nothing and needs no network.
set -eu

me=sysroot.sh
die() {
	echo "$me: $*" >&2
	exit 1
}

[ $# -ge 4 ] || {
	echo "usage: sh tests/sysroot.sh SUITE ARCH DEST PKG..." >&2
	exit 2
}
suite=$1 arch=$2 dest=${3%/}
shift 3
case $dest in
'' | /) die "refusing to use '$3' as the sysroot folder" ;;
esac
# apt reads relative paths against /etc/apt: make DEST absolute.
mkdir -p "$(dirname "$dest")"
dest=$(cd "$(dirname "$dest")" && pwd)/$(basename "$dest")

want=$(printf 'suite=%s arch=%s packages=%s' "$suite" "$arch" \
	"$(printf '%s\n' "$@" | sort -u | tr '\n' ' ')")
stamp=$dest/.sysroot-stamp
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
	exit 0
fi
if [ -e "$dest" ] && [ ! -f "$stamp" ] &&
	[ -n "$(ls -A "$dest" 2>/dev/null)" ]; then
	die "$dest exists and was not made by $me; remove it or choose another"
fi

# The Debian archive entries of this machine: those whose suite is its own
# codename (not -security or -updates, which name suites differently),
# from one-line .list files and deb822 .sources files alike. Prints
# "URI|KEYRING" lines.
host_mirrors() {
	# shellcheck disable=SC1091
	codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
	[ -n "$codename" ] || return 0
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -f "$f" ] || continue
		awk -v cn="$codename" '
		$1 == "deb" {
			i = 2; key = ""
			if ($2 ~ /^\[/) {
				for (; i <= NF; i++) {
					if ($i ~ /^\[?signed-by=/) {
						key = $i
						sub(/^\[?signed-by=/, "", key)
						sub(/\]$/, "", key)
					}
					if ($i ~ /\]$/) { i++; break }
				}
			}
			if ($(i + 1) == cn) print $i "|" key
		}' "$f"
	done
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		awk -v cn="$codename" '
		function flush() {
			if (types ~ /(^| )deb( |$)/ && enabled != "no" &&
			    (" " suites " ") ~ (" " cn " "))
				for (n = split(uris, u, " "); n > 0; n--)
					print u[n] "|" key
			types = uris = suites = key = enabled = ""
		}
		/^[ \t]*$/ { flush(); next }
		/^#/ { next }
		{
			field = tolower($1); sub(/:$/, "", field)
			value = $0; sub(/^[^:]*:[ \t]*/, "", value)
			if (field == "types") types = value
			else if (field == "uris") uris = value
			else if (field == "suites") suites = value
			else if (field == "signed-by") key = value
			else if (field == "enabled") enabled = value
		}
		END { flush() }' "$f"
	done
}

apt_dir=$dest.apt
mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" \
	"$apt_dir/parts" "$apt_dir/debs"
: >"$apt_dir/status"
default_key=/usr/share/keyrings/debian-archive-keyring.gpg
if [ -n "${BULLHORN_APT_MIRROR:-}" ]; then
	mirrors="$BULLHORN_APT_MIRROR|"
else
	mirrors=$(host_mirrors | awk '!seen[$0]++')
fi
[ -n "$mirrors" ] ||
	die "found no Debian mirror in /etc/apt/sources.list or" \
		"/etc/apt/sources.list.d/; set BULLHORN_APT_MIRROR=URI"
echo "$mirrors" | while IFS='|' read -r uri key; do
	[ -n "$key" ] || key=$default_key
	printf 'Types: deb\nURIs: %s\nSuites: %s\nComponents: main\n' \
		"$uri" "$suite"
	printf 'Architectures: %s\nSigned-By: %s\n\n' "$arch" "$key"
done >"$apt_dir/sources.sources"
uris=$(echo "$mirrors" | cut -d'|' -f1 | paste -sd' ' -)

# Command-line options override the host's apt.conf.d, which is still
# read so that a proxy configured there keeps working.
apt() {
	apt-get -q \
		-o Dir::Etc::SourceList="$apt_dir/empty.list" \
		-o Dir::Etc::SourceParts="$apt_dir/parts" \
		-o Dir::Etc::Preferences="$apt_dir/empty.pref" \
		-o Dir::Etc::PreferencesParts="$apt_dir/parts" \
		-o Dir::State::Lists="$apt_dir/lists" \
		-o Dir::State::status="$apt_dir/status" \
		-o Dir::Cache="$apt_dir/cache" \
		-o Dir::Cache::archives="$apt_dir/cache/archives" \
		-o APT::Architecture="$arch" \
		-o APT::Architectures="$arch" \
		-o Acquire::Languages=none \
		-o APT::Sandbox::User=root \
		"$@"
}
: >"$apt_dir/empty.list"
: >"$apt_dir/empty.pref"
rm -f "$apt_dir/parts/"*
cp "$apt_dir/sources.sources" "$apt_dir/parts/sysroot.sources"

echo "$me: fetching $suite/$arch package lists from $uris"
apt update --error-on=any >"$apt_dir/update.log" 2>&1 || {
	sed 's/^/  /' "$apt_dir/update.log" >&2
	die "cannot fetch the $suite/$arch package lists from $uris:" \
		"this needs network access to that mirror"
}
rm -f "$apt_dir/debs/"*.deb
echo "$me: downloading $*"
(cd "$apt_dir/debs" && apt download "$@") >"$apt_dir/download.log" 2>&1 || {
	sed 's/^/  /' "$apt_dir/download.log" >&2
	die "cannot download $* from $suite/$arch at $uris:" \
		"check the package names; this needs network access"
}

new=$dest.new
rm -rf "$new"
mkdir -p "$new"
for deb in "$apt_dir/debs/"*.deb; do
	dpkg-deb -x "$deb" "$new" || die "cannot unpack $deb"
done
# An absolute symlink (libfoo.so -> /usr/lib/...) would point into this
# system: make each relative, within the sysroot.
find "$new" -type l | while IFS= read -r link; do
	target=$(readlink "$link")
	case $target in
	/*) ln -sfn "$(realpath -sm --relative-to="$(dirname "$link")" \
		"$new$target")" "$link" ;;
	esac
done
echo "$want" >"$new/.sysroot-stamp"
rm -rf "$dest"
mv "$new" "$dest"
echo "$me: $dest ready ($*)"
