//! Negotiation (SDP offer/answer, RFC 8829/JSEP): answering a page's offer, and offering to a
//! party that answers (a WHIP endpoint, RFC 9725), with the codec choice and the header
//! extensions Glint relies on.

use std::time::{Duration, Instant};

use str0m::bwe::Bitrate;
use str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
use str0m::format::Codec as RtcCodec;
use str0m::media::{Direction, MediaKind, Mid, Pt};
use str0m::rtp::Extension;
use str0m::{Rtc, RtcConfig};

use super::{candidates, SessionConfig, SessionError, RTC_STATS_INTERVAL};
use crate::config::CodecChoice;
use crate::encode::Codec;

/// Where the bandwidth estimate starts, kbit/s (or at `--bitrate`, if lower): a rate most
/// links carry, from which the estimator's initial probes (3x and 6x) find a faster link within
/// a second or two, where starting at the full rate floods a slow one.
pub(crate) const START_KBPS: u32 = 1000;

/// Where a new peer's rate starts, kbit/s: [`START_KBPS`], or 0.8 of the page's own measure
/// of its link (`link_kbps`) when lower (it read 268–439 kbit/s on a 400 kbit/s tbf link, whose
/// bucket lets the first bytes through at the wire's speed), never under
/// [`super::MIN_VIDEO_KBPS`], never over `max_kbps` (`--bitrate`).
pub fn start_kbps(max_kbps: u32, link_kbps: Option<u32>) -> u32 {
    let measured = link_kbps.map_or(START_KBPS, |k| {
        (u64::from(k) * 4 / 5).clamp(u64::from(super::MIN_VIDEO_KBPS), u64::from(START_KBPS)) as u32
    });
    max_kbps.min(measured)
}

/// Header extension ids (str0m takes the browser's ids where its offer has them).
const EXT_ABS_SEND_TIME: u8 = 2;
const EXT_MID: u8 = 4;
const EXT_PLAYOUT_DELAY: u8 = 6;
const EXT_ABS_CAPTURE_TIME: u8 = 7;
const EXT_TRANSPORT_CC: u8 = 3;

/// The media negotiated with a peer.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Media {
    pub(super) video: Option<(Mid, Pt, Codec)>,
    pub(super) audio: Option<(Mid, Pt)>,
}

/// A page's offer, answered.
pub(super) struct Answered {
    pub(super) rtc: Rtc,
    pub(super) media: Media,
    pub(super) sdp: String,
    pub(super) shape: Shape,
    /// The server-reflexive candidates the answer announced.
    pub(super) reflexive: Vec<str0m::Candidate>,
}

/// An offer of ours, waiting for its answer.
pub(super) struct Offered {
    pub(super) sdp: String,
    pub(super) pending: Pending,
    /// The server-reflexive candidates the offer announced.
    pub(super) reflexive: Vec<str0m::Candidate>,
}

/// What an offer of ours waits with: str0m's pending change and the mids it offered.
pub(super) struct Pending {
    pub(super) change: SdpPendingOffer,
    pub(super) video: Mid,
    pub(super) audio: Mid,
}

