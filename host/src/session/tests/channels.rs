//! Data channels: what a page may send where.

use std::time::Duration;

use super::rate::capped;
use super::{delay, Harness};
use crate::input::InputMsg;
use crate::peer::Notice;
use crate::proto::echo::FrameEcho;
use crate::proto::signaling::ErrorCode;
use crate::session::fanout::{ECHO_EVERY_NARROW, ECHO_FRAMES, ECHO_FRAMES_NARROW};

#[test]
fn bad_data_on_a_host_to_page_channel_is_counted_and_told_once() {
    let mut h = Harness::new(delay(5, 21));
    h.add_client(
        delay(5, 22),
        &[("control", false), ("input", false), ("mystery", true)],
    );
    assert!(h.run_until(Duration::from_secs(3), |h| h.clients[0]
        .channel("mystery")
        .is_some()
        && h.clients[0].channel("control").is_some()));
    h.run_for(Duration::from_millis(200));
    for i in 0..50u8 {
        assert!(h.clients[0].send(if i % 2 == 0 { "control" } else { "mystery" }, &[i]));
        h.run_for(Duration::from_millis(2));
    }
    h.run_for(Duration::from_millis(300));
    assert_eq!(h.counters.channel_bad_data.get(), 50);
    let told: Vec<_> = h
        .notices
        .iter()
        .filter(|(_, n)| {
            matches!(
                n,
                Notice::Error {
                    code: ErrorCode::BadChannel,
                    ..
                }
            )
        })
        .collect();
    assert_eq!(told.len(), 1, "{:?}", h.notices);
    assert!(h.inputs.is_empty(), "bad data reached the input thread");
    // The page's stream went on: its input is echoed on the control channel.
    h.input_seq = Some(7);
    h.run_for(Duration::from_millis(300));
    assert!(!echoes(&h).is_empty(), "no frame echo");
}

/// The frame echoes the first client got, in order.
fn frame_echoes(h: &Harness) -> Vec<FrameEcho> {
    h.clients[0]
        .channel_data
        .iter()
        .filter(|(l, _)| l == "control")
        .filter_map(|(_, d)| FrameEcho::decode(d))
        .collect()
}

/// The input sequence numbers of the frame echoes the first client got, in order.
fn echoes(h: &Harness) -> Vec<Option<u32>> {
    frame_echoes(h).iter().map(|e| e.input_seq).collect()
}

#[test]
fn frames_after_new_input_carry_the_echo_and_others_none() {
    let mut h = Harness::new(delay(5, 25));
    h.add_client(delay(5, 26), &[("control", false)]);
    assert!(h.run_until(Duration::from_secs(3), |h| h.clients[0]
        .channel("control")
        .is_some()));
    h.run_for(Duration::from_secs(1));
    assert!(echoes(&h).is_empty(), "echoes without input");
    let frames = h.frames_written;
    h.input_seq = Some(41);
    h.run_for(Duration::from_secs(1));
    assert!(h.frames_written - frames > 50);
    assert_eq!(echoes(&h), vec![Some(41); ECHO_FRAMES as usize]);
    h.input_seq = Some(42);
    h.run_for(Duration::from_secs(1));
    let got = echoes(&h);
    assert_eq!(got.len(), 2 * ECHO_FRAMES as usize);
    assert!(got[ECHO_FRAMES as usize..].iter().all(|s| *s == Some(42)));
    // Each run says what the frames before its input had shown: a press in packet 41 was
    // first shown by the first run, not by the second.
    let since: Vec<Option<u32>> = frame_echoes(&h).iter().map(|e| e.since_seq).collect();
    assert!(
        since[..ECHO_FRAMES as usize].iter().all(|s| s.is_none()),
        "{since:?}"
    );
    assert!(
        since[ECHO_FRAMES as usize..].iter().all(|s| *s == Some(41)),
        "{since:?}"
    );
}

