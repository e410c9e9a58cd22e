#!/usr/bin/env bash
# Builds the release preset and runs every benchmark (build/release/bench/bench_*), printing the
# `BENCH <name> <value> <unit>` lines they produce (their other output goes to stderr).
# The HTTP benchmarks need nginx and wrk (Debian: nginx-light, wrk). docs/benchmarks.md says what
# each one measures and holds the latest figures (kept there only, so that no copy goes stale).
#
#   bash tools/bench.sh            # build, then run all benchmarks
#   bash tools/bench.sh http_rps   # build, then run only the benchmarks whose name contains "http_rps"
set -euo pipefail
cd "$(dirname "$0")/.."

filter="${1:-}"

cmake --preset release >&2
cmake --build --preset release >&2

status=0
found=0
for bench in build/release/bench/bench_*; do
    [[ -x "$bench" && -f "$bench" ]] || continue
    name="$(basename "$bench")"
    [[ -z "$filter" || "$name" == *"$filter"* ]] || continue
    found=1
    echo "# $name" >&2
    if ! "$bench" | grep '^BENCH '; then
        echo "# $name failed" >&2
        status=1
    fi
done
if [[ $found -eq 0 ]]; then
    echo "no benchmark found in build/release/bench${filter:+ matching '$filter'}" >&2
    exit 1
fi
exit $status
