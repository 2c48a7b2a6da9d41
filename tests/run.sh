#!/bin/sh
# Runs every test binary given and ends with one line: N passed, N failed.
# A binary that dies without cmocka's summary counts as one failure.
# "skip:BINARY:REASON" and "fail:BINARY:REASON" count a binary that could
# not be built as one skipped or failed test, with the reason.
# BULLHORN_TEST_EXEC names a command each binary runs under (make
# cross-test: qemu-aarch64-static or qemu-arm-static).
set -u
passed=0 failed=0 skipped=0
for t in "$@"; do
	case $t in
	skip:* | fail:*)
		name=${t#*:}
		echo "== ${name%%:*}"
		echo "** not run: ${name#*:}"
		case $t in
		skip:*) skipped=$((skipped + 1)) ;;
		*) failed=$((failed + 1)) ;;
		esac
		continue
		;;
	esac
	echo "== $t"
	out=$(mktemp)
	${BULLHORN_TEST_EXEC-} "$t" >"$out" 2>&1
	rc=$?
	cat "$out"
	p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$out" | tail -1)
	f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$out" | tail -1)
	s=$(sed -n 's/^\[  SKIPPED \] \([0-9]*\) test.*/\1/p' "$out" | tail -1)
	rm -f "$out"
	if [ -z "$p$f" ]; then
		echo "** $t exited with $rc before finishing its tests"
		f=1
	elif [ "$rc" -ne 0 ] && [ "${f:-0}" -eq 0 ]; then
		echo "** $t exited with $rc"
		f=1
	fi
	passed=$((passed + ${p:-0}))
	failed=$((failed + ${f:-0}))
	skipped=$((skipped + ${s:-0}))
done
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
