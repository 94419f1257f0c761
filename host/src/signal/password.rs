//! The owner's password: given, or generated for a host that listens beyond loopback.

/// Why the passwords cannot be had.
#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    /// A setting is wrong (exit code 2).
    #[error("{0}")]
    Config(String),
    #[error("no randomness for a password: {0}")]
    Random(getrandom::Error),
}

/// The owner's password: `--password`, or a fresh one (printed by the caller) when one is
/// required and none was given, or none on a loopback listen; the viewers' one is checked.
pub fn owner_password(config: &crate::config::Config) -> Result<Option<String>, PasswordError> {
    config.check().map_err(PasswordError::Config)?;
    match (&config.password, config.password_required()) {
        (Some(p), _) if p.trim().is_empty() => Err(PasswordError::Config(
            "--password must not be empty or only spaces".into(),
        )),
        (Some(p), _) => Ok(Some(p.clone())),
        (None, false) => Ok(None),
        (None, true) => generate_password().map(Some).map_err(PasswordError::Random),
    }
}

/// A fresh password for a host that listens beyond loopback without one: 12 characters from
/// 31 that cannot be mistaken for each other (about 59 bits), from the OS's randomness.
pub fn generate_password() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 12];
    getrandom::fill(&mut bytes)?;
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    Ok(bytes
        .iter()
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect())
}
