//! A captured frame and what is done with it: black-frame detection (P2),
//! downscaling, JPEG encoding and the thumbnail. Pure functions of pixels.

use super::{CaptureError, Captured};

/// Pixels as X11 delivers them: 4 bytes per pixel, B G R X.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    pub width: u32,
    pub height: u32,
    pub bgrx: Vec<u8>,
}

/// A frame's pixels, borrowed (from a [`Frame`] or straight from the shared
/// memory the X server wrote into).
#[derive(Clone, Copy, Debug)]
pub struct FrameRef<'a> {
    pub width: u32,
    pub height: u32,
    pub bgrx: &'a [u8],
}

/// P2: why a black frame may be black, when the source cannot tell a
/// black screen from a blocked one.
pub const MAYBE_BLOCKED: &str = "screen recording may be blocked (a Wayland session, a missing permission, or a security tool), unless the screen really is black";

/// Longest side of a thumbnail, in pixels.
pub const THUMBNAIL_SIDE: u32 = 320;

impl Frame {
    pub fn as_ref(&self) -> FrameRef<'_> {
        FrameRef {
            width: self.width,
            height: self.height,
            bgrx: &self.bgrx,
        }
    }

    pub fn is_black(&self) -> bool {
        self.as_ref().is_black()
    }

    pub fn downscaled(&self, max_side: u32) -> Frame {
        self.as_ref().downscaled(max_side)
    }

    pub fn jpeg(&self, quality: u8) -> Result<Vec<u8>, CaptureError> {
        self.as_ref().jpeg(quality)
    }

    pub fn encode(&self, quality: u8, max_side: u32) -> Result<Captured, CaptureError> {
        self.as_ref().encode(quality, max_side)
    }
}

