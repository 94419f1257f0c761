//! Input from browsers to the host: wire format, reconciliation, and the injection thread.

pub mod inject;
pub mod keymap;
pub mod reconcile;
pub mod sender;
/// The input packet format lives with the other page formats.
pub use crate::proto::input as wire;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crossbeam_channel::{select_biased, Receiver};

use crate::metrics::{Counter, Metrics};
use crate::peer::{Notice, PeerId, PeerNotifier};
use crate::proto::signaling::ErrorCode;
use reconcile::{Action, Reconciler};

/// Capacity of the rtc → input hand-off of data (input packets, text). When full the rtc thread
/// drops the packet (the protocol repeats edges and state, so a dropped packet is like a lost
/// one) and counts it.
pub const INPUT_QUEUE: usize = 256;
/// Capacity of the rtc → input hand-off of lifecycle edges (a peer joined, a peer left). These
/// are never dropped: the rtc thread blocks when it is full, which takes this many peers
/// joining or leaving faster than the input thread, which reads this queue first, takes them.
pub const LIFECYCLE_QUEUE: usize = 256;
/// At most one error notice per peer in this interval; every bad packet is still counted.
const NOTICE_INTERVAL: Duration = Duration::from_secs(1);

/// What the rtc thread hands the input thread: `Joined` and `Left` on the lifecycle queue,
/// the rest on the data queue.
#[derive(Debug)]
pub enum InputMsg {
    Joined {
        peer: PeerId,
        notify: PeerNotifier,
    },
    Data {
        peer: PeerId,
        at: Instant,
        bytes: Vec<u8>,
    },
    Text {
        peer: PeerId,
        text: String,
    },
    Left {
        peer: PeerId,
    },
}

/// Counters of the input path, registered in [`Metrics`].
#[derive(Debug, Default, Clone)]
pub struct InputCounters {
    pub packets: Counter,
    pub malformed: Counter,
    /// Input packets the rtc thread dropped because the input queue was full.
    pub dropped_full: Counter,
    pub inject_errors: Counter,
}

impl InputCounters {
    pub fn register(m: &mut Metrics) -> Self {
        Self {
            packets: m.counter("input_packets", "Input packets taken by the input thread"),
            malformed: m.counter("input_malformed", "Malformed input packets dropped"),
            dropped_full: m.counter("input_dropped", "Input packets dropped on a full queue"),
            inject_errors: m.counter("input_inject_errors", "Injections that failed"),
        }
    }
}

/// The newest input sequence number applied per peer, read by the capture thread at every
/// frame: "this picture was taken after your packet N was injected".
#[derive(Debug, Default)]
pub struct InputEcho(Mutex<Arc<Vec<(PeerId, u32)>>>);

impl InputEcho {
    fn lock(&self) -> std::sync::MutexGuard<'_, Arc<Vec<(PeerId, u32)>>> {
        crate::lock(&self.0)
    }

    /// A shared copy; cheap (one reference count) when nothing changed.
    pub fn snapshot(&self) -> Arc<Vec<(PeerId, u32)>> {
        self.lock().clone()
    }

    fn set(&self, peer: PeerId, seq: u32) {
        let mut g = self.lock();
        if g.iter().any(|&(p, s)| p == peer && s == seq) {
            return;
        }
        let mut v: Vec<(PeerId, u32)> = g.iter().copied().filter(|&(p, _)| p != peer).collect();
        v.push((peer, seq));
        *g = Arc::new(v);
    }

    fn remove(&self, peer: PeerId) {
        let mut g = self.lock();
        if g.iter().any(|&(p, _)| p == peer) {
            *g = Arc::new(g.iter().copied().filter(|&(p, _)| p != peer).collect());
        }
    }
}

/// Where actions go: XTest on a display, the test pattern, an emulator's joypads, or a
/// recorder in tests. `peer` says whose input it is (an emulator gives each peer a player).
pub trait Injector {
    fn apply(&mut self, peer: PeerId, action: Action) -> Result<(), inject::InjectError>;
    fn text(&mut self, text: &str) -> Result<(), inject::InjectError>;
    /// The peer is gone (everything it held was released just before).
    fn peer_left(&mut self, _peer: PeerId) {}
    /// Called after each batch of input, once its echo is published: hand batched state on,
    /// and leave any messages for peers in `notices`.
    fn settle(&mut self, _notices: &mut Vec<(PeerId, Notice)>) {}
}

impl<T: Injector + ?Sized> Injector for Box<T> {
    fn apply(&mut self, peer: PeerId, action: Action) -> Result<(), inject::InjectError> {
        (**self).apply(peer, action)
    }

    fn text(&mut self, text: &str) -> Result<(), inject::InjectError> {
        (**self).text(text)
    }

    fn peer_left(&mut self, peer: PeerId) {
        (**self).peer_left(peer)
    }

    fn settle(&mut self, notices: &mut Vec<(PeerId, Notice)>) {
        (**self).settle(notices)
    }
}

enum Next {
    Message(InputMsg),
    Timeout,
    Closed,
}

