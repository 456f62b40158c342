//! A heatmap blended over the image it was made from, written as a PNG
//! (`authenta result MID --overlay OUT.png --file ORIGINAL`).

use std::path::Path;

use image::imageops::FilterType;
use image::{DynamicImage, ImageFormat, ImageReader, Rgba, RgbaImage};

/// How much of the heatmap shows through when no opacity is given.
pub const DEFAULT_OPACITY: f32 = 0.5;

/// `heatmap` stretched to `original`'s size (bilinear) and blended over it:
/// each colour channel is `original × (1 − opacity) + heatmap × opacity`,
/// rounded; the original's alpha is kept. `opacity` is clamped to [0, 1].
pub fn blend(original: &RgbaImage, heatmap: &DynamicImage, opacity: f32) -> RgbaImage {
    let (width, height) = original.dimensions();
    let heat = if heatmap.width() == width && heatmap.height() == height {
        heatmap.to_rgba8()
    } else {
        heatmap
            .resize_exact(width, height, FilterType::Triangle)
            .to_rgba8()
    };
    let a = opacity.clamp(0.0, 1.0);
    RgbaImage::from_fn(width, height, |x, y| {
        let (o, h) = (original.get_pixel(x, y).0, heat.get_pixel(x, y).0);
        let mix = |i: usize| (f32::from(o[i]) * (1.0 - a) + f32::from(h[i]) * a).round() as u8;
        Rgba([mix(0), mix(1), mix(2), o[3]])
    })
}

/// Reads an image file (PNG or JPEG, recognised by its bytes).
pub fn open(path: &Path) -> Result<DynamicImage, String> {
    let reader = ImageReader::open(path)
        .and_then(ImageReader::with_guessed_format)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    reader
        .decode()
        .map_err(|e| format!("cannot decode {} (PNG or JPEG): {e}", path.display()))
}

/// Blends the heatmap file over the original image file and writes the
/// result to `out` as a PNG (through `out.part`, renamed when complete).
pub fn write_overlay(
    original: &Path,
    heatmap: &Path,
    out: &Path,
    opacity: f32,
) -> Result<(), String> {
    let blended = blend(&open(original)?.to_rgba8(), &open(heatmap)?, opacity);
    let mut part = out.as_os_str().to_owned();
    part.push(".part");
    let part = std::path::PathBuf::from(part);
    let written = std::fs::File::create(&part)
        .map_err(|e| e.to_string())
        .and_then(|file| {
            let mut writer = std::io::BufWriter::new(file);
            blended
                .write_to(&mut writer, ImageFormat::Png)
                .map_err(|e| e.to_string())?;
            std::io::Write::flush(&mut writer).map_err(|e| e.to_string())
        })
        .and_then(|()| std::fs::rename(&part, out).map_err(|e| e.to_string()));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&part);
        return Err(format!("cannot write {}: {e}", out.display()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{Rgb, RgbImage};

    #[test]
    fn blending_mixes_each_channel_by_the_opacity() {
        let original =
            RgbaImage::from_vec(2, 1, vec![200, 100, 0, 255, /* */ 0, 0, 0, 128]).unwrap();
        let heatmap = DynamicImage::ImageRgb8(
            RgbImage::from_vec(2, 1, vec![0, 0, 255, /* */ 255, 255, 255]).unwrap(),
        );
        let half = blend(&original, &heatmap, 0.5);
        assert_eq!(half.get_pixel(0, 0).0, [100, 50, 128, 255]);
        assert_eq!(half.get_pixel(1, 0).0, [128, 128, 128, 128]);
        let quarter = blend(&original, &heatmap, 0.25);
        assert_eq!(quarter.get_pixel(0, 0).0, [150, 75, 64, 255]);
        assert_eq!(blend(&original, &heatmap, 0.0), original);
        assert_eq!(
            blend(&original, &heatmap, 7.0).get_pixel(0, 0).0,
            [0, 0, 255, 255]
        );
    }

    #[test]
    fn a_small_heatmap_is_stretched_to_the_image() {
        let original = RgbaImage::from_pixel(4, 3, Rgba([10, 20, 30, 255]));
        let heatmap = DynamicImage::ImageRgb8(RgbImage::from_pixel(1, 1, Rgb([250, 0, 0])));
        let blended = blend(&original, &heatmap, 0.5);
        assert_eq!(blended.dimensions(), (4, 3));
        for pixel in blended.pixels() {
            assert_eq!(pixel.0, [130, 10, 15, 255]);
        }
    }

    #[test]
    fn an_overlay_file_is_a_png_of_the_original_size() {
        let dir = tempfile::tempdir().unwrap();
        let original = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../samples/test-pattern.jpg");
        let heatmap = dir.path().join("heat.png");
        RgbImage::from_pixel(32, 32, Rgb([255, 0, 0]))
            .save_with_format(&heatmap, ImageFormat::Png)
            .unwrap();
        let out = dir.path().join("overlay.png");
        write_overlay(&original, &heatmap, &out, 1.0).unwrap();
        let written = ImageReader::open(&out)
            .unwrap()
            .with_guessed_format()
            .unwrap();
        assert_eq!(written.format(), Some(ImageFormat::Png));
        let written = written.decode().unwrap().to_rgba8();
        assert_eq!(written.dimensions(), (320, 240));
        assert_eq!(written.get_pixel(100, 100).0, [255, 0, 0, 255]);
        assert!(!dir.path().join("overlay.png.part").exists());
        let missing = write_overlay(&dir.path().join("none.jpg"), &heatmap, &out, 0.5);
        assert!(missing.unwrap_err().contains("none.jpg"));
    }
}
