//! HTTPS for the page and WSS for signaling (rustls on aws-lc-rs, the crypto library str0m
//! already brings).
//!
//! The certificate comes from `--tls-cert`/`--tls-key` (PEM), re-read when either file
//! changes (polled every [`RELOAD_POLL`]) or on SIGHUP, so a renewed certificate is served
//! without a restart; a file that does not load keeps the previous certificate and is logged.
//! Without them Glint makes a self-signed certificate (rcgen, ECDSA P-256) once and keeps it in
//! its config directory (`$XDG_CONFIG_HOME/glint/tls`, else `~/.config/glint/tls`), so that a
//! browser's exception for it holds across restarts. Its SHA-256 fingerprint is printed next to
//! the URL to compare with what the browser shows.

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use thiserror::Error;

use crate::config::Config;

/// The largest certificate or key file read, bytes.
const MAX_PEM: u64 = 1 << 20;

/// How often `--tls-cert`/`--tls-key` are checked for a change.
pub const RELOAD_POLL: Duration = Duration::from_secs(2);

/// Why no certificate could be had.
#[derive(Debug, Error)]
pub enum TlsError {
    #[error("cannot read {path}: {}", io_words(source))]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} holds no PEM {what}: {detail}")]
    Pem {
        path: PathBuf,
        what: &'static str,
        detail: String,
    },
    #[error("the key in {key} does not go with the certificate in {cert}: {detail}")]
    Key {
        cert: PathBuf,
        key: PathBuf,
        detail: String,
    },
    #[error("cannot make a self-signed certificate: {0}")]
    Generate(String),
    #[error("cannot keep the certificate in {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("TLS configuration: {0}")]
    Config(String),
    #[error(
        "no config directory to keep a certificate in (HOME unset); give --tls-cert and --tls-key"
    )]
    NoConfigDir,
    /// An error about a file the user gave, with the option that gave it.
    #[error("{flag}: {source}")]
    Given {
        flag: &'static str,
        source: Box<TlsError>,
    },
}

/// An I/O error in words, without the OS's error number.
fn io_words(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        std::io::ErrorKind::IsADirectory => "a directory, not a file".into(),
        _ => e.to_string(),
    }
}

/// Where the certificate comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertSource {
    /// The user's PEM files, watched for changes.
    Files { cert: PathBuf, key: PathBuf },
    /// Glint's own self-signed certificate, kept in this directory (`cert.pem`, `key.pem`).
    SelfSigned { dir: PathBuf },
}

impl CertSource {
    /// The default self-signed store: `$XDG_CONFIG_HOME/glint/tls`, else `~/.config/glint/tls`.
    pub fn default_self_signed() -> Result<Self, TlsError> {
        let base = dirs::config_dir().ok_or(TlsError::NoConfigDir)?;
        Ok(Self::SelfSigned {
            dir: base.join("glint").join("tls"),
        })
    }

    fn paths(&self) -> (PathBuf, PathBuf) {
        match self {
            Self::Files { cert, key } => (cert.clone(), key.clone()),
            Self::SelfSigned { dir } => (dir.join("cert.pem"), dir.join("key.pem")),
        }
    }
}

/// The served certificate; swapped in place on reload, so open connections keep theirs and new
/// handshakes get the new one.
#[derive(Debug)]
pub struct Tls {
    source: CertSource,
    current: RwLock<Loaded>,
    /// The files' stamp when they last failed to load: not tried again until it changes.
    failed: RwLock<Option<(SystemTime, SystemTime)>>,
}

#[derive(Debug, Clone)]
struct Loaded {
    key: Arc<CertifiedKey>,
    fingerprint: String,
    stamp: Option<(SystemTime, SystemTime)>,
}

