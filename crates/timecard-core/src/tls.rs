//! TLS set-up shared by the client and the server: the ring crypto provider,
//! PEM parsing, and the self-signed certificate of a self-hosted or built-in
//! server: which names it covers (`localhost`, `127.0.0.1`, and for a served
//! one the machine's hostname, its addresses and any `--hostname`), when it
//! is made again, and its fingerprint.

use std::fs;
use std::io;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use sha2::{Digest, Sha256};

/// Installs ring as the process's rustls provider. Safe to call many times.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A certificate and its private key, PEM-encoded.
#[derive(Clone)]
pub struct CertificatePair {
    pub cert_pem: Vec<u8>,
    pub key_pem: Vec<u8>,
}

/// Where a server keeps its generated certificate.
pub fn self_signed_paths(data_dir: &Path) -> (PathBuf, PathBuf) {
    let tls = data_dir.join("tls");
    (tls.join("cert.pem"), tls.join("key.pem"))
}

/// The names a generated certificate covers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CertificateNames {
    /// Names it must cover: a certificate that lacks one is made again.
    pub required: Vec<String>,
    /// Names a new certificate also gets, but whose absence does not make
    /// one: this machine's addresses come and go with networks (a VPN, a
    /// new lease), and every new certificate must be trusted again by
    /// every client that pinned the old one.
    pub optional: Vec<String>,
}

impl CertificateNames {
    /// `localhost` and `127.0.0.1`: a server only this machine talks to.
    pub fn local() -> Self {
        CertificateNames {
            required: vec!["localhost".to_owned(), "127.0.0.1".to_owned()],
            optional: Vec::new(),
        }
    }

    /// A server others reach: [`CertificateNames::local`], this machine's
    /// hostname and `extra` (the `--hostname` names) are required; `::1`
    /// and this machine's other addresses are optional.
    pub fn this_machine(extra: &[String]) -> Self {
        let mut names = CertificateNames::local();
        if let Some(host) = hostname() {
            names.required.push(host);
        }
        names.required.extend(extra.iter().cloned());
        names.optional.push("::1".to_owned());
        names
            .optional
            .extend(machine_addresses().iter().map(IpAddr::to_string));
        names.required = dedup_names(std::mem::take(&mut names.required));
        names.optional = dedup_names(std::mem::take(&mut names.optional))
            .into_iter()
            .filter(|n| !names.required.iter().any(|r| same_name(r, n)))
            .collect();
        names
    }
}

/// Checks a name given for a certificate: a DNS name or an IP address.
pub fn check_name(name: &str) -> Result<String, String> {
    let name = name.trim().trim_end_matches('.');
    match ServerName::try_from(name) {
        Ok(_) if name.is_ascii() && !name.is_empty() => Ok(name.to_ascii_lowercase()),
        _ => Err(format!(
            "{name:?} is not a host name (like sync.example.com) or an IP address"
        )),
    }
}

/// A generated certificate as it is after [`ensure_self_signed_for`].
pub struct SelfSigned {
    pub pair: CertificatePair,
    /// Set when the certificate was made now: the required names an
    /// existing one lacked (empty when there was none), the old one kept as
    /// `cert.pem.old`.
    pub made: Option<Vec<String>>,
}

/// Reads `DATA/tls/cert.pem` and `key.pem`, generating them on first use
/// (the key with owner-only permissions), covering `localhost` and
/// `127.0.0.1`.
pub fn ensure_self_signed(data_dir: &Path) -> io::Result<CertificatePair> {
    Ok(ensure_self_signed_for(data_dir, &CertificateNames::local())?.pair)
}

/// Reads `DATA/tls/cert.pem` and `key.pem`, making them when there are none
/// or when the certificate lacks a required name; then the old pair is
/// kept as `cert.pem.old` and `key.pem.old`.
pub fn ensure_self_signed_for(data_dir: &Path, names: &CertificateNames) -> io::Result<SelfSigned> {
    let (cert_path, key_path) = self_signed_paths(data_dir);
    let mut missing = Vec::new();
    if cert_path.exists() && key_path.exists() {
        let pair = CertificatePair {
            cert_pem: fs::read(&cert_path)?,
            key_pem: fs::read(&key_path)?,
        };
        let covered = certificate_names(&pair.cert_pem)?;
        missing = names
            .required
            .iter()
            .filter(|wanted| !covered.iter().any(|c| same_name(c, wanted)))
            .cloned()
            .collect();
        if missing.is_empty() {
            return Ok(SelfSigned { pair, made: None });
        }
        fs::rename(&cert_path, cert_path.with_extension("pem.old"))?;
        fs::rename(&key_path, key_path.with_extension("pem.old"))?;
    }
    let all = dedup_names(
        names
            .required
            .iter()
            .chain(&names.optional)
            .cloned()
            .collect(),
    );
    let generated = rcgen::generate_simple_self_signed(all).map_err(io::Error::other)?;
    let pair = CertificatePair {
        cert_pem: generated.cert.pem().into_bytes(),
        key_pem: generated.signing_key.serialize_pem().into_bytes(),
    };
    let dir = cert_path.parent().expect("tls folder");
    fs::create_dir_all(dir)?;
    crate::fs::durable::write_private(&key_path, &pair.key_pem)?;
    fs::write(&cert_path, &pair.cert_pem)?;
    Ok(SelfSigned {
        pair,
        made: Some(missing),
    })
}

