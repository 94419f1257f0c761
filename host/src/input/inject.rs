//! Where input goes: XTest into an X display, or the test pattern's flip counter.
//!
//! Keys, buttons, motion and the wheel go out as XTest `FakeInput` requests (XTEST Extension
//! Protocol 2.2) on a connection of glint's own that the X server serves before ordinary
//! clients (SYNC `SetPriority`, as the capture's is: `capture::x11`). enigo's connection
//! stays at the server's default, and beside an application that floods the server its
//! events waited their turn: a pointer move took 7 ms at p50 and 67 ms at p95 to reach the
//! server (`target/release/inject`, benches/RESULTS.md). enigo keeps the one thing it adds:
//! text, each character mapped to a keysym (a spare keycode remapped for those the layout
//! lacks).

use enigo::{Enigo, Keyboard, Settings};
use thiserror::Error;
use x11rb::connection::Connection;
use x11rb::cookie::VoidCookie;
use x11rb::protocol::xproto::{self, ConnectionExt as _, KeyButMask, Window};
use x11rb::protocol::xtest::ConnectionExt as _;
use x11rb::rust_connection::RustConnection;

use super::keymap::hid_to_x11_keycode;
use super::reconcile::{Action, Control};
use super::Injector;
use crate::capture::testpattern::Presses;
use crate::capture::x11::{set_priority, CAPTURE_PRIORITY};
use crate::peer::PeerId;
use crate::proto::input::Locks;

#[derive(Debug, Error)]
pub enum InjectError {
    #[error("cannot open the X display {display} for input: {reason}")]
    Open { display: String, reason: String },
    #[error("key usage {0:#x} has no keycode")]
    UnknownKey(u16),
    #[error("mouse button {0} is not supported")]
    UnknownButton(u8),
    #[error("XTest call failed: {0}")]
    Xtest(String),
}

/// A press held through XTest: its release event type and detail (keycode or button).
type Held = (u8, u8);

pub struct XTestInjector {
    /// Text only (see the module docs).
    enigo: Enigo,
    /// XTest, and the lock-state query, on glint's own prioritized connection.
    conn: RustConnection,
    root: Window,
    /// What this injector pressed and has not released: released when it is dropped.
    held: Vec<Held>,
}

impl XTestInjector {
    /// Opens enigo's connection and glint's own on `display`; the latter asks for
    /// [`CAPTURE_PRIORITY`] (without SYNC it goes on at the default, with a log line). Errors:
    /// the display cannot be opened, or it has no XTest extension.
    pub fn open(display: &str) -> Result<Self, InjectError> {
        let open = |reason: String| InjectError::Open {
            display: display.to_owned(),
            reason,
        };
        let settings = Settings {
            x11_display: Some(display.to_owned()),
            // The default 12 ms delay makes every click block for ~25 ms (PITFALLS.md).
            linux_delay: 0,
            release_keys_when_dropped: true,
            ..Settings::default()
        };
        let enigo = Enigo::new(&settings).map_err(|e| open(e.to_string()))?;
        let (conn, screen) = x11rb::connect(Some(display)).map_err(|e| open(e.to_string()))?;
        let root = conn
            .setup()
            .roots
            .get(screen)
            .map(|s| s.root)
            .ok_or_else(|| open(format!("no screen {screen}")))?;
        conn.xtest_get_version(2, 2)
            .map_err(|e| open(e.to_string()))?
            .reply()
            .map_err(|e| open(format!("no XTest extension: {e}")))?;
        if let Err(e) = set_priority(&conn, CAPTURE_PRIORITY) {
            tracing::info!(error = %e, "no SYNC priority: input waits its turn behind other X clients");
        }
        Ok(Self {
            enigo,
            conn,
            root,
            held: Vec::new(),
        })
    }

    /// This injector's scheduling priority as the X server holds it (SYNC `GetPriority`).
    pub fn priority(&self) -> Result<i32, InjectError> {
        use x11rb::protocol::sync::ConnectionExt as _;
        let xerr = |e: &dyn std::fmt::Display| InjectError::Xtest(e.to_string());
        let reply = self
            .conn
            .sync_get_priority(x11rb::NONE)
            .map_err(|e| xerr(&e))?
            .reply()
            .map_err(|e| xerr(&e))?;
        Ok(reply.priority)
    }

    /// One core event through XTest (`type_`: `KeyPress` … `MotionNotify`; for motion,
    /// `detail` 1 is relative), sent but not waited for.
    fn send(
        &self,
        type_: u8,
        detail: u8,
        (x, y): (i16, i16),
    ) -> Result<VoidCookie<'_, RustConnection>, InjectError> {
        self.conn
            .xtest_fake_input(type_, detail, x11rb::CURRENT_TIME, x11rb::NONE, x, y, 0)
            .map_err(|e| InjectError::Xtest(e.to_string()))
    }

    /// One core event through XTest ([`Self::send`]), waited for: a frame captured after it
    /// shows it.
    fn fake(&self, type_: u8, detail: u8, x: i16, y: i16) -> Result<(), InjectError> {
        self.send(type_, detail, (x, y))?
            .check()
            .map_err(|e| InjectError::Xtest(e.to_string()))
    }

    /// A press or release of a key (keycode) or button, kept in [`Self::held`].
    fn press(&mut self, press: u8, release: u8, detail: u8, down: bool) -> Result<(), InjectError> {
        let held = (release, detail);
        self.fake(if down { press } else { release }, detail, 0, 0)?;
        self.held.retain(|&h| h != held);
        if down {
            self.held.push(held);
        }
        Ok(())
    }

    /// A wheel's steps on one axis: [`wheel_clicks`] of its button, pressed and released,
    /// waited for once.
    fn wheel(&mut self, steps: i16, down: u8, up: u8) -> Result<(), InjectError> {
        let (button, n) = wheel_clicks(steps, down, up);
        if n == 0 {
            return Ok(());
        }
        for type_ in [xproto::BUTTON_PRESS_EVENT, xproto::BUTTON_RELEASE_EVENT]
            .into_iter()
            .cycle()
            .take(usize::from(n) * 2 - 1)
        {
            self.send(type_, button, (0, 0))?;
        }
        self.fake(xproto::BUTTON_RELEASE_EVENT, button, 0, 0)
    }
}