impl FrameRef<'_> {
    /// P2: whether the frame is (almost) entirely black: at least 99.5 % of
    /// a sample of pixels have every channel below 16.
    pub fn is_black(&self) -> bool {
        let pixels = (self.width * self.height) as usize;
        if pixels == 0 {
            return true;
        }
        let step = (pixels / 20_000).max(1);
        let (mut dark, mut seen) = (0usize, 0usize);
        for i in (0..pixels).step_by(step) {
            let p = &self.bgrx[i * 4..i * 4 + 3];
            seen += 1;
            if p.iter().all(|&c| c < 16) {
                dark += 1;
            }
        }
        dark * 1000 >= seen * 995
    }

    /// A copy no larger than `max_side` on its longest side (box filter).
    pub fn downscaled(&self, max_side: u32) -> Frame {
        let longest = self.width.max(self.height);
        if longest <= max_side || max_side == 0 {
            return Frame {
                width: self.width,
                height: self.height,
                bgrx: self.bgrx.to_vec(),
            };
        }
        let (w, h) = (
            ((self.width as u64 * max_side as u64) / longest as u64).max(1) as u32,
            ((self.height as u64 * max_side as u64) / longest as u64).max(1) as u32,
        );
        let mut out = vec![0u8; (w * h * 4) as usize];
        for y in 0..h {
            let (sy0, sy1) = (
                y * self.height / h,
                ((y + 1) * self.height / h).max(y * self.height / h + 1),
            );
            for x in 0..w {
                let (sx0, sx1) = (
                    x * self.width / w,
                    ((x + 1) * self.width / w).max(x * self.width / w + 1),
                );
                let mut sum = [0u32; 3];
                for sy in sy0..sy1 {
                    let row = (sy * self.width) as usize * 4;
                    for sx in sx0..sx1 {
                        let p = row + sx as usize * 4;
                        sum[0] += self.bgrx[p] as u32;
                        sum[1] += self.bgrx[p + 1] as u32;
                        sum[2] += self.bgrx[p + 2] as u32;
                    }
                }
                let n = (sy1 - sy0) * (sx1 - sx0);
                let o = ((y * w + x) * 4) as usize;
                out[o] = (sum[0] / n) as u8;
                out[o + 1] = (sum[1] / n) as u8;
                out[o + 2] = (sum[2] / n) as u8;
                out[o + 3] = 255;
            }
        }
        Frame {
            width: w,
            height: h,
            bgrx: out,
        }
    }

    /// JPEG at `quality` (1–100). Large frames are encoded as two halves on
    /// two cores and joined with a restart marker (see [`join_halves`]).
    pub fn jpeg(&self, quality: u8) -> Result<Vec<u8>, CaptureError> {
        if self.width > u16::MAX as u32 || self.height > u16::MAX as u32 {
            return Err(CaptureError::Failed(format!(
                "a {}×{} screen is too large to encode",
                self.width, self.height
            )));
        }
        let quality = quality.clamp(1, 100);
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        // Halves start on a whole MCU row (16 px covers 4:2:0 and 4:4:4).
        let top = (self.height / 2).next_multiple_of(16);
        let mcu = if quality < 90 { 16 } else { 8 };
        let top_mcus = self.width.div_ceil(mcu) * (top / mcu);
        if cores < 2
            || self.width * self.height < 500_000
            || top >= self.height
            || top_mcus > u16::MAX as u32
        {
            return self.encode_rows(0, self.height, quality, None);
        }
        let (first, second) = std::thread::scope(|scope| {
            let second = scope.spawn(|| self.encode_rows(top, self.height, quality, None));
            let first = self.encode_rows(0, top, quality, Some(top_mcus as u16));
            (first, second.join().expect("the encoding thread panicked"))
        });
        join_halves(&first?, &second?, self.height as u16).ok_or_else(|| {
            CaptureError::Failed("JPEG encoding failed: the halves did not join".into())
        })
    }

    /// Rows `from..to` as a JPEG of their own, with a restart interval if given.
    fn encode_rows(
        &self,
        from: u32,
        to: u32,
        quality: u8,
        restart_interval: Option<u16>,
    ) -> Result<Vec<u8>, CaptureError> {
        let row = self.width as usize * 4;
        let pixels = &self.bgrx[from as usize * row..to as usize * row];
        let mut out = Vec::with_capacity(pixels.len() / 10);
        let mut encoder = jpeg_encoder::Encoder::new(&mut out, quality);
        if let Some(interval) = restart_interval {
            encoder.set_restart_interval(interval);
        }
        encoder
            .encode(
                pixels,
                self.width as u16,
                (to - from) as u16,
                jpeg_encoder::ColorType::Bgra,
            )
            .map_err(|e| CaptureError::Failed(format!("JPEG encoding failed: {e}")))?;
        Ok(out)
    }

    /// The screenshot as stored: black frames refused (P2), downscaled to
    /// `max_side`, JPEG at `quality`, plus a small thumbnail.
    pub fn encode(&self, quality: u8, max_side: u32) -> Result<Captured, CaptureError> {
        if self.is_black() {
            return Err(CaptureError::Black(MAYBE_BLOCKED.into()));
        }
        self.encode_as_is(quality, max_side)
    }

    /// Like [`FrameRef::encode`], black or not: for a black frame the
    /// source has shown to be the screen as it is (P2, X11's root window).
    pub fn encode_as_is(&self, quality: u8, max_side: u32) -> Result<Captured, CaptureError> {
        let longest = self.width.max(self.height);
        let scaled;
        let picture = if longest > max_side && max_side > 0 {
            scaled = self.downscaled(max_side);
            scaled.as_ref()
        } else {
            *self
        };
        Ok(Captured {
            jpeg: picture.jpeg(quality)?,
            thumbnail: picture.downscaled(THUMBNAIL_SIDE).jpeg(70)?,
            width: picture.width,
            height: picture.height,
        })
    }
}

/// Joins two baseline JPEGs of the same width, quality and tables, cut at
/// an MCU row, into one image of `height` rows: the first one's headers
/// (with the full height; its restart interval is exactly its own MCU
/// count), its entropy-coded data, a restart marker, then the second's
/// data. A decoder resets its DC prediction at the marker, which is where
/// the second encoder started from zero; the pixels are those of encoding
/// the whole frame in one go.
pub fn join_halves(first: &[u8], second: &[u8], height: u16) -> Option<Vec<u8>> {
    let (first_header, first_data) = split_scan(first)?;
    let (_, second_data) = split_scan(second)?;
    let mut out = Vec::with_capacity(first.len() + second.len());
    out.extend_from_slice(first_header);
    // SOF0: FF C0, length (2), precision (1), then the height (2).
    let sof = find_segment(&out, 0xC0)?;
    out[sof + 5..sof + 7].copy_from_slice(&height.to_be_bytes());
    find_segment(&out, 0xDD)?; // the restart interval must be there
    out.extend_from_slice(first_data);
    out.extend_from_slice(&[0xFF, 0xD0]);
    out.extend_from_slice(second_data);
    out.extend_from_slice(&[0xFF, 0xD9]);
    Some(out)
}

/// A JPEG as (everything up to and including the SOS segment, the
/// entropy-coded data before EOI).
fn split_scan(jpeg: &[u8]) -> Option<(&[u8], &[u8])> {
    let sos = find_segment(jpeg, 0xDA)?;
    let length = u16::from_be_bytes([jpeg[sos + 2], jpeg[sos + 3]]) as usize;
    let data_start = sos + 2 + length;
    let data_end = jpeg.len().checked_sub(2)?;
    (jpeg.get(data_end..)? == [0xFF, 0xD9] && data_start <= data_end)
        .then(|| (&jpeg[..data_start], &jpeg[data_start..data_end]))
}

