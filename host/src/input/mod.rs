//! Input from browsers to the host: wire format, reconciliation, and the injection thread.

mod counters;
pub mod inject;
pub mod keymap;
pub mod locks;
pub use counters::InputCounters;
mod members;
pub mod reconcile;
pub mod roles;
pub mod sender;
mod typing;
/// The input packet format lives with the other page formats.
pub use crate::proto::input as wire;

#[cfg(test)]
mod tests;

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crossbeam_channel::{select_biased, Receiver};

use crate::peer::{Notice, PeerId, PeerNotifier};
use crate::proto::signaling::ErrorCode;
use members::{tell_bad_input, Members};
use reconcile::{Action, Reconciler};
use roles::{Admission, ApiRequest, Refusal, Request, Room, RoomView};

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
/// Most room requests a member may make in one second: each change goes to every page, so a
/// page that spams renames or asks would otherwise flood the others' notice queues. More are
/// refused (`forbidden`) and counted.
pub const ROOM_REQUESTS_PER_SECOND: u32 = 10;
/// A controller's pointer goes to the other pages at most this often (the newest position
/// wins): the host's own cursor is not in the picture.
pub const POINTER_EVERY: Duration = Duration::from_millis(50);

/// What the rtc thread hands the input thread: `Joined` and `Left` on the lifecycle queue,
/// the rest on the data queue. Signaling hands it `Member`, `Request` and `Gone`, on the
/// lifecycle queue too (the room of [`roles`] lives in the input thread).
#[derive(Debug)]
pub enum InputMsg {
    /// A page passed `hello`: it joins the room (before it can offer, so before `Joined`).
    Member {
        peer: PeerId,
        admission: Admission,
        name: Option<String>,
        /// The rejoin token its `hello` gave back, and its own new one (`roles::Joining`).
        rejoin: Option<String>,
        token: Option<String>,
        notify: PeerNotifier,
    },
    /// A member asks something of the room; a refusal goes back through its notifier.
    Request {
        peer: PeerId,
        request: Request,
    },
    /// A page's signaling socket closed: it leaves the room.
    Gone {
        peer: PeerId,
        /// Its picture had started: only then is its place held ([`roles::Room::handle_gone`]).
        pictured: bool,
    },
    /// A program's request through the HTTP API; the room as it is after, or why not.
    Api {
        request: ApiRequest,
        reply: tokio::sync::oneshot::Sender<Result<RoomView, Refusal>>,
    },
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
    /// Text a page copied, for the host's clipboard (data queue).
    Clipboard {
        peer: PeerId,
        text: String,
    },
    /// Text copied on the host, for the pages that may have it (data queue, from the
    /// clipboard worker's reader).
    HostClipboard {
        text: String,
    },
    Left {
        peer: PeerId,
    },
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
    /// The display's Caps Lock and Num Lock now, where the injector can read them.
    fn locks(&mut self) -> Option<crate::proto::input::Locks> {
        None
    }
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

