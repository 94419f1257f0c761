//! The password check of a `hello`: how a page is admitted, and the device token it earns.

use super::throttle::{self, Verdict};
use super::SignalConfig;
use crate::input::roles::Admission;

impl SignalConfig {
    /// Checks the password from `hello` against the owner's and the viewers' (one throttled
    /// check, counted against the browser's `device` token when the throttle gave it out, else
    /// against the client address `ip`): the verdict, how the page is admitted and, for a
    /// browser let in with the owner's password that brought no known token, a new token.
    /// Only the owner's password earns one: a viewer's token would let a viewer reset its own
    /// backoff between guesses at the owner's password.
    pub fn admit(
        &self,
        throttle: &mut throttle::Throttle,
        now: std::time::Instant,
        ip: std::net::IpAddr,
        device: Option<&str>,
        given: Option<&str>,
    ) -> Admitted {
        let wants: Vec<&str> = [&self.password, &self.viewer_password]
            .into_iter()
            .flatten()
            .map(String::as_str)
            .collect();
        let owner = self.password.is_some();
        let client = throttle.client(now, ip, device);
        // The owner's password clears an address's failures, the viewers' does not.
        let (verdict, matched) = throttle.check_ranked(now, client, &wants, owner.into(), given);
        let admission = match matched {
            None => Admission::Open,
            Some(0) if owner => Admission::Owner,
            Some(_) => Admission::Viewer,
        };
        let earns = verdict == Verdict::Accepted
            && admission == Admission::Owner
            && matches!(client, throttle::Client::Address(_));
        let device = earns.then(|| throttle.remember_device(now)).and_then(|r| {
            r.inspect_err(|e| tracing::warn!(error = %e, "no device token"))
                .ok()
        });
        Admitted {
            verdict,
            admission,
            device,
        }
    }
}

/// The answer to a `hello`'s password ([`SignalConfig::admit`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admitted {
    pub verdict: Verdict,
    pub admission: Admission,
    /// A new device token (32 hex digits) to send the page after its `welcome`.
    pub device: Option<String>,
}
