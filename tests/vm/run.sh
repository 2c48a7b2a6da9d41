#!/bin/sh
# The real-kernel system test (make vmtest): boots Debian's own kernel
# under qemu (TCG) with the kernel's GPIO simulator and ALSA loopback
# driver, and runs the real bullhornd of each build given against them
# (tests/vm/guest.sh holds the scenarios).
#
#   sh tests/vm/run.sh BUILD...
#
# BUILD is a build folder holding bullhornd and bullhorn (build,
# build/gpiod2), or skip:BUILD:REASON / fail:BUILD:REASON for a build that
# could not be made: its scenarios count as skipped / failed, with the
# reason (as in tests/run.sh). Ends with one line: N passed, N failed,
# N skipped; exits non-zero on any failure.
#
# What it fetches (Debian packages through this machine's apt, unpacked
# with dpkg-deb, never installed) and builds goes into a cache folder:
# the kernel image, its headers and source (for gpio-sim, built out of
# tree), busybox-static, and qemu-system-x86 when this machine has no
# qemu-system-x86_64. With the cache filled no network is needed.
#
#   BULLHORN_VM_CACHE=DIR   the cache (default build/vm-cache)
#   BULLHORN_VM_REFRESH=1   look for a newer kernel than the cached one
#   BULLHORN_VM_KERNEL=PKG  kernel package (default linux-image-amd64)
#   BULLHORN_VM_TIMEOUT=S   seconds one boot may take (default 300)
#   BULLHORN_VM_CLOCK=real  the guest on the host's clock (default virtual:
#                           qemu -icount; see VM_CPU in lib.sh)
#   CC, VM_WARN             compiler and warning flags for the helper
#                           (make vmtest passes the project's)
set -u

me=vmtest
here=$(cd "$(dirname "$0")" && pwd)
SCENARIOS="late_card single_press led_amp bounce hold stuck_line
preempt_stop latency exit_lines_off ghost_line"

[ $# -ge 1 ] || {
	echo "usage: sh tests/vm/run.sh BUILD..." >&2
	exit 2
}
# shellcheck source=tests/vm/lib.sh
. "$here/lib.sh"

# --- what goes into the guest -----------------------------------------------
# The guest's /vm: configs and a small synthesized library (en and es,
# rights 1 s and door 3 s).
make_stage() {
	st=$run/stage
	rm -rf "$st"
	mkdir -p "$st/vm/lib/en" "$st/vm/lib/es" "$st/vm/cache"
	write_config "$st/vm/bullhorn.ini" hw:Loopback,0,0 yes ''
	write_config "$st/vm/bullhorn-ghost.ini" hw:Loopback,0,0 yes \
		'[button ghost]\nline = GPIO99\npress = play door\n'
	for item in en/rights:1.0:1 es/rights:1.0:3 en/door:3.0:5 es/door:3.0:7; do
		f=${item%%:*} rest=${item#*:}
		"$VMPROBE" gen "$st/vm/lib/$f.wav" "${rest%:*}" "${rest#*:}" ||
			die "cannot write the test library"
	done
}

# The library's cache, built here by the build's own daemon (the cache key
# is the recordings' bytes and the settings, so the guest loads it instead
# of normalizing under emulation; its log says "4 from cache").
make_cache() { # BUILD LOG
	st=$run/stage
	rm -rf "$st/vm/cache" "$st/vm/prebuild.ini"
	mkdir -p "$st/vm/cache"
	# Without the kit's lines: this machine's own GPIOs stay untouched.
	write_config "$st/vm/prebuild.ini" null no ''
	"$1/bullhornd" --config "$st/vm/prebuild.ini" >"$2" 2>&1 &
	pid=$!
	w=0
	until grep -q 'recordings ready' "$2"; do
		if ! kill -0 "$pid" 2>/dev/null || [ $w -ge 600 ]; then
			kill "$pid" 2>/dev/null
			cat "$2" >&2
			return 1
		fi
		sleep 0.1
		w=$((w + 1))
	done
	kill "$pid"
	wait "$pid"
	rm -f "$st/vm/prebuild.ini" "$st/vm/bullhorn.sock" "$st/vm/state"
}

make_initrd() { # BUILD OUT
	r=$run/root
	new_root "$r" "$here/guest.sh" "$1" || return 1
	cp "$cache/kernel/modules/"*.ko "$r/vm/modules/" &&
		cp -R "$run/stage/vm/." "$r/vm/" &&
		add_bins "$r" /vm/bin "$VMPROBE" || return 1
	pack_root "$r" "$2"
}

boot() { # INITRD LABEL CONSOLE
	VM_WRAP="timeout ${BULLHORN_VM_TIMEOUT:-300}" vm_qemu "$1" \
		"bullhorn_vm=$2 bullhorn_hz=$HZ bullhorn_clock=${BULLHORN_VM_CLOCK:-virtual}" \
		2>&1 | tr -d '\r' | tee "$3" | while IFS= read -r line; do
		case $line in
		"VMTEST: ok "* | "VMTEST: FAIL "*) echo "  ${line#VMTEST: }" ;;
		esac
	done
}

