#!/usr/bin/env bash
# Validation benchmark: what one `get` costs when the stored PAT's check is due (one request to
# Azure DevOps) against the hot path (a fresh check, no request at all).
#
#   benches/validation.sh
#
# Builds the release binaries (the helper and the test-only fake Azure DevOps), starts the fake on
# a loopback port as a coprocess (org contoso, one PAT) and runs everything in a throwaway world:
# its own HOME, XDG dirs and git config, the helper's file store, `GIT_CREDENTIAL_AZDO_URL` pointing
# at the fake. Stores the PAT with `login --pat-stdin` (which checks it once), checks that every
# variant's `get` returns it, counts the requests each variant makes per `get` with the fake's
# counters, then times `get` with hyperfine in several rounds (order rotated each round) and reports
# the median over rounds and each variant's ratio to the hot path. It also splits one due check
# into stages from the helper's trace, measures peak memory of one `get` and the binary size.
# Prints a Markdown report on stdout and writes it into docs/benchmarks.md (section "Validation",
# between its own GENERATED markers). Raw data goes to target/bench-results/validation/.
#
# Knobs (environment): VALIDATION_ROUNDS (5), VALIDATION_RUNS (100), VALIDATION_WARMUP (10),
# VALIDATION_COUNT_GETS (20: gets per variant for the request count),
# VALIDATION_TRACE_RUNS (30: traced gets for the stage split),
# VALIDATION_STRICT=1 (exit 1 when the target is not met).
#
# Debian packages: cargo (rustup), git, hyperfine, time, python3.
set -euo pipefail

ROUNDS=${VALIDATION_ROUNDS:-5}
RUNS=${VALIDATION_RUNS:-100}
WARMUP=${VALIDATION_WARMUP:-10}
COUNT_GETS=${VALIDATION_COUNT_GETS:-20}
TRACE_RUNS=${VALIDATION_TRACE_RUNS:-30}
STRICT=${VALIDATION_STRICT:-0}
RSS_SAMPLES=5
ORG=contoso
FAKE_USER=alice@contoso.com

die() { printf 'validation.sh: error: %s\n' "$*" >&2; exit 1; }
log() { printf '==> %s\n' "$*" >&2; }

for n in "$ROUNDS" "$RUNS" "$WARMUP" "$COUNT_GETS" "$TRACE_RUNS"; do
    [[ $n =~ ^[1-9][0-9]*$ ]] || die "VALIDATION_ROUNDS/RUNS/WARMUP/COUNT_GETS/TRACE_RUNS must be positive integers"
done
((ROUNDS >= 3)) || die "VALIDATION_ROUNDS must be at least 3"

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