/// An `Rtc` with Glint's codecs and extensions, its host candidates added, and the
/// server-reflexive candidates among them.
///
/// A full ICE agent (RFC 8445), not ICE-lite: the page trickles its candidates, the host checks
/// them too, and Chromium, which against a lite agent nominates a pair only one weak ping
/// interval (48 ms) after it proved writable, nominates on its first check (about 40 ms sooner
/// to the first picture). A full agent may also announce server-reflexive candidates.
fn new_rtc(config: &SessionConfig, now: Instant, start_kbps: u32) -> (Rtc, Vec<str0m::Candidate>) {
    let (h264, vp8) = match config.codec {
        CodecChoice::Auto => (true, true),
        CodecChoice::H264 => (true, false),
        CodecChoice::Vp8 => (false, true),
    };
    let start = Bitrate::kbps(u64::from(start_kbps));
    let mut rtc = RtcConfig::new()
        .set_ice_lite(false)
        .set_stats_interval(Some(RTC_STATS_INTERVAL))
        // TWCC feedback (every packet acknowledged with its arrival time) feeds str0m's
        // send-side estimator (goog_cc); the encoder follows it (`rate/`). The raw RTCP shows
        // each feedback and NACK as it comes (`rate/feedback.rs`, `nacks.rs`).
        .enable_bwe(Some(start))
        .enable_raw_packets(true)
        .clear_extension_map()
        .set_extension(EXT_TRANSPORT_CC, Extension::TransportSequenceNumber)
        .set_extension(EXT_ABS_SEND_TIME, Extension::AbsoluteSendTime)
        .set_extension(EXT_MID, Extension::RtpMid)
        // Render at once (min = max = 0), and let the browser know each frame's capture
        // instant (requestVideoFrameCallback's captureTime).
        .set_extension(EXT_PLAYOUT_DELAY, Extension::PlayoutDelay)
        .set_extension(EXT_ABS_CAPTURE_TIME, Extension::AbsoluteCaptureTime)
        .clear_codecs()
        .enable_h264(h264)
        .enable_vp8(vp8)
        .enable_opus(true, false)
        .build(now);
    // Nothing to discover until the first picture has gone out (`Peer::pad_to_target` then
    // asks for the configured rate): str0m's initial probes need no media, and sent right
    // after DTLS (3x and 6x the start, ~17 KB in 30 ms) they filled a 400 kbit/s link's queue
    // ahead of the first keyframe, which lost most of its packets.
    rtc.bwe().set_bitrate(Bitrate::ZERO, Bitrate::ZERO);
    let reflexive = candidates::add(config, &mut rtc);
    (rtc, reflexive)
}

fn no_codec(choice: CodecChoice) -> SessionError {
    SessionError::NoCodec(match choice {
        CodecChoice::H264 => "--codec h264 needs H.264 constrained baseline",
        CodecChoice::Vp8 => "--codec vp8 needs VP8",
        CodecChoice::Auto => "H.264 constrained baseline or VP8",
    })
}

/// Answers a page's offer; the new peer's rate starts at `start_kbps` ([`start_kbps`]).
pub(super) fn answer(
    config: &SessionConfig,
    now: Instant,
    sdp: &str,
    start_kbps: u32,
) -> Result<Answered, SessionError> {
    let offer =
        SdpOffer::from_sdp_string(sdp).map_err(|e| SessionError::BadOffer(parse_error(&e)))?;
    let (mut rtc, reflexive) = new_rtc(config, now, start_kbps);
    let answer = rtc
        .sdp_api()
        .accept_offer(offer)
        .map_err(|e| SessionError::Rejected(e.to_string()))?;
    // str0m announces media only once SRTP is up; the codec must be known now, for the
    // answer's sake and to start the right encoder, so look the video m-line up directly.
    let media = Media {
        video: media_mid(sdp, "video ").and_then(|mid| video_of(&mut rtc, mid, config.max_kbps)),
        audio: media_mid(sdp, "audio ").and_then(|mid| audio_of(&mut rtc, mid)),
    };
    if media.video.is_none() {
        return Err(no_codec(config.codec));
    }
    Ok(Answered {
        rtc,
        media,
        sdp: answer_text(config, &answer),
        shape: Shape::of(sdp),
        reflexive,
    })
}

/// The answer as the page gets it: with the sound moved into the video's stream under
/// `--av-sync` ([`one_stream`]).
fn answer_text(config: &SessionConfig, answer: &SdpAnswer) -> String {
    let sdp = answer.to_sdp_string();
    if config.av_sync {
        one_stream(&sdp)
    } else {
        sdp
    }
}

/// What identifies a page's peer connection across its offers: its DTLS certificate
/// fingerprint (RFC 8122; the same for the life of an `RTCPeerConnection`) and its m-lines, in
/// order (`kind mid`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Shape {
    fingerprint: Option<String>,
    lines: Vec<String>,
}

impl Shape {
    pub(super) fn of(sdp: &str) -> Self {
        let mut shape = Self::default();
        let mut kind = "";
        for line in sdp.lines().map(str::trim) {
            if let Some(rest) = line.strip_prefix("m=") {
                kind = rest.split(' ').next().unwrap_or("");
            } else if let Some(mid) = line.strip_prefix("a=mid:") {
                shape.lines.push(format!("{kind} {mid}"));
            } else if let (None, Some(f)) =
                (&shape.fingerprint, line.strip_prefix("a=fingerprint:"))
            {
                shape.fingerprint = Some(f.to_ascii_lowercase());
            }
        }
        shape
    }

