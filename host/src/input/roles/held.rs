//! A page that comes back keeps its place: its role and its seat.
//!
//! Each member is given a *rejoin token* (the `rejoin` message: 32 hex digits, random) that
//! its tab keeps and gives back in the `hello` of its next socket. A reload, or a stall that
//! cost the page its socket, then does not hand the session to somebody else:
//! - a member whose socket closed is *held* for [`REJOIN_GRACE`]: while it is, its seat is
//!   kept free for it, and when it was the last owner nobody inherits the session (a page
//!   with no token that finds nobody there starts afresh: the holds are dropped);
//! - a page that gives a held member's token within that time gets back its role and its seat;
//! - a page that gives the token of a member still there (its old socket not yet seen closed)
//!   replaces it at once: the old member is ended ([`Event::Replaced`]).
//!
//! An owner's own moves come first: an owner (or the API) giving or taking control uses a
//! held seat. A member an owner removed is not held.

use std::time::{Duration, Instant};

use super::{Admission, Event, Refusal, Role, Room};
use crate::peer::PeerId;
use crate::proto::signaling::HeldView;

/// How long a member whose socket closed is held for its page to come back.
pub const REJOIN_GRACE: Duration = Duration::from_secs(30);

/// At most this many members are held at once (the oldest goes first).
const MAX_HELD: usize = 64;

/// A member whose socket closed, held for its page to come back.
#[derive(Debug, Clone)]
pub(super) struct Held {
    /// The peer id it had (the API lets it go by it).
    peer: PeerId,
    token: String,
    /// Its name, kept when the page comes back without one (a default `Guest N` stays).
    name: String,
    /// It had asked for control: it still has.
    asked: bool,
    role: Role,
    /// The seat it held, kept free for it (`None` once an owner's move used it).
    seat: Option<usize>,
    open: bool,
    /// Its place in the join order ([`super::Member::since`]).
    since: u64,
    until: Instant,
}

/// A page joining ([`Room::handle_join_at`]).
#[derive(Debug, Clone, Copy)]
pub struct Joining<'a> {
    pub peer: PeerId,
    pub admission: Admission,
    /// The name it asked for.
    pub name: Option<&'a str>,
    /// The rejoin token it gave in `hello`, from its last socket.
    pub rejoin: Option<&'a str>,
    /// Its own new rejoin token, sent to it in the `rejoin` message.
    pub token: Option<&'a str>,
}

impl Room {
    /// A page joins at `now` (see [`Joining`]): as a held member it gets back its role and
    /// seat, replacing a member still there with its token; otherwise as
    /// [`Room::handle_join`] says (into an empty room, after dropping every hold). Returns
    /// the role it got.
    pub fn handle_join_at(
        &mut self,
        join: Joining<'_>,
        now: Instant,
        out: &mut Vec<Event>,
    ) -> Role {
        self.handle_tick(now, out);
        let back = join.rejoin.and_then(|t| self.take_place(t, now, out));
        if back.is_none() && self.members.is_empty() {
            // Nobody there to keep anything from: a new page (a new tab after the last one
            // closed) owns and drives at once.
            self.held.clear();
        }
        let role = match (&back, join.admission) {
            (Some(_), Admission::Owner) => Role::Owner,
            (Some(h), _) => h.role,
            (None, _) => self.role_for(join.admission),
        };
        let open = back
            .as_ref()
            .map_or(join.admission == Admission::Open, |h| h.open);
        let name = join.name.or(back.as_ref().map(|h| h.name.as_str()));
        self.insert(join.peer, role, open, name, out);
        if let Some(m) = self.members.get_mut(&join.peer) {
            m.token = join.token.map(str::to_owned);
            m.asked = back.as_ref().is_some_and(|h| h.asked);
            m.since = back.as_ref().map_or(m.since, |h| h.since);
        }
        match back.and_then(|h| h.seat) {
            Some(i) if self.seats.get(i) == Some(&None) => {
                self.seats[i] = Some(join.peer);
                out.push(Event::Changed);
            }
            _ => self.seat_owner(join.peer, role, out),
        }
        out.dedup();
        role
    }

