# Shared by the VM tests (sourced, POSIX sh): tests/vm/run.sh (make vmtest)
# and tests/vm/powercut.sh (make powercut). The caller sets me (its name
# in messages) and here (this folder); sourcing sets top (the
# repository), cache (BULLHORN_VM_CACHE, default build/vm-cache), CC and
# VM_WARN, checks the host and makes the cache folder. Then: fetch_busybox, fetch_kernel, fetch_qemu (each a no-op
# once cached), build_vmprobe, write_config, new_root/add_bins/pack_root
# for an initramfs, vm_qemu to boot it, and result for the report lines.
# The caller's variables (me, here) and t_start, which it reads:
# shellcheck shell=sh disable=SC2154,SC2034

say() { echo "$me: $*"; }
die() {
	echo "$me: $*" >&2
	exit 1
}
top=$(cd "$here/../.." && pwd)
cache=${BULLHORN_VM_CACHE:-$top/build/vm-cache}
CC=${CC:-cc}
VM_WARN=${VM_WARN:--Wall -Wextra -Werror}
case $cache in /*) ;; *) cache=$top/$cache ;; esac
mkdir -p "$cache" || die "cannot make the cache folder $cache"
[ "$(dpkg --print-architecture 2>/dev/null)" = amd64 ] ||
	die "needs an amd64 Debian host: its binaries run in an x86-64 guest"
for tool in apt-get apt-cache dpkg-deb gzip make ldd tar timeout realpath; do
	command -v "$tool" >/dev/null || die "needs $tool"
done
t_start=$(date +%s)

apt_q() {
	if [ "$(id -u)" = 0 ]; then
		apt-get -q -o APT::Sandbox::User=root "$@"
	else
		apt-get -q "$@"
	fi
}

# Makes every absolute symlink under $1 relative, inside $1.
relink() {
	find "$1" -type l | while IFS= read -r link; do
		target=$(readlink "$link")
		case $target in
		/*) ln -sfn "$(realpath -sm --relative-to="$(dirname "$link")" \
			"$1$target")" "$link" ;;
		esac
	done
}

# --- the kernel, its modules and gpio-sim ------------------------------------
# Debian's kernel lacks GPIO_SIM and IRQ_SIM: gpio-sim.c and irq_sim.c from
# the same version's linux-source are built into one module against its
# linux-headers. irq_to_desc is not exported to modules, so irq_sim calls
# generic_handle_irq instead of handle_simple_irq(irq_to_desc(irq)).
KMODS="configfs soundcore snd snd-timer snd-pcm snd-aloop"
fetch_kernel() {
	kdir=$cache/kernel
	if [ -f "$kdir/stamp" ] && [ -z "${BULLHORN_VM_REFRESH:-}" ]; then
		return 0
	fi
	meta=${BULLHORN_VM_KERNEL:-linux-image-amd64}
	img=$(apt-cache depends "$meta" 2>/dev/null |
		sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*\).*/\1/p' | head -1)
	[ -n "$img" ] || img=$meta
	abi=${img#linux-image-}
	ver=$(apt-cache show --no-all-versions "$img" 2>/dev/null |
		sed -n 's/^Version: //p' | head -1)
	[ -n "$ver" ] || die "apt knows no $img (from $meta): run apt-get update"
	want="abi=$abi version=$ver"
	if [ -f "$kdir/stamp" ] && [ "$(cat "$kdir/stamp")" = "$want" ]; then
		return 0
	fi
	mm=$(echo "$ver" | sed 's/^\([0-9]*\.[0-9]*\).*/\1/')
	say "fetching kernel $abi ($ver): image, headers, linux-source-$mm"
	new=$kdir.new
	rm -rf "$new"
	mkdir -p "$new/debs" "$new/modules" "$new/src" "$new/gpio-sim"
	(cd "$new/debs" && apt_q download "$img" "linux-headers-$abi" \
		"linux-headers-${abi%-*}-common" "linux-kbuild-$mm=$ver" \
		"linux-source-$mm=$ver") >"$new/download.log" 2>&1 || {
		sed 's/^/  /' "$new/download.log" >&2
		die "cannot download the kernel packages (network?)"
	}
	m=./lib/modules/$abi/kernel
	dpkg-deb --fsys-tarfile "$new/debs/$img"_*.deb | tar -x -C "$new" \
		"./boot/vmlinuz-$abi" "$m/fs/configfs" "$m/sound/soundcore.ko" \
		"$m/sound/core" "$m/sound/drivers/snd-aloop.ko" ||
		die "cannot unpack $img"
	mv "$new/boot/vmlinuz-$abi" "$new/vmlinuz"
	for mod in $KMODS; do
		f=$(find "$new/lib/modules" -name "$mod.ko" | head -1)
		[ -n "$f" ] || die "$img has no $mod.ko"
		cp "$f" "$new/modules/"
	done
	rm -rf "${new:?}/lib" "${new:?}/boot"
	for p in "linux-headers-$abi" "linux-headers-${abi%-*}-common" \
		"linux-kbuild-$mm"; do
		dpkg-deb -x "$new/debs/${p}_"*.deb "$new/headers" ||
			die "cannot unpack $p"
	done
	# The flavour's Makefile includes the common one by absolute path.
	sed -i "s|^include /usr/src/|include $new/headers/usr/src/|" \
		"$new/headers/usr/src/linux-headers-$abi/Makefile"
	s=linux-source-$mm
	dpkg-deb --fsys-tarfile "$new/debs/${s}_"*.deb |
		tar -xO "./usr/src/$s.tar.xz" | unxz_ | tar -x -C "$new/src" \
		"$s/drivers/gpio/gpio-sim.c" "$s/drivers/gpio/gpiolib.h" \
		"$s/kernel/irq/irq_sim.c" || die "cannot unpack $s"
	rm -rf "$new/debs"
	# The headers are only used from here on, at this path: keep them
	# where the Makefile's include points.
	build_gpio_sim "$new" "$abi" || die "cannot build gpio-sim (see above)"
	sed -i "s|^include $new/|include $kdir/|" \
		"$new/headers/usr/src/linux-headers-$abi/Makefile"
	echo "$want" >"$new/stamp"
	rm -rf "$kdir"
	mv "$new" "$kdir"
	say "kernel $abi cached in $kdir"
}

