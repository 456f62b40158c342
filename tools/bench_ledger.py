#!/usr/bin/env python3
"""What the batch ledger costs `authenta process`: CPU, memory, wall time.

Runs `authenta process -j 8 DIR` over N distinct 8x8 PNGs against an
`authenta-emulator` (`--processing-time 10ms`), for each build (NAME=BINARY)
and each ledger kind: `none` (`--no-ledger`), `sqlite` (a fresh SQLite
ledger) and `postgres` (a fresh PostgreSQL ledger: the schema `authenta`
dropped before each run). Runs are interleaved (each round runs every build
and kind once, so a shared machine's noise falls on all alike), each with a
fresh key. It prints one line per run, then each configuration's medians
(min-max) of:
- CPU: user + sys of the `authenta` process, from wait4 (microseconds;
  GNU time prints hundredths);
- max RSS of `authenta`, from GNU time (/usr/bin/time: a process forked from
  this one would count Python's own pages in its max RSS);
- wall time of the run;
- with --smaps: /proc/PID/smaps sampled while the command runs and, at the
  sample of highest RSS, how much is the binary's own pages, the heap (and
  anonymous mappings) and the rest;
- with --callgrind: the instructions `authenta` ran in user space, on all
  its threads (valgrind's callgrind; the other figures are then
  valgrind's): a count a busy machine does not change, where CPU time on a
  shared 2-core machine varies by a third from run to run;
- with --syscalls: the calls `authenta` makes, on all its threads, of
  pwrite64, pread64, fcntl, fsync, fdatasync, futex and openat (strace;
  CPU and wall time are then of strace and `authenta` together), and
  of them SQLite's WAL frames (the 24-byte pwrite64 of each frame's header
  to the file whose path ends in `-wal`; a `none` run has none) and the
  pages written to the database file (pwrite64 to the path ending in
  `.sqlite`, as a checkpoint does): counts a busy machine barely changes
  (they vary by a few percent with how the 8 workers' commits fall
  together; futex's by more);
and, for each build, what each ledger kind adds over `none` a file: the
difference of the medians, and the median of each round's difference (a
round runs every configuration once, one after the other: the machine's
speed drifts between rounds more than within one, so the paired figure is
the steadier; with it, the middle half of the rounds' differences).

With --pin, the emulator and the PostgreSQL server the tool starts, and the
tool itself, run on the first CPU it may use (os.sched_getaffinity), and
each measured `authenta` run on the second, with the program over it
(/usr/bin/time; valgrind with --callgrind, strace with --syscalls), whose
child it is. Unpinned, `authenta`'s threads and the emulator's share both
cores of a 2-core machine, and how often each wakes the other across them
changes from run to run: the CPU time of the same 500-file `--no-ledger`
run went from 142 to 181 ms. Pinned, 10 such runs took 72.9-87.7 ms, and
with a fresh SQLite ledger 123.2-136.5 ms: a steadier figure, to compare
builds and ledger kinds by. It is not what a user's unpinned run costs:
that is the unpinned figure, here 1.4 to 1.8 times as much CPU time (its
threads then spread over both cores, and wake each other across them more
often), and what a ledger adds over `none` need not be the same pinned
as unpinned: compare pinned figures with pinned ones only. With --base
(an emulator the tool did not start) or --pg-url, only `authenta` and the
tool are pinned: that server runs wherever it was started, maybe on
`authenta`'s CPU (the tool says so).

Unless --base names a running emulator, it starts one (--emulator BIN, default
target/release/authenta-emulator) on a free port. Unless --pg-url names a
database, it starts a throwaway PostgreSQL server (default settings) with
initdb/pg_ctl from PATH or /usr/lib/postgresql/*/bin (as root, run as the
`postgres` user), when the kinds include `postgres`. Everything it starts,
and its temporary directory, is stopped and removed on exit, Ctrl-C included.

  cargo build --release -p authenta-cli -p authenta-emulator
  python3 tools/bench_ledger.py --runs 11        # one build, all three kinds
  python3 tools/bench_ledger.py --runs 15 --kinds none,sqlite --smaps \\
      before=/tmp/before/authenta after=target/release/authenta
  python3 tools/bench_ledger.py --runs 3 --kinds none,sqlite --callgrind \\
      before=/tmp/before/authenta after=target/release/authenta
  python3 tools/bench_ledger.py --runs 3 --kinds none,sqlite --syscalls \\
      before=/tmp/before/authenta after=target/release/authenta
  python3 tools/bench_ledger.py --runs 10 --kinds none,sqlite --pin \\
      before=/tmp/before/authenta after=target/release/authenta
"""
import argparse, json, os, re, shutil, signal, statistics, struct, subprocess, sys
import tempfile, time, urllib.error, urllib.request, zlib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RELEASE = os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "release")
KINDS = {"none": "--no-ledger", "sqlite": "fresh SQLite", "postgres": "fresh PostgreSQL"}
PG_INSTALL = "apt-get install postgresql"
PG_PASSWORD = "bench"  # of a throwaway server on loopback
SYSCALLS = ("pwrite64", "pread64", "fcntl", "fsync", "fdatasync", "futex", "openat")
# What --syscalls counts besides SYSCALLS: SQLite's WAL frames, pages written to its database.
WRITES = ("WAL frames", "db pages")
CALL = re.compile(r"(?:\d+\s+)?(\w+)\((.*)")  # strace -f: THREAD-ID NAME(ARGS...
# pwrite64's arguments, strace -y: FD<PATH>, BUF, COUNT, OFFSET) = N, or
# ... OFFSET <unfinished ...>
PWRITE = re.compile(r"\d+<(.*?)>, .*, (\d+), \d+(?:\)| <unfinished)")


