//! Glint: capture, encode, WebRTC, signaling and input injection in one process.
//! `main.rs` is the composition root; each module is one concern.

pub mod audio;
pub mod capture;
pub mod clipboard;
pub mod config;
pub mod display;
pub mod emulator;
pub mod encode;
pub mod files;
pub mod health;
pub mod http;
pub mod input;
pub mod metrics;
pub mod net;
pub mod peer;
pub mod phase;
pub mod pipeline;
pub mod proto;
pub mod session;
pub mod signal;
pub mod stats;
pub mod supervise;
pub mod window;

/// Locks `m`, taking the data even when a thread panicked while holding it: every mutex in
/// glint guards plain values (numbers, queues, snapshots) that stay usable, so serving them
/// beats poisoning every later caller.
pub fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