impl Tls {
    /// Loads the certificate; for [`CertSource::SelfSigned`], makes and keeps one first if
    /// there is none yet for the names in `names` (host names or IP addresses), or makes a
    /// new one when the kept one does not cover them all (an address the host gained since).
    pub fn load(source: CertSource, names: &[String]) -> Result<Self, TlsError> {
        let mut loaded = None;
        if let CertSource::SelfSigned { dir } = &source {
            let (cert, key) = source.paths();
            let (has_cert, has_key) = (cert.exists(), key.exists());
            if has_cert != has_key {
                tracing::warn!(
                    dir = %dir.display(),
                    "the kept self-signed certificate has lost its {}: a new pair is made",
                    if has_key { "cert.pem" } else { "key.pem" }
                );
            }
            let kept = match (has_cert && has_key).then(|| read(&source)) {
                Some(Ok(kept)) => Some(kept),
                Some(Err(e)) => {
                    tracing::warn!(
                        "the kept self-signed certificate is unusable, a new one is made: {e}"
                    );
                    None
                }
                None => None,
            };
            let missing = kept.as_ref().map(|k| uncovered(k, names));
            match missing {
                Some(missing) if missing.is_empty() => loaded = kept,
                Some(missing) => {
                    tracing::info!(
                        missing = missing.join(" "),
                        "the kept self-signed certificate does not name all of this host's \
                         names and addresses: a new one is made for them and the ones it had \
                         (a browser that trusted the old one must accept it)"
                    );
                    // The names it was made for too, so that two setups used in turn do not
                    // remake it on every start (past MAX_KEPT_NAMES, this start's only).
                    let mut all = names.to_vec();
                    all.extend(kept_names(dir));
                    all.sort();
                    all.dedup();
                    if all.len() > MAX_KEPT_NAMES {
                        all = names.to_vec();
                    }
                    make_self_signed(dir, &cert, &key, &all)?;
                }
                None => make_self_signed(dir, &cert, &key, names)?,
            }
        }
        let loaded = match loaded {
            Some(loaded) => loaded,
            None => read(&source)?,
        };
        Ok(Self {
            source,
            current: RwLock::new(loaded),
            failed: RwLock::new(None),
        })
    }

    /// The rustls server configuration: HTTP/1.1 only (the WebSocket upgrade needs it), the
    /// certificate from this store.
    pub fn server_config(self: &Arc<Self>) -> Result<Arc<rustls::ServerConfig>, TlsError> {
        let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Config(e.to_string()))?
        .with_no_client_auth()
        .with_cert_resolver(self.clone());
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }

    /// SHA-256 of the served certificate (DER), as colon-separated hex pairs.
    pub fn fingerprint(&self) -> String {
        self.current
            .read()
            .map(|c| c.fingerprint.clone())
            .unwrap_or_default()
    }

    /// Where the certificate comes from.
    pub fn source(&self) -> &CertSource {
        &self.source
    }

    /// Re-reads the files if they changed since the last load (or always, with `force`).
    /// `Ok(true)` when a new certificate is now served; on an error the old one stays.
    pub fn reload(&self, force: bool) -> Result<bool, TlsError> {
        let stamp = stamp(&self.source);
        let unchanged = self
            .current
            .read()
            .map(|c| c.stamp == stamp)
            .unwrap_or(false);
        let failed_before = self.failed.read().map(|f| *f == stamp).unwrap_or(false);
        if (unchanged || failed_before) && !force {
            return Ok(false);
        }
        let loaded = read(&self.source).inspect_err(|_| {
            if let Ok(mut f) = self.failed.write() {
                *f = stamp;
            }
        })?;
        let changed = loaded.fingerprint != self.fingerprint();
        if let Ok(mut c) = self.current.write() {
            *c = loaded;
        }
        Ok(changed)
    }
}

impl ResolvesServerCert for Tls {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.current.read().ok().map(|c| c.key.clone())
    }
}

/// Modification times of the certificate and key files.
fn stamp(source: &CertSource) -> Option<(SystemTime, SystemTime)> {
    let (cert, key) = source.paths();
    let m = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    Some((m(&cert)?, m(&key)?))
}

