#!/usr/bin/env python3
"""The order of the `authenta` binary's code: which functions a run needs,
together at the start of its text.

A release `authenta` holds 14 MiB of code (the CLI, the embedded emulator,
the PostgreSQL driver, SQLite...), and a run of `authenta process` executes
about 1.4 MiB of it, a function here and there. The kernel maps a binary's
code in 64 KiB windows around each page that runs (fault-around), so the
scattered functions made a 500-file run map 7 MiB of text, and the ledger's
(SQLite, rusqlite, the ledger's own) another 1.2 MiB. Linked in the order
this tool writes (lld's `--symbol-ordering-file`, passed by
crates/authenta-cli/build.rs for release builds), the functions these
workloads run come first, each workload's new ones after the previous
workload's (those callgrind saw run, and those perf sampled in native runs):

1. `process -j 8 DIR --no-ledger` over 500 PNGs (the batch, the client,
   HTTP, TLS set-up, the files' checks);
2. the same with a fresh SQLite ledger (the ledger, rusqlite, SQLite);
3. the same again on that ledger (every file known);
4. `process --task image-forgery-detection` with a ledger (jobs);
5. `upload`, `list`, `ledger` (its listing), `jobs list`.

Functions no workload runs keep the linker's order, after them. The file
names symbols as this build mangles them: a symbol's hash changes with the
compiler, a crate's version or features, so after a toolchain or version
change (or a dependency's) fewer of its names match and the layout falls
back towards the linker's own (never wrong, only larger); `cargo xtask
release` lists writing it again among a release's next steps. `--check`
says how many match; regenerate with:

    cargo build --release -p authenta-cli -p authenta-emulator
    python3 tools/layout.py                # writes crates/authenta-cli/authenta.order
    cargo build --release -p authenta-cli  # relinks with it
    python3 tools/layout.py --check        # how many of its names the binary has

Needs valgrind (callgrind records which instructions ran) and perf (which
functions run natively: valgrind's CPU has no SHA-NI or AVX-512, so code
that dispatches on the CPU's features takes other paths under it, and
timing picks other paths at native speed; perf's CPU samples and its page
faults' instructions find them).
"""

import argparse
import bisect
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_ledger as B  # noqa: E402  (the emulator, the PNGs, keys)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ORDER = os.path.join(ROOT, "crates", "authenta-cli", "authenta.order")
HEADER = """\
# The order of the `authenta` binary's code in release builds: the
# functions its usual runs execute, first (lld's --symbol-ordering-file,
# passed by build.rs). Written by tools/layout.py, which says how to
# regenerate it; names that no longer match are ignored.
"""


def text_symbols(exe):
    """(address, size, name) of the binary's functions, by address."""
    out = subprocess.run(["nm", "-nS", "--defined-only", exe],
                         capture_output=True, text=True, check=True).stdout
    syms = []
    for line in out.splitlines():
        p = line.split(" ", 3)
        if len(p) == 4 and p[2] in "tTwW":
            syms.append((int(p[0], 16), int(p[1], 16), p[3]))
    return syms


def executed(callgrind_out, exe, syms, addrs):
    """Indexes into syms of the functions an instruction of which ran."""
    ob, found = None, set()
    with open(callgrind_out) as f:
        for line in f:
            if line.startswith("ob="):
                ob = line[3:].strip()
            elif line[:2] == "0x" and ob == exe:
                a = int(line.split()[0], 16)
                i = bisect.bisect_right(addrs, a) - 1
                if i >= 0 and a < syms[i][0] + max(syms[i][1], 1):
                    found.add(i)
    return found


def workloads(exe, work, base, files):
    """(name, argv, environment) of each run, in the order they are laid out."""
    ledger = os.path.join(work, "L", "ledger.sqlite")
    jobs = os.path.join(work, "J", "ledger.sqlite")
    one = os.path.join(files, "img0000.png")
    env = dict(os.environ, AUTHENTA_API_KEY=B.key(base), AUTHENTA_BASE_URL=base + "/api")
    runs = [
        ("process, no ledger", ["--no-ledger", "process", "-j", "8", files]),
        ("process, a fresh ledger", ["--ledger", ledger, "process", "-j", "8", files]),
        ("process, every file known", ["--ledger", ledger, "process", "-j", "8", files]),
        ("process --task", ["--ledger", jobs, "process", "--task", "image-forgery-detection",
                            "-j", "8", files]),
        ("upload", ["--no-ledger", "upload", one]),
        ("list", ["list"]),
        ("ledger", ["--ledger", ledger, "ledger"]),
        ("jobs list", ["jobs", "list"]),
    ]
    return [(name, [exe] + argv, env) for name, argv in runs]


