//! Signaling messages on the WebSocket `/ws`: one JSON text message each, tagged by `type`
//! (kebab case). Parsing is strict: unknown types and unknown fields are refused.

use serde::{Deserialize, Serialize};

/// A member's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    Owner,
    Viewer,
}

/// One member, as every page sees it (the `members` message; `crate::input::roles`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberView {
    pub peer: u64,
    pub name: String,
    pub role: Role,
    /// Holds a seat: its input is injected.
    pub control: bool,
    /// Asked for control and was not given it yet.
    pub asked: bool,
}

/// A member whose page left and whose place is kept for it to come back (the `held` list of
/// the `members` message and the API; `crate::input::roles::REJOIN_GRACE`): the peer id it
/// had, by which the API's `DELETE /api/members/{peer}` lets it go.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeldView {
    pub peer: u64,
    pub name: String,
    pub role: Role,
}

/// Which members a capability is shared with: file transfer (`--files-for`), the host's
/// clipboard (`--clipboard-for`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Who {
    /// Owners only.
    Owners,
    /// Owners and the member in control.
    #[default]
    Control,
    /// Every member, viewers too.
    Everyone,
}

impl Who {
    /// Whether member `m` has it now.
    pub fn allows(self, m: &MemberView) -> bool {
        match self {
            Self::Owners => m.role == Role::Owner,
            Self::Control => m.role == Role::Owner || m.control,
            Self::Everyone => true,
        }
    }

    /// The words the page and the errors use: `owners`, `control`, `everyone`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Owners => "owners",
            Self::Control => "control",
            Self::Everyone => "everyone",
        }
    }
}

/// The room as the API and the event stream show it (the `members` message's fields).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct RoomView {
    pub members: Vec<MemberView>,
    pub seats: u8,
    pub implicit: bool,
    /// The members whose page left less than `crate::input::roles::REJOIN_GRACE` ago as an
    /// owner or with a seat: their place is kept for them to come back.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub held: Vec<HeldView>,
}

/// Page → host.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(tag = "type", rename_all = "kebab-case", deny_unknown_fields)]
pub enum ClientMsg {
    /// The first message on a socket; carries the password when the host has one.
    Hello {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        password: Option<String>,
        /// The name the page shows to the others (1–32 characters; a default when absent).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        /// The device token this browser was given (`device`), if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        device: Option<String>,
        /// The page's place in line for a seat, from its last `full` error, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ticket: Option<u64>,
        /// The rejoin token this tab was given on its last socket (`rejoin`), if any: within
        /// `crate::input::roles::REJOIN_GRACE` of that socket closing, the page gets back its
        /// role and seat.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        rejoin: Option<String>,
    },
    /// An SDP offer (RFC 8829). A second one on the same socket renegotiates the page's
    /// connection (an ICE restart: same peer, role and control), or replaces the peer when it
    /// comes from another `RTCPeerConnection` (another DTLS fingerprint).
    Offer {
        sdp: String,
        /// The page's own measure of its link's downstream rate, kbit/s, from how its files
        /// came while it loaded (`web-client/src/loadrate.js`, W3C Resource Timing), at least
        /// 1 (0 is refused as `bad-message`); absent when the page has no measure. A new peer's
        /// rate starts at 0.8 of it when that is under the usual start
        /// ([`crate::session::start_kbps`]); a renegotiation ignores it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        link_kbps: Option<std::num::NonZeroU32>,
    },
    /// One of the page's ICE candidates, trickled after its offer (RFC 8838); `sdp_mid` is
    /// informational (one bundled transport).
    Candidate {
        candidate: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sdp_mid: Option<String>,
    },
    /// Games only: write the core's state to the save directory.
    SaveState,
    /// Games only: restore the last saved state.
    LoadState,
    /// The playing page's frame lead, ms (see `crate::phase`).
    FramePhase { lead_ms: f64 },
    /// The page's own cap on its video rate, kbit/s (its Quality choice: a data saver on a
    /// metered link), or null for the host's `--bitrate`; at least 150
    /// (`crate::session::MIN_VIDEO_KBPS`), never over `--bitrate`. Only after the offer.
    MaxBitrate {
        /// Required: null, not a missing field, asks for the host's rate.
        #[serde(deserialize_with = "Option::deserialize")]
        kbps: Option<u32>,
    },
    /// The XKB layout the page's keyboard looks like (`fr`, `de`, `us:intl`), guessed from the
    /// Keyboard API's layout map; Glint's own display follows the first page's.
    KeyboardLayout { layout: String },
    /// Ask for control (takes a free seat at once with implicit control, or as an owner).
    RequestControl,
    /// Give control to member `peer` (the member in control, or an owner).
    GiveControl { peer: u64 },
    /// Take control (owners; anyone with implicit control while a seat is free).
    TakeControl,
    /// Give up control.
    ReleaseControl,
    /// Owners: remove member `peer` from the session.
    Kick { peer: u64 },
    /// Owners: change member `peer`'s role.
    SetRole { peer: u64, role: Role },
    /// Change this page's name.
    SetName { name: String },
    /// "Look here": show the others a pointer at this host pixel (rate-limited with the other
    /// room requests).
    Point { x: u16, y: u16 },
}

