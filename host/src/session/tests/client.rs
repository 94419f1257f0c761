//! The browser stand-in of the virtual-time tests: a full-ICE str0m peer behind a link of
//! its own, which depacketizes the video it gets and asks for keyframes as a browser does.

use std::net::SocketAddr;
use std::time::Instant;

use str0m::channel::ChannelId;
use str0m::media::{KeyframeRequestKind, Mid};
use str0m::{Event, Output as RtcOutput, Rtc};
use str0m_netem::{Input as NetInput, Netem, NetemConfig};

use super::{Packet, Received, STEP};
use crate::peer::PeerId;

/// While a client waits for a keyframe it asks again this often (Chromium: 200 ms).
pub(super) const KEYFRAME_ASK_EVERY: std::time::Duration = std::time::Duration::from_millis(200);

/// A browser stand-in: a full-ICE str0m peer that offers to receive video and sound.
pub(crate) struct Client {
    pub id: PeerId,
    pub rtc: Rtc,
    pub(super) addr: SocketAddr,
    /// Packets on their way to this client.
    pub(super) inbox: Netem<Packet>,
    pub(super) timeout: Instant,
    pub video_mid: Option<Mid>,
    pub channels: Vec<(String, ChannelId)>,
    pub connected: bool,
    pub frames: Vec<Received>,
    /// A frame came after a gap: like a browser, ask for a keyframe and show nothing until it.
    pub(super) broken: bool,
    pub(super) wants_keyframe: bool,
    /// When it last asked for a keyframe: while broken it asks again every
    /// [`KEYFRAME_ASK_EVERY`], as Chromium's receive stream does (its `max_wait_for_keyframe`).
    pub(super) asked_at: Option<Instant>,
    /// Messages the host sent on each channel, by label.
    pub channel_data: Vec<(String, Vec<u8>)>,
    /// The link is cut: every packet to or from this client is lost.
    pub cut: bool,
}

impl Client {
    pub(super) fn new(
        id: PeerId,
        rtc: Rtc,
        addr: SocketAddr,
        link: NetemConfig,
        video_mid: Option<Mid>,
        now: Instant,
    ) -> Self {
        Self {
            id,
            rtc,
            addr,
            inbox: Netem::new(link),
            timeout: now,
            video_mid,
            channels: Vec::new(),
            connected: false,
            frames: Vec::new(),
            broken: false,
            wants_keyframe: false,
            asked_at: None,
            channel_data: Vec::new(),
            cut: false,
        }
    }

    pub(crate) fn channel(&self, label: &str) -> Option<ChannelId> {
        self.channels
            .iter()
            .find(|(l, _)| l == label)
            .map(|(_, id)| *id)
    }

    /// Writes on the channel `label`; whether it was taken.
    pub(crate) fn send(&mut self, label: &str, bytes: &[u8]) -> bool {
        let Some(id) = self.channel(label) else {
            return false;
        };
        self.rtc
            .channel(id)
            .and_then(|mut ch| ch.write(true, bytes).ok())
            .unwrap_or(false)
    }

    /// Asks the host for a keyframe (RTCP PLI).
    pub(crate) fn request_keyframe(&mut self) {
        if let Some(mid) = self.video_mid {
            if let Some(mut w) = self.rtc.writer(mid) {
                let _ = w.request_keyframe(None, KeyframeRequestKind::Pli);
            }
        }
    }

    pub(super) fn drain(&mut self, now: Instant, host_inbox: &mut Netem<Packet>) {
        loop {
            match self.rtc.poll_output() {
                Ok(RtcOutput::Timeout(t)) => {
                    self.timeout = t;
                    return;
                }
                Ok(RtcOutput::Transmit(_)) if self.cut => {}
                Ok(RtcOutput::Transmit(t)) => host_inbox.handle_input(NetInput::Packet(
                    now,
                    Packet {
                        source: t.source,
                        destination: t.destination,
                        contents: t.contents.to_vec(),
                    },
                )),
                Ok(RtcOutput::Event(e)) => self.handle_event(now, e),
                Err(_) => {
                    self.timeout = now + STEP;
                    return;
                }
            }
        }
    }

    pub(super) fn handle_event(&mut self, now: Instant, e: Event) {
        match e {
            Event::Connected => self.connected = true,
            Event::MediaData(d) => {
                let keyframe = is_h264_keyframe(&d.data);
                let first = self.frames.is_empty();
                if keyframe {
                    self.broken = false;
                } else if !d.contiguous && !first {
                    self.broken = true;
                    self.wants_keyframe = true;
                }
                self.frames.push(Received {
                    at: now,
                    keyframe,
                    contiguous: d.contiguous || first,
                    decodable: keyframe || !self.broken,
                });
            }
            Event::ChannelOpen(id, label) => {
                self.channels.retain(|(l, _)| *l != label);
                self.channels.push((label, id));
            }
            Event::ChannelData(d) => {
                let label = self
                    .channels
                    .iter()
                    .find(|(_, id)| *id == d.id)
                    .map_or_else(String::new, |(l, _)| l.clone());
                self.channel_data.push((label, d.data));
            }
            _ => {}
        }
    }
}

/// Whether an Annex B access unit holds an IDR slice (NAL type 5).
fn is_h264_keyframe(data: &[u8]) -> bool {
    data.windows(4)
        .any(|w| w[..3] == [0, 0, 1] && w[3] & 0x1f == 5)
}
