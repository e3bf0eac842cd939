#!/usr/bin/env bash
# Build benchmark: a clean release build of git-credential-azdo, timed once, and the binary size.
#
#   benches/build.sh             (benches/run-all.sh runs it with the other benchmarks)
#
# Fetches the locked dependencies first (`cargo fetch --locked`, so that downloads are not timed),
# then runs `cargo build --release --locked` into a fresh CARGO_TARGET_DIR under target/
# (target/bench-build, removed before and after) under /usr/bin/time: wall-clock time, CPU time
# and peak memory of the build, with cargo's default parallelism (one job per CPU). Reports the size
# of the binary it produced. Prints a Markdown report on stdout and writes it into
# docs/benchmarks.md (between its GENERATED markers). Raw data goes to target/bench-results/build/.
#
# Knobs (environment): BUILD_KEEP=1 keeps target/bench-build afterwards.
#
# Debian packages: cargo (rustup), time, python3.
set -euo pipefail
BENCH_NAME=build.sh
# shellcheck source=benches/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

KEEP=${BUILD_KEEP:-0}
bench_need cargo "cargo, or rustup"
bench_need git git
bench_need python3 python3
bench_need_file /usr/bin/time time
bench_check_tools
bench_meta

BUILD_DIR=$TARGET_DIR/bench-build
cleanup_build() { [[ $KEEP = 1 ]] || rm -rf "$BUILD_DIR"; }
trap cleanup_build EXIT
trap 'exit 130' INT TERM HUP

cd "$REPO"
log "fetching the locked dependencies (not timed): cargo fetch --locked"
cargo fetch --locked >&2 || die "cargo fetch --locked failed"
rm -rf "$BUILD_DIR"
mkdir -p "$RESULTS_DIR"
W=$(mktemp -d "${TMPDIR:-/tmp}/azdo-build.XXXXXX")
trap 'cleanup_build; rm -rf "$W"' EXIT

LOAD_BEFORE=$(bench_load)
log "clean release build: CARGO_TARGET_DIR=target/bench-build cargo build --release --locked (timed, $(nproc) CPUs)"
CARGO_TARGET_DIR=$BUILD_DIR /usr/bin/time -f '%e %U %S %M' -o "$W/time" \
    cargo build --release --locked 2>"$W/cargo.log" || die "the build failed: $(tail -n 20 "$W/cargo.log")"
LOAD_AFTER=$(bench_load)
read -r WALL USER_S SYS_S BUILD_RSS <"$W/time"
BIN=$BUILD_DIR/release/git-credential-azdo
[[ -x $BIN ]] || die "the build did not produce $BIN"
BIN_SIZE=$(stat -c %s "$BIN")
CRATES=$(grep -c '^ *Compiling ' "$W/cargo.log" || true)
# The release profile, as Cargo.toml sets it.
PROFILE=$(awk '/^\[profile\.release\]/ {on = 1; next} /^\[/ {on = 0} on && NF {printf "%s%s", sep, $0; sep = ", "}' Cargo.toml)
JOBS=$(nproc)

export WALL USER_S SYS_S BUILD_RSS BIN_SIZE CRATES PROFILE JOBS LOAD_BEFORE LOAD_AFTER
bench_keep build "$W/cargo.log" "$W/time"
bench_report build <<'PYTHON'
import os, sys
from pathlib import Path
sys.path.insert(0, os.environ["BENCH_DIR"])
from benchlib import MiB, load_line, machine_lines, splice, write_summary

doc_path, results = Path(sys.argv[2]), Path(sys.argv[3])
env = os.environ
wall, user, system = float(env["WALL"]), float(env["USER_S"]), float(env["SYS_S"])
size, rss = int(env["BIN_SIZE"]), int(env["BUILD_RSS"])
out = machine_lines(env)[:-1]  # no hyperfine here
w = out.append
w(f"- {env['META_RUSTC']}; {env['META_CARGO']}; git {env['META_GIT']}")
w(load_line(env).replace("timing", "the build"))
w("")
w("| measure | value | command |")
w("|---|---:|---|")
w(f"| clean release build, wall-clock | **{wall:.1f} s** ({wall / 60:.1f} min) on {env['JOBS']} CPUs (cargo's default: {env['JOBS']} jobs) | "
  "`CARGO_TARGET_DIR=target/bench-build cargo build --release --locked` |")
w(f"| CPU time of that build (user + system) | {user + system:.1f} s ({user:.1f} + {system:.1f}) | same |")
w(f"| peak memory of that build (largest process) | {rss / 1024:.0f} MiB | same, under `/usr/bin/time -f %M` |")
w(f"| crates compiled | {env['CRATES']} | same |")
w(f"| release binary `git-credential-azdo` | **{size} bytes ({size / MiB:.2f} MiB)** | `stat -c %s target/bench-build/release/git-credential-azdo` |")
w("")
w(f"Release profile (Cargo.toml): `{env['PROFILE']}`. The dependencies were fetched beforehand "
  "(`cargo fetch --locked`, not timed); everything else, build scripts and the vendored libdbus included, is in "
  "the time. One build, timed once: expect a few percent of spread between runs, more on a busy machine.")
report = "\n".join(out) + "\n"
sys.stdout.write(report)
splice(doc_path, "build.sh", report, "## Build\n\nReproduce with `benches/build.sh`.\n\n### Latest results")
write_summary(results, {
    "date": env["META_DATE"], "commit": env["META_COMMIT"], "nproc": env["META_NPROC"],
    "load": [env["LOAD_BEFORE"], env["LOAD_AFTER"]],
    "wall_s": wall, "cpu_s": user + system, "build_rss_kib": rss, "size": size, "crates": int(env["CRATES"]),
    "jobs": int(env["JOBS"]), "targets": [],
})
PYTHON
log "docs/benchmarks.md updated; raw data in target/bench-results/build/"
