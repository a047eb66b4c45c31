//! How Windows' shell knows Timecard: its AppUserModelID, declared by the
//! running process and carried by the Start-menu shortcut, so the taskbar
//! groups its windows and toasts say "Timecard" (a toast's sender must be
//! the id of a Start-menu shortcut; without one Windows shows the toast as
//! PowerShell's).
//!
//! The shortcut is written here byte by byte, after Microsoft's published
//! format ([MS-SHLLINK] with the property store of [MS-PROPSTORE]): the
//! shell's own `IPropertyStore` on a shell link is what installers usually
//! call, but Wine (where the installer is tested) accepts the id there and
//! drops it, so that path could not be tested. The file is the same on
//! every system, which also lets the format be unit-tested on Linux. The
//! Windows installer runs `timecard.exe shortcut` to write it.

use std::path::Path;

/// Timecard's AppUserModelID on Windows.
pub const APP_USER_MODEL_ID: &str = "app.timecard.Timecard";

/// Declares [`APP_USER_MODEL_ID`] as this process's id (Windows; elsewhere
/// nothing), before any window or toast, so both are Timecard's.
pub fn declare_for_process() {
    #[cfg(windows)]
    {
        use windows::Win32::UI::Shell::SetCurrentProcessExplicitAppUserModelID;
        let id = windows::core::HSTRING::from(APP_USER_MODEL_ID);
        // SAFETY: `id` is a NUL-terminated wide string that outlives the call.
        if let Err(e) = unsafe { SetCurrentProcessExplicitAppUserModelID(&id) } {
            log::warn!("cannot declare the AppUserModelID {APP_USER_MODEL_ID}: {e}");
        }
    }
}

/// What a shortcut opens and shows.
#[derive(Clone, Debug)]
pub struct Shortcut<'a> {
    /// The program, a full Windows path (`C:\…\timecard.exe`).
    pub target: &'a str,
    /// The folder it starts in.
    pub working_dir: &'a str,
    /// The icon file (`.ico` or `.exe`) and the icon's index in it.
    pub icon: Option<(&'a str, i32)>,
    /// The tooltip.
    pub description: &'a str,
    /// The AppUserModelID it carries.
    pub app_id: &'a str,
}

/// `HasLinkInfo | HasName | HasWorkingDir | HasIconLocation | IsUnicode`
/// (no item-id list: the shell finds the target by its path).
const HAS_LINK_INFO: u32 = 0x02;
const HAS_NAME: u32 = 0x04;
const HAS_WORKING_DIR: u32 = 0x10;
const HAS_ICON_LOCATION: u32 = 0x40;
const IS_UNICODE: u32 = 0x80;

/// CLSID_ShellLink, {00021401-0000-0000-C000-000000000046}, as stored.
const SHELL_LINK_CLSID: [u8; 16] = [
    0x01, 0x14, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0xC0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x46,
];

/// The property set of PKEY_AppUserModel_ID,
/// {9F4C2855-9F79-4B39-A8D0-E1D42DE1D5F3}, as stored; the id is its
/// property 5.
const APP_USER_MODEL_FMTID: [u8; 16] = [
    0x55, 0x28, 0x4C, 0x9F, 0x79, 0x9F, 0x39, 0x4B, 0xA8, 0xD0, 0xE1, 0xD4, 0x2D, 0xE1, 0xD5, 0xF3,
];
const APP_USER_MODEL_ID_PID: u32 = 5;
const VT_LPWSTR: u16 = 0x1F;
/// The extra data block holding a serialized property store.
const PROPERTY_STORE_BLOCK: u32 = 0xA000_0009;
/// `1SPS`, the serialized property storage's version.
const PROPERTY_STORAGE_VERSION: u32 = 0x5350_5331;

fn utf16(text: &str) -> Vec<u16> {
    text.encode_utf16().collect()
}

fn put_u16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put_wide(out: &mut Vec<u8>, units: &[u16]) {
    for unit in units {
        put_u16(out, *unit);
    }
}

/// A counted string of the StringData section (no terminator).
fn put_counted(out: &mut Vec<u8>, text: &str) {
    let units = utf16(text);
    put_u16(out, units.len().min(u16::MAX as usize) as u16);
    put_wide(out, &units[..units.len().min(u16::MAX as usize)]);
}

