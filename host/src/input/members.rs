//! The input thread's share of the session's members: the room, the pages it tells (member
//! lists, pointers, refusals), and the limits on what one member may ask.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::roles::{Event, Refusal, Room, RoomView};
use super::{InputCounters, NOTICE_INTERVAL, POINTER_EVERY, ROOM_REQUESTS_PER_SECOND};
use crate::peer::{Notice, PeerId, PeerNotifier};
use crate::proto::signaling::EndedWhy;
use crate::proto::signaling::{ErrorCode, Who};

/// At most one notice per [`NOTICE_INTERVAL`] for `last`.
pub(super) fn notice_due(last: &mut Option<Instant>, now: Instant) -> bool {
    let due = last.is_none_or(|t| now.duration_since(t) >= NOTICE_INTERVAL);
    if due {
        *last = Some(now);
    }
    due
}

/// A page's bad input, logged and told to it at most once a second per peer for each kind
/// (`last`): `what` is the log's words and the start of the page's message (an `error`
/// notice, `bad-input`), `total` the kind's count so far.
pub(super) fn tell_bad_input(
    last: &mut Option<Instant>,
    notify: Option<&PeerNotifier>,
    (peer, now): (PeerId, Instant),
    error: &dyn std::fmt::Display,
    total: u64,
    (logged, told): (&str, &str),
) {
    if !notice_due(last, now) {
        return;
    }
    tracing::warn!(
        %peer,
        %error,
        total,
        "{logged} (logged at most once a second per peer)"
    );
    if let Some(n) = notify {
        n.notify(Notice::error(
            ErrorCode::BadInput,
            format!("{told}: {error}"),
        ));
    }
}

/// The room and the pages it tells: the input thread's share of the session's members.
pub(super) struct Members {
    pub(super) room: Room,
    /// Each member's signaling socket.
    pub(super) notify: HashMap<PeerId, PeerNotifier>,
    /// Members without control told (at most once a second) that their input was dropped.
    pub(super) told_watching: HashMap<PeerId, Option<Instant>>,
    /// Each member's requests in the current second: (when that second began, how many).
    pub(super) requests: HashMap<PeerId, (Instant, u32)>,
    pub(super) events: Vec<Event>,
    /// The member list for the API's event stream, at each change.
    pub(super) published: tokio::sync::watch::Sender<RoomView>,
    /// Controllers' pointers, as sent to the others.
    pub(super) pointers: HashMap<PeerId, Pointer>,
    /// Who the host's clipboard is shared with (`--clipboard-for`).
    pub(super) clipboard_for: Who,
    /// The members it was shared with at the last change.
    pub(super) sharing: Vec<PeerId>,
    /// Whether pointers are shown to the others.
    pub(super) pointers_on: bool,
    /// Told of each held member let go ([`super::PublishedRoom::on_let_go`]).
    pub(super) on_let_go: Option<Box<dyn FnMut(PeerId) + Send>>,
}

/// One controller's pointer: when it was last sent to the others, and a newer position not
/// sent yet.
#[derive(Debug, Default)]
pub(super) struct Pointer {
    sent: Option<Instant>,
    pending: Option<(u16, u16)>,
}

/// A room request against its member's limit ([`Members::admit_request`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Admit {
    Yes,
    /// Over the limit; `tell`: the first refused in this second, which the member is told of.
    Refused {
        tell: bool,
    },
}

impl Members {
    /// Whether `peer` may make one more request now ([`ROOM_REQUESTS_PER_SECOND`]), and if
    /// not, whether this is the first refused in its second (the only one it is told of: a
    /// flood of 1000 drew ~490 replies, each one more message for its socket).
    pub(super) fn admit_request(&mut self, peer: PeerId, now: Instant) -> Admit {
        let (start, n) = self.requests.entry(peer).or_insert((now, 0));
        if now.duration_since(*start) >= Duration::from_secs(1) {
            (*start, *n) = (now, 0);
        }
        *n = n.saturating_add(1);
        match (*n).cmp(&(ROOM_REQUESTS_PER_SECOND + 1)) {
            std::cmp::Ordering::Less => Admit::Yes,
            std::cmp::Ordering::Equal => Admit::Refused { tell: true },
            std::cmp::Ordering::Greater => Admit::Refused { tell: false },
        }
    }

    /// Tells every member but `from`.
    pub(super) fn tell_others(&self, from: PeerId, notice: &Notice) {
        for (p, n) in &self.notify {
            if *p != from {
                n.notify(notice.clone());
            }
        }
    }

    /// A controller's pointer moved to (`x`, `y`): the others see it, at most every
    /// [`POINTER_EVERY`] (the rest waits for [`Members::flush_pointers`]).
    pub(super) fn pointer_moved(&mut self, peer: PeerId, x: u16, y: u16, now: Instant) {
        if !self.pointers_on {
            return;
        }
        let entry = self.pointers.entry(peer).or_default();
        entry.pending = Some((x, y));
        if entry
            .sent
            .is_none_or(|t| now.duration_since(t) >= POINTER_EVERY)
        {
            self.flush_pointers(now);
        }
    }