/// The next message, lifecycle first; `Timeout` at `deadline`; `Closed` when the data queue is
/// closed (the rtc thread is gone) and no lifecycle edge is left.
fn next_message(
    lifecycle: &Receiver<InputMsg>,
    data: &Receiver<InputMsg>,
    deadline: Option<Instant>,
) -> Next {
    if let Ok(m) = lifecycle.try_recv() {
        return Next::Message(m);
    }
    let wait = deadline.map_or(Duration::from_secs(3600), |d| {
        d.saturating_duration_since(Instant::now())
    });
    select_biased! {
        recv(lifecycle) -> m => match m {
            Ok(m) => Next::Message(m),
            // The lifecycle sender went first: data alone decides from here.
            Err(_) => match data.recv_timeout(wait) {
                Ok(m) => Next::Message(m),
                Err(crossbeam_channel::RecvTimeoutError::Timeout) => Next::Timeout,
                Err(crossbeam_channel::RecvTimeoutError::Disconnected) => Next::Closed,
            },
        },
        recv(data) -> m => match m {
            Ok(m) => Next::Message(m),
            Err(_) => Next::Closed,
        },
        default(wait) => Next::Timeout,
    }
}

struct PeerInput {
    reconciler: Reconciler,
    notify: Option<PeerNotifier>,
    last_notice: Option<Instant>,
}

/// Runs the input loop until both queues close. Owns every peer's reconciler and the injector.
/// Lifecycle edges are taken before data, so a peer's data never precedes its `Joined`; data
/// of a peer that is not (or no longer) joined is dropped.
pub fn run(
    lifecycle: Receiver<InputMsg>,
    rx: Receiver<InputMsg>,
    mut injector: impl Injector,
    counters: Arc<InputCounters>,
    echo: Arc<InputEcho>,
) {
    let mut peers: HashMap<PeerId, PeerInput> = HashMap::new();
    let mut actions = Vec::new();
    let mut tagged: Vec<(PeerId, Action)> = Vec::new();
    let mut notices: Vec<(PeerId, Notice)> = Vec::new();
    loop {
        let deadline = peers
            .values()
            .filter_map(|p| p.reconciler.lease_deadline())
            .min();
        let msg = match next_message(&lifecycle, &rx, deadline) {
            Next::Message(m) => Some(m),
            Next::Timeout => None,
            Next::Closed => break,
        };
        let now = Instant::now();
        let mut applied: Option<(PeerId, u32)> = None;
        let mut left: Option<PeerId> = None;
        match msg {
            None => {}
            Some(InputMsg::Joined { peer, notify }) => {
                peers.insert(
                    peer,
                    PeerInput {
                        reconciler: Reconciler::new(),
                        notify: Some(notify),
                        last_notice: None,
                    },
                );
            }
            Some(InputMsg::Data { peer, at, bytes }) => {
                counters.packets.inc();
                let Some(entry) = peers.get_mut(&peer) else {
                    tracing::debug!(%peer, "input of a peer that left dropped");
                    continue;
                };
                match wire::decode(&bytes) {
                    Ok(packet) => {
                        entry.reconciler.handle_packet(at, &packet, &mut actions);
                        tagged.extend(actions.drain(..).map(|a| (peer, a)));
                        applied = entry.reconciler.newest_seq().map(|s| (peer, s));
                    }
                    Err(e) => {
                        counters.malformed.inc();
                        tracing::debug!(%peer, error = %e, "malformed input packet dropped");
                        let due = entry
                            .last_notice
                            .is_none_or(|t| now.duration_since(t) >= NOTICE_INTERVAL);
                        if due {
                            entry.last_notice = Some(now);
                            tracing::warn!(
                                %peer,
                                error = %e,
                                total = counters.malformed.get(),
                                "malformed input dropped (logged at most once a second per peer)"
                            );
                            if let Some(n) = &entry.notify {
                                n.notify(Notice::error(
                                    ErrorCode::BadInput,
                                    format!("input packet dropped: {e}"),
                                ));
                            }
                        }
                    }
                }
            }
            Some(InputMsg::Text { peer, text }) => {
                if let Err(e) = injector.text(&text) {
                    counters.inject_errors.inc();
                    tracing::warn!(%peer, error = %e, "text injection failed");
                }
            }
            Some(InputMsg::Left { peer }) => {
                echo.remove(peer);
                if let Some(mut p) = peers.remove(&peer) {
                    p.reconciler.release_all(&mut actions);
                    tagged.extend(actions.drain(..).map(|a| (peer, a)));
                }
                left = Some(peer);
            }
        }
        for (id, p) in peers.iter_mut() {
            p.reconciler.handle_timeout(now, &mut actions);
            tagged.extend(actions.drain(..).map(|a| (*id, a)));
        }
        for (peer, a) in tagged.drain(..) {
            if let Err(e) = injector.apply(peer, a) {
                counters.inject_errors.inc();
                tracing::warn!(error = %e, ?a, "injection failed");
            }
        }
        if let Some(peer) = left.take() {
            injector.peer_left(peer);
        }
        // After the injection: a frame captured from now on shows this packet's effect.
        if let Some((peer, seq)) = applied {
            echo.set(peer, seq);
        }
        injector.settle(&mut notices);
        for (peer, n) in notices.drain(..) {
            if let Some(notify) = peers.get(&peer).and_then(|p| p.notify.as_ref()) {
                notify.notify(n);
            }
        }
    }
    // Shutting down: nothing stays held on the host.
    for (id, mut p) in peers.drain() {
        p.reconciler.release_all(&mut actions);
        for a in actions.drain(..) {
            let _ = injector.apply(id, a);
        }
    }
}
