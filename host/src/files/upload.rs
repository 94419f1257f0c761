//! One upload: blocks written in order into a hidden temporary file in the upload directory,
//! hashed as they come, and renamed to its name only when its content hash matches.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use aws_lc_rs::digest::{digest, Context, SHA256};
use tempfile::NamedTempFile;

use super::{FileError, BLOCK, UPLOAD_IDLE};

/// The start of the hidden name of an upload's file until it is kept.
pub const TEMP_PREFIX: &str = ".glint-upload-";

/// A file's content hash: SHA-256 over the concatenated SHA-256 digests of its [`BLOCK`]-byte
/// blocks (the last one shorter), as lowercase hex; an empty file's is SHA-256 of nothing.
/// This is Dropbox's `content_hash` scheme
/// (<https://www.dropbox.com/developers/reference/content-hash>): each block is hashed on its
/// own, so a page needs only one block in memory with Web Crypto's one-shot `digest`.
pub struct ContentHash(Context);

impl Default for ContentHash {
    fn default() -> Self {
        Self(Context::new(&SHA256))
    }
}

impl ContentHash {
    /// Adds the next block (every block but the last must be [`BLOCK`] bytes).
    pub fn block(&mut self, bytes: &[u8]) {
        self.0.update(digest(&SHA256, bytes).as_ref());
    }

    /// The hash, lowercase hex.
    pub fn finish(self) -> String {
        hex(self.0.finish().as_ref())
    }
}

/// Whether `hash` is a content hash as [`ContentHash::finish`] writes it (64 hex digits,
/// either case, around white space): else [`FileError::BadHash`].
pub fn check_hash(hash: &str) -> Result<(), FileError> {
    let hash = hash.trim();
    if hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(())
    } else {
        Err(FileError::BadHash)
    }
}

/// `bytes` as lowercase hex.
pub(super) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// An upload under way.
pub struct Upload {
    name: String,
    size: u64,
    received: u64,
    next: u64,
    dir: PathBuf,
    file: NamedTempFile,
    hash: ContentHash,
    last: Instant,
}

/// An upload kept: its name in the upload directory (` (n)` added when the name was taken),
/// its size and content hash.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Finished {
    pub name: String,
    pub size: u64,
    pub hash: String,
}

impl Upload {
    /// A new upload of `size` bytes to be called `name` in `dir`, its data in a hidden
    /// temporary file there (removed unless the upload is kept).
    pub fn start(dir: &Path, name: String, size: u64, now: Instant) -> Result<Self, FileError> {
        use std::os::unix::fs::PermissionsExt;
        // Readable as any file the user makes (the umask applies), not tempfile's 0600.
        let file = tempfile::Builder::new()
            .prefix(TEMP_PREFIX)
            .permissions(std::fs::Permissions::from_mode(0o644))
            .tempfile_in(dir)?;
        Ok(Self {
            name,
            size,
            received: 0,
            next: 0,
            dir: dir.to_owned(),
            file,
            hash: ContentHash::default(),
            last: now,
        })
    }

    /// Whether no block came for [`UPLOAD_IDLE`].
    pub fn idle(&self, now: Instant) -> bool {
        now.saturating_duration_since(self.last) >= UPLOAD_IDLE
    }

    /// Bytes received so far.
    pub fn received(&self) -> u64 {
        self.received
    }

    /// Refuses the end of an upload that still misses bytes (it stays open for them).
    pub fn check_complete(&self) -> Result<(), FileError> {
        if self.received == self.size {
            Ok(())
        } else {
            Err(FileError::Incomplete {
                received: self.received,
                size: self.size,
            })
        }
    }

    /// Writes block `index`, which must be the next one and hold [`BLOCK`] bytes (the last
    /// block: the rest); the bytes received so far. A block past the upload's size is
    /// [`FileError::OutOfRange`] (as a download's is).
    pub fn write_block(
        &mut self,
        index: u64,
        bytes: &[u8],
        now: Instant,
    ) -> Result<u64, FileError> {
        let blocks = self.size.div_ceil(BLOCK);
        if index >= blocks {
            return Err(FileError::OutOfRange { index, blocks });
        }
        if index != self.next {
            return Err(FileError::OutOfOrder {
                expected: self.next,
                got: index,
            });
        }
        let expected = (self.size - self.received).min(BLOCK);
        let got = bytes.len() as u64;
        if got != expected || got == 0 {
            return Err(FileError::BadBlock { expected, got });
        }
        self.file.write_all(bytes)?;
        self.hash.block(bytes);
        self.received += got;
        self.next += 1;
        self.last = now;
        Ok(self.received)
    }

    /// Keeps the file when every byte came and its content hash is `expected` (hex, either
    /// case): renamed to its name, or `name (n).ext` when that is taken (never over another
    /// file). Otherwise the partial file is removed.
    pub fn finish(self, expected: &str) -> Result<Finished, FileError> {
        self.check_complete()?;
        let got = self.hash.finish();
        if !got.eq_ignore_ascii_case(expected.trim()) {
            return Err(FileError::Checksum {
                expected: expected.chars().take(64).collect(),
                got,
            });
        }
        self.file.as_file().sync_all()?;
        let mut file = self.file;
        for n in 0..1000u32 {
            let name = numbered(&self.name, n);
            match file.persist_noclobber(self.dir.join(&name)) {
                Ok(_) => {
                    return Ok(Finished {
                        name,
                        size: self.size,
                        hash: got,
                    })
                }
                Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => file = e.file,
                Err(e) => return Err(FileError::Io(e.error)),
            }
        }
        Err(FileError::BadName(self.name))
    }
}

/// `name` with ` (n)` before its extension; `name` itself for 0.
fn numbered(name: &str, n: u32) -> String {
    if n == 0 {
        return name.to_owned();
    }
    match name.rfind('.').filter(|&i| i > 0) {
        Some(i) => format!("{} ({n}){}", &name[..i], &name[i..]),
        None => format!("{name} ({n})"),
    }
}
