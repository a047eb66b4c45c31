//! Memory shared with a display server: a memfd mapped here, whose file
//! descriptor the server (X11 MIT-SHM, Wayland `wl_shm`) writes pixels
//! into. No copy of the screen is made on the way.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

/// A memfd of `len` bytes, mapped read-write.
pub struct SharedMemory {
    fd: OwnedFd,
    ptr: *mut u8,
    len: usize,
}

// SAFETY: the mapping is owned by this value alone and only read through it.
unsafe impl Send for SharedMemory {}

impl SharedMemory {
    pub fn new(len: usize) -> std::io::Result<SharedMemory> {
        // SAFETY: plain libc calls; every result is checked, and the fd is
        // owned by an OwnedFd from here on.
        let fd = unsafe { libc::memfd_create(c"timecard-screen".as_ptr(), libc::MFD_CLOEXEC) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: `fd` was just opened and is owned by nothing else.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        // SAFETY: sizing a memfd this value owns; the result is checked.
        if unsafe { libc::ftruncate(fd.as_raw_fd(), len as libc::off_t) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: a new shared mapping of the memfd's `len` bytes; the
        // result is checked, and the mapping is owned by the value made
        // below (unmapped in `drop`).
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len.max(1),
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd.as_raw_fd(),
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        Ok(SharedMemory {
            fd,
            ptr: ptr.cast(),
            len,
        })
    }

    pub fn len(&self) -> usize {
        self.len
    }

    /// The file descriptor to hand to the display server.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    pub fn bytes(&self) -> &[u8] {
        // SAFETY: `ptr` maps `len` bytes for as long as `self` lives.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }

    /// Gives the pages back to the system, keeping the mapping (and the
    /// display server's hold on the fd): a screen's worth of pixels (8 MB
    /// at 1920×1080, 33 MB at 4K) is not kept between screenshots minutes
    /// apart. The next write fills fresh zeroed pages.
    pub fn release(&self) {
        // SAFETY: punching out the pages of the shared mapping this value
        // owns; no slice of it outlives `&self` borrows (`bytes`), and
        // this takes `&self` only between uses.
        unsafe {
            libc::madvise(self.ptr.cast(), self.len.max(1), libc::MADV_REMOVE);
        }
    }
}

impl Drop for SharedMemory {
    fn drop(&mut self) {
        // SAFETY: unmapping the mapping this value owns.
        unsafe {
            libc::munmap(self.ptr.cast(), self.len.max(1));
        }
    }
}
