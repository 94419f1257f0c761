//! The input loop with the room: who may drive, hand-offs, and a member's request limit.

use std::time::{Duration, Instant};

use super::Recorder;
use crate::input::sender::Sender;
use crate::input::wire;
use crate::peer::PeerId;

/// Runs the input loop on a thread with a recorder; returns the queues, the recorder and the
/// thread.
#[allow(clippy::type_complexity)]
pub(super) fn spawn_loop(
    room: crate::input::roles::RoomConfig,
) -> (
    crossbeam_channel::Sender<crate::input::InputMsg>,
    crossbeam_channel::Sender<crate::input::InputMsg>,
    Recorder,
    std::thread::JoinHandle<()>,
) {
    spawn_counted(room, std::sync::Arc::default())
}

/// A desktop's room: one seat, asked for and given, pages with no password viewers.
fn one_seat_desktop() -> crate::input::roles::RoomConfig {
    crate::input::roles::RoomConfig {
        seats: 1,
        implicit: false,
        guests: crate::input::roles::Role::Viewer,
    }
}

/// [`spawn_loop`] with counters the test reads.
fn spawn_counted(
    room: crate::input::roles::RoomConfig,
    counters: std::sync::Arc<crate::input::InputCounters>,
) -> (
    crossbeam_channel::Sender<crate::input::InputMsg>,
    crossbeam_channel::Sender<crate::input::InputMsg>,
    Recorder,
    std::thread::JoinHandle<()>,
) {
    let recorder = Recorder::default();
    let (life_tx, data_tx, thread) = spawn_injecting(room, counters, recorder.clone());
    (life_tx, data_tx, recorder, thread)
}

/// A running input loop: its lifecycle and data queues and its thread.
pub(super) type Loop = (
    crossbeam_channel::Sender<crate::input::InputMsg>,
    crossbeam_channel::Sender<crate::input::InputMsg>,
    std::thread::JoinHandle<()>,
);

/// Runs the input loop on a thread with `injector` and counters the test reads; returns the
/// lifecycle and data queues and the thread.
pub(super) fn spawn_injecting(
    room: crate::input::roles::RoomConfig,
    counters: std::sync::Arc<crate::input::InputCounters>,
    injector: impl crate::input::Injector + Send + 'static,
) -> Loop {
    let echo = std::sync::Arc::new(crate::input::InputEcho::default());
    spawn_echoing(room, counters, injector, echo)
}

/// [`spawn_injecting`] publishing its echo where the test reads it.
fn spawn_echoing(
    room: crate::input::roles::RoomConfig,
    counters: std::sync::Arc<crate::input::InputCounters>,
    injector: impl crate::input::Injector + Send + 'static,
    echo: std::sync::Arc<crate::input::InputEcho>,
) -> Loop {
    spawn_room(crate::input::room(room).0, counters, injector, echo)
}

/// [`spawn_echoing`] with a room set up by the test (`PublishedRoom::on_let_go`).
fn spawn_room(
    room: crate::input::PublishedRoom,
    counters: std::sync::Arc<crate::input::InputCounters>,
    injector: impl crate::input::Injector + Send + 'static,
    echo: std::sync::Arc<crate::input::InputEcho>,
) -> Loop {
    use crate::input::{INPUT_QUEUE, LIFECYCLE_QUEUE};
    let (life_tx, life_rx) = crossbeam_channel::bounded(LIFECYCLE_QUEUE);
    let (data_tx, data_rx) = crossbeam_channel::bounded(INPUT_QUEUE);
    let thread = std::thread::spawn(move || {
        crate::input::run(life_rx, data_rx, injector, counters, echo, room)
    });
    (life_tx, data_tx, thread)
}

/// `peer` joins the room as `admission` and connects; returns where its notices go.
fn join(
    life: &crossbeam_channel::Sender<crate::input::InputMsg>,
    peer: PeerId,
    admission: crate::input::roles::Admission,
) -> tokio::sync::mpsc::Receiver<crate::peer::Notice> {
    join_with_token(life, peer, admission, None)
}

