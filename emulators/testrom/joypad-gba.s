@ Glint's Game Boy Advance test ROM: the screen is black, and white while A is held; with B
@ held its left half is grey. Built by build-gba.sh with Debian's binutils-arm-none-eabi
@ (no C library, no BIOS calls: it runs from the cartridge's first instruction).
@
@ The header is all zeros but for what emulators check: the branch at 0 and 0x96 at 0xB2,
@ with the complement check byte at 0xBD that matches those zeros.

        .arm
        .section .text
        .global _start
_start:
        b       main
        .fill   0xB2 - 4, 1, 0          @ logo, title, codes: unused
        .byte   0x96                    @ fixed value
        .fill   0xBD - 0xB3, 1, 0       @ unit, device, reserved, version
        .byte   0x51                    @ complement check: -(0x96) - 0x19
        .fill   2, 1, 0                 @ reserved

main:
        mov     r0, #0x04000000         @ display control: mode 3 (240x160, 15-bit), BG2 on
        ldr     r1, =0x0403
        strh    r1, [r0]
        ldr     r3, =0x04000130         @ KEYINPUT: a bit is 0 while its key is held
frame:
        ldrh    r4, [r3]
        tst     r4, #1                  @ A
        moveq   r5, #0x7F00             @ white: 0x7FFF in both halves of the word
        orreq   r5, r5, #0xFF
        orreq   r5, r5, r5, lsl #16
        movne   r5, #0                  @ black
        mov     r6, #0x06000000         @ VRAM, one row of 240 pixels is 480 bytes
        mov     r8, #160
row:
        mov     r7, #60                 @ left half: 60 words
        tst     r4, #2                  @ B held: the left half is grey
        ldreq   r9, =0x3DEF3DEF
        movne   r9, r5
left:
        str     r9, [r6], #4
        subs    r7, r7, #1
        bne     left
        mov     r7, #60                 @ right half
right:
        str     r5, [r6], #4
        subs    r7, r7, #1
        bne     right
        subs    r8, r8, #1
        bne     row
        b       frame
        .pool
