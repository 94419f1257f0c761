//! Who may drive the host, sans-IO: the session's members, their roles, and who holds control.
//!
//! Every page that passed `hello` is a member, with a role:
//! - **owner**: may do everything: take control at any time, give it, change roles, remove a
//!   member;
//! - **viewer**: watches; it may ask for control, and drives once it is given control.
//!
//! Control is a number of *seats* ([`RoomConfig::seats`]): one on a desktop (one controller
//! at a time), one per player on a game. Only a seated member's input is injected. The
//! hand-off follows neko's model: a viewer *asks*, the controller or an owner *gives*, an owner
//! *takes*, the controller *releases*. With implicit control ([`RoomConfig::implicit`]) whoever
//! acts first while a seat is free takes it.
//!
//! The room is a plain value: requests in (`handle_*`), [`Event`]s out; the input thread owns
//! it and does what the events say (tell every page the member list, release what a member
//! that lost control held down, close a removed member's socket).

use std::collections::BTreeMap;

use thiserror::Error;

use crate::peer::PeerId;
pub use crate::proto::signaling::{MemberView, Role, RoomView};

/// Longest member name, in characters.
pub const MAX_NAME: usize = 32;

/// How a page got in: with the owner's password, the viewers' one, or with none set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    Owner,
    Viewer,
    /// The host has no password: the first page is the owner, later ones get
    /// [`RoomConfig::guests`] while an owner is there.
    Open,
}

/// How the room is set up, once.
#[derive(Debug, Clone, Copy)]
pub struct RoomConfig {
    /// How many members may drive at once: 1 on a desktop, the player count on a game.
    pub seats: usize,
    /// Whoever acts (or asks) first while a seat is free takes it.
    pub implicit: bool,
    /// The role of a page admitted [`Admission::Open`] while an owner is there.
    pub guests: Role,
}

/// What a member asks of the room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// Ask for control (takes a free seat at once with implicit control).
    Ask,
    /// Give control to this member: the giver's own seat, or (an owner) a free seat, or on a
    /// one-seat desktop the current controller's.
    Give(PeerId),
    /// Take control (owners; anyone with implicit control while a seat is free).
    Take,
    /// Give up control.
    Release,
    /// Remove this member from the session (owners).
    Kick(PeerId),
    /// Change this member's role (owners).
    SetRole(PeerId, Role),
    /// Change one's own name.
    Rename(String),
    /// "Look here": show the others a pointer at this host pixel.
    Point(u16, u16),
}

/// What a program asks of the room through the HTTP API, with an owner's authority but from
/// outside the session (it holds no seat).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiRequest {
    /// Only the member list.
    List,
    /// Give control to this member: a free seat, or on a one-seat desktop the controller's.
    Give(PeerId),
    /// Free every seat: nobody drives until someone is given or takes control.
    Revoke,
    SetRole(PeerId, Role),
    Kick(PeerId),
}

/// Why a request was refused. The message goes to the page as is.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Refusal {
    #[error("only an owner may {0}")]
    OwnerOnly(&'static str),
    #[error("only an owner or the member in control may give control")]
    CannotGive,
    #[error("no member {0} in this session")]
    NoSuchMember(u64),
    /// A member whose page left and whose place is kept ([`held`]): only removing it applies.
    #[error(
        "{1} (member {0}) left; its place is kept for its page to come back: removing it lets \
         it go"
    )]
    Held(u64, String),
    #[error("you do not have control")]
    NotInControl,
    #[error("you already have control")]
    AlreadyInControl,
    #[error("{0} already has control")]
    TargetInControl(String),
    #[error("every seat is taken ({0}); one must be released first")]
    NoSeat(usize),
    #[error("the session needs an owner: make another member an owner first")]
    LastOwner,
    #[error("remove yourself by closing the page")]
    KickSelf,
    #[error("a name is 1 to {MAX_NAME} characters, without control or invisible characters")]
    BadName,
    #[error("too many requests: at most {0} a second")]
    TooMany(u32),
    #[error("pointers are off on this host")]
    PointersOff,
}

