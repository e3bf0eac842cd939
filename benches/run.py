#!/usr/bin/env python3
"""Every benchmark of git-credential-azdo, and docs/benchmarks.md from them.

    benches/run.py [options]

Python 3.11 or later, standard library only. Runs three stages, in this order, each writing its
own section of docs/benchmarks.md (between its GENERATED markers) and keeping its raw data in
target/bench-results/STAGE/, then writes the Summary section (every target and whether it is met):

  build       a clean release build of what install.sh installs (`./install.sh --build-only`,
              static on Linux, into a fresh target directory), timed once, and its size
  hot-path    one `get` of git-credential-azdo (file store, one with 1000 organizations, and
              Secret Service; and through its agent, the file store on the agent's side), as
              install.sh builds it, against `git credential-store`, `git credential-cache`,
              `git-credential-libsecret` and `git-credential-oauth`, with hyperfine in rotated
              rounds; peak memory; sizes
  validation  one `get` with a validation due (one request to a loopback fake of Azure DevOps)
              against the hot path; requests per `get` from the fake's counters; a stage split
              from the helper's trace; peak memory

The build runs first, while nothing else of ours does. About 6 to 10 minutes on 2 CPUs, most of
it the clean build. Everything else runs in a throwaway world that this script does not make
itself: benches/worlds.rs (a `harness = false` bench target, built with `cargo bench --no-run`)
sets it up from the tests' own environment, tests/common (its own HOME and empty git config, a
scrubbed environment, gnome-keyring on a private D-Bus session bus) and the loopback fake of
Azure DevOps (fake-azdo), adds the stores and the `git credential-cache` daemon the stage needs,
prints the world's directory and environment, and tears it all down when this script closes its
stdin. This script keeps the options, the builds, the hyperfine and /usr/bin/time calls, and the
report.

`--baseline PATH` also times another build of git-credential-azdo (say, of the commit before a
change) in the same hyperfine runs as this one, on the same stores, and prints both builds'
ratios to `git credential-store` (and to `git-credential-libsecret`).

Exit status: 0, also when a target is not met (unless --strict or STRICT=1: then 1); 1 on an
error, 2 on bad options.

Debian packages: cargo (rustup), git, hyperfine, time, python3, dbus-daemon, dbus-bin,
gnome-keyring, libsecret-1-dev, pkg-config, gcc, git-credential-oauth.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import json
import os
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

NAME = "run.py"
BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
MiB = 1024 * 1024
STAGES = ("build", "hot-path", "validation")
# As benches/worlds.rs sets them up.
MANY_ORGS = 1000
ORG = "contoso"
DEFAULT_LIBSECRET_SRC = "/usr/share/doc/git/contrib/credential/libsecret"


class Failure(Exception):
    """A benchmark that cannot go on: reported as one line, exit status 1."""


def die(message: str):
    raise Failure(message)


def log(message: str):
    print(f"==> {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------------
# Reading results
# --------------------------------------------------------------------------------------------------


def ms(seconds: float) -> float:
    return seconds * 1000.0


def quartiles(xs):
    q = statistics.quantiles(xs, n=4)
    return q[0], q[2]


def load_rounds(files):
    """hyperfine JSON files -> (per_round, pooled): id -> [each file's median], id -> [all samples]."""
    per_round, pooled = {}, {}
    for f in files:
        for res in json.loads(Path(f).read_text())["results"]:
            per_round.setdefault(res["command"], []).append(res["median"])
            pooled.setdefault(res["command"], []).extend(res["times"])
    return per_round, pooled


def load_rss(path: Path):
    """rss.tsv -> id -> largest peak RSS (KiB), and the number of samples per id."""
    rss = {}
    for line in path.read_text().splitlines():
        k, v = line.split("\t")
        rss.setdefault(k, []).append(int(v))
    return {k: max(v) for k, v in rss.items()}, max((len(v) for v in rss.values()), default=0)


def shown(cmd: str) -> str:
    """`sh -c 'VAR=x exec CMD < query'` -> `VAR=x CMD < query` (the wrapper is the same for all)."""
    inner = cmd[len("sh -c '"):-1] if cmd.startswith("sh -c '") else cmd
    return inner.replace("exec ", "", 1)


def load_avg() -> str:
    return Path("/proc/loadavg").read_text().split()[0]


# --------------------------------------------------------------------------------------------------
# The report: docs/benchmarks.md
# --------------------------------------------------------------------------------------------------


def markers(stage: str):
    return (f"<!-- BEGIN GENERATED by benches/run.py ({stage}): do not edit by hand -->",
            f"<!-- END GENERATED by benches/run.py ({stage}) -->")


# The markers of the shell scripts run.py replaced, found (and replaced) in older reports.
LEGACY = {"summary": "run-all.sh", "build": "build.sh", "hot-path": "hot-path.sh", "validation": "validation.sh"}


def splice(doc_path: Path, stage: str, report: str, heading: str):
    """Replace the text between STAGE's markers in DOC_PATH with REPORT; without markers, append
    HEADING (a Markdown heading and anything under it) and the markers at the end."""
    begin, end = markers(stage)
    text = doc_path.read_text() if doc_path.exists() else "# Benchmarks\n"
    body = begin + "\n\n" + report.rstrip("\n") + "\n\n" + end
    for b, e in [(begin, end), (f"<!-- BEGIN GENERATED by benches/{LEGACY[stage]}: do not edit by hand -->",
                                f"<!-- END GENERATED by benches/{LEGACY[stage]} -->")]:
        if b in text and e in text.split(b, 1)[1]:
            head, rest = text.split(b, 1)
            doc = head + body + rest.split(e, 1)[1]
            break
    else:
        doc = text.rstrip("\n") + "\n\n" + heading.rstrip("\n") + "\n\n" + body + "\n"
    doc_path.parent.mkdir(parents=True, exist_ok=True)
    doc_path.write_text(doc)


def write_summary(results_dir: Path, data: dict):
    """The figures the Summary needs, as JSON next to the raw data."""
    results_dir.mkdir(parents=True, exist_ok=True)
    (results_dir / "summary.json").write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def machine_lines(meta: dict, hyperfine: bool = True):
    """The Markdown bullets that say when, at which commit and on what a run was measured."""
    lines = [
        f"Measured {meta['date']} at commit {meta['commit']}.",
        "",
        f"- Machine: {meta['nproc']} CPUs ({meta['cpu']}), {meta['mem']} RAM, {meta['os']}, Linux {meta['kernel']}",
    ]
    if hyperfine:
        lines.append(f"- git {meta['git']} (first on PATH); hyperfine {meta['hyperfine']}; {meta['rustc']}")
    return lines


def load_line(load, what="timing"):
    return (f"- Load average (1 min) before / after {what}: {load[0]} / {load[1]} "
            "(anything well above 0 means other work shared the CPUs)")


# --------------------------------------------------------------------------------------------------
# Tools and the machine
# --------------------------------------------------------------------------------------------------


def run_text(args, **kw) -> str:
    """stdout of ARGS, or "" when it cannot run or fails."""
    kw.setdefault("stderr", subprocess.PIPE)
    try:
        return subprocess.run(args, stdout=subprocess.PIPE, text=True, check=True, **kw).stdout
    except (OSError, subprocess.CalledProcessError):
        return ""


def dpkg_version(package: str) -> str:
    return run_text(["dpkg-query", "-W", "-f", "${Version}", package]).strip() or "unknown"


def check_tools(stages, baseline):
    """Every missing tool, with its Debian package, at once; then hyperfine's `-N`."""
    missing, packages = [], []

    def need(what, package, present):
        if not present:
            missing.append(f"{what} (Debian package: {package})")
            if " " not in package and package not in packages:
                packages.append(package)

    def need_cmd(cmd, package):
        need(cmd, package, shutil.which(cmd) is not None)

    need_cmd("cargo", "cargo, or rustup")
    need_cmd("git", "git")
    need("/usr/bin/time", "time", os.path.exists("/usr/bin/time"))
    if "hot-path" in stages or "validation" in stages:
        need_cmd("hyperfine", "hyperfine")
    if "hot-path" in stages:
        need_cmd("dbus-daemon", "dbus-daemon")
        need_cmd("dbus-send", "dbus-bin")
        need_cmd("gnome-keyring-daemon", "gnome-keyring")
        need_cmd("pkg-config", "pkg-config")
        need_cmd("gcc", "gcc")
        has_dev = shutil.which("pkg-config") is not None and subprocess.run(
            ["pkg-config", "--exists", "libsecret-1", "glib-2.0"], capture_output=True).returncode == 0
        need("development files of libsecret-1 glib-2.0", "libsecret-1-dev", has_dev)
        need_cmd("git-credential-oauth", "git-credential-oauth")
    if missing:
        text = f"{NAME}: missing tools:\n" + "".join(f"  - {m}\n" for m in missing)
        if packages:
            text += f"On Debian/Ubuntu: apt-get install -y --no-install-recommends {' '.join(packages)}\n"
        sys.stderr.write(text)
        raise SystemExit(1)
    if shutil.which("hyperfine") and "--shell=none" not in run_text(["hyperfine", "--help"]):
        version = run_text(["hyperfine", "--version"]).split()[-1:] or ["?"]
        die(f"hyperfine {version[0]} cannot run commands without a shell (-N); hyperfine 1.13 or later is needed")
    if baseline is not None and "hot-path" not in stages:
        die("--baseline is measured in the hot-path stage, which this run skips")


def machine_meta() -> dict:
    """What is measured, on what: taken before any world replaces the environment."""
    cpu = next((l.split(":", 1)[1].strip() for l in Path("/proc/cpuinfo").read_text().splitlines()
                if l.startswith("model name")), "unknown")
    mem_kib = next((int(l.split()[1]) for l in Path("/proc/meminfo").read_text().splitlines()
                    if l.startswith("MemTotal:")), 0)
    os_name = ""
    with contextlib.suppress(OSError):
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                os_name = line.split("=", 1)[1].strip().strip('"')
    commit = run_text(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"]).strip() or "unknown"
    if commit != "unknown" and run_text(["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no",
                                         "--", "src", "Cargo.toml", "Cargo.lock", "tests/fake-azdo"]).strip():
        commit += " + uncommitted changes"
    return {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": str(os.cpu_count() or 1),
        "cpu": cpu,
        "mem": f"{mem_kib / 1048576:.1f} GiB",
        "os": os_name,
        "kernel": os.uname().release,
        "git": run_text(["git", "--version"]).strip().removeprefix("git version "),
        "hyperfine": (run_text(["hyperfine", "--version"]).split()[1:2] or [""])[0],
        "rustc": run_text(["rustc", "--version"]).strip() or "unknown",
        "cargo": run_text(["cargo", "--version"]).strip() or "unknown",
        "commit": commit,
    }


def shipped_build(target_dir: Path) -> Path:
    """The binary `install.sh` installs (static on Linux with glibc): `install.sh --build-only`."""
    log("building what install.sh installs: ./install.sh --build-only")
    env = dict(os.environ, CARGO_TARGET_DIR=str(target_dir))
    p = subprocess.run([str(REPO / "install.sh"), "--build-only"], cwd=REPO, env=env, stdout=subprocess.PIPE,
                       stderr=sys.stderr, text=True)
    lines = p.stdout.split()
    if p.returncode != 0 or not lines:
        die("./install.sh --build-only failed")
    exe = Path(lines[-1])
    if not exe.is_file():
        die(f"install.sh did not produce {exe}")
    return exe


def keep(results: Path, world: Path, names):
    """Keep the raw data of a run in RESULTS (replacing the previous run's)."""
    shutil.rmtree(results, ignore_errors=True)
    results.mkdir(parents=True)
    for name in names:
        src = world / name
        if src.is_dir():
            shutil.copytree(src, results / name)
        elif src.exists():
            shutil.copy2(src, results / name)


# --------------------------------------------------------------------------------------------------
# The throwaway world: benches/worlds.rs, on top of the tests' own environment
# --------------------------------------------------------------------------------------------------


def build_harness(target_dir: Path, profile: str) -> Path:
    """benches/worlds.rs (a `harness = false` bench target): `cargo bench --no-run`, its path."""
    log(f"building the worlds: cargo bench --locked --no-run --bench worlds --profile {profile}")
    p = subprocess.run(["cargo", "bench", "--locked", "--no-run", "--bench", "worlds", "--profile", profile,
                        "--message-format=json-render-diagnostics"], cwd=REPO, stdout=subprocess.PIPE,
                       stderr=sys.stderr, text=True, env=dict(os.environ, CARGO_TARGET_DIR=str(target_dir)))
    if p.returncode != 0:
        die("cargo bench --no-run --bench worlds failed")
    for line in p.stdout.splitlines():
        with contextlib.suppress(ValueError):
            m = json.loads(line)
            if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "worlds" and m.get("executable"):
                return Path(m["executable"])
    die("cargo bench --no-run did not name the worlds program")


class World:
    """One world of benches/worlds.rs (tests/common's TestEnv and fake-azdo), run as a coprocess
    with the helper under test in AZDO_TEST_BINARY: its directory, where commands run, and its
    environment, which they get and nothing else. Closing its stdin tears it down (every process
    it started stopped, every file removed). Raw data of the run goes to a scratch directory of
    its own (`out`), removed on exit."""

    def __init__(self, harness: Path, exe: Path, args, stack: contextlib.ExitStack):
        self.scratch = Path(tempfile.mkdtemp(prefix="azdo-bench."))
        stack.callback(shutil.rmtree, self.scratch, True)
        self.out("json").mkdir()
        self.out("log").touch()
        log(f"setting up the world: worlds {' '.join(map(str, args))}")
        with open(self.out("log"), "ab") as err:
            # A session of its own: Ctrl-C reaches run.py only, which then closes the world.
            self.p = subprocess.Popen([str(harness), *map(str, args)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                      stderr=err, text=True, bufsize=1, start_new_session=True,
                                      env=dict(os.environ, AZDO_TEST_BINARY=str(exe)))
        stack.callback(self.close)
        line = self.p.stdout.readline() if self.p.stdout else ""
        if not line:
            die(f"the world did not come up: {self.log_tail(5)}")
        d = json.loads(line)
        self.dir, self.env, self.description = Path(d["dir"]), d["env"], d
        self.pat, self.config_cache = d["pat"], d["config_cache"]
        self.git_calls = Path(d["git_calls"])

    def path(self, name: str) -> Path:
        """A file of the world (where commands run)."""
        return self.dir / name

    def out(self, name: str) -> Path:
        """A file of this run's raw data."""
        return self.scratch / name

    def ask(self, command: str) -> str:
        assert self.p.stdin is not None and self.p.stdout is not None
        self.p.stdin.write(command + "\n")
        self.p.stdin.flush()
        return self.p.stdout.readline().rstrip("\n")

    def counts(self):
        """(connectionData, git, challenge, other) requests the fake served since the last reset."""
        m = re.fullmatch(r"counts connectionData=(\d+) git=(\d+) challenge=(\d+) other=(\d+)", self.ask("counts"))
        if not m:
            die("the world did not answer counts")
        return tuple(int(x) for x in m.groups())

    def reset(self):
        if self.ask("reset") != "reset":
            die("the world did not reset the fake's counters")

    def close(self):
        with contextlib.suppress(OSError):
            if self.p.stdin:
                self.p.stdin.close()
        try:
            self.p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.p.terminate()
            self.p.wait(timeout=5)

    def run(self, args, *, stdin: bytes | str | Path | None = None, env: dict | None = None,
            what: str = "", capture=True) -> str:
        """Run ARGS (a list, or a command line split like hyperfine -N does) in the world; its
        stderr goes to the run's log. Returns stdout; a failure ends the benchmark."""
        if isinstance(args, str):
            args = shlex.split(args)
        full_env = dict(self.env, **(env or {}))
        with open(self.out("log"), "ab") as err, contextlib.ExitStack() as s:
            io = {"stdout": subprocess.PIPE if capture else subprocess.DEVNULL, "stderr": err}
            if isinstance(stdin, Path):
                io["stdin"] = s.enter_context(open(stdin, "rb"))
            elif stdin is None:
                io["stdin"] = subprocess.DEVNULL
            else:
                io["input"] = stdin.encode() if isinstance(stdin, str) else stdin
            p = subprocess.run(args, cwd=self.dir, env=full_env, **io)
        if p.returncode != 0:
            die(f"{what or ' '.join(args)}: failed (exit {p.returncode}): {self.log_tail()}")
        return p.stdout.decode(errors="replace") if capture else ""

    def log_tail(self, n: int = 3) -> str:
        return " ".join(self.out("log").read_text(errors="replace").splitlines()[-n:])

    def counting_env(self) -> dict:
        """A logging `git` first on PATH: it appends its arguments to `git_calls`."""
        return {"PATH": self.description["counting_path"]}

    def rss(self, out, rid: str, samples: int, prep, args):
        """Peak RSS (KiB, /usr/bin/time %M) of SAMPLES runs of ARGS < query, one "ID<TAB>KiB" line
        each into OUT. PREP runs before each run."""
        tmp = self.out("rss.tmp")
        for _ in range(samples):
            prep()
            self.run(["/usr/bin/time", "-f", "%M", "-o", str(tmp), *args], stdin=self.path("query"),
                     what=f"{rid}: under /usr/bin/time", capture=False)
            out.write(f"{rid}\t{tmp.read_text().splitlines()[-1]}\n")

    def hyperfine(self, args, env: dict | None = None):
        p = subprocess.run(["hyperfine", "-N", *args], cwd=self.dir, env=dict(self.env, **(env or {})),
                           stdout=sys.stderr)
        if p.returncode != 0:
            die("hyperfine failed")


def rotated(records, r: int):
    """hyperfine's `-n ID CMD` for every (id, label, cmd, ...) record, starting with record R (mod
    their number): each round times every record, in a rotated order."""
    args = []
    for k in range(len(records)):
        rec = records[(r + k) % len(records)]
        args += ["-n", rec[0], rec[2]]
    return args


def check_pat(out: str, pat: str, label: str):
    if f"password={pat}" not in out.splitlines():
        redacted = " ".join("password=<redacted>" if l.startswith("password=") else l for l in out.splitlines())
        die(f"{label}: get did not return the stored PAT (got: {redacted})")


# --------------------------------------------------------------------------------------------------
# git-credential-libsecret
# --------------------------------------------------------------------------------------------------


def keyring_versions() -> dict:
    version = run_text(["gnome-keyring-daemon", "--version"])
    gkd_version = next((l.removeprefix("gnome-keyring-daemon: ") for l in version.splitlines()
                        if l.startswith("gnome-keyring-daemon: ")), "")
    return {"gkd": gkd_version, "libsecret": run_text(["pkg-config", "--modversion", "libsecret-1"]).strip() or "unknown"}


def libsecret(target_dir: Path, src_dir: Path) -> Path:
    """Builds (once; again when the source is newer) git-credential-libsecret from git's contrib
    sources with the flags of git's contrib Makefile, under target/bench-peers/libsecret."""
    peers = target_dir / "bench-peers" / "libsecret"
    exe = peers / "git-credential-libsecret"
    src = src_dir / "git-credential-libsecret.c"
    gz = src.with_name(src.name + ".gz")
    source = src if src.is_file() else gz if gz.is_file() else None
    if exe.is_file() and os.access(exe, os.X_OK) and (source is None or source.stat().st_mtime <= exe.stat().st_mtime):
        return exe
    if source is None:
        die(f"git-credential-libsecret is not built and its source is not in {src_dir}. Debian's git package ships "
            "it there; elsewhere pass --libsecret-src (or set LIBSECRET_SRC) to contrib/credential/libsecret of a "
            "git source tree.")
    log(f"building git-credential-libsecret from {src_dir}")
    peers.mkdir(parents=True, exist_ok=True)
    c = peers / "git-credential-libsecret.c"
    c.write_bytes(gzip.decompress(source.read_bytes()) if source is gz else source.read_bytes())
    cflags = run_text(["pkg-config", "--cflags", "libsecret-1", "glib-2.0"]).split()
    libs = run_text(["pkg-config", "--libs", "libsecret-1", "glib-2.0"]).split()
    tmp = exe.with_name(exe.name + ".tmp")
    if subprocess.run(["gcc", "-g", "-O2", "-Wall", *cflags, "-o", str(tmp), str(c), *libs],
                      stdout=sys.stderr).returncode != 0:
        die("could not build git-credential-libsecret (needs gcc and libsecret-1-dev)")
    tmp.replace(exe)
    return exe


def process_floor(target_dir: Path) -> Path:
    """Builds (once) the process floor: a static C program that does nothing, a static PIE as
    ours is (ASLR kept), under target/bench-peers/floor."""
    peers = target_dir / "bench-peers" / "floor"
    exe = peers / "process-floor"
    c = peers / "process-floor.c"
    source = "int main(void) { return 0; }\n"
    if exe.is_file() and c.is_file() and c.read_text() == source:
        return exe
    peers.mkdir(parents=True, exist_ok=True)
    c.write_text(source)
    tmp = exe.with_name(exe.name + ".tmp")
    if subprocess.run(["gcc", "-O2", "-static-pie", "-o", str(tmp), str(c)], stdout=sys.stderr).returncode != 0:
        die("could not build the process floor (needs gcc and libc6-dev)")
    tmp.replace(exe)
    return exe


# --------------------------------------------------------------------------------------------------
# Stage: build
# --------------------------------------------------------------------------------------------------


def stage_build(opts, meta, doc: Path, results: Path, target_dir: Path):
    build_dir = target_dir / "bench-build"
    log("fetching the locked dependencies (not timed): cargo fetch --locked")
    if subprocess.run(["cargo", "fetch", "--locked"], cwd=REPO, stdout=sys.stderr).returncode != 0:
        die("cargo fetch --locked failed")
    shutil.rmtree(build_dir, ignore_errors=True)
    with contextlib.ExitStack() as stack, tempfile.TemporaryDirectory(prefix="azdo-build.") as w:
        if not opts.keep_build:
            stack.callback(shutil.rmtree, build_dir, True)
        w = Path(w)
        nproc = os.cpu_count() or 1
        load_before = load_avg()
        log(f"clean release build: CARGO_TARGET_DIR=target/bench-build ./install.sh --build-only "
            f"(timed, {nproc} CPUs)")
        with open(w / "cargo.log", "wb") as cargo_log:
            p = subprocess.run(["/usr/bin/time", "-f", "%e %U %S %M", "-o", str(w / "time"),
                                str(REPO / "install.sh"), "--build-only"], cwd=REPO, stderr=cargo_log,
                               stdout=subprocess.PIPE, env=dict(os.environ, CARGO_TARGET_DIR=str(build_dir)))
        cargo_text = (w / "cargo.log").read_text(errors="replace")
        if p.returncode != 0:
            die("the build failed: " + "\n".join(cargo_text.splitlines()[-20:]))
        load_after = load_avg()
        wall, user, system, rss = (w / "time").read_text().split()[-4:]
        wall, user, system, rss = float(wall), float(user), float(system), int(rss)
        exe = Path(p.stdout.decode().split()[-1])
        if not exe.is_file():
            die(f"the build did not produce {exe}")
        size = exe.stat().st_size
        # On Linux the front (what git runs) and the whole program it runs for the rest, side by side.
        full_exe = exe.with_name("git-credential-azdo-full")
        full_size = full_exe.stat().st_size if full_exe.is_file() else None
        static = "static-pie" in run_text(["file", "-b", str(exe)]) if shutil.which("file") else False
        crates = sum(1 for l in cargo_text.splitlines() if re.match(r"^ *Compiling ", l))
        keep(results, w, ["cargo.log", "time"])

    # The release profile, as Cargo.toml sets it.
    profile, on = [], False
    for line in (REPO / "Cargo.toml").read_text().splitlines():
        if line.startswith("["):
            on = line.strip() == "[profile.release]"
        elif on and line.strip():
            profile.append(line)
    profile = ", ".join(profile)

    out = machine_lines(meta, hyperfine=False)
    w = out.append
    w(f"- {meta['rustc']}; {meta['cargo']}; git {meta['git']}")
    w(load_line((load_before, load_after), "the build"))
    w("")
    w("| measure | value | command |")
    w("|---|---:|---|")
    w(f"| clean release build, wall-clock | **{wall:.1f} s** ({wall / 60:.1f} min) on {nproc} CPUs (cargo's default: "
      f"{nproc} jobs) | `CARGO_TARGET_DIR=target/bench-build ./install.sh --build-only` |")
    w(f"| CPU time of that build (user + system) | {user + system:.1f} s ({user:.1f} + {system:.1f}) | same |")
    w(f"| peak memory of that build (largest process) | {rss / 1024:.0f} MiB | same, under `/usr/bin/time -f %M` |")
    w(f"| crates compiled | {crates} | same |")
    w(f"| release binary `git-credential-azdo`{' (static-pie)' if static else ''} | **{size} bytes ({size / MiB:.2f} MiB)** | "
      "`stat -c %s` of the binary install.sh built |")
    if full_size is not None:
        w(f"| release binary `git-credential-azdo-full` (Linux: the whole program, which the front runs for all but the hot path) | "
          f"{full_size} bytes ({full_size / MiB:.2f} MiB) | `stat -c %s` of the binary beside it |")
    w("")
    w(f"Release profile (Cargo.toml): `{profile}`. The dependencies were fetched beforehand "
      "(`cargo fetch --locked`, not timed); everything else, build scripts and the vendored libdbus included, is in "
      "the time. One build, timed once: expect a few percent of spread between runs, more on a busy machine.")
    report = "\n".join(out) + "\n"
    sys.stdout.write(report)
    splice(doc, "build", report, "## Build\n\nReproduce with `benches/run.py --only build`.\n\n### Latest results")
    write_summary(results, {
        "date": meta["date"], "commit": meta["commit"], "nproc": meta["nproc"], "load": [load_before, load_after],
        "wall_s": wall, "cpu_s": user + system, "build_rss_kib": rss, "size": size, "full_size": full_size, "crates": crates,
        "jobs": nproc, "targets": [],
    })
    return True


# --------------------------------------------------------------------------------------------------
# Stage: hot path
# --------------------------------------------------------------------------------------------------


def stage_hot_path(opts, meta, doc: Path, results: Path, target_dir: Path):
    rounds, runs, warmup, rss_samples = opts.rounds, opts.runs, opts.warmup, opts.rss_samples
    oauth_version = dpkg_version("git-credential-oauth")
    oauth_bin = Path(shutil.which("git-credential-oauth") or die("git-credential-oauth is not on PATH"))
    git_bin = Path(shutil.which("git") or die("git is not on PATH")).resolve()

    exe = shipped_build(target_dir)
    libsecret_bin = libsecret(target_dir, Path(opts.libsecret_src))
    floor_bin = process_floor(target_dir)
    libsecret_src_version = dpkg_version("git")
    ss = keyring_versions()

    with contextlib.ExitStack() as stack:
        # The world (benches/worlds.rs): one credential per store, every contender on PATH.
        args = ["hot-path", "--libsecret", libsecret_bin, "--floor", floor_bin] + (["--baseline", opts.baseline] if opts.baseline else [])
        world = World(opts.harness, exe, args, stack)
        pat = world.pat
        cache_dir = world.config_cache
        # The agent's socket, as the client in the world's directory names it.
        agent_socket = Path(world.description["agent_socket"]).relative_to(world.dir)

        # id, label, command (run by hyperfine without a shell, and split the same way for the
        # checks), what get returns
        contenders = [
            ("floor", "process floor (a static C program that does nothing)", "sh -c 'exec process-floor < query'", "-"),
            ("true", "`true` (coreutils, dynamically linked)", "sh -c 'exec true < query'", "-"),
            ("store", "`git credential-store`", "sh -c 'exec git credential-store --file git-credentials get < query'", "pat"),
            ("cache", "`git credential-cache`", "sh -c 'exec git credential-cache --socket ccache/socket get < query'", "pat"),
            ("azdo_file", "git-credential-azdo, file store",
             "sh -c 'GIT_CREDENTIAL_AZDO_STORE=file exec git-credential-azdo get < query'", "pat"),
            ("azdo_agent", "git-credential-azdo through the agent (file store on the agent's side)",
             f"sh -c 'GIT_CREDENTIAL_AZDO_AGENT={agent_socket} exec git-credential-azdo get < query'", "pat"),
            ("azdo_many", f"git-credential-azdo, file store holding {MANY_ORGS} organizations",
             f"sh -c 'GIT_CREDENTIAL_AZDO_STORE=file GIT_CREDENTIAL_AZDO_STORE_FILE=~/many-orgs.json "
             "exec git-credential-azdo get < query'", "pat"),
            ("libsecret", "`git-credential-libsecret`", "sh -c 'exec git-credential-libsecret get < query'", "pat"),
            ("azdo_keyring", "git-credential-azdo, keyring store",
             "sh -c 'GIT_CREDENTIAL_AZDO_STORE=keyring exec git-credential-azdo get < query'", "pat"),
            ("oauth", "`git-credential-oauth` (not a store: no-op for an unconfigured host)",
             "sh -c 'exec git-credential-oauth get < query'", "nothing"),
        ]
        if opts.baseline:
            # The other build, on the same stores and config cache, in the same hyperfine runs.
            contenders += [
                ("base_file", "baseline build, file store",
                 "sh -c 'GIT_CREDENTIAL_AZDO_STORE=file GIT_CREDENTIAL_AZDO_STORE_FILE=~/baseline-store.json "
                 "exec git-credential-azdo-baseline get < query'", "pat"),
                ("base_many", f"baseline build, file store holding {MANY_ORGS} organizations",
                 "sh -c 'GIT_CREDENTIAL_AZDO_STORE=file GIT_CREDENTIAL_AZDO_STORE_FILE=~/baseline-many-orgs.json "
                 "exec git-credential-azdo-baseline get < query'", "pat"),
                ("base_keyring", "baseline build, keyring store",
                 "sh -c 'GIT_CREDENTIAL_AZDO_STORE=keyring exec git-credential-azdo-baseline get < query'", "pat"),
            ]
        # Diagnostics, timed in their own hyperfine run each round (they need a --prepare step): our
        # file store with its git config cache removed before every run (the first call after a config
        # change), and the git process that such a call spawns, alone.
        diagnostics = [
            ("azdo_cold", "(diagnostic) ours, file store, cold config cache",
             "sh -c 'GIT_CREDENTIAL_AZDO_STORE=file exec git-credential-azdo get < query'", f"rm -rf {cache_dir}"),
            ("gitconfig", "(diagnostic) `git config -z --list --show-origin` alone",
             "sh -c 'exec git config -z --list --show-origin < query'", "true"),
        ]
        if opts.baseline:
            diagnostics.append(
                ("base_cold", "(diagnostic) baseline build, file store, cold config cache",
                 "sh -c 'GIT_CREDENTIAL_AZDO_STORE=file GIT_CREDENTIAL_AZDO_STORE_FILE=~/baseline-store.json "
                 "exec git-credential-azdo-baseline get < query'", f"rm -rf {cache_dir}"))
        gitcalls = {}
        for cid, label, cmd, extra in contenders + diagnostics:
            if cid in ("floor", "true", "gitconfig"):
                continue
            prep = (lambda: shutil.rmtree(world.path(cache_dir), ignore_errors=True)) if cid in ("azdo_cold", "base_cold") \
                else (lambda: None)
            prep()
            out = world.run(cmd, what=f"{label}: get")
            if extra == "nothing":
                if out:
                    die(f"{label}: get answered something for an unconfigured host")
            else:
                check_pat(out, pat, label)
            # The git processes one get starts (git's own credential-* commands are the contender itself).
            prep()
            world.git_calls.write_text("")
            world.run(cmd, env=world.counting_env(), what=f"{label}: get", capture=False)
            calls = world.git_calls.read_text().splitlines()
            gitcalls[cid] = str(sum(1 for c in calls if not c.startswith("credential-")))
            log(f"  {label}: get {'answers nothing' if extra == 'nothing' else 'returns the PAT'}")
        config_cache = world.path(world.config_cache).is_dir()
        if not config_cache:
            log(f"  note: no git config cache in {cache_dir}: the cold-cache row equals the warm one")

        # --- timing: rounds of hyperfine, order rotated each round ---
        load_before = load_avg()
        for r in range(rounds):
            log(f"round {r + 1}/{rounds}: hyperfine -N --warmup {warmup} --runs {runs}")
            world.hyperfine(["--warmup", str(warmup), "--runs", str(runs), "--export-json",
                             str(world.out(f"json/round-{r + 1}.json")), *rotated(contenders, r)])
            args = []
            for cid, _, cmd, prep in diagnostics:
                args += ["--prepare", prep, "-n", cid, cmd]
            world.hyperfine(["--warmup", str(warmup), "--runs", str(runs), "--export-json",
                             str(world.out(f"json/round-{r + 1}-diagnostics.json")), *args])
        load_after = load_avg()

        # --- peak memory of one get ---
        log(f"measuring peak RSS of one get ({rss_samples} samples each)")
        nothing = lambda: None  # noqa: E731
        cold = lambda: shutil.rmtree(world.path(cache_dir), ignore_errors=True)  # noqa: E731
        rss_runs = [
            ("azdo_file", nothing, ["env", "GIT_CREDENTIAL_AZDO_STORE=file", "git-credential-azdo", "get"]),
            ("azdo_keyring", nothing, ["env", "GIT_CREDENTIAL_AZDO_STORE=keyring", "git-credential-azdo", "get"]),
            ("azdo_agent", nothing, ["env", f"GIT_CREDENTIAL_AZDO_AGENT={agent_socket}", "git-credential-azdo", "get"]),
            ("azdo_cold", cold, ["env", "GIT_CREDENTIAL_AZDO_STORE=file", "git-credential-azdo", "get"]),
            ("gitconfig", nothing, ["git", "config", "-z", "--list", "--show-origin"]),
            ("store", nothing, ["git", "credential-store", "--file", "git-credentials", "get"]),
            ("cache", nothing, ["git", "credential-cache", "--socket", "ccache/socket", "get"]),
            ("libsecret", nothing, ["git-credential-libsecret", "get"]),
            ("oauth", nothing, ["git-credential-oauth", "get"]),
        ]
        if opts.baseline:
            rss_runs += [
                ("base_file", nothing, ["env", "GIT_CREDENTIAL_AZDO_STORE=file",
                                        "GIT_CREDENTIAL_AZDO_STORE_FILE=~/baseline-store.json",
                                        "git-credential-azdo-baseline", "get"]),
                ("base_keyring", nothing,
                 ["env", "GIT_CREDENTIAL_AZDO_STORE=keyring", "git-credential-azdo-baseline", "get"]),
            ]
        with open(world.out("rss.tsv"), "w") as f:
            for rid, prep, args in rss_runs:
                world.rss(f, rid, rss_samples, prep, args)
        full_exe = exe.with_name("git-credential-azdo-full")
        sizes = {"azdo": exe.stat().st_size, "azdo_full": full_exe.stat().st_size if full_exe.is_file() else None,
                 "libsecret": libsecret_bin.stat().st_size,
                 "oauth": oauth_bin.stat().st_size, "git": git_bin.stat().st_size}
        if opts.baseline:
            sizes["baseline"] = opts.baseline.stat().st_size
        world.out("contenders.tsv").write_text("".join(f"{c[0]}\t{c[1]}\t{c[2]}\n" for c in contenders + diagnostics))
        world.out("gitcalls.tsv").write_text("".join(f"{k}\t{v}\n" for k, v in gitcalls.items()))
        world.out("sizes.tsv").write_text("".join(f"{k}\t{v}\n" for k, v in sizes.items()))
        keep(results, world.scratch, ["json", "rss.tsv", "contenders.tsv", "gitcalls.tsv", "sizes.tsv"])
        files = []
        for r in range(1, rounds + 1):
            files += [world.out(f"json/round-{r}.json"), world.out(f"json/round-{r}-diagnostics.json")]
        per_round, pooled = load_rounds(files)
        peak, rss_count = load_rss(world.out("rss.tsv"))

    # --- report ---
    med = {k: statistics.median(v) for k, v in per_round.items()}
    label = {c[0]: c[1] for c in contenders + diagnostics}
    command = {c[0]: c[2] for c in contenders + diagnostics}

    def round_ratios(a, b):
        return [x / y for x, y in zip(per_round[a], per_round[b])]

    comparisons = [  # ours, peer, limit (None: no target)
        ("azdo_file", "store", 0.8),
        ("azdo_file", "floor", 1.2),
        ("azdo_cold", "store", 1.3),
        ("azdo_file", "cache", None),
        ("azdo_keyring", "libsecret", 0.5),
        ("azdo_agent", "azdo_file", 2.0),
        ("azdo_file", "oauth", None),
        ("azdo_keyring", "oauth", None),
    ]
    targets = []
    out = machine_lines(meta)
    w = out.append
    w(f"- Secret Service: gnome-keyring {ss['gkd']} on a private session bus; libsecret {ss['libsecret']}; "
      f"`git-credential-libsecret` built from the contrib sources of Debian's git {libsecret_src_version}; "
      f"`git-credential-oauth` {oauth_version} (Debian package)")
    w(f"- {rounds} rounds × ({warmup} warm-up + {runs} timed runs) per contender, order rotated each round; "
      "`hyperfine -N`, every command as `sh -c 'exec … < query'` in the world's directory")
    w(load_line((load_before, load_after)))
    w("")
    w("#### Latency of one `get`")
    w("")
    w("| contender | median (ms) | round medians (ms) | pooled p25–p75 (ms) | above floor (ms) | git processes per `get` | timed command (`sh -c 'exec …'`) |")
    w("|---|---:|---|---|---:|---:|---|")
    for cid, lab, cmd, _ in contenders + diagnostics:
        lo, hi = min(per_round[cid]), max(per_round[cid])
        q1, q3 = quartiles(pooled[cid])
        above = "—" if cid == "floor" else f"{ms(med[cid] - med['floor']):.2f}"
        w(f"| {lab} | **{ms(med[cid]):.2f}** | {ms(lo):.2f}–{ms(hi):.2f} | {ms(q1):.2f}–{ms(q3):.2f} | {above} | "
          f"{gitcalls.get(cid, '—')} | `{shown(cmd)}` |")
    w("")
    w("Median = median over rounds of each round's median. git processes per `get`: a logging `git` first on PATH "
      "during one `get` outside the timing (git's own `credential-*` commands, the contender itself, not counted). Through the agent, only the client's are counted: the agent runs with the world's own PATH. "
      "The (diagnostic) rows are not contenders and were timed in a separate hyperfine run each round: \"cold config "
      "cache\" is our file store with its cache of git config removed before every run (`--prepare 'rm -rf "
      f"{cache_dir}'`: the first `get` after a git config change, or after the cache's maximum age), which "
      "then spawns `git config -z --list --show-origin`; the last row is that git process alone. "
      "`git-credential-oauth` stores nothing: for a host it has no OAuth client for (dev.azure.com) its `get` asks git "
      "for its settings and answers nothing, so its row is the least it costs in a helper list, not a lookup."
      + ("" if config_cache else
         " **No config cache was found in this run, so the cold row is no different from the warm one.**"))
    w("")
    w("#### Ours against each peer")
    w("")
    w("| comparison | ours (ms) | peer (ms) | ours ÷ peer | per-round range | target | met? |")
    w("|---|---:|---:|---:|---|---:|---|")
    for a, b, limit in comparisons:
        rr = round_ratios(a, b)
        ratio = med[a] / med[b]
        met = "—" if limit is None else ("met" if ratio <= limit else "**not met**")
        lim = "—" if limit is None else f"≤ {limit:.1f}×"
        # Ours against ours: the agent's row says which two of our `get`s it divides.
        what = ("through the agent ÷ local file store" if a == "azdo_agent"
                else f"{label[a]} vs {label[b].split(' (')[0]}")
        w(f"| {what} | {ms(med[a]):.2f} | {ms(med[b]):.2f} | **{ratio:.2f}×** | "
          f"{min(rr):.2f}–{max(rr):.2f}× | {lim} | {met} |")
        if limit is not None:
            if a == "azdo_agent":
                name = f"`get` through the agent ≤ {limit:.1f}× a local `get` (file store)"
            else:
                ours_name = "cold config cache" if a == "azdo_cold" else label[a].split(', ')[1]
                name = f"{ours_name} ≤ {limit:.1f}× {label[b]}"
            targets.append({"name": name, "measured": f"{ratio:.2f}×",
                            "range": f"{min(rr):.2f}–{max(rr):.2f}×", "met": ratio <= limit, "section": "hot-path"})
    w("")
    w("Ratio = ours' median over the peer's; the per-round range divides the two medians of the same round. "
      "\"Through the agent ÷ local file store\" divides two of ours: a `get` whose client relays git's request to "
      "the agent on a Unix socket (`GIT_CREDENTIAL_AZDO_AGENT`; the agent, started with the world's environment and "
      "the file store, looks the credential up) over a `get` that reads the same file store itself.")
    w("")
    extra = [x - y for x, y in zip(per_round["azdo_many"], per_round["azdo_file"])]
    many_cost = med["azdo_many"] - med["azdo_file"]
    w(f"A file store holding {MANY_ORGS} organizations costs **{ms(many_cost):.3f} ms** more per `get` than one holding "
      f"one (per round {ms(min(extra)):.3f} to {ms(max(extra)):.3f} ms).")
    targets.append({"name": f"{MANY_ORGS} stored organizations cost ≤ 0.1 ms over one", "measured": f"{ms(many_cost):.3f} ms",
                    "range": f"{ms(min(extra)):.3f} to {ms(max(extra)):.3f} ms", "met": ms(many_cost) <= 0.1,
                    "section": "hot-path"})
    w("")
    baseline_ratios = {}
    if opts.baseline:
        w("#### This build against the baseline")
        w("")
        w("| measure | this build | baseline | this ÷ baseline | target | this build | baseline |")
        w("|---|---:|---:|---:|---|---|---|")
        rows = [  # label, ours, base, peer, limit
            ("hot `get`, file store ÷ process floor", "azdo_file", "base_file", "floor", 1.2),
            ("hot `get`, file store ÷ `git credential-store`", "azdo_file", "base_file", "store", 0.8),
            ("hot `get`, keyring store ÷ `git-credential-libsecret`", "azdo_keyring", "base_keyring", "libsecret", 0.5),
            ("cold config cache ÷ `git credential-store`", "azdo_cold", "base_cold", "store", 1.3),
        ]
        for what, ours, base, peer, limit in rows:
            now_ratio, base_ratio = med[ours] / med[peer], med[base] / med[peer]
            baseline_ratios[f"{ours}/{peer}"] = round(now_ratio, 4)
            baseline_ratios[f"{base}/{peer}"] = round(base_ratio, 4)
            w(f"| {what} | **{now_ratio:.2f}×** ({ms(med[ours]):.2f} ms) | {base_ratio:.2f}× ({ms(med[base]):.2f} ms) | "
              f"{med[ours] / med[base]:.2f}× | ≤ {limit:.1f}× | {'met' if now_ratio <= limit else '**not met**'} | "
              f"{'met' if base_ratio <= limit else 'not met'} |")
        now_many, base_many = med["azdo_many"] - med["azdo_file"], med["base_many"] - med["base_file"]
        baseline_ratios["azdo_many-azdo_file_ms"] = round(ms(now_many), 4)
        baseline_ratios["base_many-base_file_ms"] = round(ms(base_many), 4)
        w(f"| hot `get`, {MANY_ORGS} organizations stored − one | **{ms(now_many):+.3f} ms** | {ms(base_many):+.3f} ms | — | "
          f"≤ +0.1 ms | {'met' if ms(now_many) <= 0.1 else '**not met**'} | {'met' if ms(base_many) <= 0.1 else 'not met'} |")
        w("")
        w(f"The baseline is another build of git-credential-azdo ({sizes['baseline']} bytes), given with "
          "`--baseline` and timed in the same hyperfine runs as this build (its cold row in the same diagnostic runs). "
          "It reads the same keyring item and config cache, and file stores it wrote itself, in its own format "
          "(`~/baseline-store.json`, and `~/baseline-many-orgs.json` with the same organizations as ours).")
        w("")
    w("#### Peak memory and size")
    w("")
    w("| `get` of | peak RSS (KiB) | peak RSS (MiB) | command under `/usr/bin/time -f %M` |")
    w("|---|---:|---:|---|")
    rss_rows = [r[0] for r in rss_runs]
    for cid in rss_rows:
        cmd = shown(command[cid]).replace("GIT_CREDENTIAL_AZDO_", "env GIT_CREDENTIAL_AZDO_", 1)
        w(f"| {label[cid]} | {peak[cid]} | {peak[cid] / 1024:.2f} | `{cmd}` |")
    w("")
    w(f"Peak RSS is the largest of {rss_count} runs of `/usr/bin/time -f %M` on one `get`. It is the high-water mark "
      "of the process or of any child it waited for: the cold-cache row includes the `git config` child, "
      "`git-credential-oauth` its `git config` children; the agent's row is its client only (the agent is a "
      "process of its own, running all along).")
    w("")
    worst = max(peak[c] for c in ("azdo_file", "azdo_keyring", "azdo_cold"))
    for cid in ("azdo_file", "azdo_keyring"):
        targets.append({"name": f"peak RSS of a `get`, {label[cid].split(', ')[1]} ≤ 10 MiB",
                        "measured": f"{peak[cid] / 1024:.2f} MiB", "met": peak[cid] <= 10 * 1024, "section": "hot-path"})
    w("| binary | size (bytes) | size (MiB) |")
    w("|---|---:|---:|")
    w(f"| git-credential-azdo (`target/release/git-credential-azdo`; static Rust, stripped, LTO) | {sizes['azdo']} | {sizes['azdo'] / MiB:.2f} |")
    if sizes["azdo_full"] is not None:
        w(f"| git-credential-azdo-full, beside it (Linux: the whole program the front runs for all but the hot path) | {sizes['azdo_full']} | {sizes['azdo_full'] / MiB:.2f} |")
    if opts.baseline:
        w(f"| baseline build of git-credential-azdo (`--baseline`) | {sizes['baseline']} | {sizes['baseline'] / MiB:.2f} |")
    w(f"| `git-credential-oauth` (Go, Debian package) | {sizes['oauth']} | {sizes['oauth'] / MiB:.2f} |")
    w(f"| `git-credential-libsecret` (C, `-g -O2`, links libsecret and GLib dynamically) | {sizes['libsecret']} | {sizes['libsecret'] / MiB:.2f} |")
    w(f"| `git` (`credential-store` and `credential-cache` are git commands) | {sizes['git']} | {sizes['git'] / MiB:.2f} |")
    w("")
    w("#### Where the time goes (derived from the medians above)")
    w("")
    fa, sa = med["azdo_file"] - med["floor"], med["store"] - med["floor"]
    ka, la = med["azdo_keyring"] - med["floor"], med["libsecret"] - med["floor"]
    cold_extra = med["azdo_cold"] - med["azdo_file"]
    rest = cold_extra - med["gitconfig"]
    w(f"- Warm (every `get` but the first after a config change): above the process floor the file store costs "
      f"{ms(fa):.2f} ms, `git credential-store` {ms(sa):.2f} ms, `git credential-cache` "
      f"{ms(med['cache'] - med['floor']):.2f} ms. Ours is start-up, reading the request, checking the config cache "
      "(one small JSON file plus a stat of each config file) and reading the store file.")
    w(f"- Cold: {ms(med['azdo_cold']):.2f} ms, {ms(cold_extra):.2f} ms more than warm. The `git config` process it waits for "
      f"takes {ms(med['gitconfig']):.2f} ms when timed alone (process start included), "
      + (f"so about {ms(rest):.2f} ms is left for parsing its output and writing the cache. " if rest > 0.0002 else
         "so the extra cost is essentially that process. ")
      + f"Cold, the file store is {med['azdo_cold'] / med['store']:.2f}× `git credential-store`.")
    w(f"- The keyring store costs {ms(med['azdo_keyring'] - med['azdo_file']):.2f} ms more than the file store: the "
      "Secret Service round trip (new D-Bus connection, DH-encrypted session, search, secret). "
      f"`git-credential-libsecret` spends {ms(la):.2f} ms above the floor against our {ms(ka):.2f} ms.")
    agent_extra = med["azdo_agent"] - med["azdo_file"]
    w(f"- Through the agent: {ms(med['azdo_agent']):.2f} ms, {ms(abs(agent_extra)):.2f} ms "
      f"{'more' if agent_extra >= 0 else 'less'} than the local file store ({med['azdo_agent'] / med['azdo_file']:.2f}×). "
      "The client is still a process git starts; instead of reading the store it connects to the agent's socket and "
      "waits while the agent (one thread per connection) checks the peer, reads git's configuration and the store, "
      "and answers.")
    w(f"- `git-credential-oauth` answers nothing yet costs {ms(med['oauth']):.2f} ms: it starts "
      f"{gitcalls.get('oauth', '?')} `git config --get-urlmatch` processes to learn it has no client for the host.")
    report = "\n".join(out) + "\n"
    sys.stdout.write(report)
    splice(doc, "hot-path", report, "## Hot path\n\nReproduce with `benches/run.py --only hot-path`.\n\n### Latest results")
    all_met = all(t["met"] for t in targets)
    write_summary(results, {
        "date": meta["date"], "commit": meta["commit"], "nproc": meta["nproc"], "load": [load_before, load_after],
        "median_ms": {k: round(ms(v), 3) for k, v in med.items()},
        "label": label, "command": {k: shown(v) for k, v in command.items()},
        "ratio": {f"{a}/{b}": round(med[a] / med[b], 4) for a, b, _ in comparisons},
        "baseline_ratio": baseline_ratios,
        "peak_kib": peak, "worst_peak_kib": worst, "size": sizes, "gitcalls": gitcalls, "targets": targets,
    })
    if opts.baseline:
        print("\nhot-path ratios (medians over rounds of the same hyperfine runs):", file=sys.stderr)
        for ours, base, peer in [("azdo_file", "base_file", "floor"), ("azdo_file", "base_file", "store"),
                                 ("azdo_keyring", "base_keyring", "libsecret"), ("azdo_cold", "base_cold", "store")]:
            print(f"  {label[ours]} ÷ {label[peer]}: this build {baseline_ratios[f'{ours}/{peer}']:.2f}×, "
                  f"baseline {baseline_ratios[f'{base}/{peer}']:.2f}×", file=sys.stderr)
        print(f"  {MANY_ORGS} organizations − one: this build {baseline_ratios['azdo_many-azdo_file_ms']:+.3f} ms, "
              f"baseline {baseline_ratios['base_many-base_file_ms']:+.3f} ms", file=sys.stderr)
    print(f"\n(wrote the Hot path section of {doc.name}; targets {'all met' if all_met else 'NOT all met'})",
          file=sys.stderr)
    return all_met


# --------------------------------------------------------------------------------------------------
# Stage: validation
# --------------------------------------------------------------------------------------------------


def ca_store():
    """What a stock system's CA store looks like to rustls-native-certs (through openssl-probe):
    the bundle file plus every file of the certificate directory."""
    bundle = 0
    for f in ("/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt", "/etc/ssl/cert.pem"):
        if os.path.isfile(f):
            bundle = Path(f).read_text(errors="replace").count("BEGIN CERTIFICATE")
            break
    entries = 0
    if os.path.isdir("/etc/ssl/certs"):
        entries = sum(1 for e in os.scandir("/etc/ssl/certs") if e.is_file() or e.is_symlink())
    return bundle, entries


TRACE_TS = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?)Z\s+\S+\s+(.*)$")
TRACE_MARKS = [
    ("request", "request op="),
    ("checking", "checking the PAT"),
    ("connecting", "connecting to"),
    ("response", "Azure DevOps accepted the stored PAT"),
    ("answer", "answering with the stored PAT"),
]


def trace_stages(trace_dir: Path):
    """Stages of a due check, from the helper's trace (best effort: the messages belong to the helper)."""
    stages = {"settings": [], "client": [], "request": [], "record": []}
    traced = 0
    for f in sorted(trace_dir.glob("*.log")):
        at = {}
        for line in f.read_text(errors="replace").splitlines():
            m = TRACE_TS.match(line)
            if not m:
                continue
            for key, needle in TRACE_MARKS:
                if key not in at and needle in m.group(2):
                    at[key] = datetime.fromisoformat(m.group(1)).timestamp()
        if len(at) == len(TRACE_MARKS):
            traced += 1
            stages["settings"].append(at["checking"] - at["request"])
            stages["client"].append(at["connecting"] - at["checking"])
            stages["request"].append(at["response"] - at["connecting"])
            stages["record"].append(at["answer"] - at["response"])
    return stages, traced


def stage_validation(opts, meta, doc: Path, results: Path, target_dir: Path):
    rounds, runs, warmup = opts.validation_rounds, opts.runs, opts.warmup
    count_gets, trace_runs, rss_samples = opts.count_gets, opts.trace_runs, opts.rss_samples
    ca_bundle, ca_dir_files = ca_store()

    exe = shipped_build(target_dir)
    size = exe.stat().st_size

    with contextlib.ExitStack() as stack:
        # The world (benches/worlds.rs): the file store against the fake on loopback, the PAT
        # stored with `git-credential-azdo login contoso --pat-stdin` (one check).
        world = World(opts.harness, exe, ["validation"], stack)
        world.out("trace").mkdir()
        pat = world.pat
        login_requests = world.description["login_requests"]
        fake = world

        # id, label, command, kind (variant: a contender; diag: a diagnostic row; floor: the process floor)
        variants = [
            ("floor", "process floor (`exec true`)", "sh -c 'exec true < query'", "floor"),
            ("hot", "hot path: fresh check (default interval)", "sh -c 'exec git-credential-azdo get < query'", "variant"),
            ("due", "due check (`azdo.validateInterval=0`)",
             "sh -c 'GIT_CREDENTIAL_AZDO_VALIDATE_INTERVAL=0 exec git-credential-azdo get < query'", "variant"),
            ("due_noca", "(diagnostic) due check, no system CAs loaded",
             "sh -c 'GIT_CREDENTIAL_AZDO_VALIDATE_INTERVAL=0 SSL_CERT_FILE=no-ca.pem SSL_CERT_DIR= exec "
             "git-credential-azdo get < query'", "diag"),
            ("gitconfig", "(diagnostic) `git config -z --list --show-origin` alone",
             "sh -c 'exec git config -z --list --show-origin < query'", "diag"),
        ]
        requests = {}  # id -> (gets, connectionData, other routes, git processes)
        log(f"checking each variant and counting its requests ({count_gets} gets each)")
        for vid, label, cmd, _ in variants:
            if vid in ("floor", "gitconfig"):
                continue
            check_pat(world.run(cmd, what=f"{label}: get"), pat, label)
            fake.reset()
            world.git_calls.write_text("")
            for _ in range(count_gets):
                world.run(cmd, env=world.counting_env(), what=f"{label}: get", capture=False)
            conn, git, chal, other = fake.counts()
            calls = len(world.git_calls.read_text().splitlines())
            requests[vid] = (count_gets, conn, git + chal + other, calls)
            log(f"  {label}: returns the PAT; in {count_gets} gets: {conn} connectionData request(s), "
                f"{git + chal + other} other request(s), {calls} git process(es)")
        config_cache = world.path(world.config_cache).is_dir()

        # --- timing: rounds of hyperfine, order rotated each round ---
        load_before = load_avg()
        timed = []
        for r in range(rounds):
            log(f"round {r + 1}/{rounds}: hyperfine -N --warmup {warmup} --runs {runs}")
            fake.reset()
            world.hyperfine(["--warmup", str(warmup), "--runs", str(runs), "--export-json",
                             str(world.out(f"json/round-{r + 1}.json")), *rotated(variants, r)])
            timed.append(sum(fake.counts()))
        load_after = load_avg()
        world.out("timed-requests.tsv").write_text("".join(f"{i + 1}\t{n}\n" for i, n in enumerate(timed)))

        # --- where a due check's time goes: the helper's own trace ---
        log(f"tracing {trace_runs} due checks (GIT_CREDENTIAL_AZDO_TRACE=1)")
        for i in range(1, trace_runs + 1):
            with open(world.path("query"), "rb") as q, open(world.out(f"trace/{i}.log"), "wb") as t:
                p = subprocess.run(["git-credential-azdo", "get"], stdin=q, stdout=subprocess.DEVNULL, stderr=t,
                                   cwd=world.dir, env=dict(world.env, GIT_CREDENTIAL_AZDO_TRACE="1",
                                                           GIT_CREDENTIAL_AZDO_VALIDATE_INTERVAL="0"))
            if p.returncode != 0:
                die(f"traced get failed: {world.out(f'trace/{i}.log').read_text(errors='replace')}")

        # --- peak memory of one get ---
        log(f"measuring peak RSS of one get ({rss_samples} samples each)")
        with open(world.out("rss.tsv"), "w") as f:
            world.rss(f, "hot", rss_samples, lambda: None, ["git-credential-azdo", "get"])
            world.rss(f, "due", rss_samples, lambda: None,
                      ["env", "GIT_CREDENTIAL_AZDO_VALIDATE_INTERVAL=0", "git-credential-azdo", "get"])
        world.out("variants.tsv").write_text("".join("\t".join(v) + "\n" for v in variants))
        world.out("requests.tsv").write_text("".join(f"{k}\t{g}\t{c}\t{o}\t{n}\n" for k, (g, c, o, n) in requests.items()))
        keep(results, world.scratch, ["json", "trace", "rss.tsv", "variants.tsv", "requests.tsv", "timed-requests.tsv"])
        per_round, pooled = load_rounds(world.out(f"json/round-{r}.json") for r in range(1, rounds + 1))
        peak, rss_count = load_rss(world.out("rss.tsv"))
        stages, traced = trace_stages(world.out("trace"))

    # --- report ---
    label = {v[0]: v[1] for v in variants}
    command = {v[0]: v[2] for v in variants}
    med = {k: statistics.median(v) for k, v in per_round.items()}
    per_get = {k: (c + o) / g for k, (g, c, o, _) in requests.items()}
    git_per_get = {k: n / g for k, (g, _, _, n) in requests.items()}
    expected_timed = round(sum(per_get.values()) * (warmup + runs))
    hot_zero = per_get.get("hot") == 0
    due_one = per_get.get("due") == 1

    out = machine_lines(meta)
    w = out.append
    w(f"- Fake Azure DevOps (fake-azdo in benches/worlds.rs, {opts.harness_profile} profile) on loopback, plain HTTP; file store; system CA store: "
      f"{ca_bundle} certificates in the bundle, {ca_dir_files} entries in `/etc/ssl/certs`")
    w(f"- {rounds} rounds × ({warmup} warm-up + {runs} timed runs) per variant, order rotated each round; "
      f"`hyperfine -N`, every command as `sh -c '… exec … < query'`")
    w(load_line((load_before, load_after)))
    w("")
    w("#### Latency of one `get`, and requests per `get`")
    w("")
    w("| variant | median (ms) | round medians (ms) | pooled p25–p75 (ms) | ratio to hot path | requests per `get` | git processes per `get` | timed command (`sh -c 'exec …'`) |")
    w("|---|---:|---|---|---:|---:|---:|---|")
    for vid, lab, _, _ in variants:
        lo, hi = min(per_round[vid]), max(per_round[vid])
        q1, q3 = quartiles(pooled[vid])
        ratio = "1.00×" if vid == "hot" else f"{med[vid] / med['hot']:.2f}×"
        req = f"{per_get[vid]:g}" if vid in per_get else "—"
        gits = f"{git_per_get[vid]:g}" if vid in git_per_get else "—"
        w(f"| {lab} | **{ms(med[vid]):.2f}** | {ms(lo):.2f}–{ms(hi):.2f} | {ms(q1):.2f}–{ms(q3):.2f} | {ratio} | {req} | "
          f"{gits} | `{shown(command[vid])}` |")
    w("")
    rr = [x / y for x, y in zip(per_round["due"], per_round["hot"])]
    w(f"Median = median over rounds of each round's median. Ratio = that median over the hot path's; per round, a due "
      f"check costs {min(rr):.2f}–{max(rr):.2f}× the hot path. Requests per `get`: the fake's request counters over "
      f"{requests['hot'][0]} `get`s of each variant outside the timing (all routes; `connectionData` is the only one hit). "
      f"During the timed rounds the fake served {', '.join(map(str, timed))} requests per round, against "
      f"{expected_timed} expected from those rates. `login` made {login_requests} request. "
      "git processes per `get`: a logging `git` first on PATH during the same series. "
      "The (diagnostic) rows are not variants: the first is a due check with an empty CA store "
      "(`SSL_CERT_FILE` an empty file, `SSL_CERT_DIR` empty), the second the git process a due check starts."
      + ("" if config_cache else " **No git config cache was found in this run.**"))
    w("")
    w("#### Target")
    w("")
    w("| target | measured | met? |")
    w("|---|---|---|")
    w(f"| The hot path with a fresh validation makes zero requests | {per_get['hot']:g} requests per `get` "
      f"(a due check: {per_get['due']:g}) | {'met' if hot_zero else '**not met**'} |")
    w("")
    w("#### Memory and size")
    w("")
    w("| | peak RSS (KiB) | peak RSS (MiB) |")
    w("|---|---:|---:|")
    for vid in ["hot", "due"]:
        w(f"| {label[vid]} | {peak[vid]} | {peak[vid] / 1024:.2f} |")
    w("")
    w(f"Peak RSS is the largest of {rss_count} runs of `/usr/bin/time -f %M` on one `get`, "
      "the high-water mark of the process or of any child it waited for (a due check waits for `git config`). "
      f"Release binary `target/release/git-credential-azdo`: **{size} bytes ({size / MiB:.2f} MiB)**.")
    w("")
    w("#### Where a due check's time goes")
    w("")
    extra = med["due"] - med["hot"]
    w(f"- A due check costs {ms(extra):.2f} ms more than the hot path. There is no TLS on loopback: the request is "
      "plain HTTP to the fake.")
    if traced:
        sm = {k: statistics.median(v) for k, v in stages.items()}
        w(f"- From the helper's own trace (`GIT_CREDENTIAL_AZDO_TRACE=1`, median of {traced} due checks; "
          f"together {ms(sum(sm.values())):.2f} ms of the {ms(extra):.2f} ms; the trace does not cover process start "
          "and exit):")
        w(f"  - {ms(sm['settings']):.2f} ms to read the stored PAT and git's network settings: `http.proxy`, "
          "`http.sslCAInfo` and `http.sslVerify` are not in the config cache, so `git config` runs again"
          f"{'' if git_per_get.get('due', 0) >= 1 else ' (not seen in this run: no git process was counted)'};")
        w(f"  - {ms(sm['client']):.2f} ms to set up the HTTP client: loading the system CA store (even for plain "
          "HTTP) and starting the client's runtime thread;")
        w(f"  - {ms(sm['request']):.2f} ms for the request itself (connect, send, the fake's answer, parsing);")
        w(f"  - {ms(sm['record']):.2f} ms to record the check in the store (a locked read-modify-write of the "
          "store file, with `fsync` of the file and its directory) before answering.")
    else:
        w("- (The helper's trace did not have the expected messages; no stage split this time.)")
    ca = med["due"] - med["due_noca"]
    w(f"- Loading the system CA store: the due check with an empty CA store is {ms(med['due_noca']):.2f} ms, "
      f"{ms(ca):.2f} ms {'less' if ca >= 0 else 'more'} than with the system's "
      f"({ca_bundle} certificates, read even for a plain-HTTP request).")
    w(f"- `git config -z --list --show-origin` alone takes {ms(med['gitconfig']):.2f} ms "
      f"({ms(med['gitconfig'] - med['floor']):.2f} ms above the process floor).")
    report = "\n".join(out) + "\n"
    sys.stdout.write(report)
    splice(doc, "validation", report,
           "## Validation\n\nReproduce with `benches/run.py --only validation`.\n\n### Latest results")
    write_summary(results, {
        "date": meta["date"], "commit": meta["commit"], "nproc": meta["nproc"], "load": [load_before, load_after],
        "median_ms": {k: round(ms(v), 3) for k, v in med.items()},
        "label": label, "command": {k: shown(v) for k, v in command.items()},
        "ratio_due_hot": round(med["due"] / med["hot"], 4),
        "requests_per_get": per_get, "git_per_get": git_per_get, "peak_kib": peak,
        "targets": [{"name": "hot path with a fresh validation makes zero requests",
                     "measured": f"{per_get['hot']:g} requests per `get` (a due check: {per_get['due']:g})",
                     "met": hot_zero, "section": "validation"}],
    })
    print(f"\n(wrote the Validation section of {doc.name}; target {'met' if hot_zero else 'NOT met'})", file=sys.stderr)
    if not due_one:
        print(f"warning: a due check made {per_get.get('due')} requests per get, not 1", file=sys.stderr)
    return hot_zero


# --------------------------------------------------------------------------------------------------
# The Summary
# --------------------------------------------------------------------------------------------------


def summary(meta, doc: Path, results_dir: Path, elapsed: int | None):
    s = {}
    for name in STAGES:
        f = results_dir / name / "summary.json"
        if not f.is_file():
            die(f"no results of the {name} stage in target/bench-results/{name}/: run it (benches/run.py --only {name})")
        s[name] = json.loads(f.read_text())
    hp, va, bu = s["hot-path"], s["validation"], s["build"]
    m, r, pk = hp["median_ms"], hp["ratio"], hp["peak_kib"]
    vm = va["median_ms"]

    def mib(kib):
        return f"{kib / 1024:.2f} MiB"

    out = []
    w = out.append
    commits = sorted({x["commit"] for x in s.values()})
    took = "" if elapsed is None else f" (the run took {elapsed // 60} min {elapsed % 60} s)"
    when = ", ".join(f"{n} {x['date']}" for n, x in s.items())
    w(f"Written by `benches/run.py` on {meta['date']}{took} from runs at commit {', '.join(commits)} "
      f"({when}); {meta['nproc']} CPUs ({meta['cpu']}), {meta['mem']} RAM, {meta['os']}. Running it with `--only` "
      "updates only those sections below (and this summary).")
    w("")
    w("| what | git-credential-azdo | peers | ours ÷ peer | details | reproduce |")
    w("|---|---:|---|---|---|---|")
    hot, val, build = "`benches/run.py --only hot-path`", "`benches/run.py --only validation`", "`benches/run.py --only build`"
    w(f"| hot-path `get`, file store | **{m['azdo_file']:.2f} ms** | `git credential-store` {m['store']:.2f} ms; "
      f"`git credential-cache` {m['cache']:.2f} ms | {r['azdo_file/store']:.2f}× store; {r['azdo_file/cache']:.2f}× cache | "
      f"[Hot path](#hot-path) | {hot} |")
    if "azdo_agent" in m:
        w(f"| hot-path `get` through the agent (file store on the agent's side) | **{m['azdo_agent']:.2f} ms** | — | "
          f"{r['azdo_agent/azdo_file']:.2f}× our local file store ({m['azdo_file']:.2f} ms in the same runs) | "
          f"[Hot path](#hot-path) | {hot} |")
    w(f"| hot-path `get`, Secret Service (gnome-keyring) | **{m['azdo_keyring']:.2f} ms** | `git-credential-libsecret` "
      f"{m['libsecret']:.2f} ms | {r['azdo_keyring/libsecret']:.2f}× libsecret | [Hot path](#hot-path) | {hot} |")
    base = hp.get("baseline_ratio") or {}
    if base and "base_cold/store" in base:
        w(f"| baseline build (`--baseline`), same runs | {m['base_file']:.2f} ms file, {m['base_keyring']:.2f} ms "
          f"keyring, {m['base_cold']:.2f} ms cold | same peers, same runs | {base['base_file/floor']:.2f}× floor; "
          f"{base['base_file/store']:.2f}× store; {base['base_keyring/libsecret']:.2f}× libsecret; cold "
          f"{base['base_cold/store']:.2f}× store; 1000 organizations {base['base_many-base_file_ms']:+.3f} ms | "
          "[Hot path](#hot-path) | `benches/run.py --only hot-path --baseline PATH` |")
    w(f"| `get` of `git-credential-oauth` (not a store: a no-op for an unconfigured host) | — | {m['oauth']:.2f} ms | "
      f"{r['azdo_file/oauth']:.2f}× (file store), {r['azdo_keyring/oauth']:.2f}× (keyring) | [Hot path](#hot-path) | "
      f"{hot} |")
    w(f"| process floor (a static C program that does nothing, `sh -c 'exec process-floor < query'`) | — | "
      f"{m['floor']:.2f} ms | — | [Hot path](#hot-path) | {hot} |")
    w(f"| `get` with a validation due (one loopback request) | **{vm['due']:.2f} ms** | — | {va['ratio_due_hot']:.2f}× "
      f"our hot path ({vm['hot']:.2f} ms in the same run) | [Validation](#validation) | {val} |")
    w(f"| peak memory of a `get` | **{mib(pk['azdo_file'])}** file, **{mib(pk['azdo_keyring'])}** keyring, "
      f"{mib(va['peak_kib']['due'])} due check | store {mib(pk['store'])}; cache {mib(pk['cache'])}; libsecret "
      f"{mib(pk['libsecret'])}; oauth {mib(pk['oauth'])} | — | [Hot path](#hot-path), [Validation](#validation) | "
      f"{hot}, {val} |")
    full = f" (the front git runs) + {bu['full_size'] / MiB:.2f} MiB `git-credential-azdo-full` beside it" if bu.get("full_size") else ""
    w(f"| release binary size | **{bu['size'] / MiB:.2f} MiB** ({bu['size']} bytes){full} | `git-credential-oauth` "
      f"{hp['size']['oauth'] / MiB:.2f} MiB; `git-credential-libsecret` {hp['size']['libsecret'] / MiB:.2f} MiB (+ shared "
      f"libsecret and GLib); `git` {hp['size']['git'] / MiB:.2f} MiB | — | [Build](#build) | {build} |")
    w(f"| clean release build (`./install.sh --build-only`, fresh target dir) | **{bu['wall_s']:.0f} s** wall, "
      f"{bu['cpu_s']:.0f} s CPU, on {bu['jobs']} CPUs | — | — | [Build](#build) | {build} |")
    w("")
    w("### Targets")
    w("")
    w("| target | measured | met? | reproduce |")
    w("|---|---|---|---|")
    targets = []
    for t in hp["targets"]:
        if t["name"].startswith("peak RSS"):
            continue
        targets.append((t["name"], f"{t['measured']} (per round {t['range']})", t["met"], hot))
    ours_peaks = {"file store": pk["azdo_file"], "keyring store": pk["azdo_keyring"],
                  "cold config cache": pk["azdo_cold"], "due check": va["peak_kib"]["due"]}
    worst = max(ours_peaks, key=ours_peaks.get)
    targets.append(("peak memory of a `get` ≤ 10 MiB",
                    f"{mib(ours_peaks[worst])} at most ({worst}); "
                    + "; ".join(f"{k} {mib(v)}" for k, v in ours_peaks.items() if k != worst),
                    ours_peaks[worst] <= 10 * 1024, f"{hot}, {val}"))
    for t in va["targets"]:
        targets.append((t["name"][0].upper() + t["name"][1:], t["measured"], t["met"], val))
    for name, measured, met, repro in targets:
        w(f"| {name} | {measured} | {'**met**' if met else '**not met**'} | {repro} |")
    w("")
    w("Ratios divide medians over rounds of alternating runs on the same machine in the same run; differences under "
      "about 1 ms (file and cache helpers) or 5 ms (Secret Service helpers) are noise on a small shared VM. "
      "Load average (1 min) during the timings: "
      + "; ".join(f"{n} {x['load'][0]} → {x['load'][1]}" for n, x in s.items()) + ".")
    report = "\n".join(out) + "\n"
    sys.stdout.write(report)
    splice(doc, "summary", report, "## Summary")
    all_met = all(t[2] for t in targets)
    print(f"\n(wrote the Summary of {doc.name}; targets {'all met' if all_met else 'NOT all met'})", file=sys.stderr)
    return all_met


# --------------------------------------------------------------------------------------------------
# The command line
# --------------------------------------------------------------------------------------------------


def positive(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive integer")
    return n


def at_least_3(text: str) -> int:
    n = positive(text)
    if n < 3:
        raise argparse.ArgumentTypeError("at least 3 rounds are needed")
    return n


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="benches/run.py", description="Benchmarks of git-credential-azdo; writes docs/benchmarks.md.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--only", metavar="STAGES", default=",".join(STAGES),
                   help="comma-separated stages to run (build, hot-path, validation); the others' last results in "
                        "target/bench-results/ feed the Summary")
    p.add_argument("--skip-build", action="store_true", help="no clean build: the same as --only hot-path,validation")
    p.add_argument("--summary-only", action="store_true",
                   help="run no benchmark; rewrite the Summary from the last results")
    p.add_argument("--rounds", type=at_least_3, default=10, help="hot path: hyperfine rounds (order rotated each round)")
    p.add_argument("--validation-rounds", type=at_least_3, default=5, help="validation: hyperfine rounds")
    p.add_argument("--runs", type=positive, default=100, help="timed runs per command and round (hot path and validation)")
    p.add_argument("--warmup", type=positive, default=10, help="warm-up runs per command and round")
    p.add_argument("--count-gets", type=positive, default=20, help="validation: gets per variant for the request count")
    p.add_argument("--trace-runs", type=positive, default=30, help="validation: traced due checks for the stage split")
    p.add_argument("--rss-samples", type=positive, default=5, help="runs per command for the peak RSS")
    p.add_argument("--baseline", metavar="PATH", type=Path,
                   help="another build of git-credential-azdo to time in the same hot-path runs (before/after ratios)")
    p.add_argument("--strict", action="store_true", default=os.environ.get("STRICT") == "1",
                   help="exit 1 when a target is not met (after writing the report); also STRICT=1")
    p.add_argument("--keep-build", action="store_true", help="keep target/bench-build after the clean build")
    p.add_argument("--libsecret-src", metavar="DIR", default=os.environ.get("LIBSECRET_SRC", DEFAULT_LIBSECRET_SRC),
                   help="directory holding git's contrib/credential/libsecret sources (also LIBSECRET_SRC)")
    p.add_argument("--out", metavar="PATH", type=Path, help="the report to update (default: docs/benchmarks.md)")
    p.add_argument("--harness-profile", metavar="NAME", default="dev",
                   help="Cargo profile of benches/worlds.rs, which sets up the worlds and serves the fake Azure DevOps")
    opts = p.parse_args(argv)
    if opts.summary_only:
        stages = []
    elif opts.skip_build:
        stages = ["hot-path", "validation"]
    else:
        stages = [s.strip() for s in opts.only.split(",") if s.strip()]
        unknown = [s for s in stages if s not in STAGES]
        if unknown:
            p.error(f"unknown stage(s) {', '.join(unknown)}; the stages are {', '.join(STAGES)}")
    opts.stages = [s for s in STAGES if s in stages]
    if opts.baseline is not None:
        opts.baseline = opts.baseline.resolve()
        if not (opts.baseline.is_file() and os.access(opts.baseline, os.X_OK)):
            p.error(f"--baseline {opts.baseline}: not an executable file")
    opts.out = (opts.out or REPO / "docs" / "benchmarks.md").resolve()
    return opts


def interrupted(signum, frame):
    raise KeyboardInterrupt


def main(argv) -> int:
    opts = parse_args(argv)
    # SIGTERM and SIGHUP end the run like Ctrl-C, so that everything started is stopped.
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, interrupted)
    target_dir = Path(os.environ.get("CARGO_TARGET_DIR") or REPO / "target")
    if not target_dir.is_absolute():
        target_dir = REPO / target_dir
    results_dir = target_dir / "bench-results"
    if opts.stages:
        check_tools(opts.stages, opts.baseline)
    meta = machine_meta()
    started = time.monotonic()
    met = {}
    run = {"build": stage_build, "hot-path": stage_hot_path, "validation": stage_validation}
    try:
        if "hot-path" in opts.stages or "validation" in opts.stages:
            opts.harness = build_harness(target_dir, opts.harness_profile)
        for stage in opts.stages:
            log(f"stage {stage}")
            stage_meta = dict(meta, date=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"))
            met[stage] = run[stage](opts, stage_meta, opts.out, results_dir / stage, target_dir)
        elapsed = None if opts.summary_only else int(time.monotonic() - started)
        now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        met["summary"] = summary(dict(meta, date=now), opts.out, results_dir, elapsed)
    except Failure as e:
        print(f"{NAME}: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{NAME}: interrupted", file=sys.stderr)
        return 130
    if elapsed is not None:
        log(f"the benchmarks took {elapsed // 60} min {elapsed % 60} s")
    log(f"{opts.out.name} updated; raw data in target/bench-results/")
    if opts.strict and not all(met.values()):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
