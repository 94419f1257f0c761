//! Criterion micro-benchmarks of the host's hot path, on test-pattern frames (a moving scene):
//! colour conversion, encode per frame per codec and preset at 1280x720 and 1920x1080, input
//! packet decode, and packetization (str0m write + SRTP + every datagram out) to one
//! connected peer.
//!
//! `cargo bench -p glint-benches --bench micro`, then `node benches/criterion-summary.mjs`
//! prints the medians as JSON and a table.

use std::hint::black_box;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use glint::capture::testpattern::{Presses, TestPattern};
use glint::capture::{Capture, Frame};
use glint::encode::convert::Converter;
use glint::encode::{self, vpx, x264, Codec, EncoderSettings};
use glint::input::sender::Sender;
use glint::input::wire;
use str0m::change::SdpOffer;
use str0m::media::{Direction, MediaKind, MediaTime, Mid};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, Input, Output, Rtc, RtcConfig};

const SIZES: [(u32, u32); 2] = [(1280, 720), (1920, 1080)];

/// `n` consecutive test-pattern frames of the given size.
fn frames(width: u32, height: u32, n: usize) -> Vec<Frame> {
    let mut pattern = TestPattern::new(width, height, Presses::default()).expect("pattern size");
    (0..n as u64)
        .map(|seq| {
            let mut data = Vec::new();
            pattern.grab(&mut data).expect("pattern draws");
            let now = Instant::now();
            Frame {
                data,
                width,
                height,
                stride: width as usize * 4,
                captured_at: now,
                grabbed_at: now,
                seq,
                input_echo: Arc::default(),
            }
        })
        .collect()
}

fn convert(c: &mut Criterion) {
    let mut g = c.benchmark_group("convert_bgrx_to_i420");
    for (w, h) in SIZES {
        let fs = frames(w, h, 4);
        let mut conv = Converter::new(w, h, w, h).expect("converter");
        let mut i = 0;
        g.bench_function(BenchmarkId::from_parameter(format!("{w}x{h}")), |b| {
            b.iter(|| {
                i = (i + 1) % fs.len();
                conv.run(black_box(&fs[i])).expect("convert");
            })
        });
    }
    g.finish();
}

fn encode_frames(c: &mut Criterion) {
    let mut g = c.benchmark_group("encode_per_frame");
    g.sample_size(30);
    g.measurement_time(Duration::from_secs(4));
    for (w, h) in SIZES {
        let fs = frames(w, h, 60);
        let settings = EncoderSettings {
            width: w,
            height: h,
            fps: 60,
            bitrate_kbps: 8000,
            scale: encode::Scale::FULL,
        };
        let mut variants = Vec::new();
        for preset in ["ultrafast", "superfast"] {
            let mut b = x264::backend(&settings);
            for (k, v) in b.options.iter_mut() {
                if *k == "preset" {
                    *v = preset.to_owned();
                }
            }
            variants.push((format!("h264-{preset}"), Codec::H264, b));
        }
        for cpu_used in ["16", "8"] {
            let mut b = vpx::backend(&settings);
            for (k, v) in b.options.iter_mut() {
                if *k == "cpu-used" {
                    *v = cpu_used.to_owned();
                }
            }
            variants.push((format!("vp8-cpu{cpu_used}"), Codec::Vp8, b));
        }
        for (name, codec, backend) in variants {
            let mut enc = encode::open_backend(codec, backend, settings).expect("encoder opens");
            let mut i = 0;
            g.bench_function(BenchmarkId::new(name, format!("{w}x{h}")), |b| {
                b.iter(|| {
                    i = (i + 1) % fs.len();
                    black_box(enc.encode(&fs[i], false).expect("encode"));
                })
            });
        }
    }
    g.finish();
}

/// H.264 at 720p on each rung of the resolution ladder: conversion, scaling and encoding of
/// one frame (the scaling's cost against the smaller picture's cheaper encode).
fn encode_rungs(c: &mut Criterion) {
    let mut g = c.benchmark_group("encode_per_frame_by_rung");
    g.sample_size(30);
    g.measurement_time(Duration::from_secs(4));
    let fs = frames(1280, 720, 60);
    for scale in encode::Scale::RUNGS {
        let settings = EncoderSettings {
            width: 1280,
            height: 720,
            fps: 60,
            bitrate_kbps: 2000,
            scale,
        };
        let (w, h) = scale.picture(1280, 720);
        let mut enc = encode::open(Codec::H264, settings).expect("encoder opens");
        let mut i = 0;
        g.bench_function(BenchmarkId::new("h264", format!("{w}x{h}")), |b| {
            b.iter(|| {
                i = (i + 1) % fs.len();
                black_box(enc.encode(&fs[i], false).expect("encode"));
            })
        });
    }
    g.finish();
}

fn input_decode(c: &mut Criterion) {
    // A busy packet: pointer, two held keys, one held button, three edge events.
    let mut s = Sender::new();
    s.pointer(640, 360);
    s.key(0x04, true);
    s.key(0x05, true);
    s.button(0, true);
    s.key(0x06, true);
    s.key(0x06, false);
    let bytes = wire::encode(&s.packet(1234));
    c.bench_function("input_decode", |b| {
        b.iter(|| black_box(wire::decode(black_box(&bytes)).expect("decodes")))
    });
}

