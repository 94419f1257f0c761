//! Tests of the input protocol: golden vectors shared with the web client, malformed input,
//! and reconciliation under loss, reordering and duplication.

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use proptest::prelude::*;
use serde::Deserialize;

use super::reconcile::{Action, Control, Reconciler, LEASE};
use super::sender::{Sender, SENDS_PER_EVENT};
use super::wire::{self, Event, EventKind, HeldState, Packet, Pad};
use crate::peer::PeerId;

#[derive(Deserialize)]
struct Golden {
    version: u8,
    vectors: Vec<Vector>,
    malformed: Vec<Malformed>,
}

#[derive(Deserialize)]
struct Vector {
    name: String,
    packet: JsPacket,
    hex: String,
}

#[derive(Deserialize)]
struct Malformed {
    name: String,
    hex: String,
}

/// The packet as the web client's tests spell it.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct JsPacket {
    seq: u32,
    client_time_ms: u32,
    state: JsState,
    events: Vec<JsEvent>,
}

#[derive(Deserialize)]
struct JsState {
    pointer: Option<(u16, u16)>,
    buttons: Vec<(u8, u32)>,
    keys: Vec<(u16, u32)>,
    pads: Vec<JsPad>,
    #[serde(default)]
    locks: Option<JsLocks>,
}

#[derive(Deserialize)]
struct JsLocks {
    caps: bool,
    num: bool,
}

#[derive(Deserialize)]
struct JsPad {
    index: u8,
    buttons: u32,
    axes: [i16; 4],
}

#[derive(Deserialize)]
struct JsEvent {
    id: u32,
    kind: u8,
    key: Option<u16>,
    button: Option<u8>,
    dx: Option<i16>,
    dy: Option<i16>,
}

impl JsPacket {
    fn to_packet(&self) -> Packet {
        let events = self
            .events
            .iter()
            .map(|e| {
                let key = || e.key.expect("key event has a key");
                let button = || e.button.expect("button event has a button");
                let (dx, dy) = (e.dx.unwrap_or(0), e.dy.unwrap_or(0));
                let kind = match e.kind {
                    1 => EventKind::KeyDown(key()),
                    2 => EventKind::KeyUp(key()),
                    3 => EventKind::ButtonDown(button()),
                    4 => EventKind::ButtonUp(button()),
                    5 => EventKind::Wheel { dx, dy },
                    6 => EventKind::Move { dx, dy },
                    k => panic!("golden file has unknown kind {k}"),
                };
                Event { id: e.id, kind }
            })
            .collect();
        Packet {
            seq: self.seq,
            client_time_ms: self.client_time_ms,
            state: HeldState {
                pointer: self.state.pointer,
                buttons: self.state.buttons.clone(),
                keys: self.state.keys.clone(),
                pads: self
                    .state
                    .pads
                    .iter()
                    .map(|p| Pad {
                        index: p.index,
                        buttons: p.buttons,
                        axes: p.axes,
                    })
                    .collect(),
                locks: self
                    .state
                    .locks
                    .as_ref()
                    .map(|l| crate::proto::input::Locks {
                        caps: l.caps,
                        num: l.num,
                    }),
            },
            events,
        }
    }
}

fn golden() -> Golden {
    let text = include_str!("../../../../web-client/test/golden/input-v1.json");
    serde_json::from_str(text).expect("golden file parses")
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("golden hex"))
        .collect()
}

#[test]
fn golden_vectors_encode_and_decode_exactly() {
    let g = golden();
    assert_eq!(g.version, wire::VERSION);
    assert!(g.vectors.len() >= 5);
    for v in &g.vectors {
        let packet = v.packet.to_packet();
        assert_eq!(wire::encode(&packet), unhex(&v.hex), "{}", v.name);
        assert_eq!(wire::decode(&unhex(&v.hex)), Ok(packet), "{}", v.name);
    }
}

