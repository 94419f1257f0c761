//! A WebRTC client without a browser: a str0m peer in this test connects to a real `glint`
//! (on its own Xvfb), receives H.264 that FFmpeg decodes into 1280x720 pictures, and moves the
//! host's pointer through the `input` data channel. On the way it drops some of glint's video
//! packets on purpose: the answer must offer NACK, and the lost packets must come back as
//! retransmissions so that every picture still arrives whole.

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use ffmpeg_next as ff;
use str0m::change::{SdpAnswer, SdpPendingOffer};
use str0m::channel::{ChannelConfig, ChannelId, Reliability};
use str0m::media::{Direction, MediaKind};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, Input, Output, RtcConfig};

use glint::input::sender::Sender;
use glint::input::wire;

/// Stops glint by PID even when the test fails.
struct Host {
    child: Child,
}

impl Drop for Host {
    fn drop(&mut self) {
        // SAFETY: signalling our own child.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        let _ = self.child.wait();
    }
}

/// Glint, its port, its display and that display's Xauthority file (X clients need its cookie).
fn start_glint() -> (Host, u16, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_glint"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--fps",
            "30",
            "--codec",
            "h264",
            "--no-ladder",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("glint starts");
    let stdout = child.stdout.take().expect("stdout is piped");
    let host = Host { child };
    let (mut port, mut display, mut xauth) = (None, None, None);
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("glint prints lines");
        if let Some(d) = line.strip_prefix("glint: streaming display ") {
            display = d.split_whitespace().next().map(str::to_owned);
        }
        if let Some((_, auth)) = line.split_once("XAUTHORITY=") {
            xauth = Some(auth.trim().to_owned());
        }
        if let Some(url) = line.strip_prefix("glint: open http://127.0.0.1:") {
            port = url.trim_end_matches('/').parse().ok();
            break;
        }
    }
    (
        host,
        port.expect("glint printed its URL"),
        display.expect("glint printed its display"),
        xauth.expect("glint printed its display's XAUTHORITY"),
    )
}

fn lan_address() -> std::net::IpAddr {
    if_addrs::get_if_addrs()
        .expect("interfaces")
        .into_iter()
        .map(|i| i.ip())
        .find(|ip| ip.is_ipv4() && !ip.is_loopback())
        .unwrap_or_else(|| "127.0.0.1".parse().expect("literal"))
}

fn pointer_on(display: &str, xauth: &str) -> Option<(u32, u32)> {
    let out = Command::new("xdotool")
        .arg("getmouselocation")
        .env("DISPLAY", display)
        .env("XAUTHORITY", xauth)
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let field = |name: &str| {
        text.split_whitespace()
            .find_map(|w| w.strip_prefix(name))
            .and_then(|v| v.parse().ok())
    };
    Some((field("x:")?, field("y:")?))
}

/// The payload type the answer gives H.264, and whether it enables NACK for it.
fn h264_nack(answer: &str) -> (Option<u8>, bool) {
    let pt = answer.lines().find_map(|l| {
        let rest = l.strip_prefix("a=rtpmap:")?;
        let (pt, codec) = rest.split_once(' ')?;
        codec.starts_with("H264/90000").then(|| pt.parse().ok())?
    });
    let nack = pt.is_some_and(|pt: u8| {
        answer
            .lines()
            .any(|l| l.trim_end() == format!("a=rtcp-fb:{pt} nack"))
    });
    (pt, nack)
}

/// The sequence number of an RTP packet of payload type `pt` (the RTP header is not
/// encrypted by SRTP), or `None` for anything else.
fn rtp_seq(datagram: &[u8], pt: u8) -> Option<u16> {
    let is_rtp = datagram.len() >= 12 && datagram[0] >> 6 == 2;
    (is_rtp && datagram[1] & 0x7f == pt).then(|| u16::from_be_bytes([datagram[2], datagram[3]]))
}

/// Drop the first copy of every this-many-th video packet once the stream runs.
const DROP_EVERY: u16 = 7;

