//! Text in PNG pictures: the public-domain 8×8 font of the `font8x8` crate
//! (printable ASCII), so that no font file is needed.

use image::{Rgb, RgbImage};

/// Width in pixels of `text` drawn at `scale`.
pub fn width(text: &str, scale: u32) -> u32 {
    text.chars().count() as u32 * 8 * scale
}

/// Writes `text` with its top-left corner at `(x, y)`, each font pixel
/// `scale × scale`; characters outside ASCII are drawn as `?`. Pixels outside
/// the image are skipped. Returns the width drawn.
pub fn draw(img: &mut RgbImage, text: &str, x: u32, y: u32, scale: u32, colour: Rgb<u8>) -> u32 {
    for (i, c) in text.chars().enumerate() {
        let code = if c.is_ascii() { c as usize } else { '?' as usize };
        let glyph = font8x8::legacy::BASIC_LEGACY[code];
        let gx = x + i as u32 * 8 * scale;
        for (row, bits) in glyph.iter().enumerate() {
            for col in 0..8u32 {
                if bits & (1 << col) == 0 {
                    continue;
                }
                for dy in 0..scale {
                    for dx in 0..scale {
                        let (px, py) = (gx + col * scale + dx, y + row as u32 * scale + dy);
                        if px < img.width() && py < img.height() {
                            img.put_pixel(px, py, colour);
                        }
                    }
                }
            }
        }
    }
    width(text, scale)
}

/// `text` cut to at most `chars` characters, with a final `.` when cut.
pub fn fit(text: &str, chars: usize) -> String {
    if text.chars().count() <= chars {
        text.to_owned()
    } else {
        let mut cut: String = text.chars().take(chars.saturating_sub(1)).collect();
        cut.push('.');
        cut
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn letters_are_drawn_and_cut() {
        let mut img = RgbImage::from_pixel(40, 10, Rgb([255, 255, 255]));
        assert_eq!(draw(&mut img, "Ab", 1, 1, 1, Rgb([0, 0, 0])), 16);
        let ink = img.pixels().filter(|p| p.0 == [0, 0, 0]).count();
        assert!(ink > 10, "{ink} pixels of ink");
        assert_eq!(fit("Ankle boot", 4), "Ank.");
        assert_eq!(fit("Bag", 4), "Bag");
    }
}