/// The DNS names and IP addresses (subject alternative names) the first
/// certificate in `cert_pem` covers.
pub fn certificate_names(cert_pem: &[u8]) -> io::Result<Vec<String>> {
    let der = first_certificate(cert_pem)?;
    der::subject_alt_names(&der).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            "the certificate cannot be read (its names)",
        )
    })
}

/// The SHA-256 fingerprint of the first certificate in `cert_pem`, as
/// [`Fingerprint`] writes it (`SHA256:AB:CD:…`).
pub fn fingerprint(cert_pem: &[u8]) -> io::Result<String> {
    Ok(Fingerprint::of(first_certificate(cert_pem)?.as_ref()).to_string())
}

/// A certificate's SHA-256 fingerprint (Y7: what a client trusts on first
/// use). Written `SHA256:` and the 32 bytes as upper-case hex pairs joined
/// by colons: what `timecard-server serve` prints, what the sign-in dialog
/// shows, and (after the prefix) what `openssl x509 -fingerprint -sha256`
/// prints, so the three can be compared by eye.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint(pub [u8; 32]);

impl Fingerprint {
    /// The fingerprint of a DER-encoded certificate.
    pub fn of(der: &[u8]) -> Fingerprint {
        Fingerprint(Sha256::digest(der).into())
    }

    /// Reads a fingerprint as people copy it: with or without `SHA256:`,
    /// hex pairs with or without colons or spaces, any case.
    pub fn parse(text: &str) -> Result<Fingerprint, String> {
        let trimmed = text.trim();
        let hex = trimmed
            .strip_prefix("SHA256:")
            .or_else(|| trimmed.strip_prefix("sha256:"))
            .unwrap_or(trimmed);
        let digits: String = hex
            .chars()
            .filter(|c| !matches!(c, ':' | ' ' | '-'))
            .collect();
        let wrong = || {
            format!(
                "{trimmed:?} is not a SHA-256 fingerprint; copy it as `timecard-server serve` prints it (SHA256: and 32 hex pairs, e.g. SHA256:3F:A2:…)"
            )
        };
        if digits.len() != 64 || !digits.is_ascii() {
            return Err(wrong());
        }
        let mut bytes = [0u8; 32];
        for (i, byte) in bytes.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&digits[2 * i..2 * i + 2], 16).map_err(|_| wrong())?;
        }
        Ok(Fingerprint(bytes))
    }
}

impl std::fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SHA256:")?;
        for (i, b) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(":")?;
            }
            write!(f, "{b:02X}")?;
        }
        Ok(())
    }
}

impl std::fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

impl std::str::FromStr for Fingerprint {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Fingerprint::parse(s)
    }
}

fn first_certificate(cert_pem: &[u8]) -> io::Result<CertificateDer<'static>> {
    match CertificateDer::pem_slice_iter(cert_pem).next() {
        Some(Ok(der)) => Ok(der),
        Some(Err(e)) => Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("certificate PEM: {e}"),
        )),
        None => Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "no certificate in the PEM file",
        )),
    }
}

/// Whether two certificate names are the same: IP addresses by value, DNS
/// names without regard to case.
fn same_name(a: &str, b: &str) -> bool {
    match (a.parse::<IpAddr>(), b.parse::<IpAddr>()) {
        (Ok(a), Ok(b)) => a == b,
        (Err(_), Err(_)) => a.eq_ignore_ascii_case(b),
        _ => false,
    }
}

fn dedup_names(names: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for name in names {
        if !out.iter().any(|n| same_name(n, &name)) {
            out.push(name);
        }
    }
    out
}

/// This machine's host name, when it is one a certificate can hold.
#[cfg(not(unix))]
pub fn hostname() -> Option<String> {
    let name = std::env::var("COMPUTERNAME").ok()?.to_lowercase();
    check_name(&name).ok().filter(|n| n != "localhost")
}