unxz_() {
	if command -v xz >/dev/null; then
		xz -dc -T0
	else
		"$cache/busybox/busybox" xz -dc
	fi
}

build_gpio_sim() { # DIR ABI
	g=$1/gpio-sim
	s=$(find "$1/src" -mindepth 1 -maxdepth 1 -name 'linux-source-*')
	cp "$s/drivers/gpio/gpio-sim.c" "$g/gpio-sim-main.c" &&
		cp "$s/drivers/gpio/gpiolib.h" "$g/" || return 1
	sed 's/handle_simple_irq(irq_to_desc(irqnum))/generic_handle_irq(irqnum)/' \
		"$s/kernel/irq/irq_sim.c" >"$g/irq_sim.c"
	grep -q 'generic_handle_irq(irqnum)' "$g/irq_sim.c" || {
		echo "$me: irq_sim.c changed: irq_to_desc call not found" >&2
		return 1
	}
	printf 'obj-m := gpio-sim.o\ngpio-sim-y := gpio-sim-main.o irq_sim.o\n' \
		>"$g/Kbuild"
	# Not the project's make flags (CC=clang would reach the kernel's).
	(
		unset MAKEFLAGS MFLAGS MAKELEVEL CC
		make -s -C "$1/headers/usr/src/linux-headers-$2" M="$g" modules
	) >"$g/build.log" 2>&1 || {
		sed 's/^/  /' "$g/build.log" >&2
		return 1
	}
	cp "$g/gpio-sim.ko" "$1/modules/"
}

