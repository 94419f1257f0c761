//! Command line, parsed once into a typed [`Config`] and passed down from `main`.

use std::net::{IpAddr, SocketAddr};

use clap::{Parser, ValueEnum};

use crate::proto::signaling::Role;

mod addresses;
mod values;
use addresses::{parse_listen, parse_origin, parse_public_ip};
use values::in_range;

/// Which codec to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CodecChoice {
    /// H.264 when the browser offers a profile Glint sends (constrained baseline), else VP8.
    Auto,
    H264,
    Vp8,
}

/// Whether the page and signaling are served over HTTPS/WSS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TlsMode {
    /// HTTPS when listening beyond loopback or when --tls-cert is given, plain HTTP on
    /// loopback (a secure context there anyway).
    Auto,
    /// HTTPS everywhere, with --tls-cert or Glint's kept self-signed certificate.
    On,
    /// Plain HTTP even beyond loopback: only behind a reverse proxy that terminates TLS.
    Off,
}

/// Where frames come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Source {
    /// An X11 display: Glint's own Xvfb, or the one given with --display.
    X11,
    /// A synthetic moving scene with its frame number and capture time drawn as a block code;
    /// a large region flips black/white on every key press or click. Needs no X server.
    Testpattern,
    /// A libretro core running a game (chosen with --core and --rom, not with --source).
    #[value(skip)]
    Emulator,
}

/// A thread to fail on purpose, and when (see `--test-fault`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TestFault {
    pub thread: FaultThread,
    pub after: std::time::Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultThread {
    Encode,
    Input,
}

fn parse_fault(s: &str) -> Result<TestFault, String> {
    let (thread, ms) = s.split_once(':').ok_or("expected THREAD:MS")?;
    let thread = match thread {
        "encode" => FaultThread::Encode,
        "input" => FaultThread::Input,
        other => {
            return Err(format!(
                "no fault switch for thread {other:?} (encode, input)"
            ))
        }
    };
    let ms: u64 = ms.parse().map_err(|e| format!("{ms:?}: {e}"))?;
    Ok(TestFault {
        thread,
        after: std::time::Duration::from_millis(ms),
    })
}

/// Stream a desktop or an app to the browser over WebRTC, with keyboard and mouse back.
#[derive(Debug, Clone, Parser)]
#[command(name = "glint", version, about, long_about = None)]
pub struct Config {
    /// Frame source: `x11` (a display) or `testpattern` (synthetic, for benches and tests).
    #[arg(long, value_enum, default_value_t = Source::X11)]
    pub source: Source,

    /// Play a game: a libretro core, by name (`nestopia` for Debian's libretro-nestopia) or as
    /// a path to its `.so`. Needs --rom.
    #[arg(long, value_name = "CORE", requires = "rom", conflicts_with_all = ["display", "app"])]
    pub core: Option<String>,

    /// The game for --core.
    #[arg(long, value_name = "FILE", requires = "core")]
    pub rom: Option<std::path::PathBuf>,

    /// Where games' saved states go (`<rom name>.<core>.state`). Default:
    /// `$XDG_DATA_HOME/glint/saves`, else `~/.local/share/glint/saves`.
    #[arg(long, value_name = "DIR")]
    pub save_dir: Option<std::path::PathBuf>,

    /// Capture this existing X display (e.g. `:0`). Without it Glint starts its own Xvfb.
    #[arg(long, value_name = "DISPLAY")]
    pub display: Option<String>,

    /// Size of the virtual display Glint starts when no --display is given (even, 16 to 8192
    /// each way), or of the test pattern (at least 640x360). An existing --display keeps its
    /// own size: the two together are refused.
    #[arg(long, default_value = "1280x720", value_parser = parse_size, value_name = "WxH", conflicts_with = "display")]
    pub size: (u16, u16),

