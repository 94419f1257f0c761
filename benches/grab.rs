//! The X11 capture's grab beside an application that floods the X server: glint's own Xvfb
//! (1280x720), an xterm printing random text as fast as it can (the link bench's `text`
//! content), and glint's capture grabbing the whole screen at 60 fps. Rounds alternate between
//! a capture at the server's default priority (the baseline) and one at `CAPTURE_PRIORITY`
//! (what glint opens), so the machine's load falls on both alike.
//!
//! A grab's time is `captured_at` → `grabbed_at` of the pipeline: the `GetImage` round trip
//! through MIT-SHM plus the copy out of the segment (the `capture` stage of `/api/stats`).
//!
//! Usage: `cargo run --release -p glint-benches --bin grab -- [--seconds 10] [--rounds 2]
//! [--quiet] [--json FILE]` (`--quiet`: no xterm, an idle screen; `--help`). Prints JSON, then
//! a table. The flood needs the X server to be the busy part: on a machine already loaded by
//! other work the xterm prints less and both priorities come out alike.

#[path = "cli.rs"]
mod cli;
#[path = "flood.rs"]
mod flood;
use clap::Parser;
use cli::pct;
use flood::{fail, FloodOptions};

use std::time::Instant;

use glint::capture::x11::{X11Capture, CAPTURE_PRIORITY};
use glint::capture::Capture;

/// Grabs at 60 fps for `seconds`: each grab's time in ms.
fn round(display: &str, priority: Option<i32>, seconds: u64) -> Vec<f64> {
    let mut capture = X11Capture::open_at(display, priority).unwrap_or_else(|e| fail("grab", e));
    let mut data = Vec::new();
    let mut ms = Vec::new();
    flood::at_60_hz(seconds, || {
        let start = Instant::now();
        if let Err(e) = capture.grab(&mut data) {
            fail("grab", e);
        }
        ms.push(start.elapsed().as_secs_f64() * 1000.0);
    });
    ms
}

/// The grab bench's options.
#[derive(Parser)]
#[command(about = "The X11 capture's grab time beside an xterm that floods the X server")]
struct Options {
    #[command(flatten)]
    flood: FloodOptions,
}

fn main() {
    let FloodOptions {
        seconds,
        rounds,
        quiet,
        json: json_file,
    } = Options::parse().flood;
    let flooded = flood::start("grab", quiet);
    let display = &flooded.display;
    let mut base = Vec::new();
    let mut first = Vec::new();
    for _ in 0..rounds {
        base.extend(round(&display.name, None, seconds));
        first.extend(round(&display.name, Some(CAPTURE_PRIORITY), seconds));
    }
    let figures = |v: &mut Vec<f64>| {
        serde_json::json!({
            "grabs": v.len(),
            "p50": pct(v, 0.5), "p95": pct(v, 0.95), "p99": pct(v, 0.99), "max": pct(v, 1.0),
        })
    };
    let json = serde_json::json!({
        "bench": "grab",
        "screen": "1280x720",
        "flood": !quiet,
        "seconds_per_round": seconds,
        "rounds": rounds,
        "default_priority_ms": figures(&mut base),
        "capture_priority_ms": figures(&mut first),
    });
    cli::emit_json(&json, json_file);
    println!(
        "\n| capture priority | grabs | p50 | p95 | p99 | max (ms) |\n|---|---|---|---|---|---|"
    );
    for (name, key) in [
        ("0 (server default)", "default_priority_ms"),
        ("CAPTURE_PRIORITY", "capture_priority_ms"),
    ] {
        let f = &json[key];
        let v = |k: &str| f[k].as_f64().unwrap_or(f64::NAN);
        println!(
            "| {name} | {} | {:.2} | {:.2} | {:.2} | {:.2} |",
            f["grabs"],
            v("p50"),
            v("p95"),
            v("p99"),
            v("max")
        );
    }
    let ratio = |k: &str| {
        json["capture_priority_ms"][k].as_f64().unwrap_or(f64::NAN)
            / json["default_priority_ms"][k].as_f64().unwrap_or(f64::NAN)
    };
    println!(
        "\nCAPTURE_PRIORITY / default: p50 {:.2}, p95 {:.2}",
        ratio("p50"),
        ratio("p95")
    );
}
