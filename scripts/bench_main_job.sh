#!/usr/bin/env bash
# The main job (`digest` over seeds/) of two builds, back to back: a baseline
# revision (default b545a77, main before issue #9's batching), built in its
# own worktree and run from it (its own models.toml), and this checkout.
# Prints wall time, user CPU and peak RSS of each, the ratio, the per-article
# stage seconds from the records, and the chat model's batch statistics.
#
#   scripts/bench_main_job.sh [BASE_REV]
#
# THREADS (default 2); ORDER=new-first runs this checkout first;
# BASE_WORKTREE (default /tmp/ukdigest-base-REV) reuses a built worktree.
# Both builds fetch their models on the first run (cached, shared); run the
# main job once before timing so that neither pays for the download.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BASE=${1:-b545a77}
THREADS=${THREADS:-2}
WT=${BASE_WORKTREE:-/tmp/ukdigest-base-$BASE}
[ -d "$WT" ] || git worktree add -f "$WT" "$BASE" >/dev/null
(cd "$WT" && CARGO_TARGET_DIR="$WT/target" cargo build --release --locked --quiet)
cargo build --release --locked --quiet
OUT=$(mktemp -d)
echo "$(date -u '+%F %T') UTC: base $(git -C "$WT" rev-parse --short HEAD) against $(git rev-parse --short HEAD)$(git diff --quiet || echo ' + uncommitted changes'), $THREADS threads"
run() {
  local name=$1 dir=$2 bin=$3
  echo "$name: start $(date -u +%T), load average $(uptime | sed 's/.*load average: //')"
  (cd "$dir" && /usr/bin/time -v "$bin" --threads "$THREADS" digest "$ROOT/seeds" --out "$OUT/$name") \
    > "$OUT/$name.log" 2>&1
}
if [ "${ORDER:-base-first}" = new-first ]; then
  run new "$ROOT" "$ROOT/target/release/ukdigest"
  run base "$WT" "$WT/target/release/ukdigest"
else
  run base "$WT" "$WT/target/release/ukdigest"
  run new "$ROOT" "$ROOT/target/release/ukdigest"
fi
python3 - "$OUT" <<'PY'
import glob, json, re, sys
out = sys.argv[1]
def time_v(name):
    t = open(f"{out}/{name}.log").read()
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", t).group(1)
    secs = sum(float(x) * 60 ** i for i, x in enumerate(reversed(wall.split(":"))))
    user = float(re.search(r"User time \(seconds\): (\S+)", t).group(1))
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", t).group(1)) / 1024
    stats = [l for l in t.splitlines() if l.startswith("chat model:")]
    return secs, user, rss, stats
def stages(name):
    rows = []
    for f in sorted(glob.glob(f"{out}/{name}/*.json")):
        d = json.load(open(f))
        if "provenance" not in d:
            continue
        t = d["provenance"]["timings"]
        rows.append(f"{t['translate_secs']:.0f}/{t['summarize_secs']:.0f}/{t['total_secs']:.0f}")
    return ", ".join(rows)
base = time_v("base")
print("\n| binary | wall | vs base | user CPU | peak RSS |\n|---|---:|---:|---:|---:|")
for name in ("base", "new"):
    secs, user, rss, _ = time_v(name)
    print(f"| {name} | {int(secs // 60)} min {secs % 60:04.1f} s | {base[0] / secs:.2f}x | {user:.0f} s | {rss:.0f} MiB |")
for name in ("base", "new"):
    print(f"\n{name}, per article translate / summarize / total s: {stages(name)}")
    for line in time_v(name)[3]:
        print(f"{name}: {line}")
PY
echo
echo "records: $OUT/base, $OUT/new (compare them with: ukdigest compare $OUT/base $OUT/new)"