def png(i):
    """A distinct 8x8 grey PNG (its pixels encode i)."""
    raw = b"".join(b"\0" + bytes((i >> (8 * (r % 3)) & 0xFF) ^ r for _ in range(8)) for r in range(8))
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 8, 8, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def key(base):
    """A fresh API key from the emulator at `base` (its address, without /api)."""
    req = urllib.request.Request(base + "/_emulator/keys", data=b'{"name":"bench"}',
                                 headers={"content-type": "application/json"})
    return json.load(urllib.request.urlopen(req))["apiKey"]


class Cleanup:
    """What to stop and remove on exit, last started first."""

    def __init__(self):
        self.steps = []

    def push(self, step):
        self.steps.append(step)

    def run(self):
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C: cleanup goes on
        while self.steps:
            try:
                self.steps.pop()()
            except Exception as e:  # the other steps still run
                print(f"cleanup: {e}", file=sys.stderr)


def kill_group(proc):
    """Kills a process started in a session of its own, and its children."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()


def start_emulator(exe, work, cleanup):
    """Starts `exe` on a free loopback port; its address (without /api)."""
    log_path = os.path.join(work, "emulator.log")
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([exe, "--listen", "127.0.0.1:0", "--processing-time", "10ms",
                                 "--credits", "100000000"], stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    cleanup.push(lambda: kill_group(proc))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with open(log_path, errors="replace") as f:
            for line in f:
                if line.strip().startswith("base URL:"):
                    return line.split()[-1].removesuffix("/api")
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    with open(log_path, errors="replace") as f:
        sys.exit(f"{exe} did not start (no `base URL:` line within 30 s):\n{f.read()}")


def pg_programs():
    """The directory of initdb, pg_ctl and psql: on PATH, else the newest
    /usr/lib/postgresql/*/bin (Debian's `postgresql` package); or None."""
    for d in os.environ.get("PATH", "").split(os.pathsep):
        if d and all(os.path.isfile(os.path.join(d, p)) for p in ("initdb", "pg_ctl", "psql")):
            return d
    versions = []
    try:
        for v in os.listdir("/usr/lib/postgresql"):
            bin_dir = os.path.join("/usr/lib/postgresql", v, "bin")
            if v.isdigit() and os.path.isfile(os.path.join(bin_dir, "initdb")):
                versions.append((int(v), bin_dir))
    except FileNotFoundError:
        pass
    return max(versions)[1] if versions else None


def start_postgres(bin_dir, work, cleanup):
    """Starts a throwaway PostgreSQL server (initdb into `work`/pg, pg_ctl on
    a free loopback port, password authentication); its database's URL. As
    root, its programs run as the `postgres` user (else `nobody`): initdb
    refuses root."""
    pg = os.path.join(work, "pg")
    os.mkdir(pg)
    password = os.path.join(pg, "password")
    with open(password, "w") as f:
        f.write(PG_PASSWORD)
    as_user = []
    if os.geteuid() == 0:
        import pwd
        for user in ("postgres", "nobody"):
            try:
                entry = pwd.getpwnam(user)
            except KeyError:
                continue
            for path in (pg, password):
                os.chown(path, entry.pw_uid, entry.pw_gid)
            as_user = ["runuser", "-u", user, "--"]
            break
        else:
            sys.exit("as root, PostgreSQL runs as the `postgres` or `nobody` user: neither exists")
    data = os.path.join(pg, "data")

    def pg_run(program, *args, **kw):
        cmd = as_user + [os.path.join(bin_dir, program), *args]
        done = subprocess.run(cmd, cwd=pg, stdin=subprocess.DEVNULL, capture_output=True, text=True, **kw)
        if done.returncode != 0:
            sys.exit(f"{' '.join(cmd)} failed:\n{done.stdout}{done.stderr}")

    pg_run("initdb", "-D", data, "-U", "authenta", "--auth=scram-sha-256", f"--pwfile={password}",
           "-E", "UTF8", "--no-sync")
    port = free_port()
    # From here on the server may be running (pg_ctl can fail after starting it).
    cleanup.push(lambda: subprocess.run(as_user + [os.path.join(bin_dir, "pg_ctl"), "-D", data,
                                                   "-m", "immediate", "-w", "stop"],
                                        cwd=pg, capture_output=True))
    # A session of its own: a Ctrl-C at the terminal does not reach the server
    # before the cleanup stops it.
    pg_run("pg_ctl", "-D", data, "-l", os.path.join(pg, "log"), "-w",
           "-o", f"-p {port} -k {pg} -c listen_addresses=127.0.0.1", "start", start_new_session=True)
    return f"postgres://authenta:{PG_PASSWORD}@127.0.0.1:{port}/postgres"


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def drop_schema(psql, url):
    """A fresh PostgreSQL ledger: the schema `authenta` dropped."""
    done = subprocess.run([psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url,
                           "-c", "DROP SCHEMA IF EXISTS authenta CASCADE"],
                          stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          env=dict(os.environ, PGOPTIONS="-c client_min_messages=warning"))
    if done.returncode != 0:
        sys.exit(f"psql could not drop the schema `authenta`:\n{done.stderr}")


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


def syscall_counts(path):
    """The calls of each of SYSCALLS in strace's output at `path` (-f -y: each
    line the thread's id, then the call with its file descriptors' paths),
    SQLite's WAL frames (its 24-byte pwrite64 of a frame's header to the
    `-wal` file) and its pages written to the database file (pwrite64 to the
    `.sqlite` file). A call another thread interrupts is split into a line
    `... <unfinished ...>` and a line `<... NAME resumed> ...`: only the first
    counts, and it has all of pwrite64's arguments."""
    counts = dict.fromkeys(SYSCALLS + WRITES, 0)
    with open(path, errors="replace") as f:
        for line in f:
            call = CALL.match(line)
            if not call or call[1] not in counts:  # a resumed call, a signal, an exit
                continue
            counts[call[1]] += 1
            write = PWRITE.match(call[2]) if call[1] == "pwrite64" else None
            if write and write[1].endswith("-wal") and write[2] == "24":
                counts["WAL frames"] += 1
            elif write and write[1].endswith(".sqlite"):
                counts["db pages"] += 1
    return counts


def run(exe, args, env, sample, work, cleanup, callgrind=False, syscalls=False, cpu=None):
    """CPU-s (from wait4), max RSS (KiB, from GNU time), wall-s of one run,
    the smaps sample of highest RSS, (callgrind) the instructions `authenta`
    ran in user space, on all its threads, and (syscalls) its system calls'
    counts (syscall_counts). With `cpu`, GNU time and all it starts run on
    that CPU only."""
    time_out = os.path.join(work, "time")
    counts = os.path.join(work, "callgrind.out")
    trace = os.path.join(work, "strace.out")
    tool = []
    if callgrind:
        tool = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={counts}"]
    elif syscalls:
        # -qq: no lines about threads attached and exited; -s 0: no buffers'
        # contents; --seccomp-bpf: the other system calls do not stop it.
        tool = ["strace", "-f", "-qq", "-y", "-s", "0", "--seccomp-bpf",
                "-e", "trace=" + ",".join(SYSCALLS), "-o", trace]
    err = os.path.join(work, "stderr")
    # The whole binary in the page cache first: the kernel maps a binary's
    # pages in 64 KiB windows, of the pages it has cached, so a binary
    # partly evicted would show less RSS.
    with open(exe, "rb") as f:
        while f.read(1 << 20):
            pass
    with open(err, "wb") as err_file:
        start = time.monotonic()
        proc = subprocess.Popen(["/usr/bin/time", "-f", "%U %S %M", "-o", time_out] + tool + [exe] + args,
                                env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=err_file, start_new_session=True,
                                preexec_fn=None if cpu is None else lambda: os.sched_setaffinity(0, {cpu}))
    cleanup.push(lambda: kill_group(proc))
    peak = (0, 0, 0)
    real = os.path.realpath(exe)
    while True:
        # GNU time's own CPU is a constant millisecond or so.
        pid, status, ru = os.wait4(proc.pid, os.WNOHANG if sample else 0)
        if pid:
            break
        # GNU time's child, or under strace strace's.
        child = [str(proc.pid)]
        for _ in range(2 if syscalls else 1):
            try:
                with open(f"/proc/{child[0]}/task/{child[0]}/children") as f:
                    child = f.read().split()
            except FileNotFoundError:
                child = []
            if not child:
                break
        if child:
            s = smaps(child[0], real)
            if sum(s) > sum(peak):
                peak = s
        time.sleep(0.005)
    wall = time.monotonic() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    cleanup.steps.pop()
    if proc.returncode != 0:
        with open(err, errors="replace") as f:
            sys.exit(f"{exe} {' '.join(args)} exited with {proc.returncode}:\n{f.read()}")
    with open(time_out) as f:
        rss = f.read().split()[-1]
    instructions = None
    if callgrind:
        with open(counts) as f:
            instructions = next(int(line.split()[1]) for line in f
                                if line.startswith(("summary:", "totals:")))
    return (ru.ru_utime + ru.ru_stime, int(rss), wall, peak, instructions,
            syscall_counts(trace) if syscalls else None)


def parse():
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="\n\n".join(__doc__.split("\n\n")[1:]))
    p.add_argument("--files", type=int, default=500, help="how many PNGs (default 500)")
    p.add_argument("--runs", type=int, default=9, help="runs of each configuration (default 9)")
    p.add_argument("--kinds", default="none,sqlite,postgres",
                   help="ledger kinds, comma-separated: none, sqlite, postgres (default: all three)")
    p.add_argument("--smaps", action="store_true", help="break the peak RSS down (binary, heap, other)")
    p.add_argument("--callgrind", action="store_true",
                   help="run authenta under valgrind's callgrind and count the instructions it runs "
                   "in user space: a measure a busy machine does not disturb (CPU, RSS and wall "
                   "time are then valgrind's)")
    p.add_argument("--syscalls", action="store_true",
                   help="run authenta under strace and count its calls of " + ", ".join(SYSCALLS)
                   + ", SQLite's WAL frames and pages written to its database file (CPU and wall "
                   "time are then of strace and authenta together)")
    p.add_argument("--pin", action="store_true",
                   help="run the emulator and PostgreSQL server the tool starts, and the tool, on "
                   "one CPU and each measured authenta on another (the first two it may use): a "
                   "steadier CPU figure, lower than an unpinned run's, which is what a user's run "
                   "costs; with --base or --pg-url that server is not pinned (see below)")
    p.add_argument("--base", help="a running emulator's address (such as http://127.0.0.1:18731); "
                   "default: start one")
    p.add_argument("--emulator", default=os.path.join(RELEASE, "authenta-emulator"),
                   help="the emulator to start (default: target/release/authenta-emulator)")
    p.add_argument("--pg-url", help="a PostgreSQL database for the postgres kind: its schema "
                   "`authenta` is dropped before each run; default: a throwaway server")
    p.add_argument("builds", nargs="*", metavar="NAME=BINARY",
                   help="authenta builds to compare (default: authenta=target/release/authenta)")
    a = p.parse_args()
    a.kinds = list(dict.fromkeys(k.strip() for k in a.kinds.split(",") if k.strip()))
    for k in a.kinds:
        if k not in KINDS:
            p.error(f"unknown ledger kind `{k}`: choose among none, sqlite, postgres")
    if not a.kinds:
        p.error("--kinds names no kind: choose among none, sqlite, postgres")
    if a.files < 1 or a.runs < 1:
        p.error("--files and --runs take a positive number")
    builds = {}
    for build in a.builds or [f"authenta={os.path.join(RELEASE, 'authenta')}"]:
        name, sep, path = build.partition("=")
        if not sep or not name or not path:
            p.error(f"`{build}`: a build is NAME=BINARY, such as after=target/release/authenta")
        if name in builds:
            p.error(f"two builds named `{name}`: give each its own NAME")
        if not (os.path.isfile(path) and os.access(path, os.X_OK)):
            p.error(f"{path} is not an executable file (cargo build --release -p authenta-cli)")
        builds[name] = path
    a.builds = builds
    if not a.base and not (os.path.isfile(a.emulator) and os.access(a.emulator, os.X_OK)):
        p.error(f"no emulator at {a.emulator}: cargo build --release -p authenta-emulator, "
                "or pass --emulator BIN, or --base URL of a running one")
    if a.callgrind and a.syscalls:
        p.error("--callgrind and --syscalls: give one or the other (under both, strace would count "
                "valgrind's system calls, and callgrind would slow them down)")
    if a.syscalls and not shutil.which("strace"):
        p.error("--syscalls runs strace, which is not installed: apt-get install strace")
    if a.callgrind and not shutil.which("valgrind"):
        p.error("--callgrind runs valgrind, which is not installed: apt-get install valgrind")
    if not os.access("/usr/bin/time", os.X_OK):
        p.error("no /usr/bin/time, which measures max RSS: apt-get install time")
    if a.pin:
        cpus = sorted(os.sched_getaffinity(0))
        if len(cpus) < 2:
            p.error(f"--pin puts the emulator and authenta on two CPUs, and this process may use "
                    f"only CPU {cpus[0]}: run it where it may use two (taskset -c 0,1), or leave "
                    "--pin out")
        a.pin = cpus[:2]  # the servers' and the tool's CPU, authenta's
    return a


def main():
    a = parse()
    # SIGTERM and SIGHUP end the run as Ctrl-C does: through the cleanup.
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda n, _: sys.exit(128 + n))
    cleanup = Cleanup()
    try:
        bench(a, cleanup)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    finally:
        cleanup.run()


def bench(a, cleanup):
    if a.pin:
        # Before anything starts: the emulator and PostgreSQL server started
        # below inherit the tool's CPU.
        os.sched_setaffinity(0, {a.pin[0]})
        started = ["the tool"] + [server for server, elsewhere in (
            ("the emulator", a.base), ("the PostgreSQL server", a.pg_url or "postgres" not in a.kinds))
            if not elsewhere]
        started = ", ".join(started[:-1]) + " and " + started[-1] if len(started) > 1 else started[0]
        a.pinned = f"pinned: {started} on CPU {a.pin[0]}, authenta on CPU {a.pin[1]}"
        for server, given in (("the emulator at --base", a.base),
                              ("the PostgreSQL server at --pg-url", a.pg_url and "postgres" in a.kinds)):
            if given:
                a.pinned += f"; {server} not pinned (the tool did not start it)"
        print(a.pinned, file=sys.stderr)
    work = tempfile.mkdtemp(prefix="bench-ledger-")
    cleanup.push(lambda: shutil.rmtree(work, ignore_errors=True))
    os.chmod(work, 0o755)  # the PostgreSQL server's user reaches its directory in it
    skipped = None
    psql = None
    if "postgres" in a.kinds:
        bin_dir = pg_programs()
        if a.pg_url:
            psql = shutil.which("psql") or (bin_dir and os.path.join(bin_dir, "psql"))
            if not psql:
                sys.exit(f"no psql (to drop the schema `authenta` before each run): {PG_INSTALL}")
        elif bin_dir:
            psql = os.path.join(bin_dir, "psql")
            a.pg_url = start_postgres(bin_dir, work, cleanup)
        else:
            skipped = ("postgres skipped: PostgreSQL is not installed (no initdb on PATH or in "
                       f"/usr/lib/postgresql/*/bin): {PG_INSTALL}, or pass --pg-url URL")
            print(skipped, file=sys.stderr)
            a.kinds.remove("postgres")
            if not a.kinds:
                sys.exit("nothing left to measure")
    base = a.base.rstrip("/") if a.base else start_emulator(a.emulator, work, cleanup)
    files = os.path.join(work, "files")
    os.mkdir(files)
    for i in range(a.files):
        with open(os.path.join(files, f"img{i:04}.png"), "wb") as f:
            f.write(png(i))
    sqlite_dir = os.path.join(work, "L")
    ledger = {"none": ["--no-ledger"], "sqlite": ["--ledger", os.path.join(sqlite_dir, "ledger.sqlite")],
              "postgres": ["--ledger", a.pg_url]}
    configs = [(name, kind) for name in a.builds for kind in a.kinds]
    label = {c: f"{c[0]} {KINDS[c[1]]}" for c in configs}
    width = max(len(l) for l in label.values())
    results = {c: [] for c in configs}
    for n in range(1, a.runs + 1):
        for name, kind in configs:
            shutil.rmtree(sqlite_dir, ignore_errors=True)
            if kind == "postgres":
                drop_schema(psql, a.pg_url)
            try:
                api_key = key(base)
            except (urllib.error.URLError, OSError) as e:
                sys.exit(f"no emulator answers at {base}: {e}")
            env = dict(os.environ, AUTHENTA_API_KEY=api_key, AUTHENTA_BASE_URL=base + "/api")
            r = run(a.builds[name], ledger[kind] + ["process", "-j", "8", files], env, a.smaps,
                    work, cleanup, a.callgrind, a.syscalls, a.pin[1] if a.pin else None)
            results[(name, kind)].append(r)
            counted = f"  instructions {r[4] / 1e6:.1f} M" if a.callgrind else ""
            if a.syscalls:
                counted += "".join(f"  {k} {v}" for k, v in r[5].items())
            print(f"run {n}: {label[(name, kind)]:{width}}  CPU {r[0]:.4f} s  "
                  f"max RSS {r[1] / 1024:.1f} MiB  wall {r[2]:.2f} s{counted}", flush=True)
    report(a, configs, label, width, results)
    if skipped:
        print(skipped)


