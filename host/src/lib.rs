//! Glint: capture, encode, WebRTC, signaling and input injection in one process.
//! `main.rs` is the composition root; each module is one concern.

pub mod api;
pub mod audio;
pub mod capture;
pub mod config;
pub mod display;
pub mod emulator;
pub mod encode;
pub mod input;
pub mod peer;
pub mod phase;
pub mod pipeline;
pub mod rtc;
pub mod signal;
pub mod stats;
pub mod web;
