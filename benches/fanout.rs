//! Fan-out bench: one glint session (test pattern, 1280x720 at 60 fps, H.264) and N viewers
//! that are str0m WebRTC clients in this one process, each on its own UDP socket and thread.
//! Viewers are added in steps; at each step the bench measures, over a window, the share of the
//! frames the host encoded (once per tier) that every viewer received, and glint's CPU. It reports the largest N
//! at which every viewer still receives at least 95 % of frames, and the host CPU each added
//! viewer costs (from the first step to that N). The viewers share the machine with the host.
//!
//! Usage: `cargo run --release -p glint-benches --bin fanout -- [--steps 1,10,25,50,100]
//! [--seconds 5] [--json FILE]` (glint from `GLINT_BIN` or `target/release/glint`).
//! Prints JSON, then a table.

#[path = "cli.rs"]
mod cli;
use cli::arg;

use std::io::{BufRead, BufReader, Read};
use std::net::{IpAddr, Ipv4Addr, TcpStream, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use str0m::change::{SdpAnswer, SdpPendingOffer};
use str0m::media::{Direction, MediaKind};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, Input, Output, Rtc};

const RECEIVE_SHARE: f64 = 0.95;
const TICKS: f64 = 100.0; // USER_HZ

struct Host {
    child: Child,
    port: u16,
}

impl Drop for Host {
    fn drop(&mut self) {
        // SAFETY: signalling our own child process.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        let _ = self.child.wait();
    }
}

fn start_glint() -> Host {
    let bin = std::env::var("GLINT_BIN").unwrap_or_else(|_| "target/release/glint".into());
    let mut child = Command::new(&bin)
        .args([
            "--source",
            "testpattern",
            "--size",
            "1280x720",
            "--fps",
            "60",
            "--codec",
            "h264",
            "--listen",
            "127.0.0.1:0",
        ])
        .env("RUST_LOG", "glint=warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {bin}: {e}"));
    let stdout = child.stdout.take().expect("piped stdout");
    let mut host = Host { child, port: 0 };
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("glint prints lines");
        if let Some(url) = line.strip_prefix("glint: open http://127.0.0.1:") {
            host.port = url.trim_end_matches('/').parse().expect("a port");
            break;
        }
    }
    assert!(host.port != 0, "glint did not print its URL");
    host
}

fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(") ")
        .map(|(_, r)| r.split(' ').collect())
        .unwrap_or_default();
    let num = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (num(11) + num(12)) / TICKS
}

fn http_get(port: u16, path: &str) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("http connect");
    std::io::Write::write_all(
        &mut s,
        format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").as_bytes(),
    )
    .expect("http write");
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out.split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default()
}

/// Frames the host's encoders took: captured, less those a newer one replaced before encode.
/// Not `frames_encoded`, which counts each frame once per quality tier: viewers split over two
/// tiers (as a loaded machine's estimates can do) each got half of it, and the bench read a
/// share of 0.5 for viewers that missed nothing.
fn frames_encoded(port: u16) -> u64 {
    let body = http_get(port, "/api/stats");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
    let counter = |name: &str| v["counters"][name].as_u64().unwrap_or(0);
    counter("frames_captured").saturating_sub(counter("frames_capture_dropped"))
}

fn local_ip() -> IpAddr {
    // A non-loopback address if there is one (so ICE pairs like a LAN client), else loopback.
    UdpSocket::bind("0.0.0.0:0")
        .and_then(|s| {
            s.connect("192.0.2.255:9")?;
            s.local_addr()
        })
        .map(|a| a.ip())
        .ok()
        .filter(|ip| !ip.is_unspecified())
        .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST))
}

