#!/bin/sh
# Install git-credential-azdo and register it with git: from a source checkout it builds the
# binary first; from an unpacked release archive (the binary beside this script, no Cargo.toml)
# it installs the binary it came with, without Rust. Run ./install.sh --help for usage.
set -eu

NAME=git-credential-azdo
# On Linux, $NAME is a small front for git's hot path and runs $FULL, installed beside it, for
# everything else; elsewhere $NAME is the whole program and $FULL is not installed.
FULL=$NAME-full
PREFIX=${PREFIX:-$HOME/.local}
BIN_DIR=$PREFIX/bin
TARGET=$BIN_DIR/$NAME
TARGET_FULL=$BIN_DIR/$FULL
SHARE=$PREFIX/share
# Generated from the command-line definition by the installed binary itself.
EXTRAS="bash:$SHARE/bash-completion/completions/$NAME
zsh:$SHARE/zsh/site-functions/_$NAME
fish:$SHARE/fish/vendor_completions.d/$NAME.fish
man:$SHARE/man/man1/$NAME.1"

say() { printf 'install.sh: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

HERE=$(cd "$(dirname "$0")" && pwd)
# An unpacked release archive: the prebuilt binary beside this script, and no sources.
prebuilt() { [ -f "$HERE/$NAME" ] && [ ! -f "$HERE/Cargo.toml" ]; }
# Whether this system's build is the front and the full program (Linux) or one program.
two_binaries() { [ "$(uname -s)" = Linux ]; }

usage() {
    cat <<EOF
Usage: ./install.sh [--dynamic] [--build-only] | --uninstall | --help

From a release archive (the binary beside this script): installs that binary as
\$PREFIX/bin/$NAME (on Linux with $FULL beside it), with completions and a manual
page, and registers it with git, as below; nothing is built (--dynamic and --build-only
need a source checkout).

From a source checkout, without options:
  builds the release binary (cargo build --release --locked); on x86_64 Linux with
  glibc, linked statically (-C target-feature=+crt-static, a static PIE): it starts a
  third faster, and git starts it on every fetch and push. That build resolves host names
  itself from /etc/hosts and /etc/resolv.conf (not through NSS: see README.md, "Static
  build"). On other Linux architectures (arm64) the binary is dynamic: Rust has no
  static PIE there yet, and a static non-PIE binary would lose address randomisation.
  installs it as \$PREFIX/bin/$NAME (mode 0755; PREFIX defaults to \$HOME/.local),
  on Linux with $FULL beside it ($NAME is a small front for git's hot path that
  runs $FULL for everything else: see README.md, "Two binaries on Linux"),
  with shell completions (bash, zsh, fish) and a manual page under \$PREFIX/share,
  and runs '$NAME configure --global' to register it with git.

--dynamic
  builds a dynamically linked binary instead, which resolves names through the system's
  resolver (nsswitch.conf: mDNS, LDAP, ...).

--build-only
  builds (as above) and prints the built binary's path on stdout (on Linux $FULL is
  beside it); installs nothing.

--uninstall
  runs '$NAME unconfigure --global', then removes \$PREFIX/bin/$NAME (and $FULL).
  Stored PATs are kept: run '$NAME logout ORG' first to remove them.

Now: PREFIX=$PREFIX
EOF
}

# The package that provides a C compiler, for the message when `cc` is missing.
cc_hint() {
    if [ "$(uname -s)" = Darwin ]; then
        echo "the Xcode command line tools: xcode-select --install"
        return
    fi
    id=
    if [ -r /etc/os-release ]; then
        # shellcheck disable=SC1091
        id=$(. /etc/os-release && echo "${ID:-} ${ID_LIKE:-}")
    fi
    case " $id " in
    *" debian "* | *" ubuntu "*) echo "package gcc (apt-get install gcc), or build-essential" ;;
    *" fedora "* | *" rhel "* | *" centos "*) echo "package gcc (dnf install gcc)" ;;
    *" arch "*) echo "package gcc (pacman -S gcc)" ;;
    *" alpine "*) echo "package build-base (apk add build-base)" ;;
    *" opensuse"* | *" suse "*) echo "package gcc (zypper install gcc)" ;;
    *) echo "your distribution's gcc package" ;;
    esac
}

