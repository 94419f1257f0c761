//! Save-state files read back from the save directory ([`glint::emulator::state::check`]).
//!
//! Input: a file's bytes, checked against one core; and, split at the first two zero bytes,
//! a core name, version and state to stamp.
//!
//! Checked beyond "no panic": a file accepted for a core is exactly what that core would have
//! stamped on the state it returns; a stamped state reads back for its core only.

#![no_main]

use glint::emulator::state::{check, stamp, StateError};
use libfuzzer_sys::fuzz_target;

const NAME: &str = "Nestopia";
const VERSION: &str = "1.52.0";

fuzz_target!(|data: &[u8]| {
    if let Ok(state) = check(data, NAME, VERSION) {
        assert_eq!(stamp(NAME, VERSION, state), data);
    }
    let mut parts = data.splitn(3, |&b| b == 0);
    let (Some(name), Some(version), Some(state)) = (parts.next(), parts.next(), parts.next())
    else {
        return;
    };
    let (name, version) = (
        String::from_utf8_lossy(name),
        String::from_utf8_lossy(version),
    );
    let file = stamp(&name, &version, state);
    if name.len() + 1 + version.len() <= usize::from(u16::MAX) {
        assert_eq!(check(&file, &name, &version), Ok(state));
        if format!("{name} {version}") != format!("{NAME} {VERSION}") {
            assert!(matches!(
                check(&file, NAME, VERSION),
                Err(StateError::OtherCore { .. })
            ));
        }
    }
});
