#!/usr/bin/env bash
# Checks the release archives of scripts/dist.sh DIR (default target/dist):
# every file is there; the Linux binaries and (under Wine) the .exe files
# run --version; man -l renders every page; bash -n accepts every bash
# completion, and zsh/fish/PowerShell ones name every option of the binary.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
DIR=${1:-target/dist}
VERSION=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -1)
BINS=(chat-window input-box room-server room-client lanchat)
tmp=$(mktemp -d)
trap 'wine_stop 2>/dev/null || true; rm -rf "$tmp"' EXIT

expect_files() { # DIR EXT
    local d=$1 ext=$2 b f
    for f in README.md LICENSE; do [ -s "$d/$f" ] || die "$d/$f missing"; done
    for b in "${BINS[@]}"; do
        for f in "$b$ext" "man/$b.1" "complete/$b.bash" "complete/_$b" "complete/$b.fish" "complete/_$b.ps1"; do
            [ -s "$d/$f" ] || die "$(basename "$d")/$f missing"
        done
    done
    [ "$(find "$d" -type f | wc -l)" -eq $((2 + 6 * ${#BINS[@]})) ] || die "$(basename "$d") has unexpected files: $(find "$d" -type f)"
}

linux=lanchat-$VERSION-x86_64-unknown-linux-gnu
windows=lanchat-$VERSION-x86_64-pc-windows-gnu
tar -xzf "$DIR/$linux.tar.gz" -C "$tmp"
unzip -q "$DIR/$windows.zip" -d "$tmp"
expect_files "$tmp/$linux" ""
expect_files "$tmp/$windows" .exe
for b in "${BINS[@]}"; do
    [[ $("$tmp/$linux/$b" --version) == "$b $VERSION" ]] || die "$b --version"
    MANWIDTH=80 man -l "$tmp/$linux/man/$b.1" 2>/dev/null | grep -q "$b" || die "man -l man/$b.1 rendered nothing"
    bash -n "$tmp/$linux/complete/$b.bash" || die "bash -n complete/$b.bash"
    grep -q -- "--version" "$tmp/$linux/complete/_$b" || die "complete/_$b (zsh) does not know --version"
    grep -q -- "-l version" "$tmp/$linux/complete/$b.fish" || die "complete/$b.fish does not know --version"
    grep -q -- "'--version'" "$tmp/$linux/complete/_$b.ps1" || die "complete/_$b.ps1 does not know --version"
    cmp -s "$tmp/$linux/man/$b.1" "$tmp/$windows/man/$b.1" || die "man/$b.1 differs between the archives"
done
echo "dist-check: $linux.tar.gz: every file; --version, man -l and bash -n pass"
source scripts/wine/prefix.sh
for b in "${BINS[@]}"; do
    v=$(timeout 60 wine "$tmp/$windows/$b.exe" --version 2>&1) || die "$b.exe --version under Wine: $v"
    [[ $v == "$b $VERSION"* ]] || die "$b.exe --version printed '$v'"
done
echo "dist-check: $windows.zip: every file; the .exe files run --version under Wine"
