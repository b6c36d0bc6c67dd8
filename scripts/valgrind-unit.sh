#!/bin/sh
# Run each unit-test binary given on the command line under valgrind (memcheck).
#   scripts/valgrind-unit.sh build/vg/tests/test_core build/vg/tests/test_store ...
# A suite fails if it fails on its own, if valgrind counts an error (exit 99), or if valgrind
# wrote anything at all: with -q it reports only errors and leaks, and a report from a child
# the suite forked (proc.c forks before exec) does not reach the parent's exit status. Each
# process logs to LOGDIR/<suite>.<pid>.log (LOGDIR defaults to the binaries' directory/vg-logs).
# VPND_TEST_TIME_SCALE (default 30) widens the few wall-clock budgets of the suites.
set -u
[ $# -gt 0 ] || { echo "usage: $0 TEST_BINARY..." >&2; exit 2; }
command -v valgrind >/dev/null || { echo "valgrind is not installed (make deps)" >&2; exit 2; }
here=$(cd "$(dirname "$0")/.." && pwd)
logdir=${LOGDIR:-$(dirname "$1")/vg-logs}
mkdir -p "$logdir"
export VPND_TEST_TIME_SCALE="${VPND_TEST_TIME_SCALE:-30}"
failed=""
all_start=$(date +%s)
for t in "$@"; do
	name=$(basename "$t")
	rm -f "$logdir/$name".*.log
	start=$(date +%s)
	valgrind -q --error-exitcode=99 --leak-check=full \
		--show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect \
		--child-silent-after-fork=no \
		--suppressions="$here/tests/valgrind.supp" \
		--log-file="$logdir/$name.%p.log" "$t" >"$logdir/$name.out" 2>&1
	rc=$?
	secs=$(( $(date +%s) - start ))
	reports=$(find "$logdir" -name "$name.*.log" -size +0 | sort)
	if [ $rc -ne 0 ] || [ -n "$reports" ]; then
		echo "== $name: FAILED (exit $rc, ${secs}s)"
		tail -n 30 "$logdir/$name.out"
		for r in $reports; do
			echo "-- valgrind report $r:"
			head -n 80 "$r"
		done
		failed="$failed $name"
	else
		echo "== $name: ok (${secs}s)"
	fi
done
echo "valgrind: $# suites in $(( $(date +%s) - all_start ))s"
if [ -n "$failed" ]; then
	echo "valgrind: FAILED:$failed" >&2
	exit 1
fi
