//! Glint as an orchestrator sees it: a hot-path thread that dies ends the process with a
//! non-zero code and one line saying which and why; SIGTERM drains (pages told, exit 0 within
//! 2 s); `/readyz` answers while all is well; a start-up error is a `glint: …` line naming the
//! option, with exit 2 for a usage error and 1 for a failure at run time. Each test starts its
//! own glint on free ports and stops it by PID.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

struct Host {
    child: Child,
    port: u16,
}

impl Drop for Host {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(fault: Option<&str>) -> Host {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_glint"));
    cmd.args([
        "--source",
        "testpattern",
        "--listen",
        "127.0.0.1:0",
        "--fps",
        "30",
    ])
    .env("RUST_LOG", "glint=info")
    .env_remove("GLINT_TEST_FAULT")
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    if let Some(f) = fault {
        cmd.env("GLINT_TEST_FAULT", f);
    }
    let mut child = cmd.spawn().expect("glint starts");
    let stdout = child.stdout.take().expect("stdout is piped");
    let mut port = None;
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("glint prints lines");
        if let Some(url) = line.strip_prefix("glint: open http://127.0.0.1:") {
            port = url.trim_end_matches('/').parse().ok();
            break;
        }
    }
    Host {
        child,
        port: port.expect("glint printed its URL"),
    }
}

/// `GET path` on loopback: the status code and body.
fn get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let code = text.split(' ').nth(1)?.parse().ok()?;
    let body = text.split("\r\n\r\n").nth(1).unwrap_or_default().to_owned();
    Some((code, body))
}

