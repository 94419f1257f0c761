#!/usr/bin/env bash
# Rebuilds joypad.nes from joypad.c with cc65 (Debian package `cc65`). The binary is committed
# so the emulator tests run without cc65; `joypad_rom_matches_its_source` checks that a fresh
# build gives the same bytes whenever cl65 is installed.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="${1:-$here/joypad.nes}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cp "$here/joypad.c" "$tmp/"
(cd "$tmp" && cl65 -t nes -O -o "$out" joypad.c)
