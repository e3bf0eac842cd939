# shellcheck shell=bash
# Shared set-up of the benchmark scripts in benches/. Sourced, never run:
#
#   BENCH_NAME=hot-path.sh
#   . "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
#
# What it provides:
#   die, log                    messages prefixed with the script's name
#   bench_ints NAME VALUE...    refuse anything but positive integers
#   bench_need*, bench_check_tools
#                               collect missing tools (with their Debian package), then report them
#                               all at once with one apt-get line
#   bench_meta                  what is measured, on what (META_* variables), before the world
#                               replaces the environment
#   bench_cargo_build ARGS...   `cargo build --release --locked ARGS...` into TARGET_DIR
#   bench_world NAME            a throwaway world (HOME, XDG dirs, git config, TMPDIR) under $W,
#                               torn down on exit with every hook registered by bench_at_exit
#   bench_secret_service        a private D-Bus session bus and an unlocked gnome-keyring
#   bench_libsecret             git-credential-libsecret built from git's contrib sources
#   bench_credential_cache S    a `git credential-cache` daemon on socket S (its dir mode 0700)
#   bench_git_counter           a `git` that logs its arguments, for counting git processes
#   bench_rotate R RECORD...    hyperfine's `-n ID CMD` arguments, rotated by round R
#   bench_rss ID N PREP CMD...  peak RSS of N runs of CMD < query, into rss.tsv
#   bench_report NAME           run the embedded Python report (stdin) with benches/ importable
#
# Everything it starts it stops on exit, by process id.

