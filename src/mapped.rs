//! Read-only memory maps of file ranges that survive the file being cut
//! short under them.
//!
//! Reading a big log through a map skips the kernel's copy into a buffer,
//! which is most of what `cat` costs and half of what a scan costs. The
//! danger of a map is a file truncated by another process while it is read:
//! touching a page past the new end raises `SIGBUS`, which kills the
//! process. A handler installed once catches a `SIGBUS` inside a live map,
//! puts zero pages over the rest of that map so the reader can go on, and
//! marks the map: the reader then reports the input as cut short, never as
//! read whole. A `SIGBUS` anywhere else goes to the handler that was there
//! before (or the default action), as if this one did not exist.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::OnceLock;

/// Maps alive at once (one per scanning thread); beyond it, callers read.
const SLOTS: usize = 128;

struct Slot {
    /// Claimed by a map.
    used: AtomicBool,
    /// Address range of the map; `start == 0` while not armed.
    start: AtomicUsize,
    end: AtomicUsize,
    /// A `SIGBUS` hit this map: the file shrank under it.
    cut: AtomicBool,
}

#[allow(clippy::declare_interior_mutable_const)]
const FREE: Slot = Slot {
    used: AtomicBool::new(false),
    start: AtomicUsize::new(0),
    end: AtomicUsize::new(0),
    cut: AtomicBool::new(false),
};
static TABLE: [Slot; SLOTS] = [FREE; SLOTS];
static PAGE: AtomicUsize = AtomicUsize::new(4096);

/// The handler that was in place before ours, for faults that are not ours.
struct Previous(libc::sigaction);
// SAFETY: a plain C struct written once (before the handler can run) and only read after.
unsafe impl Sync for Previous {}
unsafe impl Send for Previous {}
static PREVIOUS: OnceLock<Result<Previous, i32>> = OnceLock::new();

extern "C" fn on_sigbus(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    // Only async-signal-safe work here: atomics and one mmap(2).
    // SAFETY: the kernel passes a valid siginfo with SA_SIGINFO.
    let addr = unsafe { (*info).si_addr() } as usize;
    let page = PAGE.load(Ordering::Relaxed);
    for slot in &TABLE {
        let start = slot.start.load(Ordering::Acquire);
        let end = slot.end.load(Ordering::Acquire);
        if start == 0 || addr < start || addr >= end {
            continue;
        }
        let from = addr & !(page - 1);
        // SAFETY: replaces pages of a map this process owns and is reading;
        // MAP_FIXED over our own range, anonymous zero pages, read-only.
        let r = unsafe {
            libc::mmap(
                from as *mut libc::c_void,
                end - from,
                libc::PROT_READ,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED,
                -1,
                0,
            )
        };
        if r != libc::MAP_FAILED {
            slot.cut.store(true, Ordering::Release);
            return;
        }
    }
    // Not ours: behave as the previous disposition would.
    match PREVIOUS.get() {
        Some(Ok(Previous(prev)))
            if prev.sa_sigaction != libc::SIG_DFL && prev.sa_sigaction != libc::SIG_IGN =>
        {
            if prev.sa_flags & libc::SA_SIGINFO != 0 {
                // SAFETY: the previous handler was installed with this signature.
                let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
                    unsafe { std::mem::transmute(prev.sa_sigaction) };
                f(sig, info, ctx);
            } else {
                // SAFETY: the previous handler was installed with this signature.
                let f: extern "C" fn(libc::c_int) =
                    unsafe { std::mem::transmute(prev.sa_sigaction) };
                f(sig);
            }
        }
        _ => {
            // Back to the default action; returning re-runs the faulting
            // access, which then ends the process as it would have.
            // SAFETY: plain sigaction(2) with a zeroed, SIG_DFL action.
            unsafe {
                let mut dfl: libc::sigaction = std::mem::zeroed();
                dfl.sa_sigaction = libc::SIG_DFL;
                libc::sigaction(libc::SIGBUS, &dfl, std::ptr::null_mut());
            }
        }
    }
}

/// Install the handler once; `Err` (the errno) when it could not be.
fn install() -> Result<(), i32> {
    let installed = PREVIOUS.get_or_init(|| {
        // SAFETY: sysconf and sigaction with valid, zero-initialised arguments.
        unsafe {
            let page = libc::sysconf(libc::_SC_PAGESIZE);
            if page > 0 {
                PAGE.store(page as usize, Ordering::Relaxed);
            }
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_sigbus as *const () as usize;
            action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
            libc::sigemptyset(&mut action.sa_mask);
            let mut prev: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(libc::SIGBUS, &action, &mut prev) == 0 {
                Ok(Previous(prev))
            } else {
                Err(io::Error::last_os_error().raw_os_error().unwrap_or(0))
            }
        }
    });
    installed.as_ref().map(|_| ()).map_err(|e| *e)
}

