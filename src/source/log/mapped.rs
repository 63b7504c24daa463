//! Plain log files read through a memory map. A 1 GiB log read with
//! `read(2)` costs a kernel copy of every byte, as much CPU as `cat` spends;
//! mapped, the scan reads the page cache in place.
//!
//! A mapped file that shrinks under the reader (a CI runner truncating its
//! log) raises SIGBUS on the next page touched. That is no crash here: the
//! thread scanning a mapped file names it in a thread-local slot, and the
//! handler prints a clear error naming that file and exits with status 2
//! (the scan cannot vouch for anything it read). A SIGBUS on a thread with
//! no mapped file falls through to the default action.

use std::fs::File;
use std::io;

use memmap2::{Advice, Mmap};

/// Map `file` (`size` bytes) for reading, hinting sequential access. `None`
/// for an empty file (nothing to map) or where mapping is not possible; the
/// caller then reads it.
pub fn map(file: &File, size: u64) -> io::Result<Option<Mmap>> {
    if size == 0 || usize::try_from(size).is_err() {
        return Ok(None);
    }
    // SAFETY: the map is only read. A file truncated while mapped raises
    // SIGBUS, which `Guard` turns into a clean exit naming the file.
    let map = unsafe { Mmap::map(file) }?;
    let _ = map.advise(Advice::Sequential);
    install_handler();
    Ok(Some(map))
}

/// While alive, a SIGBUS on this thread is reported as `path` truncated.
pub struct Guard {
    _message: Vec<u8>,
}

impl Guard {
    pub fn new(path: &str) -> Self {
        let message = format!(
            "cybrid-scan: error: {}: the file shrank while it was being read (truncated or rewritten under the scan); nothing is reported from a scan that could not read its input (exit status 2)\n",
            crate::report::escape_for_terminal(path)
        )
        .into_bytes();
        CURRENT.with(|c| c.set((message.as_ptr(), message.len())));
        Guard { _message: message }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        CURRENT.with(|c| c.set((std::ptr::null(), 0)));
    }
}

thread_local! {
    /// The message to print if this thread faults on a mapped file.
    static CURRENT: std::cell::Cell<(*const u8, usize)> =
        const { std::cell::Cell::new((std::ptr::null(), 0)) };
}

#[cfg(unix)]
fn install_handler() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: a zeroed sigaction with a valid handler and SA_SIGINFO is
        // the documented way to install a handler; the handler only calls
        // async-signal-safe functions (write, _exit, sigaction).
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_sigbus as *const () as usize;
            action.sa_flags = libc::SA_SIGINFO;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(libc::SIGBUS, &action, std::ptr::null_mut());
        }
    });
}

#[cfg(not(unix))]
fn install_handler() {}

#[cfg(unix)]
extern "C" fn on_sigbus(_: libc::c_int, _: *mut libc::siginfo_t, _: *mut libc::c_void) {
    let (ptr, len) = CURRENT.with(|c| c.get());
    // SAFETY: `ptr..ptr+len` is the live message of this thread's Guard;
    // write and _exit are async-signal-safe.
    unsafe {
        if ptr.is_null() {
            // Not ours: restore the default action; returning re-raises the
            // fault, which then ends the process as usual.
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = libc::SIG_DFL;
            libc::sigaction(libc::SIGBUS, &action, std::ptr::null_mut());
            return;
        }
        libc::write(2, ptr.cast(), len);
        libc::_exit(2);
    }
}
