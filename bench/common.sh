# Shared by the bench scripts, sourced once they have set $root: the
# temp folder's lifetime, interrupts, and `die`. A script that needs its
# own shutdown (stopping a daemon) defines bench_stop before sourcing.
child=
tmp=
bench_failed=0

die() {
	echo "bench: $*; nothing reported" >&2
	bench_failed=1
	exit 1
}

# A failed run keeps its folder (inputs, logs, events, raw figures) to
# look at; an interrupted one (Ctrl-C, SIGTERM) does not.
cleanup() {
	rc=$?
	trap - EXIT
	if [ -n "$child" ]; then
		kill "$child" 2>/dev/null
		wait "$child" 2>/dev/null
	fi
	if command -v bench_stop >/dev/null 2>&1; then
		bench_stop
	fi
	if [ "$rc" -ne 0 ] && [ "$rc" -lt 128 ]; then
		bench_failed=1
	fi
	if [ -n "$tmp" ] && [ -d "$tmp" ]; then
		if [ "$bench_failed" = 1 ] && [ -s "$tmp/daemon.log" ]; then
			echo "bench: last lines of the daemon's log:" >&2
			tail -n 15 "$tmp/daemon.log" >&2
		fi
		if [ "$bench_failed" = 1 ] || [ "${BENCH_KEEP:-0}" = 1 ]; then
			echo "bench: kept $tmp" >&2
		else
			rm -rf "$tmp"
		fi
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# Runs a long command in the background and waits for it: sh runs a trap
# only once a foreground command ends, but interrupts wait at once.
run() {
	"$@" &
	child=$!
	wait "$child"
	rc=$?
	child=
	return $rc
}

# bench_compile SRC OUT: builds a bench helper against the daemon's own
# objects in $build/obj (run make first), warning when they are older
# than src/ so a stale build is never measured unawares.
bench_compile() {
	objs= stale=
	for c in "$root"/src/*.c; do
		b=$(basename "$c" .c)
		case $b in bullhornd | bullhorn) continue ;; esac
		o=$build/obj/$b.o
		[ -e "$o" ] || die "$o is missing; run make first"
		objs="$objs $o"
		# The Makefile rebuilds every object when any header changes.
		[ -z "$(find "$c" "$root"/src/*.h -newer "$o")" ] ||
			stale="$stale $b.c"
	done
	[ -z "$stale" ] ||
		echo "bench: warning: $build/obj is not up to date with src/ ($stale ); run make first to measure the current source" >&2
	mkdir -p "$build/bench" || die "cannot create $build/bench"
	# What the daemon links, from the Makefile (one list of libraries).
	libs=$(make -s --no-print-directory -C "$root" print-libs) ||
		die "make print-libs failed"
	# $objs and $libs are word lists: split on purpose.
	# shellcheck disable=SC2086
	${CC:-cc} -std=gnu11 -O2 -Wall -Wextra -I"$root/src" -o "$2" "$1" \
		$objs $libs || die "$1 does not build against $build/obj"
}

# bench_compile_client SRC OUT: builds a bench driver that only talks to
# the daemon: the daemon's own client code (control.o, util.o) connects,
# nothing else of it is linked.
bench_compile_client() {
	mkdir -p "$build/bench" || die "cannot create $build/bench"
	# shellcheck disable=SC2046 # pkg-config's output is a word list
	${CC:-cc} -std=gnu11 -O2 -Wall -Wextra -I"$root/src" -o "$2" "$1" \
		"$build/obj/control.o" "$build/obj/util.o" \
		$(pkg-config --libs zlib) || die "$1 does not build"
}
