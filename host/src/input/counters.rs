//! The input thread's counters, registered in [`Metrics`].

use crate::metrics::{Counter, Metrics};

/// Counters of the input path, registered in [`Metrics`].
#[derive(Debug, Default, Clone)]
pub struct InputCounters {
    pub packets: Counter,
    pub malformed: Counter,
    /// Input packets the rtc thread dropped because the input queue was full.
    pub dropped_full: Counter,
    pub inject_errors: Counter,
    /// Input packets and text from members without control, dropped.
    pub not_in_control: Counter,
    /// Room requests refused (a viewer taking control, a name too long, …).
    pub room_refused: Counter,
    /// Times a member lost control (released, given away, taken, left).
    pub hand_offs: Counter,
    pub members: crate::metrics::Gauge,
    /// Clipboard texts set on the host from a page, and sent from the host to pages.
    /// Caps Lock or Num Lock taps that made the host's lock state the page's.
    pub lock_syncs: Counter,
    /// Texts refused because too much text was still waiting to be typed.
    pub text_dropped: Counter,
    pub clipboard_to_host: Counter,
    /// Clipboard texts from a page that `--clipboard-for` does not share with.
    pub clipboard_refused: Counter,
    pub clipboard_to_pages: Counter,
}

impl InputCounters {
    pub fn register(m: &mut Metrics) -> Self {
        Self {
            packets: m.counter("input_packets", "Input packets taken by the input thread"),
            malformed: m.counter("input_malformed", "Malformed input packets dropped"),
            dropped_full: m.counter("input_dropped", "Input packets dropped on a full queue"),
            inject_errors: m.counter("input_inject_errors", "Injections that failed"),
            not_in_control: m.counter(
                "input_not_in_control",
                "Input packets and text from members without control, dropped",
            ),
            room_refused: m.counter("room_refused", "Room requests refused"),
            hand_offs: m.counter("room_hand_offs", "Times a member lost control"),
            members: m.gauge(
                "room_members",
                "Pages in the session (signaling sockets past hello)",
            ),
            text_dropped: m.counter(
                "input_text_dropped",
                "Texts refused because too much text was still waiting to be typed",
            ),
            lock_syncs: m.counter(
                "input_lock_syncs",
                "Caps Lock or Num Lock taps that made the host's lock state the page's",
            ),
            clipboard_refused: m.counter(
                "clipboard_refused",
                "Clipboard texts from a member the clipboard is not shared with",
            ),
            clipboard_to_host: m.counter(
                "clipboard_to_host",
                "Clipboard texts from a page set on the host",
            ),
            clipboard_to_pages: m.counter(
                "clipboard_to_pages",
                "Clipboard texts copied on the host and sent to pages",
            ),
        }
    }
}
