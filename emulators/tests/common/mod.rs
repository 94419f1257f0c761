//! Shared by the per-core test binaries (one core per process, so one file per core).

use glint_emulators::{resolve_core, Core, EmuError};

/// Debian's core `name` loads through the frontend and refuses a file it cannot run with a
/// clear error (no ROM for its system is packaged, so this is what can be checked here).
pub fn loads_and_refuses_a_file_it_cannot_run(name: &str) {
    let core = resolve_core(name).unwrap_or_else(|e| panic!("scripts/setup installs it: {e}"));
    let not_a_rom = std::env::temp_dir().join(format!("glint-{name}-{}.gb", std::process::id()));
    std::fs::write(&not_a_rom, [0u8; 16]).expect("temp file");
    let result = Core::load(&core, &not_a_rom, &std::env::temp_dir());
    let _ = std::fs::remove_file(&not_a_rom);
    assert!(
        matches!(result, Err(EmuError::Refused { .. })),
        "expected a refusal, got {:?}",
        result.as_ref().map(|c| c.name().to_owned())
    );
}
