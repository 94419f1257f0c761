//! The virtual display (Xvfb) Glint starts when no `--display` is given, and the app it
//! launches inside. Both are stopped when Glint exits: on drop, and by the kernel
//! (`PR_SET_PDEATHSIG`) if Glint dies without running destructors.

use crate::config::KeyboardLayout;
use std::io::Read;
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use thiserror::Error;

/// How long Xvfb may take to say which display it took.
const XVFB_READY_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Error)]
pub enum DisplayError {
    #[error("cannot start Xvfb (is the `xvfb` package installed?): {0}")]
    Spawn(std::io::Error),
    #[error("Xvfb did not become ready: {0}")]
    NotReady(String),
    #[error("cannot start the app `{cmd}`: {source}")]
    App { cmd: String, source: std::io::Error },
    /// `setxkbmap` could not run.
    #[error("cannot set the keyboard layout `{layout}` (is the `x11-xkb-utils` package installed?): {why}")]
    Keyboard { layout: String, why: String },
    /// `setxkbmap` ran and refused the layout: XKB has no such layout or variant.
    #[error("--keyboard-layout {layout}: XKB has no such layout or variant (/usr/share/X11/xkb/rules/evdev.lst lists them): setxkbmap said: {why}")]
    UnknownLayout { layout: String, why: String },
}

/// The X authority file's name in the temp dir: this, Glint's PID, `-`, and a random part.
const XAUTH_PREFIX: &str = "glint-xauth-";

/// Removes what a Glint killed without its destructors (`kill -9`, a crash) left in `dir`:
/// the entries named `{prefix}{pid}-…` whose process `pid` is gone, and that belong to this
/// user. An entry of a live process is kept (even a PID reused by another program: left, not
/// taken). Returns how many went; what cannot be removed is left, at debug.
pub fn sweep_leftovers(dir: &std::path::Path, prefix: &str) -> usize {
    use std::os::unix::fs::MetadataExt;
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    // SAFETY: getuid cannot fail.
    let me = unsafe { libc::getuid() };
    let mut swept = 0;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix(prefix))
            .and_then(|rest| rest.split_once('-'))
            .and_then(|(pid, _)| pid.parse::<u32>().ok())
        else {
            continue;
        };
        let path = entry.path();
        // Not followed if a link: only the entry itself is judged, and removed.
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        if meta.uid() != me || std::path::Path::new(&format!("/proc/{pid}")).exists() {
            continue;
        }
        let removed = if meta.is_dir() {
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        };
        match removed {
            Ok(()) => swept += 1,
            Err(e) => tracing::debug!(path = %path.display(), error = %e, "a leftover stays"),
        }
    }
    if swept > 0 {
        tracing::info!(
            swept,
            "removed what an earlier glint, killed, left in the temp dir"
        );
    }
    swept
}

/// A child process killed (with its process group) when this is dropped.
#[derive(Debug)]
pub struct Guarded {
    child: Child,
    what: &'static str,
    /// Set when Glint stops it: its end is then not reported ([`watch_app`]).
    stopping: Arc<AtomicBool>,
    /// How an `--app` ended by itself, in words for its viewers (`Some` once it has).
    ended: tokio::sync::watch::Sender<Option<String>>,
}

impl Guarded {
    pub(crate) fn new(child: Child, what: &'static str) -> Self {
        let stopping = Arc::default();
        Self {
            child,
            what,
            stopping,
            ended: tokio::sync::watch::Sender::new(None),
        }
    }

    /// Becomes `Some("the app on the host exited with code 127 (command not found)")` (or
    /// `was killed by signal N (…)`) when an `--app` ends by itself: words for the pages,
    /// without the command, which may hold a secret. Never for an end Glint causes.
    pub fn ended(&self) -> tokio::sync::watch::Receiver<Option<String>> {
        self.ended.subscribe()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn try_exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }
}

