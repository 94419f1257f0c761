//! Input injection beside an application that floods the X server: glint's own Xvfb
//! (1280x720), an xterm printing random text as fast as it can (the link bench's `text`
//! content), and the pointer moved 60 times a second. Rounds alternate between enigo as it
//! comes (its own X connection at the server's default priority: the baseline) and glint's
//! injector (`XTestInjector`), so the machine's load falls on both alike.
//!
//! For each move: `call`, how long the injector's call took (both wait for the server to
//! have processed the event, so that a frame captured after it shows it), and `seen`, from the
//! call to the moment an observer connection (at `CAPTURE_PRIORITY`, as the capture is) reads
//! the new position with `QueryPointer`: what the next captured frame can show.
//!
//! Usage: `cargo run --release -p glint-benches --bin inject -- [--seconds 10] [--rounds 2]
//! [--quiet] [--json FILE]` (`--quiet`: no xterm; `--help`). Prints JSON, then a table. Like
//! `grab`, it needs a machine where the X server is the busy part.

#[path = "cli.rs"]
mod cli;
#[path = "flood.rs"]
mod flood;
use clap::Parser;
use cli::pct;
use flood::FloodOptions;

use std::time::{Duration, Instant};

use enigo::{Coordinate, Enigo, Mouse, Settings};
use glint::capture::x11::CAPTURE_PRIORITY;
use glint::input::inject::XTestInjector;
use glint::input::reconcile::Action;
use glint::input::Injector;
use glint::peer::PeerId;
use x11rb::connection::Connection;
use x11rb::protocol::sync::ConnectionExt as _;
use x11rb::protocol::xproto::ConnectionExt as _;
use x11rb::rust_connection::RustConnection;

/// The longest a move is waited for before it counts as missed.
const GIVE_UP: Duration = Duration::from_secs(1);

fn fail(what: impl std::fmt::Display) -> ! {
    flood::fail("inject", what)
}

/// The pointer mover under test.
enum Mover {
    Enigo(Box<Enigo>),
    Glint(Box<XTestInjector>),
}

impl Mover {
    fn move_to(&mut self, x: u16, y: u16) {
        let result = match self {
            Mover::Enigo(e) => e
                .move_mouse(i32::from(x), i32::from(y), Coordinate::Abs)
                .map_err(|e| e.to_string()),
            Mover::Glint(g) => g
                .apply(PeerId(1), Action::MoveTo { x, y })
                .map_err(|e| e.to_string()),
        };
        if let Err(e) = result {
            fail(e);
        }
    }
}

/// The observer: its own connection, served before ordinary clients like the capture.
fn observer(display: &str) -> (RustConnection, u32) {
    let (conn, screen) = x11rb::connect(Some(display)).unwrap_or_else(|e| fail(e));
    let root = conn.setup().roots[screen].root;
    if let Err(e) = conn
        .sync_initialize(3, 1)
        .map_err(|e| e.to_string())
        .and_then(|c| c.reply().map_err(|e| e.to_string()))
    {
        fail(format!("no SYNC extension: {e}"));
    }
    let set = conn
        .sync_set_priority(x11rb::NONE, CAPTURE_PRIORITY)
        .map_err(|e| e.to_string())
        .and_then(|c| c.check().map_err(|e| e.to_string()));
    if let Err(e) = set {
        fail(e);
    }
    (conn, root)
}

/// Moves the pointer 60 times a second for `seconds`: each move's `call` and `seen` in ms
/// (`seen` is `None` when the observer did not see it within [`GIVE_UP`]).
fn round(
    mover: &mut Mover,
    obs: &(RustConnection, u32),
    seconds: u64,
) -> (Vec<f64>, Vec<Option<f64>>) {
    let (conn, root) = obs;
    let (mut calls, mut seen) = (Vec::new(), Vec::new());
    let mut i = 0u16;
    flood::at_60_hz(seconds, || {
        i = i.wrapping_add(1);
        let (x, y) = (200 + (i % 2) * 700, 150 + (i % 3) * 200);
        let start = Instant::now();
        mover.move_to(x, y);
        calls.push(start.elapsed().as_secs_f64() * 1000.0);
        let shown = loop {
            let p = conn
                .query_pointer(*root)
                .ok()
                .and_then(|c| c.reply().ok())
                .unwrap_or_else(|| fail("QueryPointer failed"));
            if (p.root_x, p.root_y) == (x as i16, y as i16) {
                break Some(start.elapsed().as_secs_f64() * 1000.0);
            }
            if start.elapsed() > GIVE_UP {
                break None;
            }
            std::thread::sleep(Duration::from_micros(200));
        };
        seen.push(shown);
    });
    (calls, seen)
}

/// The inject bench's options.
#[derive(Parser)]
#[command(about = "Pointer injection beside an xterm that floods the X server")]
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
    let flooded = flood::start("inject", quiet);
    let display = &flooded.display;
    let obs = observer(&display.name);
    let settings = Settings {
        x11_display: Some(display.name.clone()),
        linux_delay: 0,
        ..Settings::default()
    };
    let mut enigo = Mover::Enigo(Box::new(Enigo::new(&settings).unwrap_or_else(|e| fail(e))));
    let mut glint = Mover::Glint(Box::new(
        XTestInjector::open(&display.name).unwrap_or_else(|e| fail(e)),
    ));
    let (mut base, mut ours) = ((Vec::new(), Vec::new()), (Vec::new(), Vec::new()));
    for _ in 0..rounds {
        let (c, s) = round(&mut enigo, &obs, seconds);
        base.0.extend(c);
        base.1.extend(s);
        let (c, s) = round(&mut glint, &obs, seconds);
        ours.0.extend(c);
        ours.1.extend(s);
    }
    let figures = |(calls, seen): &mut (Vec<f64>, Vec<Option<f64>>)| {
        let mut shown: Vec<f64> = seen.iter().flatten().copied().collect();
        serde_json::json!({
            "moves": calls.len(),
            "missed": seen.len() - shown.len(),
            "call_p50": pct(calls, 0.5), "call_p95": pct(calls, 0.95),
            "seen_p50": pct(&mut shown, 0.5), "seen_p95": pct(&mut shown, 0.95),
            "seen_p99": pct(&mut shown, 0.99), "seen_max": pct(&mut shown, 1.0),
        })
    };
    let json = serde_json::json!({
        "bench": "inject",
        "screen": "1280x720",
        "flood": !quiet,
        "seconds_per_round": seconds,
        "rounds": rounds,
        "enigo_ms": figures(&mut base),
        "glint_ms": figures(&mut ours),
    });
    cli::emit_json(&json, json_file);
    println!(
        "\n| injector | moves | missed | call p50 / p95 | seen p50 | p95 | p99 | max (ms) |\n\
         |---|---|---|---|---|---|---|---|"
    );
    for (name, key) in [
        ("enigo (server default priority)", "enigo_ms"),
        ("glint's XTestInjector", "glint_ms"),
    ] {
        let f = &json[key];
        let v = |k: &str| f[k].as_f64().unwrap_or(f64::NAN);
        println!(
            "| {name} | {} | {} | {:.2} / {:.2} | {:.2} | {:.2} | {:.2} | {:.2} |",
            f["moves"],
            f["missed"],
            v("call_p50"),
            v("call_p95"),
            v("seen_p50"),
            v("seen_p95"),
            v("seen_p99"),
            v("seen_max")
        );
    }
}