    /// A page's socket closed at `now`: it leaves, and is held for [`REJOIN_GRACE`] when it
    /// had a rejoin token and its picture had started (`pictured`): a socket that only said
    /// `hello`, or a page that never connected, keeps no place (nor a name, nor a seat).
    pub fn handle_gone(
        &mut self,
        peer: PeerId,
        now: Instant,
        pictured: bool,
        out: &mut Vec<Event>,
    ) {
        let seat = self.seats.iter().position(|s| *s == Some(peer));
        if let Some(m) = self.members.get(&peer) {
            if let Some(token) = m.token.clone().filter(|_| pictured) {
                if self.held.len() >= MAX_HELD {
                    self.held.remove(0);
                }
                self.held.push(Held {
                    peer,
                    token,
                    name: m.name.clone(),
                    asked: m.asked,
                    role: m.role,
                    seat,
                    open: m.open,
                    since: m.since,
                    until: now + REJOIN_GRACE,
                });
            }
        }
        self.handle_leave(peer, out);
    }

    /// Time passed: members held past their grace are let go (the last owner's place then goes
    /// to the member there longest, as when it leaves).
    pub fn handle_tick(&mut self, now: Instant, out: &mut Vec<Event>) {
        let before = self.held.len();
        self.held.retain(|h| h.until > now);
        if self.held.len() < before {
            out.push(Event::Changed); // the list of held names changed
            self.inherit(out);
            out.dedup();
        }
    }

    /// Whether a member whose place is kept has this name (any case).
    pub(super) fn held_has_name(&self, name: &str) -> bool {
        let name = name.to_lowercase();
        self.held.iter().any(|h| h.name.to_lowercase() == name)
    }

    /// The held members that keep something (a role of owner, or a seat), for the others to
    /// know whose place waits ([`super::RoomView::held`]).
    pub(super) fn held_views(&self) -> Vec<HeldView> {
        let keeps = |h: &&Held| h.role == Role::Owner || h.seat.is_some();
        self.held
            .iter()
            .filter(keeps)
            .map(|h| HeldView {
                peer: h.peer.0,
                name: h.name.clone(),
                role: h.role,
            })
            .collect()
    }

    /// Lets go of the held member that had peer id `whom` (the API's removal): nothing is
    /// kept for its page any more, and the session is inherited as when its grace ends.
    /// Whether one was held.
    pub(super) fn let_go(&mut self, whom: PeerId, out: &mut Vec<Event>) -> bool {
        let Some(i) = self.held.iter().position(|h| h.peer == whom) else {
            return false;
        };
        self.held.remove(i);
        out.push(Event::LetGo(whom));
        out.push(Event::Changed);
        self.inherit(out);
        out.dedup();
        true
    }

    /// Why `whom`, not a member, cannot be acted on: it is held ([`Refusal::Held`]), or
    /// nobody.
    pub(super) fn absent(&self, whom: PeerId) -> Refusal {
        match self.held.iter().find(|h| h.peer == whom) {
            Some(h) => Refusal::Held(whom.0, h.name.clone()),
            None => Refusal::NoSuchMember(whom.0),
        }
    }

    /// When the next held member is let go, if any is held.
    pub fn held_deadline(&self) -> Option<Instant> {
        self.held.iter().map(|h| h.until).min()
    }

    /// Whether seat `i` is kept for a held member.
    pub(super) fn seat_held(&self, i: usize) -> bool {
        self.held.iter().any(|h| h.seat == Some(i))
    }

    /// Whether an owner is held (nobody inherits the session meanwhile).
    pub(super) fn owner_held(&self) -> bool {
        self.held.iter().any(|h| h.role == Role::Owner)
    }

    /// Frees a seat kept for a held member, for an owner's move; whether one was.
    pub(super) fn free_held_seat(&mut self) -> bool {
        let held = self.held.iter_mut().find(|h| h.seat.is_some());
        held.map(|h| h.seat = None).is_some()
    }

