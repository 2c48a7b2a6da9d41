#!/bin/sh
# The power-cut test (make powercut): the real bullhornd and bullhorn
# write to a real ext4 filesystem on a virtual disk in the qemu VM of
# make vmtest (Debian's kernel under TCG), and the host kills qemu with
# SIGKILL at a random moment while they write. What the guest's kernel
# held in its page cache is lost, as when a battery dies; only what it
# had written to the disk survives (the disk is cache=unsafe: qemu writes
# each request into the image file and ignores flushes, and the host
# never crashes). The next boot of the same disk mounts it (the journal
# replays), verifies that nothing a command had reported done was lost or
# half-written (tests/vm/powerguest.sh), and writes again until the next
# cut. A last boot only verifies; e2fsck then checks the filesystem.
#
#   sh tests/vm/powercut.sh BUILD
#
# BUILD is a build folder holding bullhornd and bullhorn; the disk image
# and each boot's console go into BUILD/powercut/. Ends with one line:
# "powercut: N passed, N failed"; exits non-zero on any failure.
#
#   POWERCUT_CUTS=N         power cuts (default 20)
#   POWERCUT_SEED=N         seeds the delays (default: the time; printed)
#   POWERCUT_MIN=S          earliest cut, seconds after writing began (2)
#   POWERCUT_MAX=S          latest cut (25)
#   POWERCUT_DISK_MB=N      the disk's size (128)
#   BULLHORN_VM_CACHE, BULLHORN_VM_CLOCK, BULLHORN_VM_TIMEOUT (seconds
#   one boot may take to verify, default 300): as for tests/vm/run.sh,
#   whose cache this shares (the kernel, qemu, busybox); this adds the
#   kernel's disk and ext4 modules (from its linux-image package).
set -u

me=powercut
here=$(cd "$(dirname "$0")" && pwd)
if [ $# -ne 1 ] || [ ! -x "$1/bullhornd" ] || [ ! -x "$1/bullhorn" ]; then
	echo "usage: sh tests/vm/powercut.sh BUILD (a folder with bullhornd" \
		"and bullhorn)" >&2
	exit 2
fi
build=$(cd "$1" && pwd)
# The guest on the host's clock by default: the kernel's journal commit
# (5 s) and dirty-data expiry (30 s) then run in the same seconds as the
# cut's delay (under -icount the guest's clock ran 4-5 times slower than
# the host's here, so a cut came before ext4 ever committed on its own).
BULLHORN_VM_CLOCK=${BULLHORN_VM_CLOCK:-real}
# shellcheck source=tests/vm/lib.sh
. "$here/lib.sh"

PATH=$PATH:/sbin:/usr/sbin
for tool in mkfs.ext4 e2fsck truncate awk md5sum; do
	command -v "$tool" >/dev/null ||
		die "needs $tool (apt-get install e2fsprogs coreutils)"
done
mkfs.ext4 -V 2>&1 | awk 'NR == 1 { split($2, v, "."); exit !(v[1] > 1 ||
	v[2] >= 43) }' || die "needs mkfs.ext4 -d (e2fsprogs 1.43 or later)"
CUTS=${POWERCUT_CUTS:-20}
SEED=${POWERCUT_SEED:-$(date +%s)}
MIN=${POWERCUT_MIN:-2}
MAX=${POWERCUT_MAX:-25}
DISK_MB=${POWERCUT_DISK_MB:-128}
TIMEOUT=${BULLHORN_VM_TIMEOUT:-300}
w=$build/powercut