    /// Keyboard layout of the virtual display, as XKB names it: `fr`, `de`, `us:intl`
    /// (layout:variant). Keys travel as physical positions, so the host's layout decides the
    /// characters: set it to the players' layout (default: the first page's, as its browser
    /// tells it; `us` until then). Not with --display, whose layout is its owner's.
    #[arg(long, env = "GLINT_KEYBOARD_LAYOUT", value_name = "LAYOUT[:VARIANT]", value_parser = parse_layout, conflicts_with = "display")]
    pub keyboard_layout: Option<KeyboardLayout>,

    /// Command to launch inside the virtual display (run through `sh -c`), stopped on exit.
    #[arg(long, value_name = "CMD")]
    pub app: Option<String>,

    /// Development only: serve the web client from this `web-client/` directory on disk
    /// instead of the copy embedded in the binary (edit the page without a rebuild).
    #[arg(long, env = "GLINT_WEB_DIR", value_name = "DIR")]
    pub web_dir: Option<std::path::PathBuf>,

    /// Test only: make a hot-path thread panic this many milliseconds after start, to check
    /// that glint then exits non-zero and says why (`encode:1500`, `input:1500`).
    #[arg(long, env = "GLINT_TEST_FAULT", value_name = "THREAD:MS", hide = true, value_parser = parse_fault)]
    pub test_fault: Option<TestFault>,

    /// Address for the web client and signaling (HTTP + WebSocket), IP:PORT. Loopback (the
    /// default) serves this machine only; `0.0.0.0:PORT` serves IPv4 networks and
    /// `[::]:PORT` both IPv4 and IPv6 (media then goes over IPv6 too); one address of the host
    /// serves that address only. Beyond loopback a password and HTTPS are on.
    #[arg(long, default_value = "127.0.0.1:8080", value_name = "IP:PORT", value_parser = parse_listen)]
    pub listen: SocketAddr,

    /// Capture and encode rate, frames per second (1-240).
    #[arg(long, allow_negative_numbers = true, default_value_t = 60, value_parser = |s: &str| in_range(s, 1u32, Some(240), "frames a second"))]
    pub fps: u32,

    /// Video codec: `auto` picks H.264 if the browser can take it, else VP8.
    #[arg(long, value_enum, default_value_t = CodecChoice::Auto)]
    pub codec: CodecChoice,

    /// The highest video bitrate in kbit/s (100-100000): each viewer's encode follows its
    /// link's bandwidth estimate below it (never under 150, or under this when lower).
    #[arg(long, allow_negative_numbers = true, default_value_t = 8000, value_parser = |s: &str| in_range(s, 100u32, Some(100_000), "kbit/s"))]
    pub bitrate: u32,

    /// Keep the screen's full size on a narrow link: no resolution ladder (by default the
    /// picture is coded at 3/4, 1/2 or 1/3 of each side when the rate cannot carry it).
    #[arg(long)]
    pub no_ladder: bool,

    /// The one UDP port all peers share for WebRTC media (0 picks a free one).
    #[arg(long, allow_negative_numbers = true, default_value_t = 0, value_name = "PORT", value_parser = |s: &str| in_range(s, 0u16, Some(u16::MAX), ""))]
    pub udp_port: u16,

    /// The host's public address (behind a NAT that forwards `--udp-port` to it): announced,
    /// with the same port, as a server-reflexive ICE candidate (RFC 8445 §5.1.1.2) beside each
    /// non-loopback host candidate. An address a browser elsewhere can send to (not loopback,
    /// link-local, multicast, broadcast or unspecified), of the family `--listen` serves media
    /// on; give a fixed --udp-port with it.
    #[arg(long, value_name = "IP", value_parser = parse_public_ip)]
    pub public_ip: Option<IpAddr>,

    /// A STUN or TURN server for the pages' peer connections (repeatable): `stun:HOST[:PORT]`,
    /// `turn:HOST[:PORT][?transport=udp|tcp]`, `stuns:`/`turns:` over TLS (RFC 7064, RFC 7065).
    /// TURN servers need --ice-username and --ice-credential, or --turn-secret.
    #[arg(long = "ice-server", value_name = "URL")]
    pub ice_servers: Vec<crate::proto::ice::IceUrl>,

