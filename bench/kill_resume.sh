#!/usr/bin/env bash
# Full-size check of resume: run the demo config under another name, SIGKILL it during
# sampling and again during training, re-run the same command to the end, then compare
# record counts and ids with an uninterrupted run directory given as $1.
# Usage: bench/kill_resume.sh runs/demo [name]
set -euo pipefail
reference=${1:?uninterrupted run directory}
name=${2:-killed}
out=$(dirname "$reference")
run=(.venv/bin/selfmoa run configs/default.yaml "output_dir=$out" "name=$name")
dir="$out/$name/round_00"

kill_when() {  # $1: file, $2: minimum lines, $3: manifest that must not exist yet
  "${run[@]}" >/dev/null 2>&1 &
  local pid=$!
  until [ "$(cat "$1" 2>/dev/null | wc -l)" -ge "$2" ]; do
    kill -0 "$pid" 2>/dev/null || { echo "run ended before the kill" >&2; exit 1; }
    sleep 0.2
  done
  kill -9 "$pid"; wait "$pid" 2>/dev/null || true
  [ ! -e "$3" ] || { echo "killed too late: $3 exists" >&2; exit 1; }
  echo "killed during $(basename "$(dirname "$1")") at $(wc -l <"$1") lines of $(basename "$1")"
}

kill_when "$dir/sample/responses.jsonl" 100 "$dir/sample/manifest.json"
kill_when "$dir/train/metrics.jsonl" 8 "$dir/train/manifest.json"
"${run[@]}" >/dev/null 2>&1
.venv/bin/python - "$out/$(basename "$reference")/round_00" "$dir" <<'PY'
import json, sys
from pathlib import Path
a, b = map(Path, sys.argv[1:])
for f in ["redteam/prompts.jsonl", "sample/responses.jsonl", "judge/judgements.jsonl",
          "pairs/pairs.jsonl", "train/metrics.jsonl", "evaluate/items.jsonl"]:
    key = "step" if "metrics" in f else "id"
    ra = [json.loads(x) for x in (a / f).open()]
    rb = [json.loads(x) for x in (b / f).open()]
    ids_a, ids_b = [r[key] for r in ra], [r[key] for r in rb]
    same_text = sorted(map(json.dumps, ra)) == sorted(map(json.dumps, rb))
    print(f"{f:28} uninterrupted {len(ids_a):5}  resumed {len(ids_b):5}  "
          f"duplicate ids {len(ids_b) - len(set(ids_b))}  same ids {sorted(ids_a) == sorted(ids_b)}"
          f"  identical records {same_text}")
for f in ["evaluate/summary.json"]:
    sa, sb = (json.loads((p / f).read_text()) for p in (a, b))
    print("final ASR", sa["attack_success"]["rate"], sb["attack_success"]["rate"],
          "over-refusal", sa["over_refusal"]["rate"], sb["over_refusal"]["rate"])
PY
