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

    /// JPEG at `quality` (1–100).
    pub fn jpeg(&self, quality: u8) -> Result<Vec<u8>, CaptureError> {
        if self.width > u16::MAX as u32 || self.height > u16::MAX as u32 {
            return Err(CaptureError::Failed(format!(
                "a {}×{} screen is too large to encode",
                self.width, self.height
            )));
        }
        let mut out = Vec::with_capacity((self.width * self.height / 4) as usize);
        jpeg_encoder::Encoder::new(&mut out, quality.clamp(1, 100))
            .encode(
                self.bgrx,
                self.width as u16,
                self.height as u16,
                jpeg_encoder::ColorType::Bgra,
            )
            .map_err(|e| CaptureError::Failed(format!("JPEG encoding failed: {e}")))?;
        Ok(out)
    }

    /// The screenshot as stored: black frames refused (P2), downscaled to
    /// `max_side`, JPEG at `quality`, plus a small thumbnail.
    pub fn encode(&self, quality: u8, max_side: u32) -> Result<Captured, CaptureError> {
        if self.is_black() {
            return Err(CaptureError::Black(
                "the picture was entirely black — screen recording may be blocked (a Wayland session, a missing permission, or a security tool)".into(),
            ));
        }
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

#[cfg(test)]
mod tests {
    use super::*;

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