    /// The place of the member with rejoin token `token`: a held one, or one still there,
    /// which is then ended (its seat, if any, stays free for the page taking its place).
    fn take_place(&mut self, token: &str, now: Instant, out: &mut Vec<Event>) -> Option<Held> {
        if let Some(i) = self.held.iter().position(|h| h.token == token) {
            return Some(self.held.remove(i));
        }
        let (&old, m) = self
            .members
            .iter()
            .find(|(_, m)| m.token.as_deref() == Some(token))?;
        let (role, open, name, asked, since) = (m.role, m.open, m.name.clone(), m.asked, m.since);
        let seat = self.seats.iter().position(|s| *s == Some(old));
        self.members.remove(&old);
        if let Some(i) = seat {
            self.seats[i] = None;
            out.push(Event::Released(old));
        }
        out.push(Event::Replaced(old));
        out.push(Event::Changed);
        Some(Held {
            peer: old,
            token: token.to_owned(),
            name,
            asked,
            role,
            seat,
            open,
            since,
            until: now,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{p, DESK};
    use super::super::{Request, RoomConfig};
    use super::*;

    /// Peer `n` joins with its own token `t<n>`, giving back `rejoin`.
    fn join(room: &mut Room, n: u64, a: Admission, rejoin: Option<&str>, now: Instant) -> Role {
        let token = format!("t{n}");
        let join = Joining {
            peer: p(n),
            admission: a,
            name: None,
            rejoin,
            token: Some(&token),
        };
        room.handle_join_at(join, now, &mut Vec::new())
    }

    #[test]
    fn a_page_whose_picture_never_started_keeps_no_place() {
        let t0 = Instant::now();
        let mut room = Room::new(DESK);
        join(&mut room, 1, Admission::Owner, None, t0);
        join(&mut room, 2, Admission::Owner, None, t0);
        // An owner's socket that said hello and closed: gone, nothing held, its name free.
        room.handle_gone(p(2), t0, false, &mut Vec::new());
        assert!(room.view().held.is_empty());
        assert_eq!(room.held_deadline(), None);
        assert_eq!(
            join(&mut room, 3, Admission::Owner, Some("t2"), t0),
            Role::Owner
        );
        assert_eq!(room.view().members[1].name, "Guest 2");
    }

    #[test]
    fn a_reloaded_owner_gets_back_its_role_and_seat_not_the_member_there_longest() {
        let t0 = Instant::now();
        let mut room = Room::new(DESK);
        join(&mut room, 1, Admission::Open, None, t0);
        join(&mut room, 2, Admission::Open, None, t0);
        let mut ev = Vec::new();
        room.handle_gone(p(1), t0, true, &mut ev);
        assert!(ev.contains(&Event::Released(p(1))));
        // Held, and said: nobody inherits, nobody takes the seat, a newcomer is a guest.
        let held = HeldView {
            peer: 1,
            name: "Guest 1".into(),
            role: Role::Owner,
        };
        assert_eq!(room.view().held, [held]);
        assert_eq!(room.role(p(2)), Some(Role::Viewer));
        assert!(room.controllers().is_empty());
        assert_eq!(room.held_deadline(), Some(t0 + REJOIN_GRACE));
        assert_eq!(join(&mut room, 3, Admission::Open, None, t0), Role::Viewer);
        // Back 5 s later with its token: owner and driving again, held no more.
        let back = t0 + Duration::from_secs(5);
        assert_eq!(
            join(&mut room, 4, Admission::Open, Some("t1"), back),
            Role::Owner
        );
        assert_eq!(room.controllers(), [p(4)]);
        assert_eq!(room.held_deadline(), None);
        // Its old token is spent; the new one works.
        room.handle_gone(p(4), back, true, &mut Vec::new());
        assert_eq!(
            join(&mut room, 5, Admission::Open, Some("t1"), back),
            Role::Viewer
        );
        assert_eq!(
            join(&mut room, 6, Admission::Open, Some("t4"), back),
            Role::Owner
        );
        assert_eq!(room.controllers(), [p(6)]);
    }

    /// A program may let go of a held owner by the peer id it had (`DELETE
    /// /api/members/{peer}`): the session is inherited at once, not 30 s later, and its token
    /// gets nothing back.
    #[test]
    fn the_api_lets_go_of_a_held_owner_and_the_member_there_longest_inherits() {
        let t0 = Instant::now();
        let mut room = Room::new(DESK);
        join(&mut room, 1, Admission::Open, None, t0);
        join(&mut room, 2, Admission::Open, None, t0);
        room.handle_gone(p(1), t0, true, &mut Vec::new());
        assert_eq!(room.role(p(2)), Some(Role::Viewer));
        let mut ev = Vec::new();
        // Held, it cannot be given control or a role: the answer says why.
        let held = Err(Refusal::Held(1, "Guest 1".into()));
        assert_eq!(
            room.handle_api(super::super::ApiRequest::Give(p(1)), &mut ev),
            held
        );
        let viewer = super::super::ApiRequest::SetRole(p(1), Role::Viewer);
        assert_eq!(room.handle_api(viewer, &mut ev), held);
        room.handle_api(super::super::ApiRequest::Kick(p(1)), &mut ev)
            .expect("a held member is let go");
        assert!(ev.contains(&Event::LetGo(p(1))) && ev.contains(&Event::Changed));
        assert!(room.view().held.is_empty());
        assert_eq!(room.role(p(2)), Some(Role::Owner));
        assert_eq!(room.held_deadline(), None);
        assert_eq!(
            join(&mut room, 3, Admission::Open, Some("t1"), t0),
            Role::Viewer
        );
        // Let go once: a second time it is nobody.
        assert_eq!(
            room.handle_api(super::super::ApiRequest::Kick(p(1)), &mut ev),
            Err(Refusal::NoSuchMember(1))
        );
    }

    #[test]
    fn after_the_grace_the_member_there_longest_inherits() {
        let t0 = Instant::now();
        let mut room = Room::new(DESK);
        join(&mut room, 1, Admission::Open, None, t0);
        join(&mut room, 2, Admission::Open, None, t0);
        room.handle_gone(p(1), t0, true, &mut Vec::new());
        let mut ev = Vec::new();
        room.handle_tick(t0 + REJOIN_GRACE - Duration::from_millis(1), &mut ev);
        assert_eq!((room.role(p(2)), ev.len()), (Some(Role::Viewer), 0));
        room.handle_tick(t0 + REJOIN_GRACE, &mut ev);
        assert!(room.view().held.is_empty());
        assert_eq!(room.role(p(2)), Some(Role::Owner));
        assert_eq!(room.controllers(), [p(2)]);
        assert!(ev.contains(&Event::Changed));
        // Too late: the token gets nothing.
        let late = t0 + REJOIN_GRACE + Duration::from_secs(1);
        assert_eq!(
            join(&mut room, 3, Admission::Open, Some("t1"), late),
            Role::Viewer
        );
    }

    #[test]
    fn a_member_back_keeps_its_place_in_the_list_and_in_who_inherits() {
        let t0 = Instant::now();
        let mut room = Room::new(DESK);
        for n in 1..=3 {
            join(&mut room, n, Admission::Open, None, t0);
        }
        // Viewer 2 reloads (back as 4), then the owner leaves for good.
        room.handle_gone(p(2), t0, true, &mut Vec::new());
        join(&mut room, 4, Admission::Open, Some("t2"), t0);
        let order: Vec<u64> = room.members().iter().map(|m| m.peer).collect();
        assert_eq!(order, [1, 4, 3]);
        room.handle_leave(p(1), &mut Vec::new());
        assert_eq!(room.role(p(4)), Some(Role::Owner), "there longer than 3");
        assert_eq!(room.role(p(3)), Some(Role::Viewer));
    }

    #[test]
    fn a_page_on_a_new_socket_replaces_its_member_whose_socket_is_not_seen_closed_yet() {
        let t0 = Instant::now();
        let mut room = Room::new(DESK);
        join(&mut room, 1, Admission::Open, None, t0);
        join(&mut room, 2, Admission::Open, None, t0);
        let mut ev = Vec::new();
        let join3 = Joining {
            peer: p(3),
            admission: Admission::Open,
            name: None,
            rejoin: Some("t1"),
            token: Some("t3"),
        };
        assert_eq!(room.handle_join_at(join3, t0, &mut ev), Role::Owner);
        assert!(!room.is_member(p(1)));
        assert_eq!(room.controllers(), [p(3)]);
        assert!(ev.contains(&Event::Released(p(1))) && ev.contains(&Event::Replaced(p(1))));
        // The old socket closing later changes nothing.
        let mut ev = Vec::new();
        room.handle_gone(p(1), t0, true, &mut ev);
        assert!(ev.is_empty());
        assert_eq!(room.held_deadline(), None);
    }

    #[test]
    fn an_owner_may_use_a_held_seat_and_a_removed_member_is_not_held() {
        let t0 = Instant::now();
        let mut room = Room::new(DESK);
        join(&mut room, 1, Admission::Owner, None, t0);
        join(&mut room, 2, Admission::Viewer, None, t0);
        join(&mut room, 3, Admission::Viewer, None, t0);
        let mut ev = Vec::new();
        room.handle_request(p(1), Request::Give(p(2)), &mut ev)
            .expect("allowed");
        room.handle_gone(p(2), t0, true, &mut ev);
        // The held seat is not the others' to ask for, but the owner may give it...
        room.handle_request(p(3), Request::Ask, &mut ev)
            .expect("allowed");
        assert!(room.controllers().is_empty());
        room.handle_request(p(1), Request::Give(p(3)), &mut ev)
            .expect("allowed");
        assert_eq!(room.controllers(), [p(3)]);
        // ...and the member back then watches, its role and name kept.
        assert_eq!(
            join(&mut room, 4, Admission::Viewer, Some("t2"), t0),
            Role::Viewer
        );
        assert_eq!(room.controllers(), [p(3)]);
        let named = |room: &Room, n: u64| {
            let m = room.members().into_iter().find(|m| m.peer == n)?;
            Some((m.name, m.asked))
        };
        assert_eq!(named(&room, 4), Some(("Guest 2".to_owned(), false)));
        // A viewer that asked, reloaded, has still asked.
        room.handle_request(p(4), Request::Ask, &mut ev)
            .expect("allowed");
        room.handle_gone(p(4), t0, true, &mut ev);
        join(&mut room, 6, Admission::Viewer, Some("t4"), t0);
        assert_eq!(named(&room, 6), Some(("Guest 2".to_owned(), true)));
        // Removed by an owner: nothing held, the token gets nothing back.
        room.handle_request(p(1), Request::Kick(p(3)), &mut ev)
            .expect("allowed");
        room.handle_gone(p(3), t0, true, &mut ev);
        assert_eq!(room.held_deadline(), None);
        assert_eq!(
            join(&mut room, 5, Admission::Viewer, Some("t3"), t0),
            Role::Viewer
        );
        assert!(room.controllers().is_empty());
    }

    #[test]
    fn a_players_seat_is_kept_for_it_on_a_game() {
        let t0 = Instant::now();
        let game = RoomConfig {
            seats: 2,
            implicit: true,
            guests: Role::Viewer,
        };
        let mut room = Room::new(game);
        let mut ev = Vec::new();
        for n in 1..=3 {
            join(&mut room, n, Admission::Open, None, t0);
        }
        assert!(room.handle_act(p(1), &mut ev) && room.handle_act(p(2), &mut ev));
        room.handle_gone(p(1), t0, true, &mut ev);
        // Player 1's seat waits for it: the watcher cannot take it by playing.
        assert!(!room.handle_act(p(3), &mut ev));
        join(&mut room, 4, Admission::Open, Some("t1"), t0);
        assert_eq!(room.controllers(), [p(4), p(2)]);
        assert_eq!(room.role(p(4)), Some(Role::Owner));
    }

    #[test]
    fn a_new_page_into_an_empty_room_owns_and_drives_but_one_coming_back_finds_its_place() {
        let t0 = Instant::now();
        let mut room = Room::new(DESK);
        join(&mut room, 1, Admission::Open, None, t0);
        join(&mut room, 2, Admission::Open, None, t0);
        // Both stall and come back, the viewer first: the owner's place waits for it.
        room.handle_gone(p(1), t0, true, &mut Vec::new());
        room.handle_gone(p(2), t0, true, &mut Vec::new());
        assert_eq!(
            join(&mut room, 3, Admission::Open, Some("t2"), t0),
            Role::Viewer
        );
        assert!(room.controllers().is_empty());
        assert_eq!(
            join(&mut room, 4, Admission::Open, Some("t1"), t0),
            Role::Owner
        );
        assert_eq!(room.controllers(), [p(4)]);
        // The last page closes; a new tab (no token) finds nobody and owns and drives.
        room.handle_gone(p(3), t0, true, &mut Vec::new());
        room.handle_gone(p(4), t0, true, &mut Vec::new());
        assert_eq!(join(&mut room, 5, Admission::Open, None, t0), Role::Owner);
        assert_eq!(room.controllers(), [p(5)]);
        assert_eq!(room.held_deadline(), None);
    }
}