# --- tools -------------------------------------------------------------------------------------
missing=()
need() { command -v "$1" >/dev/null 2>&1 || missing+=("$1 (Debian package: $2)"); }
need cargo "cargo, or rustup"
need git git
need hyperfine hyperfine
need python3 python3
[[ -x /usr/bin/time ]] || missing+=("/usr/bin/time (Debian package: time)")
if ((${#missing[@]})); then
    printf 'validation.sh: missing tools:\n' >&2
    printf '  - %s\n' "${missing[@]}" >&2
    printf 'On Debian/Ubuntu: apt-get install -y --no-install-recommends git hyperfine time python3\n' >&2
    exit 1
fi
hyperfine --help 2>/dev/null | grep -q -- '--shell=none' \
    || die "hyperfine $(hyperfine --version | awk '{print $2}') cannot run commands without a shell (-N); hyperfine 1.13 or later is needed"
PY=$(python3 -c 'import sys; print(sys.executable)')
GIT=$(command -v git)

# --- what is measured, on what (collected before the environment is replaced) -------------------
target_dir=${CARGO_TARGET_DIR:-$repo/target}
[[ $target_dir = /* ]] || target_dir=$repo/$target_dir
meta_date=$(date -u '+%Y-%m-%d %H:%M UTC')
meta_nproc=$(nproc)
meta_cpu=$(sed -n 's/^model name[[:space:]]*:[[:space:]]*//p' /proc/cpuinfo | head -n1)
meta_mem=$(awk '/^MemTotal:/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)
meta_os=$(sed -n 's/^PRETTY_NAME="\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' /etc/os-release 2>/dev/null || true)
meta_kernel=$(uname -r)
meta_git=$(git --version | sed 's/^git version //')
meta_hyperfine=$(hyperfine --version | awk '{print $2}')
meta_rustc=$(rustc --version 2>/dev/null || echo unknown)
meta_commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
if [[ $meta_commit != unknown ]] && [[ -n $(git status --porcelain --untracked-files=no -- src Cargo.toml Cargo.lock 2>/dev/null) ]]; then
    meta_commit="$meta_commit + uncommitted changes"
fi
# What a stock system's CA store looks like to rustls-native-certs (through openssl-probe): the
# bundle file plus every file of the certificate directory.
meta_ca_bundle=0
for f in /etc/ssl/certs/ca-certificates.crt /etc/pki/tls/certs/ca-bundle.crt /etc/ssl/cert.pem; do
    if [[ -f $f ]]; then
        meta_ca_bundle=$(grep -c 'BEGIN CERTIFICATE' "$f" || true)
        break
    fi
done
meta_ca_dir_files=0
[[ -d /etc/ssl/certs ]] && meta_ca_dir_files=$(find /etc/ssl/certs -maxdepth 1 \( -type f -o -type l \) | wc -l)

# --- release binaries ----------------------------------------------------------------------------
log "building the release binaries"
cargo build --release --locked --bin git-credential-azdo -p git-credential-azdo >&2
cargo build --release --locked -p fake-azdo --bin fake-azdo >&2
BIN=$target_dir/release/git-credential-azdo
FAKE_BIN=$target_dir/release/fake-azdo
[[ -x $BIN ]] || die "the build did not produce $BIN"
[[ -x $FAKE_BIN ]] || die "the build did not produce $FAKE_BIN"
bin_size=$(stat -c %s "$BIN")

# --- the throwaway world -------------------------------------------------------------------------
W=$(mktemp -d "${TMPDIR:-/tmp}/azdo-validation.XXXXXX")
[[ $W =~ ^[A-Za-z0-9_./-]+$ ]] || die "temp dir $W has characters the benchmark commands cannot quote"
FAKE_PID=
FAKE_IN=
FAKE_OUT=
cleanup() {
    local i
    # Closing the fake's stdin stops it (it then removes its own temp dir); kill it if it lingers.
    if [[ -n $FAKE_IN ]]; then exec {FAKE_IN}>&- || true; fi
    if [[ -n $FAKE_OUT ]]; then exec {FAKE_OUT}<&- || true; fi
    if [[ -n $FAKE_PID ]]; then
        for i in $(seq 100); do
            kill -0 "$FAKE_PID" 2>/dev/null || break
            ((i < 100)) || kill "$FAKE_PID" 2>/dev/null || true
            sleep 0.02
        done
    fi
    rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

mkdir -p "$W/home" "$W/data" "$W/config" "$W/cache" "$W/run" "$W/tmp" "$W/bin" "$W/json" "$W/trace"
chmod 700 "$W/run"
: >"$W/gitconfig"
: >"$W/no-ca.pem"
for v in $(compgen -e); do
    case $v in GIT_CREDENTIAL_AZDO_* | GIT_CONFIG_KEY_* | GIT_CONFIG_VALUE_*) unset "$v" ;; esac
done
# No inherited PAT, prompt, repository, CA or proxy settings: a `get` sees what a stock machine has.
unset AZURE_DEVOPS_EXT_PAT GIT_ASKPASS SSH_ASKPASS GIT_DIR GIT_WORK_TREE GIT_CONFIG GIT_CONFIG_PARAMETERS \
    GIT_CONFIG_COUNT GIT_CONFIG_SYSTEM GIT_SSL_CAINFO GIT_SSL_CAPATH GIT_SSL_NO_VERIFY SSL_CERT_FILE SSL_CERT_DIR \
    http_proxy HTTP_PROXY https_proxy HTTPS_PROXY all_proxy ALL_PROXY no_proxy NO_PROXY
ceiling=$(dirname "$W")
export HOME=$W/home XDG_DATA_HOME=$W/data XDG_CONFIG_HOME=$W/config XDG_CACHE_HOME=$W/cache \
    XDG_RUNTIME_DIR=$W/run TMPDIR=$W/tmp GIT_CONFIG_GLOBAL=$W/gitconfig GIT_CONFIG_NOSYSTEM=1 \
    GIT_TERMINAL_PROMPT=0 GIT_CEILING_DIRECTORIES=$ceiling LC_ALL=C GIT_CREDENTIAL_AZDO_STORE=file
ln -s "$BIN" "$W/bin/git-credential-azdo"
ln -s "$GIT" "$W/bin/git"
# For counting the git processes a `get` starts: a git that logs its arguments (not timed).
mkdir -p "$W/gitcount"
printf '#!/bin/sh\nprintf "%%s\\n" "$*" >>"%s/git-calls.log"\nexec "%s" "$@"\n' "$W" "$GIT" >"$W/gitcount/git"
chmod +x "$W/gitcount/git"
export PATH=$W/bin:$PATH
cd "$W"

# --- the fake Azure DevOps -----------------------------------------------------------------------
log "starting the fake Azure DevOps (fake-azdo serve)"
coproc FAKE { exec "$FAKE_BIN" serve --org "$ORG" --pat "$ORG:$FAKE_USER:vso.code" 2>>"$W/fake.log"; }
# Own copies of the coprocess's pipes (bash forgets FAKE[] once the coprocess ends), and close
# bash's, so that closing FAKE_IN is all it takes to stop the fake.
exec {FAKE_IN}>&"${FAKE[1]}" {FAKE_OUT}<&"${FAKE[0]}"
eval "exec ${FAKE[1]}>&- ${FAKE[0]}<&-"
URL=''
PAT=''
while [[ -z $URL || -z $PAT ]]; do
    read -r -t 10 -u "$FAKE_OUT" kind a _ _ tok || die "fake-azdo did not print its URL and PAT: $(cat fake.log)"
    case $kind in
    url) URL=$a ;;
    pat) PAT=$tok ;;
    esac
done
[[ $URL =~ ^http://127\.0\.0\.1:[0-9]+$ ]] || die "unexpected fake URL $URL"
HOSTPORT=${URL#http://}
export GIT_CREDENTIAL_AZDO_URL=$URL

# One command to the fake, one line back.
fake() {
    local reply
    printf '%s\n' "$1" >&"$FAKE_IN"
    read -r -t 10 -u "$FAKE_OUT" reply || die "fake-azdo did not answer $1"
    printf '%s\n' "$reply"
}
# `counts connectionData=N git=N challenge=N other=N` -> "N N N N"
counts() { fake counts | sed -E 's/^counts connectionData=([0-9]+) git=([0-9]+) challenge=([0-9]+) other=([0-9]+)$/\1 \2 \3 \4/'; }
reset_counts() { [[ $(fake reset) == reset ]] || die "fake-azdo did not reset its counters"; }

log "storing the PAT (git-credential-azdo login $ORG --pat-stdin; one check)"
reset_counts
printf '%s\n' "$PAT" | git-credential-azdo login "$ORG" --pat-stdin >>log 2>&1 || die "login failed: $(cat log)"
read -r login_requests _ <<<"$(counts)"
printf 'protocol=http\nhost=%s\npath=%s/proj/_git/repo\n\n' "$HOSTPORT" "$ORG" >query

# --- the variants --------------------------------------------------------------------------------
# id|label|command|kind (variant: a contender; diag: a diagnostic row; floor: the process floor)
variants=(
    "floor|process floor (\`exec true\`)|sh -c 'exec true < query'|floor"
    "hot|hot path: fresh check (default interval)|sh -c 'exec git-credential-azdo get < query'|variant"
    "due|due check (\`azdo.validateInterval=0\`)|sh -c 'GIT_CREDENTIAL_AZDO_VALIDATE_INTERVAL=0 exec git-credential-azdo get < query'|variant"
    "due_noca|(diagnostic) due check, no system CAs loaded|sh -c 'GIT_CREDENTIAL_AZDO_VALIDATE_INTERVAL=0 SSL_CERT_FILE=no-ca.pem SSL_CERT_DIR= exec git-credential-azdo get < query'|diag"
    "gitconfig|(diagnostic) \`git config -z --list --show-origin\` alone|sh -c 'exec git config -z --list --show-origin < query'|diag"
)
: >variants.tsv
: >requests.tsv
log "checking each variant and counting its requests ($COUNT_GETS gets each)"
for v in "${variants[@]}"; do
    IFS='|' read -r id label cmd kind <<<"$v"
    printf '%s\t%s\t%s\t%s\n' "$id" "$label" "$cmd" "$kind" >>variants.tsv
    case $id in floor | gitconfig) continue ;; esac
    out=$(eval "$cmd" 2>>log) || die "$label: get failed: $(cat log)"
    # shellcheck disable=SC2001 # multi-line: sed, not ${//}
    grep -qx "password=$PAT" <<<"$out" \
        || die "$label: get did not return the stored PAT (got: $(sed 's/^password=.*/password=<redacted>/' <<<"$out" | tr '\n' ' '))"
    reset_counts
    : >git-calls.log
    for ((i = 0; i < COUNT_GETS; i++)); do
        PATH=$W/gitcount:$PATH eval "$cmd" >/dev/null 2>>log || die "$label: get failed: $(cat log)"
    done
    read -r c_conn c_git c_chal c_other <<<"$(counts)"
    git_calls=$(wc -l <git-calls.log)
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$id" "$COUNT_GETS" "$c_conn" "$c_git" "$c_chal" "$c_other" "$git_calls" >>requests.tsv
    log "  $label: returns the PAT; in $COUNT_GETS gets: $c_conn connectionData request(s), $((c_git + c_chal + c_other)) other request(s), $git_calls git process(es)"
done
config_cache=0
if [[ -d cache/git-credential-azdo ]]; then config_cache=1; fi

# --- timing: rounds of hyperfine, order rotated each round ---------------------------------------
n=${#variants[@]}
load_before=$(cut -d' ' -f1 /proc/loadavg)
: >timed-requests.tsv
for ((r = 0; r < ROUNDS; r++)); do
    log "round $((r + 1))/$ROUNDS: hyperfine -N --warmup $WARMUP --runs $RUNS"
    args=()
    for ((k = 0; k < n; k++)); do
        IFS='|' read -r id _ cmd _ <<<"${variants[(r + k) % n]}"
        args+=(-n "$id" "$cmd")
    done
    reset_counts
    hyperfine -N --warmup "$WARMUP" --runs "$RUNS" --export-json "json/round-$((r + 1)).json" "${args[@]}" >&2
    read -r c_conn c_git c_chal c_other <<<"$(counts)"
    printf '%s\t%s\n' "$((r + 1))" "$((c_conn + c_git + c_chal + c_other))" >>timed-requests.tsv
done
load_after=$(cut -d' ' -f1 /proc/loadavg)

# --- where a due check's time goes: the helper's own trace ---------------------------------------
log "tracing $TRACE_RUNS due checks (GIT_CREDENTIAL_AZDO_TRACE=1)"
for ((i = 1; i <= TRACE_RUNS; i++)); do
    GIT_CREDENTIAL_AZDO_TRACE=1 GIT_CREDENTIAL_AZDO_VALIDATE_INTERVAL=0 git-credential-azdo get <query >/dev/null \
        2>"trace/$i.log" || die "traced get failed: $(cat "trace/$i.log")"
done

# --- peak memory of one get ----------------------------------------------------------------------
log "measuring peak RSS of one get ($RSS_SAMPLES samples each)"
: >rss.tsv
rss() { # id, then VAR=value assignments for env(1)
    local id=$1 i
    shift
    for ((i = 0; i < RSS_SAMPLES; i++)); do
        /usr/bin/time -f '%M' -o rss.tmp env "$@" git-credential-azdo get <query >/dev/null 2>>log \
            || die "$id: get failed under /usr/bin/time"
        printf '%s\t%s\n' "$id" "$(tail -n1 rss.tmp)" >>rss.tsv
    done
}
rss hot
rss due GIT_CREDENTIAL_AZDO_VALIDATE_INTERVAL=0

# --- keep the raw data ---------------------------------------------------------------------------
results=$target_dir/bench-results/validation
rm -rf "$results"
mkdir -p "$results"
cp -r json trace rss.tsv variants.tsv requests.tsv timed-requests.tsv "$results/"

# --- report --------------------------------------------------------------------------------------
export META_DATE=$meta_date META_NPROC=$meta_nproc META_CPU=$meta_cpu META_MEM=$meta_mem \
    META_OS=$meta_os META_KERNEL=$meta_kernel META_GIT=$meta_git META_HYPERFINE=$meta_hyperfine \
    META_RUSTC=$meta_rustc META_COMMIT=$meta_commit META_CA_BUNDLE=$meta_ca_bundle \
    META_CA_DIR_FILES=$meta_ca_dir_files BIN_SIZE=$bin_size CONFIG_CACHE=$config_cache \
    LOAD_BEFORE=$load_before LOAD_AFTER=$load_after LOGIN_REQUESTS=$login_requests ROUNDS RUNS WARMUP
status=0
"$PY" - "$W" "$repo/docs/benchmarks.md" <<'PYTHON' || status=$?
import json, os, re, statistics, sys
from datetime import datetime
from pathlib import Path

world, doc_path = Path(sys.argv[1]), Path(sys.argv[2])
env = os.environ
rounds, runs, warmup = int(env["ROUNDS"]), int(env["RUNS"]), int(env["WARMUP"])

variants = [tuple(l.split("\t")) for l in (world / "variants.tsv").read_text().splitlines()]  # id, label, cmd, kind
label = {v[0]: v[1] for v in variants}

per_round = {v[0]: [] for v in variants}  # id -> [median seconds of each round]
pooled = {v[0]: [] for v in variants}
for r in range(1, rounds + 1):
    for res in json.loads((world / "json" / f"round-{r}.json").read_text())["results"]:
        per_round[res["command"]].append(res["median"])
        pooled[res["command"]].extend(res["times"])
med = {k: statistics.median(v) for k, v in per_round.items()}
ms = lambda s: s * 1000.0

def quartiles(xs):
    q = statistics.quantiles(xs, n=4)
    return q[0], q[2]

def round_ratios(a, b):
    return [x / y for x, y in zip(per_round[a], per_round[b])]

requests = {}  # id -> (gets, connectionData, other routes, git processes)
for line in (world / "requests.tsv").read_text().splitlines():
    vid, gets, conn, git, chal, other, calls = line.split("\t")
    requests[vid] = (int(gets), int(conn), int(git) + int(chal) + int(other), int(calls))
per_get = {k: (c + o) / g for k, (g, c, o, _) in requests.items()}
git_per_get = {k: n / g for k, (g, _, _, n) in requests.items()}

timed = [int(l.split("\t")[1]) for l in (world / "timed-requests.tsv").read_text().splitlines()]
expected_timed = round(sum(per_get.values()) * (warmup + runs))

rss = {}
for line in (world / "rss.tsv").read_text().splitlines():
    k, v = line.split("\t")
    rss.setdefault(k, []).append(int(v))
peak = {k: max(v) for k, v in rss.items()}  # KiB

# Stages of a due check, from the helper's trace (best effort: the messages belong to the helper).
TS = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?)Z\s+\S+\s+(.*)$")
MARKS = [
    ("request", "request op="),
    ("checking", "checking the PAT"),
    ("connecting", "connecting to"),
    ("response", "Azure DevOps accepted the stored PAT"),
    ("answer", "answering with the stored PAT"),
]
stages = {"settings": [], "client": [], "request": [], "record": []}
traced = 0
for f in sorted((world / "trace").glob("*.log")):
    at = {}
    for line in f.read_text(errors="replace").splitlines():
        m = TS.match(line)
        if not m:
            continue
        for key, needle in MARKS:
            if key not in at and needle in m.group(2):
                at[key] = datetime.fromisoformat(m.group(1)).timestamp()
    if len(at) == len(MARKS):
        traced += 1
        stages["settings"].append(at["checking"] - at["request"])
        stages["client"].append(at["connecting"] - at["checking"])
        stages["request"].append(at["response"] - at["connecting"])
        stages["record"].append(at["answer"] - at["response"])

hot_zero = per_get.get("hot") == 0
due_one = per_get.get("due") == 1
size = int(env["BIN_SIZE"])
MiB = 1024 * 1024

out = []
w = out.append
w(f"Measured {env['META_DATE']} at commit {env['META_COMMIT']}.")
w("")
w(f"- Machine: {env['META_NPROC']} CPUs ({env['META_CPU']}), {env['META_MEM']} RAM, {env['META_OS']}, Linux {env['META_KERNEL']}")
w(f"- git {env['META_GIT']} (first on PATH); hyperfine {env['META_HYPERFINE']}; {env['META_RUSTC']}")
w(f"- Fake Azure DevOps (`fake-azdo serve`, release build) on loopback, plain HTTP; file store; system CA store: "
  f"{env['META_CA_BUNDLE']} certificates in the bundle, {env['META_CA_DIR_FILES']} entries in `/etc/ssl/certs`")
w(f"- {rounds} rounds × ({warmup} warm-up + {runs} timed runs) per variant, order rotated each round; "
  f"`hyperfine -N`, every command as `sh -c '… exec … < query'`")
w(f"- Load average (1 min) before / after timing: {env['LOAD_BEFORE']} / {env['LOAD_AFTER']} "
  "(anything well above 0 means other work shared the CPUs)")
w("")
w("#### Latency of one `get`, and requests per `get`")
w("")
w("| variant | median (ms) | round medians (ms) | pooled p25–p75 (ms) | ratio to hot path | requests per `get` | git processes per `get` |")
w("|---|---:|---|---|---:|---:|---:|")
for vid, lab, _, kind in variants:
    lo, hi = min(per_round[vid]), max(per_round[vid])
    q1, q3 = quartiles(pooled[vid])
    ratio = "1.00×" if vid == "hot" else f"{med[vid] / med['hot']:.2f}×"
    req = f"{per_get[vid]:g}" if vid in per_get else "—"
    gits = f"{git_per_get[vid]:g}" if vid in git_per_get else "—"
    w(f"| {lab} | **{ms(med[vid]):.2f}** | {ms(lo):.2f}–{ms(hi):.2f} | {ms(q1):.2f}–{ms(q3):.2f} | {ratio} | {req} | {gits} |")
w("")
rr = round_ratios("due", "hot")
w(f"Median = median over rounds of each round's median. Ratio = that median over the hot path's; per round, a due "
  f"check costs {min(rr):.2f}–{max(rr):.2f}× the hot path. Requests per `get`: the fake's request counters over "
  f"{requests['hot'][0]} `get`s of each variant outside the timing (all routes; `connectionData` is the only one hit). "
  f"During the timed rounds the fake served {', '.join(map(str, timed))} requests per round, against "
  f"{expected_timed} expected from those rates. `login` made {env['LOGIN_REQUESTS']} request. "
  "git processes per `get`: a logging `git` first on PATH during the same series. "
  "The (diagnostic) rows are not variants: the first is a due check with an empty CA store "
  "(`SSL_CERT_FILE` an empty file, `SSL_CERT_DIR` empty), the second the git process a due check starts."
  + ("" if env["CONFIG_CACHE"] == "1" else " **No git config cache was found in this run.**"))
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
w(f"Peak RSS is the largest of {max(len(v) for v in rss.values())} runs of `/usr/bin/time -f %M` on one `get`, "
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
  f"({env['META_CA_BUNDLE']} certificates, read even for a plain-HTTP request).")
w(f"- `git config -z --list --show-origin` alone takes {ms(med['gitconfig']):.2f} ms "
  f"({ms(med['gitconfig'] - med['floor']):.2f} ms above the process floor).")
report = "\n".join(out) + "\n"
sys.stdout.write(report)

BEGIN = "<!-- BEGIN GENERATED by benches/validation.sh: do not edit by hand -->"
END = "<!-- END GENERATED by benches/validation.sh -->"
SECTION = """## Validation

What a `get` costs when the stored PAT's check is due (one request to Azure DevOps) against the
hot path (a check within `azdo.validateInterval`, no request at all), and how many requests each
makes.

Reproduce with:

```sh
benches/validation.sh
```

Method: the script builds the release binaries of the helper and of the test-only fake Azure
DevOps (`cargo build --release --locked`), starts `fake-azdo serve` on a loopback port as a
coprocess (organization `contoso`, one PAT), and runs everything in a throwaway world: its own
`HOME`, XDG directories and global git config (`GIT_CONFIG_NOSYSTEM=1`, `GIT_TERMINAL_PROMPT=0`),
the file store (`GIT_CREDENTIAL_AZDO_STORE=file`), `GIT_CREDENTIAL_AZDO_URL` set to the fake, and no
inherited CA, proxy or `GIT_SSL_*` variables. It stores the PAT with
`git-credential-azdo login contoso --pat-stdin` (one check) and checks that each variant's `get`
returns it. Each `get` reads the same query (`protocol=http`, `host=127.0.0.1:PORT`,
`path=contoso/proj/_git/repo`). The hot path runs with the default interval; the due check with
`GIT_CREDENTIAL_AZDO_VALIDATE_INTERVAL=0`, so every `get` asks the fake. Requests per `get` come from
the fake's own counters (`counts` and `reset` on its stdin) around a series of `get`s of each
variant. hyperfine runs every command without a shell (`-N`) as `sh -c '… exec … < query'`; several
rounds each time every variant (rotated order); the figures are medians over rounds. The stage
split comes from the helper's trace, peak memory from `/usr/bin/time`. Raw data is kept in
`target/bench-results/validation/`. `VALIDATION_ROUNDS`, `VALIDATION_RUNS` and `VALIDATION_WARMUP`
change the sample sizes; `VALIDATION_STRICT=1` makes the script fail when the target is not met.

Target: the hot path with a fresh validation makes zero requests.

The real service answers in about 0.1 to 0.3 s, TLS included; the loopback fake measures what the
helper itself adds around the request.
"""

text = doc_path.read_text() if doc_path.exists() else "# Hot-path benchmarks\n"
if BEGIN in text and END in text.split(BEGIN, 1)[1]:
    head, rest = text.split(BEGIN, 1)
    tail = rest.split(END, 1)[1]
    doc = head + BEGIN + "\n\n" + report + "\n" + END + tail
else:
    doc = text.rstrip("\n") + "\n\n" + SECTION + "\n### Latest results\n\n" + BEGIN + "\n\n" + report + "\n" + END + "\n"
doc_path.parent.mkdir(parents=True, exist_ok=True)
doc_path.write_text(doc)
print(f"\n(wrote the Validation section of {doc_path.name}; target {'met' if hot_zero else 'NOT met'})", file=sys.stderr)
if not due_one:
    print(f"warning: a due check made {per_get.get('due')} requests per get, not 1", file=sys.stderr)
sys.exit(0 if hot_zero else 3)
PYTHON
case $status in
0) ;;
3) [[ $STRICT = 1 ]] && exit 1 ;;
*) die "the report could not be computed" ;;
esac
log "docs/benchmarks.md updated; raw data in target/bench-results/validation/"