impl Drop for Guarded {
    fn drop(&mut self) {
        self.stopping.store(true, Ordering::SeqCst);
        let pid = self.child.id() as libc::pid_t;
        // SAFETY: signalling our own child's process group; harmless if it is already gone.
        unsafe {
            libc::kill(-pid, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(2);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                tracing::debug!(what = self.what, "stopped");
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        // SAFETY: as above.
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
        }
        let _ = self.child.wait();
    }
}

/// Puts the child in its own process group and has the kernel kill it if Glint dies.
pub(crate) fn detach_and_tie(cmd: &mut Command) {
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            libc::setpgid(0, 0);
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
            Ok(())
        });
    }
}

/// The cookie that admits X clients to Glint's own Xvfb (MIT-MAGIC-COOKIE-1), in a private
/// Xauthority file (0600) that lives as long as this value. Without it any local user could
/// connect to the display and drive it through XTest, password or not.
///
/// One entry of family FamilyWild (0xFFFF) with no address and no display number, which Xlib
/// and x11rb match for any display, since Xvfb picks its number only when it starts
/// (`-displayfd`). Format: Xau's (`Xauth.h`): each field a big-endian u16 length and bytes.
#[derive(Debug)]
pub struct XAuthority {
    file: tempfile::NamedTempFile,
}

impl XAuthority {
    /// Makes the file with a fresh 16-byte cookie from the OS's randomness.
    pub fn new() -> Result<Self, DisplayError> {
        let mut cookie = [0u8; 16];
        getrandom::fill(&mut cookie)
            .map_err(|e| DisplayError::Spawn(std::io::Error::other(e.to_string())))?;
        let mut entry = Vec::with_capacity(48);
        entry.extend_from_slice(&0xFFFFu16.to_be_bytes());
        for field in [&b""[..], b"", b"MIT-MAGIC-COOKIE-1", &cookie] {
            entry.extend_from_slice(&(field.len() as u16).to_be_bytes());
            entry.extend_from_slice(field);
        }
        let prefix = format!("{XAUTH_PREFIX}{}-", std::process::id());
        sweep_leftovers(&std::env::temp_dir(), XAUTH_PREFIX);
        let mut file = tempfile::Builder::new()
            .prefix(&prefix)
            .tempfile()
            .map_err(DisplayError::Spawn)?;
        std::io::Write::write_all(&mut file, &entry).map_err(DisplayError::Spawn)?;
        Ok(Self { file })
    }

    pub fn path(&self) -> &std::path::Path {
        self.file.path()
    }

    /// [`XAuthority::new`], and `XAUTHORITY` set to it for this process and its children
    /// (the capture, the injector, the app). Call before any other thread exists.
    pub fn install() -> Result<Self, DisplayError> {
        let a = Self::new()?;
        // SAFETY (of the environment): the caller starts no thread before this.
        std::env::set_var("XAUTHORITY", a.path());
        Ok(a)
    }
}

/// An Xvfb server on a display number it chose itself (`-displayfd`), so parallel runs never
/// clash.
#[derive(Debug)]
pub struct VirtualDisplay {
    pub name: String,
    server: Guarded,
}