/// What the driver must do after a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The member list changed: send [`Room::members`] to every member.
    Changed,
    /// This member lost its seat: release everything it holds down on the host.
    Released(PeerId),
    /// This member was removed: tell it and close its socket.
    Removed(PeerId),
    /// This held member ([`held`]) was let go (removed by the API or an owner's page): its
    /// page's place among the session's `--max-peers` is no longer kept either.
    LetGo(PeerId),
    /// This member's page came back on a new socket (its rejoin token, [`held`]): end the old
    /// one.
    Replaced(PeerId),
    /// This member points here ("look here"): tell the others.
    Pointed(PeerId, u16, u16),
}

#[derive(Debug, Clone)]
struct Member {
    name: String,
    role: Role,
    asked: bool,
    /// Admitted with no password (it may be made the owner when the last one leaves).
    open: bool,
    /// Its rejoin token ([`held`]).
    token: Option<String>,
    /// When it first joined, in join order: a page that came back keeps its place in the
    /// list and in the order of who inherits the session ([`held`]).
    since: u64,
}

impl RoomConfig {
    /// Who may drive under `config`: one seat on a desktop, one per player on a game.
    pub fn from_config(config: &crate::config::Config) -> Self {
        let game = config.core.is_some();
        Self {
            seats: if game { glint_emulators::PORTS } else { 1 },
            implicit: config.implicit_control.unwrap_or(game),
            guests: config.guests,
        }
    }
}

/// The members and the seats.
#[derive(Debug)]
pub struct Room {
    config: RoomConfig,
    /// By peer id (see [`Member::since`] for the order they joined in).
    members: BTreeMap<PeerId, Member>,
    /// How many pages joined, for [`Member::since`].
    joins: u64,
    seats: Vec<Option<PeerId>>,
    /// Members whose socket closed, held for their page to come back ([`held`]).
    held: Vec<held::Held>,
}

/// A name as given, trimmed; `None` when empty, too long or with control characters.
pub fn clean_name(name: &str) -> Option<String> {
    let name = name.trim();
    // Control characters, and the invisible ones that reorder or hide text (bidi overrides,
    // zero-width spaces, soft hyphens), which would let a name pass for another.
    let invisible = |c: char| {
        c.is_control()
            || matches!(c, '\u{00ad}' | '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}')
            || matches!(c, '\u{2060}'..='\u{206f}' | '\u{feff}')
    };
    let ok = !name.is_empty() && name.chars().count() <= MAX_NAME && !name.chars().any(invisible);
    ok.then(|| name.to_owned())
}

impl Room {
    pub fn new(config: RoomConfig) -> Self {
        Self {
            seats: vec![None; config.seats.max(1)],
            config,
            members: BTreeMap::new(),
            joins: 0,
            held: Vec::new(),
        }
    }

    pub fn config(&self) -> RoomConfig {
        self.config
    }

    /// Whether `peer`'s input is injected now.
    pub fn in_control(&self, peer: PeerId) -> bool {
        self.seats.contains(&Some(peer))
    }

    pub fn is_member(&self, peer: PeerId) -> bool {
        self.members.contains_key(&peer)
    }

    pub fn role(&self, peer: PeerId) -> Option<Role> {
        self.members.get(&peer).map(|m| m.role)
    }

    /// Every member in the order they joined (a page that came back in its place), as pages
    /// see them.
    pub fn members(&self) -> Vec<MemberView> {
        let mut members: Vec<_> = self.members.iter().collect();
        members.sort_by_key(|(_, m)| m.since);
        members
            .into_iter()
            .map(|(p, m)| MemberView {
                peer: p.0,
                name: m.name.clone(),
                role: m.role,
                control: self.in_control(*p),
                asked: m.asked,
            })
            .collect()
    }