/// `len` bytes of a file from `offset`, mapped read-only and populated.
pub struct MappedRange {
    base: *mut libc::c_void,
    map_len: usize,
    /// Where the asked-for bytes start inside the map (page alignment).
    skip: usize,
    len: usize,
    slot: &'static Slot,
}

// SAFETY: the map is read-only and owned by this value; moving it to
// another thread moves the ownership of the address range.
unsafe impl Send for MappedRange {}

impl MappedRange {
    /// `Ok(None)` when no map can be used here (all slots busy, or the
    /// handler could not be installed): read the file instead.
    pub fn new(file: &File, offset: u64, len: usize) -> io::Result<Option<MappedRange>> {
        if len == 0 || install().is_err() {
            return Ok(None);
        }
        let Some(slot) = TABLE.iter().find(|s| {
            s.used
                .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        }) else {
            return Ok(None);
        };
        let page = PAGE.load(Ordering::Relaxed) as u64;
        let aligned = offset - offset % page;
        let skip = (offset - aligned) as usize;
        let map_len = skip + len;
        let Ok(file_offset) = libc::off_t::try_from(aligned) else {
            slot.used.store(false, Ordering::Release);
            return Ok(None);
        };
        // SAFETY: a fresh read-only shared map of a file we hold open.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                map_len,
                libc::PROT_READ,
                libc::MAP_SHARED | populate(),
                file.as_raw_fd(),
                file_offset,
            )
        };
        if base == libc::MAP_FAILED {
            let e = io::Error::last_os_error();
            slot.used.store(false, Ordering::Release);
            return Err(e);
        }
        slot.cut.store(false, Ordering::Relaxed);
        slot.end.store(base as usize + map_len, Ordering::Release);
        slot.start.store(base as usize, Ordering::Release);
        Ok(Some(MappedRange {
            base,
            map_len,
            skip,
            len,
            slot,
        }))
    }

    pub fn bytes(&self) -> &[u8] {
        // SAFETY: the map covers skip + len readable bytes for our lifetime;
        // pages the file lost are replaced by zero pages, never unmapped.
        unsafe { std::slice::from_raw_parts((self.base as *const u8).add(self.skip), self.len) }
    }

    /// The file was cut short under this map: some of `bytes` read as zeros.
    pub fn cut_short(&self) -> bool {
        self.slot.cut.load(Ordering::Acquire)
    }
}

impl Drop for MappedRange {
    fn drop(&mut self) {
        self.slot.start.store(0, Ordering::Release);
        self.slot.end.store(0, Ordering::Release);
        // SAFETY: unmapping the range this value mapped, once.
        unsafe { libc::munmap(self.base, self.map_len) };
        self.slot.used.store(false, Ordering::Release);
    }
}

/// Fault the pages in with the map (one call instead of a fault per page).
fn populate() -> libc::c_int {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        libc::MAP_POPULATE
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn a_range_reads_the_file_bytes() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("f");
        let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, &data).expect("write");
        let file = File::open(&path).expect("open");
        let map = MappedRange::new(&file, 5000, 40_000)
            .expect("map")
            .expect("a slot");
        assert_eq!(map.bytes(), &data[5000..45_000]);
        assert!(!map.cut_short());
    }

    #[test]
    fn a_file_cut_short_under_the_map_reads_as_zeros_and_is_marked() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("f");
        let mut f = File::create(&path).expect("create");
        f.write_all(&vec![b'x'; 1 << 20]).expect("write");
        drop(f);
        let file = File::open(&path).expect("open");
        let map = MappedRange::new(&file, 0, 1 << 20)
            .expect("map")
            .expect("a slot");
        File::options()
            .write(true)
            .open(&path)
            .expect("open for writing")
            .set_len(10_000)
            .expect("truncate");
        let bytes = map.bytes();
        assert_eq!(bytes[0], b'x');
        assert_eq!(bytes[(1 << 20) - 1], 0, "past the new end reads as zero");
        assert!(map.cut_short());
        assert!(bytes[..10_000].iter().all(|&b| b == b'x'));
    }
}
