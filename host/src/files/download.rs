//! The download directory: its listing and its files' blocks. Only regular files directly in
//! it are offered (no directories, no symbolic links, no hidden files), and a file is opened
//! without following links, so nothing outside the directory is ever read.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;

use aws_lc_rs::digest::{digest, SHA256};

use super::{FileError, BLOCK, MAX_LISTED};

/// A file offered for download: `version` changes whenever its size or modification time does.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Listed {
    pub name: String,
    pub size: u64,
    /// Modification time, ms since the Unix epoch.
    pub modified_ms: i64,
    pub version: String,
}

/// One block of a file: its bytes, their SHA-256, and the file's size and version.
pub struct Block {
    pub bytes: Vec<u8>,
    pub sha256: [u8; 32],
    pub size: u64,
    pub version: String,
}

fn version(m: &std::fs::Metadata) -> String {
    format!("{}-{}.{}", m.len(), m.mtime(), m.mtime_nsec())
}

/// Whether `name` may be offered: a plain name, not hidden.
fn offered_name(name: &str) -> bool {
    !name.is_empty() && !name.starts_with('.') && !name.contains('/') && !name.contains('\0')
}

/// The regular files in `dir`, by name; at most [`MAX_LISTED`].
pub(super) fn list(dir: &Path) -> Result<Vec<Listed>, FileError> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let Ok(name) = entry.file_name().into_string() else {
            continue; // not UTF-8: a page could not name it
        };
        if !offered_name(&name) {
            continue;
        }
        let Ok(m) = entry.path().symlink_metadata() else {
            continue;
        };
        if !m.file_type().is_file() {
            continue;
        }
        out.push(Listed {
            name,
            size: m.len(),
            modified_ms: m.mtime() * 1000 + m.mtime_nsec() / 1_000_000,
            version: version(&m),
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out.truncate(MAX_LISTED);
    Ok(out)
}

/// Block `index` of `dir/name`, when `name` is a regular file there and (given `expected`)
/// still of that version.
pub(super) fn read_block(
    dir: &Path,
    name: &str,
    index: u64,
    expected: Option<&str>,
) -> Result<Block, FileError> {
    let missing = || FileError::NoSuchFile(name.chars().take(64).collect());
    if !offered_name(name) {
        return Err(missing());
    }
    let mut file = File::options()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(dir.join(name))
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => missing(),
            // O_NOFOLLOW on a link: ELOOP
            _ if e.raw_os_error() == Some(libc::ELOOP) => missing(),
            _ => FileError::Io(e),
        })?;
    let m = file.metadata()?;
    if !m.file_type().is_file() {
        return Err(missing());
    }
    let now = version(&m);
    if expected.is_some_and(|v| v != now) {
        return Err(FileError::Changed);
    }
    let size = m.len();
    let blocks = size.div_ceil(BLOCK);
    let start = index.saturating_mul(BLOCK);
    if index >= blocks.max(1) {
        return Err(FileError::OutOfRange { index, blocks });
    }
    let len = (size - start).min(BLOCK);
    let mut bytes = vec![0u8; len as usize];
    file.seek(SeekFrom::Start(start))?;
    file.read_exact(&mut bytes)?;
    let mut sha256 = [0u8; 32];
    sha256.copy_from_slice(digest(&SHA256, &bytes).as_ref());
    Ok(Block {
        bytes,
        sha256,
        size,
        version: now,
    })
}

/// Bytes free for an unprivileged user in the file system of `dir` (statvfs(3)).
pub(super) fn free_space(dir: &Path) -> Result<u64, FileError> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(dir.as_os_str().as_bytes())
        .map_err(|e| FileError::Io(std::io::Error::other(e)))?;
    let mut s = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: `c` is a valid C string and `s` a buffer of the size statvfs writes.
    let rc = unsafe { libc::statvfs(c.as_ptr(), s.as_mut_ptr()) };
    if rc != 0 {
        return Err(FileError::Io(std::io::Error::last_os_error()));
    }
    // SAFETY: statvfs returned 0, so it filled `s`.
    let s = unsafe { s.assume_init() };
    Ok(s.f_bavail.saturating_mul(s.f_frsize))
}