/// One viewer: signaling, then a receive loop counting whole frames until `stop`.
fn viewer(port: u16, frames: Arc<AtomicU64>, stop: Arc<AtomicBool>) {
    let socket = UdpSocket::bind((local_ip(), 0)).expect("viewer socket");
    let local = socket.local_addr().expect("local addr");
    let mut rtc = Rtc::builder().build(Instant::now());
    rtc.add_local_candidate(Candidate::host(local, "udp").expect("candidate"));
    let mut api = rtc.sdp_api();
    api.add_media(MediaKind::Video, Direction::RecvOnly, None, None, None);
    let (offer, pending): (_, SdpPendingOffer) = api.apply().expect("offer");
    let (mut ws, _) = tungstenite::connect(format!("ws://127.0.0.1:{port}/ws")).expect("signaling");
    let send = |ws: &mut tungstenite::WebSocket<_>, v: serde_json::Value| {
        ws.send(tungstenite::Message::text(v.to_string()))
            .expect("signaling send")
    };
    send(&mut ws, serde_json::json!({"type": "hello"}));
    send(
        &mut ws,
        serde_json::json!({"type": "offer", "sdp": offer.to_sdp_string()}),
    );
    let answer = loop {
        let msg = ws.read().expect("signaling reply");
        let v: serde_json::Value =
            serde_json::from_str(msg.to_text().unwrap_or("{}")).unwrap_or_default();
        match v["type"].as_str() {
            Some("answer") => break v["sdp"].as_str().unwrap_or_default().to_owned(),
            // The member list comes at each join: not part of the answer.
            Some("welcome" | "members" | "info" | "rejoin") => continue,
            _ => panic!("unexpected signaling reply: {v}"),
        }
    };
    rtc.sdp_api()
        .accept_answer(
            pending,
            SdpAnswer::from_sdp_string(&answer).expect("answer"),
        )
        .expect("answer accepted");
    let mut buf = vec![0u8; 2048];
    while !stop.load(Ordering::Relaxed) {
        let timeout = loop {
            match rtc.poll_output() {
                Ok(Output::Timeout(t)) => break t,
                Ok(Output::Transmit(t)) => {
                    let _ = socket.send_to(&t.contents, t.destination);
                }
                Ok(Output::Event(Event::MediaData(_))) => {
                    frames.fetch_add(1, Ordering::Relaxed);
                }
                Ok(Output::Event(_)) => {}
                Err(_) => return,
            }
        };
        let wait = timeout
            .saturating_duration_since(Instant::now())
            .clamp(Duration::from_millis(1), Duration::from_millis(50));
        let _ = socket.set_read_timeout(Some(wait));
        let input = match socket.recv_from(&mut buf) {
            Ok((n, source)) => match (&buf[..n]).try_into() {
                Ok(contents) => Input::Receive(
                    Instant::now(),
                    Receive {
                        proto: Protocol::Udp,
                        source,
                        destination: local,
                        contents,
                    },
                ),
                Err(_) => continue,
            },
            Err(_) => Input::Timeout(Instant::now()),
        };
        if rtc.handle_input(input).is_err() {
            return;
        }
    }
    let _ = ws.close(None);
}

struct Step {
    viewers: usize,
    host_frames: u64,
    min_share: f64,
    median_share: f64,
    host_cpu_pct: f64,
    bench_cpu_pct: f64,
}

