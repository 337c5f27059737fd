#!/usr/bin/env bash
# A run in shards against the same run on one machine (issue 29), on one
# benchmark pair: the single run, then N shards (P at a time, each its own
# process, as a batch engine starts them) and the merge, each timed by
# /usr/bin/time (wall, user + system CPU, peak RSS). Prints each phase, the
# ratio of all shards' and the merge's CPU to the single run's, the merge's
# wall time against the single run's, and checks the merged run's files
# against the single run's byte for byte.
#
#   benches/shards.sh DATA_DIR [SHARDS] [PARALLEL] [BUCKETS] [REPEATS]
#
# DATA_DIR holds a pair made by `recon generate --large ROWS` (large.toml,
# left.parquet, right.parquet), e.g. the harness's target/bench-data/narrow-10000000.
# RECON_BIN names the binary (default: target/release/recon). BUCKETS is
# the run's bucket count on both sides of the comparison (default 36, what
# one machine picks for 10M rows). REPEATS runs the whole comparison that
# many times (default 1); the medians are printed at the end.
set -euo pipefail

data="${1:?usage: benches/shards.sh DATA_DIR [SHARDS] [PARALLEL] [BUCKETS] [REPEATS]}"
shards="${2:-4}"
parallel="${3:-2}"
buckets="${4:-36}"
repeats="${5:-1}"
bin="${RECON_BIN:-target/release/recon}"
spec="$data/large.toml"
[[ -x "$bin" ]] || { echo "no recon binary at $bin (cargo build --release, or set RECON_BIN)" >&2; exit 2; }
[[ -f "$spec" ]] || { echo "no $spec: generate the pair first (recon generate --large ROWS --out $data)" >&2; exit 2; }

work="$(mktemp -d "${TMPDIR:-/tmp}/recon-shards.XXXXXX")"
[[ -n "${KEEP:-}" ]] || trap 'rm -rf "$work"' EXIT
export HOME="$work/home" RECON_CREATE_KEYS=1 NO_PROGRESS=1
mkdir -p "$HOME"

# timed NAME CMD...: runs CMD, appends "NAME wall cpu rss_kb" to $work/times.
timed() {
  local name="$1"; shift
  /usr/bin/time -f "$name %e %U %S %M" -a -o "$work/times.raw" "$@" >/dev/null 2>"$work/$name.err" || {
    local rc=$?
    # 1 is a run with findings; anything else is a failure.
    if [[ $rc -ne 1 ]]; then echo "$name failed ($rc):" >&2; cat "$work/$name.err" >&2; exit 2; fi
  }
}

for rep in $(seq 1 "$repeats"); do
  rm -rf "$work/single" "$work/sharded" "$work/times.raw"
  id="20261207T02000${rep}Z"
  timed single "$bin" run "$spec" --out "$work/single" --run-id "$id" --buckets "$buckets"
  # The shards, PARALLEL at a time.
  running=0
  for i in $(seq 0 $((shards - 1))); do
    timed "shard$i" env JOB_COMPLETION_INDEX="$i" "$bin" run "$spec" --out "$work/sharded" \
      --run-id "$id" --buckets "$buckets" --shard "auto/$shards" &
    running=$((running + 1))
    if (( running >= parallel )); then wait -n; running=$((running - 1)); fi
  done
  wait
  timed merge "$bin" merge --out "$work/sharded" --run-id "$id"
  for f in findings.parquet repairs.parquet state.parquet quality_metrics.parquet; do
    cmp -s "$work/single/$id/$f" "$work/sharded/$id/$f" || { echo "$f differs between the single and the merged run" >&2; exit 1; }
  done
  awk -v rep="$rep" -v shards="$shards" -v parallel="$parallel" -v buckets="$buckets" '
    $1 !~ /^(single|merge|shard[0-9]+)$/ { next }
    { cpu = $3 + $4
      if ($1 == "single") { sw = $2; sc = cpu; sr = $5 }
      else if ($1 == "merge") { mw = $2; mc = cpu; mr = $5 }
      else { tc += cpu; if ($5 > shr) shr = $5; if ($2 > shw) shw = $2 } }
    END {
      printf "run %d: single %.1f s wall, %.1f s CPU, %.0f MB | %d shards (%d at a time, %d buckets): %.1f s CPU, slowest %.1f s, peak %.0f MB | merge %.1f s wall, %.1f s CPU, %.0f MB\n",
        rep, sw, sc, sr / 1024, shards, parallel, buckets, tc, shw, shr / 1024, mw, mc, mr / 1024
      printf "ratio %d cpu %.3f merge_wall %.3f\n", rep, (tc + mc) / sc, mw / sw
    }' "$work/times.raw" | tee -a "$work/summary"
done
echo "identical: findings, repairs, state and metrics of the merged run equal the single run's"
grep '^ratio' "$work/summary" | awk '{ c[NR] = $4; m[NR] = $6 } END {
  n = asort(c); asort(m); i = int((n + 1) / 2)
  printf "median of %d: shards + merge CPU = %.2fx the single run'"'"'s; merge wall = %.1f%% of the single run'"'"'s\n", n, c[i], 100 * m[i]
}'