/// Host → page.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(tag = "type", rename_all = "kebab-case", deny_unknown_fields)]
pub enum ServerMsg {
    /// `peer`: this page's peer id (as in `/api/stats`). `audio`: the host has sound to send.
    /// `pixelated`: scale the picture with nearest-neighbour (an emulator's few big pixels).
    /// `game`: the source is a game that can save and load its state. `ice_servers`: an
    /// `ice-servers` message follows. `max_kbps`: the video's highest rate (`--bitrate`),
    /// kbit/s; a `max-bitrate` at or over it changes nothing.
    Welcome {
        peer: u64,
        audio: bool,
        pixelated: bool,
        game: bool,
        ice_servers: bool,
        max_kbps: u32,
    },
    /// The answer to an offer: the first one, or one that renegotiates the same connection (an
    /// ICE restart, RFC 8445 §9: the page's peer, role and control stay).
    Answer {
        sdp: String,
    },
    /// Sent after `welcome` to a page let in with the owner's password: a token for this
    /// browser (32 hex digits) to give back in its later `hello`s. Its password checks then
    /// count apart from its address's, so guesses by others at that address never make it wait
    /// (`crate::signal::throttle`). Good until glint stops.
    Device {
        token: String,
    },
    /// Sent after `welcome`: this page's rejoin token (32 hex digits), for its tab to give
    /// back in the `hello` of its next socket (a reload, a lost socket), which then gets back
    /// its role and seat (`crate::input::roles::Joining`). Good for one socket's life plus
    /// `crate::input::roles::REJOIN_GRACE`.
    Rejoin {
        token: String,
    },
    /// The STUN and TURN servers for the page's `RTCPeerConnection` (its `iceServers`), sent
    /// after `welcome` when the host has any (`--ice-server`). TURN credentials minted from
    /// `--turn-secret` are this page's own and good for `--turn-ttl`.
    IceServers {
        servers: Vec<super::ice::IceServer>,
    },
    Error {
        code: ErrorCode,
        message: String,
        /// With `too-many-attempts`: whole seconds to wait before the next try.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_after_s: Option<u64>,
        /// With `full`: the page's place in line (an opaque number under 2^53), to give back
        /// in its next `hello` (a freed seat goes to the page waiting longest:
        /// `signal::throttle::Seats`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ticket: Option<u64>,
    },
    Info {
        message: String,
    },
    /// A game's player number for this page (1–4), or null: all players are taken, watch.
    Player {
        player: Option<u8>,
    },
    /// The session is over for this page: say why and do not reconnect. `why` (left out when
    /// `ended`) tells the page whether the session itself is over (`ended`: the display was
    /// lost, the game's core crashed) or goes on without it (`removed` by an owner;
    /// `replaced`: the same page joined again on a new connection, in another tab or window).
    Ended {
        message: String,
        #[serde(default, skip_serializing_if = "EndedWhy::is_ended")]
        why: EndedWhy,
    },
    /// The host is shutting down on purpose (SIGTERM): the page may reconnect later.
    Draining {
        message: String,
    },
    /// Where member `peer` points, in host pixels: the controller's pointer as it moves (at
    /// most 20 a second), or a member's "look here" (`look`). Sent to every other member.
    Pointer {
        peer: u64,
        x: u16,
        y: u16,
        look: bool,
    },
    /// Every member of the session, in the order they joined, sent to all of them at each
    /// change. `seats`: how many may drive at once (1 on a desktop, the players on a game).
    /// `implicit`: whoever acts first while a seat is free takes it. `held`: the members
    /// whose page left less than `crate::input::roles::REJOIN_GRACE` ago as an owner or with a
    /// seat, whose place is kept for them (absent when none; [`HeldView`]).
    Members {
        members: Vec<MemberView>,
        seats: u8,
        implicit: bool,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        held: Vec<HeldView>,
    },
    /// The host screen's size in pixels, sent before the first frame a page gets and again
    /// when it changes. The picture may be smaller (a lower rung of the resolution ladder on a
    /// narrow link): the page maps its pointer to `width`×`height`, not to the video's size.
    Screen {
        width: u32,
        height: u32,
    },
    /// File transfer is on (sent after `welcome`): `token` is this page's bearer token for
    /// `/api/files` (valid until its socket closes); `upload`, `download`: which ways are on;
    /// `max_bytes`: the largest upload; `block`: bytes per block; `who`: which members may
    /// (`owners`, `control`: owners and the member in control, `everyone`).
    Files {
        token: String,
        upload: bool,
        download: bool,
        max_bytes: u64,
        block: u64,
        who: String,
    },
}

