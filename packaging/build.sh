#!/bin/bash
# Build the instance-ha packages: static musl binaries (dist profile), then
# a .deb (cargo-deb) and an .rpm (cargo-generate-rpm) from the same files.
#
#   packaging/build.sh            # from anywhere in the repository
#
# Output: target/debian/instance-ha_<version>-1_amd64.deb
#         target/x86_64-unknown-linux-musl/generate-rpm/instance-ha-<version>-1.x86_64.rpm
# (both paths are printed at the end, and written to target/packages.txt).
#
# Needs: rustup, a C compiler for musl (ring compiles C: apt-get install
# musl-tools), network access to crates.io for the first run. The two
# packaging tools are installed with `cargo install --locked` only when
# missing (about 6.5 minutes on 2 cores, once).
#
# Environment: CARGO_DEB_VERSION / CARGO_GENERATE_RPM_VERSION pin the tool
# versions installed when missing (defaults below, the versions measured).
set -euo pipefail

TARGET=x86_64-unknown-linux-musl
PROFILE=dist
CARGO_DEB_VERSION=${CARGO_DEB_VERSION:-3.8.0}
CARGO_GENERATE_RPM_VERSION=${CARGO_GENERATE_RPM_VERSION:-0.21.1}

cd "$(dirname "$0")/.."
ROOT=$(pwd)
export PATH="$HOME/.cargo/bin:$PATH"

die() { echo "build.sh: $*" >&2; exit 1; }
step() { echo "==> $*" >&2; }
START=$(date +%s)

# --- prerequisites ------------------------------------------------------
command -v cargo >/dev/null || die "cargo not found (install rustup)"
if ! rustup target list --installed 2>/dev/null | grep -qx "$TARGET"; then
    step "rustup target add $TARGET"
    rustup target add "$TARGET"
fi
if ! command -v musl-gcc >/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        step "apt-get install musl-tools (ring compiles C for $TARGET)"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q musl-tools >/dev/null
    else
        die "musl-gcc not found: install musl-tools (ring compiles C for $TARGET)"
    fi
fi
export CC_x86_64_unknown_linux_musl=musl-gcc

install_tool() { # subcommand crate version
    if cargo "$1" --version >/dev/null 2>&1; then
        return
    fi
    step "cargo install --locked $2@$3 (once; several minutes)"
    cargo install --locked "$2@$3"
}
install_tool deb cargo-deb "$CARGO_DEB_VERSION"
install_tool generate-rpm cargo-generate-rpm "$CARGO_GENERATE_RPM_VERSION"

# --- generated documentation must be current -----------------------------
# The packages ship docs/man/*.8 and docs/parameters.md; refuse to package
# stale ones (tests/docs.rs checks the same in cargo test).
step "checking generated docs (cargo run --example gen-docs -- --check)"
cargo run -q --example gen-docs -- --check >/dev/null \
    || die "generated docs are stale: run 'cargo run --example gen-docs' and commit"

VERSION=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)
head -n 1 packaging/deb/changelog | grep -q "^instance-ha ($VERSION-1)" \
    || die "packaging/deb/changelog's top entry is not $VERSION-1: add an entry for this version"

# --- binaries -------------------------------------------------------------
step "cargo build --profile $PROFILE --target $TARGET --bins"
cargo build --locked --profile "$PROFILE" --target "$TARGET" --bins

BIN="target/$TARGET/$PROFILE"
for b in fence_compute fence_evacuate NovaEvacuate nova-compute-wait instance-ha; do
    [ -x "$BIN/$b" ] || die "missing $BIN/$b"
    # Statically linked, or it will not run on RHEL 8 (glibc 2.28) and friends.
    if command -v file >/dev/null; then
        file -b "$BIN/$b" | grep -Eq "static(-pie)? linked" || die "$BIN/$b is not statically linked: $(file -b "$BIN/$b")"
    fi
done

# --- packages -------------------------------------------------------------
step "cargo deb --no-build"
DEB=$(cargo deb --no-build --no-strip --target "$TARGET" --profile "$PROFILE" 2>/dev/null | tail -n 1)
[ -f "$DEB" ] || die "cargo deb did not report a package (got: $DEB)"

step "cargo generate-rpm"
# zstd payload (the default): 2.2 MB, against 5.8 MB with xz and 6.8 MB
# with gzip (measured). rpm reads it from 4.14 with zstd (RHEL 8, Fedora
# 31); RHEL 7 (EOL) cannot: use --payload-compress xz for it.
cargo generate-rpm --target "$TARGET" --profile "$PROFILE" --payload-compress "${RPM_PAYLOAD_COMPRESS:-zstd}"
RPM=$(ls -t "target/$TARGET/generate-rpm/"instance-ha-*.rpm | head -n 1)
[ -f "$RPM" ] || die "cargo generate-rpm produced no package"

DEB=$(realpath --relative-to="$ROOT" "$DEB")
printf '%s\n%s\n' "$DEB" "$RPM" > target/packages.txt
step "done in $(( $(date +%s) - START ))s"
echo "$DEB"
echo "$RPM"
