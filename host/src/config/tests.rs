//! The command line's parsing and checks, on argument lists alone.

use super::*;

#[test]
fn defaults_match_the_documented_contract() {
    let c = Config::try_parse_from(["glint"]).expect("defaults parse");
    assert_eq!(c.size, (1280, 720));
    assert_eq!(c.fps, 60);
    assert_eq!(c.codec, CodecChoice::Auto);
    assert_eq!(c.source, Source::X11);
    assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
    assert!(c.loopback_only());
    assert!(
        !c.tls_enabled(),
        "loopback needs no flag and no certificate"
    );
    let wide = Config::try_parse_from(["glint", "--listen", "0.0.0.0:8080"]).expect("parses");
    assert!(wide.tls_enabled(), "beyond loopback HTTPS is the default");
    let off = Config::try_parse_from(["glint", "--listen", "0.0.0.0:8080", "--tls", "off"])
        .expect("parses");
    assert!(!off.tls_enabled());
}

#[test]
fn bad_values_are_refused() {
    for args in [
        &["glint", "--fps", "0"][..],
        &["glint", "--size", "1281x720"],
        &["glint", "--size", "big"],
        &["glint", "--codec", "mpeg2"],
        &["glint", "--listen", "nowhere"],
        &["glint", "--bitrate", "5"],
        &["glint", "--source", "webcam"],
        &["glint", "--audio", "x", "--no-audio"],
        &["glint", "--audio-bitrate", "5"],
        &["glint", "--public-ip", "0.0.0.0"],
        &["glint", "--public-ip", "127.0.0.1"],
        &["glint", "--public-ip", "::1"],
        &["glint", "--public-ip", "239.1.2.3"],
        &["glint", "--public-ip", "notanip"],
        &["glint", "--core", "nestopia"],
        &["glint", "--rom", "x.nes"],
        &[
            "glint",
            "--core",
            "nestopia",
            "--rom",
            "x.nes",
            "--display",
            ":0",
        ],
        &["glint", "--source", "emulator"],
        // Flags that would have no effect with the others given.
        &[
            "glint",
            "--turn-secret",
            "s",
            "--turn-ttl",
            "18446744073709551615",
        ],
        &["glint", "--turn-secret", "s", "--turn-ttl", "2592001"],
        &["glint", "--no-clipboard", "--clipboard-for", "everyone"],
        &["glint", "--guests", "owner", "--password", "p"],
        &["glint", "--tls-cert", "c.pem"],
        &["glint", "--tls-key", "k.pem"],
        &["glint", "--tls", "maybe"],
        &["glint", "--max-peers", "0"],
        &["glint", "--allowed-host", "desk.example.com:443"],
        &["glint", "--allowed-host", "https://desk.example.com"],
        &["glint", "--allowed-host", ".."],
        &["glint", "--allowed-host", "-"],
        &["glint", "--allowed-host", &"a".repeat(300)],
        &["glint", "--public-ip", "fe80::1"],
        &["glint", "--public-ip", "169.254.3.4"],
        &["glint", "--listen", "[fe80::1]:8443"],
        &["glint", "--listen", "[fe80::1%eth0]:8443"],
        &["glint", "--listen", "[::1]"],
        &["glint", "--listen", "[ff02::1]:8443"],
    ] {
        assert!(Config::try_parse_from(args).is_err(), "{args:?} accepted");
    }
}

#[test]
fn keyboard_layouts_are_xkb_names_and_not_for_a_users_display() {
    assert_eq!(
        parse_layout("fr"),
        Ok(KeyboardLayout {
            layout: "fr".into(),
            variant: None
        })
    );
    assert_eq!(
        parse_layout("us:intl"),
        Ok(KeyboardLayout {
            layout: "us".into(),
            variant: Some("intl".into())
        })
    );
    for bad in [
        "",
        "FR",
        "fr:",
        "fr;rm -rf",
        "-layout",
        "fr:-x",
        ":x",
        "a b",
    ] {
        assert!(parse_layout(bad).is_err(), "{bad}");
    }
    let long = parse_layout(&"x".repeat(5000)).expect_err("too long");
    assert!(long.len() < 200, "{long}");
    assert!(
        Config::try_parse_from(["glint", "--keyboard-layout", "fr", "--display", ":0"]).is_err()
    );
}