/// This machine's addresses: not looked up here (names come from the
/// host name and `--hostname`).
#[cfg(not(unix))]
pub fn machine_addresses() -> Vec<IpAddr> {
    Vec::new()
}

/// This machine's host name, when it is one a certificate can hold.
#[cfg(unix)]
pub fn hostname() -> Option<String> {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname writes at
    // most that many bytes.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return None;
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    let name = std::str::from_utf8(&buf[..end]).ok()?;
    check_name(name).ok().filter(|n| n != "localhost")
}

/// This machine's addresses other than loopback and link-local ones (those
/// are no use in a certificate: they need an interface to mean anything).
#[cfg(unix)]
pub fn machine_addresses() -> Vec<IpAddr> {
    use std::net::{Ipv4Addr, Ipv6Addr};
    let mut found = Vec::new();
    let mut list: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `list` with a linked list we only read and
    // then free with freeifaddrs; each ifa_addr is checked for null and
    // read as the sockaddr type its family names.
    unsafe {
        if libc::getifaddrs(&mut list) != 0 {
            return found;
        }
        let mut entry = list;
        while let Some(ifa) = entry.as_ref() {
            if let Some(addr) = ifa.ifa_addr.as_ref() {
                match i32::from(addr.sa_family) {
                    libc::AF_INET => {
                        let sin = &*(ifa.ifa_addr as *const libc::sockaddr_in);
                        found.push(IpAddr::V4(Ipv4Addr::from(u32::from_be(
                            sin.sin_addr.s_addr,
                        ))));
                    }
                    libc::AF_INET6 => {
                        let sin6 = &*(ifa.ifa_addr as *const libc::sockaddr_in6);
                        found.push(IpAddr::V6(Ipv6Addr::from(sin6.sin6_addr.s6_addr)));
                    }
                    _ => {}
                }
            }
            entry = ifa.ifa_next;
        }
        libc::freeifaddrs(list);
    }
    found.retain(|ip| {
        !ip.is_loopback()
            && !ip.is_unspecified()
            && match ip {
                IpAddr::V4(v4) => !v4.is_link_local(),
                IpAddr::V6(v6) => (v6.segments()[0] & 0xffc0) != 0xfe80,
            }
    });
    found.sort();
    found.dedup();
    found
}

/// Just enough DER to read a certificate's subject alternative names.
mod der {
    use std::net::{Ipv4Addr, Ipv6Addr};

    /// `2.5.29.17`, subjectAltName.
    const SAN_OID: [u8; 3] = [0x55, 0x1d, 0x11];

    /// One tag-length-value: (tag, value, the rest after it).
    fn item(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
        let tag = *input.first()?;
        let first = *input.get(1)?;
        let (len, header) = if first < 0x80 {
            (usize::from(first), 2)
        } else {
            let count = usize::from(first & 0x7f);
            if count == 0 || count > 4 {
                return None;
            }
            let mut len = 0usize;
            for i in 0..count {
                len = (len << 8) | usize::from(*input.get(2 + i)?);
            }
            (len, 2 + count)
        };
        let end = header.checked_add(len)?;
        (end <= input.len()).then(|| (tag, &input[header..end], &input[end..]))
    }

    /// The DNS names and IP addresses of a DER certificate; `None` when it
    /// cannot be read.
    pub fn subject_alt_names(cert: &[u8]) -> Option<Vec<String>> {
        let (_, certificate, _) = item(cert)?;
        let (_, tbs, _) = item(certificate)?;
        let mut fields = tbs;
        while !fields.is_empty() {
            let (tag, value, rest) = item(fields)?;
            fields = rest;
            // [3] EXPLICIT Extensions
            if tag != 0xa3 {
                continue;
            }
            let (_, mut extensions, _) = item(value)?;
            while !extensions.is_empty() {
                let (_, extension, rest) = item(extensions)?;
                extensions = rest;
                let (_, oid, rest) = item(extension)?;
                if oid != SAN_OID {
                    continue;
                }
                let (mut tag, mut value, rest) = item(rest)?;
                if tag == 0x01 {
                    // critical BOOLEAN
                    (tag, value, _) = item(rest)?;
                }
                if tag != 0x04 {
                    return None;
                }
                let (_, mut general_names, _) = item(value)?;
                let mut names = Vec::new();
                while !general_names.is_empty() {
                    let (tag, value, rest) = item(general_names)?;
                    general_names = rest;
                    match (tag, value.len()) {
                        // [2] dNSName
                        (0x82, _) => names.push(String::from_utf8_lossy(value).into_owned()),
                        // [7] iPAddress
                        (0x87, 4) => {
                            let octets: [u8; 4] = value.try_into().ok()?;
                            names.push(Ipv4Addr::from(octets).to_string());
                        }
                        (0x87, 16) => {
                            let octets: [u8; 16] = value.try_into().ok()?;
                            names.push(Ipv6Addr::from(octets).to_string());
                        }
                        _ => {}
                    }
                }
                return Some(names);
            }
        }
        Some(Vec::new())
    }
}

