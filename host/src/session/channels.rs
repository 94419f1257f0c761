//! Which data channel carries what, and what a page may send on it.
//!
//! Page → host: `input` (unordered, no retransmits: the input protocol, `proto::input`) and
//! `text` (reliable, ordered: UTF-8 text typed on the host). Both ways: `clipboard` (reliable,
//! ordered: one UTF-8 text per message, at most `crate::proto::MAX_CLIPBOARD` bytes, the
//! clipboard's new content). `control` carries the frame echo (`proto::echo`) to the page, and
//! from it only [`KEYFRAME_REQUEST`]: its decoder is stuck (frames arrive, none decodes), so
//! it asks for a keyframe sooner than Chromium's own request (3 s), as a Moonlight client asks
//! for an IDR frame. Host → page only: `audio` (Opus packets, `proto::audio`). Other data a
//! page sends on a host-to-page channel, or on a channel the host does not know, is counted
//! every time and the page is told once, so a flood cannot fill its notice queue.

use std::collections::VecDeque;
use std::time::Instant;

use str0m::channel::ChannelId;
use str0m::Rtc;

use super::{Output, SessionCounters};
use crate::input::InputMsg;
use crate::peer::{Notice, PeerId};
use crate::proto::signaling::ErrorCode;

/// Page → host input packets.
pub const INPUT_CHANNEL: &str = "input";
/// Page → host text to type.
pub const TEXT_CHANNEL: &str = "text";
/// Both ways: clipboard text.
pub const CLIPBOARD_CHANNEL: &str = "clipboard";
/// Host → page, the frame echo on the frames that follow new input (`fanout::ECHO_FRAMES`).
pub const CONTROL_CHANNEL: &str = "control";
/// The one message a page sends on `control`: a keyframe, please (ASCII text, exactly).
pub(crate) const KEYFRAME_REQUEST: &[u8] = b"keyframe";
/// Host → page: the page asks for its sound as Opus packets it plays itself.
pub const AUDIO_CHANNEL: &str = "audio";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ChannelKind {
    Input,
    Text,
    Clipboard,
    Control,
    Audio,
}

impl ChannelKind {
    fn from_label(label: &str) -> Option<Self> {
        match label {
            INPUT_CHANNEL => Some(Self::Input),
            TEXT_CHANNEL => Some(Self::Text),
            CLIPBOARD_CHANNEL => Some(Self::Clipboard),
            CONTROL_CHANNEL => Some(Self::Control),
            AUDIO_CHANNEL => Some(Self::Audio),
            _ => None,
        }
    }
}

/// A peer's open channels.
#[derive(Debug, Default)]
pub(super) struct Channels {
    opened: Vec<(ChannelId, ChannelKind)>,
    /// Whether this peer was told it sent data where none is taken.
    told_bad_channel: bool,
    /// The host's clipboard text that came before the page's `clipboard` channel opened: it
    /// goes when the channel opens (only the newest is kept).
    clipboard_waiting: Option<Vec<u8>>,
}

/// Where a message from a page goes.
#[derive(Debug)]
pub(super) enum Routed {
    Input(InputMsg),
    /// The page asks for a keyframe ([`KEYFRAME_REQUEST`]).
    Keyframe,
    /// Refused: counted; the page is told when `notice` is set.
    Refused(Option<Notice>),
}

impl Channels {
    /// A channel the page opened; its kind, when the host knows the label.
    pub(super) fn open(&mut self, id: ChannelId, label: &str) -> Option<ChannelKind> {
        let kind = ChannelKind::from_label(label);
        match kind {
            Some(k) => {
                self.opened.retain(|(_, old)| *old != k);
                self.opened.push((id, k));
            }
            None => tracing::debug!(label, "ignoring data channel"),
        }
        kind
    }

    /// Sends the host's clipboard `text` on the `clipboard` channel, or keeps it until that
    /// channel opens ([`Channels::flush_clipboard`]).
    pub(super) fn send_clipboard(
        &mut self,
        rtc: &mut Rtc,
        text: &[u8],
        counters: &SessionCounters,
    ) {
        match self.id(ChannelKind::Clipboard) {
            Some(ch) => {
                write(rtc, ch, text, counters);
            }
            None => self.clipboard_waiting = Some(text.to_vec()),
        }
    }

