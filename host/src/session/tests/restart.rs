//! ICE restarts (RFC 8445 §9): a page whose path was lost offers again with new ICE
//! credentials on the same connection; the host answers on the same peer, and the picture
//! resumes on a keyframe. A peer that never restarts goes after the grace; a bad re-offer
//! changes nothing.

use std::net::SocketAddr;
use std::time::Duration;

use super::{delay, Harness};
use crate::input::InputMsg;
use crate::peer::PeerId;
use crate::session::peer::RESTART_GRACE;
use crate::session::{Reflexive, SessionError};

/// A harness with one client playing, its `input` channel open.
fn playing() -> Harness {
    let mut h = Harness::new(delay(5, 51));
    h.add_client(delay(5, 52), &[("input", false)]);
    assert!(
        h.run_until(Duration::from_secs(3), |h| h.clients[0].frames.len() > 30
            && h.clients[0].channel("input").is_some()),
        "never played"
    );
    h
}

/// Whether the host holds peer 1 as connected (its ICE has a path).
fn host_connected(h: &Harness) -> bool {
    h.session.peers.first().is_some_and(|p| p.connected)
}

#[test]
fn a_restart_after_the_path_was_lost_resumes_the_picture_on_the_same_peer() {
    let mut h = playing();
    // The link goes down until the host's ICE agent has lost every path.
    h.clients[0].cut = true;
    assert!(
        h.run_until(Duration::from_secs(30), |h| !host_connected(h)),
        "the host never noticed the lost path"
    );
    // While the path is lost, the picture's rate and size stay where the viewer's own rate
    // put them: no viewer is connected, but this one is no new viewer starting.
    let rung = h.rung;
    h.run_for(Duration::from_secs(1));
    let target = h.session.peers[0].rate.target_kbps();
    assert_eq!((h.rate_kbps, h.rung), (target, rung), "{:?}", h.rate_log);
    let frames_before = h.clients[0].frames.len();
    let keyframes_asked = h.keyframe_commands;
    // The link is back; the page restarts ICE on its signaling socket.
    h.clients[0].cut = false;
    h.restart_ice(0).expect("the restart is answered");
    assert!(
        h.run_until(Duration::from_secs(3), |h| h.clients[0].frames.len()
            > frames_before + 30),
        "the picture did not resume within 3 s of the restart"
    );
    // On a keyframe, asked for on the new path: the first frame after the gap decodes.
    assert!(h.keyframe_commands > keyframes_asked);
    let resumed = &h.clients[0].frames[frames_before..];
    let first_key = resumed.iter().position(|f| f.keyframe);
    assert!(first_key.is_some(), "no keyframe after the restart");
    assert!(resumed.last().is_some_and(|f| f.decodable));
    // The same peer: it never left, never joined twice, and its data channel still carries
    // input (the SCTP association lived through the restart).
    assert_eq!(h.joined, [PeerId(1)]);
    assert!(h.left.is_empty(), "the peer left: {:?}", h.left);
    assert_eq!(h.session.peer_count(), 1);
    let inputs_before = h.inputs.len();
    assert!(h.clients[0].send("input", &[7; 20]));
    assert!(
        h.run_until(Duration::from_secs(1), |h| h.inputs[inputs_before..]
            .iter()
            .any(|m| matches!(
                m,
                InputMsg::Data {
                    peer: PeerId(1),
                    ..
                }
            )))
    );
    assert!(host_connected(&h));
    h.run_for(Duration::from_millis(1100));
    assert_eq!(h.stats[0].ice_restarts, 1);
    assert!(h.stats[0].connected);
    assert_eq!(h.counters.ice_restarts.get(), 1);
}

