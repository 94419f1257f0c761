//! Debian's mgba core through the frontend, with the project's Game Boy Advance test ROM
//! (`testrom/joypad-gba.s`): black, white while A is held, the left half grey while B is held.
//! One core per process (libretro's one global), so the cases run in one test function.

mod common;

use common::{level, run, testrom};
use glint_emulators::{button, resolve_core, Core};

#[test]
fn the_gba_test_rom_in_mgba() {
    common::loads_and_refuses_a_file_it_cannot_run("mgba");

    let core = resolve_core("mgba").expect("scripts/setup installs it");
    let mut mgba = Core::load(&core, &testrom("joypad.gba"), &std::env::temp_dir())
        .expect("mgba runs the test ROM");
    assert!(
        (mgba.timing().fps - 59.73).abs() < 0.1,
        "{:?}",
        mgba.timing()
    );
    let idle = run(&mut mgba, 10, [0; 4]);
    assert_eq!((idle.width, idle.height), (240, 160));
    assert!(level(&idle, 0.0, 1.0) < 10.0, "not black while idle");
    // A full-screen fill from the cartridge takes the ROM about two frames.
    let a = run(&mut mgba, 10, [button::A, 0, 0, 0]);
    assert!(level(&a, 0.0, 1.0) > 240.0, "A does not turn it white");
    let b = run(&mut mgba, 10, [button::B, 0, 0, 0]);
    let (left, right) = (level(&b, 0.0, 0.5), level(&b, 0.5, 1.0));
    assert!(
        left > 100.0 && left < 160.0 && right < 10.0,
        "B: left {left}, right {right}"
    );
    // Player 2's pad is not player 1's.
    let other = run(&mut mgba, 10, [0, button::A, 0, 0]);
    assert!(level(&other, 0.0, 1.0) < 10.0, "port 2 drives port 1");
}

#[test]
fn gba_rom_matches_its_source() {
    common::rom_matches_its_source("arm-none-eabi-as", "build-gba.sh", &testrom("joypad.gba"));
}
