//! File transfer between pages and the host: uploads into `--upload-dir`, downloads from
//! `--download-dir`. Both are off unless their directory is given.
//!
//! Files move in blocks of [`BLOCK`] bytes over HTTP, one block per request
//! (`crate::http::files` has the routes), so neither side holds more than a block or two of a
//! file and the sender waits for each block's answer: that wait is the back-pressure, on its
//! own TCP connection, away from the media path. Each file is checked at the end with its
//! content hash ([`ContentHash`]: SHA-256 over the SHA-256 of each block, the scheme of
//! Dropbox's `content_hash`), which a browser computes block by block with Web Crypto.
//!
//! Who may: a page authenticates with the token it was given on its signaling socket (it dies
//! with the socket), and [`FilesFor`] says which members' tokens are taken; a program with
//! the owner's password or the API token may always.

mod download;
mod upload;

pub use download::{Block, Listed};
pub use upload::{check_hash, ContentHash, Finished, Upload, TEMP_PREFIX};

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use thiserror::Error;

use crate::metrics::{Counter, Metrics};
use crate::peer::PeerId;

/// Bytes per block: each upload request carries one, each download answer one (the last of
/// a file may be shorter). 4 MiB, as in Dropbox's content hash.
pub const BLOCK: u64 = 4 * 1024 * 1024;
/// An upload that gets no block for this long is dropped with its partial file.
pub const UPLOAD_IDLE: Duration = Duration::from_secs(60);
/// Uploads under way per member, and in all.
pub const UPLOADS_PER_MEMBER: usize = 2;
pub const UPLOADS_AT_ONCE: usize = 8;
/// Most files a download listing shows.
pub const MAX_LISTED: usize = 1000;

/// Which members may transfer files (`--files-for`; programs with the owner's password or
/// the API token always may).
pub use crate::proto::signaling::Who as FilesFor;

/// Who asks: a page (by its member token) or a program (by the owner's password or the API
/// token).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Principal {
    Member(PeerId),
    Api,
}

/// Why a transfer request is refused. `code()` is the error code the client gets.
#[derive(Debug, Error)]
pub enum FileError {
    #[error("uploads are off on this host (start glint with --upload-dir)")]
    UploadsOff,
    #[error("downloads are off on this host (start glint with --download-dir)")]
    DownloadsOff,
    #[error("only {0} may transfer files on this host")]
    Forbidden(&'static str),
    #[error("`{0}` is not a file name that can be used")]
    BadName(String),
    #[error("{size} bytes is over this host's upload limit of {max} bytes")]
    TooBig { size: u64, max: u64 },
    #[error("the upload directory has {free} bytes free, {size} needed")]
    NoSpace { size: u64, free: u64 },
    #[error("too many uploads under way (at most {UPLOADS_PER_MEMBER} per member, {UPLOADS_AT_ONCE} in all)")]
    TooMany,
    #[error("no upload with that id (finished, cancelled, or dropped after {}s without a block)", UPLOAD_IDLE.as_secs())]
    NoSuchUpload,
    #[error("block {got} sent; block {expected} is next")]
    OutOfOrder { expected: u64, got: u64 },
    #[error("block of {got} bytes; this one must have {expected}")]
    BadBlock { expected: u64, got: u64 },
    #[error("a block of this upload is still being written")]
    Busy,
    #[error("{received} of {size} bytes received; send the rest first")]
    Incomplete { received: u64, size: u64 },
    #[error("a content hash is 64 hexadecimal digits (SHA-256); the upload is still open")]
    BadHash,
    #[error(
        "the file's content hash is {got}, not {expected} as the sender said; it was not kept"
    )]
    Checksum { expected: String, got: String },
    #[error("no file `{0}` to download")]
    NoSuchFile(String),
    #[error("block {index} is past the end of the file ({blocks} blocks)")]
    OutOfRange { index: u64, blocks: u64 },
    #[error("the file changed since it was listed; list again")]
    Changed,
    #[error("file system: {0}")]
    Io(#[from] std::io::Error),
    /// `--upload-dir` or `--download-dir` cannot be used (at start).
    #[error("{0}")]
    Setup(String),
}

impl FileError {
    /// The error code clients get, kebab-case.
    pub fn code(&self) -> &'static str {
        match self {
            Self::UploadsOff | Self::DownloadsOff => "files-off",
            Self::Forbidden(_) => "forbidden",
            Self::BadName(_) => "bad-name",
            Self::TooBig { .. } => "too-big",
            Self::NoSpace { .. } => "no-space",
            Self::TooMany => "too-many-uploads",
            Self::NoSuchUpload => "no-such-upload",
            Self::OutOfOrder { .. } => "out-of-order",
            Self::BadBlock { .. } => "bad-block",
            Self::BadHash => "bad-hash",
            Self::Busy => "busy",
            Self::Incomplete { .. } => "incomplete",
            Self::Checksum { .. } => "checksum-mismatch",
            Self::NoSuchFile(_) => "no-such-file",
            Self::OutOfRange { .. } => "out-of-range",
            Self::Changed => "changed",
            Self::Io(_) | Self::Setup(_) => "io",
        }
    }
}

