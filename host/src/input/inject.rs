//! Where input goes: XTest into an X display through enigo, or the test pattern's flip counter.

use enigo::{Axis, Button, Coordinate, Direction, Enigo, Keyboard, Mouse, Settings};
use thiserror::Error;

use super::keymap::hid_to_x11_keycode;
use super::reconcile::{Action, Control};
use super::Injector;
use crate::capture::testpattern::Presses;
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

pub struct XTestInjector {
    enigo: Enigo,
    /// A connection of our own for reading the lock states (enigo has no query), and the root.
    x: Option<(x11rb::rust_connection::RustConnection, u32)>,
}

impl XTestInjector {
    pub fn open(display: &str) -> Result<Self, InjectError> {
        let settings = Settings {
            x11_display: Some(display.to_owned()),
            // The default 12 ms delay makes every click block for ~25 ms (PITFALLS.md).
            linux_delay: 0,
            release_keys_when_dropped: true,
            ..Settings::default()
        };
        let enigo = Enigo::new(&settings).map_err(|e| InjectError::Open {
            display: display.to_owned(),
            reason: e.to_string(),
        })?;
        let x = match x11rb::connect(Some(display)) {
            Ok((conn, screen)) => {
                use x11rb::connection::Connection;
                let root = conn.setup().roots.get(screen).map(|s| s.root);
                root.map(|r| (conn, r))
            }
            Err(e) => {
                tracing::warn!(error = %e, "no lock-state queries: Caps Lock and Num Lock will not follow pages");
                None
            }
        };
        Ok(Self { enigo, x })
    }
}

fn button(b: u8) -> Result<Button, InjectError> {
    Ok(match b {
        0 => Button::Left,
        1 => Button::Middle,
        2 => Button::Right,
        3 => Button::Back,
        4 => Button::Forward,
        other => return Err(InjectError::UnknownButton(other)),
    })
}

fn direction(down: bool) -> Direction {
    if down {
        Direction::Press
    } else {
        Direction::Release
    }
}

impl Injector for XTestInjector {
    fn apply(&mut self, _peer: PeerId, action: Action) -> Result<(), InjectError> {
        let xerr = |e: enigo::InputError| InjectError::Xtest(e.to_string());
        match action {
            Action::Press(c) | Action::Release(c) => {
                let down = matches!(action, Action::Press(_));
                match c {
                    Control::Key(usage) => {
                        let code =
                            hid_to_x11_keycode(usage).ok_or(InjectError::UnknownKey(usage))?;
                        self.enigo.raw(code, direction(down)).map_err(xerr)
                    }
                    Control::Button(b) => {
                        self.enigo.button(button(b)?, direction(down)).map_err(xerr)
                    }
                }
            }
            Action::MoveTo { x, y } => self
                .enigo
                .move_mouse(i32::from(x), i32::from(y), Coordinate::Abs)
                .map_err(xerr),
            Action::MoveBy { dx, dy } => self
                .enigo
                .move_mouse(i32::from(dx), i32::from(dy), Coordinate::Rel)
                .map_err(xerr),
            Action::Wheel { dx, dy } => {
                if dy != 0 {
                    self.enigo
                        .scroll(i32::from(dy), Axis::Vertical)
                        .map_err(xerr)?;
                }
                if dx != 0 {
                    self.enigo
                        .scroll(i32::from(dx), Axis::Horizontal)
                        .map_err(xerr)?;
                }
                Ok(())
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
        use x11rb::protocol::xproto::{ConnectionExt, KeyButMask};
        let (conn, root) = self.x.as_ref()?;
        let mask = conn.query_pointer(*root).ok()?.reply().ok()?.mask;
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
