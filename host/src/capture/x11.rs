//! X11 capture through MIT-SHM with a private memfd segment passed to the server by file
//! descriptor (`ShmAttachFd`): no SysV segment that other local users could attach to.
//!
//! With the DAMAGE extension the capture also learns when the screen changed, so a redraw
//! (the answer to a key press, say) can be captured at once instead of at the next tick.
//!
//! The capture's connection asks the X server to serve it before other clients (SYNC
//! `SetPriority`, X Synchronization Extension Protocol 3.1 §11): the server's scheduler
//! (`SmartScheduleClient` in the DIX) takes the highest-priority client with requests
//! waiting, so a grab no longer queues behind an application that floods the server.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::ptr::NonNull;
use std::time::Instant;

use x11rb::connection::Connection;
use x11rb::protocol::damage::{self, ConnectionExt as _};
use x11rb::protocol::shm::{self, ConnectionExt as _};
use x11rb::protocol::sync::ConnectionExt as _;
use x11rb::protocol::xproto::{ConnectionExt as _, ImageFormat, Window};
use x11rb::protocol::Event;
use x11rb::rust_connection::RustConnection;

use super::{Capture, CaptureError};

/// How often (in frames) the root geometry is checked for a size change.
const GEOMETRY_CHECK_EVERY: u32 = 30;

/// The capture connection's scheduling priority in the X server (SYNC `SetPriority`): above
/// every client left at the default, 0. Measured on Xvfb beside an xterm printing as fast as
/// it can: a small `GetImage`'s round trip p95 68–88 ms at 0, 5 ms at this (RESULTS.md).
pub const CAPTURE_PRIORITY: i32 = 100;

pub struct X11Capture {
    conn: RustConnection,
    root: Window,
    width: u32,
    height: u32,
    seg: shm::Seg,
    map: NonNull<u8>,
    len: usize,
    frames: u32,
    /// The root's damage object, when the server has DAMAGE.
    damage: Option<damage::Damage>,
    /// Damage seen since the last grab.
    changed: bool,
}

impl X11Capture {
    /// Opens `display`'s default screen for capture, its connection served first
    /// ([`CAPTURE_PRIORITY`]).
    pub fn open(display: &str) -> Result<Self, CaptureError> {
        Self::open_at(display, Some(CAPTURE_PRIORITY))
    }

    /// [`X11Capture::open`] at a given SYNC priority, or at the server's default (`None`: the
    /// grab bench's baseline). A server that refuses the priority still captures.
    pub fn open_at(display: &str, priority: Option<i32>) -> Result<Self, CaptureError> {
        let (conn, screen_num) =
            x11rb::connect(Some(display)).map_err(|e| CaptureError::Connect {
                display: display.to_owned(),
                reason: e.to_string(),
            })?;
        let lost = |e: &dyn std::fmt::Display| CaptureError::Lost(e.to_string());
        let screen = conn
            .setup()
            .roots
            .get(screen_num)
            .ok_or(CaptureError::Unsupported("the default screen"))?;
        let root = screen.root;
        let (width, height) = (
            u32::from(screen.width_in_pixels),
            u32::from(screen.height_in_pixels),
        );
        if screen.root_depth != 24 && screen.root_depth != 32 {
            return Err(CaptureError::Format {
                depth: screen.root_depth,
                bpp: 0,
            });
        }
        let version = conn
            .shm_query_version()
            .map_err(|e| lost(&e))?
            .reply()
            .map_err(|_| CaptureError::Unsupported("the MIT-SHM extension"))?;
        if (version.major_version, version.minor_version) < (1, 2) {
            return Err(CaptureError::Unsupported("MIT-SHM 1.2 (fd passing)"));
        }
        let len = width as usize * height as usize * 4;
        let (fd, map) = private_segment(len).map_err(CaptureError::Shm)?;
        let seg = conn.generate_id().map_err(|e| lost(&e))?;
        conn.shm_attach_fd(seg, fd, false)
            .map_err(|e| lost(&e))?
            .check()
            .map_err(|e| lost(&e))?;
        if let Err(e) = priority.map_or(Ok(()), |p| set_priority(&conn, p)) {
            tracing::info!(error = %e, "no SYNC priority: grabs wait their turn behind other X clients");
        }
        let damage = watch_damage(&conn, root);
        if damage.is_none() {
            tracing::info!("no DAMAGE extension: capturing on the frame clock only");
        }
        Ok(Self {
            conn,
            root,
            width,
            height,
            seg,
            map,
            len,
            frames: 0,
            damage,
            changed: false,
        })
    }

    /// This connection's scheduling priority as the X server holds it (SYNC `GetPriority`).
    pub fn priority(&self) -> Result<i32, CaptureError> {
        let lost = |e: &dyn std::fmt::Display| CaptureError::Lost(e.to_string());
        self.conn
            .sync_initialize(3, 1)
            .map_err(|e| lost(&e))?
            .reply()
            .map_err(|e| lost(&e))?;
        let reply = self
            .conn
            .sync_get_priority(x11rb::NONE)
            .map_err(|e| lost(&e))?
            .reply();
        Ok(reply.map_err(|e| lost(&e))?.priority)
    }