fn read(source: &CertSource) -> Result<Loaded, TlsError> {
    let stamp = stamp(source);
    let (cert_path, key_path) = source.paths();
    // A PEM chain is a few KiB; a path to a device or a huge file is not read to the end.
    let read = |p: &Path| {
        let err = |source| TlsError::Read {
            path: p.to_owned(),
            source,
        };
        let mut bytes = Vec::new();
        std::fs::File::open(p)
            .and_then(|f| f.take(MAX_PEM + 1).read_to_end(&mut bytes))
            .map_err(err)?;
        if bytes.len() as u64 > MAX_PEM {
            return Err(err(std::io::Error::other(
                "larger than 1 MiB: not a PEM file",
            )));
        }
        Ok(bytes)
    };
    let cert_pem = read(&cert_path)?;
    let key_pem = read(&key_path)?;
    let chain = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::Pem {
            path: cert_path.clone(),
            what: "certificate",
            detail: pem_detail(&e),
        })?;
    let Some(first) = chain.first() else {
        return Err(TlsError::Pem {
            path: cert_path,
            what: "certificate",
            detail: "no CERTIFICATE block".into(),
        });
    };
    let fingerprint = sha256_hex(first);
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| TlsError::Pem {
        path: key_path.clone(),
        what: "private key",
        detail: pem_detail(&e),
    })?;
    let provider = rustls::crypto::aws_lc_rs::default_provider();
    // The key is loaded on its own first: a damaged key is the key file's fault, not a
    // mismatch with the certificate.
    let signing = provider.key_provider.load_private_key(key).map_err(|e| {
        tracing::debug!(error = %e, "the private key did not load");
        TlsError::Pem {
            path: key_path.clone(),
            what: "private key this host can use",
            detail: "its PRIVATE KEY block is damaged, or of a kind this host cannot use \
                         (RSA, ECDSA and Ed25519 work)"
                .into(),
        }
    })?;
    let key = CertifiedKey::new(chain, signing);
    match key.keys_match() {
        Ok(()) | Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)) => {}
        Err(e) => {
            let detail = match e {
                rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch) => {
                    "their public keys differ (a key of another pair, or one of the two files \
                     damaged)"
                        .into()
                }
                e => e.to_string(),
            };
            return Err(TlsError::Key {
                cert: cert_path,
                key: key_path,
                detail,
            });
        }
    }
    Ok(Loaded {
        key: Arc::new(key),
        fingerprint,
        stamp,
    })
}

/// A PEM parse error in words: rustls-pki-types shows the marker lines it names as byte lists.
fn pem_detail(e: &rustls::pki_types::pem::Error) -> String {
    use rustls::pki_types::pem::Error;
    match e {
        Error::MissingSectionEnd { end_marker } => format!(
            "no `-----END {}-----` line: the file is cut short",
            String::from_utf8_lossy(end_marker).trim().escape_debug()
        ),
        Error::IllegalSectionStart { line } => {
            let line = String::from_utf8_lossy(line);
            format!("a bad BEGIN line: `{}`", line.trim().escape_debug())
        }
        Error::NoItemsFound => "no BEGIN line".into(),
        Error::Base64Decode(_) => "its base64 body is damaged (not base64 throughout)".into(),
        other => other.to_string(),
    }
}

/// Which of `names` (host names or IP addresses) the leaf certificate of `loaded` is not valid
/// for, as a browser checks it (RFC 6125 by `webpki`); a name that is neither is left out.
fn uncovered(loaded: &Loaded, names: &[String]) -> Vec<String> {
    use rustls::pki_types::ServerName;
    let Some(leaf) = loaded.key.cert.first() else {
        return names.to_vec();
    };
    let Ok(leaf) = webpki::EndEntityCert::try_from(leaf) else {
        return names.to_vec();
    };
    names
        .iter()
        .filter(|n| {
            ServerName::try_from(n.as_str())
                .is_ok_and(|name| leaf.verify_is_valid_for_subject_name(&name).is_err())
        })
        .cloned()
        .collect()
}

fn sha256_hex(der: &[u8]) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, der);
    digest
        .as_ref()
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// The most names a remade certificate keeps (its own and the previous one's).
const MAX_KEPT_NAMES: usize = 64;
/// Beside the kept certificate: the names it was made for, one a line.
const NAMES_FILE: &str = "names.txt";

/// The names the kept certificate in `dir` was made for (none if unknown); a line that is
/// neither an IP address nor a host name (a damaged file) is left out.
fn kept_names(dir: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(dir.join(NAMES_FILE)).unwrap_or_default();
    let usable = |n: &&str| {
        n.parse::<std::net::IpAddr>().is_ok() || crate::config::parse_host_name(n).is_ok()
    };
    text.lines()
        .map(str::trim)
        .filter(usable)
        .map(str::to_owned)
        .take(MAX_KEPT_NAMES)
        .collect()
}

