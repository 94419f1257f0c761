#!/usr/bin/env node
// Glint's Game Boy test ROM, assembled by hand: the screen is black, and white while A is
// held. Debian packages no Game Boy assembler, so the program is listed here byte by byte
// with its mnemonics; running this script writes joypad.gb (or the path given). The binary
// is committed; `gb_rom_matches_its_source` (emulators/tests/gambatte.rs) checks this script
// still produces it.
//
// Without a boot ROM the emulators start at 0x100 with the LCD on and the background shown;
// every background colour goes through the palette register BGP (0xFF47), so writing 0xFF
// (all black) or 0x00 (all white) there colours the whole screen.
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const rom = new Uint8Array(32 * 1024);
const put = (at, bytes) => rom.set(bytes, at);

put(0x100, [
  0x00, //             nop
  0xc3, 0x50, 0x01, // jp $0150
]);
// The first bytes of the logo area, which emulators check to recognise a Game Boy ROM.
put(0x104, [0xce, 0xed, 0x66, 0x66]);
put(0x134, [...'GLINT'].map((c) => c.charCodeAt(0))); // title
put(0x147, [0x00, 0x00, 0x00, 0x01]); // ROM only, 32 KiB, no RAM, not for Japan
// Header checksum over 0x134–0x14C, as the boot ROM computes it.
let sum = 0;
for (let i = 0x134; i <= 0x14c; i += 1) sum = (sum - rom[i] - 1) & 0xff;
rom[0x14d] = sum;

put(0x150, [
  0xf3, //             di
  0x31, 0xfe, 0xff, // ld sp, $FFFE
  // loop ($0154):
  0x3e, 0x10, //       ld a, $10        select the action buttons (P15 low)
  0xe0, 0x00, //       ldh ($00), a
  0xf0, 0x00, //       ldh a, ($00)     read twice: the lines settle
  0xf0, 0x00, //       ldh a, ($00)
  0xe6, 0x01, //       and $01          bit 0: A, 0 while held
  0x20, 0x04, //       jr nz, +4        released → black
  0x3e, 0x00, //       ld a, $00        held: every colour white
  0x18, 0x02, //       jr +2
  0x3e, 0xff, //       ld a, $FF        every colour black
  0xe0, 0x47, //       ldh ($47), a     BGP
  0x18, 0xea, //       jr loop          ($016A − $16 = $0154)
]);

const out = process.argv[2] || fileURLToPath(new URL('./joypad.gb', import.meta.url));
writeFileSync(out, rom);