    /// Sends the clipboard text kept by [`Channels::send_clipboard`], once the channel is open.
    pub(super) fn flush_clipboard(&mut self, rtc: &mut Rtc, counters: &SessionCounters) {
        if let (Some(ch), Some(text)) = (
            self.id(ChannelKind::Clipboard),
            self.clipboard_waiting.take(),
        ) {
            write(rtc, ch, &text, counters);
        }
    }

    /// The channel of `kind`, when open.
    pub(super) fn id(&self, kind: ChannelKind) -> Option<ChannelId> {
        self.opened
            .iter()
            .find(|(_, k)| *k == kind)
            .map(|(id, _)| *id)
    }

    /// Routes one message the page sent on channel `id`.
    pub(super) fn route(
        &mut self,
        peer: PeerId,
        at: Instant,
        id: ChannelId,
        data: Vec<u8>,
    ) -> Routed {
        let kind = self.opened.iter().find(|(c, _)| *c == id).map(|(_, k)| *k);
        match kind {
            Some(ChannelKind::Input) => Routed::Input(InputMsg::Data {
                peer,
                at,
                bytes: data,
            }),
            Some(ChannelKind::Text) => match String::from_utf8(data) {
                Ok(text) => Routed::Input(InputMsg::Text { peer, text }),
                Err(_) => Routed::Refused(Some(Notice::error(
                    ErrorCode::BadText,
                    "text channel data is not UTF-8",
                ))),
            },
            Some(ChannelKind::Clipboard) => {
                let max = crate::proto::MAX_CLIPBOARD;
                if data.len() > max {
                    return Routed::Refused(Some(Notice::error(
                        ErrorCode::BadText,
                        format!("clipboard text over {max} bytes is not shared"),
                    )));
                }
                match String::from_utf8(data) {
                    Ok(text) => Routed::Input(InputMsg::Clipboard { peer, text }),
                    Err(_) => Routed::Refused(Some(Notice::error(
                        ErrorCode::BadText,
                        "clipboard data is not UTF-8",
                    ))),
                }
            }
            Some(ChannelKind::Control) if data == KEYFRAME_REQUEST => Routed::Keyframe,
            Some(ChannelKind::Control | ChannelKind::Audio) | None => {
                let first = !std::mem::replace(&mut self.told_bad_channel, true);
                Routed::Refused(first.then(|| {
                    Notice::error(
                        ErrorCode::BadChannel,
                        "data sent on a channel that only carries data to the page \
                              (audio; control but a keyframe request) or that the host does \
                              not know; ignored",
                    )
                }))
            }
        }
    }
}

/// Hands a routed message on: input to the input thread, refusals counted and told
/// (keyframe requests are the peer's own).
pub(super) fn deliver(
    peer: PeerId,
    routed: Routed,
    counters: &SessionCounters,
    out: &mut VecDeque<Output>,
) {
    match routed {
        Routed::Input(m) => out.push_back(Output::Input(m)),
        Routed::Keyframe => {}
        Routed::Refused(notice) => {
            counters.channel_bad_data.inc();
            if let Some(n) = notice {
                tracing::warn!(%peer, "data on a channel that carries none from the page");
                out.push_back(Output::Notice(peer, n));
            }
        }
    }
}

/// What became of a message written to a page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Written {
    Sent,
    /// The channel's send buffer is full (a slow or stalled page): dropped.
    Full,
    /// The channel is gone.
    Closed,
}

/// Writes `bytes` (binary) on channel `id`; a full buffer is counted, never taken as sent.
pub(super) fn write(
    rtc: &mut Rtc,
    id: ChannelId,
    bytes: &[u8],
    counters: &SessionCounters,
) -> Written {
    let Some(mut ch) = rtc.channel(id) else {
        return Written::Closed;
    };
    match ch.write(true, bytes) {
        Ok(true) => Written::Sent,
        Ok(false) => {
            counters.channel_full.inc();
            Written::Full
        }
        Err(e) => {
            tracing::debug!(error = %e, "data channel write failed");
            Written::Closed
        }
    }
}
