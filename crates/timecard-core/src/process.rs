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
/// for the app. They are clean, read-only file pages, so dropping them loses
/// nothing — should anything read them again they are read back from the
/// file. Returns how many bytes were released (0 where this does not
/// apply, or the table could not be found with certainty).
pub fn release_relocations() -> usize {
    #[cfg(all(target_os = "linux", target_env = "gnu", target_pointer_width = "64"))]
    {
        let Some((start, len)) = relocation_pages() else {
            return 0;
        };
        // SAFETY: the range is whole pages of the program's relocation
        // table inside a read-only, non-executable segment of its own file
        // mapping; MADV_DONTNEED on such a private file mapping only drops
        // the pages, which read back unchanged from the file if touched.
        let done = unsafe { libc::madvise(start as *mut libc::c_void, len, libc::MADV_DONTNEED) };
        if done == 0 { len } else { 0 }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu", target_pointer_width = "64")))]
    {
        0
    }
}

/// Gives back the pages of the program's own code (its executable
/// segment) that are mapped now. Start-up runs much code that never runs
/// again (argument parsing, opening and migrating databases, creating the
/// window, loading fonts), and it stays mapped for the life of the process;
/// called once start-up is over, this lets only the code that runs again
/// come back, from the page cache. The pages are clean, read-only file
/// pages: nothing is lost. Returns how many bytes were given back.
pub fn release_startup_code() -> usize {
    #[cfg(all(target_os = "linux", target_env = "gnu", target_pointer_width = "64"))]
    {
        let Some((start, len)) = code_pages() else {
            return 0;
        };
        // SAFETY: the range is the program's executable segment, a
        // private, read-only mapping of its file; MADV_DONTNEED drops the
        // pages, which read back unchanged from the file when run again.
        let done = unsafe { libc::madvise(start as *mut libc::c_void, len, libc::MADV_DONTNEED) };
        if done == 0 { len } else { 0 }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu", target_pointer_width = "64")))]
    {
        0
    }
}

/// The program's executable segment, whole pages (start address, length).
#[cfg(all(target_os = "linux", target_env = "gnu", target_pointer_width = "64"))]
fn code_pages() -> Option<(usize, usize)> {
    unsafe extern "C" fn program_only(
        info: *mut libc::dl_phdr_info,
        _size: libc::size_t,
        data: *mut libc::c_void,
    ) -> libc::c_int {
        // SAFETY: glibc passes a valid `dl_phdr_info` for the call, and
        // `data` is the `Option` `code_pages` handed in.
        let (info, out) = unsafe { (&*info, &mut *data.cast::<Option<(usize, usize)>>()) };
        // SAFETY: `dlpi_phdr` points at `dlpi_phnum` program headers.
        let headers =
            unsafe { std::slice::from_raw_parts(info.dlpi_phdr, usize::from(info.dlpi_phnum)) };
        let mut code = headers
            .iter()
            .filter(|h| h.p_type == libc::PT_LOAD && h.p_flags & libc::PF_X != 0);
        if let (Some(h), None) = (code.next(), code.next()) {
            let page = page_size();
            let from = info.dlpi_addr as usize + h.p_vaddr as usize;
            let start = from / page * page;
            let end = (from + h.p_memsz as usize).div_ceil(page) * page;
            *out = Some((start, end - start));
        }
        1
    }

    let mut found: Option<(usize, usize)> = None;
    // SAFETY: the callback only reads what glibc passes it and writes
    // `found`, which outlives the call.
    unsafe { libc::dl_iterate_phdr(Some(program_only), (&raw mut found).cast()) };
    found
}

/// The whole pages of the program's `.rela.dyn` (start address, length),
/// from its program headers and dynamic section as the loader reports them.
#[cfg(all(target_os = "linux", target_env = "gnu", target_pointer_width = "64"))]
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

    /// Called for each loaded object; the program itself comes first.
    unsafe extern "C" fn program_only(
        info: *mut libc::dl_phdr_info,
        _size: libc::size_t,
        data: *mut libc::c_void,
    ) -> libc::c_int {
        // SAFETY: glibc passes a valid `dl_phdr_info` for the call, and
        // `data` is the `Option` `relocation_pages` handed in.
        let (info, out) = unsafe { (&*info, &mut *data.cast::<Option<(usize, usize)>>()) };
        let bias = info.dlpi_addr as usize;
        // SAFETY: `dlpi_phdr` points at `dlpi_phnum` program headers.
        let headers =
            unsafe { std::slice::from_raw_parts(info.dlpi_phdr, usize::from(info.dlpi_phnum)) };
        let Some(dynamic) = headers.iter().find(|h| h.p_type == libc::PT_DYNAMIC) else {
            return 1;
        };
        let mut entry = (bias + dynamic.p_vaddr as usize) as *const Dyn;
        let (mut table, mut size) = (None, None);
        let entries = dynamic.p_memsz as usize / std::mem::size_of::<Dyn>();
        for _ in 0..entries {
            // SAFETY: the entries lie inside the PT_DYNAMIC segment, which
            // is mapped; the loop stops at DT_NULL or the segment's end.
            let Dyn { tag, value } = unsafe { entry.read() };
            match tag {
                DT_NULL => break,
                DT_RELA => table = Some(value as usize),
                DT_RELASZ => size = Some(value as usize),
                _ => {}
            }
            // SAFETY: still within the segment (bounded by `entries`).
            entry = unsafe { entry.add(1) };
        }
        let (Some(table), Some(size)) = (table, size) else {
            return 1;
        };
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
        if inside_read_only_load {
            let page = page_size();
            let start = table.div_ceil(page) * page;
            let end = (table + size) / page * page;
            if end > start {
                *out = Some((start, end - start));
            }
        }
        1
    }

    let mut found: Option<(usize, usize)> = None;
    // SAFETY: the callback only reads what glibc passes it and writes
    // `found`, which outlives the call.
    unsafe { libc::dl_iterate_phdr(Some(program_only), (&raw mut found).cast()) };
    found
}

#[cfg(all(target_os = "linux", target_env = "gnu", target_pointer_width = "64"))]
fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(size)
        .ok()
        .filter(|&s| s > 0)
        .unwrap_or(4096)
}

#[cfg(all(
    test,
    target_os = "linux",
    target_env = "gnu",
    target_pointer_width = "64"
))]
mod tests {
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
