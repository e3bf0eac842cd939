# Sourced by .ci/cross and .ci/release (not run on its own): Debian's Rust toolchain for the
# other systems, kept apart from rustup's, and the emulators that run their programs here.
# The sourcing script sets `root` (the checkout) and `set -euo pipefail` first.
#
# Debian's own Rust (rustc-web, from bookworm-security) builds std from source for each target
# (-Zbuild-std; RUSTC_BOOTSTRAP=1 allows it on a stable compiler). It is kept apart from rustup's
# toolchain: Debian's /usr/bin ahead of ~/.cargo/bin on PATH, RUSTC and RUSTDOC named, RUSTUP_TOOLCHAIN unset, a CARGO_HOME
# and target directories of its own under the cache directory (CROSS_CACHE, by default
# ~/.cache/git-credential-azdo-cross), which later runs on the same machine reuse.

say() { printf '.ci/%s: %s\n' "${0##*/}" "$*" >&2; }
die() { say "error: $*"; exit 1; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo -n "$@"; fi; }

cache=${CROSS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/git-credential-azdo-cross}
mkdir -p "$cache/logs"
export CI=${CI:-true}
export DEBIAN_FRONTEND=noninteractive

# Seconds one test binary may run under emulation (a fork can deadlock under qemu). The
# end-to-end tests take some 15 minutes under qemu on 2 idle cores.
export CROSS_TEST_TIMEOUT=${CROSS_TEST_TIMEOUT:-2400}

win=x86_64-pc-windows-gnu
arm=aarch64-unknown-linux-gnu
macs=(x86_64-apple-darwin aarch64-apple-darwin)

# --- packages ---------------------------------------------------------------------------------

# Debian's Rust 1.96 is in bookworm-security; bookworm itself has 1.85 under the same names.
rust_packages=(rustc-web cargo-web rust-web-src rust-web-clippy)
# mingw: the Windows linker and C compiler (ring). wine: runs the .exe. clang, llvm: ring's C for
# the macOS type-check. The aarch64 cross gcc and libc; qemu-user-static and binfmt-support run
# arm64 programs (git starts the arm64 helper); libc6:arm64 puts the arm64 loader where an arm64
# system has it. iproute2, util-linux: the private network namespaces. zip: the release archive.
other_packages=(mingw-w64 gcc-mingw-w64-x86-64 wine wine64 clang llvm gcc-aarch64-linux-gnu
    libc6-dev-arm64-cross qemu-user-static binfmt-support libc6:arm64 libgcc-s1:arm64 iproute2
    util-linux zip unzip)

packages() {
    local missing=() p
    for p in "${rust_packages[@]}" "${other_packages[@]}"; do
        dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null | grep -q '^ii' || missing+=("$p")
    done
    if ! /usr/bin/rustc -V 2>/dev/null | grep -q '^rustc 1\.9[6-9]'; then
        missing+=("${rust_packages[@]}")
    fi
    [ "${#missing[@]}" -gt 0 ] || return 0
    say "installing: ${missing[*]}"
    dpkg --print-foreign-architectures | grep -qx arm64 || as_root dpkg --add-architecture arm64
    as_root apt-get update -q
    as_root apt-get install -y -q --no-install-recommends -t bookworm-security "${rust_packages[@]}"
    as_root apt-get install -y -q --no-install-recommends "${other_packages[@]}"
    /usr/bin/rustc -V | grep -q '^rustc 1\.9[6-9]' || die "Debian's rustc is not 1.96 or later"
}

# --- Debian's toolchain, apart from rustup's ---------------------------------------------------

toolchain() {
    unset RUSTUP_TOOLCHAIN RUSTFLAGS CARGO_TARGET_DIR CARGO_BUILD_TARGET
    # /usr/local/bin first for the tests' git (a newer git may live there, as on CI machines);
    # it must hold no Rust tool, so cargo and rustc are Debian's.
    export PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin
    local tool
    for tool in cargo rustc rustdoc cargo-clippy clippy-driver; do
        [ ! -e "/usr/local/bin/$tool" ] || die "/usr/local/bin/$tool would shadow Debian's Rust"
    done
    export RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc
    export CARGO_HOME=$cache/cargo-home
    export RUSTC_BOOTSTRAP=1
    export CARGO_TERM_COLOR=never
    # Windows: mingw links and compiles ring's C.
    export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_LINKER=x86_64-w64-mingw32-gcc
    export CC_x86_64_pc_windows_gnu=x86_64-w64-mingw32-gcc
    export AR_x86_64_pc_windows_gnu=x86_64-w64-mingw32-ar
    export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER=$root/.ci/wine/run
    # arm64 Linux.
    export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
    export CC_aarch64_unknown_linux_gnu=aarch64-linux-gnu-gcc
    export AR_aarch64_unknown_linux_gnu=aarch64-linux-gnu-ar
    export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER=$root/.ci/qemu/run
    # macOS: clang with a stand-in TargetConditionals.h, for ring's C (type-checking only).
    local t v
    for t in "${macs[@]}"; do
        v=${t//-/_}
        export "CC_$v=clang" "AR_$v=llvm-ar"
        export "CFLAGS_$v=-ffreestanding -DRING_CORE_NOSTDLIBINC -isystem $root/.ci/macos"
    done
}

# cargo with std built from source for target $1; the lane's own target directory.
xcargo() {
    local sub=$1 target=$2
    shift 2
    CARGO_TARGET_DIR=$cache/target-$target cargo "$sub" --locked --target "$target" \
        -Zbuild-std=std,panic_abort "$@"
}

# --- emulators -------------------------------------------------------------------------------

wine_setup() {
    export WINEPREFIX=$cache/wine-prefix WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
    local dll=$cache/bcryptprimitives.dll
    if [ ! -f "$dll" ] || [ "$root/.ci/wine/processprng.c" -nt "$dll" ]; then
        x86_64-w64-mingw32-gcc -O2 -shared -o "$dll" "$root/.ci/wine/processprng.c" -ladvapi32
    fi
    if [ ! -d "$WINEPREFIX/drive_c/windows/system32" ]; then
        wineboot -i >/dev/null 2>&1 || true
        wineserver -w
    fi
    [ -d "$WINEPREFIX/drive_c/windows/system32" ] || die "wineboot made no Wine prefix"
    cp "$dll" "$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll"
}

binfmt_setup() {
    if [ ! -e /proc/sys/fs/binfmt_misc/register ]; then
        as_root mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
    fi
    as_root update-binfmts --enable qemu-aarch64 2>/dev/null || true
    [ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ] || die "binfmt: no qemu-aarch64 entry"
    grep -qx enabled /proc/sys/fs/binfmt_misc/qemu-aarch64 || die "binfmt: qemu-aarch64 disabled"
}

