//! Process-wide start-up for both binaries: when the process started, the
//! allocator settings that keep short bursts of large buffers from staying
//! resident, and giving back what only the dynamic loader needed.

use std::sync::OnceLock;
use std::time::Instant;

static PROCESS_START: OnceLock<Instant> = OnceLock::new();

/// Notes when the process started and tunes the allocator (call first
/// thing in `main`).
pub fn mark_process_start() {
    let _ = PROCESS_START.set(Instant::now());
    tune_allocator();
    release_relocations();
}

/// Large, short-lived buffers (Argon2's 19 MiB at every sign-in, screenshot
/// encoding, an upload's body) go straight to the kernel and back when
/// freed, instead of staying resident in a malloc arena for the life of the
/// process; and a few arenas serve all threads (glibc makes up to eight per
/// core, and the server's blocking pool has many threads), so what one
/// burst of requests freed is reused by the next instead of sitting in
/// another arena.
fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator parameters; it is called once
    // at start-up, before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1024 * 1024);
        libc::mallopt(libc::M_ARENA_MAX, 4);
    }
}

/// Time since [`mark_process_start`].
pub fn since_process_start() -> std::time::Duration {
    PROCESS_START.get_or_init(Instant::now).elapsed()
}

/// Gives back the pages of the program's relocation table (`.rela.dyn`).
/// The dynamic loader applies every relocation of the program before `main`
/// and never reads the table again, yet its pages stay mapped: about 1 MB
/// for the app. Returns how many bytes were released (0 where this does not
/// apply, or the table could not be found with certainty).
pub fn release_relocations() -> usize {
    #[cfg(all(target_os = "linux", target_env = "gnu", target_pointer_width = "64"))]
    return elf::drop_pages(elf::relocation_pages());
    #[cfg(not(all(target_os = "linux", target_env = "gnu", target_pointer_width = "64")))]
    0
}

/// Gives back the pages of the program's own code (its executable
/// segment) that are mapped now. Start-up runs much code that never runs
/// again (argument parsing, opening and migrating databases, creating the
/// window, loading fonts), and it stays mapped for the life of the process;
/// called once start-up is over, this lets only the code that runs again
/// come back, from the page cache. Returns how many bytes were given back.
pub fn release_startup_code() -> usize {
    #[cfg(all(target_os = "linux", target_env = "gnu", target_pointer_width = "64"))]
    return elf::drop_pages(elf::code_pages());
    #[cfg(not(all(target_os = "linux", target_env = "gnu", target_pointer_width = "64")))]
    0
}

/// The program's own ELF image as the loader mapped it.
#[cfg(all(target_os = "linux", target_env = "gnu", target_pointer_width = "64"))]
mod elf {
    /// Drops the pages of `range` (whole pages of the program's read-only
    /// file mapping: clean, never written, so they read back unchanged from
    /// the file should anything touch them again); the bytes dropped.
    pub fn drop_pages(range: Option<(usize, usize)>) -> usize {
        let Some((start, len)) = range else {
            return 0;
        };
        // SAFETY: `range` comes from `code_pages` or `relocation_pages`:
        // whole pages of a private, read-only mapping of the program's file,
        // where MADV_DONTNEED only drops what can be read again.
        let done = unsafe { libc::madvise(start as *mut libc::c_void, len, libc::MADV_DONTNEED) };
        if done == 0 { len } else { 0 }
    }