#[test]
fn golden_malformed_packets_are_refused() {
    for m in golden().malformed {
        assert!(wire::decode(&unhex(&m.hex)).is_err(), "{} accepted", m.name);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Any bytes at all: an error or a packet, never a panic; a packet re-encodes to the input.
    #[test]
    fn decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        if let Ok(p) = wire::decode(&bytes) {
            prop_assert_eq!(wire::encode(&p), bytes);
        }
    }

    /// Valid packets with one corrupted byte: never a panic.
    #[test]
    fn corrupted_packets_never_panic(keys in proptest::collection::vec(0u16..256, 0..6), at in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let mut s = Sender::new();
        for k in keys { s.key(k, true); }
        s.wheel(1, -1);
        let mut bytes = wire::encode(&s.packet(7));
        let i = at.index(bytes.len());
        bytes[i] = byte;
        let _ = wire::decode(&bytes);
    }
}

/// One step of a user at the client.
#[derive(Debug, Clone)]
enum UserStep {
    Key(u16, bool),
    Button(u8, bool),
    Pointer(u16, u16),
    /// Time passes and a packet goes out (the heartbeat or an input-triggered send).
    Send,
}

fn user_step() -> impl Strategy<Value = UserStep> {
    prop_oneof![
        3 => (4u16..8, any::<bool>()).prop_map(|(k, d)| UserStep::Key(k, d)),
        1 => (0u8..3, any::<bool>()).prop_map(|(b, d)| UserStep::Button(b, d)),
        1 => (0u16..1280, 0u16..720).prop_map(|(x, y)| UserStep::Pointer(x, y)),
        3 => Just(UserStep::Send),
    ]
}

/// The network's fate for one packet.
#[derive(Debug, Clone)]
struct Fate {
    lost: bool,
    duplicated: bool,
    /// Extra delay in packet slots (reordering).
    delay: u8,
}

fn fate(loss_pct: u8) -> impl Strategy<Value = Fate> {
    (0u8..100, 0u8..100, 0u8..6).prop_map(move |(l, d, delay)| Fate {
        lost: l < loss_pct,
        duplicated: d < 10,
        delay,
    })
}

/// Applies the host's actions to a model of the host and counts presses per control.
#[derive(Default)]
struct HostModel {
    held: BTreeSet<Control>,
    presses: HashMap<Control, u32>,
    pointer: Option<(u16, u16)>,
}

impl HostModel {
    fn apply(&mut self, actions: &[Action]) {
        for a in actions {
            match *a {
                Action::Press(c) => {
                    assert!(self.held.insert(c), "{c:?} pressed while held");
                    *self.presses.entry(c).or_default() += 1;
                }
                Action::Release(c) => assert!(self.held.remove(&c), "{c:?} released while up"),
                Action::MoveTo { x, y } => self.pointer = Some((x, y)),
                _ => {}
            }
        }
    }
}

