use super::*;

#[test]
fn summary_percentiles() {
    let s = Summary::of((1..=100).map(|ms| ms * 1000));
    assert_eq!(s.count, 100);
    assert_eq!(s.min, 1.0);
    assert_eq!(s.max, 100.0);
    assert!((s.avg - 50.5).abs() < 1e-9);
    assert_eq!(s.p50, 51.0);
    assert_eq!(s.p95, 95.0);
    assert_eq!(s.p99, 99.0);
    assert_eq!(Summary::of(std::iter::empty()), Summary::default());
}

fn stats() -> Arc<Stats> {
    Stats::new("test".into(), 60, RateSources::default())
}

#[test]
fn the_log_line_is_made_only_while_frames_go_out() {
    let s = stats();
    assert_eq!(s.log_line(), None, "nothing recorded");
    s.record(Stage::Host, Duration::from_millis(12));
    s.sources.sent.inc();
    let line = s.log_line().expect("a frame went out");
    assert!(line.contains("host 12.00/12.00/12.00"), "{line}");
    assert_eq!(s.log_line(), None, "no frame since the last line");
    s.sources.sent.inc();
    assert!(s.log_line().is_some());
}

#[test]
fn the_window_keeps_the_newest_samples() {
    let s = stats();
    for ms in 0..(WINDOW as u64 + 100) {
        s.record(Stage::Encode, Duration::from_millis(ms));
    }
    let m = s.summary(Stage::Encode);
    assert_eq!(m.count, WINDOW);
    assert_eq!(m.min, 100.0);
}

#[test]
fn prometheus_text_and_json_come_from_one_list() {
    let mut metrics = Metrics::new();
    let captured = metrics.counter("frames_captured", "Frames captured");
    let s = Stats::new(
        "test".into(),
        60,
        RateSources {
            captured: captured.clone(),
            ..RateSources::default()
        },
    );
    s.register(&mut metrics);
    s.record(Stage::Host, Duration::from_millis(3));
    captured.inc_by(7);
    s.publish_peers(vec![PeerSnapshot {
        id: 4,
        rtt_ms: Some(2.0),
        target_kbps: Some(1500.0),
        frames_sent: 9,
        ..PeerSnapshot::default()
    }]);
    let text = metrics.encode().expect("encodes");
    assert_eq!(
        s.snapshot(&metrics).counters.get("frames_captured"),
        Some(&7)
    );
    assert!(
        text.contains("glint_stage_seconds_count{stage=\"host\"} 1"),
        "{text}"
    );
    assert!(text.contains("glint_frames_captured_total 7"), "{text}");
    assert!(
        text.contains("glint_peer_rtt_seconds{peer=\"peer4\"} 0.002"),
        "{text}"
    );
    // Every per-peer figure of /api/stats is in /metrics too.
    for line in [
        "glint_peer_target_kbps{peer=\"peer4\"} 1500",
        "glint_peer_frames_sent{peer=\"peer4\"} 9",
        "glint_peer_firs{peer=\"peer4\"} 0",
        "glint_peer_bytes_sent{peer=\"peer4\"} 0",
        "glint_sent_fps 0",
    ] {
        assert!(text.contains(line), "{line} missing from {text}");
    }
}
