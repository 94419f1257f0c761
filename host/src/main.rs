//! The composition root: parse the config, start the parts in order, stop them in reverse.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crossbeam_channel::bounded;

use glint::audio::capture as audio_capture;
use glint::audio::encode as audio_encode;
use glint::audio::pulse::{AnonymousCookie, PrivatePulse};
use glint::audio::{tone, AudioCounters, AudioError, ENCODED_AUDIO_QUEUE, RAW_QUEUE};
use glint::capture::testpattern::{Presses, TestPattern};
use glint::capture::x11::X11Capture;
use glint::capture::CaptureError;
use glint::clipboard;
use glint::config::{Config, FaultThread, Source};
use glint::display::{launch_app, DisplayError, Guarded, Keyboard, VirtualDisplay, XAuthority};
use glint::emulator::process::{CoreLinks, CoreProcessError};
use glint::emulator::{self, PadInjector, Pads};
use glint::files::FileCounters;
use glint::health::Health;
use glint::http::{self, ws::Hub, Served};
use glint::input::inject::{PatternInjector, XTestInjector};
use glint::input::{self, Injector, InputCounters, InputEcho, INPUT_QUEUE, LIFECYCLE_QUEUE};
use glint::metrics::Metrics;
use glint::net::{self, NetCounters, RtcCommand, RtcParts, COMMAND_QUEUE};
use glint::phase::FramePhase;
use glint::pipeline::{self, EncodeControl, EncodeParts, PipelineCounters, ENCODED_QUEUE};
use glint::session::{Session, SessionConfig, SessionCounters};
use glint::signal::throttle::{PerAddress, Seats, Throttle, ThrottleCounters};
use glint::signal::PasswordError;
use glint::signal::{Shutdown, SignalConfig, SignalCounters};
use glint::stats::{RateSources, Stats};
use glint::supervise::{first_cause, pages_told, shutdown_signal, tell_pages, watch, Death, End};

/// Exit code for a configuration the host cannot run with (same as a usage error).
const EXIT_CONFIG: u8 = 2;
/// Exit code when something fails at run time (display lost, port taken after start...).
const EXIT_RUNTIME: u8 = 1;
/// Seconds between two log lines of stage timings.
const STATS_LOG_EVERY: u64 = 5;
/// On SIGTERM, how long pages get to hear that the host is stopping before glint exits.
const DRAIN_GRACE: Duration = Duration::from_millis(1500);

fn main() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let worker = args.get(1).and_then(|a| a.to_str()).filter(|a| {
        [
            emulator::worker::WORKER_FLAG,
            clipboard::worker::WORKER_FLAG,
        ]
        .contains(a)
    });
    let config = if worker.is_some() {
        None
    } else {
        Some(Config::from_command_line())
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "glint=info,str0m=warn".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let Some(config) = config else {
        if worker == Some(clipboard::worker::WORKER_FLAG) {
            return clipboard::worker::main();
        }
        return emulator::worker::main(&args[2..]);
    };
    match run(config) {
        Ok(()) => ExitCode::SUCCESS,
        Err((code, message)) => {
            eprintln!("glint: {message}");
            if code == EXIT_CONFIG {
                eprintln!("{}", Config::usage_hint());
            }
            ExitCode::from(code)
        }
    }
}

type Failure = (u8, String);