/// A rustls server configuration (ring provider) from PEM data.
pub fn server_config(pair: &CertificatePair) -> io::Result<Arc<rustls::ServerConfig>> {
    let certs = CertificateDer::pem_slice_iter(&pair.cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("certificate PEM: {e}")))?;
    if certs.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "no certificate in the PEM file",
        ));
    }
    let key = PrivateKeyDer::from_pem_slice(&pair.key_pem)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("private key PEM: {e}")))?;
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(io::Error::other)?
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("certificate and key do not fit: {e}"),
        )
    })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_names_of_a_certificate_are_read_back() {
        let names = vec![
            "localhost".to_owned(),
            "sync.example.com".to_owned(),
            "127.0.0.1".to_owned(),
            "10.1.2.3".to_owned(),
            "fd00::5".to_owned(),
        ];
        let generated = rcgen::generate_simple_self_signed(names.clone()).unwrap();
        let pem = generated.cert.pem().into_bytes();
        assert_eq!(certificate_names(&pem).unwrap(), names);
        let print = fingerprint(&pem).unwrap();
        assert_eq!(print.len(), "SHA256:".len() + 32 * 3 - 1, "{print}");
        // Y7: read back however it is copied.
        let parsed = Fingerprint::parse(&print).unwrap();
        assert_eq!(parsed.to_string(), print);
        let bare = print["SHA256:".len()..].replace(':', "").to_lowercase();
        assert_eq!(Fingerprint::parse(&bare).unwrap(), parsed);
        let wrong = Fingerprint::parse("SHA256:AB:CD").unwrap_err();
        assert!(wrong.contains("not a SHA-256 fingerprint"), "{wrong}");
        assert!(Fingerprint::parse(&format!("{}é", &bare[..63])).is_err());
    }

    #[test]
    fn a_certificate_lacking_a_required_name_is_made_again() {
        let dir = tempfile::tempdir().unwrap();
        let first = ensure_self_signed(dir.path()).unwrap();
        // The same names: kept.
        let again = ensure_self_signed_for(dir.path(), &CertificateNames::local()).unwrap();
        assert!(again.made.is_none());
        assert_eq!(again.pair.cert_pem, first.cert_pem);
        // An optional name alone does not make a new one.
        let mut names = CertificateNames::local();
        names.optional.push("10.9.9.9".to_owned());
        assert!(
            ensure_self_signed_for(dir.path(), &names)
                .unwrap()
                .made
                .is_none()
        );
        // A new required name does; the old pair is kept.
        names.required.push("timecard.example.org".to_owned());
        let made = ensure_self_signed_for(dir.path(), &names).unwrap();
        assert_eq!(made.made, Some(vec!["timecard.example.org".to_owned()]));
        let covered = certificate_names(&made.pair.cert_pem).unwrap();
        assert!(covered.contains(&"10.9.9.9".to_owned()), "{covered:?}");
        let (cert, key) = self_signed_paths(dir.path());
        assert_eq!(
            fs::read(cert.with_extension("pem.old")).unwrap(),
            first.cert_pem
        );
        assert_eq!(
            fs::read(key.with_extension("pem.old")).unwrap(),
            first.key_pem
        );
        assert_eq!(fs::read(cert).unwrap(), made.pair.cert_pem);
    }

    #[test]
    fn names_are_checked() {
        assert_eq!(check_name("Sync.Example.com.").unwrap(), "sync.example.com");
        assert_eq!(check_name("192.168.1.20").unwrap(), "192.168.1.20");
        assert!(check_name("not a name").is_err());
        assert!(check_name("").is_err());
    }

    #[test]
    fn this_machine_names_its_hostname() {
        let names = CertificateNames::this_machine(&["extra.example".to_owned()]);
        assert!(names.required.contains(&"localhost".to_owned()));
        assert!(names.required.contains(&"extra.example".to_owned()));
        if let Some(host) = hostname() {
            assert!(names.required.contains(&host), "{names:?}");
        }
        for ip in machine_addresses() {
            assert!(!ip.is_loopback());
            assert!(names.optional.contains(&ip.to_string()), "{names:?}");
        }
    }
}
