//! What every signaling connection is checked against ([`SignalConfig`]).

/// What every connection is checked against; fixed for the life of the process.
#[derive(Debug, Clone, Default)]
pub struct SignalConfig {
    /// The owner's password (`--password`).
    pub password: Option<String>,
    /// The viewers' password (`--viewer-password`): it admits pages as viewers only.
    pub viewer_password: Option<String>,
    /// Whether a sound source is running.
    pub audio: bool,
    /// Whether the page should scale the picture with nearest-neighbour.
    pub pixelated: bool,
    /// Whether the source is a game that can save and load its state.
    pub game: bool,
    /// The STUN and TURN servers each page gets after `welcome` (`ice-servers`).
    pub ice: crate::proto::ice::IceServers,
    /// The video's highest rate, kbit/s (`--bitrate`): a page's Quality menu offers only caps
    /// under it (`welcome`'s `max_kbps`).
    pub max_kbps: u32,
}
