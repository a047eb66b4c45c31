//! Owner-only files and folders, on every system: the session token, the
//! private key, a server's database and data folder.
//!
//! On Unix that is the permission bits (0700 folders, 0600 files). On
//! Windows it is an access-control list naming the current user only,
//! protected from inheriting the parent's entries, and inherited by what is
//! created inside a folder made private.

use std::fs::OpenOptions;
use std::io;
use std::path::Path;

/// Creates `dir` and any missing parents; the last one (and any parent
/// created on the way, on Unix) is owner-only. Folders that exist are left
/// as they are.
pub fn create_dir_all(dir: &Path) -> io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    #[cfg(windows)]
    let existed = dir.is_dir();
    builder.create(dir)?;
    #[cfg(windows)]
    if !existed {
        windows::owner_only(dir, true)?;
    }
    Ok(())
}

/// Makes `options` create files readable by their owner only (Unix). On
/// Windows call [`restrict`] on the new file before writing a secret into
/// it (a file created in a private folder is private already).
pub fn create_owner_only(options: &mut OpenOptions) -> &mut OpenOptions {
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
}

/// What [`restrict`] found before it made the entry owner-only.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Before {
    /// Already owner-only (or this system cannot tell: Windows).
    Private,
    /// Open to others, with these Unix permission bits.
    Open(u32),
}

/// Makes the file or folder at `path` owner-only, and says whether it was
/// open to others before. A folder's new access list is inherited by what
/// is created inside it.
pub fn restrict(path: &Path) -> io::Result<Before> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::metadata(path)?;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 == 0 {
            return Ok(Before::Private);
        }
        let owner_only = if meta.is_dir() { 0o700 } else { 0o600 };
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(owner_only))?;
        Ok(Before::Open(mode))
    }
    #[cfg(windows)]
    {
        windows::owner_only(path, std::fs::metadata(path)?.is_dir())?;
        Ok(Before::Private)
    }
    #[cfg(not(any(unix, windows)))]
    {
        let _ = path;
        Ok(Before::Private)
    }
}

#[cfg(windows)]
mod windows {
    //! The current user's SID in a protected DACL of one entry.

    use std::io;
    use std::os::windows::ffi::OsStrExt;
    use std::path::Path;

    use windows::Win32::Foundation::{CloseHandle, HANDLE};
    use windows::Win32::Security::{
        ACE_FLAGS, ACL, ACL_REVISION, AddAccessAllowedAceEx, CONTAINER_INHERIT_ACE,
        DACL_SECURITY_INFORMATION, GetLengthSid, GetTokenInformation, InitializeAcl,
        InitializeSecurityDescriptor, OBJECT_INHERIT_ACE, PSECURITY_DESCRIPTOR, PSID,
        SE_DACL_PROTECTED, SECURITY_DESCRIPTOR, SetFileSecurityW, SetSecurityDescriptorControl,
        SetSecurityDescriptorDacl, TOKEN_QUERY, TOKEN_USER, TokenUser,
    };
    use windows::Win32::Storage::FileSystem::FILE_ALL_ACCESS;
    use windows::Win32::System::SystemServices::SECURITY_DESCRIPTOR_REVISION;
    use windows::Win32::System::Threading::{GetCurrentProcess, OpenProcessToken};
    use windows::core::PCWSTR;

    /// The current user, as this process's token names it: a `TOKEN_USER`
    /// in a buffer of u64 words (which keep it aligned).
    struct CurrentUser(Vec<u64>);

    impl CurrentUser {
        fn get() -> io::Result<CurrentUser> {
            // SAFETY: the buffer is sized by the call that asks for its
            // size; the token is closed once read.
            unsafe {
                let mut token = HANDLE::default();
                OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &mut token).map_err(io_error)?;
                let mut needed = 0u32;
                let _ = GetTokenInformation(token, TokenUser, None, 0, &mut needed);
                let mut user = vec![0u64; (needed as usize).div_ceil(8)];
                let read = GetTokenInformation(
                    token,
                    TokenUser,
                    Some(user.as_mut_ptr().cast()),
                    needed,
                    &mut needed,
                );
                let _ = CloseHandle(token);
                read.map_err(io_error)?;
                Ok(CurrentUser(user))
            }
        }

