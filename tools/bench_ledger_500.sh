#!/usr/bin/env bash
# The ledger's cost per small file, the whole process (BENCHMARKS.md, "the
# PostgreSQL ledger per file"): `authenta process -j 8 DIR` over 500
# distinct 8x8 PNGs against the `authenta-emulator` binary, with
# `--no-ledger`, a fresh SQLite ledger and a fresh PostgreSQL ledger, runs
# interleaved, each with a fresh key. CPU is user + sys of the `authenta`
# process alone (its children: none; the emulator and PostgreSQL are other
# processes), memory its maximum RSS, both from `/usr/bin/time`.
#
#   tools/bench_ledger_500.sh [RUNS] [CONFIG...]
#
# RUNS: runs of each configuration (default 7). CONFIG: any of `none`,
# `sqlite`, `postgres` (default: all three), or `NAME=BINARY:KIND` to
# compare builds (e.g. `before=/tmp/authenta-old:postgres`).
# Environment: AUTHENTA (default: target/release/authenta), EMULATOR
# (default: target/release/authenta-emulator), FILES (default 500),
# PG_URL (a PostgreSQL database to use: its schema `authenta` is dropped
# before each run; default: a throwaway server started with initdb/pg_ctl
# from /usr/lib/postgresql/*/bin, as root run as the `postgres` user).
# Prints one line per run (config, CPU-s, max RSS KiB, wall s), then the
# medians (min-max).
set -euo pipefail

RUNS=${1:-7}
shift || true
CONFIGS=("$@")
[ ${#CONFIGS[@]} -gt 0 ] || CONFIGS=(none sqlite postgres)
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
AUTHENTA=${AUTHENTA:-$TARGET/release/authenta}
EMULATOR=${EMULATOR:-$TARGET/release/authenta-emulator}
FILES=${FILES:-500}
for bin in "$AUTHENTA" "$EMULATOR"; do
    [ -x "$bin" ] || { echo "no $bin: cargo build --release -p authenta-cli -p authenta-emulator" >&2; exit 2; }
done

WORK=$(mktemp -d /tmp/bench-ledger.XXXXXX)
chmod 755 "$WORK"
PIDS=()
PG_DATA=
PG_BIN=
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    if [ -n "$PG_DATA" ]; then as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -m immediate -w stop >/dev/null 2>&1 || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

# FILES distinct 8x8 PNGs (RGB, one pixel differs by the file's number).
python3 - "$WORK/dir" "$FILES" <<'EOF'
import os, struct, sys, zlib
out, n = sys.argv[1], int(sys.argv[2])
os.makedirs(out)
def chunk(kind, data):
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))
for i in range(n):
    rows = b""
    for y in range(8):
        row = bytearray(b"\0")
        for x in range(8):
            row += bytes(((x * 32 + i) % 256, (y * 32 + i // 256) % 256, (x * y * 4 + y) % 256))
        rows += bytes(row)
    png = (b"\x89PNG\r\n\x1a\n"
           + chunk(b"IHDR", struct.pack(">IIBBBBB", 8, 8, 8, 2, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(rows, 9))
           + chunk(b"IEND", b""))
    with open(os.path.join(out, "img%04d.png" % i), "wb") as f:
        f.write(png)
EOF

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

EMU_PORT=$(free_port)
"$EMULATOR" --listen "127.0.0.1:$EMU_PORT" --processing-time 10ms --credits 100000000 >"$WORK/emulator.log" 2>&1 &
PIDS+=($!)
export AUTHENTA_BASE_URL="http://127.0.0.1:$EMU_PORT/api"
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$EMU_PORT/_emulator/keys" >/dev/null && break; sleep 0.1; done

needs_pg=no
for config in "${CONFIGS[@]}"; do case "$config" in *postgres) needs_pg=yes ;; esac; done
if [ "$needs_pg" = yes ] && [ -z "${PG_URL:-}" ]; then
    PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
    [ -x "$PG_BIN/initdb" ] || { echo "no PostgreSQL (apt-get install postgresql), or set PG_URL" >&2; exit 2; }
    PG_DATA="$WORK/pg/data"
    mkdir "$WORK/pg"
    [ "$(id -u)" != 0 ] || chown postgres "$WORK/pg"
    PG_PORT=$(free_port)
    echo bench >"$WORK/pgpass"
    chmod 644 "$WORK/pgpass"
    as_pg "$PG_BIN/initdb" -D "$PG_DATA" -U authenta --auth=scram-sha-256 --pwfile="$WORK/pgpass" -E UTF8 --no-sync >/dev/null
    as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$WORK/pg/log" -w \
        -o "-p $PG_PORT -k $WORK/pg -c listen_addresses=127.0.0.1" start >/dev/null
    PG_URL="postgres://authenta:bench@127.0.0.1:$PG_PORT/postgres"
fi
PSQL=${PG_BIN:+$PG_BIN/}psql

# One run of CONFIG (NAME=BINARY:KIND or KIND): "NAME CPU-s RSS-KiB WALL-s".
run() {
    local name=${1%%=*} bin=$AUTHENTA kind=$1
    if [[ $1 == *=*:* ]]; then bin=${1#*=}; bin=${bin%:*}; kind=${1##*:}; fi
    local key
    key=$(curl -sf -X POST -H 'content-type: application/json' -d '{"name":"bench"}' \
        "http://127.0.0.1:$EMU_PORT/_emulator/keys" | python3 -c 'import json,sys; print(json.load(sys.stdin)["apiKey"])')
    local ledger
    case "$kind" in
        none) ledger=(--no-ledger) ;;
        sqlite) rm -rf "$WORK/l"; ledger=(--ledger "$WORK/l/ledger.sqlite") ;;
        postgres)
            "$PSQL" -X -q -d "$PG_URL" -c 'DROP SCHEMA IF EXISTS authenta CASCADE' >/dev/null 2>&1
            ledger=(--ledger "$PG_URL") ;;
        *) echo "unknown ledger kind: $kind" >&2; exit 2 ;;
    esac
    AUTHENTA_API_KEY=$key /usr/bin/time -o "$WORK/time" -f '%U %S %M %e' \
        "$bin" "${ledger[@]}" process -j 8 "$WORK/dir" >"$WORK/out" 2>"$WORK/err" || {
        echo "$name: authenta failed:" >&2; cat "$WORK/err" >&2; exit 1; }
    read -r user sys rss wall <"$WORK/time"
    echo "$name $(python3 -c "print(f'{$user + $sys:.3f}')") $rss $wall"
}