fn control_of(kind: EventKind) -> Option<(Control, bool)> {
    match kind {
        EventKind::KeyDown(k) => Some((Control::Key(k), true)),
        EventKind::KeyUp(k) => Some((Control::Key(k), false)),
        EventKind::ButtonDown(b) => Some((Control::Button(b), true)),
        EventKind::ButtonUp(b) => Some((Control::Button(b), false)),
        _ => None,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1500))]

    /// For random loss, reordering and duplication: the host ends holding exactly what the client
    /// holds, every press the host makes is one the user made, and a press is missed only if
    /// every packet carrying it was lost.
    #[test]
    fn host_converges_and_loses_no_delivered_tap(
        steps in proptest::collection::vec(user_step(), 1..120),
        loss in 0u8..60,
        fates in proptest::collection::vec(fate(50), 200),
    ) {
        let start = Instant::now();
        let mut client = Sender::new();
        let mut packets: Vec<Packet> = Vec::new();
        for step in &steps {
            match *step {
                UserStep::Key(k, d) => client.key(k, d),
                UserStep::Button(b, d) => client.button(b, d),
                UserStep::Pointer(x, y) => client.pointer(x, y),
                UserStep::Send => packets.push(client.packet(packets.len() as u32)),
            }
        }
        // The heartbeat keeps going after the last change; the last one gets through.
        for _ in 0..SENDS_PER_EVENT {
            packets.push(client.packet(packets.len() as u32));
        }

        // The network: loss (scaled by `loss`), duplication, reordering by delay.
        let mut arrivals: Vec<(usize, usize)> = Vec::new(); // (arrival slot, packet index)
        let last = packets.len() - 1;
        for (i, _) in packets.iter().enumerate() {
            let f = &fates[i % fates.len()];
            let lost = f.lost && (i as u8 % 60) < loss && i != last;
            if lost { continue; }
            let slot = if i == last { usize::MAX } else { i + usize::from(f.delay) };
            arrivals.push((slot, i));
            if f.duplicated && i != last {
                arrivals.push((slot + 2, i));
            }
        }
        arrivals.sort();

        let mut host = Reconciler::new();
        let mut model = HostModel::default();
        let mut delivered_downs: HashMap<u32, Control> = HashMap::new();
        let mut actions = Vec::new();
        for (n, &(_, i)) in arrivals.iter().enumerate() {
            let bytes = wire::encode(&packets[i]);
            let p = wire::decode(&bytes).expect("own packets decode");
            for e in &p.events {
                if let Some((c, true)) = control_of(e.kind) {
                    delivered_downs.insert(e.id, c);
                }
            }
            host.handle_packet(start + Duration::from_millis(n as u64), &p, &mut actions);
            model.apply(&actions);
            actions.clear();
        }

        // Converged: the host holds exactly what the client holds.
        let mut want: BTreeSet<Control> = client.state().keys.iter().map(|&(k, _)| Control::Key(k)).collect();
        want.extend(client.state().buttons.iter().map(|&(b, _)| Control::Button(b)));
        prop_assert_eq!(&model.held, &want);
        prop_assert_eq!(&host.held(), &want);
        prop_assert_eq!(model.pointer, client.state().pointer);

        // Every press was made by the user, and every delivered press reached the host.
        let mut user_downs: HashMap<Control, u32> = HashMap::new();
        let mut all_ids = BTreeSet::new();
        for p in &packets {
            for e in &p.events {
                if all_ids.insert(e.id) {
                    if let Some((c, true)) = control_of(e.kind) {
                        *user_downs.entry(c).or_default() += 1;
                    }
                }
            }
        }
        let mut delivered_per: HashMap<Control, u32> = HashMap::new();
        for c in delivered_downs.values() {
            *delivered_per.entry(*c).or_default() += 1;
        }
        for (c, presses) in &model.presses {
            let made = user_downs.get(c).copied().unwrap_or(0);
            prop_assert!(*presses <= made, "{:?}: host pressed {} times, user {}", c, presses, made);
        }
        for (c, delivered) in &delivered_per {
            let presses = model.presses.get(c).copied().unwrap_or(0);
            prop_assert!(presses >= *delivered, "{:?}: {} delivered presses, host made {}", c, delivered, presses);
        }
    }
}

#[test]
fn each_event_id_applies_once_however_often_it_arrives() {
    let now = Instant::now();
    let mut client = Sender::new();
    client.wheel(0, 2);
    let p = client.packet(0);
    let mut host = Reconciler::new();
    let mut actions = Vec::new();
    for _ in 0..5 {
        host.handle_packet(now, &p, &mut actions);
    }
    assert_eq!(actions, vec![Action::Wheel { dx: 0, dy: 2 }]);
}