/// How file transfer is set up (`--upload-dir`, `--download-dir`, `--upload-max-mib`,
/// `--files-for`).
#[derive(Debug, Clone, Default)]
pub struct FilesConfig {
    pub upload_dir: Option<PathBuf>,
    pub download_dir: Option<PathBuf>,
    /// Largest upload, bytes.
    pub max_upload: u64,
    pub who: FilesFor,
}

/// Counters of file transfer.
#[derive(Clone, Default)]
pub struct FileCounters {
    pub uploaded: Counter,
    pub upload_bytes: Counter,
    pub download_blocks: Counter,
    pub download_bytes: Counter,
    pub refused: Counter,
    pub checksum_mismatch: Counter,
}

impl FileCounters {
    pub fn register(m: &mut Metrics) -> Self {
        Self {
            uploaded: m.counter(
                "files_uploaded",
                "Files uploaded and kept in the upload dir",
            ),
            upload_bytes: m.counter("files_upload_bytes", "Bytes of uploaded blocks written"),
            download_blocks: m.counter("files_download_blocks", "Download blocks served"),
            download_bytes: m.counter("files_download_bytes", "Bytes of download blocks served"),
            refused: m.counter("files_refused", "File transfer requests refused"),
            checksum_mismatch: m.counter(
                "files_checksum_mismatch",
                "Uploads whose content hash did not match (not kept)",
            ),
        }
    }
}

/// One upload under way, and who started it.
struct Slot {
    owner: Principal,
    upload: Arc<Mutex<Upload>>,
}

/// File transfer's state: member tokens and uploads under way. Shared by the HTTP routes.
pub struct Files {
    pub config: FilesConfig,
    pub counters: FileCounters,
    tokens: Mutex<HashMap<String, PeerId>>,
    uploads: Mutex<HashMap<String, Slot>>,
}

/// 128 random bits, hex ([`crate::peer::random_token`]).
fn random_id() -> Result<String, FileError> {
    crate::peer::random_token().map_err(|e| FileError::Io(std::io::Error::other(e)))
}

impl Files {
    /// File transfer as `config` says; the upload directory is made when missing. `None`
    /// when neither directory is set.
    pub fn new(config: FilesConfig, counters: FileCounters) -> Result<Option<Self>, FileError> {
        if config.upload_dir.is_none() && config.download_dir.is_none() {
            return Ok(None);
        }
        // The download directory is checked first: a start refused for it makes nothing.
        let setup = |flag: &str, dir: &Path, what: &str| {
            FileError::Setup(format!("{flag} {}: {what}", dir.display()))
        };
        if let Some(dir) = &config.download_dir {
            if !dir.exists() {
                return Err(setup("--download-dir", dir, "no such directory"));
            }
            if !dir.is_dir() {
                return Err(setup("--download-dir", dir, "a file, not a directory"));
            }
        }
        if let Some(dir) = &config.upload_dir {
            if dir.exists() && !dir.is_dir() {
                return Err(setup("--upload-dir", dir, "a file, not a directory"));
            }
            std::fs::create_dir_all(dir)
                .map_err(|e| setup("--upload-dir", dir, &format!("cannot make it: {e}")))?;
            remove_stale(dir);
        }
        Ok(Some(Self {
            config,
            counters,
            tokens: Mutex::new(HashMap::new()),
            uploads: Mutex::new(HashMap::new()),
        }))
    }

    /// A new token for member `peer`'s page (given on its signaling socket).
    pub fn admit(&self, peer: PeerId) -> Result<String, FileError> {
        let token = random_id()?;
        let mut tokens = crate::lock(&self.tokens);
        tokens.retain(|_, p| *p != peer);
        tokens.insert(token.clone(), peer);
        Ok(token)
    }

    /// Member `peer` left: its token stops working and its uploads are dropped.
    pub fn forget(&self, peer: PeerId) {
        crate::lock(&self.tokens).retain(|_, p| *p != peer);
        crate::lock(&self.uploads).retain(|_, s| s.owner != Principal::Member(peer));
    }

    /// The member whose token `token` is.
    pub fn member(&self, token: &str) -> Option<PeerId> {
        crate::lock(&self.tokens).get(token).copied()
    }