/// Waits for the process to exit, at most `limit`.
fn wait_exit(host: &mut Host, limit: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Ok(Some(status)) = host.child.try_wait() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

#[test]
fn a_hot_path_thread_that_panics_ends_glint_non_zero_and_says_which() {
    let mut host = start(Some("encode:2000"));
    let ready = get(host.port, "/readyz");
    assert_eq!(ready.map(|r| r.0), Some(200), "not ready before the fault");
    // Before any page: the stats already give the screen's size (from the first capture).
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut stats = String::new();
    while !stats.contains(r#""width":1280,"height":720"#) && Instant::now() < deadline {
        stats = get(host.port, "/api/stats")
            .map(|r| r.1)
            .unwrap_or_default();
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(stats.contains(r#""width":1280,"height":720"#), "{stats}");
    assert_eq!(get(host.port, "/healthz").map(|r| r.1), Some("ok".into()));
    // A page connected meanwhile is told the host stopped, as on SIGTERM (so that it comes
    // back by itself when a supervisor restarts glint), not that the session ended.
    let url = format!("ws://127.0.0.1:{}/ws", host.port);
    let (mut ws, _) = tungstenite::connect(url).expect("signaling connects");
    ws.send(tungstenite::Message::text(r#"{"type":"hello"}"#))
        .expect("hello sent");
    let mut told = Vec::new();
    while let Ok(m) = ws.read() {
        told.push(m.to_string());
    }
    assert!(
        told.iter()
            .any(|m| m.contains(r#""type":"draining""#) && m.contains("internal error")),
        "{told:?}"
    );
    let status = wait_exit(&mut host, Duration::from_secs(15)).expect("glint exits");
    let mut stderr = String::new();
    if let Some(mut e) = host.child.stderr.take() {
        let _ = e.read_to_string(&mut stderr);
    }
    assert_eq!(status.code(), Some(1), "{stderr}");
    let said = stderr
        .lines()
        .find(|l| l.starts_with("glint: "))
        .unwrap_or_default();
    assert!(
        said.contains("the encode thread panicked: test fault"),
        "last words: {said:?}\n{stderr}"
    );
}

#[test]
fn sigterm_drains_tells_the_page_and_exits_zero_within_two_seconds() {
    let mut host = start(None);
    let url = format!("ws://127.0.0.1:{}/ws", host.port);
    let (mut ws, _) = tungstenite::connect(url).expect("signaling connects");
    ws.send(tungstenite::Message::text(r#"{"type":"hello"}"#))
        .expect("hello sent");
    let welcome = ws.read().expect("a welcome");
    assert!(welcome.to_string().contains("welcome"), "{welcome}");
    let sent = Instant::now();
    // SAFETY: signalling our own child.
    unsafe {
        libc::kill(host.child.id() as i32, libc::SIGTERM);
    }
    let mut told = None;
    while let Ok(m) = ws.read() {
        if m.to_string().contains("draining") {
            told = Some(m.to_string());
            break;
        }
    }
    let told = told.expect("the page was told the host is going");
    assert!(told.contains("shutting down"), "{told}");
    let status = wait_exit(&mut host, Duration::from_secs(5)).expect("glint exits");
    let took = sent.elapsed();
    assert_eq!(status.code(), Some(0));
    assert!(took < Duration::from_secs(2), "took {took:?} to drain");
}

/// Runs glint with `args` (test pattern, no sound) to its exit: the code and what it printed
/// on stderr. It must exit within 20 s (it is killed otherwise, and the test fails).
fn run_to_exit(args: &[&str]) -> (Option<i32>, String) {
    let child = Command::new(env!("CARGO_BIN_EXE_glint"))
        .args(["--source", "testpattern", "--no-audio"])
        .args(args)
        .env("RUST_LOG", "glint=warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("glint starts");
    // Dropped at the end: killed by PID if it is still running.
    let mut host = Host { child, port: 0 };
    let status = wait_exit(&mut host, Duration::from_secs(20));
    let mut stderr = String::new();
    if let Some(mut e) = host.child.stderr.take() {
        let _ = e.read_to_string(&mut stderr);
    }
    (status.expect("glint exits by itself").code(), stderr)
}

#[test]
fn start_up_errors_begin_with_glint_name_the_option_and_exit_by_kind() {
    // A usage error (clap's) reads like glint's own: the same prefix, exit 2.
    let (code, said) = run_to_exit(&["--fps", "500"]);
    assert_eq!(code, Some(2), "{said}");
    assert!(
        said.starts_with("glint: invalid value '500' for '--fps <FPS>': 500 is out of range"),
        "{said}"
    );
    // An unknown flag, or one missing its partner (clap's check or glint's own), is followed
    // by clap's usage line and the hint to --help.
    for (args, says) in [
        (&["--bogus"][..], "unexpected argument '--bogus'"),
        (&["--tls-cert", "c.pem"][..], "--tls-key"),
        (
            &["--viewer-password", "x"][..],
            "--viewer-password needs --password",
        ),
        // A password of spaces is no password.
        (
            &["--password", "   "][..],
            "--password must not be empty or only spaces",
        ),
        // An existing display keeps its own size.
        (
            &["--display", ":0", "--size", "800x600"][..],
            "cannot be used with",
        ),
        // A viewer must not hold the API's token.
        (
            &[
                "--password",
                "p",
                "--viewer-password",
                "v",
                "--api-token",
                "v",
            ][..],
            "--api-token must differ from --viewer-password",
        ),
    ] {
        let (code, said) = run_to_exit(args);
        assert_eq!(code, Some(2), "{said}");
        assert!(said.starts_with("glint: ") && said.contains(says), "{said}");
        assert!(said.contains("Usage: glint [OPTIONS]"), "{said}");
        assert!(
            said.contains("For more information, try '--help'."),
            "{said}"
        );
    }
    // A port another program holds is a run-time failure (exit 1) that names the option.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    let port = taken.local_addr().expect("bound").port();
    let (code, said) = run_to_exit(&["--listen", &format!("127.0.0.1:{port}")]);
    assert_eq!(code, Some(1), "{said}");
    let line = said
        .lines()
        .find(|l| l.starts_with("glint: "))
        .unwrap_or_default();
    assert!(
        line.contains("the port is in use") && line.contains("--listen"),
        "{said}"
    );
}
