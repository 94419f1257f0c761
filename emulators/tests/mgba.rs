//! Debian's mgba core loads through the frontend and refuses a file it cannot run with a
//! clear error (no ROM for its system is packaged, so this is what can be checked here).
//! One core per process: this file is its own test binary.

use glint_emulators::{resolve_core, Core, EmuError};

#[test]
fn mgba_loads_and_refuses_a_file_it_cannot_run() {
    let core = resolve_core("mgba").expect("scripts/setup installs libretro-mgba");
    let not_a_rom = std::env::temp_dir().join(format!("glint-mgba-{}.gb", std::process::id()));
    std::fs::write(&not_a_rom, [0u8; 16]).expect("temp file");
    let result = Core::load(&core, &not_a_rom, &std::env::temp_dir());
    let _ = std::fs::remove_file(&not_a_rom);
    assert!(
        matches!(result, Err(EmuError::Refused { .. })),
        "expected a refusal, got {:?}",
        result.as_ref().map(|c| c.name().to_owned())
    );
}