    /// The username every page gives the TURN servers (coturn `--user=NAME:PASS`).
    #[arg(long, env = "GLINT_ICE_USERNAME", requires = "ice_credential")]
    pub ice_username: Option<String>,

    /// The password every page gives the TURN servers, with --ice-username.
    #[arg(
        long,
        env = "GLINT_ICE_CREDENTIAL",
        hide_env_values = true,
        requires = "ice_username"
    )]
    pub ice_credential: Option<String>,

    /// A secret shared with the TURN servers (coturn `--use-auth-secret
    /// --static-auth-secret=SECRET`): each page gets its own credentials, good for --turn-ttl
    /// (coturn's REST scheme, draft-uberti-behave-turn-rest-00).
    #[arg(long, env = "GLINT_TURN_SECRET", hide_env_values = true, conflicts_with_all = ["ice_username", "ice_credential"])]
    pub turn_secret: Option<String>,

    /// How long credentials minted with --turn-secret stay good, seconds (60 to 2592000, 30
    /// days; 86400, a day, when not given). Needs --turn-secret (fixed credentials do not
    /// expire).
    // No clap default and no clap `requires`: clap lets the flag through beside the fixed
    // pair, so `check_secrets` says it, the same way whatever else is given.
    #[arg(long, allow_negative_numbers = true, value_name = "SECONDS", value_parser = |s: &str| in_range(s, 60u64, Some(crate::proto::ice::MAX_TURN_TTL.as_secs()), "seconds"))]
    pub turn_ttl: Option<u64>,

    /// Audio capture device: a PulseAudio source name (`pactl list short sources`). Default:
    /// the monitor of the default sink, i.e. whatever the host plays. With the virtual display
    /// Glint starts a private PulseAudio server with a null sink (`glint`) for the app to play
    /// into, and the device is looked up there.
    #[arg(long, value_name = "DEVICE", conflicts_with = "no_audio")]
    pub audio: Option<String>,

    /// No sound.
    #[arg(long)]
    pub no_audio: bool,

    /// Lip sync: the browser delays the picture to match the sound (which arrives later). Off
    /// by default: the picture comes as early as possible and the sound trails it.
    #[arg(long)]
    pub av_sync: bool,

    /// Opus bitrate in kbit/s (16-510).
    #[arg(long, allow_negative_numbers = true, default_value_t = 128, value_parser = |s: &str| in_range(s, 16u32, Some(510), "kbit/s"))]
    pub audio_bitrate: u32,

    /// HTTPS and WSS: `auto` (on beyond loopback), `on`, or `off` (only behind a reverse proxy
    /// that terminates TLS).
    #[arg(long, value_enum, default_value_t = TlsMode::Auto, value_name = "MODE")]
    pub tls: TlsMode,

    /// The TLS certificate chain (PEM). Re-read when the file changes or on SIGHUP. Without it
    /// Glint makes a self-signed certificate once and keeps it in its config directory.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<std::path::PathBuf>,

    /// The private key for --tls-cert (PEM: PKCS#8, PKCS#1 or SEC1).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<std::path::PathBuf>,

    /// Another origin whose pages may use signaling and the API (`https://desk.example.com`,
    /// a reverse proxy's public address: scheme, host and a port that is not the default).
    /// Repeatable.
    #[arg(long, value_name = "ORIGIN", value_parser = parse_origin)]
    pub allowed_origin: Vec<String>,

    /// Another host name taken in the `Host` header on a loopback listen (besides `localhost`,
    /// `127.0.0.1` and `[::1]`, the only ones taken there against DNS rebinding). Repeatable.
    #[arg(long, value_name = "NAME", value_parser = parse_host_name)]
    pub allowed_host: Vec<String>,

    /// Most pages connected at once; more get a `full` error.
    #[arg(long, allow_negative_numbers = true, default_value_t = 32, value_parser = |s: &str| in_range(s, 1u32, Some(1000), "pages"))]
    pub max_peers: u32,

    /// Password the page must give before any signaling. Required (or generated and printed)
    /// when listening on anything but loopback, or behind a reverse proxy (with
    /// --allowed-origin or --allowed-host).
    #[arg(long, env = "GLINT_PASSWORD", hide_env_values = true)]
    pub password: Option<String>,

    /// Do not share the host's clipboard with pages (it is shared with the member in control
    /// and the owners, and the controller's copies become the host's).
    #[arg(long)]
    pub no_clipboard: bool,

    /// Who shares the host's clipboard: `control` (owners and the member in control get the
    /// host's text; the controller's copies become the host's), `owners` (owners only, both
    /// ways) or `everyone` (viewers get the host's text too).
    #[arg(long, value_enum, default_value_t = crate::proto::signaling::Who::Control, value_name = "WHO", conflicts_with = "no_clipboard")]
    pub clipboard_for: crate::proto::signaling::Who,

    /// Bearer token of the HTTP API (`/api/...`, `/metrics`), besides the owner's password: for
    /// a program that should not hold the password pages use.
    #[arg(long, env = "GLINT_API_TOKEN", hide_env_values = true)]
    pub api_token: Option<String>,

    /// Password that admits pages as viewers only: they watch, and drive once an owner or the
    /// controller gives them control. Needs --password (the owner's).
    #[arg(long, env = "GLINT_VIEWER_PASSWORD", hide_env_values = true)]
    pub viewer_password: Option<String>,

    /// With no password (a loopback listen): the role of pages that join while an owner is
    /// there. The first page is the owner.
    #[arg(long, value_enum, default_value_t = Role::Viewer, conflicts_with = "password")]
    pub guests: Role,

    /// Do not show members the controller's pointer or each other's "look here".
    #[arg(long)]
    pub no_pointers: bool,

    /// Turn the room's HTTP API off for programs (`/api/members`, `/api/control`,
    /// `/api/game/*`, `/api/events`, and `/api/files` with the password or the API token);
    /// pages are not affected.
    #[arg(long, conflicts_with = "api_token")]
    pub no_api: bool,

    /// Take files pages upload into this directory (made when missing); uploads are off
    /// without it. Names are cleaned, nothing lands outside it, and no file is replaced.
    #[arg(long, value_name = "DIR")]
    pub upload_dir: Option<std::path::PathBuf>,

    /// Offer the regular files in this directory for pages to download; off without it.
    #[arg(long, value_name = "DIR")]
    pub download_dir: Option<std::path::PathBuf>,

    /// Largest upload, MiB.
    #[arg(long, allow_negative_numbers = true, default_value_t = 4096, value_name = "MIB", value_parser = |s: &str| in_range(s, 1u64, Some(1_048_576), "MiB"))]
    pub upload_max_mib: u64,

    /// Which members may upload and download: `owners`, `control` (owners and the member in
    /// control) or `everyone`. Programs with the owner's password or the API token always may.
    #[arg(long, value_enum, default_value_t = crate::files::FilesFor::Control, value_name = "WHO")]
    pub files_for: crate::files::FilesFor,

    /// Whoever acts first while nobody has control takes it, without asking. Default: off on
    /// a desktop; on for a game, where each page that plays takes a free player.
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    pub implicit_control: Option<bool>,
}

