//! The certificate store: made, kept, loaded, reloaded, and its errors in words.

use super::*;

#[test]
fn a_self_signed_certificate_is_made_once_and_kept() {
    let dir = tempfile::tempdir().expect("temp dir");
    let source = CertSource::SelfSigned {
        dir: dir.path().join("tls"),
    };
    let names = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
    let first = Tls::load(source.clone(), &names).expect("made");
    let again = Tls::load(source, &names).expect("kept");
    assert_eq!(first.fingerprint(), again.fingerprint());
    assert_eq!(first.fingerprint().len(), 32 * 3 - 1);
    let key = dir.path().join("tls").join("key.pem");
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(key).expect("key kept").permissions(),
    );
    assert_eq!(mode & 0o077, 0, "the key is readable by others: {mode:o}");
}

#[test]
fn a_kept_certificate_that_lacks_an_address_of_the_host_is_made_again() {
    let dir = tempfile::tempdir().expect("temp dir");
    let source = CertSource::SelfSigned {
        dir: dir.path().join("tls"),
    };
    let names = |list: &[&str]| list.iter().map(|&n| n.to_owned()).collect::<Vec<_>>();
    let first = Tls::load(source.clone(), &names(&["localhost", "127.0.0.1"])).expect("made");
    let grown = names(&["localhost", "127.0.0.1", "2001:db8::5", "desk.example.org"]);
    let second = Tls::load(source.clone(), &grown).expect("made again");
    assert_ne!(first.fingerprint(), second.fingerprint());
    assert!(uncovered(&second.current.read().expect("lock"), &grown).is_empty());
    assert_eq!(
        uncovered(&first.current.read().expect("lock"), &grown),
        names(&["2001:db8::5", "desk.example.org"])
    );
    // Two setups in turn: the second remake keeps the first's names, the third start
    // keeps the certificate.
    let other = names(&["localhost", "127.0.0.1", "203.0.113.5"]);
    let fourth = Tls::load(source.clone(), &other).expect("made again");
    assert!(uncovered(&fourth.current.read().expect("lock"), &grown).is_empty());
    let fifth = Tls::load(source.clone(), &grown).expect("kept");
    assert_eq!(fourth.fingerprint(), fifth.fingerprint());
    let second = fifth;
    // Fewer names: the kept one still covers them.
    let third = Tls::load(source.clone(), &names(&["127.0.0.1"])).expect("kept");
    assert_eq!(second.fingerprint(), third.fingerprint());
    // A damaged list of names is read for what is usable in it.
    let list = dir.path().join("tls").join(NAMES_FILE);
    std::fs::write(
        &list,
        "h\u{e9}llo\nbad..name\n198.51.100.7\n2001:db8::9\nok.example\n",
    )
    .expect("write");
    assert_eq!(
        kept_names(&dir.path().join("tls")),
        names(&["198.51.100.7", "2001:db8::9", "ok.example"])
    );
    assert!(Tls::load(source.clone(), &names(&["203.0.113.8"])).is_ok());
    // A kept file that is not a certificate is replaced, not an error.
    std::fs::write(dir.path().join("tls").join("cert.pem"), "junk").expect("write");
    assert!(Tls::load(source, &grown).is_ok());
}

#[test]
fn replaced_files_are_served_and_a_broken_one_keeps_the_old() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (cert, key) = (dir.path().join("c.pem"), dir.path().join("k.pem"));
    let write = |names: Vec<String>| {
        let m = rcgen::generate_simple_self_signed(names).expect("cert");
        std::fs::write(&cert, m.cert.pem()).expect("write cert");
        std::fs::write(&key, m.signing_key.serialize_pem()).expect("write key");
    };
    write(vec!["a.example".into()]);
    let tls = Tls::load(
        CertSource::Files {
            cert: cert.clone(),
            key: key.clone(),
        },
        &[],
    )
    .expect("loads");
    let old = tls.fingerprint();
    assert!(!tls.reload(false).expect("unchanged"), "nothing changed");
    write(vec!["b.example".into()]);
    assert!(tls.reload(true).expect("reloads"));
    assert_ne!(tls.fingerprint(), old);
    let new = tls.fingerprint();
    std::fs::write(&key, "not a key").expect("write");
    assert!(tls.reload(true).is_err());
    // A file cut short says so in words (rustls-pki-types names the marker in bytes).
    let good = std::fs::read_to_string(&cert).expect("read");
    std::fs::write(&cert, &good[..good.len() / 2]).expect("write");
    let cut = tls.reload(true).expect_err("cut short").to_string();
    assert!(
        cut.contains("no `-----END CERTIFICATE-----` line: the file is cut short"),
        "{cut}"
    );
    assert_eq!(
        tls.fingerprint(),
        new,
        "a broken file replaced the served certificate"
    );
    // The watcher does not try the same broken files again (one warning, not one a poll).
    assert!(!tls.reload(false).expect("not tried again"));
    // A key whose body is damaged (still a PEM block) is the key file's fault; a whole key
    // of another pair is a mismatch.
    std::fs::write(&cert, &good).expect("write");
    let other = rcgen::generate_simple_self_signed(vec!["c.example".into()]).expect("cert");
    let pem = other.signing_key.serialize_pem();
    let mut lines: Vec<String> = pem.lines().map(str::to_owned).collect();
    lines[1] = "A".repeat(lines[1].len());
    std::fs::write(&key, lines.join("\n") + "\n").expect("write");
    let damaged = tls.reload(true).expect_err("damaged key").to_string();
    assert!(
        damaged.contains("PRIVATE KEY block is damaged"),
        "{damaged}"
    );
    assert!(!damaged.contains("does not go with"), "{damaged}");
    std::fs::write(&key, pem).expect("write");
    let mismatch = tls
        .reload(true)
        .expect_err("another pair's key")
        .to_string();
    assert!(
        mismatch.contains("does not go with the certificate"),
        "{mismatch}"
    );
}