        /// Its SID, valid while `self` lives.
        fn sid(&self) -> PSID {
            // SAFETY: the buffer holds the TOKEN_USER the token gave.
            unsafe { (*self.0.as_ptr().cast::<TOKEN_USER>()).User.Sid }
        }
    }

    pub(super) fn owner_only(path: &Path, folder: bool) -> io::Result<()> {
        let user = CurrentUser::get()?;
        let sid = user.sid();
        // SAFETY: every buffer handed to the calls below is sized for what
        // they write, and outlives the calls using it.
        unsafe {
            // An ACL header, one ACCESS_ALLOWED_ACE (header + mask) and the SID.
            let size = 8 + 8 + GetLengthSid(sid) as usize;
            let mut acl = vec![0u64; size.div_ceil(8)];
            let acl_ptr = acl.as_mut_ptr().cast::<ACL>();
            InitializeAcl(acl_ptr, (acl.len() * 8) as u32, ACL_REVISION).map_err(io_error)?;
            let inherit = if folder {
                OBJECT_INHERIT_ACE | CONTAINER_INHERIT_ACE
            } else {
                ACE_FLAGS(0)
            };
            AddAccessAllowedAceEx(acl_ptr, ACL_REVISION, inherit, FILE_ALL_ACCESS.0, sid)
                .map_err(io_error)?;

            // SetFileSecurityW with a protected descriptor, not
            // SetNamedSecurityInfoW: the latter merges the parent's
            // inheritable entries in under Wine, protected or not. What is
            // inside a folder made private is made after it, and inherits.
            let mut sd = SECURITY_DESCRIPTOR::default();
            let sd_ptr = PSECURITY_DESCRIPTOR(std::ptr::addr_of_mut!(sd).cast());
            InitializeSecurityDescriptor(sd_ptr, SECURITY_DESCRIPTOR_REVISION).map_err(io_error)?;
            SetSecurityDescriptorDacl(sd_ptr, true, Some(acl_ptr), false).map_err(io_error)?;
            SetSecurityDescriptorControl(sd_ptr, SE_DACL_PROTECTED, SE_DACL_PROTECTED)
                .map_err(io_error)?;
            let wide: Vec<u16> = path.as_os_str().encode_wide().chain([0]).collect();
            if !SetFileSecurityW(PCWSTR(wide.as_ptr()), DACL_SECURITY_INFORMATION, sd_ptr).as_bool()
            {
                return Err(io::Error::last_os_error());
            }
        }
        Ok(())
    }

    fn io_error(e: windows::core::Error) -> io::Error {
        io::Error::other(e.message())
    }

    /// Whether this runs under Wine (its ntdll exports `wine_get_version`).
    #[cfg(test)]
    pub(super) fn under_wine() -> bool {
        use windows::Win32::System::LibraryLoader::{GetModuleHandleW, GetProcAddress};
        use windows::core::{s, w};
        // SAFETY: ntdll is always loaded; the name is a static C string.
        unsafe {
            GetModuleHandleW(w!("ntdll.dll"))
                .is_ok_and(|ntdll| GetProcAddress(ntdll, s!("wine_get_version")).is_some())
        }
    }

    /// What the access list of `path` holds: whether it is protected from
    /// inheritance, and the SIDs it allows, as strings (`S-1-5-…`); and the
    /// current user's SID.
    #[cfg(test)]
    pub(super) fn describe(path: &Path) -> io::Result<(bool, Vec<String>, String)> {
        use windows::Win32::Foundation::{HLOCAL, LocalFree};
        use windows::Win32::Security::Authorization::{
            ConvertSidToStringSidW, GetNamedSecurityInfoW, SE_FILE_OBJECT,
        };
        use windows::Win32::Security::{ACCESS_ALLOWED_ACE, GetAce, GetSecurityDescriptorControl};
        use windows::core::PWSTR;

        // SAFETY: the descriptor GetNamedSecurityInfoW allocates is read
        // and then freed with LocalFree; the strings likewise.
        unsafe {
            let sid_text = |sid: PSID| -> io::Result<String> {
                let mut text = PWSTR::null();
                ConvertSidToStringSidW(sid, &mut text).map_err(io_error)?;
                let out = text.to_string().unwrap_or_default();
                let _ = LocalFree(Some(HLOCAL(text.0.cast())));
                Ok(out)
            };
            let wide: Vec<u16> = path.as_os_str().encode_wide().chain([0]).collect();
            let mut dacl: *mut ACL = std::ptr::null_mut();
            let mut sd = PSECURITY_DESCRIPTOR::default();
            let status = GetNamedSecurityInfoW(
                PCWSTR(wide.as_ptr()),
                SE_FILE_OBJECT,
                DACL_SECURITY_INFORMATION,
                None,
                None,
                Some(&mut dacl),
                None,
                &mut sd,
            );
            if status.is_err() {
                return Err(io::Error::from_raw_os_error(status.0 as i32));
            }
            let mut control = 0u16;
            let mut revision = 0u32;
            GetSecurityDescriptorControl(sd, &mut control, &mut revision).map_err(io_error)?;
            let protected = control & SE_DACL_PROTECTED.0 != 0;
            let mut sids = Vec::new();
            for i in 0..(*dacl).AceCount {
                let mut ace = std::ptr::null_mut();
                GetAce(dacl, i.into(), &mut ace).map_err(io_error)?;
                let ace = ace.cast::<ACCESS_ALLOWED_ACE>();
                sids.push(sid_text(PSID(
                    std::ptr::addr_of_mut!((*ace).SidStart).cast(),
                ))?);
            }
            let _ = LocalFree(Some(HLOCAL(sd.0)));
            let me = sid_text(CurrentUser::get()?.sid())?;
            Ok((protected, sids, me))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn restrict_says_what_was_open_and_closes_it() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        std::fs::write(&file, b"x").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(restrict(&file).unwrap(), Before::Open(0o644));
        assert_eq!(restrict(&file).unwrap(), Before::Private);
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    /// Everyone, Users, Authenticated Users.
    #[cfg(windows)]
    const BROAD: [&str; 3] = ["S-1-1-0", "S-1-5-32-545", "S-1-5-11"];

    #[cfg(windows)]
    #[test]
    fn the_access_list_names_the_current_user_only_and_is_inherited() {
        // Wine keeps an access list as Unix permission bits and reads back
        // one made from them (with SYSTEM in it, and no inheritance): there
        // the check is that nobody else is let in.
        let wine = windows::under_wine();
        let dir = tempfile::tempdir().unwrap();
        let check = |path: &Path| {
            let (protected, sids, me) = windows::describe(path).unwrap();
            assert!(sids.contains(&me), "{sids:?} lacks {me}");
            assert!(
                !sids.iter().any(|s| BROAD.contains(&s.as_str())),
                "{sids:?}"
            );
            if !wine {
                assert!(
                    protected,
                    "{} still inherits its parent's entries",
                    path.display()
                );
                assert_eq!(sids, vec![me]);
            }
        };
        let inner = dir.path().join("private");
        create_dir_all(&inner).unwrap();
        check(&inner);
        // A file made inside takes the folder's entry.
        std::fs::write(inner.join("token"), b"x").unwrap();
        if !wine {
            check(&inner.join("token"));
        }
        // A file elsewhere, restricted on its own.
        let loose = dir.path().join("key.pem");
        std::fs::write(&loose, b"x").unwrap();
        restrict(&loose).unwrap();
        check(&loose);
    }

    #[test]
    fn a_private_folder_takes_files_and_can_be_restricted_again() {
        let dir = tempfile::tempdir().unwrap();
        let inner = dir.path().join("a").join("b");
        create_dir_all(&inner).unwrap();
        std::fs::write(inner.join("secret"), b"token").unwrap();
        restrict(&inner.join("secret")).unwrap();
        restrict(&inner).unwrap();
        assert_eq!(std::fs::read(inner.join("secret")).unwrap(), b"token");
    }
}