impl Config {
    /// This process's command line. Help and `--version` print and exit 0, as clap does; a
    /// usage error prints as `glint: …` like glint's other start-up errors and exits 2.
    pub fn from_command_line() -> Config {
        Config::try_parse().unwrap_or_else(|e| {
            if !e.use_stderr() {
                e.exit();
            }
            eprint!("{}", values::usage_error(&e.render().to_string()));
            std::process::exit(e.exit_code());
        })
    }

    /// What follows a start-up error of the flags that glint's own checks find
    /// ([`Config::check`]): clap's usage line ("Usage: glint [OPTIONS]") and the hint to
    /// `--help`, as clap adds them to a flag missing its partner.
    pub fn usage_hint() -> String {
        use clap::CommandFactory;
        let usage = Config::command().render_usage();
        format!("\n{usage}\n\nFor more information, try '--help'.")
    }

    /// File transfer as the flags set it.
    pub fn files(&self) -> crate::files::FilesConfig {
        crate::files::FilesConfig {
            upload_dir: self.upload_dir.clone(),
            download_dir: self.download_dir.clone(),
            max_upload: self.upload_max_mib.saturating_mul(1024 * 1024),
            who: self.files_for,
        }
    }
}

pub(crate) fn parse_host_name(s: &str) -> Result<String, String> {
    let ok = !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
    if !ok {
        return Err(format!(
            "`{s}` is not a host name (letters, digits, dots and dashes; no port, no scheme)"
        ));
    }
    // Labels as DNS has them (no `..`, no leading `-`, 63 at most): the name goes into the
    // kept certificate too.
    match crate::proto::ice::host_problem(s) {
        Some(why) => Err(format!("`{s}` {why}")),
        None => Ok(s.to_ascii_lowercase()),
    }
}