impl VirtualDisplay {
    /// Starts Xvfb at `width`x`height`, admitting only clients with the cookie in `auth`.
    /// Starts Xvfb at `width`x`height` with the cookie in `auth`, and sets its keyboard
    /// `layout` when given (`setxkbmap`).
    pub fn start(
        width: u16,
        height: u16,
        auth: &XAuthority,
        layout: Option<&KeyboardLayout>,
    ) -> Result<Self, DisplayError> {
        let (mut reader, writer) = std::io::pipe().map_err(DisplayError::Spawn)?;
        let wfd = writer.as_raw_fd();
        let mut cmd = Command::new("Xvfb");
        cmd.args(["-displayfd", &wfd.to_string()])
            .args(["-screen", "0", &format!("{width}x{height}x24")])
            .args(["-noreset", "-nolisten", "tcp", "+extension", "XTEST"])
            .arg("-auth")
            .arg(auth.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        detach_and_tie(&mut cmd);
        // SAFETY: clears close-on-exec on the pipe's write end so Xvfb inherits it.
        unsafe {
            cmd.pre_exec(move || {
                libc::fcntl(wfd, libc::F_SETFD, 0);
                Ok(())
            });
        }
        let child = cmd.spawn().map_err(DisplayError::Spawn)?;
        drop(writer);
        let mut server = Guarded::new(child, "Xvfb");
        // Xvfb writes "N\n" when it accepts connections; EOF means it died.
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = reader.read_to_string(&mut s);
            let _ = tx.send(s);
        });
        let number = match rx.recv_timeout(XVFB_READY_TIMEOUT) {
            Ok(s) => s.trim().to_owned(),
            Err(_) => return Err(DisplayError::NotReady("timed out".into())),
        };
        if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
            let status = server.try_exited();
            return Err(DisplayError::NotReady(format!(
                "Xvfb exited ({status:?}) without a display number"
            )));
        }
        let display = Self {
            name: format!(":{number}"),
            server,
        };
        if let Some(layout) = layout {
            set_layout(&display.name, auth.path(), layout)?;
        }
        Ok(display)
    }

    pub fn pid(&self) -> u32 {
        self.server.pid()
    }
}

/// Sets the keyboard layout of `display` with `setxkbmap`, which compiles it from the XKB data
/// and loads it into the server.
fn set_layout(
    display: &str,
    auth: &std::path::Path,
    k: &KeyboardLayout,
) -> Result<(), DisplayError> {
    let fail = |why: String| DisplayError::Keyboard {
        layout: k.to_string(),
        why,
    };
    let mut cmd = Command::new("setxkbmap");
    cmd.args(["-display", display, "-layout", &k.layout])
        .env("XAUTHORITY", auth)
        .stdin(Stdio::null());
    if let Some(v) = &k.variant {
        cmd.args(["-variant", v]);
    }
    let out = cmd.output().map_err(|e| fail(e.to_string()))?;
    if !out.status.success() {
        let said = String::from_utf8_lossy(&out.stderr);
        let why = said.lines().next().unwrap_or("setxkbmap failed").to_owned();
        // What setxkbmap 1.3 says of a layout or variant XKB lacks (exit code 5).
        if said.contains("Error loading new keyboard description") {
            let layout = k.to_string();
            return Err(DisplayError::UnknownLayout { layout, why });
        }
        return Err(fail(why));
    }
    Ok(())
}

/// The keyboard layout of Glint's own display, following the pages': the first page that says
/// its layout sets it (unless `--keyboard-layout` fixed it), and later pages with another are
/// told which one the host has. (With roles, the controller's should win.) Xvfb starts with
/// XKB's default, `us`.
#[derive(Debug)]
pub struct Keyboard {
    display: String,
    auth: std::path::PathBuf,
    /// The layout now, and whether a page may still set it (only until the first page said,
    /// or the first try failed).
    current: std::sync::Mutex<(KeyboardLayout, bool)>,
}

/// What a page's layout did.
#[derive(Debug, PartialEq, Eq)]
pub enum Followed {
    /// The display now has the page's layout.
    Set,
    /// It already had it.
    Same,
    /// It keeps another (fixed, or a first page's): this one.
    Kept(KeyboardLayout),
}

impl Keyboard {
    /// `fixed`: `--keyboard-layout`, which no page changes.
    pub fn new(display: &str, auth: &std::path::Path, fixed: Option<KeyboardLayout>) -> Self {
        let open = fixed.is_none();
        let us = KeyboardLayout {
            layout: "us".into(),
            variant: None,
        };
        Self {
            display: display.to_owned(),
            auth: auth.to_owned(),
            current: std::sync::Mutex::new((fixed.unwrap_or(us), open)),
        }
    }

