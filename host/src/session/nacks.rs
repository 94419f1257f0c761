//! A page whose resends do not arrive, seen from its NACKs (RFC 4585 §6.2.1): it names the
//! same lost packet again each round trip until the resend comes, so a packet named
//! [`STUCK_AFTER`] times means the frame it belongs to is lost for good (the resend was lost
//! too, left the RTX cache, or str0m dropped it over its resend share), and every later frame
//! waits on it. A keyframe ends that; without it the page froze until its own request (a
//! stall of 500 ms with NACKs, `stall.js`) or Chromium's after 3 s. On the link bench after a
//! 10 → 1 Mbit/s fall the page named the same two packets every 15 ms for 750 ms.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// A packet named this many times (five round trips without its resend) is lost for good:
/// at 25 % random loss each way a resend and its NACK both get through in 4 of 7 round trips,
/// so four in a row fail for ~3 % of lost packets and five for ~1.5 %.
pub(super) const STUCK_AFTER: u32 = 5;
/// ... and first named at least this long ago, and three round trips: Chromium names a
/// lost packet again every ~15 ms while its round-trip figure is that of an empty queue, so
/// five names came within 110 ms of a 10 → 1 Mbit/s fall, before a resend through the full
/// queue could have arrived.
pub(super) const STUCK_FOR: Duration = Duration::from_millis(150);
/// Names older than this are forgotten (a page gives up NACKing a packet well before).
const REMEMBERED: Duration = Duration::from_secs(1);
/// At most this many packets are remembered (a fall's NACKs name hundreds).
const REMEMBERED_PACKETS: usize = 2048;
/// At most this many of one NACK's packets are looked at.
const NAMED_PER_NACK: usize = 512;

/// The packets one page has named in its NACKs lately, for one stream.
#[derive(Debug, Default)]
pub(super) struct NackedPackets {
    /// RTP sequence number → (times named, first named).
    named: HashMap<u16, (u32, Instant)>,
    /// The first packet of the last keyframe sent: the page needs none before it.
    keyframe_from: Option<u16>,
    /// A keyframe was written and its first packet is not sent yet.
    awaiting_keyframe: bool,
}

impl NackedPackets {
    /// A keyframe was written to the stream: its first packet sent from now on starts it.
    pub(super) fn keyframe_written(&mut self) {
        self.awaiting_keyframe = true;
    }

    /// Whether the next packet sent on the stream is to be told ([`Self::on_sent`]).
    pub(super) fn awaits_keyframe(&self) -> bool {
        self.awaiting_keyframe
    }

    /// A packet with sequence number `seq` went out on the stream.
    pub(super) fn on_sent(&mut self, seq: u16) {
        if std::mem::take(&mut self.awaiting_keyframe) {
            self.keyframe_from = Some(seq);
        }
    }

    /// One NACK at `now` naming `seqs`, on a path with round trip `rtt`: whether one of them
    /// (sent since the last keyframe) has now been named [`STUCK_AFTER`] times or more over
    /// [`STUCK_FOR`] and three round trips (the page is stuck on it).
    pub(super) fn on_nack(
        &mut self,
        now: Instant,
        rtt: Duration,
        seqs: impl IntoIterator<Item = u16>,
    ) -> bool {
        let stuck_for = STUCK_FOR.max(rtt.saturating_mul(3));
        self.named
            .retain(|_, (_, first)| now.saturating_duration_since(*first) <= REMEMBERED);
        let mut stuck = false;
        // A packet before the last keyframe is past (RFC 3550 sequence arithmetic).
        let from = self.keyframe_from;
        let current = |seq: u16| from.is_none_or(|k| seq.wrapping_sub(k) < 0x8000);
        // A hostile page's NACK names thousands: a bounded number of them is looked at.
        for seq in seqs
            .into_iter()
            .filter(|&s| current(s))
            .take(NAMED_PER_NACK)
        {
            let remembered = self.named.len() < REMEMBERED_PACKETS;
            match self.named.get_mut(&seq) {
                Some((n, first)) => {
                    *n += 1;
                    stuck |=
                        *n >= STUCK_AFTER && now.saturating_duration_since(*first) >= stuck_for;
                }
                None if remembered => {
                    self.named.insert(seq, (1, now));
                }
                None => {}
            }
        }
        stuck
    }
}

