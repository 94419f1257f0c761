//! The house rule that keeps the rooms apart: no import cycle between the top-level modules
//! of `host/src` (a module that uses `crate::x` depends on `x`; comments and test modules
//! do not count), and no source file over 600 lines without a reason written at its top.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir)
        .expect("readable source dir")
        .flatten()
    {
        let path = entry.path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn is_test_file(rel: &Path) -> bool {
    rel.components().any(|c| c.as_os_str() == "tests") || rel.ends_with("tests.rs")
}

/// Top-level module → the top-level modules it uses.
fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&root, &mut files);
    let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for path in files {
        let rel = path.strip_prefix(&root).expect("under src");
        let top = rel
            .components()
            .next()
            .and_then(|c| c.as_os_str().to_str())
            .unwrap_or_default()
            .trim_end_matches(".rs")
            .to_owned();
        if top == "main" || top == "lib" || is_test_file(rel) {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("readable source");
        let code = text
            .split("#[cfg(test)]\nmod tests")
            .next()
            .unwrap_or_default();
        let deps = g.entry(top.clone()).or_default();
        for line in code.lines().map(str::trim).filter(|l| !l.starts_with("//")) {
            for part in line.split("crate::").skip(1) {
                let name: String = part
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() && name != top && name != "lock" {
                    deps.insert(name);
                }
            }
        }
    }
    g
}

#[test]
fn no_import_cycle_between_modules() {
    let g = graph();
    assert!(g.len() > 10, "too few modules found: {g:?}");
    for start in g.keys() {
        // Depth-first from `start`: coming back to it is a cycle.
        let mut stack = vec![vec![start.clone()]];
        let mut seen = BTreeSet::new();
        while let Some(path) = stack.pop() {
            let last = path.last().expect("non-empty");
            for next in g.get(last).into_iter().flatten() {
                assert!(
                    next != start,
                    "import cycle: {} -> {start}",
                    path.join(" -> ")
                );
                if seen.insert(next.clone()) {
                    let mut p = path.clone();
                    p.push(next.clone());
                    stack.push(p);
                }
            }
        }
    }
}

#[test]
fn no_long_file_without_a_reason() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&root, &mut files);
    for path in files {
        let text = std::fs::read_to_string(&path).expect("readable source");
        let long = text.lines().count() > 600;
        let reason = text
            .lines()
            .take(10)
            .any(|l| l.contains("Longer than 600 lines because"));
        assert!(!long || reason, "{} is over 600 lines", path.display());
    }
}
