#!/usr/bin/env bash
# How soon a batch of large files starts, and how long it takes, with a
# fresh ledger (BENCHMARKS.md, "hashing overlapped", issue 25).
#
#   tools/bench_hash_overlap.sh [-n RUNS] [-t TASK] [-f FILES] [-s MIB] [-j J] LABEL=BINDIR...
#
# Each BINDIR holds an `authenta` and an `authenta-emulator` (release
# builds, such as target/release). Makes FILES files of MIB MiB (random
# bytes in a minimal MP4 box layout: ftyp, mdat, moov), reads them once so
# they are in the page cache, then RUNS rounds; each round runs every
# LABEL once, in turn (interleaved: a shared machine's noise falls on all
# alike). A run: a fresh emulator (`--processing-time 10ms --credits
# 100000000 --data-dir D`), a fresh key, a fresh ledger, then
#
#   authenta --ledger L/ledger.sqlite --json process [--task TASK] -j J DIR
#
# (without -t: `process`, records on /api/media). It prints one line per
# run (the first record's or job's `createdAt` after the command started,
# and the command's wall time), then each label's medians (min-max).
set -euo pipefail

runs=5 task=ai-video-detection files=8 mib=200 j=4
while getopts "n:t:f:s:j:" opt; do
    case $opt in
    n) runs=$OPTARG ;;
    t) task=$OPTARG ;;
    f) files=$OPTARG ;;
    s) mib=$OPTARG ;;
    j) j=$OPTARG ;;
    *) exit 2 ;;
    esac
done
shift $((OPTIND - 1))
if [ $# -eq 0 ]; then
    echo "usage: $0 [-n RUNS] [-t TASK|-t ''] [-f FILES] [-s MIB] [-j J] LABEL=BINDIR..." >&2
    exit 2
fi
for pair in "$@"; do
    bin=${pair#*=}
    for exe in authenta authenta-emulator; do
        [ -x "$bin/$exe" ] || { echo "no $bin/$exe" >&2; exit 2; }
    done
done

work=$(mktemp -d)
emulator=
cleanup() {
    [ -n "$emulator" ] && kill "$emulator" 2>/dev/null && wait "$emulator" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

# The files: ftyp (24 bytes), mdat (random), moov (16 bytes).
mkdir "$work/media"
python3 - "$work/media" "$files" "$mib" <<'EOF'
import os, struct, sys
folder, files, mib = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
body = mib * 1024 * 1024 - 24 - 8 - 16
for i in range(1, files + 1):
    with open(os.path.join(folder, f"v{i}.mp4"), "wb") as f:
        f.write(struct.pack(">I", 24) + b"ftypisom" + struct.pack(">I", 0x200) + b"isommp41")
        f.write(struct.pack(">I", body + 8) + b"mdat")
        left = body
        while left:
            chunk = min(left, 8 << 20)
            f.write(os.urandom(chunk))
            left -= chunk
        f.write(struct.pack(">I", 16) + b"moov" + struct.pack(">I", 8) + b"free")
EOF
cat "$work"/media/* >/dev/null

port=18893
results=$work/results
for run in $(seq 1 "$runs"); do
    for pair in "$@"; do
        label=${pair%%=*} bin=${pair#*=}
        rm -rf "$work/data" "$work/state"
        mkdir -p "$work/data" "$work/state"
        "$bin/authenta-emulator" --listen "127.0.0.1:$port" --processing-time 10ms \
            --credits 100000000 --data-dir "$work/data" --no-key >"$work/emulator.log" 2>&1 &
        emulator=$!
        until curl -sf "http://127.0.0.1:$port/_emulator/keys" >/dev/null; do sleep 0.05; done
        key=$(curl -sf -X POST -H 'Content-Type: application/json' -d '{"name":"bench"}' \
            "http://127.0.0.1:$port/_emulator/keys" | jq -r .apiKey)
        args=(--ledger "$work/state/ledger.sqlite" --json process -j "$j")
        [ -n "$task" ] && args+=(--task "$task")
        start=$(date +%s.%N)
        AUTHENTA_API_KEY=$key AUTHENTA_BASE_URL=http://127.0.0.1:$port/api \
            "$bin/authenta" "${args[@]}" "$work/media" >"$work/out.json" 2>"$work/err.log" ||
            { cat "$work/err.log" >&2; exit 1; }
        end=$(date +%s.%N)
        kill "$emulator"
        wait "$emulator" 2>/dev/null || true
        emulator=
        python3 - "$label" "$start" "$end" "$work/out.json" "$files" >>"$results" <<'EOF'
import json, sys
from datetime import datetime
label, start, end, out, files = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), sys.argv[4], int(sys.argv[5])
def epoch(text):
    # RFC 3339 with up to nanoseconds: Python reads microseconds.
    head, _, zone = text.rstrip("Z").partition("+")
    whole, _, frac = head.partition(".")
    at = datetime.fromisoformat(whole + "+00:00").timestamp()
    return at + float("0." + (frac or "0"))
created, done = [], 0
for line in open(out):
    line = json.loads(line)
    item = line.get("job") or line.get("media")
    if item:
        done += 1
        created.append(epoch(item["createdAt"]))
if done != files:
    sys.exit(f"{label}: {done} of {files} files ended")
print(f"{label}\t{min(created) - start:.3f}\t{end - start:.3f}")
EOF
        tail -1 "$results" | awk -F'\t' -v run="$run" \
            '{ printf "run %s %-10s first created %6.3f s  total %6.3f s\n", run, $1, $2, $3 }'
    done
done

python3 - "$results" <<'EOF'
import sys
from statistics import median
runs = {}
for line in open(sys.argv[1]):
    label, first, total = line.rstrip("\n").split("\t")
    runs.setdefault(label, []).append((float(first), float(total)))
print("| build | first created | total |")
print("|---|---|---|")
for label, values in runs.items():
    cells = []
    for column in zip(*values):
        cells.append(f"{median(column):.2f} s ({min(column):.2f}-{max(column):.2f})")
    print(f"| {label} | {cells[0]} | {cells[1]} |")
EOF