#[test]
fn turn_ttl_needs_the_turn_secret_even_beside_fixed_credentials() {
    let check = |args: &[&str]| {
        let args = ["glint", "--ice-server", "turn:127.0.0.1:3478"]
            .iter()
            .chain(args);
        Config::try_parse_from(args)
            .map_err(|e| e.to_string())?
            .check()
    };
    let fixed = ["--ice-username", "a", "--ice-credential", "b"];
    assert_eq!(check(&fixed), Ok(()));
    let e = check(&[&fixed[..], &["--turn-ttl", "600"]].concat()).expect_err("refused");
    assert!(e.contains("--turn-ttl needs --turn-secret"), "{e}");
    assert_eq!(check(&["--turn-secret", "s", "--turn-ttl", "600"]), Ok(()));
    // Alone, the same words.
    let alone = Config::try_parse_from(["glint", "--turn-ttl", "600"]).expect("parses");
    let e = alone.check().expect_err("refused");
    assert!(e.contains("--turn-ttl needs --turn-secret"), "{e}");
}

#[test]
fn the_save_dir_comes_with_a_game() {
    let check = |args: &[&str]| {
        let args = ["glint", "--save-dir", "/tmp/saves"].iter().chain(args);
        Config::try_parse_from(args)
            .map_err(|e| e.to_string())?
            .check()
    };
    let e = check(&[]).expect_err("refused");
    assert!(
        e.contains("--save-dir is where games' states go: it needs --core and --rom"),
        "{e}"
    );
    assert_eq!(
        check(&["--core", "nestopia", "--rom", "/tmp/a.nes"]),
        Ok(())
    );
}

#[test]
fn the_test_pattern_takes_no_display_app_or_layout() {
    let check = |args: &[&str]| {
        let args = ["glint", "--source", "testpattern"].iter().chain(args);
        Config::try_parse_from(args).expect("parses").check()
    };
    assert_eq!(check(&[]), Ok(()));
    for extra in [
        &["--display", ":0"][..],
        &["--app", "xterm"],
        &["--keyboard-layout", "fr"],
    ] {
        let e = check(extra).expect_err("refused");
        assert!(e.contains("testpattern takes no"), "{extra:?}: {e}");
    }
}

/// Every flag of glint's that the README documents is in `--help` (none hidden): `--web-dir`
/// was documented and hidden. Only test hooks stay hidden, and the README does not name them.
#[test]
fn every_flag_the_readme_names_is_in_the_help() {
    use clap::CommandFactory;
    let readme = include_str!("../../../README.md");
    let mut named = 0;
    for arg in Config::command().get_arguments() {
        let Some(long) = arg.get_long() else { continue };
        let flag = format!("--{long}");
        let in_readme = readme.match_indices(&flag).any(|(i, _)| {
            !readme[i + flag.len()..].starts_with(|c: char| c.is_ascii_alphanumeric() || c == '-')
        });
        if in_readme {
            named += 1;
            assert!(
                !arg.is_hide_set(),
                "{flag} is in the README but hidden from --help"
            );
        }
    }
    assert!(named > 20, "only {named} flags found in the README");
}

/// `--web-dir` must name the page's directory: a wrong path was taken, and every route then
/// answered 404 `no such route`.
#[test]
fn web_dir_names_a_directory_with_the_page() {
    let checkout = concat!(env!("CARGO_MANIFEST_DIR"), "/../web-client");
    let ok = Config::try_parse_from(["glint", "--web-dir", checkout]).expect("parses");
    assert_eq!(ok.check(), Ok(()));
    for wrong in ["/nonexistent", env!("CARGO_MANIFEST_DIR")] {
        let c = Config::try_parse_from(["glint", "--web-dir", wrong]).expect("parses");
        let e = c.check().expect_err(wrong);
        assert!(e.contains("no index.html there"), "{e}");
    }
}
