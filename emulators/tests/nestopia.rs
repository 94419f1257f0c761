//! The test ROM (`testrom/joypad.nes`) in Debian's nestopia core, headless: frames are
//! deterministic, a joypad button changes the picture as the ROM defines, A makes a tone,
//! save/load state round-trips, and bad cores and ROMs are errors, not panics.
//!
//! One core per process (libretro's one global), so the cases run in one test function.

mod common;

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use glint_emulators::{button, resolve_core, Core, EmuError, Picture};

fn rom() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testrom/joypad.nes")
}

fn hash(p: &Picture) -> u64 {
    let mut h = DefaultHasher::new();
    (p.width, p.height, &p.bgrx).hash(&mut h);
    h.finish()
}

/// Share of bright pixels (conio's "white" background is the NES palette's light grey).
fn white_share(p: &Picture) -> f64 {
    let white = p.bgrx.chunks_exact(4).filter(|px| px[1] > 128).count();
    white as f64 / (p.bgrx.len() / 4) as f64
}

fn run(core: &mut Core, frames: usize, pads: [u16; 4]) -> (Picture, Vec<i16>) {
    let mut audio = Vec::new();
    let mut last = Picture::default();
    for _ in 0..frames {
        let (p, a) = core.run_frame(pads);
        audio.extend(a);
        last = p;
    }
    (last, audio)
}

fn rms(samples: &[i16]) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    (samples.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / samples.len() as f64).sqrt()
}

#[test]
fn the_test_rom_in_nestopia() {
    let dir = std::env::temp_dir();

    // Errors first, while no core is loaded.
    assert!(matches!(
        resolve_core("no-such-core"),
        Err(EmuError::UnknownCore { .. })
    ));
    let core_path = resolve_core("nestopia").expect("scripts/setup installs libretro-nestopia");
    let not_a_core = Path::new("/bin/true");
    assert!(matches!(
        Core::load(not_a_core, &rom(), &dir),
        Err(EmuError::Load { .. } | EmuError::Symbol { .. })
    ));
    let garbage = dir.join("glint-not-a-rom.nes");
    std::fs::write(&garbage, b"this is not a NES ROM").expect("temp file");
    assert!(matches!(
        Core::load(&core_path, &garbage, &dir),
        Err(EmuError::Refused { .. })
    ));
    assert!(matches!(
        Core::load(&core_path, Path::new("/nonexistent.nes"), &dir),
        Err(EmuError::Rom { .. })
    ));

    let mut core = Core::load(&core_path, &rom(), &dir).expect("the test ROM loads");
    assert!(matches!(
        Core::load(&core_path, &rom(), &dir),
        Err(EmuError::AlreadyLoaded)
    ));
    let t = core.timing();
    assert!(
        (59.9..60.2).contains(&t.fps),
        "an NTSC NES runs at ~60 fps, got {}",
        t.fps
    );

    // Let the ROM boot, then: deterministic, black, silent with no buttons.
    let (idle, quiet) = run(&mut core, 60, [0; 4]);
    assert_eq!((idle.width, idle.height), (256, 240));
    let (idle2, quiet2) = run(&mut core, 5, [0; 4]);
    assert_eq!(hash(&idle), hash(&idle2), "an idle ROM changes its picture");
    assert!(white_share(&idle) < 0.2, "idle background is not black");
    assert!(
        rms(&quiet) + rms(&quiet2) < 50.0,
        "silence is not silent: {}",
        rms(&quiet)
    );

    // A: the background turns white and pulse 1 beeps.
    let state = core.save_state().expect("nestopia serialises");
    let (a, tone) = run(&mut core, 10, [button::A, 0, 0, 0]);
    assert!(white_share(&a) > 0.8, "A did not turn the background white");
    assert!(rms(&tone) > 1000.0, "A made no tone (rms {})", rms(&tone));
    // Right: a different picture again (the button row), background black.
    let (r, _) = run(&mut core, 10, [button::RIGHT, 0, 0, 0]);
    assert_ne!(hash(&r), hash(&idle));
    assert_ne!(hash(&r), hash(&a));
    assert!(white_share(&r) < 0.2);
    // Port 2 is not what the ROM reads.
    let (p2, _) = run(&mut core, 10, [0, button::A, 0, 0]);
    assert_eq!(hash(&p2), hash(&idle));

    // Load the state from before A: the same idle picture comes back.
    assert!(core.load_state(&state));
    let (back, _) = run(&mut core, 3, [0; 4]);
    assert_eq!(hash(&back), hash(&idle));
    drop(core);

    // The guard is released with the core.
    let again = Core::load(&core_path, &rom(), &dir).expect("loads again after drop");
    drop(again);
}

#[test]
fn joypad_rom_matches_its_source() {
    common::rom_matches_its_source("cl65", "build.sh", &rom());
}