    /// The program's load bias and program headers (the first object
    /// `dl_iterate_phdr` reports), mapped for the life of the process.
    fn program_headers() -> Option<(usize, &'static [libc::Elf64_Phdr])> {
        unsafe extern "C" fn first(
            info: *mut libc::dl_phdr_info,
            _size: libc::size_t,
            data: *mut libc::c_void,
        ) -> libc::c_int {
            // SAFETY: glibc passes a valid `dl_phdr_info` for the call, and
            // `data` is the `Option` `program_headers` handed in.
            let (info, out) = unsafe {
                (
                    &*info,
                    &mut *data.cast::<Option<(usize, &'static [libc::Elf64_Phdr])>>(),
                )
            };
            // SAFETY: `dlpi_phdr` points at `dlpi_phnum` program headers,
            // part of the program's image, mapped until it exits.
            let headers =
                unsafe { std::slice::from_raw_parts(info.dlpi_phdr, usize::from(info.dlpi_phnum)) };
            *out = Some((info.dlpi_addr as usize, headers));
            1
        }
        let mut found = None;
        // SAFETY: the callback only reads what glibc passes it and writes
        // `found`, which outlives the call.
        unsafe { libc::dl_iterate_phdr(Some(first), (&raw mut found).cast()) };
        found
    }

    /// The program's executable segment, whole pages (start, length).
    pub fn code_pages() -> Option<(usize, usize)> {
        let (bias, headers) = program_headers()?;
        let mut code = headers
            .iter()
            .filter(|h| h.p_type == libc::PT_LOAD && h.p_flags & libc::PF_X != 0);
        let (Some(h), None) = (code.next(), code.next()) else {
            return None;
        };
        let page = page_size();
        let from = bias + h.p_vaddr as usize;
        let start = from / page * page;
        let end = (from + h.p_memsz as usize).div_ceil(page) * page;
        Some((start, end - start))
    }

    /// The whole pages of the program's `.rela.dyn` (start, length), from
    /// its dynamic section, only if they lie in a read-only,
    /// non-executable segment.
    pub fn relocation_pages() -> Option<(usize, usize)> {
        /// One entry of the dynamic section (`Elf64_Dyn`).
        #[repr(C)]
        struct Dyn {
            tag: i64,
            value: u64,
        }
        const DT_NULL: i64 = 0;
        const DT_RELA: i64 = 7;
        const DT_RELASZ: i64 = 8;

        let (bias, headers) = program_headers()?;
        let dynamic = headers.iter().find(|h| h.p_type == libc::PT_DYNAMIC)?;
        let first = (bias + dynamic.p_vaddr as usize) as *const Dyn;
        let (mut table, mut size) = (None, None);
        for n in 0..dynamic.p_memsz as usize / std::mem::size_of::<Dyn>() {
            // SAFETY: entry `n` lies inside the PT_DYNAMIC segment, which is
            // mapped; the loop stops at DT_NULL or the segment's end.
            let Dyn { tag, value } = unsafe { first.add(n).read() };
            match tag {
                DT_NULL => break,
                DT_RELA => table = Some(value as usize),
                DT_RELASZ => size = Some(value as usize),
                _ => {}
            }
        }
        let (table, size) = (table?, size?);
        // glibc rewrites the program's DT_RELA to an address when the
        // dynamic section is writable; otherwise it is an offset.
        let table = if table < bias { bias + table } else { table };
        let inside_read_only_load = headers.iter().any(|h| {
            let from = bias + h.p_vaddr as usize;
            h.p_type == libc::PT_LOAD
                && h.p_flags & (libc::PF_W | libc::PF_X) == 0
                && from <= table
                && table + size <= from + h.p_filesz as usize
        });
        let page = page_size();
        let (start, end) = (table.div_ceil(page) * page, (table + size) / page * page);
        (inside_read_only_load && end > start).then_some((start, end - start))
    }

    pub fn page_size() -> usize {
        // SAFETY: sysconf has no preconditions.
        let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        usize::try_from(size)
            .ok()
            .filter(|&s| s > 0)
            .unwrap_or(4096)
    }
}

#[cfg(all(
    test,
    target_os = "linux",
    target_env = "gnu",
    target_pointer_width = "64"
))]
mod tests {
    use super::elf::{code_pages, page_size, relocation_pages};
    use super::*;

    /// Whether each page of `[start, start + len)` is mapped in this
    /// process, from `/proc/self/pagemap` (bit 63 of each entry).
    fn present_pages(start: usize, len: usize) -> usize {
        use std::io::{Read, Seek, SeekFrom};
        let page = page_size();
        let mut map = std::fs::File::open("/proc/self/pagemap").unwrap();
        map.seek(SeekFrom::Start((start / page * 8) as u64))
            .unwrap();
        let mut entries = vec![0u8; len / page * 8];
        map.read_exact(&mut entries).unwrap();
        entries
            .chunks_exact(8)
            .filter(|e| u64::from_le_bytes((*e).try_into().unwrap()) >> 63 == 1)
            .count()
    }

    #[test]
    fn the_relocation_table_is_given_back_and_reads_the_same() {
        // A test binary is a position-independent executable with
        // thousands of relocations, like the app.
        let (start, len) = relocation_pages().expect("the relocation table is found");
        assert!(len >= 4096, "{len} bytes");
        // SAFETY: the range is mapped, readable memory of this program.
        let before = unsafe { std::slice::from_raw_parts(start as *const u8, len) }.to_vec();
        assert!(present_pages(start, len) > 0, "the loader read the table");

        assert_eq!(release_relocations(), len);
        assert_eq!(present_pages(start, len), 0, "every page was given back");

        // SAFETY: as above; the pages read back from the file.
        let after = unsafe { std::slice::from_raw_parts(start as *const u8, len) };
        assert!(before == after, "the table reads back unchanged");
    }

    #[inline(never)]
    fn answer() -> u64 {
        std::hint::black_box(42)
    }

    #[test]
    fn code_pages_given_back_run_again() {
        let (start, len) = code_pages().expect("the program's code is found");
        let here = answer as *const () as usize;
        assert!((start..start + len).contains(&here));
        assert!(present_pages(start, len) > 0);
        assert_eq!(release_startup_code(), len);
        // The code runs again: its pages come back from the file.
        assert_eq!(answer(), 42);
        assert!(present_pages(start, len) > 0);
    }
}
