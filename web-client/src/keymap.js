// KeyboardEvent.code (a physical key position, the same on every layout) to USB HID usage
// (keyboard page 0x07), the stable key code of the input protocol. The host maps usages to
// its own key codes (host/src/input/keymap.rs).

const usage = new Map();
const letters = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
for (let i = 0; i < 26; i++) usage.set(`Key${letters[i]}`, 0x04 + i);
for (let i = 1; i <= 9; i++) usage.set(`Digit${i}`, 0x1d + i);
usage.set('Digit0', 0x27);
for (let i = 1; i <= 12; i++) usage.set(`F${i}`, 0x39 + i);
for (let i = 13; i <= 24; i++) usage.set(`F${i}`, 0x68 + i - 13);
for (let i = 1; i <= 9; i++) usage.set(`Numpad${i}`, 0x58 + i);
const named = {
  Enter: 0x28, Escape: 0x29, Backspace: 0x2a, Tab: 0x2b, Space: 0x2c, Minus: 0x2d,
  Equal: 0x2e, BracketLeft: 0x2f, BracketRight: 0x30, Backslash: 0x31, IntlHash: 0x32,
  Semicolon: 0x33, Quote: 0x34, Backquote: 0x35, Comma: 0x36, Period: 0x37, Slash: 0x38,
  CapsLock: 0x39, PrintScreen: 0x46, ScrollLock: 0x47, Pause: 0x48, Insert: 0x49, Home: 0x4a,
  PageUp: 0x4b, Delete: 0x4c, End: 0x4d, PageDown: 0x4e, ArrowRight: 0x4f, ArrowLeft: 0x50,
  ArrowDown: 0x51, ArrowUp: 0x52, NumLock: 0x53, NumpadDivide: 0x54, NumpadMultiply: 0x55,
  NumpadSubtract: 0x56, NumpadAdd: 0x57, NumpadEnter: 0x58, Numpad0: 0x62, NumpadDecimal: 0x63,
  IntlBackslash: 0x64, ContextMenu: 0x65, Power: 0x66, NumpadEqual: 0x67, NumpadComma: 0x85,
  IntlRo: 0x87, KanaMode: 0x88, IntlYen: 0x89, Convert: 0x8a, NonConvert: 0x8b, Lang1: 0x90,
  Lang2: 0x91, ControlLeft: 0xe0, ShiftLeft: 0xe1, AltLeft: 0xe2, MetaLeft: 0xe3,
  ControlRight: 0xe4, ShiftRight: 0xe5, AltRight: 0xe6, MetaRight: 0xe7,
  OSLeft: 0xe3, OSRight: 0xe7,
};
for (const [code, u] of Object.entries(named)) usage.set(code, u);

/** The HID usage of a `KeyboardEvent.code`, or undefined for keys the protocol lacks. */
export function codeToUsage(code) {
  return usage.get(code);
}

/**
 * Keys whose characters tell common layouts apart, as the Keyboard API's layout map gives them
 * (`navigator.keyboard.getLayoutMap()`: code → the character the key types unshifted), with
 * the XKB name of each layout. The first row whose every key matches wins.
 */
const LAYOUT_SIGNS = [
  ['fr', { KeyQ: 'a', KeyW: 'z', Digit2: 'é' }],
  ['be', { KeyQ: 'a', KeyW: 'z', Digit2: 'é', Digit6: '§' }],
  ['de', { KeyY: 'z', Semicolon: 'ö', Quote: 'ä', Minus: 'ß' }],
  ['ch', { KeyY: 'z', Semicolon: 'é' }],
  ['es', { Semicolon: 'ñ' }],
  ['it', { Semicolon: 'ò', BracketLeft: 'è' }],
  ['pt', { Semicolon: 'ç', Quote: 'º' }],
  ['se', { Semicolon: 'ö', Quote: 'ä', BracketLeft: 'å' }],
  ['no', { Semicolon: 'ø', Quote: 'æ' }],
  ['dk', { Semicolon: 'æ', Quote: 'ø' }],
  ['ru', { KeyQ: 'й' }],
  ['gb', { KeyQ: 'q', Backslash: '#' }],
  ['us', { KeyQ: 'q', KeyY: 'y', Semicolon: ';', Quote: "'" }],
];

/**
 * The XKB layout a Keyboard API layout map (a Map, or anything with `get`) looks like, or null
 * when it matches none of the common ones. More specific rows come before the ones they
 * include (Belgian before French).
 */
export function guessLayout(map) {
  if (!map || typeof map.get !== 'function') return null;
  const fits = ([, signs]) => Object.entries(signs).every(([code, ch]) => map.get(code) === ch);
  const specific = LAYOUT_SIGNS.filter(fits).sort((a, b) => Object.keys(b[1]).length - Object.keys(a[1]).length);
  return specific[0]?.[0] ?? null;
}
