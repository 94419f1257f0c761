//! Liveness and readiness, for an orchestrator: `/healthz` says the process serves;
//! `/readyz` says it can take a viewer now: the source runs, the encoder is not failing, the
//! rtc thread is alive and the host is not draining. A leaf: the parts set their flag, the
//! HTTP module reads them.

use std::sync::atomic::{AtomicBool, Ordering};

#[derive(Debug)]
pub struct Health {
    source_running: AtomicBool,
    encoder_ok: AtomicBool,
    rtc_alive: AtomicBool,
    draining: AtomicBool,
}

impl Default for Health {
    fn default() -> Self {
        Self {
            source_running: AtomicBool::new(true),
            encoder_ok: AtomicBool::new(true),
            rtc_alive: AtomicBool::new(true),
            draining: AtomicBool::new(false),
        }
    }
}

impl Health {
    pub fn source_stopped(&self) {
        self.source_running.store(false, Ordering::Relaxed);
    }

    /// The encoder's last open attempt succeeded (`true`) or failed.
    pub fn encoder(&self, ok: bool) {
        self.encoder_ok.store(ok, Ordering::Relaxed);
    }

    pub fn rtc_stopped(&self) {
        self.rtc_alive.store(false, Ordering::Relaxed);
    }

    pub fn drain(&self) {
        self.draining.store(true, Ordering::Relaxed);
    }

    /// `Ok` when ready, else the first reason why not.
    pub fn ready(&self) -> Result<(), &'static str> {
        let get = |f: &AtomicBool| f.load(Ordering::Relaxed);
        if get(&self.draining) {
            Err("draining")
        } else if !get(&self.source_running) {
            Err("the source is not running")
        } else if !get(&self.encoder_ok) {
            Err("the encoder does not open")
        } else if !get(&self.rtc_alive) {
            Err("the rtc thread is not running")
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_part_down_or_draining_is_not_ready() {
        let h = Health::default();
        assert_eq!(h.ready(), Ok(()));
        h.encoder(false);
        assert_eq!(h.ready(), Err("the encoder does not open"));
        h.encoder(true);
        h.rtc_stopped();
        assert_eq!(h.ready(), Err("the rtc thread is not running"));
        h.drain();
        assert_eq!(h.ready(), Err("draining"));
        let h = Health::default();
        h.source_stopped();
        assert!(h.ready().is_err());
    }
}
