#!/usr/bin/env bash
# Runs the shared benchmark workloads on Weir's release binary, with their Fluent Bit YAML
# configurations unchanged.
#
#   scripts/bench.sh                      tail_json, tail_regex and idle, 3 runs each
#   scripts/bench.sh tail_json 5          one workload, 5 runs
#   BENCH_DIR=/path/to/bench scripts/bench.sh ...
#
# Prints the harness's JSON lines (one per run, then the median). Results are not appended to
# the harness's results/ unless BENCH_SAVE=1. Installs GNU time and the msgpack module for the
# data generator when they are missing (as root).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bench=${BENCH_DIR:-$root/../shared/bench}
[ -x "$bench/run.sh" ] || { echo "bench.sh: no benchmark harness at $bench (set BENCH_DIR)" >&2; exit 1; }

if [ ! -x /usr/bin/time ]; then
    apt-get update -qq && apt-get install -y -qq time
fi
python3 -c 'import msgpack' 2>/dev/null || python3 -m pip install -q msgpack

cargo build --release --locked --bin weir
target=${CARGO_TARGET_DIR:-$root/target}
export WEIR=$target/release/weir
[ -n "${BENCH_SAVE:-}" ] || export BENCH_NO_SAVE=1

if [ $# -eq 0 ]; then
    for w in tail_json tail_regex idle; do "$bench/run.sh" weir "$w" 3; done
else
    "$bench/run.sh" weir "$1" "${2:-3}"
fi