    /// Takes every queued event; notes damage.
    fn drain_events(&mut self) -> Result<(), CaptureError> {
        while let Some(ev) = self
            .conn
            .poll_for_event()
            .map_err(|e| CaptureError::Lost(e.to_string()))?
        {
            if let Event::DamageNotify(_) = ev {
                self.changed = true;
            }
        }
        Ok(())
    }

    fn check_geometry(&self) -> Result<(), CaptureError> {
        let geo = self
            .conn
            .get_geometry(self.root)
            .map_err(|e| CaptureError::Lost(e.to_string()))?
            .reply()
            .map_err(|e| CaptureError::Lost(e.to_string()))?;
        let (w, h) = (u32::from(geo.width), u32::from(geo.height));
        if (w, h) != (self.width, self.height) {
            return Err(CaptureError::Reinit {
                width: w,
                height: h,
            });
        }
        Ok(())
    }
}

/// Sets this connection's scheduling priority in the server (the capture's, and the input
/// injector's); an error when the server has no SYNC 3.1 or refuses.
pub(crate) fn set_priority(
    conn: &RustConnection,
    priority: i32,
) -> Result<(), x11rb::errors::ReplyError> {
    conn.sync_initialize(3, 1)?.reply()?;
    // `NONE`: the client making the request.
    conn.sync_set_priority(x11rb::NONE, priority)?.check()?;
    Ok(())
}

/// Asks for one event whenever the root goes from undamaged to damaged.
fn watch_damage(conn: &RustConnection, root: Window) -> Option<damage::Damage> {
    conn.damage_query_version(1, 1).ok()?.reply().ok()?;
    let id = conn.generate_id().ok()?;
    conn.damage_create(id, root, damage::ReportLevel::NON_EMPTY)
        .ok()?
        .check()
        .ok()?;
    Some(id)
}

/// A memfd of `len` bytes mapped shared; only this process and whoever gets the fd see it.
fn private_segment(len: usize) -> std::io::Result<(OwnedFd, NonNull<u8>)> {
    // SAFETY: plain libc calls; every result is checked before use, and the fd is owned.
    unsafe {
        let raw = libc::memfd_create(c"glint-capture".as_ptr(), libc::MFD_CLOEXEC);
        if raw < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let fd = OwnedFd::from_raw_fd(raw);
        if libc::ftruncate(fd.as_raw_fd(), len as libc::off_t) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        let ptr = libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED,
            fd.as_raw_fd(),
            0,
        );
        if ptr == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        let map = NonNull::new(ptr.cast::<u8>()).ok_or_else(std::io::Error::last_os_error)?;
        Ok((fd, map))
    }
}

impl Capture for X11Capture {
    fn size(&self) -> (u32, u32) {
        (self.width, self.height)
    }

    fn wait_for_change(&mut self, deadline: Instant) -> Result<bool, CaptureError> {
        if self.damage.is_none() {
            let now = Instant::now();
            if deadline > now {
                std::thread::sleep(deadline - now);
            }
            return Ok(false);
        }
        loop {
            self.drain_events()?;
            if self.changed {
                return Ok(true);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(false);
            }
            let mut pfd = libc::pollfd {
                fd: self.conn.stream().as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            let ms = left.as_micros().div_ceil(1000).min(1000) as libc::c_int;
            // SAFETY: one valid pollfd for the duration of the call.
            let n = unsafe { libc::poll(&mut pfd, 1, ms) };
            if n < 0 && std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
                return Err(CaptureError::Lost(
                    std::io::Error::last_os_error().to_string(),
                ));
            }
        }
    }

    fn grab(&mut self, into: &mut Vec<u8>) -> Result<(), CaptureError> {
        self.frames = self.frames.wrapping_add(1);
        if let Some(d) = self.damage {
            // Re-arm before reading the pixels: damage from now on is reported again.
            self.drain_events()?;
            self.changed = false;
            self.conn
                .damage_subtract(d, x11rb::NONE, x11rb::NONE)
                .map_err(|e| CaptureError::Lost(e.to_string()))?;
        }
        if self.frames.is_multiple_of(GEOMETRY_CHECK_EVERY) {
            self.check_geometry()?;
        }
        let reply = self
            .conn
            .shm_get_image(
                self.root,
                0,
                0,
                self.width as u16,
                self.height as u16,
                !0,
                ImageFormat::Z_PIXMAP.into(),
                self.seg,
                0,
            )
            .map_err(|e| CaptureError::Lost(e.to_string()))?
            .reply();
        if let Err(e) = reply {
            // BadMatch when the root shrank under us; anything else: the display is gone.
            self.check_geometry()?;
            return Err(CaptureError::Lost(e.to_string()));
        }
        // SAFETY: the mapping is `len` bytes long and lives as long as `self`; the server has
        // finished writing when the reply arrives.
        let pixels = unsafe { std::slice::from_raw_parts(self.map.as_ptr(), self.len) };
        into.clear();
        into.extend_from_slice(pixels);
        Ok(())
    }
}

impl Drop for X11Capture {
    fn drop(&mut self) {
        let _ = self.conn.shm_detach(self.seg);
        let _ = self.conn.flush();
        // SAFETY: unmapping the region mapped in `private_segment`, once.
        unsafe {
            libc::munmap(self.map.as_ptr().cast(), self.len);
        }
    }
}
