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

/// A bearer token given to a page (its rejoin token, its file-transfer token): 128 bits of the OS's randomness as
/// 32 lowercase hex digits.
pub fn random_token() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)?;
    Ok(format!("{:032x}", u128::from_le_bytes(bytes)))
}

/// Whether `t` has a token's shape ([`random_token`]): 32 hex digits.
pub fn is_token(t: &str) -> bool {
    t.len() == 32 && t.bytes().all(|b| b.is_ascii_hexdigit())
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
