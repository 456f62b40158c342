#!/usr/bin/env python3
"""What the batch ledger costs `authenta process` in CPU and memory.

Runs `authenta process -j 8 DIR` over N distinct 8x8 PNGs against a running
`authenta-emulator`, with `--no-ledger` and with a fresh SQLite ledger (and
optionally other builds), interleaved, and prints medians of CPU (user +
sys of the `authenta` process, from GNU time) and maximum RSS. With --smaps it
also samples /proc/PID/smaps while the command runs and prints, at the
sample of highest RSS, how much is the binary's own pages, the heap and the
rest (what makes the difference).

  authenta-emulator --listen 127.0.0.1:18731 --processing-time 10ms \
      --credits 100000000 &
  python3 tools/bench_ledger_memory.py --base http://127.0.0.1:18731 \
      --runs 9 NAME=target/release/authenta [NAME2=other/authenta ...]
"""
import argparse, json, os, shutil, statistics, struct, subprocess, sys
import tempfile, threading, time, urllib.request, zlib


def png(i):
    """A distinct 8x8 grey PNG (its pixels encode i)."""
    raw = b"".join(b"\0" + bytes((i >> (8 * (r % 3)) & 0xFF) ^ r for _ in range(8)) for r in range(8))
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 8, 8, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def key(base):
    req = urllib.request.Request(base + "/_emulator/keys", data=b'{"name":"bench"}',
                                 headers={"content-type": "application/json"})
    return json.load(urllib.request.urlopen(req))["apiKey"]


def smaps(pid, exe):
    """RSS in KiB of the binary's own mappings, the heap and everything else."""
    own = heap = other = 0
    try:
        with open(f"/proc/{pid}/smaps") as f:
            name = ""
            for line in f:
                head = line.split()
                if "-" in head[0] and len(head) >= 5:
                    name = head[5] if len(head) > 5 else ""
                elif head[0] == "Rss:":
                    kib = int(head[1])
                    if name == exe:
                        own += kib
                    elif name == "[heap]" or name == "":
                        heap += kib
                    else:
                        other += kib
    except (FileNotFoundError, ProcessLookupError, IndexError):
        pass
    return own, heap, other


def run(exe, args, env, sample):
    """CPU-s (from wait4) and max RSS (KiB, from GNU time: a process forked
    from this one would count Python's own pages in its max RSS) of one
    run, and the smaps sample of highest RSS."""
    out = tempfile.NamedTemporaryFile("r", suffix=".time")
    proc = subprocess.Popen(["/usr/bin/time", "-f", "%U %S %M", "-o", out.name, exe] + args,
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    peak = (0, 0, 0)
    real = os.path.realpath(exe)
    while True:
        # CPU from wait4 (microseconds; GNU time prints hundredths): GNU
        # time's own is a constant millisecond or so.
        pid, status, ru = os.wait4(proc.pid, os.WNOHANG if sample else 0)
        if pid:
            break
        try:
            with open(f"/proc/{proc.pid}/task/{proc.pid}/children") as f:
                child = f.read().split()
        except FileNotFoundError:
            child = []
        if child:
            s = smaps(child[0], real)
            if sum(s) > sum(peak):
                peak = s
        time.sleep(0.005)
    proc.returncode = status
    if status != 0:
        sys.exit(f"{exe} {' '.join(args)} exited with {status}")
    rss = out.read().split()[-1]
    return ru.ru_utime + ru.ru_stime, int(rss), peak


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--base", required=True, help="the emulator's address")
    p.add_argument("--files", type=int, default=500)
    p.add_argument("--runs", type=int, default=9)
    p.add_argument("--smaps", action="store_true")
    p.add_argument("builds", nargs="+", help="NAME=PATH of an authenta binary")
    a = p.parse_args()
    work = tempfile.mkdtemp(prefix="ledger-bench-")
    files = os.path.join(work, "files")
    os.mkdir(files)
    for i in range(a.files):
        with open(os.path.join(files, f"img{i:04}.png"), "wb") as f:
            f.write(png(i))
    configs = []
    for build in a.builds:
        name, path = build.split("=", 1)
        configs.append((f"{name} --no-ledger", path, ["--no-ledger"]))
        configs.append((f"{name} fresh SQLite", path, ["--ledger", os.path.join(work, "L", "ledger.sqlite")]))
    results = {c[0]: [] for c in configs}
    for _ in range(a.runs):
        for label, path, ledger in configs:
            # The whole binary in the page cache first: the kernel maps a
            # binary's pages in 64 KiB windows, of the pages it has cached,
            # so a binary partly evicted would show less RSS.
            with open(path, "rb") as f:
                while f.read(1 << 20):
                    pass
            shutil.rmtree(os.path.join(work, "L"), ignore_errors=True)
            env = dict(os.environ, AUTHENTA_API_KEY=key(a.base), AUTHENTA_BASE_URL=a.base + "/api")
            results[label].append(run(path, ledger + ["process", "-j", "8", files], env, a.smaps))
    shutil.rmtree(work)
    print(f"{a.files} files, {a.runs} runs each, medians (min-max)")
    for label, rs in results.items():
        cpu = [r[0] for r in rs]
        rss = [r[1] / 1024 for r in rs]
        line = (f"{label:40} CPU {statistics.median(cpu):.4f} s ({min(cpu):.4f}-{max(cpu):.4f})"
                f"  max RSS {statistics.median(rss):.1f} MiB ({min(rss):.1f}-{max(rss):.1f})")
        if a.smaps:
            own, heap, other = (statistics.median(r[2][k] for r in rs) / 1024 for k in range(3))
            line += f"  at peak: binary {own:.1f}, heap+anon {heap:.1f}, other {other:.1f} MiB"
        print(line)
    for build in a.builds:
        name = build.split("=", 1)[0]
        none, fresh = results[f"{name} --no-ledger"], results[f"{name} fresh SQLite"]
        cpu = statistics.median(r[0] for r in fresh) - statistics.median(r[0] for r in none)
        rss = (statistics.median(r[1] for r in fresh) - statistics.median(r[1] for r in none)) / 1024
        print(f"{name}: the ledger adds {cpu * 1000 / a.files:.3f} ms of CPU a file, {rss:+.1f} MiB of max RSS")


if __name__ == "__main__":
    main()
