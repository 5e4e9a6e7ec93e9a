#!/usr/bin/env bash
# Measures filesystem buffering with a large backlog, on the release binary:
#   phase 1: tail reads a large file into filesystem chunks while the destination is down
#            (a file output whose directory does not exist), and exits at end of file;
#   phase 2: the destination is a null output; Weir recovers the backlog and replays it
#            (storage.backlog.flush_on_shutdown, so it exits once everything is delivered).
# Prints GNU time's wall, CPU and peak RSS for each phase.
#
#   scripts/backlog_bench.sh [COPIES]   # COPIES of the bench json.log (220 MB each), default 5
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
copies=${1:-5}
data=${BENCH_DATA:-/tmp/bench-data}
work=${WORK:-/tmp/weir-backlog-bench}
[ -f "$data/json.log" ] || python3 "$root/../shared/bench/gen_data.py" --out "$data"
cargo build --release --locked --bin weir
weir=${CARGO_TARGET_DIR:-$root/target}/release/weir
rm -rf "$work" && mkdir -p "$work"
for _ in $(seq "$copies"); do cat "$data/json.log"; done >"$work/app.log"
write_config() { # $1 file, $2 output block, $3 extra service keys
    cat >"$1" <<YAML
service:
  flush: 1
  scheduler.base: 60
  scheduler.cap: 60
  storage.path: $work/store
$3
pipeline:
  inputs:
    - name: tail
      tag: app
      path: $work/app.log
      read_from_head: true
      exit_on_eof: true
      file_cache_advise: false
      db: $work/tail.db
      storage.type: filesystem
  outputs:
$2
YAML
}
write_config "$work/phase1.yaml" "    - name: file
      alias: sink
      match: app
      path: $work/down
      retry_limit: no_limits" "  grace: 1"
write_config "$work/phase2.yaml" "    - name: 'null'
      alias: sink
      match: app" "  grace: 300
  storage.backlog.flush_on_shutdown: on"
echo "input: $(du -h "$work/app.log" | cut -f1)"
/usr/bin/time -f "phase 1 (read into chunks, destination down): wall=%e s cpu=%U+%S s peak_rss=%M KB" \
    "$weir" -c "$work/phase1.yaml" 2>&1 | grep -E "phase 1|error" || true
echo "backlog on disk: $(du -sh "$work/store" | cut -f1)"
/usr/bin/time -f "phase 2 (recover and replay to null): wall=%e s cpu=%U+%S s peak_rss=%M KB" \
    "$weir" -c "$work/phase2.yaml" 2>&1 | grep -E "phase 2|to replay|proc_records|error|panicked" || true
echo "left on disk: $(du -sh "$work/store" | cut -f1)"
