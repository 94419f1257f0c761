//! Caps Lock and Num Lock follow the page's keyboard: before a key press from a page that
//! reports its lock states, each lock that differs on the host is tapped. Without this a host
//! left with Caps Lock on types `AB` for a page's `ab`, and a fresh display (Num Lock off)
//! types End, Down, PgDn for the keypad's 1 2 3. Sans-IO: the host's states come in, the taps
//! go out.

use super::reconcile::{Action, Control};
use crate::proto::input::Locks;

/// HID usages (keyboard page) of the lock keys.
pub const CAPS_LOCK: u16 = 0x39;
pub const NUM_LOCK: u16 = 0x53;

/// Whether `actions` (one packet's) press a key, and do not touch a lock key themselves: only
/// then are the locks brought in line (a lock key pressed is the user's own toggle, and the
/// page's state may be read before or after it depending on the browser).
pub fn wants_sync(actions: &[Action]) -> bool {
    let lock = |a: &Action| {
        matches!(
            a,
            Action::Press(Control::Key(CAPS_LOCK | NUM_LOCK))
                | Action::Release(Control::Key(CAPS_LOCK | NUM_LOCK))
        )
    };
    let presses = actions
        .iter()
        .any(|a| matches!(a, Action::Press(Control::Key(_))));
    presses && !actions.iter().any(lock)
}

/// The taps (press then release of each lock key) that make the host's locks `host` the
/// page's `page`, to inject before the packet's own actions.
pub fn taps(host: Locks, page: Locks) -> Vec<Action> {
    let mut out = Vec::new();
    for (differs, key) in [
        (host.caps != page.caps, CAPS_LOCK),
        (host.num != page.num, NUM_LOCK),
    ] {
        if differs {
            out.push(Action::Press(Control::Key(key)));
            out.push(Action::Release(Control::Key(key)));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: u16 = 0x04;
    const KP1: u16 = 0x59;

    #[test]
    fn a_press_syncs_unless_a_lock_key_is_in_the_packet() {
        let press = |k| Action::Press(Control::Key(k));
        let release = |k| Action::Release(Control::Key(k));
        assert!(wants_sync(&[press(A)]));
        assert!(wants_sync(&[release(A), press(KP1)]));
        assert!(!wants_sync(&[release(A)]));
        assert!(!wants_sync(&[Action::Press(Control::Button(0))]));
        assert!(!wants_sync(&[press(CAPS_LOCK), press(A)]));
        assert!(!wants_sync(&[release(NUM_LOCK), press(KP1)]));
    }

    #[test]
    fn only_the_locks_that_differ_are_tapped() {
        let l = |caps, num| Locks { caps, num };
        assert!(taps(l(true, false), l(true, false)).is_empty());
        assert_eq!(
            taps(l(true, false), l(false, false)),
            [
                Action::Press(Control::Key(CAPS_LOCK)),
                Action::Release(Control::Key(CAPS_LOCK))
            ]
        );
        assert_eq!(taps(l(true, false), l(false, true)).len(), 4);
    }
}