/// The bytes of a `.lnk` file for `link`.
pub fn lnk_bytes(link: &Shortcut) -> Vec<u8> {
    let mut out = Vec::with_capacity(512);
    // ShellLinkHeader (76 bytes).
    let mut flags = HAS_LINK_INFO | HAS_NAME | HAS_WORKING_DIR | IS_UNICODE;
    if link.icon.is_some() {
        flags |= HAS_ICON_LOCATION;
    }
    put_u32(&mut out, 0x4C);
    out.extend_from_slice(&SHELL_LINK_CLSID);
    put_u32(&mut out, flags);
    put_u32(&mut out, 0x20); // FILE_ATTRIBUTE_ARCHIVE
    out.extend_from_slice(&[0; 24]); // creation, access and write times
    put_u32(&mut out, 0); // file size
    put_u32(&mut out, link.icon.map_or(0, |(_, index)| index) as u32);
    put_u32(&mut out, 1); // SW_SHOWNORMAL
    put_u16(&mut out, 0); // no hot key
    out.extend_from_slice(&[0; 10]); // reserved
    link_info(&mut out, link.target);
    put_counted(&mut out, link.description);
    put_counted(&mut out, link.working_dir);
    if let Some((icon, _)) = link.icon {
        put_counted(&mut out, icon);
    }
    property_store_block(&mut out, link.app_id);
    put_u32(&mut out, 0); // terminal block
    out
}

/// LinkInfo: a local path on a fixed drive, in the system code page (here
/// ASCII, `?` for the rest) and in UTF-16, which the shell prefers.
fn link_info(out: &mut Vec<u8>, target: &str) {
    const HEADER: u32 = 0x24;
    const VOLUME_ID: u32 = 17; // size, type, serial, label offset, empty label
    let ansi: Vec<u8> = target
        .chars()
        .map(|c| if c.is_ascii() { c as u8 } else { b'?' })
        .chain([0])
        .collect();
    let wide: Vec<u16> = utf16(target).into_iter().chain([0]).collect();
    let volume_at = HEADER;
    let base_at = volume_at + VOLUME_ID;
    let suffix_at = base_at + ansi.len() as u32;
    let base_wide_at = suffix_at + 1;
    let suffix_wide_at = base_wide_at + 2 * wide.len() as u32;
    let size = suffix_wide_at + 2;
    put_u32(out, size);
    put_u32(out, HEADER);
    put_u32(out, 1); // VolumeIDAndLocalBasePath
    put_u32(out, volume_at);
    put_u32(out, base_at);
    put_u32(out, 0); // no network location
    put_u32(out, suffix_at);
    put_u32(out, base_wide_at);
    put_u32(out, suffix_wide_at);
    // VolumeID: DRIVE_FIXED, serial unknown, an empty label.
    put_u32(out, VOLUME_ID);
    put_u32(out, 3);
    put_u32(out, 0);
    put_u32(out, 0x10);
    out.push(0);
    out.extend_from_slice(&ansi);
    out.push(0); // empty common path suffix
    put_wide(out, &wide);
    put_u16(out, 0);
}

/// The PropertyStoreDataBlock holding PKEY_AppUserModel_ID = `app_id`
/// (a VT_LPWSTR, its length counting the terminator, padded to 4 bytes).
fn property_store_block(out: &mut Vec<u8>, app_id: &str) {
    let mut text: Vec<u16> = utf16(app_id).into_iter().chain([0]).collect();
    let chars = text.len() as u32;
    if text.len() % 2 == 1 {
        text.push(0);
    }
    let value_size = 4 + 4 + 1 + 4 + 4 + 2 * text.len() as u32;
    let storage_size = 4 + 4 + 16 + value_size + 4;
    let block_size = 4 + 4 + storage_size + 4;
    put_u32(out, block_size);
    put_u32(out, PROPERTY_STORE_BLOCK);
    put_u32(out, storage_size);
    put_u32(out, PROPERTY_STORAGE_VERSION);
    out.extend_from_slice(&APP_USER_MODEL_FMTID);
    put_u32(out, value_size);
    put_u32(out, APP_USER_MODEL_ID_PID);
    out.push(0);
    put_u16(out, VT_LPWSTR);
    put_u16(out, 0);
    put_u32(out, chars);
    put_wide(out, &text);
    put_u32(out, 0); // end of this storage's values
    put_u32(out, 0); // end of the storages
}