#[test]
fn a_press_lands_where_its_packet_puts_the_pointer_not_where_it_was() {
    // A pen or a tap that does not hover: the new position and the press in one packet.
    let now = Instant::now();
    let mut client = Sender::new();
    client.pointer(1100, 250);
    let mut host = Reconciler::new();
    let mut actions = Vec::new();
    host.handle_packet(now, &client.packet(0), &mut actions);
    actions.clear();
    client.pointer(900, 150);
    client.button(0, true);
    host.handle_packet(now, &client.packet(1), &mut actions);
    let moved = actions
        .iter()
        .position(|a| *a == Action::MoveTo { x: 900, y: 150 });
    let pressed = actions.iter().position(|a| matches!(a, Action::Press(_)));
    assert!(
        moved.is_some() && pressed.is_some() && moved < pressed,
        "the press came before the move: {actions:?}"
    );
}

#[test]
fn an_older_packet_never_overrides_newer_state() {
    let now = Instant::now();
    let mut client = Sender::new();
    client.key(0x04, true);
    let old = client.packet(0);
    client.key(0x04, false);
    let new = client.packet(1);
    let mut host = Reconciler::new();
    let mut actions = Vec::new();
    host.handle_packet(now, &new, &mut actions);
    host.handle_packet(now, &old, &mut actions);
    assert!(
        host.held().is_empty(),
        "a stale packet pressed a key: {actions:?}"
    );
    // The tap itself arrived (down and up), once.
    let presses = actions
        .iter()
        .filter(|a| matches!(a, Action::Press(_)))
        .count();
    assert_eq!(presses, 1, "{actions:?}");
}

#[test]
fn a_silent_peer_has_everything_released_after_the_lease() {
    let t0 = Instant::now();
    let mut client = Sender::new();
    client.key(0x04, true);
    client.button(0, true);
    let mut host = Reconciler::new();
    let mut actions = Vec::new();
    host.handle_packet(t0, &client.packet(0), &mut actions);
    assert_eq!(host.held().len(), 2);
    assert_eq!(host.lease_deadline(), Some(t0 + LEASE));

    actions.clear();
    host.handle_timeout(t0 + LEASE - Duration::from_millis(1), &mut actions);
    assert!(actions.is_empty(), "released before the lease ran out");

    host.handle_timeout(t0 + LEASE, &mut actions);
    assert!(host.held().is_empty());
    let released: BTreeSet<_> = actions.iter().copied().collect();
    assert!(released.contains(&Action::Release(Control::Key(0x04))));
    assert!(released.contains(&Action::Release(Control::Button(0))));
    assert_eq!(host.lease_deadline(), None);

    // A heartbeat after the lease brings the held state back.
    actions.clear();
    host.handle_packet(t0 + LEASE * 2, &client.packet(1), &mut actions);
    assert_eq!(host.held().len(), 2);
}

#[test]
fn a_departed_peer_has_everything_released() {
    let mut client = Sender::new();
    client.key(0xe1, true);
    let mut host = Reconciler::new();
    let mut actions = Vec::new();
    host.handle_packet(Instant::now(), &client.packet(0), &mut actions);
    actions.clear();
    host.release_all(&mut actions);
    assert_eq!(actions, vec![Action::Release(Control::Key(0xe1))]);
}

#[test]
fn gamepads_follow_the_newest_state_and_are_released_on_silence() {
    let t0 = Instant::now();
    let mut client = Sender::new();
    let with_pad = |mut p: Packet, buttons: u32| {
        p.state.pads = vec![Pad {
            index: 0,
            buttons,
            axes: [0, 0, 0, 0],
        }];
        p
    };
    let older = with_pad(client.packet(0), 0b01);
    let newer = with_pad(client.packet(1), 0b11);
    let mut host = Reconciler::new();
    let mut actions = Vec::new();
    host.handle_packet(t0, &newer, &mut actions);
    host.handle_packet(t0, &older, &mut actions);
    let pad = |buttons| Action::Pad {
        index: 0,
        buttons,
        axes: [0; 4],
    };
    assert_eq!(actions, vec![pad(0b11)], "an older packet overrode the pad");
    assert_eq!(host.lease_deadline(), Some(t0 + LEASE));
    actions.clear();
    host.handle_timeout(t0 + LEASE, &mut actions);
    assert_eq!(actions, vec![pad(0)]);
    // A pad that disappears from the state (unplugged) is released too.
    actions.clear();
    host.handle_packet(t0 + LEASE, &with_pad(client.packet(2), 0b100), &mut actions);
    host.handle_packet(t0 + LEASE, &client.packet(3), &mut actions);
    assert_eq!(actions, vec![pad(0b100), pad(0)]);
}