/// On a narrow link (a target under the sound-pairing threshold) input that changes every
/// frame, as a moving mouse does, gets a short run of echoes at most every
/// [`ECHO_EVERY_NARROW`]: on a 400 kbit/s link one per frame was a tenth of it.
#[test]
fn on_a_narrow_link_echoes_are_few_and_spaced() {
    let mut h = Harness::new(delay(20, 27));
    h.follow_rate = true;
    h.add_client(capped(400, 28), &[("control", false)]);
    assert!(h.run_until(Duration::from_secs(5), |h| h.clients[0]
        .channel("control")
        .is_some()));
    h.run_for(Duration::from_secs(3));
    assert!(h.rate_kbps < 500, "target {}", h.rate_kbps);
    let step = Duration::from_millis(20);
    let moves = 100;
    for k in 0..moves {
        h.input_seq = Some(100 + k);
        h.run_for(step);
    }
    h.run_for(Duration::from_millis(200));
    let got = echoes(&h);
    let runs = (step * moves).as_millis() / ECHO_EVERY_NARROW.as_millis() + 1;
    assert!(!got.is_empty(), "no echo at all");
    assert!(
        got.len() as u128 <= runs * u128::from(ECHO_FRAMES_NARROW),
        "{} echoes for {moves} moves: {got:?}",
        got.len()
    );
    // Each echo names its own frame's newest input (a new one every 20 ms, a frame every
    // 16.7 ms: two frames of a run may show the same one): never going back, spread over the
    // 2 s.
    assert!(got.windows(2).all(|w| w[0] <= w[1]), "{got:?}");
    assert!(got.len() >= 5 && got.last() > Some(&Some(150)), "{got:?}");
    // Each after the first (which follows no input) says what the frame before its input had
    // shown (one input per frame or fewer: the one before), also where a run began after
    // changes that had no echo: the page must not time a press of a skipped change to it.
    let pairs: Vec<(Option<u32>, Option<u32>)> = frame_echoes(&h)
        .iter()
        .map(|e| (e.input_seq, e.since_seq))
        .collect();
    assert!(
        pairs[1..]
            .iter()
            .all(|&(s, since)| since.is_some_and(|b| Some(b + 1) == s)),
        "{pairs:?}"
    );
}

#[test]
fn text_that_is_not_utf8_is_refused_and_text_that_is_goes_to_the_input_thread() {
    let mut h = Harness::new(delay(5, 23));
    h.add_client(delay(5, 24), &[("text", true)]);
    assert!(h.run_until(Duration::from_secs(3), |h| h.clients[0]
        .channel("text")
        .is_some()));
    h.run_for(Duration::from_millis(100));
    assert!(h.clients[0].send("text", &[0xff, 0xfe]));
    assert!(h.clients[0].send("text", "héllo".as_bytes()));
    h.run_for(Duration::from_millis(200));
    assert_eq!(h.counters.channel_bad_data.get(), 1);
    assert!(h.notices.iter().any(|(_, n)| matches!(
        n,
        Notice::Error {
            code: ErrorCode::BadText,
            ..
        }
    )));
    let texts: Vec<&str> = h
        .inputs
        .iter()
        .filter_map(|m| match m {
            InputMsg::Text { text, .. } => Some(text.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(texts, ["héllo"]);
}

#[test]
fn the_clipboard_goes_both_ways_checked_for_utf8_and_size() {
    let mut h = Harness::new(delay(5, 25));
    h.add_client(delay(5, 26), &[("clipboard", true)]);
    assert!(h.run_until(Duration::from_secs(3), |h| h.clients[0]
        .channel("clipboard")
        .is_some()));
    h.run_for(Duration::from_millis(100));
    let big = vec![b'x'; crate::proto::MAX_CLIPBOARD + 1];
    assert!(h.clients[0].send("clipboard", &[0xc3, 0x28]));
    assert!(h.clients[0].send("clipboard", &big));
    assert!(h.clients[0].send("clipboard", "copié".as_bytes()));
    h.run_for(Duration::from_millis(300));
    assert_eq!(h.counters.channel_bad_data.get(), 2);
    let texts: Vec<&str> = h
        .inputs
        .iter()
        .filter_map(|m| match m {
            InputMsg::Clipboard { text, .. } => Some(text.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(texts, ["copié"]);
    // The host's text reaches the page on the same channel.
    let (now, id) = (h.now, h.clients[0].id);
    h.session.handle_clipboard(now, id, "from the host → 日本");
    h.run_for(Duration::from_millis(200));
    assert!(h.clients[0]
        .channel_data
        .iter()
        .any(|(l, d)| l == "clipboard" && d == "from the host → 日本".as_bytes()));
}

#[test]
fn the_host_clipboard_waits_for_a_page_whose_channel_is_not_open_yet() {
    let mut h = Harness::new(delay(5, 27));
    h.add_client(delay(5, 28), &[("clipboard", true)]);
    // Copied on the host while the page is still connecting: only the newest text is kept.
    let (now, id) = (h.now, h.clients[0].id);
    h.session.handle_clipboard(now, id, "older");
    h.session.handle_clipboard(now, id, "newest");
    assert!(h.run_until(Duration::from_secs(3), |h| h.clients[0]
        .channel("clipboard")
        .is_some()));
    h.run_for(Duration::from_millis(300));
    let got: Vec<&[u8]> = h.clients[0]
        .channel_data
        .iter()
        .filter(|(l, _)| l == "clipboard")
        .map(|(_, d)| d.as_slice())
        .collect();
    assert_eq!(got, [b"newest".as_slice()]);
}