    /// The member list with the room's settings.
    pub fn view(&self) -> RoomView {
        RoomView {
            members: self.members(),
            seats: u8::try_from(self.seats.len()).unwrap_or(u8::MAX),
            implicit: self.config.implicit,
            held: self.held_views(),
        }
    }

    /// A request from the HTTP API (see [`ApiRequest`]).
    pub fn handle_api(&mut self, request: ApiRequest, out: &mut Vec<Event>) -> Result<(), Refusal> {
        match request {
            ApiRequest::List => Ok(()),
            ApiRequest::Give(to) => {
                self.check_target(to)?;
                self.free_one(out)?;
                self.seat(to, out);
                out.dedup();
                Ok(())
            }
            ApiRequest::Revoke => {
                for c in self.controllers() {
                    self.unseat(c, out);
                }
                out.dedup();
                Ok(())
            }
            ApiRequest::SetRole(whom, role) => self.set_role(whom, role, out),
            ApiRequest::Kick(whom) => self.remove(whom, out),
        }
    }

    /// `to` may be given a seat: a member without one.
    fn check_target(&self, to: PeerId) -> Result<(), Refusal> {
        match self.members.get(&to) {
            None => Err(self.absent(to)),
            Some(m) if self.in_control(to) => Err(Refusal::TargetInControl(m.name.clone())),
            Some(_) => Ok(()),
        }
    }

    /// Makes sure a seat is free: when none is, on a one-seat desktop the controller's is
    /// taken (and it is released); with more seats nobody's is.
    fn free_one(&mut self, out: &mut Vec<Event>) -> Result<(), Refusal> {
        if self.free_seat().is_some() || self.free_held_seat() {
            return Ok(());
        }
        match self.controllers().as_slice() {
            [only] if self.seats.len() == 1 => {
                let only = *only;
                self.unseat(only, out);
                Ok(())
            }
            _ => Err(Refusal::NoSeat(self.seats.len())),
        }
    }

    /// Gives `whom` the role `role` (made a viewer, it also loses its seat); the session keeps
    /// at least one owner.
    fn set_role(&mut self, whom: PeerId, role: Role, out: &mut Vec<Event>) -> Result<(), Refusal> {
        let owners = self
            .members
            .values()
            .filter(|m| m.role == Role::Owner)
            .count();
        let absent = self.absent(whom);
        let m = self.members.get_mut(&whom).ok_or(absent)?;
        if m.role == Role::Owner && role == Role::Viewer && owners == 1 {
            return Err(Refusal::LastOwner);
        }
        if m.role != role {
            m.role = role;
            out.push(Event::Changed);
            // An owner made a viewer stops driving: a demotion is how an owner stops someone.
            if role == Role::Viewer {
                self.unseat(whom, out);
            }
        }
        Ok(())
    }

    /// Removes member `whom` from the session: it leaves, and is told so.
    /// A held member (its page gone, [`held`]) is let go instead: nothing is kept for it.
    fn remove(&mut self, whom: PeerId, out: &mut Vec<Event>) -> Result<(), Refusal> {
        if !self.is_member(whom) {
            return match self.let_go(whom, out) {
                true => Ok(()),
                false => Err(Refusal::NoSuchMember(whom.0)),
            };
        }
        self.handle_leave(whom, out);
        out.push(Event::Removed(whom));
        Ok(())
    }

    /// The members holding a seat.
    pub fn controllers(&self) -> Vec<PeerId> {
        self.seats.iter().flatten().copied().collect()
    }

    fn has_owner(&self) -> bool {
        self.members.values().any(|m| m.role == Role::Owner)
    }

    /// A seat nobody holds and none is kept for ([`held`]).
    fn free_seat(&self) -> Option<usize> {
        (0..self.seats.len()).find(|&i| self.seats[i].is_none() && !self.seat_held(i))
    }

