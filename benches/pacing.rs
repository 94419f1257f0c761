//! Frame pacing of a libretro core the way glint runs it (emulators::Pacer: sleep to a
//! millisecond before each deadline, then spin): runs the project's NES test ROM in nestopia
//! for N frames and reports how far each frame interval strays from the core's period.
//!
//! Usage: `cargo run --release -p glint-benches --bin pacing -- [--frames 1800] [--json FILE]`
//! Prints JSON, then a table.

#[path = "cli.rs"]
mod cli;
use cli::{arg, pct};

use std::path::Path;
use std::time::Instant;

use glint_emulators::{resolve_core, Core, Pacer};

fn main() {
    let frames: usize = arg("--frames").and_then(|s| s.parse().ok()).unwrap_or(1800);
    let rom = Path::new(env!("CARGO_MANIFEST_DIR")).join("../emulators/testrom/joypad.nes");
    let core_path = match resolve_core("nestopia") {
        Ok(p) => p,
        Err(e) => {
            eprintln!("pacing: {e} (scripts/setup installs libretro-nestopia)");
            std::process::exit(2);
        }
    };
    let mut core = match Core::load(&core_path, &rom, &std::env::temp_dir()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("pacing: {e}");
            std::process::exit(2);
        }
    };
    let fps = core.timing().fps;
    let mut pacer = Pacer::new(fps, Instant::now());
    let period = pacer.period().as_secs_f64() * 1000.0;
    let mut starts = Vec::with_capacity(frames);
    let mut late = Vec::with_capacity(frames);
    let mut run_ms = Vec::with_capacity(frames);
    for _ in 0..frames {
        let deadline = pacer.wait();
        let start = Instant::now();
        late.push(start.duration_since(deadline).as_secs_f64() * 1000.0);
        starts.push(start);
        core.run_frame([0; 4]);
        run_ms.push(start.elapsed().as_secs_f64() * 1000.0);
    }
    let mut dev: Vec<f64> = starts
        .windows(2)
        .map(|w| (w[1].duration_since(w[0]).as_secs_f64() * 1000.0 - period).abs())
        .collect();
    let total = starts[frames - 1].duration_since(starts[0]).as_secs_f64();
    let measured_fps = (frames - 1) as f64 / total;
    let json = serde_json::json!({
        "bench": "pacing",
        "core": core.name(),
        "frames": frames,
        "core_fps": fps,
        "measured_fps": measured_fps,
        "period_ms": period,
        "interval_deviation_ms": {"p50": pct(&mut dev, 0.5), "p99": pct(&mut dev, 0.99), "max": pct(&mut dev, 1.0)},
        "start_after_deadline_ms": {"p50": pct(&mut late, 0.5), "p99": pct(&mut late, 0.99)},
        "run_frame_ms": {"p50": pct(&mut run_ms, 0.5), "p99": pct(&mut run_ms, 0.99)},
        "skipped": pacer.skipped,
    });
    cli::emit_json(&json, arg("--json"));
    println!(
        "\n{} frames of {} at {fps:.4} fps (period {period:.3} ms): measured {measured_fps:.4} fps",
        frames,
        core.name()
    );
    println!(
        "interval deviation from the period: p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
        json["interval_deviation_ms"]["p50"].as_f64().unwrap_or(0.0),
        json["interval_deviation_ms"]["p99"].as_f64().unwrap_or(0.0),
        json["interval_deviation_ms"]["max"].as_f64().unwrap_or(0.0)
    );
    println!(
        "retro_run per frame: p50 {:.3} ms, p99 {:.3} ms; deadlines skipped: {}",
        json["run_frame_ms"]["p50"].as_f64().unwrap_or(0.0),
        json["run_frame_ms"]["p99"].as_f64().unwrap_or(0.0),
        pacer.skipped
    );
}