    /// A page's layout (blocking: runs `setxkbmap` when the display takes it).
    pub fn follow(&self, page: &KeyboardLayout) -> Result<Followed, DisplayError> {
        let mut current = self
            .current
            .lock()
            .map_err(|_| DisplayError::NotReady("keyboard state poisoned".into()))?;
        if current.0 == *page {
            current.1 = false; // the first page's: it stays
            return Ok(Followed::Same);
        }
        if !current.1 {
            return Ok(Followed::Kept(current.0.clone()));
        }
        // One try: a layout XKB lacks is not tried again for the next page (nor a page's
        // stream of them, each a setxkbmap process).
        current.1 = false;
        set_layout(&self.display, &self.auth, page)?;
        current.0 = page.clone();
        Ok(Followed::Set)
    }
}

/// Launches `cmd` with `sh -c` inside `display`, playing its sound into `pulse_server` when
/// given (Glint's private PulseAudio).
pub fn launch_app(
    cmd: &str,
    display: &str,
    pulse_server: Option<&str>,
) -> Result<Guarded, DisplayError> {
    let mut c = Command::new("sh");
    c.args(["-c", cmd])
        .env("DISPLAY", display)
        .stdin(Stdio::null());
    if let Some(p) = pulse_server {
        c.env("PULSE_SERVER", p);
    }
    detach_and_tie(&mut c);
    let child = c.spawn().map_err(|source| DisplayError::App {
        cmd: cmd.to_owned(),
        source,
    })?;
    let app = Guarded::new(child, "app");
    watch_app(app.pid(), cmd, app.stopping.clone(), app.ended.clone());
    Ok(app)
}

/// A signal that ends a process, in words: `SIGSEGV, a bad memory access`; `a signal` for
/// one not named here.
pub fn signal_name(sig: i32) -> &'static str {
    match sig {
        libc::SIGSEGV => "SIGSEGV, a bad memory access",
        libc::SIGBUS => "SIGBUS",
        libc::SIGILL => "SIGILL, an illegal instruction",
        libc::SIGFPE => "SIGFPE, an arithmetic fault",
        libc::SIGABRT => "SIGABRT, an abort",
        libc::SIGKILL => "SIGKILL",
        libc::SIGTERM => "SIGTERM",
        libc::SIGINT => "SIGINT",
        libc::SIGHUP => "SIGHUP",
        _ => "a signal",
    }
}

/// What a shell's exit code says of the command it ran, as words to add (POSIX `sh`: 127 not
/// found, 126 found but not executable).
fn shell_says(code: i32) -> &'static str {
    match code {
        126 => " (found, but it cannot be run)",
        127 => " (command not found)",
        _ => "",
    }
}

