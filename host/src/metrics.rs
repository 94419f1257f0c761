//! The one list of Glint's counters and gauges: a leaf that every part registers its figures
//! into once, from `main.rs`, and that both `/metrics` (Prometheus / OpenMetrics text) and
//! `/api/stats` (JSON `counters`) are read from, so that no figure is typed twice and none can
//! be exported in one place and forgotten in the other.
//!
//! A [`Counter`] is a shared atomic (cloning it shares the value): a part keeps its clones
//! and increments them on its own thread, without locks. This module imports no other part.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, AtomicU64};

use prometheus_client::collector::Collector;
use prometheus_client::registry::{Metric, Registry};

/// A monotonic count, shared by its clones (Prometheus counter, `_total` suffix).
pub type Counter = prometheus_client::metrics::counter::Counter<u64, AtomicU64>;

/// A value that goes up and down, shared by its clones (Prometheus gauge).
pub type Gauge = prometheus_client::metrics::gauge::Gauge<i64, AtomicI64>;

/// Where the parts register their figures; built once in `main.rs`, then read-only.
pub struct Metrics {
    registry: Registry,
    counters: Vec<(&'static str, Counter)>,
    gauges: Vec<(&'static str, Gauge)>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics")
            .field("counters", &self.counters.len())
            .field("gauges", &self.gauges.len())
            .finish()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// An empty list; every name is exported as `glint_<name>`.
    pub fn new() -> Self {
        Self {
            registry: Registry::with_prefix("glint"),
            counters: Vec::new(),
            gauges: Vec::new(),
        }
    }

    /// A new counter named `name` (snake case, no `_total`: the exporter adds it), exported in
    /// both places.
    ///
    /// Panics when `name` is registered twice: that is a bug in the composition root.
    pub fn counter(&mut self, name: &'static str, help: &'static str) -> Counter {
        self.assert_new(name);
        let c = Counter::default();
        self.registry.register(name, help, c.clone());
        self.counters.push((name, c.clone()));
        c
    }

    /// A new gauge, exported in both places. Panics on a name registered twice.
    pub fn gauge(&mut self, name: &'static str, help: &'static str) -> Gauge {
        self.assert_new(name);
        let g = Gauge::default();
        self.registry.register(name, help, g.clone());
        self.gauges.push((name, g.clone()));
        g
    }

    /// Any other Prometheus metric (a histogram family, say), for `/metrics` only.
    pub fn register(&mut self, name: &'static str, help: &'static str, metric: impl Metric) {
        self.assert_new(name);
        self.registry.register(name, help, metric);
    }

    /// Figures computed at scrape time (per-peer gauges), for `/metrics` only.
    pub fn register_collector(&mut self, collector: Box<dyn Collector>) {
        self.registry.register_collector(collector);
    }

    fn assert_new(&self, name: &str) {
        let taken = self.counters.iter().any(|(n, _)| *n == name)
            || self.gauges.iter().any(|(n, _)| *n == name);
        assert!(!taken, "metric {name} registered twice");
    }

    /// Every counter's and gauge's value by name, for `/api/stats`.
    pub fn values(&self) -> BTreeMap<&'static str, i64> {
        let counters = self.counters.iter().map(|(n, c)| (*n, c.get() as i64));
        let gauges = self.gauges.iter().map(|(n, g)| (*n, g.get()));
        counters.chain(gauges).collect()
    }

    /// The OpenMetrics text of everything registered.
    pub fn encode(&self) -> Result<String, std::fmt::Error> {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)?;
        Ok(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_counter_is_exported_in_both_places_from_one_value() {
        let mut m = Metrics::new();
        let c = m.counter("frames_sent", "Frames written to peers");
        let g = m.gauge("peers", "Connected peers");
        c.inc();
        c.inc_by(2);
        g.set(4);
        assert_eq!(m.values().get("frames_sent"), Some(&3));
        assert_eq!(m.values().get("peers"), Some(&4));
        let text = m.encode().expect("encodes");
        assert!(text.contains("glint_frames_sent_total 3"), "{text}");
        assert!(text.contains("glint_peers 4"), "{text}");
    }

    #[test]
    #[should_panic(expected = "registered twice")]
    fn a_name_cannot_be_registered_twice() {
        let mut m = Metrics::new();
        let _ = m.counter("x", "x");
        let _ = m.gauge("x", "x");
    }
}