fn make_self_signed(dir: &Path, cert: &Path, key: &Path, names: &[String]) -> Result<(), TlsError> {
    let made = rcgen::generate_simple_self_signed(names.to_vec())
        .map_err(|e| TlsError::Generate(e.to_string()))?;
    let write_err = |path: &Path| {
        let path = path.to_owned();
        move |source| TlsError::Write { path, source }
    };
    std::fs::create_dir_all(dir).map_err(write_err(dir))?;
    // The key first, private from the start (a temp file is 0600), then moved into place.
    let names_path = dir.join(NAMES_FILE);
    for (path, text) in [
        (key, made.signing_key.serialize_pem()),
        (cert, made.cert.pem()),
        (names_path.as_path(), names.join("\n") + "\n"),
    ] {
        let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(write_err(dir))?;
        tmp.write_all(text.as_bytes()).map_err(write_err(path))?;
        tmp.persist(path).map_err(|e| TlsError::Write {
            path: path.to_owned(),
            source: e.error,
        })?;
    }
    tracing::info!(dir = %dir.display(), "made a self-signed certificate, kept for later starts");
    Ok(())
}

/// The certificate store when the page goes over HTTPS ([`Config::tls_enabled`]): the user's
/// files, or the kept self-signed certificate for this machine's names and the addresses in
/// `locals`. `None` for plain HTTP.
pub fn from_config(config: &Config, locals: &[SocketAddr]) -> Result<Option<Arc<Tls>>, TlsError> {
    if !config.tls_enabled() {
        if config.tls_cert.is_some() {
            return Err(TlsError::Config(
                "--tls off and --tls-cert: choose one".into(),
            ));
        }
        if !config.loopback_only() {
            tracing::warn!(
                "--tls off beyond loopback: the password and the session travel in the clear \
                 unless a reverse proxy in front terminates TLS"
            );
        }
        return Ok(None);
    }
    let source = match (&config.tls_cert, &config.tls_key) {
        (Some(cert), Some(key)) => CertSource::Files {
            cert: cert.clone(),
            key: key.clone(),
        },
        _ => CertSource::default_self_signed()?,
    };
    // The user's own files: the error names the option to look at.
    let given = |e: TlsError| {
        let flag = match &e {
            TlsError::Read { path, .. } | TlsError::Pem { path, .. }
                if Some(path) == config.tls_cert.as_ref() =>
            {
                "--tls-cert"
            }
            TlsError::Read { .. } | TlsError::Pem { .. } => "--tls-key",
            _ => "--tls-cert and --tls-key",
        };
        TlsError::Given {
            flag,
            source: Box::new(e),
        }
    };
    let files = matches!(source, CertSource::Files { .. });
    let mut names = vec!["localhost".to_owned(), "127.0.0.1".into(), "::1".into()];
    names.extend(locals.iter().map(|a| a.ip().to_string()));
    names.extend(config.public_ip.map(|ip| ip.to_string()));
    names.extend(config.allowed_host.iter().cloned());
    names.sort();
    names.dedup();
    let tls = Tls::load(source, &names).map_err(|e| if files { given(e) } else { e })?;
    Ok(Some(Arc::new(tls)))
}

/// Re-reads `--tls-cert`/`--tls-key` when they change or on SIGHUP, until `stop` resolves.
/// Self-signed certificates are re-read on SIGHUP only.
pub async fn watch(tls: Arc<Tls>, stop: impl std::future::Future<Output = ()>) {
    let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
    let mut tick = tokio::time::interval(RELOAD_POLL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let watch_files = matches!(tls.source, CertSource::Files { .. });
    tokio::pin!(stop);
    loop {
        let force = tokio::select! {
            () = &mut stop => return,
            _ = tick.tick(), if watch_files => false,
            Some(()) = async { match hup.as_mut() { Some(h) => h.recv().await, None => None } } => true,
        };
        match tls.reload(force) {
            Ok(true) => {
                tracing::info!(fingerprint = %tls.fingerprint(), "serving a new TLS certificate")
            }
            Ok(false) => {}
            Err(e) => tracing::warn!("TLS certificate not reloaded, the previous one stays: {e}"),
        }
    }
}

#[cfg(test)]
mod tests;