fn run(config: Config) -> Result<(), Failure> {
    let cfg = |m: String| (EXIT_CONFIG, m);
    let rt_err = |m: String| (EXIT_RUNTIME, m);

    let password = glint::signal::owner_password(&config).map_err(|e| match e {
        PasswordError::Config(m) => cfg(m),
        e => rt_err(e.to_string()),
    })?;
    for warning in config.warnings() {
        tracing::warn!("{warning}");
    }

    // The virtual display gets its own PulseAudio (a null sink the app plays into), started
    // before any thread exists so its address can go into this process's environment, where
    // cpal's PulseAudio host looks for it.
    let source = if config.core.is_some() {
        Source::Emulator
    } else {
        config.source
    };
    let private_pulse = if !config.no_audio && source == Source::X11 && config.display.is_none() {
        match PrivatePulse::start() {
            Ok(p) => {
                // SAFETY (of the environment): no other thread exists yet.
                std::env::set_var("PULSE_SERVER", &p.server);
                std::env::set_var("PULSE_COOKIE", &p.cookie);
                tracing::info!(server = %p.server, pid = p.pid(), "PulseAudio started");
                Some(p)
            }
            Err(e) => {
                tracing::warn!(error = %e, "no sound for the virtual display; video continues");
                None
            }
        }
    } else {
        None
    };

    // Glint's own Xvfb admits only clients with its cookie; they find it through XAUTHORITY.
    let own_x = source == Source::X11 && config.display.is_none();
    let xauth = own_x.then(XAuthority::install).transpose();
    let xauth = xauth.map_err(|e| rt_err(e.to_string()))?;

    // A user's own PulseAudio (with --display) needs a client's cookie, new accounts lack it.
    let _anonymous_cookie = if !config.no_audio && source == Source::X11 && private_pulse.is_none()
    {
        match AnonymousCookie::if_missing() {
            Ok(Some(c)) => {
                // SAFETY (of the environment): no other thread exists yet.
                std::env::set_var("PULSE_COOKIE", c.path());
                Some(c)
            }
            Ok(None) => None,
            Err(e) => {
                tracing::warn!(error = %e, "sound may fail to connect");
                None
            }
        }
    } else {
        None
    };

    // Bind the sockets first: a taken port ends glint before anything has started.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("glint-control")
        .enable_all()
        .build()
        .map_err(|e| rt_err(format!("cannot start the control runtime: {e}")))?;
    let bind_err = |what: String, flag: &str, e: std::io::Error| {
        let (message, usage) = net::bind_failure(&what, flag, &e);
        (if usage { EXIT_CONFIG } else { EXIT_RUNTIME }, message)
    };
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind(config.listen))
        .map_err(|e| bind_err(format!("listen on {}", config.listen), "--listen", e))?;
    let listen_addr: SocketAddr = listener.local_addr().map_err(|e| rt_err(e.to_string()))?;
    let udp = format!("bind UDP port {}", config.udp_port);
    let sockets = net::bind_sockets(config.udp_port, config.listen.ip())
        .map_err(|e| bind_err(udp, "--udp-port", e))?;
    let udp_port = sockets
        .first()
        .and_then(|s| s.local_addr().ok())
        .map(|a| a.port());

    let locals = net::local_addrs(&sockets).map_err(|e| rt_err(e.to_string()))?;
    let tls = http::tls::from_config(&config, &locals).map_err(|e| cfg(e.to_string()))?;

    // Every part registers its counters here, once; /metrics and /api/stats read this list.
    let mut metrics = Metrics::new();
    let health = Arc::new(Health::default());
    let running = Arc::new(AtomicBool::new(true));
    let pipeline_counters = Arc::new(PipelineCounters::register(&mut metrics));
    let files = glint::files::Files::new(config.files(), FileCounters::register(&mut metrics))
        .map_err(|e| cfg(format!("file transfer: {e}")))?;
    let control = Arc::new(EncodeControl::new(config.bitrate));
    let spawn_err = |e: std::io::Error| rt_err(format!("cannot start a thread: {e}"));

    let echo = Arc::new(InputEcho::default());
    let phase = Arc::new(FramePhase::register(&mut metrics));
    let echo_for_input = echo.clone();

    // The source, and where input goes: a display (and the app inside it) or the pattern.
    let mut _xvfb: Option<VirtualDisplay> = None;
    let mut x_display = None; // the X display streamed, for the clipboard
    let mut _app: Option<Guarded> = None;
    // Raw sound from the source to the Opus thread (started below, when there is sound).
    let (raw_tx, raw_rx) = bounded(RAW_QUEUE);
    let mut fps = config.fps;
    let mut game = None;
    let (source_name, injector, capture): (String, Box<dyn Injector + Send>, _) = match source {
        Source::Emulator => {
            if config.source == Source::Testpattern {
                return Err(cfg("--core takes no --source testpattern".into()));
            }
            let name = config.core.clone().unwrap_or_default();
            let core = glint_emulators::resolve_core(&name).map_err(|e| cfg(e.to_string()))?;
            let rom = config.rom.clone().unwrap_or_default();
            let pads = Arc::new(Pads::default());
            let save_dir = config
                .save_dir
                .clone()
                .unwrap_or_else(emulator::default_save_dir);
            std::fs::create_dir_all(&save_dir).map_err(|e| {
                cfg(format!(
                    "cannot create the save directory {}: {e}",
                    save_dir.display()
                ))
            })?;
            let (game_tx, game_rx) = bounded(emulator::GAME_COMMANDS);
            game = Some(game_tx);
            let (wake_tx, wake_rx) = bounded(1);
            let links = CoreLinks {
                pads: pads.clone(),
                pad_changes: wake_rx,
                audio: (!config.no_audio).then(|| raw_tx.clone()),
                running: running.clone(),
                counters: pipeline_counters.clone(),
                echo: echo.clone(),
                commands: game_rx,
                phase: phase.clone(),
            };
            let (capture, timing) = emulator::process::spawn(&core, &rom, &save_dir, links)
                .map_err(|e| match e {
                    CoreProcessError::Spawn(_) => rt_err(e.to_string()),
                    _ => cfg(e.to_string()),
                })?;
            fps = timing.fps.round().clamp(1.0, 240.0) as u32;
            (
                format!("{name} playing {}", rom.display()),
                Box::new(PadInjector::new(pads).with_wake(wake_tx)),
                capture,
            )
        }
        Source::Testpattern => {
            let (w, h) = (u32::from(config.size.0), u32::from(config.size.1));
            let presses = Presses::default();
            drop(TestPattern::new(w, h, presses.clone()).map_err(|e| cfg(e.to_string()))?);
            let for_capture = presses.clone();
            let capture = pipeline::spawn_capture(
                config.fps,
                move || TestPattern::new(w, h, for_capture.clone()),
                running.clone(),
                pipeline_counters.clone(),
                echo.clone(),
                phase.clone(),
                control.clone(),
            )
            .map_err(spawn_err)?;
            (
                format!("test pattern {w}x{h}"),
                Box::new(PatternInjector { presses }),
                capture,
            )
        }
        Source::X11 => {
            let display_name = match &config.display {
                Some(d) => d.clone(),
                None => {
                    let (w, h) = config.size;
                    let auth = xauth.as_ref().ok_or_else(|| rt_err("no X cookie".into()))?;
                    let v = VirtualDisplay::start(w, h, auth, config.keyboard_layout.as_ref())
                        .map_err(|e| match e {
                            DisplayError::UnknownLayout { .. } => cfg(e.to_string()),
                            e => rt_err(e.to_string()),
                        })?;
                    tracing::info!(display = %v.name, pid = v.pid(), "virtual display started");
                    let name = v.name.clone();
                    _xvfb = Some(v);
                    name
                }
            };
            if let Some(cmd) = &config.app {
                let pulse = private_pulse.as_ref().map(|p| p.server.as_str());
                _app =
                    Some(launch_app(cmd, &display_name, pulse).map_err(|e| rt_err(e.to_string()))?);
            }
            // Probe the display once: a bad --display is a clear error, not a dead thread.
            drop(X11Capture::open(&display_name).map_err(|e| cfg(e.to_string()))?);
            let injector = XTestInjector::open(&display_name).map_err(|e| cfg(e.to_string()))?;
            let for_capture = display_name.clone();
            x_display = Some(display_name.clone());
            let capture = pipeline::spawn_capture(
                config.fps,
                move || X11Capture::open(&for_capture),
                running.clone(),
                pipeline_counters.clone(),
                echo.clone(),
                phase.clone(),
                control.clone(),
            )
            .map_err(spawn_err)?;
            (
                format!("display {display_name}"),
                Box::new(injector),
                capture,
            )
        }
    };

    let fault = |thread: FaultThread| {
        config
            .test_fault
            .filter(|f| f.thread == thread)
            .map(|f| std::time::Instant::now() + f.after)
    };
    // Hot-path threads, watched: any that ends while glint runs ends glint (see `watch`).
    let mut threads: Vec<(&'static str, std::thread::JoinHandle<()>)> = Vec::new();

    let (input_tx, input_rx) = bounded(INPUT_QUEUE);
    let (lifecycle_tx, lifecycle_rx) = bounded(LIFECYCLE_QUEUE);
    let input_counters = Arc::new(InputCounters::register(&mut metrics));
    let ic = input_counters.clone();
    let input_fault = fault(FaultThread::Input);
    let (cmd_tx, cmd_rx) = bounded(COMMAND_QUEUE);
    let (mut room, room_rx) = input::room(input::roles::RoomConfig::from_config(&config));
    (room.pointers, room.clipboard_for) = (!config.no_pointers, config.clipboard_for);
    let seats = Seats::new(config.max_peers as usize);
    room.on_let_go = Some(seats.freed_on_let_go());
    let linked = x_display.filter(|_| !config.no_clipboard).map(|d| {
        clipboard::link(&d, input_tx.clone(), cmd_tx.clone())
            .inspect_err(|e| tracing::warn!(error = %e, "the clipboard is not shared"))
    });
    let _clipboard = linked
        .and_then(Result::ok)
        .map(|(c, l)| (c, room.clipboard = Some(l)));
    let input_thread = std::thread::Builder::new()
        .name("glint-input".into())
        .spawn(move || {
            if let Some(at) = input_fault {
                std::thread::sleep(at.saturating_duration_since(std::time::Instant::now()));
                panic!("test fault (--test-fault input)");
            }
            input::run(lifecycle_rx, input_rx, injector, ic, echo_for_input, room)
        })
        .map_err(spawn_err)?;
    threads.push(("input", input_thread));

    let (encoded_tx, encoded_rx) = bounded(ENCODED_QUEUE);
    let encode_thread = pipeline::spawn_encode(
        capture.frames,
        capture.pool,
        encoded_tx,
        EncodeParts {
            fps,
            control: control.clone(),
            counters: pipeline_counters.clone(),
            health: health.clone(),
            fault_at: fault(FaultThread::Encode),
        },
    )
    .map_err(spawn_err)?;
    threads.push(("encode", encode_thread));

    // Sound: the test pattern's tone, or PulseAudio through cpal; none is a warning only.
    let audio_counters = Arc::new(AudioCounters::register(&mut metrics));
    let (audio_tx, audio_rx) = bounded(ENCODED_AUDIO_QUEUE);
    // Kept for the life of the process, so the rtc thread's audio queue never disconnects.
    let _audio_keepalive = audio_tx.clone();
    let mut has_sound = false;
    let sound = if config.no_audio {
        "off (--no-audio)".to_owned()
    } else {
        let started = match source {
            Source::Emulator => Ok("the core's sound".to_owned()),
            Source::Testpattern => tone::start(raw_tx, running.clone(), audio_counters.clone())
                .map(|_| "the test pattern's beep".to_owned())
                .map_err(|e| AudioError::Open(e.to_string())),
            Source::X11 => audio_capture::start(
                config.audio.clone(),
                raw_tx,
                running.clone(),
                audio_counters.clone(),
                control.clone(),
            )
            .map(|_| match (&config.audio, &private_pulse) {
                (Some(device), _) => device.clone(),
                (None, Some(_)) => "the virtual display's own sink (glint) monitor".into(),
                (None, None) => "the default sink's monitor".into(),
            }),
        };
        match started {
            Ok(what) => {
                let (stale, counters, kbps, rate) = (
                    audio_rx.clone(),
                    audio_counters.clone(),
                    config.audio_bitrate,
                    control.audio_kbps.clone(),
                );
                let opus = std::thread::Builder::new()
                    .name("glint-opus".into())
                    .spawn(move || audio_encode::run(raw_rx, audio_tx, stale, kbps, rate, counters))
                    .map_err(spawn_err)?;
                threads.push(("opus", opus));
                has_sound = true;
                what
            }
            Err(e) => {
                tracing::warn!(error = %e, "no sound; video continues");
                format!("none ({e})")
            }
        }
    };

    let session_counters = SessionCounters::register(&mut metrics);
    let signal_counters = SignalCounters::register(&mut metrics);
    let guard_counters = http::guard::GuardCounters::register(&mut metrics);
    let throttle_counters = ThrottleCounters::register(&mut metrics);
    let stats = Stats::new(
        source_name.clone(),
        fps,
        RateSources::new(&pipeline_counters, session_counters.frames_sent.clone()),
    );
    stats.register(&mut metrics);
    let net_counters = NetCounters::register(&mut metrics);

    let (now, wall) = net::clock_anchor();
    let session_config = SessionConfig::from_config(&config, locals.clone());
    let session = Session::new(session_config, session_counters, now, wall);
    let rtc_thread = net::spawn(
        sockets,
        RtcParts {
            session,
            commands: cmd_rx,
            frames: encoded_rx,
            audio: audio_rx,
            input: input_tx,
            lifecycle: lifecycle_tx.clone(),
            input_dropped: input_counters.dropped_full.clone(),
            control,
            room: room_rx.clone(),
            counters: net_counters,
            stats: stats.clone(),
            ice_servers: config.ice_servers.clone(),
        },
    )
    .map_err(spawn_err)?;
    threads.push(("rtc", rtc_thread));

    let (shutdown_tx, shutdown_rx) = tokio::sync::watch::channel(None);
    let hub = Arc::new(Hub {
        config: SignalConfig {
            password: password.clone(),
            viewer_password: config.viewer_password.clone(),
            audio: has_sound,
            pixelated: source == Source::Emulator,
            game: game.is_some(),
            ice: config.ice_servers().unwrap_or_default(),
            max_kbps: config.bitrate,
        },
        counters: signal_counters,
        commands: cmd_tx.clone(),
        input: lifecycle_tx.clone(),
        room: room_rx,
        game,
        next_peer: AtomicU64::new(1),
        shutdown: shutdown_rx,
        phase: phase.clone(),
        throttle: Arc::new(std::sync::Mutex::new(Throttle::new(throttle_counters))),
        sockets: PerAddress::new(http::ws::MAX_SOCKETS_PER_ADDRESS),
        seats,
        files: files.map(Arc::new),
        app_ended: _app.as_ref().map(Guarded::ended),
        keyboard: _xvfb.as_ref().zip(xauth.as_ref()).map(|(v, a)| {
            Arc::new(Keyboard::new(
                &v.name,
                a.path(),
                config.keyboard_layout.clone(),
            ))
        }),
    });
    let metrics = Arc::new(metrics);

    let urls_with = |pw: &Option<String>| {
        let here = http::page_urls(tls.is_some(), listen_addr, config.public_ip, &locals, pw);
        http::through_proxies(config.proxy_origins(), here, pw).join(" or, ")
    };
    let port = udp_port.unwrap_or(0);
    println!("glint: streaming {source_name} (UDP port {port})");
    println!("glint: sound: {sound}");
    if let Some(server) = private_pulse.as_ref().map(|p| &p.server) {
        println!("glint: the virtual display plays into PULSE_SERVER={server}");
    }
    if let Some(auth) = xauth.as_ref().map(|a| a.path().display()) {
        println!("glint: X clients of the virtual display need XAUTHORITY={auth}");
    }
    println!("glint: open {}", urls_with(&password));
    if config.viewer_password.is_some() {
        println!("glint: viewers open {}", urls_with(&config.viewer_password));
    }
    if let Some(tls) = &tls {
        println!(
            "glint: TLS certificate SHA-256 fingerprint {}",
            tls.fingerprint()
        );
    }

    let served = Served {
        hub,
        stats: stats.clone(),
        metrics,
        health: health.clone(),
        password: password.clone(),
        api_token: config.api_token.clone().filter(|t| !t.is_empty()),
        web_dir: config.web_dir.clone(),
        programs: !config.no_api,
    };
    // Every hot-path thread, the capture first, is watched: the first to end ends glint.
    let (deaths_tx, deaths) = tokio::sync::mpsc::channel::<Death>(8);
    let capture_ended = |end| match end {
        pipeline::CaptureEnd::Failed(CaptureError::CoreDied(why)) => End::Source(why),
        pipeline::CaptureEnd::Failed(e) => End::Source(format!("capture stopped: {e}")),
        pipeline::CaptureEnd::Stopped => End::Stopped,
    };
    let capture_thread = capture.handle;
    watch(
        "capture",
        capture_thread,
        capture_ended,
        deaths_tx.clone(),
        running.clone(),
    );
    for (name, handle) in threads {
        watch(
            name,
            handle,
            |()| End::Stopped,
            deaths_tx.clone(),
            running.clone(),
        );
    }
    let outcome = runtime.block_on(async move {
        tokio::spawn(glint::stats::ticker(stats, STATS_LOG_EVERY));
        let (stop_server, server_stopped) = tokio::sync::oneshot::channel::<()>();
        if let Some(tls) = &tls {
            tokio::spawn(http::tls::watch(tls.clone(), std::future::pending()));
        }
        let door = http::front::Door::new(&config, guard_counters, tls);
        let server = tokio::spawn(http::serve(listener, served, door, async {
            let _ = server_stopped.await;
        }));
        let mut deaths = deaths;
        let result = tokio::select! {
            _ = shutdown_signal() => {
                // Drain: no new peers, every page told, every peer's held input released.
                tracing::info!("draining");
                health.drain();
                let why = Shutdown::Draining("the host is shutting down".into());
                shutdown_tx.send_replace(Some(why));
                let (done, drained) = tokio::sync::oneshot::channel();
                if cmd_tx.try_send(RtcCommand::Drain { done }).is_ok() {
                    let _ = tokio::time::timeout(DRAIN_GRACE, drained).await;
                }
                tell_pages(&shutdown_tx, Duration::from_millis(300)).await;
                Ok(())
            }
            Some(first) = deaths.recv() => {
                // One thread's end ends those downstream of it (the encoder stops when the
                // capture's queue closes, the rtc thread when the encoder's does): gather what
                // ends together and name the cause.
                let mut ends = vec![first];
                let settle = tokio::time::sleep(Duration::from_millis(200));
                tokio::pin!(settle);
                loop {
                    tokio::select! {
                        Some(d) = deaths.recv() => ends.push(d),
                        _ = &mut settle => break,
                    }
                }
                if ends.iter().any(|(name, _)| *name == "rtc") {
                    health.rtc_stopped();
                }
                if ends.iter().any(|(name, _)| *name == "capture") {
                    health.source_stopped();
                }
                let why = first_cause(&ends).unwrap_or_else(|| "a thread stopped".into());
                tracing::error!(cause = %why, "ending: a hot-path thread ended");
                shutdown_tx.send_replace(Some(pages_told(&ends, why.clone())));
                tell_pages(&shutdown_tx, Duration::from_secs(2)).await;
                Err(why)
            }
        };
        let _ = stop_server.send(());
        let _ = tokio::time::timeout(Duration::from_millis(300), server).await;
        result
    });
    running.store(false, Ordering::Relaxed);
    tracing::info!("shutting down");
    outcome.map_err(rt_err)
    // _app, then _xvfb, are dropped here: stopped in reverse order of start.
}
