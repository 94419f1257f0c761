/* Glint's NES test ROM (cc65, `cl65 -t nes`): shows joypad 1's state and beeps on A.
 *
 * - The whole background turns white while A is held (black otherwise): a large, easy change
 *   for tests that read the picture.
 * - Row 6 prints the pad byte in hex ("PAD 01"), and row 8 one letter per held button
 *   (A B s S U D L R), so every button changes the picture.
 * - While A is held, pulse channel 1 plays a ~440 Hz square wave.
 *
 * Waits for vblank with waitvsync(): cc65's runtime reads the PPU status in its NMI handler.
 */
#include <nes.h>
#include <conio.h>
#include <joystick.h>
#include <peekpoke.h>

static const char names[8] = { 'A', 'B', 's', 'S', 'U', 'D', 'L', 'R' };
static const unsigned char masks[8] = {
    JOY_BTN_A_MASK, JOY_BTN_B_MASK, JOY_SELECT_MASK, JOY_START_MASK,
    JOY_UP_MASK, JOY_DOWN_MASK, JOY_LEFT_MASK, JOY_RIGHT_MASK,
};

static void tone(unsigned char on) {
    if (on) {
        POKE(0x4015, 0x01);       /* enable pulse 1 */
        POKE(0x4000, 0xBF);       /* duty 50 %, constant volume 15 */
        POKE(0x4001, 0x08);       /* no sweep */
        POKE(0x4002, 0xFD);       /* period 253: 1789773 / (16 * 254) = 440 Hz */
        POKE(0x4003, 0x00);
    } else {
        POKE(0x4015, 0x00);
    }
}

void main(void) {
    unsigned char pad, last = 0xFF, i;
    joy_install(joy_static_stddrv);
    bgcolor(COLOR_BLACK);
    textcolor(COLOR_WHITE);
    clrscr();
    cputsxy(2, 2, "GLINT TEST ROM");
    for (;;) {
        waitvsync();
        pad = joy_read(JOY_1);
        if (pad == last) {
            continue;
        }
        last = pad;
        bgcolor((pad & JOY_BTN_A_MASK) ? COLOR_WHITE : COLOR_BLACK);
        gotoxy(2, 6);
        cprintf("PAD %02X", pad);
        gotoxy(2, 8);
        for (i = 0; i < 8; ++i) {
            cputc((pad & masks[i]) ? names[i] : '.');
        }
        tone(pad & JOY_BTN_A_MASK);
    }
}