def recorded(tool, argv, env):
    """Runs the workload `argv` under `tool` (a recorder's command line);
    a failure ends the tool, naming the workload."""
    r = subprocess.run(tool + argv, env=env, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        sys.exit(f"layout: {tool[0]} `{' '.join(argv[1:])}` failed:\n{r.stderr[-2000:]}")


def profile(exe, work, base, files):
    """Runs each workload under callgrind; yields (name, its output file)."""
    for n, (name, argv, env) in enumerate(workloads(exe, work, base, files)):
        out = os.path.join(work, f"callgrind.{n}")
        recorded(["valgrind", "--tool=callgrind", "--dump-instr=yes", "--compress-pos=no",
                  "--compress-strings=no", f"--callgrind-out-file={out}"], argv, env)
        yield name, out


def sampled(exe, work, base, files, rounds):
    """The functions of exe that perf finds in each workload run natively,
    `rounds` times ({name: set of symbol names}): sampled at 20 kHz, and
    each page fault's. Under valgrind the code takes the paths of the CPU
    valgrind emulates, which lacks SHA-NI and AVX-512 (natively SHA-256,
    every file's digest, and whatever else dispatches on the CPU's features
    runs other functions), and the paths of a client fifty times slower
    (natively, a record may still be processing when its status is read)."""
    found = {}
    for r in range(rounds):
        run_dir = os.path.join(work, f"native{r}")
        os.mkdir(run_dir)
        for n, (name, argv, env) in enumerate(workloads(exe, run_dir, base, files)):
            data = os.path.join(run_dir, f"perf.{n}")
            # CPU samples find what runs often; every page fault's
            # instruction finds what runs rarely but first touches a page
            # (a function of a path that timing picks, run once).
            recorded(["perf", "record", "-q", "-e", "cpu-clock/freq=20000/",
                      "-e", "page-faults/period=1/", "-o", data, "--"], argv, env)
            script = subprocess.run(["perf", "script", "-i", data, "-F", "ip,sym,dso", "--no-demangle"],
                                    capture_output=True, text=True, check=True).stdout
            names = found.setdefault(name, set())
            for line in script.splitlines():
                # "ADDRESS SYMBOL (DSO)"
                head, _, dso = line.strip().rpartition(" (")
                sym = head.partition(" ")[2]
                if dso.rstrip(")") == exe and sym and sym != "[unknown]":
                    names.add(sym)
    return found


def generate(exe, emulator, rounds):
    for tool in ("valgrind", "perf"):
        if shutil.which(tool) is None:
            sys.exit(f"layout: needs {tool} (Debian: apt-get install valgrind linux-perf)")
    syms = text_symbols(exe)
    addrs = [s[0] for s in syms]
    by_name = {}
    for i, sym in enumerate(syms):
        by_name.setdefault(sym[2], []).append(i)
    cleanup = B.Cleanup()
    work = tempfile.mkdtemp(prefix="authenta-layout-")
    cleanup.push(lambda: shutil.rmtree(work, ignore_errors=True))
    order, seen = [], set()
    try:
        base = B.start_emulator(emulator, work, cleanup)
        files = os.path.join(work, "files")
        os.mkdir(files)
        for i in range(500):
            with open(os.path.join(files, f"img{i:04}.png"), "wb") as f:
                f.write(B.png(i))
        native = sampled(exe, work, base, files, rounds)
        for name, out in profile(exe, work, base, files):
            ran = executed(out, exe, syms, addrs)
            ran |= {i for n in native.get(name, ()) for i in by_name.get(n, ())}
            new = ran - seen
            seen |= new
            # Within a workload, the linker's order: what one module calls
            # stays near it.
            order += sorted(new)
            print(f"{name:28} {len(new):5} functions, {sum(syms[i][1] for i in new) // 1024:5} KiB")
    finally:
        cleanup.run()
    names, dup = [], set()
    for i in order:
        if syms[i][2] not in dup:
            dup.add(syms[i][2])
            names.append(syms[i][2])
    with open(ORDER, "w") as f:
        f.write(HEADER)
        f.write("\n".join(names) + "\n")
    total = sum(syms[i][1] for i in order)
    print(f"wrote {os.path.relpath(ORDER, ROOT)}: {len(names)} functions, {total // 1024} KiB "
          f"of {sum(s[1] for s in syms) // 1024} KiB of code")


def check(exe):
    names = [line.split("#")[0].strip() for line in open(ORDER)]
    names = [n for n in names if n]
    have = {s[2] for s in text_symbols(exe)}
    matched = sum(n in have for n in names)
    print(f"{matched} of {len(names)} names in {os.path.relpath(ORDER, ROOT)} are "
          f"functions of {exe} ({100 * matched // max(len(names), 1)}%)")
    if matched < 0.9 * len(names):
        sys.exit("layout: the order is stale (a toolchain, version or dependency changed); "
                 "regenerate it: python3 tools/layout.py")


def main():
    a = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    a.add_argument("--check", action="store_true",
                   help="say how many of the order's names the binary has; fail under 90%%")
    a.add_argument("--exe", default=os.path.join(ROOT, "target", "release", "authenta"))
    a.add_argument("--emulator", default=os.path.join(ROOT, "target", "release", "authenta-emulator"))
    a.add_argument("--rounds", type=int, default=5,
                   help="native runs of each workload recorded by perf (default 5)")
    a = a.parse_args()
    exe = os.path.realpath(a.exe)
    if a.check:
        check(exe)
    else:
        generate(exe, a.emulator, a.rounds)


if __name__ == "__main__":
    main()
