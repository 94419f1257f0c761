//! The XTest injector through a real Xvfb: the server holds its connection at
//! `CAPTURE_PRIORITY` (SYNC), keys, buttons and motion reach the server, and what it held is
//! let go when it is dropped. What the priority buys (an event's wait beside a client that
//! floods the server) is measured by the inject bench (`benches/inject.rs`), not timed here.

use glint::capture::x11::CAPTURE_PRIORITY;
use glint::display::{VirtualDisplay, XAuthority};
use glint::input::inject::{InjectError, XTestInjector};
use glint::input::reconcile::{Action, Control};
use glint::input::Injector;
use glint::peer::PeerId;
use x11rb::connection::Connection;
use x11rb::protocol::xproto::{ConnectionExt as _, KeyButMask};

/// HID usages (USB HID Usage Tables 1.5, §10): Caps Lock and Left Shift.
const CAPS_LOCK: u16 = 0x39;
const LEFT_SHIFT: u16 = 0xE1;
const P: PeerId = PeerId(1);

#[test]
fn the_injector_is_served_first_and_lets_go_of_what_it_held() {
    // Sets XAUTHORITY for this process: the only test in this binary, before any X client.
    let auth = XAuthority::install().expect("an Xauthority file");
    let display = VirtualDisplay::start(320, 240, &auth, None).expect("Xvfb starts");
    let mut inj = XTestInjector::open(&display.name).expect("an injector");
    assert_eq!(
        inj.priority().expect("the server's answer"),
        CAPTURE_PRIORITY
    );
    // Another client sees what the injector did as soon as its call returned.
    let (observer, screen) = x11rb::connect(Some(&display.name)).expect("a connection");
    let root = observer.setup().roots[screen].root;
    let pointer = || {
        observer
            .query_pointer(root)
            .expect("a request")
            .reply()
            .expect("a reply")
    };
    inj.apply(P, Action::MoveTo { x: 100, y: 50 })
        .expect("a move");
    let p = pointer();
    assert_eq!((p.root_x, p.root_y), (100, 50));
    inj.apply(P, Action::MoveBy { dx: 20, dy: -10 })
        .expect("a move");
    let p = pointer();
    assert_eq!((p.root_x, p.root_y), (120, 40));
    inj.apply(P, Action::Press(Control::Button(0)))
        .expect("a press");
    assert!(pointer().mask.contains(KeyButMask::BUTTON1));
    inj.apply(P, Action::Release(Control::Button(0)))
        .expect("a release");
    assert!(!pointer().mask.contains(KeyButMask::BUTTON1));
    // Caps Lock pressed and released toggles the lock.
    let before = inj.locks().expect("the lock states").caps;
    inj.apply(P, Action::Press(Control::Key(CAPS_LOCK)))
        .expect("a press");
    inj.apply(P, Action::Release(Control::Key(CAPS_LOCK)))
        .expect("a release");
    assert_eq!(inj.locks().expect("the lock states").caps, !before);
    // A key with no keycode and a button X has no use for are errors, and change nothing.
    assert!(matches!(
        inj.apply(P, Action::Press(Control::Key(0xFFFF))),
        Err(InjectError::UnknownKey(0xFFFF))
    ));
    assert!(matches!(
        inj.apply(P, Action::Press(Control::Button(9))),
        Err(InjectError::UnknownButton(9))
    ));
    // Shift held, then the injector dropped: nothing stays held on the display.
    inj.apply(P, Action::Press(Control::Key(LEFT_SHIFT)))
        .expect("a press");
    inj.apply(P, Action::Press(Control::Button(2)))
        .expect("a press");
    let held = pointer().mask;
    assert!(held.contains(KeyButMask::SHIFT) && held.contains(KeyButMask::BUTTON3));
    drop(inj);
    let after = pointer().mask;
    assert!(
        !after.contains(KeyButMask::SHIFT) && !after.contains(KeyButMask::BUTTON3),
        "still held after the drop: {after:?}"
    );
}