# --- the kernel's disk and ext4 modules ---------------------------------------
# fetch_kernel keeps only the sound and configfs modules and drops the
# package: the same linux-image is fetched again and these kept beside
# it, stamped with its version. Listed in load order (each after what
# modinfo says it depends on); ext4 asks the crypto API for crc32c.
BLKMODS="virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev
virtio_pci virtio_blk crc16 mbcache jbd2 crc32c_generic ext4"
fetch_blk_modules() {
	bdir=$cache/kernel-blk
	want=$(cat "$cache/kernel/stamp")
	[ -f "$bdir/stamp" ] && [ "$(cat "$bdir/stamp")" = "$want" ] && return 0
	abi=$(echo "$want" | sed -n 's/^abi=\([^ ]*\) .*/\1/p')
	ver=${want##*version=}
	say "fetching linux-image-$abi ($ver) for its disk and ext4 modules"
	new=$bdir.new
	rm -rf "$new"
	mkdir -p "$new/debs" "$new/x"
	(cd "$new/debs" && apt_q download "linux-image-$abi=$ver") \
		>"$new/download.log" 2>&1 || {
		sed 's/^/  /' "$new/download.log" >&2
		die "cannot download linux-image-$abi=$ver (network?)"
	}
	dpkg-deb --fsys-tarfile "$new/debs/"*.deb |
		tar -x -C "$new/x" "./lib/modules/$abi/kernel" ||
		die "cannot unpack linux-image-$abi"
	mkdir -p "$new/modules"
	loaded=
	for m in $BLKMODS; do
		f=$(find "$new/x" -name "$m.ko" | head -1)
		[ -n "$f" ] || die "linux-image-$abi has no $m.ko"
		if command -v modinfo >/dev/null; then
			for dep in $(modinfo -F depends "$f" | tr ',' ' '); do
				case " $loaded " in *" $dep "*) ;; *)
					die "$m needs $dep, not loaded before it" ;;
				esac
			done
		fi
		cp "$f" "$new/modules/" && echo "$m" >>"$new/modules/order"
		loaded="$loaded $m"
	done
	rm -rf "$new/debs" "$new/x"
	echo "$want" >"$new/stamp"
	rm -rf "$bdir"
	mv "$new" "$bdir"
}

# --- the recordings, the disk, the initramfs ---------------------------------
# Sources a user imports: four recordings in two versions each (A is on
# the fresh disk) and three new ones; 0.4 s of speech-like sound, each
# different.
make_sources() {
	mkdir -p "$w/src"
	for item in s0-A:1 s0-B:2 s1-A:3 s1-B:4 s2-A:5 s2-B:6 s3-A:7 s3-B:8 \
		n0:20 n1:21 n2:22; do
		"$VMPROBE" gen "$w/src/${item%:*}.wav" 0.4 "${item#*:}" ||
			die "cannot write the test recordings"
	done
}

# The kit's disk: config (sound device null: the sound is not the point),
# library with the four A versions, an empty cache; what the user saw so
# far: those four imports, done.
make_disk() {
	st=$w/stage
	rm -rf "$st" "$w/disk.img"
	mkdir -p "$st/lib/en" "$st/lib/es" "$st/cache"
	write_config "$st/bullhorn.ini" null no ''
	: >"$w/witness"
	for k in 0 1 2 3; do
		cp "$w/src/s$k-A.wav" "$st/lib/en/s$k.wav"
		echo "0 done import en s$k s$k-A" >>"$w/witness"
	done
	if ! truncate -s "${DISK_MB}M" "$w/disk.img" ||
		! mkfs.ext4 -q -F -L bullhorn -d "$st" "$w/disk.img"; then
		die "cannot make the disk image"
	fi
	rm -rf "$st"
}

make_initrd() {
	r=$w/root
	if ! new_root "$r" "$here/powerguest.sh" "$build" ||
		! cp "$cache/kernel-blk/modules/"* "$r/vm/modules/" ||
		! mkdir -p "$r/vm/src" || ! cp "$w/src/"*.wav "$r/vm/src/"; then
		die "cannot make the initramfs"
	fi
	pack_root "$r" "$w/initrd.gz"
}

# --- one boot ------------------------------------------------------------------
# Boots the disk with what the user saw so far on a second, read-only
# disk; returns once the guest prints $3 (or stops). Sets QPID.
QPID=
start_vm() { # BOOT MODE MARKER CONSOLE
	cp "$w/witness" "$w/witness.img"
	truncate -s %4096 "$w/witness.img"
	rm -f "$w/qemu.pid"
	vm_qemu "$w/initrd.gz" "powercut_boot=$1 powercut_mode=$2" \
		-drive "file=$w/disk.img,format=raw,if=virtio,cache=unsafe" \
		-drive "file=$w/witness.img,format=raw,if=virtio,readonly=on" \
		-pidfile "$w/qemu.pid" >"$4" 2>&1 &
	vpid=$!
	n=0
	until [ -s "$w/qemu.pid" ]; do
		kill -0 "$vpid" 2>/dev/null || break
		sleep 0.05
	done
	QPID=$(cat "$w/qemu.pid" 2>/dev/null)
	while kill -0 "$vpid" 2>/dev/null; do
		grep -q "^POWERCUT: $3" "$4" && return 0
		if [ $n -ge $((TIMEOUT * 10)) ]; then
			kill -9 "$QPID" 2>/dev/null
			wait "$vpid"
			return 1
		fi
		sleep 0.1
		n=$((n + 1))
	done
	wait "$vpid"
	grep -q "^POWERCUT: $3" "$4"
}

