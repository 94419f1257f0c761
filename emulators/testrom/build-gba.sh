#!/usr/bin/env bash
# Rebuilds joypad.gba from joypad-gba.s with Debian's binutils-arm-none-eabi. The binary is
# committed; `gba_rom_matches_its_source` (emulators/tests/mgba.rs) checks that a fresh build
# gives the same bytes whenever arm-none-eabi-as is installed.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="${1:-$here/joypad.gba}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
arm-none-eabi-as -mcpu=arm7tdmi -o "$tmp/joypad.o" "$here/joypad-gba.s"
arm-none-eabi-ld -Ttext=0x08000000 --build-id=none -o "$tmp/joypad.elf" "$tmp/joypad.o"
arm-none-eabi-objcopy -O binary "$tmp/joypad.elf" "$out"