    /// Whether an offer of this shape comes from the same connection as `self`.
    pub(super) fn same_connection(&self, other: &Self) -> bool {
        self.fingerprint.is_some() && self.fingerprint == other.fingerprint
    }
}

/// Answers a new offer `sdp` (of shape `offered`) from a connection already answered (`shape`
/// is its first offer's): an ICE restart (new `ice-ufrag`/`ice-pwd`, RFC 8445 §9), or the same
/// session offered again. The media must stay as they were. The server-reflexive candidates
/// become those of the host's mapping now ([`candidates::refresh`]; `reflexive` holds those
/// announced). An offer refused before str0m takes it (unreadable, other media, no ICE
/// credentials) leaves `rtc` as it was.
pub(super) fn reanswer(
    config: &SessionConfig,
    rtc: &mut Rtc,
    reflexive: &mut Vec<str0m::Candidate>,
    shape: &Shape,
    offered: &Shape,
    sdp: &str,
) -> Result<String, SessionError> {
    let offer =
        SdpOffer::from_sdp_string(sdp).map_err(|e| SessionError::BadOffer(parse_error(&e)))?;
    if offered.lines != shape.lines {
        return Err(SessionError::Rejected(
            "a new offer on the same connection must keep its media lines (only ICE may restart)"
                .into(),
        ));
    }
    let has = |attr: &str| sdp.lines().any(|l| l.trim().starts_with(attr));
    if !has("a=ice-ufrag:") || !has("a=ice-pwd:") {
        return Err(SessionError::Rejected("missing a=ice-ufrag/pwd".into()));
    }
    if candidates::refresh(config, rtc, reflexive) {
        tracing::info!("the host's public address changed: the restart's answer announces it");
    }
    let answer = rtc
        .sdp_api()
        .accept_offer(offer)
        .map_err(|e| SessionError::Rejected(e.to_string()))?;
    Ok(answer_text(config, &answer))
}

/// An SDP parse error on one line for the page, without the parser's pointer addresses (its
/// first line is `Parse error at PointerOffset(0x…)`).
fn parse_error(e: &impl std::fmt::Display) -> String {
    let text = e.to_string();
    let told: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.contains("PointerOffset"))
        .collect();
    if told.is_empty() {
        "unreadable".into()
    } else {
        told.join("; ")
    }
}

/// Offers video and sound, send-only, to a party that answers; its rate starts at `start_kbps`.
pub(super) fn offer(
    config: &SessionConfig,
    now: Instant,
    start_kbps: u32,
) -> Result<(Rtc, Offered), SessionError> {
    let (mut rtc, reflexive) = new_rtc(config, now, start_kbps);
    let mut api = rtc.sdp_api();
    let video = api.add_media(MediaKind::Video, Direction::SendOnly, None, None, None);
    let audio = api.add_media(MediaKind::Audio, Direction::SendOnly, None, None, None);
    let Some((offer, pending)) = api.apply() else {
        return Err(SessionError::Rejected("nothing to offer".into()));
    };
    let offered = Offered {
        sdp: offer.to_sdp_string(),
        pending: Pending {
            change: pending,
            video,
            audio,
        },
        reflexive,
    };
    Ok((rtc, offered))
}

/// After an answer: the payload types and codec the other party took for the offered mids.
pub(super) fn resolve(
    rtc: &mut Rtc,
    video: Mid,
    audio: Mid,
    max_kbps: u32,
) -> Result<Media, SessionError> {
    let video = video_of(rtc, video, max_kbps)
        .ok_or(SessionError::NoCodec("H.264 constrained baseline or VP8"))?;
    let audio = audio_of(rtc, audio);
    Ok(Media {
        video: Some(video),
        audio,
    })
}

/// How old a packet the host still resends on a NACK: a retransmission later than this comes
/// after the page froze or asked for a keyframe, and only adds to a congested link.
pub(super) const RTX_CACHE_AGE: Duration = Duration::from_secs(1);

