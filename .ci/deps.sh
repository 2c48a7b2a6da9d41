#!/bin/sh
# Installs the Debian packages one job needs, or names them and stops.
#   sh .ci/deps.sh run    build and run bullhornd
#   sh .ci/deps.sh test   build and run the whole test suite
#   sh .ci/deps.sh bench  run bench/latency
#   sh .ci/deps.sh cross  make CROSS=aarch64-linux-gnu (or
#                         arm-linux-gnueabihf) cross-test
set -eu
build="make gcc pkg-config libsndfile1-dev libasound2-dev libinih-dev
libebur128-dev libsoxr-dev zlib1g-dev libgpiod-dev libevdev-dev libsystemd-dev"
case "${1:-test}" in
run) want="$build alsa-utils" ;;
# ffmpeg is the independent loudness meter; espeak-ng and opus-tools make
# the placeholder recordings; clang for make CC=clang, with its libFuzzer
# (libclang-rt-14-dev, only recommended) for make fuzz. The libgpiod 2.x
# tests fetch their own sysroot (tests/sysroot.sh: network, no install).
# e2fsprogs makes and checks the disk of make powercut.
test) want="$build libcmocka-dev clang libclang-rt-14-dev cppcheck clang-format
ffmpeg espeak-ng opus-tools sox systemd e2fsprogs" ;;
bench) want="$build alsa-utils sox" ;;
# No -dev packages: the arm64/armhf ones come in a sysroot that make
# fetches (tests/sysroot.sh: network, no install). Under qemu the tests
# still run this system's ffmpeg, espeak-ng, opusenc and sox.
cross) want="make pkg-config gcc-aarch64-linux-gnu gcc-arm-linux-gnueabihf
qemu-user-static ffmpeg espeak-ng opus-tools sox" ;;
*)
	echo "usage: sh .ci/deps.sh run|test|bench|cross" >&2
	exit 2
	;;
esac
missing=
for p in $want; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ]; then
	echo "installing:$missing"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
elif command -v sudo >/dev/null; then
	echo "installing with sudo:$missing"
	sudo apt-get update -qq
	sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing
else
	echo "missing Debian packages; as root, run:" >&2
	echo "  apt-get install$missing" >&2
	exit 1
fi