/// The most clicks one wheel event scrolls on each axis. A notch is one click, and a fast
/// spin or fling gives a few per event; a page asking for 32767 would keep the input thread
/// busy for seconds a packet (two XTest requests a click), and everyone's input behind it.
pub const WHEEL_CLICKS_MAX: u16 = 16;

/// The X button and click count for `steps` of a wheel axis (`down` for positive steps, `up`
/// for negative), at most [`WHEEL_CLICKS_MAX`].
fn wheel_clicks(steps: i16, down: u8, up: u8) -> (u8, u16) {
    let button = if steps > 0 { down } else { up };
    (button, steps.unsigned_abs().min(WHEEL_CLICKS_MAX))
}

impl Drop for XTestInjector {
    fn drop(&mut self) {
        for (release, detail) in std::mem::take(&mut self.held) {
            let _ = self.fake(release, detail, 0, 0);
        }
    }
}

/// The X button of a page's (DOM `MouseEvent.button`): left, middle, right, back, forward.
fn button(b: u8) -> Result<u8, InjectError> {
    Ok(match b {
        0 => 1,
        1 => 2,
        2 => 3,
        3 => 8,
        4 => 9,
        other => return Err(InjectError::UnknownButton(other)),
    })
}

impl Injector for XTestInjector {
    fn apply(&mut self, _peer: PeerId, action: Action) -> Result<(), InjectError> {
        use xproto::{
            BUTTON_PRESS_EVENT, BUTTON_RELEASE_EVENT, KEY_PRESS_EVENT, KEY_RELEASE_EVENT,
        };
        match action {
            Action::Press(c) | Action::Release(c) => {
                let down = matches!(action, Action::Press(_));
                match c {
                    Control::Key(usage) => {
                        let code = hid_to_x11_keycode(usage)
                            .and_then(|c| u8::try_from(c).ok())
                            .ok_or(InjectError::UnknownKey(usage))?;
                        self.press(KEY_PRESS_EVENT, KEY_RELEASE_EVENT, code, down)
                    }
                    Control::Button(b) => {
                        self.press(BUTTON_PRESS_EVENT, BUTTON_RELEASE_EVENT, button(b)?, down)
                    }
                }
            }
            // Coordinates past i16 (no X screen is that large) are clamped.
            Action::MoveTo { x, y } => {
                let at = |v: u16| i16::try_from(v).unwrap_or(i16::MAX);
                self.fake(xproto::MOTION_NOTIFY_EVENT, 0, at(x), at(y))
            }
            Action::MoveBy { dx, dy } => self.fake(xproto::MOTION_NOTIFY_EVENT, 1, dx, dy),
            // Buttons 4/5 scroll up/down, 6/7 left/right, one step a click.
            Action::Wheel { dx, dy } => {
                self.wheel(dy, 5, 4)?;
                self.wheel(dx, 7, 6)
            }
            // No gamepads on an X display.
            Action::Pad { .. } => Ok(()),
        }
    }

    fn text(&mut self, text: &str) -> Result<(), InjectError> {
        self.enigo
            .text(text)
            .map_err(|e| InjectError::Xtest(e.to_string()))
    }

    /// Caps Lock and Num Lock from the core pointer query's modifier mask: Lock, and Mod2
    /// (where every XKB keymap Glint's displays use puts Num Lock). One round trip.
    fn locks(&mut self) -> Option<Locks> {
        let mask = self.conn.query_pointer(self.root).ok()?.reply().ok()?.mask;
        Some(Locks {
            caps: mask.contains(KeyButMask::LOCK),
            num: mask.contains(KeyButMask::MOD2),
        })
    }
}

/// Input for the test pattern: every key or button press flips its large region.
pub struct PatternInjector {
    pub presses: Presses,
}

impl Injector for PatternInjector {
    fn apply(&mut self, _peer: PeerId, action: Action) -> Result<(), InjectError> {
        if let Action::Press(_) = action {
            self.presses.press();
        }
        Ok(())
    }

    fn text(&mut self, _text: &str) -> Result<(), InjectError> {
        self.presses.press();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wheel_event_scrolls_a_bounded_number_of_clicks() {
        assert_eq!(wheel_clicks(3, 5, 4), (5, 3));
        assert_eq!(wheel_clicks(-2, 5, 4), (4, 2));
        assert_eq!(wheel_clicks(0, 7, 6).1, 0);
        assert_eq!(wheel_clicks(i16::MAX, 5, 4), (5, WHEEL_CLICKS_MAX));
        assert_eq!(wheel_clicks(i16::MIN, 7, 6), (6, WHEEL_CLICKS_MAX));
    }
}
