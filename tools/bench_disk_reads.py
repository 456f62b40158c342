#!/usr/bin/env python3
"""How much `authenta process` reads from the disk, with and without a ledger.

A fresh ledger reads each new file twice: once to hash it (its entry's key,
needed before the claim and the create), once to upload it. This measures
whether the second read reaches the disk: before each run every file of DIR
is dropped from the page cache (posix_fadvise DONTNEED), and the run's
block reads are taken from getrusage (ru_inblock, 512-byte units).

  authenta-emulator --listen 127.0.0.1:18731 --processing-time 10ms \
      --credits 100000000 &
  python3 tools/bench_disk_reads.py --base http://127.0.0.1:18731 \
      target/release/authenta DIR
"""
import argparse, os, shutil, subprocess, tempfile

from bench_ledger import key  # a fresh API key from the emulator


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--base", required=True, help="the emulator's address")
    p.add_argument("--runs", type=int, default=2)
    p.add_argument("authenta")
    p.add_argument("dir")
    a = p.parse_args()
    files = [os.path.join(a.dir, f) for f in sorted(os.listdir(a.dir))]
    size = sum(os.path.getsize(f) for f in files)
    work = tempfile.mkdtemp(prefix="disk-reads-")
    print(f"{len(files)} files, {size / 2**20:.0f} MiB")
    for _ in range(a.runs):
        for label, ledger in (("--no-ledger", ["--no-ledger"]),
                              ("fresh SQLite ledger", ["--ledger", os.path.join(work, "L", "l.sqlite")])):
            for f in files:
                fd = os.open(f, os.O_RDONLY)
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
                os.close(fd)
            shutil.rmtree(os.path.join(work, "L"), ignore_errors=True)
            env = dict(os.environ, AUTHENTA_API_KEY=key(a.base), AUTHENTA_BASE_URL=a.base + "/api")
            proc = subprocess.Popen([a.authenta] + ledger + ["process", "-j", "4", a.dir], env=env,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            _, status, ru = os.wait4(proc.pid, 0)
            if status != 0:
                raise SystemExit(f"{label}: exited with {status}")
            print(f"{label:20} read from the disk: {ru.ru_inblock * 512 / 2**20:.0f} MiB")
    shutil.rmtree(work)


if __name__ == "__main__":
    main()