/// An XKB layout and its variant (`setxkbmap -layout L -variant V`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyboardLayout {
    pub layout: String,
    pub variant: Option<String>,
}

impl std::fmt::Display for KeyboardLayout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.variant {
            Some(v) => write!(f, "{}:{v}", self.layout),
            None => f.write_str(&self.layout),
        }
    }
}

/// An XKB `layout[:variant]`, checked to be names only (they go to `setxkbmap` as arguments).
pub fn parse_layout(s: &str) -> Result<KeyboardLayout, String> {
    let (layout, variant) = match s.split_once(':') {
        Some((l, v)) => (l, Some(v)),
        None => (s, None),
    };
    let name = |n: &str| {
        n.starts_with(|c: char| c.is_ascii_lowercase())
            && n.len() <= 32
            && n.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
    };
    if !name(layout) || !variant.is_none_or(name) {
        // What came from a page is told back, but not at any length.
        let shown: String = s.chars().take(40).collect();
        let cut = if shown.len() < s.len() { "…" } else { "" };
        return Err(format!(
            "`{shown}{cut}` is not an XKB layout (`fr`, `de`, `us:intl`: a lowercase letter, then letters, digits, - and _)"
        ));
    }
    Ok(KeyboardLayout {
        layout: layout.to_owned(),
        variant: variant.map(str::to_owned),
    })
}

fn parse_size(s: &str) -> Result<(u16, u16), String> {
    let (w, h) = s
        .split_once(['x', 'X'])
        .ok_or_else(|| format!("`{s}` is not WIDTHxHEIGHT"))?;
    let parse = |v: &str| -> Result<u16, String> {
        let n: u64 = v
            .parse()
            .map_err(|_| format!("`{v}` is not a whole number"))?;
        match u16::try_from(n) {
            Ok(n) if (16..=8192).contains(&n) && n.is_multiple_of(2) => Ok(n),
            _ => Err(format!("{n} must be even and between 16 and 8192")),
        }
    };
    Ok((parse(w)?, parse(h)?))
}

impl Config {
    /// The STUN and TURN servers pages get, or why the flags do not fit together.
    pub fn ice_servers(
        &self,
    ) -> Result<crate::proto::ice::IceServers, crate::proto::ice::IceConfigError> {
        crate::proto::ice::IceServers::new(
            self.ice_servers.clone(),
            self.ice_username.clone(),
            self.ice_credential.clone(),
            self.turn_secret.clone(),
            self.turn_ttl.map_or(
                crate::proto::ice::DEFAULT_TURN_TTL,
                std::time::Duration::from_secs,
            ),
        )
    }