    /// Sends the pointers whose time has come.
    pub(super) fn flush_pointers(&mut self, now: Instant) {
        let due: Vec<(PeerId, u16, u16)> = self
            .pointers
            .iter_mut()
            .filter(|(_, p)| {
                p.pending.is_some()
                    && p.sent
                        .is_none_or(|t| now.duration_since(t) >= POINTER_EVERY)
            })
            .filter_map(|(peer, p)| {
                p.sent = Some(now);
                p.pending.take().map(|(x, y)| (*peer, x, y))
            })
            .collect();
        for (peer, x, y) in due {
            let look = false;
            self.tell_others(
                peer,
                &Notice::Pointer {
                    peer: peer.0,
                    x,
                    y,
                    look,
                },
            );
        }
    }

    /// When the next waiting pointer is due.
    pub(super) fn pointer_deadline(&self) -> Option<Instant> {
        self.pointers
            .values()
            .filter(|p| p.pending.is_some())
            .filter_map(|p| p.sent.map(|t| t + POINTER_EVERY))
            .min()
    }

    pub(super) fn tell(&self, peer: PeerId, notice: Notice) {
        if let Some(n) = self.notify.get(&peer) {
            n.notify(notice);
        }
    }

    /// Does what the room's events say; adds the members that lost control to `lost`, and
    /// those the host's clipboard is now shared with and was not before (they joined, became
    /// an owner or gained control, as `--clipboard-for` says) to `gained`.
    pub(super) fn settle(
        &mut self,
        counters: &InputCounters,
        lost: &mut Vec<PeerId>,
        gained: &mut Vec<PeerId>,
    ) {
        let mut changed = false;
        for e in std::mem::take(&mut self.events) {
            match e {
                Event::Changed => changed = true,
                Event::Released(peer) => {
                    counters.hand_offs.inc();
                    lost.push(peer);
                }
                Event::Removed(peer) => {
                    if let Some(n) = self.notify.remove(&peer) {
                        n.notify(Notice::Ended {
                            message: "you were removed from the session".into(),
                            why: EndedWhy::Removed,
                        });
                    }
                }
                Event::LetGo(peer) => {
                    if let Some(f) = self.on_let_go.as_mut() {
                        f(peer);
                    }
                }
                Event::Replaced(peer) => {
                    if let Some(n) = self.notify.remove(&peer) {
                        n.notify(Notice::Ended {
                            message: "this page joined again on a new connection".into(),
                            why: EndedWhy::Replaced,
                        });
                    }
                }
                Event::Pointed(peer, x, y) => {
                    let look = true;
                    self.tell_others(
                        peer,
                        &Notice::Pointer {
                            peer: peer.0,
                            x,
                            y,
                            look,
                        },
                    );
                }
            }
        }
        if changed {
            counters.members.set(self.notify.len() as i64);
            let view = self.room.view();
            let list = Notice::Members {
                members: view.members.clone(),
                seats: view.seats,
                implicit: view.implicit,
                held: view.held.clone(),
            };
            for n in self.notify.values() {
                n.notify(list.clone());
            }
            let now: Vec<PeerId> = view
                .members
                .iter()
                .filter(|m| self.clipboard_for.allows(m))
                .map(|m| PeerId(m.peer))
                .collect();
            gained.extend(now.iter().filter(|p| !self.sharing.contains(p)));
            self.sharing = now;
            self.published.send_replace(view);
        }
    }

    /// Whether `peer`'s input may be injected (taking a free seat with implicit control when
    /// it `acts`); when not, it is counted and the page told (at most once a second).
    pub(super) fn may_drive(
        &mut self,
        peer: PeerId,
        acts: bool,
        now: Instant,
        counters: &InputCounters,
    ) -> bool {
        if self.room.in_control(peer) || (acts && self.room.handle_act(peer, &mut self.events)) {
            return true;
        }
        if !acts {
            return false; // a watching page's pointer or heartbeat: nothing to tell
        }
        counters.not_in_control.inc();
        let last = self.told_watching.entry(peer).or_default();
        if notice_due(last, now) {
            self.tell(
                peer,
                Notice::error(
                    ErrorCode::NotInControl,
                    "you are watching: ask for control to drive the host",
                ),
            );
        }
        false
    }
}

impl Refusal {
    /// The signaling `error` code a page is told this refusal with: `no-such-member` for a
    /// member that is not in the session (as the control API's 404), `forbidden` for the rest
    /// (also a name that is no name: the page shows a `forbidden` error's words to its user,
    /// and a name of invisible characters passes its own checks).
    pub fn code(&self) -> ErrorCode {
        match self {
            Refusal::NoSuchMember(_) => ErrorCode::NoSuchMember,
            _ => ErrorCode::Forbidden,
        }
    }
}