    fn seat(&mut self, peer: PeerId, out: &mut Vec<Event>) -> bool {
        let Some(i) = self.free_seat() else {
            return false;
        };
        self.seats[i] = Some(peer);
        if let Some(m) = self.members.get_mut(&peer) {
            m.asked = false;
        }
        out.push(Event::Changed);
        true
    }

    fn unseat(&mut self, peer: PeerId, out: &mut Vec<Event>) -> bool {
        let Some(i) = self.seats.iter().position(|s| *s == Some(peer)) else {
            return false;
        };
        self.seats[i] = None;
        out.push(Event::Released(peer));
        out.push(Event::Changed);
        true
    }

    /// `name` for `peer`, with ` (2)`, ` (3)`… added while another member has it (compared
    /// without case), so that no member passes for another.
    fn unique_name(&self, peer: PeerId, name: String) -> String {
        let taken = |n: &str| self.name_taken(peer, n);
        if !taken(&name) {
            return name;
        }
        (2..)
            .map(|i| format!("{name} ({i})"))
            .find(|n| !taken(n))
            .unwrap_or(name)
    }

    /// Whether a member other than `peer` has this name (any case).
    fn name_taken(&self, peer: PeerId, name: &str) -> bool {
        let name = name.to_lowercase();
        (self.members.iter()).any(|(p, m)| *p != peer && m.name.to_lowercase() == name)
    }

    /// A page joins as `peer`, named `name` (cleaned; a default when unusable). An owner takes
    /// a free seat at once, so a lone user drives as before. Returns the role it got. (With a
    /// rejoin token and the time: [`Room::handle_join_at`].)
    pub fn handle_join(
        &mut self,
        peer: PeerId,
        admission: Admission,
        name: Option<&str>,
        out: &mut Vec<Event>,
    ) -> Role {
        let role = self.role_for(admission);
        self.insert(peer, role, admission == Admission::Open, name, out);
        self.seat_owner(peer, role, out);
        role
    }

    /// The role a page admitted so gets: an open page owns a session with no owner (nor one
    /// held, [`held`]).
    fn role_for(&self, admission: Admission) -> Role {
        match admission {
            Admission::Owner => Role::Owner,
            Admission::Viewer => Role::Viewer,
            Admission::Open if self.has_owner() || self.owner_held() => self.config.guests,
            Admission::Open => Role::Owner,
        }
    }

    fn insert(
        &mut self,
        peer: PeerId,
        role: Role,
        open: bool,
        name: Option<&str>,
        out: &mut Vec<Event>,
    ) {
        let name = match name.and_then(clean_name) {
            Some(name) => self.unique_name(peer, name),
            // The lowest number no member (nor a kept place) has, not the peer id: two pages
            // are "Guest 1" and "Guest 2" however often they reconnected.
            None => (1..)
                .map(|i| format!("Guest {i}"))
                .find(|n| !self.name_taken(peer, n) && !self.held_has_name(n))
                .unwrap_or_default(),
        };
        self.members.insert(
            peer,
            Member {
                name,
                role,
                asked: false,
                open,
                token: None,
                since: self.joins,
            },
        );
        self.joins += 1;
        out.push(Event::Changed);
    }

    /// A lone user drives at once; with implicit control, whoever acts first does.
    fn seat_owner(&mut self, peer: PeerId, role: Role, out: &mut Vec<Event>) {
        if role == Role::Owner && !self.config.implicit {
            self.seat(peer, out);
        }
    }

    /// A page left (its socket closed): its seat, if any, is freed. When the last owner of a
    /// session without a password leaves, the member there longest becomes the owner (and
    /// drives, when nobody does), so the others are not left with nobody to answer them.
    pub fn handle_leave(&mut self, peer: PeerId, out: &mut Vec<Event>) {
        if self.members.remove(&peer).is_some() {
            self.unseat(peer, out);
            out.push(Event::Changed);
            self.inherit(out);
            out.dedup();
        }
    }