#[test]
fn a_restart_on_a_working_path_keeps_the_picture_going() {
    // A browser that changed networks restarts before anything failed.
    let mut h = playing();
    let start = h.now;
    h.restart_ice(0).expect("the restart is answered");
    let frames_before = h.clients[0].frames.len();
    h.run_for(Duration::from_secs(2));
    let c = &h.clients[0];
    assert!(
        c.frames.len() > frames_before + 90,
        "{} frames in 2 s",
        c.frames.len() - frames_before
    );
    // No gap longer than a few frames.
    let gap = c
        .frames
        .windows(2)
        .filter(|w| w[0].at >= start)
        .map(|w| w[1].at - w[0].at)
        .max()
        .unwrap_or_default();
    assert!(gap < Duration::from_millis(200), "a {gap:?} freeze");
    assert!(h.left.is_empty());
    assert_eq!(h.joined, [PeerId(1)]);
}

#[test]
fn a_peer_whose_page_never_restarts_goes_after_the_grace() {
    let mut h = playing();
    h.clients[0].cut = true;
    assert!(h.run_until(Duration::from_secs(30), |h| !host_connected(h)));
    // Kept while the page may still restart...
    h.run_for(RESTART_GRACE - Duration::from_millis(100));
    assert!(h.left.is_empty(), "let go before the grace was over");
    assert_eq!(h.session.peer_count(), 1);
    // ...and let go after it.
    assert!(
        h.run_until(Duration::from_millis(200), |h| h.left == [PeerId(1)]),
        "a peer with no path was kept past the grace"
    );
    assert_eq!(h.session.peer_count(), 0);
}

#[test]
fn a_bad_re_offer_is_refused_and_changes_nothing() {
    let mut h = playing();
    let now = h.now;
    let id = h.clients[0].id;
    let garbage = h.session.handle_offer(now, id, "this is no SDP", None);
    assert!(
        matches!(garbage, Err(SessionError::BadOffer(_))),
        "{garbage:?}"
    );
    // The same connection offering other media: refused before str0m reads it.
    let mut api = h.clients[0].rtc.sdp_api();
    api.ice_restart(true);
    let (offer, _pending) = api.apply().expect("an offer");
    let other = offer.to_sdp_string().replacen("a=mid:", "a=mid:x", 1);
    let refused = h.session.handle_offer(now, id, &other, None);
    assert!(
        matches!(refused, Err(SessionError::Rejected(_))),
        "{refused:?}"
    );
    // The peer plays on, untouched.
    h.drain_session();
    let frames_before = h.clients[0].frames.len();
    h.run_for(Duration::from_secs(1));
    assert!(h.clients[0].frames.len() > frames_before + 45);
    assert!(h.left.is_empty());
    assert_eq!(h.joined, [PeerId(1)]);
    assert_eq!(h.counters.ice_restarts.get(), 0);
}

/// The host behind a NAT (`local` mapped to `first`), announced by the server-reflexive
/// candidate of the mapping a STUN server told it; one client playing, its `input` channel
/// open.
fn behind_a_nat(local: SocketAddr, first: SocketAddr) -> Harness {
    let mut h = Harness::new(delay(5, 71));
    h.nat = Some((local, first));
    let mapped = Some(Reflexive {
        base: local,
        mapped: first,
    });
    h.session.handle_reflexive(h.now, mapped);
    h.add_client(delay(5, 72), &[("input", false)]);
    assert!(
        h.run_until(Duration::from_secs(5), |h| h.clients[0].frames.len() > 30
            && h.clients[0].channel("input").is_some()),
        "never played through the NAT's mapping"
    );
    assert!(
        input_arrives(&mut h),
        "input lost through the NAT's mapping"
    );
    h
}

/// Whether input the client sends now reaches the host within 500 ms.
fn input_arrives(h: &mut Harness) -> bool {
    let before = h.inputs.len();
    h.clients[0].send("input", &[7; 20])
        && h.run_until(Duration::from_millis(500), |h| h.inputs.len() > before)
}

fn at(s: &str) -> SocketAddr {
    s.parse().expect("address")
}

