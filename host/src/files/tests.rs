use std::time::Instant;

use super::upload::hex;
use super::*;
use crate::proto::signaling::{MemberView, Role};

fn files(up: &Path, down: &Path, max: u64, who: FilesFor) -> Files {
    let config = FilesConfig {
        upload_dir: Some(up.to_owned()),
        download_dir: Some(down.to_owned()),
        max_upload: max,
        who,
    };
    Files::new(config, FileCounters::default())
        .expect("set up")
        .expect("on")
}

use std::path::Path;

/// The content hash computed the long way: SHA-256 of the blocks' SHA-256s.
fn reference_hash(data: &[u8]) -> String {
    use aws_lc_rs::digest::{digest, SHA256};
    let mut all = Vec::new();
    for block in data.chunks(BLOCK as usize) {
        all.extend_from_slice(digest(&SHA256, block).as_ref());
    }
    hex(digest(&SHA256, &all).as_ref())
}

fn upload_all(f: &Files, who: Principal, name: &str, data: &[u8]) -> Result<Finished, FileError> {
    let (id, _) = f.start_upload(who, name, data.len() as u64)?;
    let up = f.upload(who, &id)?;
    for (i, block) in data.chunks(BLOCK as usize).enumerate() {
        crate::lock(&up).write_block(i as u64, block, Instant::now())?;
    }
    let hash = reference_hash(data);
    drop(up);
    let up = f.end_upload(who, &id).ok_or(FileError::NoSuchUpload)?;
    let up = Arc::try_unwrap(up)
        .map_err(|_| FileError::Busy)?
        .into_inner()
        .unwrap_or_else(|e| e.into_inner());
    up.finish(&hash)
}

#[test]
fn names_stay_in_the_directory_and_readable() {
    let ok = |given: &str, want: &str| assert_eq!(sanitize(given).expect(given), want, "{given}");
    ok("report.pdf", "report.pdf");
    ok("../../etc/passwd", "passwd");
    ok("C:\\Users\\me\\notes.txt", "notes.txt");
    ok(".bashrc", "bashrc");
    ok("..hidden..", "hidden");
    ok("a\u{202e}txt.exe", "a_txt.exe");
    ok("tab\there", "tab_here");
    ok("  spaced  ", "spaced");
    ok("日本語のファイル.txt", "日本語のファイル.txt");
    for bad in ["", "..", ".", "/", "dir/", "\u{0}", "???", " . "] {
        assert!(sanitize(bad).is_err(), "{bad:?} taken");
    }
    let long = format!("{}.tar.gz", "é".repeat(200));
    let cut = sanitize(&long).expect("long");
    assert!(cut.len() <= 255 && cut.ends_with(".gz"), "{cut}");
}

