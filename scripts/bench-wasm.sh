#!/usr/bin/env bash
# The cost of a WebAssembly filter next to a native one doing the same work: tail_json's data
# (1,000,000 JSON lines) through tail and json parsing, then one filter adding the field
# "wasm":"added", into null:
#
#   native      the modify filter (add wasm added)
#   component   the rust-filter example, a component built with the Rust SDK (key wasm,
#               value added; it also checks each record's level, a little more work)
#   none        no filter: the cost of reading and parsing alone
#
#   scripts/bench-wasm.sh [RUNS]        (default 3; prints CPU seconds, events/CPU-s, peak RSS)
#
# Uses the shared harness's data generator and release builds; run from anywhere.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bench=${BENCH_DIR:-$root/../shared/bench}
runs=${1:-3}
data=${BENCH_DATA:-/tmp/bench-data}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

[ -x /usr/bin/time ] || { apt-get update -qq && apt-get install -y -qq time; }
if [ ! -s "$data/json.log" ]; then
    python3 -c 'import msgpack' 2>/dev/null || python3 -m pip install -q msgpack
    python3 "$bench/gen_data.py" --out "$data" >/dev/null
fi
events=$(wc -l <"$data/json.log")

cargo build --release --locked --bin weir >&2
weir=${CARGO_TARGET_DIR:-$root/target}/release/weir
component=$("$root/scripts/build-rust-guest.sh" "$root/plugin-sdk/examples/rust-filter" | tail -1)

config() { # NAME FILTER-YAML
    cat >"$work/$1.yaml" <<EOF
service:
  flush: 0.2
  grace: 30
  log_level: warn
  parsers_file: $bench/configs/fluent-bit/parsers.yaml
pipeline:
  inputs:
    - name: tail
      tag: bench.json
      path: $data/json.log
      read_from_head: true
      exit_on_eof: true
      file_cache_advise: false
      parser: json
  filters:
$2
  outputs:
    - name: 'null'
      match: '*'
EOF
}
config none "    []"
config native "    - name: modify
      match: '*'
      add: wasm added"
config component "    - name: rust_filter
      match: '*'
      key: wasm
      value: added"
# The component's state and compile cache stay inside the scratch directory.
sed -i "s|^  log_level: warn|  log_level: warn\n  plugins.state_path: $work/state\n  plugins.cache_path: $work/cache|" "$work/component.yaml"

measure() { # NAME [weir args...]
    local name=$1
    shift
    local cpu=() rss=()
    for _ in $(seq "$runs"); do
        /usr/bin/time -f '%U %S %M' -o "$work/time" "$weir" -c "$work/$name.yaml" "$@" >/dev/null 2>"$work/log" ||
            { cat "$work/log" >&2; exit 1; }
        read -r u s m <"$work/time"
        cpu+=("$(echo "$u + $s" | bc)")
        rss+=("$m")
    done
    local c r
    c=$(printf '%s\n' "${cpu[@]}" | sort -n | sed -n "$(((runs + 1) / 2))p")
    r=$(printf '%s\n' "${rss[@]}" | sort -n | sed -n "$(((runs + 1) / 2))p")
    printf '%-10s cpu_s=%-6s events_per_cpu_s=%-9s peak_rss_mb=%s\n' "$name" "$c" \
        "$(echo "$events / $c" | bc)" "$(echo "scale=1; $r / 1024" | bc)"
}
measure none
measure native
# One run first to fill the compile cache: compiling is not the filter's running cost.
"$weir" -c "$work/component.yaml" -e "$component" >/dev/null 2>&1 || true
measure component -e "$component"
