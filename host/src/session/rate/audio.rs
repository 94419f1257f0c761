//! The sound's rate beside the picture's: Opus gives way on a narrow link and keeps flowing.

use std::time::Duration;

/// The sound's rate is raised back only after the video target has allowed it this long.
pub(crate) const AUDIO_RAISE_AFTER: Duration = Duration::from_secs(3);

/// The Opus rate for the encode's video target, kbit/s: the configured rate while the link is
/// wide, less under pressure, so that sound keeps flowing through a narrow link and leaves the
/// picture its room (96 kbit/s of sound is a quarter of a 400 kbit/s link, beside
/// [`super::HEADROOM`]'s 15 %): at most 64 under 2 Mbit/s of video, 48 under 1 Mbit/s, 32 under
/// 500 kbit/s and 24 under 250 kbit/s (Opus CELT stays clear for speech and music from about
/// 24 kbit/s stereo; RFC 7587 §3.1.1).
pub(crate) fn audio_kbps_for(video_target_kbps: u32, configured_kbps: u32) -> u32 {
    let cap = match video_target_kbps {
        t if t >= 2000 => u32::MAX,
        t if t >= 1000 => 64,
        t if t >= 500 => 48,
        t if t >= 250 => 32,
        _ => 24,
    };
    configured_kbps.min(cap)
}

/// Under this video target, kbit/s, the `audio` data channel carries two 10 ms Opus frames per
/// message (every other packet, each with its previous frame, which the page decodes as it
/// would a repeat after a loss) instead of one: each message costs ~100 bytes of SCTP, DTLS,
/// UDP and IP headers, and 100 a second of them were 140 kbit/s on the wire for 24 kbit/s of
/// Opus, which with a 150 kbit/s picture overflowed a 400 kbit/s link. Half as many messages
/// save ~60 kbit/s there, at the cost of the repeat that hid a lost packet.
pub(crate) const AUDIO_PAIRED_UNDER_KBPS: u32 = 500;