/// Says once that the app `sh -c cmd` (process `pid`) ended by itself, and how (a warning but
/// for exit code 0):
/// the display stays up, without it. An end Glint caused (`stopping`) is not reported. The
/// thread waits with `waitid(WNOWAIT)`, so the child is left for [`Guarded`] to reap. `ended`
/// gets the same news for the pages, without the command.
fn watch_app(
    pid: u32,
    cmd: &str,
    stopping: Arc<AtomicBool>,
    ended: tokio::sync::watch::Sender<Option<String>>,
) {
    let cmd = cmd.to_owned();
    let spawned = std::thread::Builder::new()
        .name("glint-app-watch".into())
        .spawn(move || {
            // SAFETY: siginfo_t is plain data; waitid fills it for our own child.
            let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
            let waited = unsafe {
                libc::waitid(
                    libc::P_PID,
                    pid as libc::id_t,
                    &mut info,
                    libc::WEXITED | libc::WNOWAIT,
                )
            };
            if waited != 0 || stopping.load(Ordering::SeqCst) {
                return;
            }
            // SAFETY: waitid succeeded for an exited child: si_status is set.
            let status = unsafe { info.si_status() };
            let how = if info.si_code != libc::CLD_EXITED {
                format!("was killed by signal {status} ({})", signal_name(status))
            } else if status == 0 {
                "exited (code 0)".to_owned()
            } else {
                format!("exited with code {status}{}", shell_says(status))
            };
            if status == 0 && info.si_code == libc::CLD_EXITED {
                // Quit by its user, say: worth a line, not a warning.
                tracing::info!(app = %cmd, "the --app command {how}; the display stays up");
            } else {
                tracing::warn!(app = %cmd, "the --app command {how}; the display stays up without it");
            }
            ended.send_replace(Some(format!("the app on the host {how}")));
        });
    if let Err(e) = spawned {
        tracing::debug!(error = %e, "the app is not watched");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(s: &str) -> KeyboardLayout {
        crate::config::parse_layout(s).expect("a layout")
    }

    #[test]
    fn what_a_killed_glint_left_is_swept_and_nothing_else() {
        let tmp = tempfile::tempdir().expect("a temp dir");
        let at = |n: &str| tmp.path().join(n);
        // PIDs stop at 2^22 on Linux: 4000000000 is no process.
        let gone = "4000000000";
        let me = std::process::id();
        std::fs::write(at(&format!("glint-xauth-{gone}-a1")), b"x").expect("write");
        std::fs::write(at(&format!("glint-xauth-{me}-b2")), b"x").expect("write");
        std::fs::write(at("glint-xauth-x-c3"), b"x").expect("write");
        std::fs::write(at(&format!("other-{gone}-d4")), b"x").expect("write");
        std::fs::create_dir(at(&format!("glint-pulse-{gone}-e5"))).expect("mkdir");
        std::fs::write(at(&format!("glint-pulse-{gone}-e5/cookie")), b"x").expect("write");
        std::fs::create_dir(at(&format!("glint-pulse-cookie-{gone}-f6"))).expect("mkdir");
        // A link is removed as a link: what it points at stays.
        let kept = tempfile::tempdir().expect("a temp dir");
        std::fs::write(kept.path().join("precious"), b"x").expect("write");
        std::os::unix::fs::symlink(kept.path(), at(&format!("glint-pulse-{gone}-g7")))
            .expect("link");

        assert_eq!(sweep_leftovers(tmp.path(), "glint-xauth-"), 1);
        assert_eq!(sweep_leftovers(tmp.path(), "glint-pulse-"), 2);
        assert_eq!(sweep_leftovers(tmp.path(), "glint-pulse-cookie-"), 1);
        let mut left: Vec<String> = std::fs::read_dir(tmp.path())
            .expect("read")
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(
            left,
            [
                format!("glint-xauth-{me}-b2"),
                "glint-xauth-x-c3".to_owned(),
                format!("other-{gone}-d4"),
            ]
        );
        assert!(kept.path().join("precious").exists());
    }

    #[test]
    fn the_first_page_sets_the_layout_and_later_ones_are_told_which_it_is() {
        let auth = std::path::Path::new("/nonexistent");
        // --keyboard-layout fr: no page changes it.
        let fixed = Keyboard::new(":9999", auth, Some(k("fr")));
        assert_eq!(fixed.follow(&k("fr")).ok(), Some(Followed::Same));
        assert_eq!(fixed.follow(&k("de")).ok(), Some(Followed::Kept(k("fr"))));
        // The default (us): a US page keeps it, and then it stays.
        let us = Keyboard::new(":9999", auth, None);
        assert_eq!(us.follow(&k("us")).ok(), Some(Followed::Same));
        assert_eq!(us.follow(&k("fr")).ok(), Some(Followed::Kept(k("us"))));
        // A first page with another layout: setxkbmap runs (here against no display, so it
        // fails and says so), once: the display keeps its layout.
        let none = Keyboard::new(":9999", auth, None);
        assert!(matches!(
            none.follow(&k("fr")),
            Err(DisplayError::Keyboard { .. })
        ));
        assert_eq!(none.follow(&k("us")).ok(), Some(Followed::Same));
        assert_eq!(none.follow(&k("de")).ok(), Some(Followed::Kept(k("us"))));
    }
}