def iqr(values, scale):
    """The middle half of `values` (times `scale`), as a range."""
    ordered = sorted(v * scale for v in values)
    lo, hi = ordered[(len(ordered) - 1) // 4], ordered[(3 * (len(ordered) - 1) + 3) // 4]
    return f"middle half {lo:.3f}-{hi:.3f}"


def report(a, configs, label, width, results):
    med = statistics.median
    print(f"\n{a.files} files, {a.runs} runs each, medians (min-max)"
          + (f"; {a.pinned}" if a.pin else ""))
    for c in configs:
        rs = results[c]
        cpu = [r[0] for r in rs]
        rss = [r[1] / 1024 for r in rs]
        wall = [r[2] for r in rs]
        line = (f"{label[c]:{width}}  CPU {med(cpu):.4f} s ({min(cpu):.4f}-{max(cpu):.4f})"
                f"  max RSS {med(rss):.1f} MiB ({min(rss):.1f}-{max(rss):.1f})"
                f"  wall {med(wall):.2f} s ({min(wall):.2f}-{max(wall):.2f})")
        if a.smaps:
            own, heap, other = (med(r[3][k] for r in rs) / 1024 for k in range(3))
            line += f"  at peak: binary {own:.1f}, heap+anon {heap:.1f}, other {other:.1f} MiB"
        if a.callgrind:
            ins = [r[4] / 1e6 for r in rs]
            line += f"  instructions {med(ins):.1f} M ({min(ins):.1f}-{max(ins):.1f})"
        if a.syscalls:
            for k in SYSCALLS + WRITES:
                n = [r[5][k] for r in rs]
                line += f"  {k} {med(n):.1f} ({min(n)}-{max(n)})".replace(".0 (", " (")
        print(line)
    if "none" not in a.kinds:
        return
    for name in a.builds:
        none = results[(name, "none")]
        for kind in a.kinds:
            if kind == "none":
                continue
            ledger = results[(name, kind)]
            cpu = med(r[0] for r in ledger) - med(r[0] for r in none)
            rss = (med(r[1] for r in ledger) - med(r[1] for r in none)) / 1024
            wall = med(r[2] for r in ledger) - med(r[2] for r in none)
            # The same round's two runs, one after the other: the machine's
            # speed drifts between rounds far more than within one.
            paired = [l[0] - n[0] for l, n in zip(ledger, none)]
            line = (f"{name}: a {KINDS[kind]} ledger adds {cpu * 1000 / a.files:.3f} ms of CPU a file "
                    f"(paired by round: median {med(paired) * 1000 / a.files:.3f}, "
                    f"{iqr(paired, 1000 / a.files)}), "
                    f"{rss:+.1f} MiB of max RSS, {wall:+.2f} s of wall time")
            if a.callgrind:
                ins = med(r[4] for r in ledger) - med(r[4] for r in none)
                line += f", {ins / a.files / 1000:.0f} thousand instructions a file"
            if a.syscalls:
                added = ((k, med(r[5][k] for r in ledger) - med(r[5][k] for r in none))
                         for k in SYSCALLS + WRITES)
                line += "; a file: " + ", ".join(f"{k} {n / a.files:+.2f}" for k, n in added)
            print(line)


if __name__ == "__main__":
    main()