/// Every `code` of an `error` message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorCode {
    /// Wrong or missing password. The socket closes (4001).
    Unauthorized,
    /// A message the host cannot parse or take now (one before `hello`, one too big: the
    /// socket then closes with 1009).
    BadMessage,
    /// The host cannot take the request now; try again.
    Busy,
    /// The offer cannot be answered (no common codec, invalid SDP).
    OfferRejected,
    /// A game command to a host that runs no game.
    NotAGame,
    /// Saving or loading a game's state failed.
    State,
    /// Data sent on a data channel that carries data to the page only.
    BadChannel,
    /// Text on the `text` channel that is not UTF-8.
    BadText,
    /// A malformed input packet.
    BadInput,
    /// Too many password checks from this address: wait `retry_after_s`, then try again.
    TooManyAttempts,
    /// The session has as many pages as `--max-peers`.
    Full,
    /// This address has too many signaling sockets open.
    TooManySockets,
    /// No `hello` within the time allowed; the socket closes.
    HelloTimeout,
    /// Let in, but no picture within the time allowed (no offer, a refused one, or no
    /// connection); the socket closes and its seat frees.
    ConnectTimeout,
    /// Input from a member without control, dropped: ask for control first.
    NotInControl,
    /// A room request this member's role does not allow, or that cannot be done now.
    Forbidden,
    /// A room request naming a member that is not in the session (the control API's 404
    /// `no-such-member`).
    NoSuchMember,
}

impl ErrorCode {
    pub const ALL: [ErrorCode; 17] = [
        ErrorCode::Unauthorized,
        ErrorCode::BadMessage,
        ErrorCode::Busy,
        ErrorCode::OfferRejected,
        ErrorCode::NotAGame,
        ErrorCode::State,
        ErrorCode::BadChannel,
        ErrorCode::BadText,
        ErrorCode::BadInput,
        ErrorCode::TooManyAttempts,
        ErrorCode::Full,
        ErrorCode::TooManySockets,
        ErrorCode::HelloTimeout,
        ErrorCode::ConnectTimeout,
        ErrorCode::NotInControl,
        ErrorCode::Forbidden,
        ErrorCode::NoSuchMember,
    ];
}

