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