/// The NAT maps the host anew (a NAT reboots, an ISP hands out another address) while the page
/// plays: the host's own checks go out through the new mapping, so the page learns it as a
/// peer-reflexive candidate (RFC 8445 §7.3.1.3) and its input reaches the host again without
/// a restart.
#[test]
fn when_the_nat_maps_the_host_anew_the_path_heals_through_the_hosts_own_checks() {
    let (local, second) = (at("10.0.0.1:5000"), at("203.0.113.9:20888"));
    let mut h = behind_a_nat(local, at("203.0.113.9:10777"));
    h.nat = Some((local, second));
    // Within 10 s: a try every 500 ms.
    assert!(
        (0..20).any(|_| input_arrives(&mut h)),
        "the path never healed through the new mapping"
    );
}

/// The page was away (a phone asleep) while the NAT mapped the host anew; the host's next STUN
/// query learned the new mapping. The page's ICE restart is answered with the new mapping, not
/// the old one (whose checks would go nowhere), and the picture and input resume.
#[test]
fn after_the_nat_maps_the_host_anew_a_restart_announces_its_new_address() {
    let (local, second) = (at("10.0.0.1:5000"), at("203.0.113.9:20888"));
    let mut h = behind_a_nat(local, at("203.0.113.9:10777"));
    h.clients[0].cut = true;
    h.nat = Some((local, second));
    let mapped = Some(Reflexive {
        base: local,
        mapped: second,
    });
    h.session.handle_reflexive(h.now, mapped);
    assert!(h.run_until(Duration::from_secs(30), |h| !host_connected(h)));
    h.clients[0].cut = false;
    let frames_before = h.clients[0].frames.len();
    let sdp = h.restart_ice(0).expect("the restart is answered");
    assert!(sdp.contains(" 203.0.113.9 20888 typ srflx"), "{sdp}");
    assert!(
        !sdp.contains(" 10777 typ"),
        "the old mapping announced: {sdp}"
    );
    assert!(
        h.run_until(Duration::from_secs(3), |h| h.clients[0].frames.len()
            > frames_before + 30),
        "no picture after the restart"
    );
    assert!(input_arrives(&mut h), "input lost after the restart");
    assert_eq!(h.joined, [PeerId(1)]);
    assert!(h.left.is_empty(), "the peer left: {:?}", h.left);
}

#[test]
fn a_page_flooding_offers_is_refused_past_the_limit_and_the_other_viewer_plays_on() {
    use crate::session::offers::{OFFERS_PER_WINDOW, OFFER_WINDOW};
    let mut h = Harness::new(delay(5, 81));
    h.add_client(delay(5, 82), &[]);
    h.add_client(delay(5, 83), &[]);
    assert!(
        h.run_until(Duration::from_secs(5), |h| h
            .clients
            .iter()
            .all(|c| c.frames.len() > 30)),
        "never played"
    );
    let start = h.now;
    let watcher_before = h.clients[0].frames.len();
    // The second page offers as fast as it can: the limit's worth are answered (its first
    // offer, a few seconds ago, among them), the rest refused before they are read,
    // well-formed or not.
    for _ in 1..OFFERS_PER_WINDOW {
        h.restart_ice(1)
            .expect("an offer within the limit is answered");
        h.run_for(Duration::from_millis(20));
    }
    let id = h.clients[1].id;
    for _ in 0..200 {
        let refused = h.session.handle_offer(h.now, id, "v=0\r\n", None);
        assert!(
            matches!(refused, Err(SessionError::TooManyOffers(..))),
            "{refused:?}"
        );
        h.run_for(Duration::from_millis(5));
    }
    // The other viewer played on at its rate, no keyframe storm; nobody left.
    h.run_for(Duration::from_secs(1));
    let seconds = (h.now - start).as_secs_f64();
    let watched = h.clients[0].frames.len() - watcher_before;
    assert!(
        watched as f64 > 50.0 * seconds,
        "{watched} frames in {seconds:.1} s"
    );
    assert!(h.left.is_empty(), "{:?}", h.left);
    // Once the window has passed, the page's offers are answered again.
    h.run_for(OFFER_WINDOW);
    h.restart_ice(1)
        .expect("an offer after the window is answered");
}