impl ServerMsg {
    /// An `error` message without a wait.
    pub fn error(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::Error {
            code,
            message: message.into(),
            retry_after_s: None,
            ticket: None,
        }
    }
}

impl ClientMsg {
    /// Parses one text message; the error says why, for the page.
    /// A message from its JSON text, or why it is not one, in words for the page (serde's
    /// own names for what it expected are put in JSON's terms).
    pub fn parse(text: &str) -> Result<Self, String> {
        serde_json::from_str(text).map_err(|e| {
            let mut said = e.to_string();
            for (serde, words) in [
                (
                    "internally tagged enum ClientMsg",
                    "a JSON object with a \"type\"",
                ),
                ("variant identifier", "the name of a message type"),
                ("u8", "a whole number from 0 to 255"),
                ("u16", "a whole number from 0 to 65535"),
                ("u64", "a whole number from 0"),
                ("f64", "a number"),
            ] {
                said = said.replace(&format!("expected {serde}"), &format!("expected {words}"));
            }
            said
        })
    }
}

impl ServerMsg {
    pub fn to_json(&self) -> String {
        // Plain enums of strings and numbers: serialising cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// Why an `ended` message ended the page's part in the session (see [`ServerMsg::Ended`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EndedWhy {
    /// The session is over for everyone.
    #[default]
    Ended,
    /// An owner removed this page; the session goes on.
    Removed,
    /// This page joined again on a new connection; the session goes on there.
    Replaced,
}

impl EndedWhy {
    fn is_ended(&self) -> bool {
        *self == EndedWhy::Ended
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::golden;

    #[test]
    fn golden_client_messages_parse_and_malformed_ones_are_refused() {
        let g = golden("signaling-v1.json");
        for c in g["client"].as_array().expect("client") {
            let text = c["json"].to_string();
            let msg = ClientMsg::parse(&text).unwrap_or_else(|e| panic!("{}: {e}", c["name"]));
            let back = serde_json::to_value(&msg).expect("serialises");
            assert_eq!(back, c["json"], "{}", c["name"]);
        }
        for bad in g["client_malformed"].as_array().expect("malformed") {
            let text = bad.as_str().expect("a string");
            assert!(ClientMsg::parse(text).is_err(), "{text} accepted");
        }
        // Told in JSON's terms, not Rust's.
        let told = |text: &str| ClientMsg::parse(text).err().unwrap_or_default();
        let number = told("42");
        assert!(
            number.contains("expected a JSON object with a \"type\""),
            "{number}"
        );
        let list = told("[1]");
        assert!(
            list.contains("expected the name of a message type"),
            "{list}"
        );
        let point = told(r#"{"type":"point","x":"a","y":1}"#);
        assert!(
            point.contains("expected a whole number from 0 to 65535"),
            "{point}"
        );
        assert!(!point.contains("u16"), "{point}");
    }

    #[test]
    fn golden_server_messages_are_what_the_host_writes() {
        let g = golden("signaling-v1.json");
        for s in g["server"].as_array().expect("server") {
            let msg: ServerMsg = serde_json::from_value(s["json"].clone())
                .unwrap_or_else(|e| panic!("{}: {e}", s["name"]));
            let written: serde_json::Value =
                serde_json::from_str(&msg.to_json()).expect("host JSON");
            assert_eq!(written, s["json"], "{}", s["name"]);
        }
        let codes: Vec<serde_json::Value> = ErrorCode::ALL
            .iter()
            .map(|c| serde_json::to_value(c).expect("code"))
            .collect();
        assert_eq!(&codes, g["error_codes"].as_array().expect("codes"));
    }
}
