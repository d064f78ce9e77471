//! The model file mapped read-only into memory: the weights are used where they
//! lie, one copy.
//!
//! On Linux a process that stays (the daemon) then moves the weights onto
//! transparent huge pages, in the background and piece by piece: decoding streams every weight once per token, and one core
//! reads about 18 GB/s from 4 KiB page-cache pages but 28 GB/s from 2 MiB pages
//! (the hardware prefetchers stop at page boundaries, and the TLB covers 512 times
//! more). Each piece is copied to fresh anonymous memory, then moved over the
//! mapped file with `mremap`, so the address and the bytes never change and memory
//! holds the file's pages or the copy, never both (one piece aside).

use std::fs::File;
use std::os::fd::AsRawFd;
use std::sync::{Arc, Mutex};

pub struct Mapping {
    ptr: *const u8,
    len: usize,
    /// The region to unmap: `ptr..ptr + mapped` (on Linux, `len` rounded up to a
    /// whole number of huge pages).
    mapped: usize,
    /// The thread moving the weights onto huge pages, until someone waits for it.
    settler: Mutex<Option<std::thread::JoinHandle<()>>>,
    /// Whether that thread was ever started: the move runs once.
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    settle_started: std::sync::atomic::AtomicBool,
}

// SAFETY: the bytes never change for the whole life of the value (moving them onto
// huge pages keeps every byte), so shared references from any thread are sound.
unsafe impl Send for Mapping {}
// SAFETY: as above.
unsafe impl Sync for Mapping {}

/// The huge page size pieces are aligned to.
#[cfg(target_os = "linux")]
const HUGE: usize = 2 << 20;

/// Bytes moved at a time: what memory holds twice at most while the weights move.
#[cfg(target_os = "linux")]
const PIECE: usize = 4 * HUGE;

impl Mapping {
    pub fn new(file: &File) -> std::io::Result<Self> {
        let len = usize::try_from(file.metadata()?.len())
            .map_err(|_| std::io::Error::other("file too large to map"))?;
        if len == 0 {
            return Err(std::io::Error::other("empty file"));
        }
        #[cfg(target_os = "linux")]
        {
            let mapped = len.next_multiple_of(HUGE);
            let base = reserve_aligned(mapped)?;
            // The file over the start of the reservation; the rest of the last huge
            // page stays reserved and inaccessible. Faulted in now (from the page
            // cache when the file is there) rather than during the first forward pass.
            // SAFETY: `base..base + mapped` is our reservation; MAP_FIXED replaces
            // part of it and nothing else.
            let p = unsafe {
                libc::mmap(
                    base.cast(),
                    len,
                    libc::PROT_READ,
                    libc::MAP_PRIVATE | libc::MAP_FIXED | libc::MAP_POPULATE,
                    file.as_raw_fd(),
                    0,
                )
            };
            if p == libc::MAP_FAILED {
                let e = std::io::Error::last_os_error();
                // SAFETY: the reservation is ours and unused.
                unsafe { libc::munmap(base.cast(), mapped) };
                return Err(e);
            }
            Ok(Self {
                ptr: base,
                len,
                mapped,
                settler: Mutex::new(None),
                settle_started: Default::default(),
            })
        }
        #[cfg(not(target_os = "linux"))]
        {
            // SAFETY: a fresh read-only private mapping of an open file descriptor;
            // the result is checked before use and unmapped only in `drop`.
            let ptr = unsafe {
                libc::mmap(
                    std::ptr::null_mut(),
                    len,
                    libc::PROT_READ,
                    libc::MAP_PRIVATE,
                    file.as_raw_fd(),
                    0,
                )
            };
            if ptr == libc::MAP_FAILED {
                return Err(std::io::Error::last_os_error());
            }
            Ok(Self {
                ptr: ptr.cast(),
                len,
                mapped: len,
                settler: Mutex::new(None),
                settle_started: Default::default(),
            })
        }
    }

    pub fn bytes(&self) -> &[u8] {
        // SAFETY: `ptr..ptr+len` is readable until `drop`, which cannot run while
        // this borrow lives, and its bytes never change. (Another process truncating
        // the file before its pages have moved would make reads fault: the same
        // contract as every mmap-based model loader.)
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }

    /// Starts moving the weights onto huge pages in a background thread (Linux; a
    /// no-op elsewhere). Reads may go on meanwhile: they see the same bytes.
    pub fn settle_in_background(this: &Arc<Self>) {
        #[cfg(target_os = "linux")]
        {
            let mut settler = this.settler.lock().unwrap_or_else(|p| p.into_inner());
            if this
                .settle_started
                .swap(true, std::sync::atomic::Ordering::SeqCst)
            {
                return;
            }
            let moving = Arc::clone(this);
            let spawned = std::thread::Builder::new()
                .name("caro-hugepages".into())
                .spawn(move || {
                    let started = std::time::Instant::now();
                    match moving.settle() {
                        Ok(()) => tracing::debug!(
                            "weights moved onto huge pages in {:?}",
                            started.elapsed()
                        ),
                        Err(e) => tracing::debug!("weights stay on small pages: {e}"),
                    }
                });
            match spawned {
                Ok(h) => *settler = Some(h),
                Err(e) => tracing::debug!("weights stay on small pages: {e}"),
            }
        }
        #[cfg(not(target_os = "linux"))]
        let _ = this;
    }