#[test]
fn the_content_hash_is_the_hash_of_the_block_hashes() {
    // The scheme's published example value: the hash of nothing.
    assert_eq!(
        ContentHash::default().finish(),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    let data: Vec<u8> = (0..(BLOCK as usize * 2 + 17))
        .map(|i| (i % 251) as u8)
        .collect();
    let mut h = ContentHash::default();
    for b in data.chunks(BLOCK as usize) {
        h.block(b);
    }
    assert_eq!(h.finish(), reference_hash(&data));
}

#[test]
fn an_upload_is_kept_only_whole_and_matching_and_never_over_another_file() {
    let up = tempfile::tempdir().expect("dir");
    let down = tempfile::tempdir().expect("dir");
    let f = files(up.path(), down.path(), 64 << 20, FilesFor::Control);
    let me = Principal::Member(PeerId(1));
    let data: Vec<u8> = (0..(BLOCK as usize + 5))
        .map(|i| (i * 7 % 256) as u8)
        .collect();
    let kept = upload_all(&f, me, "../x.bin", &data).expect("kept");
    assert_eq!(kept.name, "x.bin");
    assert_eq!(std::fs::read(up.path().join("x.bin")).expect("read"), data);
    let again = upload_all(&f, me, "x.bin", b"other").expect("kept");
    assert_eq!(again.name, "x (1).bin");
    assert_eq!(std::fs::read(up.path().join("x.bin")).expect("read"), data);

    // Out of order, past the end, wrong size, wrong hash, too big, somebody else's.
    let (two, _) = f.start_upload(me, "w", BLOCK + 10).expect("start");
    let w = f.upload(me, &two).expect("mine");
    assert!(matches!(
        crate::lock(&w).write_block(1, &[0; 10], Instant::now()),
        Err(FileError::OutOfOrder {
            expected: 0,
            got: 1
        })
    ));
    drop(w);
    assert!(f.end_upload(me, &two).is_some());
    let (id, _) = f.start_upload(me, "y", 10).expect("start");
    let u = f.upload(me, &id).expect("mine");
    assert!(matches!(
        crate::lock(&u).write_block(1, &[0; 10], Instant::now()),
        Err(FileError::OutOfRange {
            index: 1,
            blocks: 1
        })
    ));
    assert!(matches!(
        crate::lock(&u).write_block(0, &[0; 11], Instant::now()),
        Err(FileError::BadBlock { .. })
    ));
    assert!(matches!(
        f.upload(Principal::Member(PeerId(2)), &id),
        Err(FileError::NoSuchUpload)
    ));
    crate::lock(&u)
        .write_block(0, &[0; 10], Instant::now())
        .expect("block");
    drop(u);
    let u = f.end_upload(me, &id).expect("ended");
    let u = Arc::try_unwrap(u)
        .ok()
        .expect("only")
        .into_inner()
        .expect("lock");
    assert!(matches!(u.finish("00"), Err(FileError::Checksum { .. })));
    assert!(matches!(check_hash("00"), Err(FileError::BadHash)));
    assert!(matches!(
        check_hash(&"g".repeat(64)),
        Err(FileError::BadHash)
    ));
    assert!(check_hash(&format!(" {} ", "aB".repeat(32))).is_ok());
    assert!(matches!(
        f.start_upload(me, "z", (64 << 20) + 1),
        Err(FileError::TooBig { .. })
    ));
    // Nothing but the two kept files is left: no partial, no temporary file.
    let mut left: Vec<String> = std::fs::read_dir(up.path())
        .expect("dir")
        .map(|e| e.expect("entry").file_name().into_string().expect("utf-8"))
        .collect();
    left.sort();
    assert_eq!(left, ["x (1).bin", "x.bin"]);
}

#[test]
fn partial_files_of_an_earlier_run_are_removed_and_kept_files_are_readable() {
    use std::os::unix::fs::PermissionsExt;
    let up = tempfile::tempdir().expect("dir");
    std::fs::write(up.path().join(".glint-upload-abc123"), b"partial").expect("write");
    std::fs::write(up.path().join("mine.txt"), b"kept").expect("write");
    let f = files(up.path(), up.path(), 1 << 20, FilesFor::Control);
    let names: Vec<_> = std::fs::read_dir(up.path())
        .expect("dir")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(names, ["mine.txt"]);
    let kept = upload_all(&f, Principal::Api, "new.txt", b"x").expect("kept");
    let mode = std::fs::metadata(up.path().join(kept.name))
        .expect("meta")
        .permissions()
        .mode();
    assert_eq!(mode & 0o044, 0o044 & !umask(), "mode {mode:o}");
}

/// The process's umask.
fn umask() -> u32 {
    // SAFETY: umask(2) cannot fail; it is set back at once.
    let old = unsafe { libc::umask(0o022) };
    unsafe { libc::umask(old) };
    old
}

#[test]
fn uploads_are_limited_per_member_and_end_with_the_member() {
    let up = tempfile::tempdir().expect("dir");
    let f = files(up.path(), up.path(), 1 << 20, FilesFor::Control);
    let a = Principal::Member(PeerId(1));
    for _ in 0..UPLOADS_PER_MEMBER {
        f.start_upload(a, "f", 1).expect("start");
    }
    assert!(matches!(f.start_upload(a, "f", 1), Err(FileError::TooMany)));
    let token = f.admit(PeerId(1)).expect("token");
    assert_eq!(f.member(&token), Some(PeerId(1)));
    f.forget(PeerId(1));
    assert_eq!(f.member(&token), None);
    f.start_upload(a, "f", 1)
        .expect("room again after the member left");
    // The temporary files of the dropped uploads are gone.
    let temps = std::fs::read_dir(up.path()).expect("dir").count();
    assert_eq!(temps, 1);
}

#[test]
fn downloads_offer_regular_files_only_and_notice_a_change() {
    let up = tempfile::tempdir().expect("dir");
    let down = tempfile::tempdir().expect("dir");
    let outside = tempfile::NamedTempFile::new().expect("outside");
    std::fs::write(outside.path(), b"secret").expect("write");
    std::fs::write(down.path().join("a.txt"), b"hello").expect("write");
    std::fs::write(down.path().join(".hidden"), b"no").expect("write");
    std::fs::create_dir(down.path().join("sub")).expect("dir");
    std::os::unix::fs::symlink(outside.path(), down.path().join("link")).expect("link");
    let f = files(up.path(), down.path(), 1 << 20, FilesFor::Owners);
    let listed = f.list().expect("list");
    assert_eq!(
        listed.iter().map(|l| l.name.as_str()).collect::<Vec<_>>(),
        ["a.txt"]
    );
    let b = f
        .read_block("a.txt", 0, Some(&listed[0].version))
        .expect("block");
    assert_eq!(b.bytes, b"hello");
    for name in ["link", ".hidden", "sub", "../a.txt", "nope"] {
        assert!(
            matches!(f.read_block(name, 0, None), Err(FileError::NoSuchFile(_))),
            "{name} served"
        );
    }
    assert!(matches!(
        f.read_block("a.txt", 1, None),
        Err(FileError::OutOfRange { .. })
    ));
    std::fs::write(down.path().join("a.txt"), b"hello, changed").expect("write");
    assert!(matches!(
        f.read_block("a.txt", 0, Some(&listed[0].version)),
        Err(FileError::Changed)
    ));
}

#[test]
fn who_may_transfer_follows_role_and_control() {
    let m = |role, control| MemberView {
        peer: 1,
        name: "m".into(),
        role,
        control,
        asked: false,
    };
    assert!(FilesFor::Control.allows(&m(Role::Owner, false)));
    assert!(FilesFor::Control.allows(&m(Role::Viewer, true)));
    assert!(!FilesFor::Control.allows(&m(Role::Viewer, false)));
    assert!(!FilesFor::Owners.allows(&m(Role::Viewer, true)));
    assert!(FilesFor::Everyone.allows(&m(Role::Viewer, false)));
}

#[test]
fn a_missing_download_directory_refuses_the_start_and_makes_no_upload_directory() {
    let base = tempfile::tempdir().expect("temp dir");
    let up = base.path().join("up");
    let config = FilesConfig {
        upload_dir: Some(up.clone()),
        download_dir: Some(base.path().join("missing")),
        max_upload: 1,
        who: FilesFor::Owners,
    };
    let e = Files::new(config.clone(), FileCounters::default())
        .err()
        .expect("refused");
    assert!(e.to_string().ends_with("missing: no such directory"), "{e}");
    assert!(
        !up.exists(),
        "the upload directory was made for a refused start"
    );
    // A file where a directory should be, either way.
    let file = base.path().join("a-file");
    std::fs::write(&file, "x").expect("write");
    for (upload_dir, download_dir, flag) in [
        (Some(file.clone()), None, "--upload-dir"),
        (None, Some(file.clone()), "--download-dir"),
    ] {
        let config = FilesConfig {
            upload_dir,
            download_dir,
            ..config.clone()
        };
        let e = Files::new(config, FileCounters::default())
            .err()
            .expect("refused");
        let told = format!("{flag} {}: a file, not a directory", file.display());
        assert_eq!(e.to_string(), told);
    }
}
