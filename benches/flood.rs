//! What the benches beside a flooding X client share (`grab`, `inject`): their options, and
//! glint's own Xvfb (1280x720) with an xterm printing random text as fast as it can (the link
//! bench's `text` content). Included by each with `#[path = "flood.rs"] mod flood;`.

use std::time::{Duration, Instant};

use glint::display::{launch_app, Guarded, VirtualDisplay, XAuthority};

/// The xterm that floods the X server.
pub(crate) const FLOOD: &str = "xterm -geometry 200x60+0+0 -e sh -c \
                                'while :; do head -c 30000 /dev/urandom | base64; done'";

/// The options of a bench beside the flood.
#[derive(clap::Args)]
pub(crate) struct FloodOptions {
    /// Seconds per round (each round: the baseline, then glint's way).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) seconds: u64,
    /// Rounds.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) rounds: u64,
    /// No xterm: an idle screen.
    #[arg(long)]
    pub(crate) quiet: bool,
    /// Also write the JSON line to this file.
    #[arg(long)]
    pub(crate) json: Option<std::path::PathBuf>,
}

/// The bench's X display, and the xterm while it floods (stopped when dropped).
pub(crate) struct Flooded {
    // Dropped in this order: the xterm, the display, its cookie.
    _flood: Option<Guarded>,
    pub(crate) display: VirtualDisplay,
    _auth: XAuthority,
}

/// Prints `what` as the bench `bench`'s error and exits with 1.
pub(crate) fn fail(bench: &str, what: impl std::fmt::Display) -> ! {
    eprintln!("{bench}: {what}");
    std::process::exit(1);
}

/// Starts the display and, unless `quiet`, the flooding xterm (2 s for its window to come up
/// and print). Call before any thread: X clients find the cookie through XAUTHORITY, which
/// this sets for the process. Exits on an error.
pub(crate) fn start(bench: &str, quiet: bool) -> Flooded {
    let auth = XAuthority::install().unwrap_or_else(|e| fail(bench, e));
    let display = VirtualDisplay::start(1280, 720, &auth, None).unwrap_or_else(|e| fail(bench, e));
    let flood = (!quiet).then(|| {
        launch_app(FLOOD, &display.name, None)
            .unwrap_or_else(|e| fail(bench, format!("{e} (scripts/setup installs xterm)")))
    });
    if flood.is_some() {
        std::thread::sleep(Duration::from_secs(2));
    }
    Flooded {
        _flood: flood,
        display,
        _auth: auth,
    }
}

/// Calls `tick` 60 times a second for `seconds` (a late tick starts the next at once).
pub(crate) fn at_60_hz(seconds: u64, mut tick: impl FnMut()) {
    let period = Duration::from_micros(16_667);
    let end = Instant::now() + Duration::from_secs(seconds);
    let mut next = Instant::now();
    while Instant::now() < end {
        tick();
        next += period;
        let now = Instant::now();
        if next > now {
            std::thread::sleep(next - now);
        } else {
            next = now;
        }
    }
}
