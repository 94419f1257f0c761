//! Peers come and go: every departure is an `Output::Left`, however much input came first.

use std::time::Duration;

use super::{delay, Harness};
use crate::input::InputMsg;
use crate::peer::PeerId;

#[test]
fn a_departed_peer_is_left_even_after_flooding_its_input_channel() {
    let mut h = Harness::new(delay(5, 31));
    h.add_client(delay(5, 32), &[("input", false)]);
    h.add_client(delay(5, 33), &[("input", false)]);
    assert!(h.run_until(Duration::from_secs(3), |h| h
        .clients
        .iter()
        .all(|c| c.channel("input").is_some())));
    // Peer 1 floods its input channel, then closes its signaling socket.
    let mut sent = 0;
    for _ in 0..200 {
        for _ in 0..20 {
            sent += usize::from(h.clients[0].send("input", &[1; 40]));
        }
        h.run_for(Duration::from_millis(1));
    }
    h.run_for(Duration::from_millis(200));
    let data = h
        .inputs
        .iter()
        .filter(|m| {
            matches!(
                m,
                InputMsg::Data {
                    peer: PeerId(1),
                    ..
                }
            )
        })
        .count();
    assert!(data > 1000, "{data} of {sent} input packets arrived");
    let now = h.now;
    h.session.handle_leave(now, PeerId(1));
    h.drain_session();
    assert_eq!(h.left, [PeerId(1)]);
    // Peer 2 goes silent instead: its ICE times out and it leaves too.
    let id2 = h.clients[1].id;
    h.clients.truncate(1);
    assert!(
        h.run_until(Duration::from_secs(60), |h| h.left.contains(&id2)),
        "a silent peer was never let go"
    );
    assert_eq!(h.session.peer_count(), 0);
    assert_eq!(h.counters.peers.get(), 0);
}

#[test]
fn draining_lets_every_peer_go_and_refuses_new_ones() {
    let mut h = Harness::new(delay(5, 34));
    h.add_client(delay(5, 35), &[]);
    h.add_client(delay(5, 36), &[]);
    assert!(h.connect_all(Duration::from_secs(3)));
    let now = h.now;
    h.session.handle_drain(now);
    h.drain_session();
    assert_eq!(h.left.len(), 2);
    assert!(h.session.is_draining());
    let refused = h.session.handle_offer(now, PeerId(9), "v=0\r\n", None);
    assert_eq!(refused, Err(crate::session::SessionError::Draining));
}

#[test]
fn beyond_max_peers_an_offer_is_refused_until_a_peer_leaves() {
    let mut h = Harness::with_max_peers(delay(5, 37), 2);
    h.add_client(delay(5, 38), &[]);
    h.add_client(delay(5, 39), &[]);
    let now = h.now;
    // Refused before the offer is even read.
    let refused = h.session.handle_offer(now, PeerId(9), "not even SDP", None);
    assert_eq!(refused, Err(crate::session::SessionError::Full(2)));
    assert_eq!(h.session.peer_count(), 2);
    // Once a peer leaves, a new page gets in.
    h.session.handle_leave(now, PeerId(1));
    h.drain_session();
    let third = h.add_client(delay(5, 40), &[]);
    assert!(h.run_until(Duration::from_secs(3), |h| h.clients[third].connected));
}

#[test]
fn the_host_can_offer_too_and_media_flows() {
    // As to a WHIP endpoint: the host offers, the other party answers.
    let mut h = Harness::new(delay(5, 37));
    h.add_answering_client(delay(5, 38));
    assert_eq!(h.joined, [PeerId(1)]);
    assert!(
        h.run_until(Duration::from_secs(3), |h| h.clients[0].frames.len() > 30),
        "no media after the host's offer"
    );
    assert!(h.clients[0].frames[0].keyframe);
    // An answer when none is awaited is an error, not a panic.
    let now = h.now;
    assert!(h.session.handle_answer(now, PeerId(1), "v=0\r\n").is_err());
    assert!(h.session.handle_answer(now, PeerId(9), "garbage").is_err());
}