/// Packets the RTX cache holds: [`RTX_CACHE_AGE`] of video at twice `max_kbps` (bursts,
/// keyframes, padding) in packets of about 1,000 bytes, at least str0m's default 1024; so the
/// cache is bounded by time, not by a packet count (str0m's default of 2000 packets held under
/// 0.4 s at 50 Mbit/s).
pub(super) fn rtx_cache_packets(max_kbps: u32) -> usize {
    let per_second = u64::from(max_kbps) * 1000 / 8 / 1000;
    ((per_second * 2 * RTX_CACHE_AGE.as_millis() as u64 / 1000) as usize).max(1024)
}

fn video_of(rtc: &mut Rtc, mid: Mid, max_kbps: u32) -> Option<(Mid, Pt, Codec)> {
    let writer = rtc.writer(mid)?;
    let picked = pick_codec(writer.payload_params()).map(|(pt, c)| (mid, pt, c));
    // A frame goes out whole, as the encoder made it: the pacer would spread it over tens of
    // ms at 1.1x the estimate. The encoder's rate keeps the link from filling instead.
    if let Some(tx) = rtc.direct_api().stream_tx_by_mid(mid, None) {
        tx.set_unpaced(true);
        reset_rtx_cache(tx, max_kbps, super::rate::RESEND_SHARE);
    }
    picked
}

/// Gives the video stream a fresh, empty RTX cache: [`RTX_CACHE_AGE`] of packets at
/// `max_kbps` ([`rtx_cache_packets`]), resends capped at `share` of the last second's bytes
/// (str0m drops the queued ones over it; see `RateControl::resend_share`).
pub(super) fn reset_rtx_cache(tx: &mut str0m::rtp::StreamTx, max_kbps: u32, share: f32) {
    tx.set_rtx_cache(rtx_cache_packets(max_kbps), RTX_CACHE_AGE, Some(share));
}

/// Sound is optional: a peer without an audio m-line (or without Opus) gets video only.
fn audio_of(rtc: &mut Rtc, mid: Mid) -> Option<(Mid, Pt)> {
    let writer = rtc.writer(mid)?;
    let pt = writer
        .payload_params()
        .find(|p| p.spec().codec == RtcCodec::Opus)
        .map(|p| p.pt())?;
    Some((mid, pt))
}

/// Puts the audio track in the video's media stream (msid): browsers synchronise the tracks
/// of one stream (lip sync) by delaying the earlier one, and treat tracks of different streams
/// as unrelated. str0m gives every answered m-line its own stream id.
pub(super) fn one_stream(sdp: &str) -> String {
    let mut video_stream: Option<String> = None;
    let mut kind = "";
    for line in sdp.lines() {
        if let Some(rest) = line.strip_prefix("m=") {
            kind = rest.split(' ').next().unwrap_or("");
        } else if let (true, Some(msid)) = (kind == "video", line.strip_prefix("a=msid:")) {
            video_stream = msid.split(' ').next().map(str::to_owned);
            break;
        }
    }
    let Some(stream) = video_stream else {
        return sdp.to_owned();
    };
    let mut out = String::with_capacity(sdp.len());
    kind = "";
    for line in sdp.split_inclusive("\r\n") {
        if let Some(rest) = line.strip_prefix("m=") {
            kind = rest.split(' ').next().unwrap_or("");
        }
        if kind == "audio" {
            if let Some(msid) = line.strip_prefix("a=msid:") {
                let track = msid.split_once(' ').map_or("", |(_, t)| t);
                out.push_str(&format!("a=msid:{stream} {track}"));
                continue;
            }
            if let (true, Some((ssrc, msid))) =
                (line.starts_with("a=ssrc:"), line.split_once(" msid:"))
            {
                let track = msid.split_once(' ').map_or("", |(_, t)| t);
                out.push_str(&format!("{ssrc} msid:{stream} {track}"));
                continue;
            }
        }
        out.push_str(line);
    }
    out
}

/// The mid of the first m-line of `kind` ("video " or "audio ") in an SDP offer.
fn media_mid(sdp: &str, kind: &str) -> Option<Mid> {
    let mut in_kind = false;
    for line in sdp.lines() {
        if let Some(rest) = line.strip_prefix("m=") {
            in_kind = rest.starts_with(kind);
        } else if let (true, Some(mid)) = (in_kind, line.strip_prefix("a=mid:")) {
            return Some(Mid::from(mid.trim()));
        }
    }
    None
}

