//! The X11 capture through a real Xvfb asks to be served before other X clients: the server
//! holds its connection at `CAPTURE_PRIORITY` (SYNC), and a capture opened at the default
//! stays at 0. What it buys (a grab's wait beside a client that floods the server) is measured
//! by the grab bench (`benches/grab.rs`), not timed here.

use glint::capture::x11::{X11Capture, CAPTURE_PRIORITY};
use glint::capture::Capture;
use glint::display::{VirtualDisplay, XAuthority};

#[test]
fn the_x_server_serves_the_capture_first() {
    // Sets XAUTHORITY for this process: the only test in this binary, before any X client.
    let auth = XAuthority::install().expect("an Xauthority file");
    let display = VirtualDisplay::start(320, 240, &auth, None).expect("Xvfb starts");
    let mut capture = X11Capture::open(&display.name).expect("a capture");
    assert_eq!(
        capture.priority().expect("the server's answer"),
        CAPTURE_PRIORITY
    );
    let mut pixels = Vec::new();
    capture.grab(&mut pixels).expect("a grab at that priority");
    assert_eq!(pixels.len(), 320 * 240 * 4);
    let baseline = X11Capture::open_at(&display.name, None).expect("a capture");
    assert_eq!(
        baseline.priority().expect("the server's answer"),
        0,
        "the server's default"
    );
}