    /// A session without a password that has no owner (nor one held, [`held`]): the member
    /// there longest becomes the owner, and drives when nobody does.
    fn inherit(&mut self, out: &mut Vec<Event>) {
        if self.has_owner() || self.owner_held() {
            return;
        }
        let heir = self
            .members
            .iter_mut()
            .filter(|(_, m)| m.open)
            .min_by_key(|(_, m)| m.since);
        if let Some((&heir, m)) = heir {
            m.role = Role::Owner;
            out.push(Event::Changed);
            if !self.config.implicit && self.controllers().is_empty() {
                self.seat(heir, out);
            }
        }
    }

    /// `peer` acted (sent input) without a seat: with implicit control it takes a free one.
    /// Returns whether its input may now be injected.
    pub fn handle_act(&mut self, peer: PeerId, out: &mut Vec<Event>) -> bool {
        if self.in_control(peer) {
            return true;
        }
        self.config.implicit && self.is_member(peer) && self.seat(peer, out)
    }

    /// A request from member `from`.
    pub fn handle_request(
        &mut self,
        from: PeerId,
        request: Request,
        out: &mut Vec<Event>,
    ) -> Result<(), Refusal> {
        let Some(role) = self.role(from) else {
            return Err(Refusal::NoSuchMember(from.0));
        };
        let owner = role == Role::Owner;
        match request {
            Request::Ask => {
                if self.in_control(from) {
                    return Err(Refusal::AlreadyInControl);
                }
                if (self.config.implicit || owner) && self.seat(from, out) {
                    return Ok(());
                }
                if let Some(m) = self.members.get_mut(&from) {
                    if !m.asked {
                        m.asked = true;
                        out.push(Event::Changed);
                    }
                }
                Ok(())
            }
            Request::Give(to) => {
                // Who may give comes first: a viewer learns nothing of the target.
                if !owner && !self.in_control(from) {
                    return Err(Refusal::CannotGive);
                }
                self.check_target(to)?;
                if self.in_control(from) {
                    self.unseat(from, out);
                } else {
                    // An owner on a one-seat desktop hands the controller's seat over.
                    self.free_one(out)?;
                }
                self.seat(to, out);
                out.dedup();
                Ok(())
            }
            Request::Take => {
                if self.in_control(from) {
                    return Err(Refusal::AlreadyInControl);
                }
                if self.free_seat().is_some() && (owner || self.config.implicit) {
                    self.seat(from, out);
                    return Ok(());
                }
                if !owner {
                    return Err(Refusal::OwnerOnly("take control"));
                }
                self.free_one(out)?;
                self.seat(from, out);
                out.dedup();
                Ok(())
            }
            Request::Release => {
                if self.unseat(from, out) {
                    Ok(())
                } else {
                    Err(Refusal::NotInControl)
                }
            }
            Request::Kick(whom) => {
                if !owner {
                    return Err(Refusal::OwnerOnly("remove a member"));
                }
                if whom == from {
                    return Err(Refusal::KickSelf);
                }
                self.remove(whom, out)
            }
            Request::SetRole(whom, new) => {
                if !owner {
                    return Err(Refusal::OwnerOnly("change roles"));
                }
                self.set_role(whom, new, out)
            }
            Request::Point(x, y) => {
                out.push(Event::Pointed(from, x, y));
                Ok(())
            }
            Request::Rename(name) => {
                let name = clean_name(&name).ok_or(Refusal::BadName)?;
                let name = self.unique_name(from, name);
                if let Some(m) = self.members.get_mut(&from) {
                    if m.name != name {
                        m.name = name;
                        out.push(Event::Changed);
                    }
                }
                Ok(())
            }
        }
    }
}

mod held;
pub use held::{Joining, REJOIN_GRACE};

#[cfg(test)]
mod tests;