/// H.264 constrained baseline / baseline with packetization mode 1 first, then VP8.
fn pick_codec<'a>(
    params: impl Iterator<Item = &'a str0m::format::PayloadParams>,
) -> Option<(Pt, Codec)> {
    let mut vp8 = None;
    for p in params {
        let spec = p.spec();
        match spec.codec {
            RtcCodec::H264 => {
                let profile = spec.format.profile_level_id.unwrap_or(0) >> 8;
                let baseline = profile == 0x42e0 || profile == 0x4200;
                if baseline && spec.format.packetization_mode == Some(1) {
                    return Some((p.pt(), Codec::H264));
                }
            }
            RtcCodec::Vp8 if vp8.is_none() => vp8 = Some((p.pt(), Codec::Vp8)),
            _ => {}
        }
    }
    vp8
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use super::*;
    use crate::session::Reflexive;

    #[test]
    fn a_page_that_measured_a_slow_link_starts_under_the_usual_start() {
        assert_eq!(start_kbps(8000, None), START_KBPS);
        assert_eq!(start_kbps(8000, Some(380)), 304);
        // A fast link changes nothing; a measure under the floor starts at the floor.
        assert_eq!(start_kbps(8000, Some(50_000)), START_KBPS);
        assert_eq!(start_kbps(8000, Some(20)), crate::session::MIN_VIDEO_KBPS);
        assert_eq!(start_kbps(8000, Some(u32::MAX)), START_KBPS);
        // Never over --bitrate.
        assert_eq!(start_kbps(300, Some(900)), 300);
        assert_eq!(start_kbps(100, Some(20)), 100);
    }

    #[test]
    fn the_rtx_cache_holds_a_second_at_any_configured_rate() {
        assert_eq!(rtx_cache_packets(8000), 2000);
        assert_eq!(rtx_cache_packets(50_000), 12_500);
        assert_eq!(rtx_cache_packets(500), 1024, "never under str0m's default");
    }

    #[test]
    fn a_bad_offer_is_told_on_one_line_without_addresses() {
        let config = SessionConfig {
            codec: CodecChoice::Auto,
            locals: vec![],
            public_ip: None,
            reflexive: None,
            av_sync: false,
            max_peers: 32,
            max_kbps: 8000,
            audio_kbps: 96,
            fps: 60,
            no_ladder: false,
        };
        let Err(SessionError::BadOffer(why)) =
            answer(&config, Instant::now(), "this is junk", START_KBPS)
        else {
            panic!("junk accepted");
        };
        assert!(!why.contains('\n') && !why.contains("0x"), "{why}");
        assert!(!why.is_empty());
    }

    #[test]
    fn with_public_ip_the_answer_carries_a_server_reflexive_candidate() {
        // A browser-like offer: full ICE, receiving video.
        let mut page = Rtc::builder().build(Instant::now());
        let mut api = page.sdp_api();
        api.add_media(MediaKind::Video, Direction::RecvOnly, None, None, None);
        let (offer, _pending) = api.apply().expect("an offer");
        let config = SessionConfig {
            codec: CodecChoice::Auto,
            locals: vec![
                "10.1.2.3:5000".parse().expect("address"),
                "[2001:db8::3]:5000".parse().expect("address"),
                "127.0.0.1:5000".parse().expect("address"),
            ],
            public_ip: Some("203.0.113.7".parse().expect("address")),
            reflexive: None,
            av_sync: false,
            max_peers: 32,
            max_kbps: 8000,
            audio_kbps: 96,
            fps: 60,
            no_ladder: false,
        };
        let answered =
            answer(&config, Instant::now(), &offer.to_sdp_string(), START_KBPS).expect("answered");
        let candidates: Vec<&str> = answered
            .sdp
            .lines()
            .filter(|l| l.starts_with("a=candidate:"))
            .collect();
        // The public address with the same port (RFC 8445 §5.1.1.2), once: for the LAN
        // address, not for loopback, which no NAT forwards, nor beside the IPv6 one. (str0m writes its related address
        // as `raddr 0.0.0.0 rport 0`, as browsers do, so the LAN address is not told.)
        let srflx: Vec<&&str> = candidates
            .iter()
            .filter(|l| l.contains("typ srflx"))
            .collect();
        assert_eq!(srflx.len(), 1, "{candidates:#?}");
        assert!(
            srflx[0].contains(" 203.0.113.7 5000 typ srflx"),
            "{}",
            srflx[0]
        );
        assert!(candidates
            .iter()
            .any(|l| l.contains(" 10.1.2.3 5000 typ host")));
        // Without --public-ip, host candidates only.
        let config = SessionConfig {
            public_ip: None,
            ..config
        };
        let answered =
            answer(&config, Instant::now(), &offer.to_sdp_string(), START_KBPS).expect("answered");
        assert!(!answered.sdp.contains("typ srflx"), "{}", answered.sdp);
    }

    /// The srflx candidates of the answer to a browser-like offer under `config`.
    fn srflx_of(config: &SessionConfig) -> Vec<String> {
        let mut page = Rtc::builder().build(Instant::now());
        let mut api = page.sdp_api();
        api.add_media(MediaKind::Video, Direction::RecvOnly, None, None, None);
        let (offer, _pending) = api.apply().expect("an offer");
        let answered =
            answer(config, Instant::now(), &offer.to_sdp_string(), START_KBPS).expect("answered");
        let lines = answered.sdp.lines();
        lines
            .filter(|l| l.starts_with("a=candidate:") && l.contains("typ srflx"))
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn the_address_learned_by_stun_is_announced_with_its_own_port_unless_public_ip_is_given() {
        let at = |s: &str| -> SocketAddr { s.parse().expect("address") };
        let lan = at("10.1.2.3:5000");
        let config = SessionConfig {
            codec: CodecChoice::Auto,
            locals: vec![lan, at("127.0.0.1:5000")],
            public_ip: None,
            reflexive: Some(Reflexive {
                base: lan,
                mapped: at("203.0.113.9:10777"),
            }),
            av_sync: false,
            max_peers: 32,
            max_kbps: 8000,
            audio_kbps: 96,
            fps: 60,
            no_ladder: false,
        };
        // The NAT's port, not the local one; for its base only.
        let srflx = srflx_of(&config);
        assert_eq!(srflx.len(), 1, "{srflx:#?}");
        assert!(
            srflx[0].contains(" 203.0.113.9 10777 typ srflx"),
            "{}",
            srflx[0]
        );
        // --public-ip wins.
        let given = SessionConfig {
            public_ip: Some("198.51.100.4".parse().expect("address")),
            ..config.clone()
        };
        let srflx = srflx_of(&given);
        assert_eq!(srflx.len(), 1, "{srflx:#?}");
        assert!(
            srflx[0].contains(" 198.51.100.4 5000 typ srflx"),
            "{}",
            srflx[0]
        );
        // No NAT (the server saw the local address itself): nothing to add.
        let direct = SessionConfig {
            reflexive: Some(Reflexive {
                base: lan,
                mapped: lan,
            }),
            ..config
        };
        assert!(srflx_of(&direct).is_empty());
    }

    #[test]
    fn one_stream_moves_the_audio_track_into_the_video_stream() {
        let sdp = "v=0\r\nm=video 9 UDP 96\r\na=msid:VS vt\r\na=ssrc:1 msid:VS vt\r\n\
                   m=audio 9 UDP 111\r\na=msid:AS at\r\na=ssrc:2 cname:x\r\n\
                   a=ssrc:2 msid:AS at\r\nm=application 9 UDP\r\n";
        let out = one_stream(sdp);
        assert!(
            out.contains("m=audio 9 UDP 111\r\na=msid:VS at\r\n"),
            "{out}"
        );
        assert!(out.contains("a=ssrc:2 msid:VS at\r\n"), "{out}");
        assert!(out.contains("a=ssrc:2 cname:x\r\n"), "{out}");
        assert!(out.contains("a=msid:VS vt\r\n"), "{out}");
        assert!(!out.contains("AS"), "{out}");
        assert_eq!(out.len(), sdp.len());
    }
}