# The target triple of this machine's Rust toolchain.
host_triple() {
    rustc -vV | sed -n 's/^host: //p'
}

# Whether this C toolchain links a static PIE with packed relative relocations (DT_RELR, ld's
# -z pack-relative-relocs) that runs: binutils 2.38 and a glibc of 2.36 or later. The static
# binary relocates itself at start; packed, its relocation table is 3 KiB instead of 240 KiB.
relr_works() {
    probe=$(mktemp -d) || return 1
    printf 'static int x; int *p = &x; int main(void) { return *p; }\n' >"$probe/t.c"
    ok=1
    if cc -static-pie -fPIE -Wl,-z,pack-relative-relocs "$probe/t.c" -o "$probe/t" 2>/dev/null &&
        "$probe/t" 2>/dev/null; then
        ok=0
    fi
    rm -rf "$probe"
    return $ok
}

# Build the release binary; prints its path. $1: "static" or "dynamic".
build_helper() {
    if prebuilt; then
        [ "$link" = static ] || die "--dynamic needs a source checkout: this archive holds a prebuilt binary"
        built=$HERE/$NAME
        [ -x "$built" ] || die "$built is not executable"
        if two_binaries; then
            [ -x "$HERE/$FULL" ] || die "$HERE/$FULL is missing or not executable: this archive is incomplete"
        fi
        say "installing the prebuilt binary of this archive"
        return 0
    fi
    command -v cargo >/dev/null 2>&1 || die "cargo not found: install Rust (rustup) first"
    command -v git >/dev/null 2>&1 || die "git not found: install git first"
    # Rust links through cc; on Linux the keyring crate also compiles libdbus from source
    # (vendored), so no libdbus development package is needed, but a C compiler is.
    command -v cc >/dev/null 2>&1 || die "no C compiler ('cc') found: install $(cc_hint)"

    cd "$HERE"
    host=$(host_triple)
    set -- --release --locked
    if [ "$link" = static ]; then
        case "$host" in
        x86_64-*-linux-gnu)
            # An explicit --target keeps the flag off build scripts and proc macros, which
            # must stay dynamic; the binary lands in target/$host/release.
            set -- "$@" --target "$host"
            RUSTFLAGS="${RUSTFLAGS:+$RUSTFLAGS }-C target-feature=+crt-static"
            if relr_works; then
                RUSTFLAGS="$RUSTFLAGS -C link-arg=-Wl,-z,pack-relative-relocs"
            fi
            export RUSTFLAGS
            ;;
        *-linux-gnu)
            # rustc's aarch64 (and other non-x86_64) glibc targets have no static PIE: with
            # +crt-static they give a static non-PIE binary, loaded at a fixed address (no
            # address randomisation). The dynamic build keeps ASLR.
            say "note: no static PIE for $host with this Rust: building the dynamic binary (it keeps address randomisation)"
            ;;
        esac
    fi
    say "building: ${RUSTFLAGS:+RUSTFLAGS='$RUSTFLAGS' }cargo build $*"
    # The JSON messages name the built executable wherever the target directory is.
    messages=$(cargo build "$@" --message-format=json-render-diagnostics) ||
        die "the build failed (see cargo's messages above)"
    built=$(printf '%s\n' "$messages" |
        sed -n 's/.*"executable":"\([^"]*\/'"$NAME"'\)".*/\1/p' | tail -n 1)
    if [ -z "$built" ] || [ ! -x "$built" ]; then
        die "cargo did not report the built $NAME binary"
    fi
    # Both binaries of the package are built together, into the same directory.
    if two_binaries && [ ! -x "$(dirname "$built")/$FULL" ]; then
        die "cargo did not build $FULL beside $built"
    fi
}

