#!/bin/sh
# run.sh — `make bench`: every benchmark, each printing its ceiling beside its figure.
# Results go to bench/out/ and are copied into BENCHMARKS.md by hand with the date.
set -eu
cd "$(dirname "$0")/.."
mkdir -p bench/out
B=build
for b in $B/bench_*; do
    [ -f "$b" ] && [ -x "$b" ] || continue
    name=$(basename "$b")
    case "$name" in bench_hello) continue ;; esac
    echo "== $name"
    "$b" | tee "bench/out/$name.txt"
done
echo "== http"
python3 bench/http_bench.py $B 10 | tee bench/out/http.txt
