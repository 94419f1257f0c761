//! Save-state files: the core's serialised state behind a small header that names the core
//! and its version, because a core's state format is its own and changes between versions.
//! Loading a state written by another core or version is refused with both names instead of
//! being handed to a core that may misread it.
//!
//! Layout: `GLINTST1`, a `u16` little-endian length, the UTF-8 "name version" of the core,
//! then the state bytes.

use thiserror::Error;

const MAGIC: &[u8; 8] = b"GLINTST1";

#[derive(Debug, Error, PartialEq)]
pub enum StateError {
    #[error("not a Glint save state")]
    NotAState,
    #[error("this state was saved by {saved}; the running core is {running}")]
    OtherCore { saved: String, running: String },
}

fn label(name: &str, version: &str) -> String {
    format!("{name} {version}")
}

/// The file's bytes for `state` from this core.
pub fn stamp(name: &str, version: &str, state: &[u8]) -> Vec<u8> {
    let label = label(name, version);
    let label = &label.as_bytes()[..label.len().min(usize::from(u16::MAX))];
    let mut out = Vec::with_capacity(MAGIC.len() + 2 + label.len() + state.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&(label.len() as u16).to_le_bytes());
    out.extend_from_slice(label);
    out.extend_from_slice(state);
    out
}

/// The state inside `file`, when this core and version wrote it.
pub fn check<'a>(file: &'a [u8], name: &str, version: &str) -> Result<&'a [u8], StateError> {
    let rest = file.strip_prefix(MAGIC).ok_or(StateError::NotAState)?;
    let (len, rest) = rest.split_at_checked(2).ok_or(StateError::NotAState)?;
    let len = usize::from(u16::from_le_bytes([len[0], len[1]]));
    let (saved, state) = rest.split_at_checked(len).ok_or(StateError::NotAState)?;
    let running = label(name, version);
    if saved != running.as_bytes() {
        return Err(StateError::OtherCore {
            saved: String::from_utf8_lossy(saved).into_owned(),
            running,
        });
    }
    Ok(state)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_state_loads_only_into_the_core_that_saved_it() {
        let file = stamp("Nestopia", "1.52.0", b"\x01\x02\x03");
        assert_eq!(check(&file, "Nestopia", "1.52.0"), Ok(&b"\x01\x02\x03"[..]));
        assert_eq!(
            check(&file, "Nestopia", "1.53.0"),
            Err(StateError::OtherCore {
                saved: "Nestopia 1.52.0".into(),
                running: "Nestopia 1.53.0".into(),
            })
        );
        assert!(matches!(
            check(&file, "mGBA", "0.10"),
            Err(StateError::OtherCore { .. })
        ));
    }

    #[test]
    fn anything_else_is_not_a_state() {
        for bad in [
            &b""[..],
            b"GLINTST1",
            b"GLINTST1\x05\x00abc",
            b"raw core bytes",
        ] {
            assert_eq!(check(bad, "Nestopia", "1"), Err(StateError::NotAState));
        }
    }
}
