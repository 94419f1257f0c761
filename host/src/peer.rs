//! Peer identity and the messages the host sends a peer outside the media path.

use std::fmt;

use tokio::sync::mpsc;

use crate::proto::signaling::ServerMsg;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PeerId(pub u64);

impl fmt::Display for PeerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "peer{}", self.0)
    }
}

/// A message to one peer's signaling socket, from a part of the host other than signaling
/// (an input error, a game's player slot): any host → page signaling message.
pub type Notice = ServerMsg;

/// Capacity of a peer's notice queue. When full, the notice is dropped: notices are advisory,
/// and a peer that does not read its socket must not hold up the thread that noticed.
pub const NOTICE_QUEUE: usize = 32;

/// The sending half of a peer's notice queue; cheap to clone, never blocks.
#[derive(Debug, Clone)]
pub struct PeerNotifier(pub mpsc::Sender<Notice>);

impl PeerNotifier {
    pub fn channel() -> (Self, mpsc::Receiver<Notice>) {
        let (tx, rx) = mpsc::channel(NOTICE_QUEUE);
        (Self(tx), rx)
    }

    pub fn notify(&self, notice: Notice) {
        if self.0.try_send(notice).is_err() {
            tracing::debug!("notice dropped: peer queue full or gone");
        }
    }
}