/// [`join`] with a rejoin token of its own (a page whose place is kept when it goes).
fn join_with_token(
    life: &crossbeam_channel::Sender<crate::input::InputMsg>,
    peer: PeerId,
    admission: crate::input::roles::Admission,
    token: Option<&str>,
) -> tokio::sync::mpsc::Receiver<crate::peer::Notice> {
    use crate::input::InputMsg;
    let (notify, rx) = crate::peer::PeerNotifier::channel();
    let member = InputMsg::Member {
        peer,
        admission,
        name: None,
        rejoin: None,
        token: token.map(str::to_owned),
        notify: notify.clone(),
    };
    life.send(member).expect("input thread");
    life.send(InputMsg::Joined { peer, notify })
        .expect("input thread");
    rx
}

#[test]
fn a_viewer_never_drives_and_a_hand_off_releases_what_the_old_controller_held() {
    use crate::input::roles::{Admission, Request, Role, RoomConfig};
    use crate::input::InputMsg;
    let (life, data, recorder, thread) = spawn_loop(RoomConfig {
        seats: 1,
        implicit: false,
        guests: Role::Viewer,
    });
    let (a, b) = (PeerId(1), PeerId(2));
    let mut notices = Vec::new();
    for (peer, admission) in [(a, Admission::Open), (b, Admission::Open)] {
        notices.push(join(&life, peer, admission));
    }
    let send = |peer, client: &mut Sender| {
        let bytes = wire::encode(&client.packet(0));
        data.send(InputMsg::Data {
            peer,
            at: Instant::now(),
            bytes,
        })
        .expect("input thread");
    };
    let log = |r: &Recorder| crate::lock(&r.0).clone();
    let wait_for = |what: &str, f: &dyn Fn(&[String]) -> bool| {
        let deadline = Instant::now() + Duration::from_secs(5);
        while !f(&log(&recorder)) {
            assert!(Instant::now() < deadline, "{what}: {:?}", log(&recorder));
            std::thread::yield_now();
        }
    };
    const SHIFT: u16 = 0xe1;
    const KEY_B: u16 = 0x05;
    // The first page (the owner) holds Shift; the viewer's B is dropped.
    let (mut pa, mut pb) = (Sender::new(), Sender::new());
    pa.key(SHIFT, true);
    send(a, &mut pa);
    pb.key(KEY_B, true);
    send(b, &mut pb);
    pa.key(0x04, true); // a marker after the viewer's packet
    send(a, &mut pa);
    wait_for("the owner's marker", &|l| {
        l.iter().any(|x| x == "peer1 Press(Key(4))")
    });
    assert!(
        log(&recorder).iter().all(|l| !l.starts_with("peer2")),
        "a viewer's key was injected: {:?}",
        log(&recorder)
    );
    // The viewer asks; the owner gives: everything the owner held is let go at once.
    life.send(InputMsg::Request {
        peer: b,
        request: Request::Ask,
    })
    .expect("input thread");
    life.send(InputMsg::Request {
        peer: a,
        request: Request::Give(b),
    })
    .expect("input thread");
    wait_for("Shift released", &|l| {
        l.iter()
            .any(|x| x == &format!("peer1 Release(Key({SHIFT}))"))
    });
    // The new controller drives; the old one's packets (still holding Shift) do not.
    send(a, &mut pa);
    send(b, &mut pb);
    wait_for("the viewer's B", &|l| {
        l.iter().any(|x| x == &format!("peer2 Press(Key({KEY_B}))"))
    });
    let l = log(&recorder);
    let given = l
        .iter()
        .position(|x| x == &format!("peer1 Release(Key({SHIFT}))"))
        .expect("released");
    assert!(
        l[given..].iter().all(|x| !x.starts_with("peer1 Press")),
        "the old controller still drives: {l:?}"
    );
    // Both pages were told the new member list.
    for rx in &mut notices {
        let mut saw = false;
        while let Ok(n) = rx.try_recv() {
            if let crate::proto::signaling::ServerMsg::Members { members, .. } = n {
                saw = members.iter().any(|m| m.peer == 2 && m.control);
            }
        }
        assert!(saw, "a page was not told that peer 2 has control");
    }
    drop((life, data));
    thread.join().expect("the input thread ends cleanly");
}

