//! The dashboard's static files: the stylesheet, the browser-zone script
//! and the app's icon (as SVG and as `/favicon.ico`), built into the
//! binary. Pages link them under URLs that carry a hash of their content
//! (`/static/dashboard.css?v=…`), so a browser keeps each for a year
//! without asking again, and a server with other files links other URLs.
//! What the pages look like is theirs (`layout` and each room); this
//! module only serves the bytes.

use axum::Router;
use axum::extract::Query;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use serde::Deserialize;

use crate::http::state::Shared;

/// One file served as it was built in.
pub struct Asset {
    /// Where it is served, without the version.
    pub path: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
    /// A hash of `bytes`, computed by the compiler.
    version: u64,
}

impl Asset {
    const fn new(path: &'static str, content_type: &'static str, bytes: &'static [u8]) -> Asset {
        Asset {
            path,
            content_type,
            bytes,
            version: fnv1a(bytes),
        }
    }

    /// The URL pages link: the path and the content's version.
    pub fn url(&self) -> String {
        format!("{}?v={}", self.path, self.version_text())
    }

    fn version_text(&self) -> String {
        format!("{:016x}", self.version)
    }

    /// The bytes, with a year's cache when asked for by the current
    /// version (the URL changes with the content, so the browser never
    /// needs to ask again), and an hour's otherwise (an old page's link,
    /// or a client that asks for the bare path, such as `/favicon.ico`).
    fn answer(&'static self, asked: Option<&str>) -> impl IntoResponse + use<> {
        let cache = if asked == Some(self.version_text().as_str()) {
            "public, max-age=31536000, immutable"
        } else {
            "public, max-age=3600"
        };
        (
            [
                (header::CONTENT_TYPE, self.content_type),
                (header::CACHE_CONTROL, cache),
            ],
            self.bytes,
        )
    }
}

/// The dashboard's stylesheet.
pub static STYLESHEET: Asset = Asset::new(
    "/static/dashboard.css",
    "text/css; charset=utf-8",
    include_bytes!("dashboard.css"),
);

/// The one script: puts the browser's time zone in the address.
pub static ZONE_SCRIPT: Asset = Asset::new(
    "/static/zone.js",
    "text/javascript; charset=utf-8",
    include_bytes!("zone.js"),
);

/// The app's icon, drawn to any size (modern browsers' tab icon).
pub static ICON: Asset = Asset::new(
    "/static/icon.svg",
    "image/svg+xml",
    include_bytes!("../../../../../resources/icons/timecard.svg"),
);

/// The app's icon at 16, 32 and 48 pixels in one `.ico` file, for
/// browsers and tools that ask for `/favicon.ico` by name.
pub static FAVICON: Asset = Asset::new("/favicon.ico", "image/x-icon", &FAVICON_ICO);

const PNG_16: &[u8] =
    include_bytes!("../../../../../resources/icons/hicolor/16x16/apps/timecard.png");
const PNG_32: &[u8] =
    include_bytes!("../../../../../resources/icons/hicolor/32x32/apps/timecard.png");
const PNG_48: &[u8] =
    include_bytes!("../../../../../resources/icons/hicolor/48x48/apps/timecard.png");
const ICO_IMAGES: [(u8, &[u8]); 3] = [(16, PNG_16), (32, PNG_32), (48, PNG_48)];
const ICO_HEADER: usize = 6;
const ICO_ENTRY: usize = 16;
const FAVICON_ICO: [u8; ICO_HEADER
    + ICO_ENTRY * ICO_IMAGES.len()
    + PNG_16.len()
    + PNG_32.len()
    + PNG_48.len()] = ico(ICO_IMAGES);

/// An `.ico` file holding square PNG images (the form every browser since
/// 2007 reads): the header, one directory entry per image, the images.
/// Built by the compiler from the PNGs the app's icon is rendered to
/// (`ci/icons.sh`), so the icon has one source and building needs no tool.
const fn ico<const N: usize>(images: [(u8, &[u8]); 3]) -> [u8; N] {
    let mut out = [0u8; N];
    // Reserved 0, type 1 (icon), the number of images; all little-endian.
    out[2] = 1;
    out[4] = images.len() as u8;
    let mut offset = ICO_HEADER + ICO_ENTRY * images.len();
    let mut i = 0;
    while i < images.len() {
        let (side, png) = images[i];
        let entry = ICO_HEADER + ICO_ENTRY * i;
        out[entry] = side; // width
        out[entry + 1] = side; // height
        // Colours in the palette 0 and reserved 0; one plane, 32 bits.
        out[entry + 4] = 1;
        out[entry + 6] = 32;
        let size = (png.len() as u32).to_le_bytes();
        let at = (offset as u32).to_le_bytes();
        let mut b = 0;
        while b < 4 {
            out[entry + 8 + b] = size[b];
            out[entry + 12 + b] = at[b];
            b += 1;
        }
        let mut b = 0;
        while b < png.len() {
            out[offset + b] = png[b];
            b += 1;
        }
        offset += png.len();
        i += 1;
    }
    assert!(offset == N, "the .ico's length is the sum of its parts");
    out
}

/// FNV-1a, 64 bits: enough to tell one build's file from another's.
const fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash = 0xcbf2_9ce4_8422_2325_u64;
    let mut i = 0;
    while i < bytes.len() {
        hash ^= bytes[i] as u64;
        hash = hash.wrapping_mul(0x0100_0000_01b3);
        i += 1;
    }
    hash
}

#[derive(Deserialize)]
struct Version {
    v: Option<String>,
}

/// The static files' routes.
pub fn routes() -> Router<Shared> {
    let mut router = Router::new();
    for asset in [&STYLESHEET, &ZONE_SCRIPT, &ICON, &FAVICON] {
        router = router.route(
            asset.path,
            get(move |Query(q): Query<Version>| async move { asset.answer(q.v.as_deref()) }),
        );
    }
    router
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_favicon_is_an_ico_of_the_three_pngs() {
        let ico = FAVICON.bytes;
        assert_eq!(&ico[..6], &[0, 0, 1, 0, 3, 0]);
        for (i, (side, png)) in ICO_IMAGES.iter().enumerate() {
            let entry = &ico[6 + 16 * i..6 + 16 * (i + 1)];
            assert_eq!((entry[0], entry[1]), (*side, *side));
            let size = u32::from_le_bytes(entry[8..12].try_into().unwrap()) as usize;
            let at = u32::from_le_bytes(entry[12..16].try_into().unwrap()) as usize;
            assert_eq!(&ico[at..at + size], *png);
            assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"));
        }
    }

    #[test]
    fn urls_change_with_the_content() {
        assert_ne!(fnv1a(b"a { color: red }"), fnv1a(b"a { color: blue }"));
        let url = STYLESHEET.url();
        assert!(url.starts_with("/static/dashboard.css?v="), "{url}");
        assert_eq!(url.len(), "/static/dashboard.css?v=".len() + 16);
    }
}