# The guest's ok/FAIL lines as results, labelled $1.
collect() { # LABEL CONSOLE
	tr -d '\r' <"$2" | grep -e '^POWERCUT: ok ' -e '^POWERCUT: FAIL ' |
		sed 's/^POWERCUT: //' >"$w/results"
	while IFS= read -r line; do
		kind=${line%% *} rest=${line#* }
		[ "$kind" = ok ] || kind=fail
		result "$kind" "$1" "${rest%%: *}" "${rest#*: }"
	done <"$w/results"
}

# --- prepare -------------------------------------------------------------------
fetch_busybox
fetch_kernel
fetch_qemu
build_vmprobe
fetch_blk_modules
rm -rf "$w"
mkdir -p "$w"
make_sources
make_disk
make_initrd
# The delays, drawn once from the seed: the same seed cuts at the same
# moments after writing began (what is being written then depends on the
# emulation's speed).
awk -v seed="$SEED" -v n="$CUTS" -v lo="$MIN" -v hi="$MAX" 'BEGIN {
	srand(seed); for (i = 1; i <= n; i++) printf "%.1f\n", lo + rand() * (hi - lo) }' \
	>"$w/delays"
t_ready=$(date +%s)
say "prepared in $((t_ready - t_start)) s (kernel $(sed 's/ .*//;s/abi=//' \
	"$cache/kernel/stamp"), $QEMU); $CUTS cuts, ${MIN}-${MAX} s after" \
	"writing began, seed $SEED (POWERCUT_SEED=$SEED repeats them)"
echo "== $me: $build/bullhornd on a ${DISK_MB} MB ext4 disk ($w/disk.img)"

# --- cut, boot, verify, ... --------------------------------------------------------
i=0
while [ $i -le "$CUTS" ]; do
	con=$w/console-$i.log
	label=cut$i
	[ $i = 0 ] && label=fresh
	t0=$(date +%s.%N)
	if [ $i -lt "$CUTS" ]; then
		delay=$(sed -n "$((i + 1))p" "$w/delays")
		if start_vm $i write writing "$con"; then
			t1=$(date +%s.%N)
			sleep "$delay"
			kill -9 "$QPID"
			wait
			collect "$label" "$con"
			tr -d '\r' <"$con" | grep '^POWERCUT: \(begin\|done\) .* \.$' |
				sed "s/^POWERCUT: /$i /; s/ \.\$//" >"$w/boot.witness"
			cat "$w/boot.witness" >>"$w/witness"
			echo "  boot $i: verified and writing after $(awk -v a="$t0" \
				-v b="$t1" 'BEGIN { printf "%.1f", b - a }') s; cut $((i + 1))" \
				"after $delay s of writing: $(grep -c ' done import ' \
					"$w/boot.witness") imports, $(grep -c ' done volume ' \
					"$w/boot.witness") volume and $(grep -c \
					' done language ' "$w/boot.witness") language changes" \
				"done, $(grep -c ' begin ' "$w/boot.witness") begun"
		else
			collect "$label" "$con"
			result fail "$label" boot "the guest did not start writing" \
				"(stopped, or timeout after $TIMEOUT s): see $con"
			tr -d '\r' <"$con" | tail -20 | sed 's/^/  | /'
		fi
	else
		if start_vm $i verify "done" "$con"; then
			wait
			collect "$label" "$con"
			echo "  boot $i: verified in $(awk -v a="$t0" -v b="$(date \
				+%s.%N)" 'BEGIN { printf "%.1f", b - a }') s, powered off"
		else
			collect "$label" "$con"
			result fail "$label" boot "the guest did not finish verifying" \
				"(timeout after $TIMEOUT s): see $con"
			tr -d '\r' <"$con" | tail -20 | sed 's/^/  | /'
		fi
	fi
	i=$((i + 1))
done

# The filesystem itself, after the last boot unmounted it.
if out=$(e2fsck -fn "$w/disk.img" 2>&1); then
	result ok final e2fsck "e2fsck -fn: clean; $(echo "$out" | tail -1)"
else
	result fail final e2fsck "e2fsck -fn: $(echo "$out" | tail -5 | tr '\n' ' ')"
fi

t_end=$(date +%s)
say "took $((t_end - t_start)) s ($CUTS cuts, seed $SEED)"
echo "[  PASSED  ] $passed test(s)."
[ $failed -eq 0 ] || echo "[  FAILED  ] $failed test(s)."
echo "$me: $passed passed, $failed failed"
[ $failed -eq 0 ]