#[test]
fn a_member_that_floods_the_room_with_requests_is_refused_past_the_limit() {
    use crate::input::roles::{Admission, Request};
    use crate::input::{InputCounters, InputMsg, ROOM_REQUESTS_PER_SECOND};
    use crate::proto::signaling::{ErrorCode, ServerMsg};
    let counters = std::sync::Arc::new(InputCounters::default());
    let (life, data, _recorder, thread) = spawn_counted(one_seat_desktop(), counters.clone());
    let mut rx = [PeerId(1), PeerId(2)].map(|p| join(&life, p, Admission::Open));
    let flood = ROOM_REQUESTS_PER_SECOND * 3;
    for i in 0..flood {
        let request = Request::Rename(format!("spam {i}"));
        life.send(InputMsg::Request {
            peer: PeerId(2),
            request,
        })
        .expect("input thread");
    }
    drop((life, data));
    thread.join().expect("the input thread ends cleanly");
    let mut told = 0;
    while let Ok(n) = rx[1].try_recv() {
        if let ServerMsg::Error { code, .. } = n {
            assert_eq!(code, ErrorCode::Forbidden);
            told += 1;
        }
    }
    // The flood ran within a second or two: most of it was refused and counted, and the
    // flooder was told once a second, not once a request.
    let refused = counters.room_refused.get();
    assert!(
        refused >= u64::from(flood - 2 * ROOM_REQUESTS_PER_SECOND),
        "{refused} refused"
    );
    assert!((1..=2).contains(&told), "told {told} times");
    // The other page's queue holds at most the member lists of the allowed renames.
    let mut lists = 0;
    while let Ok(n) = rx[0].try_recv() {
        lists += u32::from(matches!(n, ServerMsg::Members { .. }));
    }
    assert!(
        lists <= 2 + 2 * ROOM_REQUESTS_PER_SECOND,
        "{lists} member lists"
    );
}

/// The echo names the newest packet that changed something: a heartbeat (the same held state
/// again) must not start a run of echoes, which on a narrow link would leave none for the
/// next press (the link bench timed presses 150-190 ms late at 400 kbit/s).
#[test]
fn the_echo_moves_on_packets_that_change_something_and_not_on_heartbeats() {
    use crate::input::roles::{Admission, Role, RoomConfig};
    use crate::input::{InputCounters, InputEcho, InputMsg};
    let counters = std::sync::Arc::new(InputCounters::default());
    let echo = std::sync::Arc::new(InputEcho::default());
    let room = RoomConfig {
        seats: 1,
        implicit: true,
        guests: Role::Viewer,
    };
    let injector = Recorder::default();
    let (life, data, thread) = spawn_echoing(room, counters.clone(), injector, echo.clone());
    let peer = PeerId(1);
    let _notices = join(&life, peer, Admission::Open);
    let mut page = Sender::new();
    let send = |page: &mut Sender| {
        let packet = page.packet(0);
        let bytes = wire::encode(&packet);
        data.send(InputMsg::Data {
            peer,
            at: Instant::now(),
            bytes,
        })
        .expect("input thread");
        packet.seq
    };
    let echoed = || {
        echo.snapshot()
            .iter()
            .find(|(p, _)| *p == peer)
            .map(|&(_, s)| s)
    };
    page.key(0x04, true);
    let press = send(&mut page);
    // Its repeats and heartbeats: the same state, nothing new to show.
    let mut last = press;
    for _ in 0..6 {
        last = send(&mut page);
    }
    assert_ne!(last, press);
    // A packet of no member, counted and dropped: once it is counted, the loop (one message
    // a turn, published at the end of it) has settled the heartbeats.
    data.send(InputMsg::Data {
        peer: PeerId(9),
        at: Instant::now(),
        bytes: wire::encode(&Sender::new().packet(0)),
    })
    .expect("input thread");
    let until = |what: &str, f: &dyn Fn() -> bool| {
        let deadline = Instant::now() + Duration::from_secs(5);
        while !f() {
            assert!(Instant::now() < deadline, "{what}");
            std::thread::yield_now();
        }
    };
    until("the marker", &|| counters.packets.get() >= 8);
    assert_eq!(echoed(), Some(press), "heartbeats moved the echo");
    page.key(0x04, false);
    let release = send(&mut page);
    until("the release echoed", &|| echoed() == Some(release));
    drop((life, data));
    thread.join().expect("the input thread ends cleanly");
}

