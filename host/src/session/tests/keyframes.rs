//! Keyframes: a joining peer gets one first; a storm of keyframe requests is throttled.

use std::time::Duration;

use super::{delay, Harness};

#[test]
fn a_joining_peer_gets_a_keyframe_before_any_delta_frame() {
    let mut h = Harness::new(delay(10, 1));
    h.add_client(delay(10, 2), &[]);
    assert!(
        h.run_until(Duration::from_secs(3), |h| h.clients[0].frames.len() > 30),
        "the first peer never played"
    );
    let first = &h.clients[0].frames;
    assert!(
        first[0].keyframe,
        "the first frame received was not a keyframe"
    );
    // A second peer joins a running stream: it too starts on a keyframe, asked for on its
    // behalf, and the first peer's stream goes on.
    let asked_before = h.keyframe_commands;
    let had = h.clients[0].frames.len();
    h.add_client(delay(10, 3), &[]);
    assert!(
        h.run_until(Duration::from_secs(3), |h| h.clients[1].frames.len() > 30),
        "the second peer never played"
    );
    assert!(
        h.keyframe_commands > asked_before,
        "no keyframe asked for the newcomer"
    );
    assert!(
        h.clients[1].frames[0].keyframe,
        "the newcomer's first frame was a delta"
    );
    assert!(
        h.clients[0].frames.len() > had + 30,
        "the first peer stalled"
    );
    assert_eq!(h.joined.len(), 2);
}

#[test]
fn a_storm_of_keyframe_requests_is_throttled() {
    let mut h = Harness::new(delay(5, 4));
    h.add_client(delay(5, 5), &[]);
    assert!(h.connect_all(Duration::from_secs(3)));
    h.run_for(Duration::from_millis(500));
    let before = h.keyframe_commands;
    // A PLI every 5 ms for 3 s: 600 requests.
    for _ in 0..600 {
        h.clients[0].request_keyframe();
        h.run_for(Duration::from_millis(5));
    }
    let honoured = h.keyframe_commands - before;
    // At most one per 300 ms (10 in 3 s, plus one at the edge), but requests do get through.
    assert!(honoured <= 11, "{honoured} keyframes for 600 requests");
    assert!(honoured >= 5, "only {honoured} keyframes honoured");
    assert_eq!(h.counters.keyframe_requests.get() as usize, honoured);
}

/// A page whose decoder is stuck asks on `control` (`channels::KEYFRAME_REQUEST`): a keyframe
/// follows, through the same gate as a PLI, and nothing is refused; other data on `control`
/// still is.
#[test]
fn a_pages_keyframe_request_on_control_gets_a_keyframe_through_the_pli_gate() {
    let mut h = Harness::new(delay(5, 6));
    h.add_client(delay(5, 7), &[("control", false)]);
    assert!(h.connect_all(Duration::from_secs(3)));
    assert!(h.run_until(Duration::from_secs(3), |h| h.clients[0]
        .channel("control")
        .is_some()));
    h.run_for(Duration::from_millis(500));
    let before = h.keyframe_commands;
    assert!(h.clients[0].send("control", crate::session::channels::KEYFRAME_REQUEST));
    h.run_for(Duration::from_millis(100));
    assert_eq!(
        h.keyframe_commands - before,
        1,
        "no keyframe for the request"
    );
    // A storm: 200 requests in 2 s, at most one keyframe per 300 ms.
    for _ in 0..200 {
        h.clients[0].send("control", b"keyframe");
        h.run_for(Duration::from_millis(10));
    }
    let honoured = h.keyframe_commands - before;
    assert!((3..=9).contains(&honoured), "{honoured} keyframes");
    assert_eq!(h.counters.channel_bad_data.get(), 0);
    h.clients[0].send("control", b"keyframes");
    h.run_for(Duration::from_millis(100));
    assert_eq!(
        h.counters.channel_bad_data.get(),
        1,
        "other data on control is refused"
    );
}