# Each binary read once first: its pages in the page cache, so each run
# maps as much of it (max RSS counts the binary's mapped pages, and a
# freshly built binary is all in the cache, an older one maybe not).
for config in "${CONFIGS[@]}"; do
    bin=$AUTHENTA
    if [[ $config == *=*:* ]]; then bin=${config#*=}; bin=${bin%:*}; fi
    cat "$bin" >/dev/null
done

: >"$WORK/runs"
for n in $(seq "$RUNS"); do
    for config in "${CONFIGS[@]}"; do
        line=$(run "$config")
        echo "run $n: $line"
        echo "$line" >>"$WORK/runs"
    done
done

python3 - "$WORK/runs" "$FILES" "${CONFIGS[@]%%=*}" <<'EOF'
import statistics, sys
path, files, names = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
runs = {}
for line in open(path):
    name, cpu, rss, wall = line.split()
    runs.setdefault(name, []).append((float(cpu), int(rss) / 1024, float(wall)))
base = statistics.median(c for c, _, _ in runs["none"]) if "none" in runs else None
for name in dict.fromkeys(names):
    cpu = [c for c, _, _ in runs[name]]
    rss = [r for _, r, _ in runs[name]]
    wall = [w for _, _, w in runs[name]]
    m = statistics.median(cpu)
    extra = "" if base is None or name == "none" else f", +{(m - base) / files * 1000:.3f} ms a file"
    print(f"{name}: CPU {m:.3f} s ({min(cpu):.3f}-{max(cpu):.3f}){extra}; "
          f"max RSS {statistics.median(rss):.1f} MiB ({min(rss):.1f}-{max(rss):.1f}); "
          f"wall {statistics.median(wall):.2f} s")
EOF
