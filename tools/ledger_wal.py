#!/usr/bin/env python3
"""Which pages a batch's SQLite ledger writes: its WAL frames, by transaction and by B-tree.

Runs one `authenta process -j 8 DIR` over N distinct 8x8 PNGs (as
tools/bench_ledger.py does) with a fresh SQLite ledger, keeping every frame
the run writes to the ledger's WAL: the ledger is made first (a one-file
run), then a read transaction of this script's, opened before the batch and
held through it, keeps SQLite from copying the WAL back into the database
(a checkpoint stops at the oldest reader) or deleting it at the end. The
WAL is then read frame by frame: a frame is one page written, and a frame
with a database size in its header ends a transaction.

It prints the transactions and frames of the run, a file's share of them,
and for small transactions (at most --small frames: a file's `Created`
checkpoint, a transaction of its own) and the others (claim groups, queued
writes) the frames of each table and index, named from the ledger as the
run left it (SQLite's `dbstat` table, of Python's sqlite3 module); a page
that is free by then (a claim's pages, emptied when the claims end) is
counted as `(free by the end)`.

Unless --base names a running emulator, it starts one (--emulator BIN,
default target/release/authenta-emulator) on a free port; it is stopped,
and the temporary directory removed, on exit (Ctrl-C included).

  cargo build --release -p authenta-cli -p authenta-emulator
  python3 tools/ledger_wal.py target/release/authenta
"""

import argparse, collections, os, shutil, sqlite3, struct, subprocess, sys, tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_ledger import RELEASE, Cleanup, key, png, start_emulator  # noqa: E402


def parse():
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="\n\n".join(__doc__.split("\n\n")[1:]))
    p.add_argument("binary", nargs="?", default=os.path.join(RELEASE, "authenta"),
                   help="the authenta to run (default: target/release/authenta)")
    p.add_argument("--files", type=int, default=500, help="how many PNGs (default 500)")
    p.add_argument("--small", type=int, default=8,
                   help="a transaction of at most this many frames counts as small (default 8)")
    p.add_argument("--base", help="a running emulator's address (such as http://127.0.0.1:18731); "
                   "default: start one")
    p.add_argument("--emulator", default=os.path.join(RELEASE, "authenta-emulator"),
                   help="the emulator to start (default: target/release/authenta-emulator)")
    a = p.parse_args()
    if a.files < 1 or a.small < 1:
        p.error("--files and --small take a positive number")
    if not (os.path.isfile(a.binary) and os.access(a.binary, os.X_OK)):
        p.error(f"{a.binary} is not an executable file (cargo build --release -p authenta-cli)")
    if not a.base and not (os.path.isfile(a.emulator) and os.access(a.emulator, os.X_OK)):
        p.error(f"no emulator at {a.emulator}: cargo build --release -p authenta-emulator, "
                "or pass --emulator BIN, or --base URL of a running one")
    return a


def process(a, base, ledger, files):
    """Runs `authenta process` over `files` with `ledger`, a fresh key."""
    env = dict(os.environ, AUTHENTA_API_KEY=key(base), AUTHENTA_BASE_URL=base + "/api")
    done = subprocess.run([a.binary, "--ledger", ledger, "process", "-j", "8", files], env=env,
                          stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True)
    if done.returncode != 0:
        sys.exit(f"authenta process {files} exited with {done.returncode}:\n{done.stderr}")


def transactions(wal):
    """The page numbers each transaction of a WAL file wrote, in order."""
    with open(wal, "rb") as f:
        data = f.read()
    if len(data) < 32:
        sys.exit(f"{wal} holds no frame: was the WAL kept?")
    page_size = struct.unpack(">I", data[8:12])[0]
    done, current, offset = [], [], 32
    while offset + 24 + page_size <= len(data):
        page, db_size = struct.unpack(">II", data[offset:offset + 8])
        current.append(page)
        if db_size:  # a commit frame
            done.append(current)
            current = []
        offset += 24 + page_size
    return done


def main():
    a = parse()
    cleanup = Cleanup()
    try:
        work = tempfile.mkdtemp(prefix="ledger-wal-")
        cleanup.push(lambda: shutil.rmtree(work, ignore_errors=True))
        base = a.base.rstrip("/") if a.base else start_emulator(a.emulator, work, cleanup)
        files, one = os.path.join(work, "files"), os.path.join(work, "one")
        os.mkdir(files)
        os.mkdir(one)
        for i in range(a.files):
            with open(os.path.join(files, f"img{i:04}.png"), "wb") as f:
                f.write(png(i))
        # The ledger made (and its WAL emptied) by a one-file run of another
        # picture, so the batch's rows are all new.
        with open(os.path.join(one, "first.png"), "wb") as f:
            f.write(png(a.files + 1))
        ledger = os.path.join(work, "L", "ledger.sqlite")
        process(a, base, ledger, one)
        reader = sqlite3.connect(ledger, isolation_level=None)
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM entries").fetchall()  # holds the read snapshot
        process(a, base, ledger, files)
        kept = os.path.join(work, "kept.sqlite")
        shutil.copy(ledger, kept)
        shutil.copy(ledger + "-wal", kept + "-wal")
        reader.close()
        txs = transactions(kept + "-wal")
        try:
            names = dict(sqlite3.connect(kept).execute("SELECT pageno, name FROM dbstat"))
        except sqlite3.OperationalError as e:
            sys.exit(f"Python's SQLite has no dbstat table ({e}): the frames cannot be named")
        names[1] = "page 1 (the database header)"
        frames = sum(map(len, txs))
        print(f"{a.files} files: {len(txs)} transactions, {frames} WAL frames "
              f"({frames / a.files:.2f} a file)")
        for small, label in ((True, f"small transactions (at most {a.small} frames)"),
                             (False, "other transactions")):
            group = [t for t in txs if (len(t) <= a.small) == small]
            count = collections.Counter(names.get(page, "(free by the end)")
                                        for t in group for page in t)
            total = sum(count.values())
            print(f"\n{label}: {len(group)}, {total} frames "
                  f"({total / max(len(group), 1):.2f} each, {total / a.files:.2f} a file)")
            for name, n in count.most_common():
                print(f"  {n:6}  {n / a.files:5.2f} a file  {name}")
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    finally:
        cleanup.run()


if __name__ == "__main__":
    main()
