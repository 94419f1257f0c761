//! Shared by the per-core test binaries (one core per process, so one file per core).

#![allow(dead_code)] // each test binary uses part of this

use std::path::{Path, PathBuf};

use glint_emulators::{resolve_core, Core, EmuError};

/// Debian's core `name` loads through the frontend and refuses a file it cannot run with a
/// clear error (no ROM for its system is packaged, so this is what can be checked here).
pub(crate) fn loads_and_refuses_a_file_it_cannot_run(name: &str) {
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

use glint_emulators::Picture;

/// Runs `frames` frames with these pads; the last picture.
pub(crate) fn run(core: &mut Core, frames: usize, pads: [u16; 4]) -> Picture {
    let mut last = Picture::default();
    for _ in 0..frames {
        last = core.run_frame(pads).0;
    }
    last
}

/// Mean green level (0–255) of a vertical band of the picture, from `from` to `to` (0–1).
pub(crate) fn level(p: &Picture, from: f64, to: f64) -> f64 {
    let (w, h) = (p.width as usize, p.height as usize);
    let (a, b) = ((w as f64 * from) as usize, (w as f64 * to) as usize);
    let mut sum = 0u64;
    for y in 0..h {
        for x in a..b {
            sum += u64::from(p.bgrx[(y * w + x) * 4 + 1]);
        }
    }
    sum as f64 / ((b - a) * h).max(1) as f64
}

/// Rebuilds a committed test ROM with its script when `tool` is installed, and checks the
/// bytes are the committed ones.
pub(crate) fn rom_matches_its_source(tool: &str, script: &str, rom: &Path) {
    if std::process::Command::new(tool)
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("{tool} missing: not rebuilding {}", rom.display());
        return;
    }
    let ext = rom.extension().and_then(|e| e.to_str()).unwrap_or("rom");
    let out = std::env::temp_dir().join(format!("glint-rebuilt-{}.{ext}", std::process::id()));
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testrom")
        .join(script);
    let ok = std::process::Command::new(script)
        .arg(&out)
        .status()
        .expect("the build script runs");
    assert!(ok.success());
    let fresh = std::fs::read(&out).expect("built");
    let _ = std::fs::remove_file(&out);
    let committed = std::fs::read(rom).expect("committed ROM");
    assert!(
        fresh == committed,
        "{} is not the build of its source",
        rom.display()
    );
}

/// A committed test ROM.
pub(crate) fn testrom(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testrom")
        .join(name)
}