    /// Waits for [`Mapping::settle_in_background`]'s thread, if one runs.
    pub fn wait_settled(&self) {
        let handle = self
            .settler
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(h) = handle {
            // Its panic (there is no code path to one) would only mean small pages.
            let _ = h.join();
        }
    }

    /// Moves the mapping onto anonymous huge pages, one piece at a time.
    #[cfg(target_os = "linux")]
    fn settle(&self) -> std::io::Result<()> {
        let mut off = 0;
        while off < self.mapped {
            let n = PIECE.min(self.mapped - off);
            let tmp = reserve_aligned(n)?;
            // SAFETY: `tmp..tmp + n` is a fresh reservation of ours; it is made
            // writable, filled from bytes that stay mapped, made read-only and moved
            // (whole pages, aligned at both ends) over the same offsets of this
            // mapping, whose bytes it repeats; on failure it is unmapped.
            unsafe {
                let ok = libc::mprotect(tmp.cast(), n, libc::PROT_READ | libc::PROT_WRITE) == 0;
                // Advice only: without huge pages the move still helps a little.
                libc::madvise(tmp.cast(), n, libc::MADV_HUGEPAGE);
                let copy = n.min(self.len.saturating_sub(off));
                if ok {
                    std::ptr::copy_nonoverlapping(self.ptr.add(off), tmp, copy);
                }
                let moved = ok
                    && libc::mprotect(tmp.cast(), n, libc::PROT_READ) == 0
                    && libc::mremap(
                        tmp.cast(),
                        n,
                        n,
                        libc::MREMAP_MAYMOVE | libc::MREMAP_FIXED,
                        self.ptr.add(off) as *mut libc::c_void,
                    ) != libc::MAP_FAILED;
                if !moved {
                    let e = std::io::Error::last_os_error();
                    libc::munmap(tmp.cast(), n);
                    return Err(e);
                }
            }
            off += n;
        }
        Ok(())
    }
}

/// `len` bytes (a multiple of [`HUGE`]) of inaccessible address space starting on a
/// huge page boundary.
#[cfg(target_os = "linux")]
fn reserve_aligned(len: usize) -> std::io::Result<*mut u8> {
    let whole = len + HUGE;
    // SAFETY: a fresh private anonymous reservation; checked before use.
    let raw = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            whole,
            libc::PROT_NONE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
            -1,
            0,
        )
    };
    if raw == libc::MAP_FAILED {
        return Err(std::io::Error::last_os_error());
    }
    let head = (raw as usize).next_multiple_of(HUGE) - raw as usize;
    // SAFETY: `raw..raw + whole` is ours; the parts before and after the aligned
    // `len` bytes are unmapped once each and never used.
    unsafe {
        if head > 0 {
            libc::munmap(raw, head);
        }
        let base = raw.cast::<u8>().add(head);
        if whole - head > len {
            libc::munmap(base.add(len).cast(), whole - head - len);
        }
        Ok(base)
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the region `new` kept, once.
        unsafe {
            libc::munmap(self.ptr as *mut libc::c_void, self.mapped);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Mapping;
    use std::io::Write;

    /// Moving onto huge pages keeps every byte and address, while another thread reads.
    #[test]
    fn settling_keeps_the_bytes_while_they_are_read() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("model.bin");
        // Not a whole number of pieces or of huge pages, so both tails are covered.
        let len = 37 * (1 << 20) + 12345;
        let data: Vec<u8> = (0..len).map(|i| (i * 7 + i / 4096) as u8).collect();
        std::fs::File::create(&path)
            .and_then(|mut f| f.write_all(&data))
            .expect("write");
        let file = std::fs::File::open(&path).expect("open");
        let map = Mapping::new(&file).expect("map");
        assert_eq!(map.bytes(), &data[..]);
        let before = map.bytes().as_ptr();
        std::thread::scope(|s| {
            let reader = s.spawn(|| {
                for _ in 0..20 {
                    assert!(map.bytes() == &data[..]);
                }
            });
            #[cfg(target_os = "linux")]
            map.settle().expect("settle");
            reader.join().expect("reader");
        });
        assert_eq!(map.bytes().as_ptr(), before);
        assert_eq!(map.bytes(), &data[..]);
        // In the background, asked twice: one move, and waiting returns after it.
        let map = std::sync::Arc::new(map);
        Mapping::settle_in_background(&map);
        Mapping::settle_in_background(&map);
        map.wait_settled();
        assert_eq!(map.bytes(), &data[..]);
    }
}