# --- prepare -----------------------------------------------------------------
first_build=
for b in "$@"; do
	case $b in skip:* | fail:*) ;; *) first_build=${first_build:-$b} ;; esac
done
if [ -n "$first_build" ]; then
	fetch_busybox
	fetch_kernel
	fetch_qemu
	build_vmprobe
	make_stage
fi
t_ready=$(date +%s)
HZ=$(sed -n 's/^CONFIG_HZ=//p' "$cache"/kernel/headers/usr/src/linux-headers-*/.config 2>/dev/null | head -1)
[ -n "$first_build" ] && say "prepared in $((t_ready - t_start)) s" \
	"(kernel $(sed 's/ .*//;s/abi=//' "$cache/kernel/stamp"), $QEMU)"

# --- one boot per build ------------------------------------------------------
for b in "$@"; do
	case $b in
	skip:* | fail:*)
		kind=${b%%:*} rest=${b#*:}
		label=$(basename "${rest%%:*}")
		for s in $SCENARIOS; do
			result "$kind" "$label" "$s" "not run: ${rest#*:}"
		done
		continue
		;;
	esac
	case $(ldd "$b/bullhornd" 2>/dev/null) in
	*libgpiod.so.3*) label=gpiod2 gen="libgpiod 2.x" ;;
	*libgpiod.so.2*) label=gpiod1 gen="libgpiod 1.6" ;;
	*) label=$(basename "$b") gen="no libgpiod?" ;;
	esac
	out=$run/$label
	mkdir -p "$out"
	echo "== $me $label: $b/bullhornd ($gen)"
	if ! make_cache "$b" "$out/prebuild.log" 2>"$out/initrd.err" ||
		! make_initrd "$b" "$out/initrd.gz" 2>>"$out/initrd.err"; then
		for s in $SCENARIOS; do
			result fail "$label" "$s" "no initramfs: $(head -3 "$out/initrd.err")"
		done
		continue
	fi
	t0=$(date +%s)
	boot "$out/initrd.gz" "$label" "$out/console.log"
	t1=$(date +%s)
	bad=0
	for s in $SCENARIOS; do
		line=$(grep -m1 -e "^VMTEST: ok $s: " -e "^VMTEST: FAIL $s: " \
			"$out/console.log")
		case $line in
		"VMTEST: ok "*) result ok "$label" "$s" "${line#*: ok "$s": }" ;;
		"VMTEST: FAIL "*)
			result fail "$label" "$s" "${line#*: FAIL "$s": }"
			bad=1
			;;
		*)
			why="not run"
			grep -q '^VMTEST: done' "$out/console.log" ||
				why="not run: the guest did not finish (crash, or timeout"
			[ "$why" = "not run" ] ||
				why="$why after ${BULLHORN_VM_TIMEOUT:-300} s)"
			result fail "$label" "$s" "$why"
			bad=1
			;;
		esac
	done
	grep '^VMTEST: note ' "$out/console.log" | sed 's/^VMTEST: note /  note: /'
	grep '^VMTEST: FAIL setup' "$out/console.log" | sed 's/^VMTEST: /  /'
	echo "  $label: initramfs $(($(wc -c <"$out/initrd.gz") / 1024)) KiB," \
		"boot to poweroff $((t1 - t0)) s"
	if [ $bad = 1 ]; then
		echo "---- guest console of $label ($out/console.log):"
		sed 's/^/  | /' "$out/console.log"
		echo "----"
	fi
done

t_end=$(date +%s)
say "took $((t_end - t_start)) s"
echo "[  PASSED  ] $passed test(s)."
[ $failed -eq 0 ] || echo "[  FAILED  ] $failed test(s)."
echo "$me: $passed passed, $failed failed, $skipped skipped"
[ $failed -eq 0 ]
