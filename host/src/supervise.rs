//! Supervision of the hot-path threads: each is watched, and its end (a return or a panic)
//! while glint runs is reported with the thread's name and why, so that the composition root
//! can end the process loudly instead of serving a dead stream.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Watches a hot-path thread: when it ends (returns or panics) while glint is running, says
/// which and why on `deaths`.
pub fn watch(
    name: &'static str,
    handle: std::thread::JoinHandle<()>,
    deaths: tokio::sync::mpsc::Sender<(&'static str, String)>,
    running: Arc<AtomicBool>,
) {
    let watcher = std::thread::Builder::new()
        .name(format!("glint-watch-{name}"))
        .spawn(move || {
            let why = match handle.join() {
                Ok(()) => "stopped".to_owned(),
                Err(panic) => format!("panicked: {}", panic_message(&*panic)),
            };
            if running.load(Ordering::Relaxed) {
                let _ = deaths.blocking_send((name, why));
            }
        });
    if let Err(e) = watcher {
        tracing::warn!(error = %e, thread = name, "cannot watch a thread");
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_is_reported_with_its_message_and_a_quiet_stop_only_while_running() {
        let (tx, mut rx) = tokio::sync::mpsc::channel(4);
        let running = Arc::new(AtomicBool::new(true));
        let h = std::thread::spawn(|| panic!("boom {}", 7));
        watch("encode", h, tx.clone(), running.clone());
        let (name, why) = rx.blocking_recv().expect("reported");
        assert_eq!((name, why.as_str()), ("encode", "panicked: boom 7"));
        let h = std::thread::spawn(|| {});
        watch("input", h, tx.clone(), running.clone());
        assert_eq!(rx.blocking_recv(), Some(("input", "stopped".to_owned())));
        // Once glint is stopping, threads ending is expected: nothing is reported.
        running.store(false, Ordering::Relaxed);
        let h = std::thread::spawn(|| {});
        watch("opus", h, tx, running);
        assert_eq!(rx.blocking_recv(), None);
    }

    #[test]
    fn a_literal_panic_message_is_read_too() {
        let payload: Box<dyn std::any::Any + Send> = Box::new("plain");
        assert_eq!(panic_message(&*payload), "plain");
        let payload: Box<dyn std::any::Any + Send> = Box::new(3u8);
        assert_eq!(panic_message(&*payload), "(no message)");
    }
}