    fn locks(&mut self) -> Option<crate::proto::input::Locks> {
        (**self).locks()
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
    last_inject_notice: Option<Instant>,
}

/// Where clipboard texts go: to the host's clipboard, and to pages (these peers).
pub struct ClipboardLinks {
    pub to_host: crossbeam_channel::Sender<String>,
    pub to_pages: Box<dyn Fn(Vec<PeerId>, Arc<str>) + Send>,
}

/// The room for the input thread, with where it publishes its member list at each change,
/// and the clipboard's links when the host shares its clipboard.
pub struct PublishedRoom {
    room: Room,
    tx: tokio::sync::watch::Sender<RoomView>,
    pub clipboard: Option<ClipboardLinks>,
    /// Members see the controller's pointer and others' "look here" (`--no-pointers`: not).
    pub pointers: bool,
    /// Who gets the host's clipboard text, and whose (while driving) sets it.
    pub clipboard_for: crate::proto::signaling::Who,
    /// Called with each held member the room lets go ([`roles::Event::LetGo`]): the
    /// signaling layer frees the `--max-peers` place kept for its page.
    pub on_let_go: Option<Box<dyn FnMut(PeerId) + Send>>,
}

/// A room set up as `config`; the receiver follows its member list (the API's event stream).
pub fn room(config: roles::RoomConfig) -> (PublishedRoom, tokio::sync::watch::Receiver<RoomView>) {
    let room = Room::new(config);
    let (tx, rx) = tokio::sync::watch::channel(room.view());
    let clipboard = None;
    (
        PublishedRoom {
            room,
            tx,
            clipboard,
            pointers: true,
            clipboard_for: crate::proto::signaling::Who::Control,
            on_let_go: None,
        },
        rx,
    )
}

/// Injects `a` for `peer`; a failure (a key with no keycode, say) is counted, logged and told
/// to the page at most once a second per peer, and the loop goes on.
fn apply_counted(
    injector: &mut impl Injector,
    counters: &InputCounters,
    peers: &mut HashMap<PeerId, PeerInput>,
    (peer, a): (PeerId, Action),
    now: Instant,
) {
    let Err(e) = injector.apply(peer, a) else {
        return;
    };
    counters.inject_errors.inc();
    tracing::debug!(%peer, error = %e, ?a, "injection failed");
    if let Some(entry) = peers.get_mut(&peer) {
        let total = counters.inject_errors.get();
        let notify = entry.notify.as_ref();
        let what = ("injection failed", "input not injected");
        tell_bad_input(
            &mut entry.last_inject_notice,
            notify,
            (peer, now),
            &e,
            total,
            what,
        );
    }
}

/// Runs the input loop until both queues close. Owns every peer's reconciler, the room (who
/// may drive; its member list is `published` at each change) and the injector. Lifecycle edges are taken before data, so a peer's data never
/// precedes its `Joined`; data of a peer that is not (or no longer) joined is dropped, and so
/// is input of a member without control.
pub fn run(
    lifecycle: Receiver<InputMsg>,
    rx: Receiver<InputMsg>,
    mut injector: impl Injector,
    counters: Arc<InputCounters>,
    echo: Arc<InputEcho>,
    room: PublishedRoom,
) {
    let mut peers: HashMap<PeerId, PeerInput> = HashMap::new();
    let mut members = Members {
        room: room.room,
        notify: HashMap::new(),
        told_watching: HashMap::new(),
        requests: HashMap::new(),
        events: Vec::new(),
        published: room.tx,
        pointers: HashMap::new(),
        clipboard_for: room.clipboard_for,
        sharing: Vec::new(),
        pointers_on: room.pointers,
        on_let_go: room.on_let_go,
    };
    let clipboard = room.clipboard;
    let clipboard_for = room.clipboard_for;
    let shares = |members: &Members, peer: PeerId| {
        let all = members.room.members();
        all.iter()
            .any(|m| m.peer == peer.0 && clipboard_for.allows(m))
    };
    let mut actions = Vec::new();
    let mut tagged: Vec<(PeerId, Action)> = Vec::new();
    let mut notices: Vec<(PeerId, Notice)> = Vec::new();
    let mut lost: Vec<PeerId> = Vec::new();
    let mut gained: Vec<PeerId> = Vec::new();
    // The host's clipboard text as last copied: a member it is newly shared with gets it.
    let mut host_text: Option<Arc<str>> = None;
    // Text waiting to be typed, each with its member; its characters in reverse order.
    let mut typing: VecDeque<(PeerId, Vec<char>)> = VecDeque::new();
    loop {
        let deadline = peers
            .values()
            .filter_map(|p| p.reconciler.lease_deadline())
            .chain(members.pointer_deadline())
            .chain(members.room.held_deadline())
            .chain((!typing.is_empty()).then(Instant::now))
            .min();
        let msg = match next_message(&lifecycle, &rx, deadline) {
            Next::Message(m) => Some(m),
            Next::Timeout => None,
            Next::Closed => break,
        };
        let now = Instant::now();
        members.room.handle_tick(now, &mut members.events);
        let mut applied: Option<(PeerId, u32)> = None;
        let mut left: Option<PeerId> = None;
        match msg {
            None => {}
            Some(InputMsg::Member {
                peer,
                admission,
                name,
                rejoin,
                token,
                notify,
            }) => {
                members.notify.insert(peer, notify);
                let join = roles::Joining {
                    peer,
                    admission,
                    name: name.as_deref(),
                    rejoin: rejoin.as_deref(),
                    token: token.as_deref(),
                };
                let role = members.room.handle_join_at(join, now, &mut members.events);
                tracing::info!(%peer, ?role, "member joined");
            }
            Some(InputMsg::Request { peer, request }) => {
                let (r, tell) = if !members.pointers_on
                    && matches!(request, roles::Request::Point(..))
                {
                    (Err(roles::Refusal::PointersOff), true)
                } else {
                    match members.admit_request(peer, now) {
                        members::Admit::Yes => (
                            members
                                .room
                                .handle_request(peer, request.clone(), &mut members.events),
                            true,
                        ),
                        members::Admit::Refused { tell } => {
                            (Err(roles::Refusal::TooMany(ROOM_REQUESTS_PER_SECOND)), tell)
                        }
                    }
                };
                match r {
                    Ok(()) => tracing::info!(%peer, ?request, "room request"),
                    Err(e) => {
                        counters.room_refused.inc();
                        tracing::debug!(%peer, ?request, error = %e, "room request refused");
                        if tell {
                            members.tell(peer, Notice::error(e.code(), e.to_string()));
                        }
                    }
                }
            }
            Some(InputMsg::Api { request, reply }) => {
                let r = members
                    .room
                    .handle_api(request.clone(), &mut members.events);
                match &r {
                    // A list changes nothing (and monitoring asks for it often).
                    Ok(()) if matches!(request, ApiRequest::List) => {}
                    Ok(()) => tracing::info!(?request, "room request from the API"),
                    Err(_) => {
                        counters.room_refused.inc();
                    }
                }
                let _ = reply.send(r.map(|()| members.room.view()));
            }
            Some(InputMsg::Gone { peer, pictured }) => {
                members
                    .room
                    .handle_gone(peer, now, pictured, &mut members.events);
                members.notify.remove(&peer);
                members.told_watching.remove(&peer);
                members.requests.remove(&peer);
                members.pointers.remove(&peer);
            }
            Some(InputMsg::Joined { peer, notify }) => {
                // Its connection exists now: the host's clipboard can reach it.
                if shares(&members, peer) {
                    gained.push(peer);
                }
                peers.insert(
                    peer,
                    PeerInput {
                        reconciler: Reconciler::new(),
                        notify: Some(notify),
                        last_notice: None,
                        last_inject_notice: None,
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
                        if members.may_drive(peer, packet.acts(), now, &counters) {
                            entry.reconciler.handle_packet(at, &packet, &mut actions);
                            // The page's Caps Lock and Num Lock, before the keys it presses.
                            let host = match packet.state.locks {
                                Some(_) if locks::wants_sync(&actions) => injector.locks(),
                                _ => None,
                            };
                            if let (Some(host), Some(page)) = (host, packet.state.locks) {
                                let taps = locks::taps(host, page);
                                counters.lock_syncs.inc_by(taps.len() as u64 / 2);
                                tagged.extend(taps.into_iter().map(|a| (peer, a)));
                            }
                            // Only a packet that changed something is news for the echo: a
                            // heartbeat's would start runs of echoes that show nothing.
                            if !actions.is_empty() {
                                applied = entry.reconciler.newest_seq().map(|s| (peer, s));
                            }
                            tagged.extend(actions.drain(..).map(|a| (peer, a)));
                        }
                    }
                    Err(e) => {
                        counters.malformed.inc();
                        tracing::debug!(%peer, error = %e, "malformed input packet dropped");
                        tell_bad_input(
                            &mut entry.last_notice,
                            entry.notify.as_ref(),
                            (peer, now),
                            &e,
                            counters.malformed.get(),
                            ("malformed input dropped", "input packet dropped"),
                        );
                    }
                }
            }
            Some(InputMsg::Text { peer, text }) => {
                if !members.may_drive(peer, true, now, &counters) {
                    continue;
                }
                // Typed a few characters per turn of the loop (typing is slow: one keymap
                // change per character the keymap lacks), so joins, hand-offs and other
                // members' input are not held up by a long paste.
                let queued: usize = typing.iter().map(|(_, t)| t.len()).sum();
                if queued + text.len() > typing::MAX_TYPING_QUEUED {
                    counters.text_dropped.inc();
                    // An info, not `busy` (on which a page connects again).
                    let message = "still typing the earlier text: this text was dropped".into();
                    members.tell(peer, Notice::Info { message });
                    continue;
                }
                typing.push_back((peer, text.chars().rev().collect()));
            }
            Some(InputMsg::Clipboard { peer, text }) => {
                let Some(links) = &clipboard else { continue };
                if !members.may_drive(peer, true, now, &counters) {
                    continue;
                }
                if !shares(&members, peer) {
                    counters.clipboard_refused.inc();
                    let why = format!(
                        "the host's clipboard is shared with {} only",
                        clipboard_for.as_str()
                    );
                    members.tell(peer, Notice::error(ErrorCode::Forbidden, why));
                    continue;
                }
                match links.to_host.try_send(text) {
                    Ok(()) => {
                        counters.clipboard_to_host.inc();
                    }
                    Err(_) => tracing::debug!(%peer, "clipboard text dropped: the host is busy"),
                }
            }
            Some(InputMsg::HostClipboard { text }) => {
                let Some(links) = &clipboard else { continue };
                // The member in control and the owners get it; viewers do not.
                let peers: Vec<PeerId> = members
                    .room
                    .members()
                    .iter()
                    .filter(|m| clipboard_for.allows(m))
                    .map(|m| PeerId(m.peer))
                    .collect();
                counters.clipboard_to_pages.inc();
                let text: Arc<str> = text.into();
                host_text = Some(text.clone());
                (links.to_pages)(peers, text);
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
        // A member that lost control lets go of everything it held, before anyone else's
        // input of this batch is injected.
        members.settle(&counters, &mut lost, &mut gained);
        // A member without a connection yet gets the text when it has one (`Joined`).
        gained.retain(|p| peers.contains_key(p));
        if let (Some(links), Some(text), false) = (&clipboard, &host_text, gained.is_empty()) {
            counters.clipboard_to_pages.inc();
            (links.to_pages)(std::mem::take(&mut gained), text.clone());
        }
        gained.clear();
        for peer in &lost {
            if let Some(p) = peers.get_mut(peer) {
                p.reconciler.release_all(&mut actions);
                let released: Vec<_> = actions.drain(..).map(|a| (*peer, a)).collect();
                tagged.splice(0..0, released);
            }
        }
        for (id, p) in peers.iter_mut() {
            p.reconciler.handle_timeout(now, &mut actions);
            tagged.extend(actions.drain(..).map(|a| (*id, a)));
        }
        for (peer, a) in tagged.drain(..) {
            apply_counted(&mut injector, &counters, &mut peers, (peer, a), now);
            if let Action::MoveTo { x, y } = a {
                members.pointer_moved(peer, x, y, now);
            }
        }
        members.flush_pointers(now);
        // It drives nothing from now on (a game frees its player).
        for peer in left.take().into_iter().chain(lost.drain(..)) {
            injector.peer_left(peer);
        }
        // After the injection: a frame captured from now on shows this packet's effect.
        if let Some((peer, seq)) = applied {
            echo.set(peer, seq);
        }
        typing::type_some(
            &mut typing,
            &members.room,
            &mut peers,
            &mut injector,
            &counters,
            now,
        );
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