/// An owner's page removing a member whose page left (held, its place kept) lets it go, and
/// the signaling layer is told so that its `--max-peers` place is freed too: before, only the
/// API's removal freed it, and a page in line waited out the 30 s grace.
#[test]
fn an_owner_removing_a_held_member_frees_its_place() {
    use crate::input::roles::{Admission, Request, Role, RoomConfig};
    use crate::input::InputMsg;
    let (freed_tx, freed) = crossbeam_channel::unbounded();
    let mut room = crate::input::room(RoomConfig {
        seats: 1,
        implicit: false,
        guests: Role::Viewer,
    })
    .0;
    room.on_let_go = Some(Box::new(move |peer| {
        let _ = freed_tx.send(peer);
    }));
    let echo = std::sync::Arc::default();
    let (life_tx, data_tx, thread) =
        spawn_room(room, std::sync::Arc::default(), Recorder::default(), echo);
    let (owner, guest) = (PeerId(1), PeerId(2));
    let _owner_notices = join(&life_tx, owner, Admission::Open);
    let _guest_notices = join_with_token(&life_tx, guest, Admission::Open, Some("guest-token"));
    life_tx
        .send(InputMsg::Gone {
            peer: guest,
            pictured: true,
        })
        .expect("input thread");
    life_tx
        .send(InputMsg::Request {
            peer: owner,
            request: Request::Kick(guest),
        })
        .expect("input thread");
    let told = freed.recv_timeout(Duration::from_secs(5));
    assert_eq!(told, Ok(guest), "the held member's place was not freed");
    // A member let go is nobody: removing it again frees nothing more.
    life_tx
        .send(InputMsg::Request {
            peer: owner,
            request: Request::Kick(guest),
        })
        .expect("input thread");
    drop((life_tx, data_tx));
    thread.join().expect("the input thread ends cleanly");
    assert!(freed.try_recv().is_err(), "freed twice");
}

/// An owner's kick of a member not in the session is told `no-such-member` (as the control
/// API's 404); a viewer's kick of a member that is there, or its gift of control to the one
/// who has it, `forbidden` with why (its role, not the target's seat), and so is a name that
/// is no name (the page shows those words).
#[test]
fn room_refusals_are_told_with_their_code() {
    use crate::input::roles::{Admission, Request};
    use crate::input::{InputCounters, InputMsg};
    use crate::proto::signaling::{ErrorCode, ServerMsg};
    let counters = std::sync::Arc::new(InputCounters::default());
    let (life, data, _recorder, thread) = spawn_counted(one_seat_desktop(), counters.clone());
    let mut rx = [PeerId(1), PeerId(2)].map(|p| join(&life, p, Admission::Open));
    let requests = [
        (PeerId(1), Request::Kick(PeerId(9))),
        (PeerId(2), Request::Kick(PeerId(1))),
        (PeerId(2), Request::Give(PeerId(1))),
        (PeerId(2), Request::Rename("x".repeat(500))),
    ];
    for (peer, request) in requests {
        life.send(InputMsg::Request { peer, request })
            .expect("input thread");
    }
    drop((life, data));
    thread.join().expect("the input thread ends cleanly");
    let codes = |rx: &mut tokio::sync::mpsc::Receiver<crate::peer::Notice>| {
        std::iter::from_fn(|| rx.try_recv().ok())
            .filter_map(|n| match n {
                ServerMsg::Error { code, message, .. } => Some((code, message)),
                _ => None,
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(
        codes(&mut rx[0]),
        [(
            ErrorCode::NoSuchMember,
            "no member 9 in this session".to_string()
        )]
    );
    let viewer = codes(&mut rx[1]);
    assert_eq!(
        viewer.iter().map(|c| c.0).collect::<Vec<_>>(),
        [
            ErrorCode::Forbidden,
            ErrorCode::Forbidden,
            ErrorCode::Forbidden
        ],
        "{viewer:?}"
    );
    assert_eq!(
        viewer[1].1,
        "only an owner or the member in control may give control"
    );
    assert_eq!(counters.room_refused.get(), 4);
}