    /// The secrets are usable: none empty, the viewers' password needs the owner's and
    /// differs from it, and the ICE servers have the credentials they need.
    pub fn check_secrets(&self) -> Result<(), String> {
        if self
            .api_token
            .as_deref()
            .is_some_and(|t| t.trim().is_empty())
        {
            return Err("--api-token must not be empty or only spaces".into());
        }
        if self.turn_ttl.is_some() && self.turn_secret.is_none() {
            return Err("--turn-ttl needs --turn-secret (fixed --ice-username/--ice-credential do not expire)".into());
        }
        self.ice_servers().map_err(|e| e.to_string())?;
        if self.viewer_password.is_some() && self.api_token == self.viewer_password {
            return Err("--api-token must differ from --viewer-password (every viewer would have the whole API)".into());
        }
        match (&self.viewer_password, &self.password) {
            (None, _) => Ok(()),
            (Some(v), _) if v.trim().is_empty() => {
                Err("--viewer-password must not be empty or only spaces".into())
            }
            (Some(_), None) => Err("--viewer-password needs --password (the owner's)".into()),
            (Some(v), Some(p)) if v == p => {
                Err("--viewer-password must differ from --password".into())
            }
            _ => Ok(()),
        }
    }

    /// The flags fit together: [`Config::check_secrets`], [`Config::check_addresses`],
    /// `--save-dir` comes with a game, `--app` runs on the virtual display (not with
    /// `--display`), the test pattern has no
    /// display at all, and `--web-dir` names a directory with the page's `index.html`.
    pub fn check(&self) -> Result<(), String> {
        if let Some(dir) = self
            .web_dir
            .as_ref()
            .filter(|d| !d.join("index.html").is_file())
        {
            return Err(format!(
                "--web-dir {}: no index.html there (it serves a checkout's web-client/ directory)",
                dir.display()
            ));
        }
        if self.save_dir.is_some() && self.core.is_none() {
            return Err("--save-dir is where games' states go: it needs --core and --rom".into());
        }
        if self.app.is_some() && self.display.is_some() {
            return Err("--app needs the virtual display; drop --display".into());
        }
        let display = self.display.is_some() || self.app.is_some();
        if self.source == Source::Testpattern && (display || self.keyboard_layout.is_some()) {
            return Err(
                "--source testpattern takes no --display, --app or --keyboard-layout".into(),
            );
        }
        self.check_secrets()?;
        self.check_addresses()
    }

    /// True when the listen address is reachable only from this machine.
    pub fn loopback_only(&self) -> bool {
        self.listen.ip().is_loopback()
    }

    /// Whether pages must give a password: always, unless only this machine's own pages can
    /// reach Glint (a loopback listen with no `--allowed-origin`/`--allowed-host`, which
    /// would put it behind a reverse proxy that anyone reaching the proxy goes through).
    pub fn password_required(&self) -> bool {
        !self.loopback_only() || !self.allowed_origin.is_empty() || !self.allowed_host.is_empty()
    }

    /// The origins users open behind a reverse proxy: `--allowed-origin`'s while Glint serves
    /// plain HTTP (`--tls off`, or `auto` on loopback), which a browser reaches only through
    /// something in front; with TLS of its own, none (an allowed origin is then a page that
    /// embeds Glint).
    pub fn proxy_origins(&self) -> &[String] {
        match self.tls_enabled() {
            false => &self.allowed_origin,
            true => &[],
        }
    }

    /// Whether the page and signaling go over TLS, following [`TlsMode`].
    pub fn tls_enabled(&self) -> bool {
        match self.tls {
            TlsMode::On => true,
            TlsMode::Off => false,
            TlsMode::Auto => self.tls_cert.is_some() || !self.loopback_only(),
        }
    }
}

#[cfg(test)]
mod tests;
