//! Physical keys: the wire carries USB HID usages (keyboard page 0x07), the web client maps
//! `KeyboardEvent.code` to them (`web-client/src/keymap.js`), and the host maps them to Linux
//! evdev codes; an X server with the evdev keycodes (Xorg, Xvfb) uses evdev + 8.

/// HID usage 0x00..=0xE7 to evdev code; 0 where there is none. The table of Linux's
/// `drivers/hid/hid-input.c`.
#[rustfmt::skip]
const HID_TO_EVDEV: [u8; 232] = [
      0,  0,  0,  0, 30, 48, 46, 32, 18, 33, 34, 35, 23, 36, 37, 38,
     50, 49, 24, 25, 16, 19, 31, 20, 22, 47, 17, 45, 21, 44,  2,  3,
      4,  5,  6,  7,  8,  9, 10, 11, 28,  1, 14, 15, 57, 12, 13, 26,
     27, 43, 43, 39, 40, 41, 51, 52, 53, 58, 59, 60, 61, 62, 63, 64,
     65, 66, 67, 68, 87, 88, 99, 70,119,110,102,104,111,107,109,106,
    105,108,103, 69, 98, 55, 74, 78, 96, 79, 80, 81, 75, 76, 77, 71,
     72, 73, 82, 83, 86,127,116,117,183,184,185,186,187,188,189,190,
    191,192,193,194,134,138,130,132,128,129,131,137,133,135,136,113,
    115,114,  0,  0,  0,121,  0, 89, 93,124, 92, 94, 95,  0,  0,  0,
    122,123, 90, 91, 85,  0,  0,  0,  0,  0,  0,  0,111,  0,  0,  0,
      0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
      0,  0,  0,  0,  0,  0,179,180,  0,  0,  0,  0,  0,  0,  0,  0,
      0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
      0,  0,  0,  0,  0,  0,  0,  0,111,  0,  0,  0,  0,  0,  0,  0,
     29, 42, 56,125, 97, 54,100,126,
];

/// The evdev code of a HID usage, if it has one.
pub fn hid_to_evdev(usage: u16) -> Option<u16> {
    let code = *HID_TO_EVDEV.get(usize::from(usage))?;
    (code != 0).then_some(u16::from(code))
}

/// The X keycode of a HID usage on a server with evdev keycodes.
pub fn hid_to_x11_keycode(usage: u16) -> Option<u16> {
    hid_to_evdev(usage).map(|c| c + 8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn letters_digits_and_modifiers_map_to_evdev() {
        assert_eq!(hid_to_evdev(0x04), Some(30)); // KeyA -> KEY_A
        assert_eq!(hid_to_evdev(0x1d), Some(44)); // KeyZ -> KEY_Z
        assert_eq!(hid_to_evdev(0x27), Some(11)); // Digit0 -> KEY_0
        assert_eq!(hid_to_evdev(0x28), Some(28)); // Enter
        assert_eq!(hid_to_evdev(0x52), Some(103)); // ArrowUp
        assert_eq!(hid_to_evdev(0xe1), Some(42)); // ShiftLeft
        assert_eq!(hid_to_evdev(0xe7), Some(126)); // MetaRight
        assert_eq!(hid_to_x11_keycode(0x04), Some(38)); // 'a' on an evdev X server
    }

    #[test]
    fn unknown_usages_map_to_nothing() {
        assert_eq!(hid_to_evdev(0), None);
        assert_eq!(hid_to_evdev(0xe8), None);
        assert_eq!(hid_to_evdev(u16::MAX), None);
    }
}