/// The offset of the first header segment with marker `FF code`, walking
/// the segments from SOI (stops at the scan).
fn find_segment(jpeg: &[u8], code: u8) -> Option<usize> {
    let mut at = 2; // after SOI
    while at + 4 <= jpeg.len() {
        if jpeg[at] != 0xFF {
            return None;
        }
        if jpeg[at + 1] == code {
            return Some(at);
        }
        if jpeg[at + 1] == 0xDA {
            return None;
        }
        at += 2 + u16::from_be_bytes([jpeg[at + 2], jpeg[at + 3]]) as usize;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Large frames are encoded in two halves; decoded, the joined file
    /// must be pixel for pixel the one-piece encoding, at odd sizes too.
    #[test]
    fn halves_join_into_the_same_picture() {
        let screen = image::open(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../fixtures/screens/desktop-1920x1080.jpg"
        ))
        .unwrap()
        .to_rgba8();
        let mut rng = fastrand::Rng::with_seed(7);
        let noise: Vec<u8> = (0..1001 * 777 * 4).map(|_| rng.u8(..)).collect();
        let cases = [(1920, 1080, screen.into_raw()), (1001, 777, noise)];
        for (width, height, bgrx) in cases {
            let frame = FrameRef {
                width,
                height,
                bgrx: &bgrx,
            };
            for quality in [75, 95] {
                let joined = frame.jpeg(quality).unwrap();
                let whole = frame.encode_rows(0, height, quality, None).unwrap();
                assert_ne!(joined, whole, "{width}×{height} was not split");
                let decode = |bytes: &[u8]| {
                    image::load_from_memory_with_format(bytes, image::ImageFormat::Jpeg)
                        .unwrap()
                        .to_rgb8()
                };
                let (a, b) = (decode(&joined), decode(&whole));
                assert_eq!(a.dimensions(), (width, height));
                assert!(a == b, "{width}×{height} q{quality}: the pictures differ");
            }
        }
    }

    fn solid(width: u32, height: u32, bgr: [u8; 3]) -> Frame {
        let mut bgrx = Vec::with_capacity((width * height * 4) as usize);
        for _ in 0..width * height {
            bgrx.extend_from_slice(&[bgr[0], bgr[1], bgr[2], 0]);
        }
        Frame {
            width,
            height,
            bgrx,
        }
    }

    #[test]
    fn black_is_flagged_and_dark_content_is_not() {
        assert!(solid(64, 48, [0, 0, 0]).is_black());
        assert!(solid(64, 48, [5, 5, 5]).is_black());
        let mut terminal = solid(64, 48, [0, 0, 0]);
        // A few lines of text: 3 % of the pixels lit.
        for i in 0..92 {
            terminal.bgrx[i * 4 * 10..i * 4 * 10 + 3].copy_from_slice(&[200, 200, 200]);
        }
        assert!(!terminal.is_black());
        assert!(matches!(
            solid(64, 48, [0, 0, 0]).encode(75, 1920),
            Err(CaptureError::Black(_))
        ));
        // A source that knows the screen is black stores it as it is.
        let black = solid(64, 48, [0, 0, 0]);
        let stored = black.as_ref().encode_as_is(75, 1920).unwrap();
        assert_eq!((stored.width, stored.height), (64, 48));
    }

    #[test]
    fn downscale_keeps_aspect_and_colour() {
        let f = solid(3840, 1080, [10, 20, 30]).downscaled(1920);
        assert_eq!((f.width, f.height), (1920, 540));
        assert_eq!(&f.bgrx[..3], &[10, 20, 30]);
        let same = solid(800, 600, [1, 2, 3]).downscaled(1920);
        assert_eq!((same.width, same.height), (800, 600));
    }

    #[test]
    fn encodes_a_jpeg_and_a_thumbnail() {
        let c = solid(1280, 720, [40, 120, 200]).encode(75, 1920).unwrap();
        assert_eq!(&c.jpeg[..2], &[0xff, 0xd8]);
        let thumb = image::load_from_memory(&c.thumbnail).unwrap();
        assert_eq!((thumb.width(), thumb.height()), (320, 180));
        let px = thumb.to_rgb8().get_pixel(100, 100).0;
        assert!(
            px[0].abs_diff(200) < 8 && px[1].abs_diff(120) < 8 && px[2].abs_diff(40) < 8,
            "{px:?}"
        );
    }
}