/// The sequence numbers a NACK's entry names: its packet id and, for each bit set in its
/// bitmask of following lost packets, pid + bit + 1 (RFC 4585 §6.2.1).
pub(super) fn named(pid: u16, blp: u16) -> impl Iterator<Item = u16> {
    std::iter::once(pid).chain(
        (0..16)
            .filter(move |b| blp & (1 << b) != 0)
            .map(move |b| pid.wrapping_add(b + 1)),
    )
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::{named, NackedPackets};

    const RTT: Duration = Duration::from_millis(5);

    #[test]
    fn an_entry_names_its_packet_and_the_bits_after_it() {
        assert_eq!(named(100, 0).collect::<Vec<_>>(), [100]);
        assert_eq!(named(100, 0b101).collect::<Vec<_>>(), [100, 101, 103]);
        assert_eq!(
            named(65535, 1 << 15).collect::<Vec<_>>(),
            [65535, 15],
            "sequence numbers wrap"
        );
    }

    /// A page that names one packet again and again is stuck at the fifth time once 150 ms
    /// (and three round trips) have passed since the first; packets named once each (a loss
    /// NACK and RTX repair) never make it stuck, nor do names a second apart.
    #[test]
    fn a_packet_named_again_and_again_is_a_stuck_page() {
        let t0 = Instant::now();
        let ms = |n: u64| t0 + Duration::from_millis(n);
        let mut p = NackedPackets::default();
        for i in 0..1000u16 {
            assert!(!p.on_nack(ms(u64::from(i)), RTT, [i, i.wrapping_add(1)]));
        }
        let mut p = NackedPackets::default();
        let stuck: Vec<bool> = (0..12)
            .map(|i| p.on_nack(ms(20 * i), RTT, [7, 9]))
            .collect();
        // The fifth name at 80 ms, 150 ms at the eighth.
        assert_eq!(stuck, (0..12).map(|i| i >= 8).collect::<Vec<_>>());
        // A long round trip waits three of them.
        let mut p = NackedPackets::default();
        let long = Duration::from_millis(100);
        let stuck: Vec<bool> = (0..20).map(|i| p.on_nack(ms(20 * i), long, [7])).collect();
        assert_eq!(stuck, (0..20).map(|i| i >= 15).collect::<Vec<_>>());
        let mut p = NackedPackets::default();
        assert!((0..6).all(|i| !p.on_nack(ms(1100 * i), RTT, [7])));
    }

    /// A page naming every sequence number in one NACK after another (garbage, or a hostile
    /// page) is looked at in bounded steps and remembered in bounded memory.
    #[test]
    fn a_flood_of_names_is_bounded() {
        let t0 = Instant::now();
        let mut p = NackedPackets::default();
        for i in 0..64u16 {
            let all = (0..=u16::MAX).map(move |s| s.wrapping_add(i * 1000));
            p.on_nack(t0 + Duration::from_millis(u64::from(i)), RTT, all);
            assert!(p.named.len() <= super::REMEMBERED_PACKETS);
        }
    }

    /// Packets sent before the last keyframe are past: named again and again (a page still
    /// asking for the frames before it), they are no stuck page; those after it are.
    #[test]
    fn packets_before_the_last_keyframe_are_past() {
        let t0 = Instant::now();
        let ms = |n: u64| t0 + Duration::from_millis(n);
        let mut p = NackedPackets::default();
        p.keyframe_written();
        assert!(p.awaits_keyframe());
        p.on_sent(65530);
        assert!(!p.awaits_keyframe());
        p.on_sent(65531);
        assert!((0..20).all(|i| !p.on_nack(ms(15 * i), RTT, [65000, 65529])));
        assert!(
            (0..20).any(|i| p.on_nack(ms(400 + 15 * i), RTT, [3])),
            "after the wrap"
        );
    }
}
