//! Supervision of the hot-path threads: each is watched, and its end (a return or a panic)
//! while glint runs is reported with the thread's name and why, so that the composition root
//! can end the process loudly instead of serving a dead stream.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// How a watched thread ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    /// The source is gone (display lost, core crashed): the message for the pages as is.
    Source(String),
    Panicked(String),
    /// It returned while glint was running (usually because a queue it reads closed).
    Stopped,
}

/// A thread's end, with its short name (`encode`, `rtc`, …).
pub type Death = (&'static str, End);

/// Watches a hot-path thread: when it ends while glint is running, sends which and how on
/// `deaths`; `ended` says how from what the thread returned.
pub fn watch<T: Send + 'static>(
    name: &'static str,
    handle: std::thread::JoinHandle<T>,
    ended: impl FnOnce(T) -> End + Send + 'static,
    deaths: tokio::sync::mpsc::Sender<Death>,
    running: Arc<AtomicBool>,
) {
    let watcher = std::thread::Builder::new()
        .name(format!("glint-watch-{name}"))
        .spawn(move || {
            let end = match handle.join() {
                Ok(v) => ended(v),
                Err(panic) => End::Panicked(panic_message(&*panic)),
            };
            if running.load(Ordering::Relaxed) {
                let _ = deaths.blocking_send((name, end));
            }
        });
    if let Err(e) = watcher {
        tracing::warn!(error = %e, thread = name, "cannot watch a thread");
    }
}

/// Of several threads that ended about together, the one that explains the others, as one
/// line: a lost source first (everything downstream of it stops), then a panic, then the first
/// to stop.
pub fn first_cause(ends: &[Death]) -> Option<String> {
    let rank = |e: &End| match e {
        End::Source(_) => 0,
        End::Panicked(_) => 1,
        End::Stopped => 2,
    };
    let (name, end) = ends.iter().min_by_key(|(_, e)| rank(e))?;
    Some(match end {
        End::Source(why) => why.clone(),
        End::Panicked(m) => format!("the {name} thread panicked: {m}"),
        End::Stopped => format!("the {name} thread stopped"),
    })
}

/// What pages are told when threads end: a lost source ends the session for them; anything
/// else is the host's fault, and a supervisor may restart it, so they are told the host
/// stopped (`draining`, no internals) and come back by themselves.
pub fn pages_told(ends: &[Death], why: String) -> crate::signal::Shutdown {
    if ends.iter().any(|(_, e)| matches!(e, End::Source(_))) {
        crate::signal::Shutdown::Ended(why)
    } else {
        crate::signal::Shutdown::Draining("the host stopped on an internal error".into())
    }
}

/// The message of a panic payload (`panic!` with a literal or a formatted string).
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".into())
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {},
        _ = term.recv() => {},
    }
}

/// Gives the signaling sockets a moment to send the end of the session: each one drops its
/// receiver once it has said so.
pub async fn tell_pages(
    ended: &tokio::sync::watch::Sender<Option<crate::signal::Shutdown>>,
    within: std::time::Duration,
) {
    let deadline = tokio::time::Instant::now() + within;
    // One receiver stays in `Signal` itself, for as long as the server runs.
    while ended.receiver_count() > 1 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_is_reported_with_its_message_and_a_quiet_stop_only_while_running() {
        let (tx, mut rx) = tokio::sync::mpsc::channel(4);
        let running = Arc::new(AtomicBool::new(true));
        let stopped = |()| End::Stopped;
        let h = std::thread::spawn(|| panic!("boom {}", 7));
        watch("encode", h, stopped, tx.clone(), running.clone());
        assert_eq!(
            rx.blocking_recv(),
            Some(("encode", End::Panicked("boom 7".into())))
        );
        let h = std::thread::spawn(|| {});
        watch("input", h, stopped, tx.clone(), running.clone());
        assert_eq!(rx.blocking_recv(), Some(("input", End::Stopped)));
        // Once glint is stopping, threads ending is expected: nothing is reported.
        running.store(false, Ordering::Relaxed);
        let h = std::thread::spawn(|| {});
        watch("opus", h, stopped, tx, running);
        assert_eq!(rx.blocking_recv(), None);
    }

    #[test]
    fn the_cause_is_named_not_what_stopped_because_of_it() {
        let lost = (
            "capture",
            End::Source("capture stopped: lost the X display".into()),
        );
        let encode = ("encode", End::Stopped);
        let rtc = ("rtc", End::Stopped);
        let panic = ("encode", End::Panicked("test fault".into()));
        assert_eq!(
            first_cause(&[encode.clone(), rtc.clone(), lost]).as_deref(),
            Some("capture stopped: lost the X display")
        );
        assert_eq!(
            first_cause(&[rtc.clone(), panic]).as_deref(),
            Some("the encode thread panicked: test fault")
        );
        assert_eq!(
            first_cause(&[rtc, encode]).as_deref(),
            Some("the rtc thread stopped")
        );
        assert_eq!(first_cause(&[]), None);
    }

    #[test]
    fn a_literal_panic_message_is_read_too() {
        let payload: Box<dyn std::any::Any + Send> = Box::new("plain");
        assert_eq!(panic_message(&*payload), "plain");
        let payload: Box<dyn std::any::Any + Send> = Box::new(3u8);
        assert_eq!(panic_message(&*payload), "(no message)");
    }
}
