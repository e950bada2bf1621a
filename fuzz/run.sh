#!/bin/sh
# run.sh — `make fuzz`: runs every libFuzzer target built in BUILD_DIR for SECONDS each
# (default 60), starting from its seed corpus; crashes land in fuzz/crashes/<target>/.
# Add each crash as a new seed file after fixing the bug: the corpus is replayed by
# `make test`.
set -eu
cd "$(dirname "$0")/.."
build=${1:-build-fuzz}
secs=${2:-60}
status=0
for t in "$build"/fuzz_*; do
    name=$(basename "$t" | sed 's/^fuzz_//')
    mkdir -p "fuzz/crashes/$name" "$build/corpus-$name"
    echo "== $name ($secs s)"
    if ! "$t" -max_total_time="$secs" -artifact_prefix="fuzz/crashes/$name/" \
        "$build/corpus-$name" "fuzz/corpus/$name"; then
        status=1
    fi
done
exit $status