# --- qemu and busybox ------------------------------------------------------
QEMU='' QEMU_LIBS='' QEMU_FW=''
# virtual (default): the guest's clock advances 1 ns per instruction it
# executes (a 1 GIPS CPU) and skips its idle time; a busy host then slows
# the test down but cannot make the guest miss a deadline, so results and
# figures repeat exactly. real: multi-threaded TCG on 2 vCPUs against the
# host's clock (faster on an idle host; a busy one stalls the guest, and
# attempts disturbed by that are repeated, see guest.sh).
case ${BULLHORN_VM_CLOCK:-virtual} in
virtual) VM_CPU="-accel tcg -icount shift=0,sleep=off,align=off -smp 1" ;;
real) VM_CPU="-accel tcg,thread=multi -smp 2" ;;
*) die "BULLHORN_VM_CLOCK is virtual or real" ;;
esac
fetch_qemu() {
	if command -v qemu-system-x86_64 >/dev/null; then
		QEMU=$(command -v qemu-system-x86_64)
		return 0
	fi
	qdir=$cache/qemu
	QEMU=$qdir/root/usr/bin/qemu-system-x86_64
	QEMU_LIBS=$qdir/root/usr/lib/x86_64-linux-gnu:$qdir/root/lib/x86_64-linux-gnu
	QEMU_FW=$qdir/root/usr/share/qemu
	if [ -f "$qdir/stamp" ] &&
		LD_LIBRARY_PATH=$QEMU_LIBS "$QEMU" --version >/dev/null 2>&1; then
		return 0
	fi
	say "fetching qemu-system-x86 and what this machine lacks of its" \
		"dependencies (unpacked into $qdir, not installed)"
	rm -rf "$qdir"
	mkdir -p "$qdir/debs/partial" "$qdir/root" "$qdir/apt/state" \
		"$qdir/apt/cache"
	# apt resolves against a copy of this machine's dpkg status (so only
	# what is missing here is fetched) and locks that copy, not dpkg.
	cp /var/lib/dpkg/status "$qdir/apt/state/status" || die "no dpkg status"
	apt_q install -d -y --no-install-recommends \
		-o Dir::State::status="$qdir/apt/state/status" \
		-o Dir::Cache="$qdir/apt/cache" \
		-o Dir::Cache::archives="$qdir/debs" qemu-system-x86 \
		>"$qdir/download.log" 2>&1 || {
		sed 's/^/  /' "$qdir/download.log" >&2
		die "cannot download qemu-system-x86; or install it:" \
			"apt-get install qemu-system-x86"
	}
	for deb in "$qdir/debs/"*.deb; do
		dpkg-deb -x "$deb" "$qdir/root" || die "cannot unpack $deb"
	done
	rm -rf "$qdir/debs" "$qdir/apt"
	relink "$qdir/root"
	LD_LIBRARY_PATH=$QEMU_LIBS "$QEMU" --version >"$qdir/stamp" 2>&1 || {
		sed 's/^/  /' "$qdir/stamp" >&2
		rm -f "$qdir/stamp"
		die "the unpacked qemu does not run"
	}
}

fetch_busybox() {
	bdir=$cache/busybox
	[ -x "$bdir/busybox" ] && return 0
	say "fetching busybox-static"
	rm -rf "$bdir"
	mkdir -p "$bdir/x"
	if ! (cd "$bdir" && apt_q download busybox-static) \
		>"$bdir/download.log" 2>&1 ||
		! dpkg-deb -x "$bdir/"busybox-static_*.deb "$bdir/x" ||
		! mv "$bdir/x/bin/busybox" "$bdir/busybox"; then
		cat "$bdir/download.log" >&2
		die "cannot fetch busybox-static"
	fi
	rm -rf "$bdir/x" "$bdir/"*.deb
}

run=$cache/run
VMPROBE=$run/vmprobe
build_vmprobe() {
	mkdir -p "$run"
	[ -n "$(find "$VMPROBE" -newer "$here/vmprobe.c" 2>/dev/null)" ] &&
		return 0
	# shellcheck disable=SC2086,SC2046
	$CC -std=gnu11 $VM_WARN -O2 -D_GNU_SOURCE -o "$VMPROBE" \
		"$here/vmprobe.c" $(pkg-config --cflags --libs alsa sndfile) -lm ||
		die "cannot build tests/vm/vmprobe.c"
}

# The test config: the shipped kit's lines and actions (config/bullhorn.ini)
# on the loopback card, with a short amp idle time, trimming off (the test
# recordings are loud from their first frame, so first sound = first
# frame) and full volume (what render writes).
write_config() { # FILE DEVICE KIT(yes|no) EXTRA
	{
		printf '[audio]\ndevice = %s\nrate = 48000\nchannels = 2\n' "$2"
		printf 'buffer_ms = 40\nrewind = auto\n\n'
		printf '[paths]\nlibrary = lib\ncache = cache\nstate = state\n'
		printf 'socket = bullhorn.sock\n\n'
		printf '[loudness]\ntrim_db = 0\n\n'
		printf '[playback]\nlanguages = en, es\ngap_s = 0.3\n'
		printf 'volume = 100\nmax_volume = 100\n\n'
		[ "$3" = yes ] || return 0
		printf '[button rights]\nline = GPIO17\npress = play rights\n'
		printf 'hold = play rights all\n\n'
		printf '[button door]\nline = GPIO27\npress = play door\n'
		printf 'hold = play door all\n\n'
		printf '[button stop]\nline = GPIO22\npress = stop\n\n'
		printf '[button language]\nline = GPIO23\npress = next-language\n\n'
		printf '[led]\nline = GPIO24\n\n'
		printf '[amp]\nline = GPIO25\nwarmup_ms = 150\nidle_off_s = 2\n\n'
		printf '%b' "$4"
	} >"$1"
}