# Install the file $1 as $2 (mode 0755): copied next to it, then renamed, so that a git process
# running the old binary is not disturbed.
put() {
    tmp=$(dirname "$2")/.$(basename "$2").tmp.$$
    trap 'rm -f "$tmp"' EXIT
    cp "$1" "$tmp"
    chmod 0755 "$tmp"
    mv -f "$tmp" "$2"
    trap - EXIT
    say "installed $2"
}

install_helper() {
    build_helper

    mkdir -p "$BIN_DIR"
    # The full program first: the front is never there without it.
    if two_binaries; then
        put "$(dirname "$built")/$FULL" "$TARGET_FULL"
    fi
    put "$built" "$TARGET"

    printf '%s\n' "$EXTRAS" | while IFS=: read -r kind file; do
        mkdir -p "$(dirname "$file")"
        if [ "$kind" = man ]; then
            "$TARGET" man >"$file"
        else
            "$TARGET" completions "$kind" >"$file"
        fi
        chmod 0644 "$file"
        say "installed $file"
    done

    say "running: $TARGET configure --global"
    "$TARGET" configure --global

    case ":${PATH:-}:" in
    *":$BIN_DIR:"*) ;;
    *)
        say "warning: $BIN_DIR is not on PATH."
        say "  git works anyway (its config names $TARGET by absolute path),"
        say "  but 'git credential-azdo login ...' needs it on PATH; until then run $TARGET login ..."
        ;;
    esac
    if [ "$(uname -s)" = Linux ] && [ -z "${DBUS_SESSION_BUS_ADDRESS:-}" ] &&
        [ ! -S "${XDG_RUNTIME_DIR:-/nonexistent}/bus" ]; then
        say "note: no D-Bus session bus here, so the default keyring store has no Secret Service."
        say "  Start one (e.g. gnome-keyring), or opt in to the file store: git config --global azdo.store file"
    fi
    say "done. Check with: $TARGET status"
}

uninstall_helper() {
    if [ ! -e "$TARGET" ] && [ ! -e "$TARGET_FULL" ]; then
        say "nothing installed at $TARGET (set PREFIX if it was installed elsewhere)"
        say "  to remove a configuration left behind, run from a checkout: cargo run -- unconfigure --global"
        exit 1
    fi
    # Whichever of the two is there and runs takes git's configuration back; the files go anyway.
    unconfigured=
    for program in "$TARGET" "$TARGET_FULL"; do
        if [ -z "$unconfigured" ] && [ -x "$program" ]; then
            say "running: $program unconfigure --global"
            if "$program" unconfigure --global; then
                unconfigured=yes
            fi
        fi
    done
    [ -n "$unconfigured" ] || say "warning: could not run unconfigure; remove the helper from git's configuration by hand"
    for program in "$TARGET" "$TARGET_FULL"; do
        if [ -e "$program" ]; then
            rm -f "$program"
            say "removed $program"
        fi
    done
    printf '%s\n' "$EXTRAS" | while IFS=: read -r _ file; do
        if [ -f "$file" ]; then
            rm -f "$file"
            say "removed $file"
        fi
    done
    say "stored PATs were left in place (keyring items, or the file store if you chose it)"
}

link=static
action=install
for arg in "$@"; do
    case "$arg" in
    --dynamic) link=dynamic ;;
    --build-only) action=build ;;
    --uninstall) action=uninstall ;;
    -h | --help) action=help ;;
    *)
        usage >&2
        exit 2
        ;;
    esac
done
case "$action" in
install) install_helper ;;
build)
    prebuilt && die "--build-only needs a source checkout: this archive holds a prebuilt binary"
    build_helper
    printf '%s\n' "$built"
    ;;
uninstall) uninstall_helper ;;
help) usage ;;
esac
