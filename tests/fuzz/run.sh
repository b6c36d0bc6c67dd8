#!/bin/sh
# Run each libFuzzer harness for a while on a copy of its checked-in corpus (make fuzz / fuzz-ci).
#   run.sh BUILD_DIR SECONDS "EXTRA_ARGS" NAME...
# Prints one line per harness (runs, exec/s, new corpus size); exits non-zero when any harness
# found a crash, a leak or a broken invariant (its reproducer is in BUILD_DIR/crashes/).
set -u
build=$1; secs=$2; extra=$3; shift 3
fail=0
mkdir -p "$build/corpus" "$build/crashes" "$build/logs" "$build/tmp"
TMPDIR=$(cd "$build/tmp" && pwd); export TMPDIR
printf '%-18s %10s %8s %7s  %s\n' harness runs exec/s corpus result
for name in "$@"; do
	bin=$build/bin/$name
	corpus=$build/corpus/$name
	log=$build/logs/$name.log
	mkdir -p "$corpus"
	[ -d "tests/fuzz/corpus/$name" ] && cp -r "tests/fuzz/corpus/$name/." "$corpus/"
	dict=
	[ -f "tests/fuzz/$name.dict" ] && dict="-dict=tests/fuzz/$name.dict"
	# shellcheck disable=SC2086
	"$bin" -max_total_time="$secs" -timeout=20 -rss_limit_mb=2048 -max_len=4096 \
		-print_final_stats=1 -artifact_prefix="$build/crashes/$name-" $dict $extra \
		"$corpus" >"$log" 2>&1
	rc=$?
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
	n=$(ls "$corpus" | wc -l)
	if [ $rc -eq 0 ]; then
		res=ok
	else
		res="FAILED (exit $rc, see $log)"
		fail=1
		grep -m 3 -E 'ERROR|SUMMARY|invariant|Test unit written' "$log" | sed 's/^/    /'
	fi
	printf '%-18s %10s %8s %7s  %s\n' "$name" "${runs:-?}" "${eps:-?}" "$n" "$res"
done
exit $fail