mod errors;
mod room;

/// An injector that records what it is asked, shared with the test.
#[derive(Clone, Default)]
struct Recorder(pub(super) std::sync::Arc<std::sync::Mutex<Vec<String>>>);

impl super::Injector for Recorder {
    fn apply(&mut self, peer: PeerId, action: Action) -> Result<(), super::inject::InjectError> {
        crate::lock(&self.0).push(format!("{peer} {action:?}"));
        Ok(())
    }
    fn text(&mut self, text: &str) -> Result<(), super::inject::InjectError> {
        crate::lock(&self.0).push(format!("text {text}"));
        Ok(())
    }
    fn peer_left(&mut self, peer: PeerId) {
        crate::lock(&self.0).push(format!("{peer} left"));
    }
}

#[test]
fn a_peer_that_floods_its_input_still_leaves_and_releases_what_it_held() {
    use super::InputMsg;
    use crossbeam_channel::TrySendError;
    let (life_tx, data_tx, recorder, input) = room::spawn_loop(super::roles::RoomConfig {
        seats: 1,
        implicit: false,
        guests: super::roles::Role::Viewer,
    });
    let peer = PeerId(3);
    let (notify, _notices) = crate::peer::PeerNotifier::channel();
    // The page joined the room first (signaling), as the owner: it drives.
    let member = InputMsg::Member {
        peer,
        admission: super::roles::Admission::Owner,
        name: None,
        rejoin: None,
        token: None,
        notify: notify.clone(),
    };
    life_tx.send(member).expect("input thread");
    life_tx
        .send(InputMsg::Joined { peer, notify })
        .expect("input thread");
    let mut client = Sender::new();
    client.key(0x04, true);
    let held = wire::encode(&client.packet(0));
    let pressed = |r: &Recorder| crate::lock(&r.0).iter().any(|l| l.contains("Press"));
    let deadline = Instant::now() + Duration::from_secs(5);
    while !pressed(&recorder) && Instant::now() < deadline {
        let m = InputMsg::Data {
            peer,
            at: Instant::now(),
            bytes: held.clone(),
        };
        let _ = data_tx.try_send(m);
        std::thread::yield_now();
    }
    assert!(pressed(&recorder), "the key was never pressed");
    // The page floods: the data queue fills and packets are dropped, as the rtc thread would.
    let mut dropped = 0;
    for _ in 0..20_000 {
        let m = InputMsg::Data {
            peer,
            at: Instant::now(),
            bytes: held.clone(),
        };
        if let Err(TrySendError::Full(_)) = data_tx.try_send(m) {
            dropped += 1;
        }
    }
    // The departure goes on the lifecycle queue, which never drops.
    life_tx.send(InputMsg::Left { peer }).expect("input thread");
    drop((life_tx, data_tx));
    input.join().expect("the input thread ends cleanly");
    let log = crate::lock(&recorder.0).clone();
    assert!(dropped > 0, "the flood never filled the queue");
    let pressed = log
        .iter()
        .position(|l| l.contains("Press"))
        .expect("A pressed");
    let released = log
        .iter()
        .rposition(|l| l.contains("Release"))
        .expect("A released");
    let left = log
        .iter()
        .position(|l| l == "peer3 left")
        .expect("the peer left");
    assert!(pressed < released && released < left, "{log:?}");
    // Nothing of the departed peer is applied after it left.
    assert!(
        log[left + 1..].iter().all(|l| !l.contains("Press")),
        "{log:?}"
    );
}