/// A host `Rtc` (configured like glint's) connected in memory to a client `Rtc`.
struct Pair {
    host: Rtc,
    client: Rtc,
    host_addr: SocketAddr,
    client_addr: SocketAddr,
    mid: Mid,
}

impl Pair {
    fn new() -> Pair {
        let now = Instant::now();
        let host_addr: SocketAddr = "10.0.0.1:5000".parse().expect("addr");
        let client_addr: SocketAddr = "10.0.0.2:6000".parse().expect("addr");
        let mut client = Rtc::builder().build(now);
        client.add_local_candidate(Candidate::host(client_addr, "udp").expect("candidate"));
        let mut api = client.sdp_api();
        let mid = api.add_media(MediaKind::Video, Direction::RecvOnly, None, None, None);
        let (offer, pending) = api.apply().expect("offer");
        let mut host = RtcConfig::new()
            .set_ice_lite(true)
            .clear_codecs()
            .enable_h264(true)
            .build(now);
        host.add_local_candidate(Candidate::host(host_addr, "udp").expect("candidate"));
        let offer = SdpOffer::from_sdp_string(&offer.to_sdp_string()).expect("offer parses");
        let answer = host.sdp_api().accept_offer(offer).expect("answer");
        client
            .sdp_api()
            .accept_answer(pending, answer)
            .expect("answer accepted");
        let mut pair = Pair {
            host,
            client,
            host_addr,
            client_addr,
            mid,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut connected = false;
        while !connected && Instant::now() < deadline {
            connected |= pair.pump();
        }
        assert!(connected, "the in-memory pair did not connect");
        pair
    }

    /// Moves every pending datagram across; true once the host reports `Connected`.
    fn pump(&mut self) -> bool {
        let mut connected = false;
        let now = Instant::now();
        for side in 0..2 {
            let (from, to, src, dst) = if side == 0 {
                (
                    &mut self.host,
                    &mut self.client,
                    self.host_addr,
                    self.client_addr,
                )
            } else {
                (
                    &mut self.client,
                    &mut self.host,
                    self.client_addr,
                    self.host_addr,
                )
            };
            loop {
                match from.poll_output().expect("poll") {
                    Output::Timeout(_) => break,
                    Output::Transmit(t) => {
                        let r = Receive {
                            proto: Protocol::Udp,
                            source: src,
                            destination: dst,
                            contents: (&*t.contents).try_into().expect("datagram"),
                        };
                        let _ = to.handle_input(Input::Receive(now, r));
                    }
                    Output::Event(Event::Connected) => connected |= side == 0,
                    Output::Event(_) => {}
                }
            }
            let _ = from.handle_input(Input::Timeout(now));
        }
        connected
    }

    /// Writes one access unit on the host and drains every datagram it makes; returns them.
    fn send(&mut self, data: &Arc<[u8]>, rtp: u64) -> usize {
        let now = Instant::now();
        let pt = {
            let writer = self.host.writer(self.mid).expect("writer");
            let pt = writer.payload_params().next().expect("a codec").pt();
            pt
        };
        let writer = self.host.writer(self.mid).expect("writer");
        writer
            .write(pt, now, MediaTime::from_90khz(rtp), data.clone())
            .expect("write");
        let _ = self.host.handle_input(Input::Timeout(now));
        let mut n = 0;
        loop {
            match self.host.poll_output().expect("poll") {
                Output::Timeout(_) => return n,
                Output::Transmit(t) => {
                    n += 1;
                    black_box(t);
                }
                Output::Event(_) => {}
            }
        }
    }
}

fn packetize(c: &mut Criterion) {
    let mut g = c.benchmark_group("packetize_srtp_send");
    let settings = EncoderSettings {
        width: 1280,
        height: 720,
        fps: 60,
        bitrate_kbps: 8000,
        scale: encode::Scale::FULL,
    };
    let fs = frames(1280, 720, 3);
    let mut enc = encode::open(Codec::H264, settings).expect("encoder");
    let key = enc.encode(&fs[0], true).expect("encode").data;
    let delta = enc.encode(&fs[1], false).expect("encode").data;
    let mut pair = Pair::new();
    // The peer gets a keyframe first, as glint does.
    let mut rtp = 0u64;
    pair.send(&key, rtp);
    for (name, data) in [("keyframe-720p", &key), ("delta-720p", &delta)] {
        let bytes = data.len();
        g.bench_function(BenchmarkId::new(name, format!("{bytes}B")), |b| {
            b.iter(|| {
                rtp += 1500;
                black_box(pair.send(data, rtp))
            })
        });
        // Let the client acknowledge (receiver reports) so the host's buffers stay bounded.
        pair.pump();
    }
    g.finish();
}

criterion_group!(
    micro,
    convert,
    encode_frames,
    encode_rungs,
    input_decode,
    packetize
);
criterion_main!(micro);