#[test]
fn a_rust_peer_receives_decodable_video_and_drives_the_pointer() {
    let (_host, port, display, xauth) = start_glint();

    let socket = UdpSocket::bind((lan_address(), 0)).expect("client socket");
    let local: SocketAddr = socket.local_addr().expect("local addr");
    // A thread of its own reads the socket, so that decoding (a keyframe on a loaded machine)
    // or asking xdotool never leaves it unread: its buffer overflowed now and then, and the host
    // took the run of loss for a collapse and emptied its RTX cache (a torn picture).
    let (datagrams, arrived) = mpsc::channel::<(Instant, SocketAddr, Vec<u8>)>();
    let reader = socket.try_clone().expect("client socket clone");
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 2048];
        while let Ok((n, source)) = reader.recv_from(&mut buf) {
            if datagrams
                .send((Instant::now(), source, buf[..n].to_vec()))
                .is_err()
            {
                break; // the test is over
            }
        }
    });

    let mut rtc = RtcConfig::new()
        .set_stats_interval(Some(Duration::from_millis(250)))
        .build(Instant::now());
    rtc.add_local_candidate(Candidate::host(local, "udp").expect("candidate"));
    let mut api = rtc.sdp_api();
    api.add_media(MediaKind::Video, Direction::RecvOnly, None, None, None);
    let input_channel: ChannelId = api.add_channel_with_config(ChannelConfig {
        label: "input".into(),
        ordered: false,
        reliability: Reliability::MaxRetransmits { retransmits: 0 },
        ..ChannelConfig::default()
    });
    let (offer, pending): (_, SdpPendingOffer) = api.apply().expect("an offer");

    let (mut ws, _) =
        tungstenite::connect(format!("ws://127.0.0.1:{port}/ws")).expect("signaling connects");
    let send = |ws: &mut tungstenite::WebSocket<_>, v: serde_json::Value| {
        ws.send(tungstenite::Message::text(v.to_string()))
            .expect("send");
    };
    send(&mut ws, serde_json::json!({"type": "hello"}));
    send(
        &mut ws,
        serde_json::json!({"type": "offer", "sdp": offer.to_sdp_string()}),
    );
    let answer = loop {
        let msg = ws.read().expect("signaling reply");
        let v: serde_json::Value =
            serde_json::from_str(msg.to_text().expect("text")).expect("json");
        match v["type"].as_str() {
            Some("answer") => break v["sdp"].as_str().expect("sdp").to_owned(),
            // The member list comes at each join: not part of the answer.
            Some("welcome" | "members" | "rejoin") => continue,
            other => panic!("unexpected signaling reply {other:?}: {v}"),
        }
    };
    rtc.sdp_api()
        .accept_answer(
            pending,
            SdpAnswer::from_sdp_string(&answer).expect("answer parses"),
        )
        .expect("answer accepted");
    let (pt, nack) = h264_nack(&answer);
    let pt = pt.expect("the answer maps a payload type to H.264");
    assert!(nack, "the answer does not enable NACK for H.264:\n{answer}");

    ff::init().expect("ffmpeg");
    let codec = ff::decoder::find(ff::codec::Id::H264).expect("an H.264 decoder");
    let mut decoder = ff::codec::context::Context::new_with_codec(codec)
        .decoder()
        .video()
        .expect("decoder opens");
    let mut picture = ff::frame::Video::empty();

    let mut sender = Sender::new();
    let target = (123u16, 77u16);
    sender.pointer(target.0, target.1);
    let (mut decoded, mut channel_open, mut pointer_ok) = (0u32, false, false);
    let mut last_input = Instant::now();
    let mut last_pointer_check = Instant::now();
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut dropped: HashSet<u16> = HashSet::new();
    let (mut torn, mut nacks_sent) = (0u32, 0u64);
    let done = |decoded: u32, pointer_ok: bool, dropped: usize, nacks_sent: u64| {
        decoded >= 60 && pointer_ok && dropped >= 5 && nacks_sent > 0
    };
    while Instant::now() < deadline && !done(decoded, pointer_ok, dropped.len(), nacks_sent) {
        let timeout = loop {
            match rtc.poll_output().expect("poll") {
                Output::Timeout(t) => break t,
                Output::Transmit(t) => {
                    socket
                        .send_to(&t.contents, t.destination)
                        .expect("udp send");
                }
                Output::Event(Event::MediaData(data)) => {
                    if !data.contiguous && decoded > 0 {
                        torn += 1;
                    }
                    let packet = ff::Packet::copy(&data.data);
                    if decoder.send_packet(&packet).is_ok() {
                        while decoder.receive_frame(&mut picture).is_ok() {
                            assert_eq!((picture.width(), picture.height()), (1280, 720));
                            decoded += 1;
                        }
                    }
                }
                Output::Event(Event::ChannelOpen(id, _)) if id == input_channel => {
                    channel_open = true
                }
                Output::Event(Event::MediaIngressStats(s)) => nacks_sent = s.nacks,
                Output::Event(_) => {}
            }
        };
        if channel_open && last_input.elapsed() > Duration::from_millis(50) {
            last_input = Instant::now();
            let bytes = wire::encode(&sender.packet(0));
            if let Some(mut ch) = rtc.channel(input_channel) {
                let _ = ch.write(true, &bytes);
            }
        }
        // xdotool is a process of its own: asked at most every 0.5 s, and not once the pointer
        // is there. Asked every 50 ms it kept this loop from the socket long enough for the
        // socket's buffer to overflow; the host saw the run of loss as a collapse and emptied
        // its RTX cache, and a picture arrived torn (2 runs in 16).
        if channel_open && !pointer_ok && last_pointer_check.elapsed() > Duration::from_millis(500)
        {
            last_pointer_check = Instant::now();
            pointer_ok =
                pointer_on(&display, &xauth) == Some((u32::from(target.0), u32::from(target.1)));
        }
        let wait = timeout.saturating_duration_since(Instant::now());
        let input = match arrived.recv_timeout(wait.min(Duration::from_millis(20))) {
            Ok((_, _, datagram))
                if decoded >= 20
                    && rtp_seq(&datagram, pt)
                        .is_some_and(|seq| seq % DROP_EVERY == 0 && dropped.insert(seq)) =>
            {
                Input::Timeout(Instant::now())
            }
            Ok((at, source, datagram)) => {
                rtc.handle_input(Input::Receive(
                    at,
                    Receive {
                        proto: Protocol::Udp,
                        source,
                        destination: local,
                        contents: datagram.as_slice().try_into().expect("datagram"),
                    },
                ))
                .expect("input");
                continue;
            }
            Err(_) => Input::Timeout(Instant::now()),
        };
        rtc.handle_input(input).expect("input");
    }
    assert!(decoded >= 60, "decoded only {decoded} pictures");
    assert!(dropped.len() >= 5, "only {} packets dropped", dropped.len());
    assert!(
        nacks_sent > 0,
        "no NACK was sent for {} lost packets",
        dropped.len()
    );
    assert_eq!(
        torn, 0,
        "{torn} pictures arrived with gaps: lost packets were not retransmitted"
    );
    assert!(channel_open, "the input channel never opened");
    assert!(pointer_ok, "the host pointer never reached {target:?}");
}