fn main() {
    let steps: Vec<usize> = arg("--steps")
        .unwrap_or_else(|| "1,10,25,50,75,100,125,150".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let seconds: f64 = arg("--seconds").and_then(|s| s.parse().ok()).unwrap_or(5.0);
    let json_out = arg("--json");

    let host = start_glint();
    let pid = host.child.id();
    let stop = Arc::new(AtomicBool::new(false));
    let mut counters: Vec<Arc<AtomicU64>> = Vec::new();
    let mut threads = Vec::new();
    let mut results: Vec<Step> = Vec::new();
    let idle_t0 = Instant::now();
    let idle_c0 = cpu_seconds(pid);
    thread::sleep(Duration::from_secs(1));
    let idle_cpu_pct = 100.0 * (cpu_seconds(pid) - idle_c0) / idle_t0.elapsed().as_secs_f64();

    for &n in &steps {
        while counters.len() < n {
            let c = Arc::new(AtomicU64::new(0));
            counters.push(c.clone());
            let s = stop.clone();
            let port = host.port;
            threads.push(
                thread::Builder::new()
                    .name(format!("viewer{}", counters.len()))
                    .stack_size(256 * 1024)
                    .spawn(move || viewer(port, c, s))
                    .expect("viewer thread"),
            );
        }
        // Warm up: connections, DTLS, the first keyframe.
        thread::sleep(Duration::from_secs(3));
        let before: Vec<u64> = counters.iter().map(|c| c.load(Ordering::Relaxed)).collect();
        let f0 = frames_encoded(host.port);
        let (c0, b0, t0) = (
            cpu_seconds(pid),
            cpu_seconds(std::process::id()),
            Instant::now(),
        );
        thread::sleep(Duration::from_secs_f64(seconds));
        let wall = t0.elapsed().as_secs_f64();
        let (c1, b1) = (cpu_seconds(pid), cpu_seconds(std::process::id()));
        let f1 = frames_encoded(host.port);
        let host_frames = f1.saturating_sub(f0).max(1);
        let mut shares: Vec<f64> = counters
            .iter()
            .zip(&before)
            .map(|(c, b)| (c.load(Ordering::Relaxed) - b) as f64 / host_frames as f64)
            .collect();
        shares.sort_by(|a, b| a.total_cmp(b));
        let step = Step {
            viewers: n,
            host_frames,
            min_share: shares.first().copied().unwrap_or(0.0),
            median_share: shares[shares.len() / 2],
            host_cpu_pct: 100.0 * (c1 - c0) / wall,
            bench_cpu_pct: 100.0 * (b1 - b0) / wall,
        };
        eprintln!(
            "{n:>4} viewers: min {:.1} % of {} frames, host CPU {:.0} %",
            100.0 * step.min_share,
            step.host_frames,
            step.host_cpu_pct
        );
        let ok = step.min_share >= RECEIVE_SHARE;
        results.push(step);
        if !ok {
            break;
        }
    }
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        let _ = t.join();
    }
    drop(host);

    let best = results
        .iter()
        .filter(|s| s.min_share >= RECEIVE_SHARE)
        .map(|s| s.viewers)
        .max()
        .unwrap_or(0);
    // Marginal cost: from the first step (one encode, few viewers) to the best one.
    let first = results.first();
    let top = results.iter().rfind(|s| s.viewers == best);
    let per_viewer = match (first, top) {
        (Some(a), Some(b)) if b.viewers > a.viewers => {
            Some((b.host_cpu_pct - a.host_cpu_pct) / (b.viewers - a.viewers) as f64)
        }
        _ => None,
    };
    let json = serde_json::json!({
        "bench": "fanout",
        "session": "test pattern 1280x720 @ 60 fps, H.264",
        "seconds": seconds,
        "receive_share_required": RECEIVE_SHARE,
        "max_viewers_at_95pct": best,
        "host_idle_cpu_pct": idle_cpu_pct,
        "host_cpu_pct_per_viewer": per_viewer,
        "steps": results.iter().map(|s| serde_json::json!({
            "viewers": s.viewers,
            "host_frames": s.host_frames,
            "min_share": s.min_share,
            "median_share": s.median_share,
            "host_cpu_pct": s.host_cpu_pct,
            "bench_cpu_pct": s.bench_cpu_pct,
        })).collect::<Vec<_>>(),
    });
    println!("{json}");
    if let Some(path) = json_out {
        if let Err(e) = std::fs::write(&path, format!("{json}\n")) {
            eprintln!("cannot write {path}: {e}");
        }
    }
    println!(
        "\n{:>8} {:>12} {:>12} {:>10} {:>10}",
        "viewers", "min recv %", "median %", "host CPU %", "bench CPU %"
    );
    for s in &results {
        println!(
            "{:>8} {:>12.1} {:>12.1} {:>10.0} {:>10.0}",
            s.viewers,
            100.0 * s.min_share,
            100.0 * s.median_share,
            s.host_cpu_pct,
            s.bench_cpu_pct
        );
    }
    println!(
        "\nlargest N with every viewer ≥ 95 %: {best}; host CPU per added viewer: {} % of a core (no viewer: {idle_cpu_pct:.0} %)",
        per_viewer.map_or("—".into(), |v| format!("{v:.2}"))
    );
}