# Copies binaries and every library ldd lists, at the same paths.
add_bins() { # ROOT DEST_DIR BIN...
	r=$1 d=$2
	shift 2
	mkdir -p "$r$d"
	for b in "$@"; do
		cp "$b" "$r$d/" || return 1
		ldd "$b" | awk '$2 == "=>" && $3 ~ /^\// { print $3 }
			$1 ~ /^\// { print $1 }' | while IFS= read -r lib; do
			[ -e "$r$lib" ] && continue
			mkdir -p "$r$(dirname "$lib")"
			cp -L "$lib" "$r$lib"
		done
	done
	# ldd prints "not found" for what this machine cannot resolve.
	for b in "$@"; do
		if ldd "$b" | grep -q 'not found'; then
			ldd "$b" | grep 'not found' >&2
			return 1
		fi
	done
}

# A guest root in $1: busybox and its applets, $2 as /init, the ALSA
# configuration, and the build $3's bullhornd and bullhorn (with every
# library they need) in /vm/bin. The caller adds the rest, then packs it.
new_root() { # ROOT INIT BUILD
	rm -rf "$1"
	mkdir -p "$1/bin" "$1/proc" "$1/sys" "$1/dev" "$1/tmp" \
		"$1/vm/modules" "$1/usr/share"
	cp "$cache/busybox/busybox" "$1/bin/" || return 1
	for a in $("$cache/busybox/busybox" --list); do
		[ "$a" = busybox ] || ln -s busybox "$1/bin/$a"
	done
	cp "$2" "$1/init" && chmod 755 "$1/init" &&
		cp -R /usr/share/alsa "$1/usr/share/" &&
		add_bins "$1" /vm/bin "$3/bullhornd" "$3/bullhorn"
}

# The root $1 as a gzipped initramfs $2; $1 is removed.
pack_root() { # ROOT OUT
	if command -v cpio >/dev/null; then
		(cd "$1" && find . | cpio -o -H newc -R 0:0 --quiet)
	else
		(cd "$1" && find . | "$cache/busybox/busybox" cpio -o -H newc)
	fi | gzip -1 >"$2"
	rm -rf "$1"
}

# Boots the cached kernel with the initramfs $1, $2 added to the kernel's
# command line and the other arguments given to qemu; the guest's serial
# console on stdout, stdin closed. VM_WRAP (a command and its arguments,
# such as "timeout 300") runs qemu when set.
vm_qemu() { # INITRD APPEND [QEMU-ARG...]
	vq_initrd=$1 vq_append=$2
	shift 2
	# shellcheck disable=SC2086
	LD_LIBRARY_PATH=${QEMU_LIBS:-${LD_LIBRARY_PATH:-}} ${VM_WRAP:-} \
		"$QEMU" ${QEMU_FW:+-L "$QEMU_FW"} $VM_CPU -m 512 -nodefaults \
		-no-user-config -display none -monitor none -serial stdio \
		-no-reboot -kernel "$cache/kernel/vmlinuz" -initrd "$vq_initrd" \
		-append "console=ttyS0 quiet loglevel=4 panic=-1 mitigations=off $vq_append" \
		"$@" </dev/null
}

passed=0 failed=0 skipped=0
result() { # ok|fail|skip LABEL NAME DETAIL
	case $1 in
	ok)
		echo "[       OK ] $2 $3: $4"
		passed=$((passed + 1))
		;;
	fail)
		echo "[  FAILED  ] $2 $3: $4"
		failed=$((failed + 1))
		;;
	*)
		echo "[  SKIPPED ] $2 $3: $4"
		skipped=$((skipped + 1))
		;;
	esac
}

