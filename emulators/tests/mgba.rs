//! Debian's mgba core through the frontend (its own test binary: one core per process).

mod common;

#[test]
fn mgba_loads_and_refuses_a_file_it_cannot_run() {
    common::loads_and_refuses_a_file_it_cannot_run("mgba");
}