    /// Starts an upload of `size` bytes named `name` (sanitised: the name it will have, or
    /// one with ` (n)` added when taken) for `who`: its id.
    pub fn start_upload(
        &self,
        who: Principal,
        name: &str,
        size: u64,
    ) -> Result<(String, String), FileError> {
        let dir = self
            .config
            .upload_dir
            .as_ref()
            .ok_or(FileError::UploadsOff)?;
        let name = sanitize(name)?;
        let max = self.config.max_upload;
        if size > max {
            return Err(FileError::TooBig { size, max });
        }
        let free = download::free_space(dir)?;
        if size > free {
            return Err(FileError::NoSpace { size, free });
        }
        let now = Instant::now();
        let mut uploads = self.swept(now);
        let mine = uploads.values().filter(|s| s.owner == who).count();
        if mine >= UPLOADS_PER_MEMBER || uploads.len() >= UPLOADS_AT_ONCE {
            return Err(FileError::TooMany);
        }
        let upload = Upload::start(dir, name.clone(), size, now)?;
        let id = random_id()?;
        uploads.insert(
            id.clone(),
            Slot {
                owner: who,
                upload: Arc::new(Mutex::new(upload)),
            },
        );
        Ok((id, name))
    }

    /// The uploads under way, locked, without those idle at `now` (their partial files go
    /// with them). An upload being written is not idle (its lock is held).
    fn swept(&self, now: Instant) -> std::sync::MutexGuard<'_, HashMap<String, Slot>> {
        let mut uploads = crate::lock(&self.uploads);
        uploads.retain(|_, s| s.upload.try_lock().map_or(true, |u| !u.idle(now)));
        uploads
    }

    /// Upload `id` of `who`, to write a block to or finish.
    pub fn upload(&self, who: Principal, id: &str) -> Result<Arc<Mutex<Upload>>, FileError> {
        let uploads = self.swept(Instant::now());
        match uploads.get(id) {
            Some(s) if s.owner == who => Ok(s.upload.clone()),
            _ => Err(FileError::NoSuchUpload),
        }
    }

    /// Ends upload `id` of `who` (finished, failed or cancelled); its partial file goes with
    /// it unless it was kept.
    pub fn end_upload(&self, who: Principal, id: &str) -> Option<Arc<Mutex<Upload>>> {
        let mut uploads = crate::lock(&self.uploads);
        match uploads.get(id) {
            Some(s) if s.owner == who => uploads.remove(id).map(|s| s.upload),
            _ => None,
        }
    }

    /// The files the download directory offers.
    pub fn list(&self) -> Result<Vec<Listed>, FileError> {
        let dir = self
            .config
            .download_dir
            .as_ref()
            .ok_or(FileError::DownloadsOff)?;
        download::list(dir)
    }

    /// Block `index` of file `name` in the download directory; `version` (the listing's) must
    /// still be the file's when given.
    pub fn read_block(
        &self,
        name: &str,
        index: u64,
        version: Option<&str>,
    ) -> Result<Block, FileError> {
        let dir = self
            .config
            .download_dir
            .as_ref()
            .ok_or(FileError::DownloadsOff)?;
        download::read_block(dir, name, index, version)
    }
}

/// Removes the partial files of uploads that a glint before this one left (it was killed).
fn remove_stale(dir: &std::path::Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let stale = e
            .file_name()
            .to_str()
            .is_some_and(|n| n.starts_with(TEMP_PREFIX));
        if stale && e.file_type().is_ok_and(|t| t.is_file()) {
            match std::fs::remove_file(e.path()) {
                Ok(()) => tracing::info!(file = %e.path().display(), "removed a partial upload"),
                Err(err) => tracing::warn!(error = %err, "cannot remove a partial upload"),
            }
        }
    }
}

/// Characters a name never keeps: path separators, and the ones Windows refuses (the file
/// may go on to one), plus bidirectional overrides that make a name read as another.
fn refused_char(c: char) -> bool {
    c.is_control()
        || matches!(c, '/' | '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|')
        || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}')
}

/// The name an upload called `given` gets: its last path component, refused characters as
/// `_`, no leading dots (no hidden files, no `..`) or surrounding spaces, at most 255 bytes
/// (the extension kept).
pub fn sanitize(given: &str) -> Result<String, FileError> {
    let last = given.rsplit(['/', '\\']).next().unwrap_or_default();
    let replaced: String = last
        .chars()
        .map(|c| if refused_char(c) { '_' } else { c })
        .collect();
    let trimmed = replaced
        .trim()
        .trim_start_matches('.')
        .trim_end_matches(['.', ' '])
        .trim();
    if trimmed.is_empty() || trimmed.chars().all(|c| c == '_') {
        return Err(FileError::BadName(given.chars().take(64).collect()));
    }
    Ok(truncate_name(trimmed, 255))
}

/// `name` cut to at most `max` bytes on a character boundary, keeping a short extension.
fn truncate_name(name: &str, max: usize) -> String {
    if name.len() <= max {
        return name.to_owned();
    }
    let ext = name
        .rfind('.')
        .map(|i| &name[i..])
        .filter(|e| e.len() <= 16)
        .unwrap_or("");
    let room = max - ext.len();
    let mut cut = room.min(name.len() - ext.len());
    while !name.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}{ext}", &name[..cut])
}

#[cfg(test)]
mod tests;
