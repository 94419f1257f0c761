//! What the bench binaries share: their one-value options and percentiles. Included by each
//! with `#[path = "cli.rs"] mod cli;`; each uses part of it.
#![allow(dead_code)]

/// The value after `--name` on the command line, if given.
pub(crate) fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

/// The `q` quantile (0 to 1, nearest rank) of `v`, sorting it; NaN when `v` is empty.
pub(crate) fn pct(v: &mut [f64], q: f64) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v.get(((v.len().max(1) - 1) as f64 * q).round() as usize)
        .copied()
        .unwrap_or(f64::NAN)
}

/// Prints the bench's JSON line, and writes it to `path` too when given.
pub(crate) fn emit_json(json: &serde_json::Value, path: Option<impl AsRef<std::path::Path>>) {
    println!("{json}");
    if let Some(path) = path {
        let _ = std::fs::write(path, format!("{json}\n"));
    }
}
