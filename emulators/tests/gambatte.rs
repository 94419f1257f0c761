//! Debian's gambatte core through the frontend, with the project's Game Boy test ROM
//! (`testrom/joypad-gb.mjs`): black, white while A is held. One core per process (libretro's
//! one global), so the cases run in one test function.

mod common;

use common::{level, run, testrom};
use glint_emulators::{button, resolve_core, Core};

#[test]
fn the_gb_test_rom_in_gambatte() {
    common::loads_and_refuses_a_file_it_cannot_run("gambatte");

    let core = resolve_core("gambatte").expect("scripts/setup installs it");
    let mut gb = Core::load(&core, &testrom("joypad.gb"), &std::env::temp_dir())
        .expect("gambatte runs the test ROM");
    assert!((gb.timing().fps - 59.73).abs() < 0.1, "{:?}", gb.timing());
    let idle = run(&mut gb, 10, [0; 4]);
    assert_eq!((idle.width, idle.height), (160, 144));
    assert!(level(&idle, 0.0, 1.0) < 40.0, "not dark while idle");
    let a = run(&mut gb, 3, [button::A, 0, 0, 0]);
    assert!(level(&a, 0.0, 1.0) > 200.0, "A does not turn it light");
    let other = run(&mut gb, 3, [0, button::A, 0, 0]);
    assert!(level(&other, 0.0, 1.0) < 40.0, "port 2 drives port 1");
}

#[test]
fn gb_rom_matches_its_source() {
    common::rom_matches_its_source("node", "joypad-gb.mjs", &testrom("joypad.gb"));
}