/// Writes a shortcut to `exe` carrying [`APP_USER_MODEL_ID`] at `out`
/// (replacing one there), starting in `exe`'s folder, with `icon` (or the
/// program's own icon).
pub fn write_for(exe: &Path, icon: Option<&Path>, out: &Path) -> std::io::Result<()> {
    let target = exe.to_string_lossy();
    let folder = exe
        .parent()
        .map(|p| p.to_string_lossy())
        .unwrap_or_default();
    let icon = icon.map(|icon| icon.to_string_lossy());
    let bytes = lnk_bytes(&Shortcut {
        target: &target,
        working_dir: &folder,
        icon: Some((icon.as_deref().unwrap_or(&target), 0)),
        description: "Track your hours on your contracts",
        app_id: APP_USER_MODEL_ID,
    });
    std::fs::write(out, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u32_at(bytes: &[u8], at: usize) -> u32 {
        u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap())
    }

    fn wide(text: &str) -> Vec<u8> {
        text.encode_utf16().flat_map(u16::to_le_bytes).collect()
    }

    fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
        haystack.windows(needle.len()).position(|w| w == needle)
    }

    #[test]
    fn a_shortcut_holds_its_target_and_app_id_where_the_format_says() {
        let target = r"C:\Users\Zoë\AppData\Local\Programs\Timecard\timecard.exe";
        let bytes = lnk_bytes(&Shortcut {
            target,
            working_dir: r"C:\Users\Zoë\AppData\Local\Programs\Timecard",
            icon: Some((
                r"C:\Users\Zoë\AppData\Local\Programs\Timecard\timecard.ico",
                0,
            )),
            description: "Timecard",
            app_id: APP_USER_MODEL_ID,
        });
        assert_eq!(u32_at(&bytes, 0), 0x4C);
        assert_eq!(&bytes[4..20], &SHELL_LINK_CLSID);
        let flags = u32_at(&bytes, 20);
        assert_eq!(flags & 0x01, 0, "no item-id list");
        assert_eq!(flags & 0xD6, 0xD6, "{flags:#x}");
        // LinkInfo right after the header; its sizes and offsets add up.
        let info = 76;
        let info_size = u32_at(&bytes, info) as usize;
        let base_wide = u32_at(&bytes, info + 28) as usize;
        let wide_target = wide(target);
        assert_eq!(
            &bytes[info + base_wide..info + base_wide + wide_target.len()],
            &wide_target[..]
        );
        let ansi_base = u32_at(&bytes, info + 16) as usize;
        assert!(bytes[info + ansi_base..].starts_with(br"C:\Users\Zo?\AppData"));
        // The strings follow LinkInfo: description, folder, icon.
        let strings = info + info_size;
        assert_eq!(
            u16::from_le_bytes([bytes[strings], bytes[strings + 1]]),
            "Timecard".len() as u16
        );
        // The property store: the set's id, property 5, a wide string
        // counting its terminator, then the three terminators.
        let block = find(&bytes, &PROPERTY_STORE_BLOCK.to_le_bytes()).unwrap() - 4;
        let block_size = u32_at(&bytes, block) as usize;
        assert_eq!(block + block_size + 4, bytes.len());
        assert_eq!(u32_at(&bytes, block + 12), PROPERTY_STORAGE_VERSION);
        assert_eq!(&bytes[block + 16..block + 32], &APP_USER_MODEL_FMTID);
        assert_eq!(u32_at(&bytes, block + 36), 5);
        assert_eq!(bytes[block + 40], 0);
        assert_eq!(&bytes[block + 41..block + 45], &[0x1F, 0, 0, 0]);
        assert_eq!(
            u32_at(&bytes, block + 45) as usize,
            APP_USER_MODEL_ID.len() + 1
        );
        let id = wide(APP_USER_MODEL_ID);
        assert_eq!(&bytes[block + 49..block + 49 + id.len()], &id[..]);
        let value_size = u32_at(&bytes, block + 32) as usize;
        // Size, id and reserved byte, then a typed value padded to 4 bytes.
        assert_eq!((value_size - 9) % 4, 0);
        assert_eq!(u32_at(&bytes, block + 32 + value_size), 0);
        assert_eq!(&bytes[bytes.len() - 8..], &[0; 8]);
        // Where liblnk's reader is installed, it has the last word.
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("Timecard.lnk");
        std::fs::write(&file, &bytes).unwrap();
        if let Ok(out) = std::process::Command::new("lnkinfo").arg(&file).output() {
            let printed = String::from_utf8_lossy(&out.stdout);
            assert!(out.status.success(), "{printed}");
            assert!(printed.contains(target), "{printed}");
            assert!(printed.contains("Timecard"), "{printed}");
        }
    }
}