BENCH_NAME=${BENCH_NAME:-$(basename "$0")}
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$BENCH_DIR/.." && pwd)
TARGET_DIR=${CARGO_TARGET_DIR:-$REPO/target}
[[ $TARGET_DIR = /* ]] || TARGET_DIR=$REPO/$TARGET_DIR
RESULTS_DIR=$TARGET_DIR/bench-results
DOC=$REPO/docs/benchmarks.md
export BENCH_DIR

die() { printf '%s: error: %s\n' "$BENCH_NAME" "$*" >&2; exit 1; }
log() { printf '==> %s\n' "$*" >&2; }

bench_ints() { # NAMES VALUE...: every VALUE a positive integer
    local names=$1 v
    shift
    for v in "$@"; do
        [[ $v =~ ^[1-9][0-9]*$ ]] || die "$names must be positive integers"
    done
}

# --- tools ---------------------------------------------------------------------------------------
BENCH_MISSING=()
BENCH_PACKAGES=()
_bench_missing() { # what, package
    BENCH_MISSING+=("$1 (Debian package: $2)")
    [[ " ${BENCH_PACKAGES[*]} " == *" $2 "* ]] || BENCH_PACKAGES+=("$2")
}
bench_need() { command -v "$1" >/dev/null 2>&1 || _bench_missing "$1" "$2"; }
bench_need_file() { [[ -e $1 ]] || _bench_missing "$1" "$2"; }
bench_need_pkgconfig() { # package, pkg-config modules...
    local pkg=$1
    shift
    if ! command -v pkg-config >/dev/null 2>&1 || ! pkg-config --exists "$@"; then
        _bench_missing "development files of $*" "$pkg"
    fi
}
# The tools every script needs.
bench_need_common() {
    bench_need cargo "cargo, or rustup"
    bench_need git git
    bench_need hyperfine hyperfine
    bench_need python3 python3
    bench_need_file /usr/bin/time time
}
# Report every missing tool at once, then check hyperfine can run without a shell.
bench_check_tools() {
    if ((${#BENCH_MISSING[@]})); then
        printf '%s: missing tools:\n' "$BENCH_NAME" >&2
        printf '  - %s\n' "${BENCH_MISSING[@]}" >&2
        local apt=()
        for p in "${BENCH_PACKAGES[@]}"; do [[ $p = *" "* ]] || apt+=("$p"); done
        ((${#apt[@]})) && printf 'On Debian/Ubuntu: apt-get install -y --no-install-recommends %s\n' "${apt[*]}" >&2
        exit 1
    fi
    if command -v hyperfine >/dev/null 2>&1; then
        hyperfine --help 2>/dev/null | grep -q -- '--shell=none' \
            || die "hyperfine $(hyperfine --version | awk '{print $2}') cannot run commands without a shell (-N); hyperfine 1.13 or later is needed"
    fi
    PY=$(python3 -c 'import sys; print(sys.executable)')
    GIT=$(command -v git)
}

# --- what is measured, on what -------------------------------------------------------------------
bench_meta() {
    META_DATE=$(date -u '+%Y-%m-%d %H:%M UTC')
    META_NPROC=$(nproc)
    META_CPU=$(sed -n 's/^model name[[:space:]]*:[[:space:]]*//p' /proc/cpuinfo | head -n1)
    META_MEM=$(awk '/^MemTotal:/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)
    META_OS=$(sed -n 's/^PRETTY_NAME="\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' /etc/os-release 2>/dev/null || true)
    META_KERNEL=$(uname -r)
    META_GIT=$(git --version | sed 's/^git version //')
    META_HYPERFINE=$(hyperfine --version 2>/dev/null | awk '{print $2}')
    META_RUSTC=$(rustc --version 2>/dev/null || echo unknown)
    META_CARGO=$(cargo --version 2>/dev/null || echo unknown)
    META_COMMIT=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)
    if [[ $META_COMMIT != unknown ]] \
        && [[ -n $(git -C "$REPO" status --porcelain --untracked-files=no -- src Cargo.toml Cargo.lock tests/fake-azdo 2>/dev/null) ]]; then
        META_COMMIT="$META_COMMIT + uncommitted changes"
    fi
    export META_DATE META_NPROC META_CPU META_MEM META_OS META_KERNEL META_GIT META_HYPERFINE \
        META_RUSTC META_CARGO META_COMMIT
}
bench_load() { cut -d' ' -f1 /proc/loadavg; }

bench_cargo_build() {
    log "building: cargo build --release --locked $*"
    (cd "$REPO" && CARGO_TARGET_DIR=$TARGET_DIR cargo build --release --locked "$@") >&2 \
        || die "cargo build --release --locked $* failed"
}

# --- the throwaway world -------------------------------------------------------------------------
BENCH_HOOKS=()
W=
bench_at_exit() { BENCH_HOOKS+=("$1"); } # a function name, run on exit, last registered first
_bench_exit() {
    local i
    for ((i = ${#BENCH_HOOKS[@]} - 1; i >= 0; i--)); do "${BENCH_HOOKS[i]}" || true; done
    [[ -n $W && -d $W ]] && rm -rf "$W"
}
# Creates $W and replaces the environment with one inside it, then cd "$W":
# its own HOME, XDG dirs, TMPDIR and (empty) global git config, no system git config, no prompts,
# no display, no inherited session bus, PAT, CA, proxy or helper settings. Commands find the
# contenders through $W/bin, first on PATH.
bench_world() {
    W=$(mktemp -d "${TMPDIR:-/tmp}/azdo-$1.XXXXXX")
    trap _bench_exit EXIT
    trap 'exit 130' INT TERM HUP
    [[ $W =~ ^[A-Za-z0-9_./-]+$ ]] || die "temp dir $W has characters the benchmark commands cannot quote"
    mkdir -p "$W/home" "$W/data" "$W/config" "$W/cache" "$W/run" "$W/tmp" "$W/bin" "$W/json"
    chmod 700 "$W/run"
    : >"$W/gitconfig"
    : >"$W/log"
    local v
    for v in $(compgen -e); do
        case $v in GIT_CREDENTIAL_AZDO_* | GIT_CONFIG_KEY_* | GIT_CONFIG_VALUE_*) unset "$v" ;; esac
    done
    unset DISPLAY WAYLAND_DISPLAY DBUS_SESSION_BUS_ADDRESS GNOME_KEYRING_CONTROL AZURE_DEVOPS_EXT_PAT \
        GIT_ASKPASS SSH_ASKPASS GIT_DIR GIT_WORK_TREE GIT_CONFIG GIT_CONFIG_PARAMETERS GIT_CONFIG_COUNT \
        GIT_CONFIG_SYSTEM GIT_SSL_CAINFO GIT_SSL_CAPATH GIT_SSL_NO_VERIFY SSL_CERT_FILE SSL_CERT_DIR \
        http_proxy HTTP_PROXY https_proxy HTTPS_PROXY all_proxy ALL_PROXY no_proxy NO_PROXY
    export HOME=$W/home XDG_DATA_HOME=$W/data XDG_CONFIG_HOME=$W/config XDG_CACHE_HOME=$W/cache \
        XDG_RUNTIME_DIR=$W/run TMPDIR=$W/tmp GIT_CONFIG_GLOBAL=$W/gitconfig GIT_CONFIG_NOSYSTEM=1 \
        GIT_TERMINAL_PROMPT=0 GIT_CEILING_DIRECTORIES=${W%/*} LC_ALL=C
    export PATH=$W/bin:$PATH
    cd "$W" || die "cannot enter $W"
}

# A `git` that logs its arguments to $W/git-calls.log, in $W/gitcount (put it first on PATH).
bench_git_counter() {
    mkdir -p "$W/gitcount"
    printf '#!/bin/sh\nprintf "%%s\\n" "$*" >>"%s/git-calls.log"\nexec "%s" "$@"\n' "$W" "$GIT" >"$W/gitcount/git"
    chmod +x "$W/gitcount/git"
    : >"$W/git-calls.log"
}

# --- a private Secret Service --------------------------------------------------------------------
BENCH_DBUS_PID=
BENCH_GKD_PID=
bench_need_secret_service() {
    bench_need dbus-daemon dbus-daemon
    bench_need dbus-send dbus-bin
    bench_need gnome-keyring-daemon gnome-keyring
}
_bench_stop_secret_service() {
    local pid p i
    for pid in $BENCH_GKD_PID $BENCH_DBUS_PID; do kill "$pid" 2>/dev/null || true; done
    for i in $(seq 50); do
        pid=
        for p in $BENCH_GKD_PID $BENCH_DBUS_PID; do kill -0 "$p" 2>/dev/null && pid=$p; done
        [[ -z $pid ]] && break
        sleep 0.02
    done
}
_bench_bus() { dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus "$@" 2>/dev/null; }
# A session bus at $XDG_RUNTIME_DIR/bus and gnome-keyring's secrets component, unlocked
# (password "bench"); both stopped on exit. Sets META_GKD and META_LIBSECRET.
bench_secret_service() {
    local out i owned
    log "starting a private D-Bus session bus and gnome-keyring"
    bench_at_exit _bench_stop_secret_service
    out=$(dbus-daemon --session --fork --nopidfile --address="unix:path=$XDG_RUNTIME_DIR/bus" \
        --print-address=1 --print-pid=1 2>/dev/null) || die "dbus-daemon did not start"
    DBUS_SESSION_BUS_ADDRESS=$(sed -n 1p <<<"$out")
    BENCH_DBUS_PID=$(sed -n 2p <<<"$out")
    export DBUS_SESSION_BUS_ADDRESS
    [[ $BENCH_DBUS_PID =~ ^[0-9]+$ ]] || die "dbus-daemon did not report its pid"
    printf bench | gnome-keyring-daemon --daemonize --unlock --components=secrets >/dev/null 2>&1 \
        || die "gnome-keyring-daemon did not start"
    for i in $(seq 500); do
        owned=$(_bench_bus org.freedesktop.DBus.NameHasOwner string:org.freedesktop.secrets || true)
        [[ $owned == *'boolean true'* ]] && break
        ((i < 500)) || die "the Secret Service (org.freedesktop.secrets) did not come up within 5 s"
        sleep 0.01
    done
    BENCH_GKD_PID=$(_bench_bus org.freedesktop.DBus.GetConnectionUnixProcessID string:org.freedesktop.secrets | awk '/uint32/ {print $2}')
    [[ $BENCH_GKD_PID =~ ^[0-9]+$ ]] || die "cannot find the pid of the Secret Service"
    META_GKD=$(gnome-keyring-daemon --version 2>/dev/null | sed -n 's/^gnome-keyring-daemon: //p' | head -n1)
    META_LIBSECRET=$(pkg-config --modversion libsecret-1 2>/dev/null || echo unknown)
    export META_GKD META_LIBSECRET
}

# --- peer: git-credential-libsecret from git's contrib sources -----------------------------------
LIBSECRET_SRC=${LIBSECRET_SRC:-/usr/share/doc/git/contrib/credential/libsecret}
bench_need_libsecret() {
    bench_need pkg-config pkg-config
    bench_need gcc gcc
    bench_need_pkgconfig libsecret-1-dev libsecret-1 glib-2.0
}
# Builds (once; again when the source is newer) $TARGET_DIR/bench-peers/libsecret/git-credential-libsecret
# with the flags of git's contrib Makefile. Sets LIBSECRET_BIN and META_LIBSECRET_SRC.
bench_libsecret() {
    local peers=$TARGET_DIR/bench-peers/libsecret src_c
    LIBSECRET_BIN=$peers/git-credential-libsecret
    src_c=$LIBSECRET_SRC/git-credential-libsecret.c
    [[ -f $src_c || -f $src_c.gz ]] || src_c=
    if [[ ! -x $LIBSECRET_BIN || ( -n $src_c && -f $src_c && $src_c -nt $LIBSECRET_BIN ) ]]; then
        [[ -n $src_c ]] || die "git-credential-libsecret is not built and its source is not in $LIBSECRET_SRC.
  Debian's git package ships it there; elsewhere set LIBSECRET_SRC to contrib/credential/libsecret of a git source tree."
        log "building git-credential-libsecret from $LIBSECRET_SRC"
        mkdir -p "$peers"
        if [[ -f $src_c ]]; then cp "$src_c" "$peers/"; else gzip -dc "$src_c.gz" >"$peers/git-credential-libsecret.c"; fi
        # shellcheck disable=SC2046 # pkg-config's flags are words
        gcc -g -O2 -Wall $(pkg-config --cflags libsecret-1 glib-2.0) -o "$LIBSECRET_BIN.tmp" \
            "$peers/git-credential-libsecret.c" $(pkg-config --libs libsecret-1 glib-2.0) >&2 \
            || die "could not build git-credential-libsecret (needs gcc and libsecret-1-dev)"
        mv "$LIBSECRET_BIN.tmp" "$LIBSECRET_BIN"
    fi
    META_LIBSECRET_SRC=$(dpkg-query -W -f '${Version}' git 2>/dev/null || echo unknown)
    export META_LIBSECRET_SRC
}

# --- peer: git credential-cache ------------------------------------------------------------------
BENCH_CACHE_PID=
BENCH_CACHE_SOCKET=
_bench_stop_credential_cache() {
    local i
    [[ -n $BENCH_CACHE_PID ]] || return 0
    git credential-cache --socket "$BENCH_CACHE_SOCKET" exit >/dev/null 2>&1 || true
    for i in $(seq 100); do
        kill -0 "$BENCH_CACHE_PID" 2>/dev/null || return 0
        ((i < 100)) || kill "$BENCH_CACHE_PID" 2>/dev/null || true
        sleep 0.02
    done
}
# Starts git's credential-cache daemon on SOCKET (an absolute path; its directory is created with
# mode 0700, which the daemon insists on) and stops it on exit (`git credential-cache exit`, then
# its pid if it lingers). Sets META_CACHE_DAEMON.
bench_credential_cache() {
    local sock=$1 daemon i
    [[ $sock = /* ]] || die "the credential-cache socket must be an absolute path"
    mkdir -p "$(dirname "$sock")"
    chmod 700 "$(dirname "$sock")"
    daemon=$(git --exec-path)/git-credential-cache--daemon
    [[ -x $daemon ]] || die "git has no credential-cache daemon ($daemon)"
    log "starting git credential-cache--daemon on a private socket"
    bench_at_exit _bench_stop_credential_cache
    BENCH_CACHE_SOCKET=$sock
    "$daemon" "$sock" >"$W/cache-daemon.out" 2>>"$W/log" </dev/null &
    BENCH_CACHE_PID=$!
    for i in $(seq 500); do
        [[ -S $sock ]] && grep -qx ok "$W/cache-daemon.out" 2>/dev/null && break
        kill -0 "$BENCH_CACHE_PID" 2>/dev/null || die "git credential-cache--daemon exited: $(cat "$W/log")"
        ((i < 500)) || die "git credential-cache--daemon did not listen within 5 s"
        sleep 0.01
    done
}

# --- measuring -----------------------------------------------------------------------------------
# Sets BENCH_ARGS to hyperfine's `-n ID CMD` for every "id|label|cmd|…" record, starting with
# record R (mod their number): each round times every record, in a rotated order.
bench_rotate() {
    local r=$1 k id cmd
    shift
    local recs=("$@")
    local n=${#recs[@]}
    BENCH_ARGS=()
    for ((k = 0; k < n; k++)); do
        IFS='|' read -r id _ cmd _ <<<"${recs[(r + k) % n]}"
        BENCH_ARGS+=(-n "$id" "$cmd")
    done
}
# bench_rss ID SAMPLES PREP CMD...: peak RSS (KiB, /usr/bin/time %M) of SAMPLES runs of CMD < query,
# one "ID<TAB>KiB" line each into rss.tsv. PREP is a command line evaluated before each run.
bench_rss() {
    local id=$1 samples=$2 prep=$3 i
    shift 3
    for ((i = 0; i < samples; i++)); do
        eval "$prep" || die "$id: preparation '$prep' failed"
        /usr/bin/time -f '%M' -o rss.tmp "$@" <query >/dev/null 2>>log || die "$id: failed under /usr/bin/time: $(tail -n3 log)"
        printf '%s\t%s\n' "$id" "$(tail -n1 rss.tmp)" >>rss.tsv
    done
}
# Keep the raw data of a run in $RESULTS_DIR/NAME (replacing the previous run's).
bench_keep() {
    local name=$1
    shift
    rm -rf "${RESULTS_DIR:?}/$name"
    mkdir -p "$RESULTS_DIR/$name"
    cp -r "$@" "$RESULTS_DIR/$name/"
}
# Runs the Python report read from stdin with benches/ importable (benchlib.py), the world and the
# doc as arguments. Exit status 0: all targets met; 3: a target not met (an error when STRICT=1).
bench_report() {
    local status=0
    PYTHONDONTWRITEBYTECODE=1 "$PY" - "$W" "$DOC" "$RESULTS_DIR/$1" || status=$?
    case $status in
    0) ;;
    3) [[ ${STRICT:-0} = 1 ]] && exit 1 ;;
    *) die "the report could not be computed" ;;
    esac
}
