//! Video entries: the size and frame rate from the file's MP4 header (the
//! `mp4` crate), which face box is drawn at a moment of playback, and a
//! still poster: the video's first picture, decoded, with that frame's
//! face boxes drawn over it.
//!
//! The poster's picture is the first sync (key) sample of the first video
//! track, read with `mp4`'s sample table: H.264 (`avc1`) is decoded with
//! Cisco's OpenH264 (the `openh264` crate, built from its bundled source),
//! its length-prefixed NAL units and the `avcC` parameter sets turned into
//! an Annex-B stream; Motion JPEG (a sample that is a JPEG picture) with
//! the `image` crate's JPEG decoder. Any other codec, or a file that does
//! not decode, gets a drawn stand-in instead (the frame size, dark, with
//! the boxes), and the page says so.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, Read as _, Seek as _, SeekFrom};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::time::Duration;

use image::codecs::jpeg::JpegEncoder;
use image::{ImageFormat, Rgb, RgbImage};
use openh264::formats::YUVSource as _;

/// A face box, `[xmin, ymin, xmax, ymax]` in pixels of the video, as the
/// result document gives it.
pub type FaceBox = [f64; 4];

/// What a video file's header says about its (first) video track.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct VideoInfo {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Frames per second: the track's sample count over its duration.
    pub frame_rate: f64,
    /// How many frames (samples) the track holds.
    pub frames: u32,
    /// The track's duration.
    pub duration: Duration,
}

/// An MP4 (or QuickTime) file's parsed header, and the file to read its
/// samples from.
type Mp4File = mp4::Mp4Reader<BufReader<File>>;

/// Opens `path` and parses its MP4 header. A malformed file must not end
/// the whole report: the parser's panics are caught and told as an
/// unreadable header.
fn open(path: &Path) -> Result<Mp4File, String> {
    let file = File::open(path).map_err(|e| e.to_string())?;
    let size = file.metadata().map_err(|e| e.to_string())?.len();
    let parsed = catch_unwind(|| mp4::Mp4Reader::read_header(BufReader::new(file), size))
        .map_err(|_| "the MP4 header is malformed".to_owned())?;
    parsed.map_err(|e| format!("not a readable MP4 header: {e}"))
}

/// The first video track (lowest track id) of a parsed header.
fn video_track(reader: &Mp4File) -> Result<&mp4::Mp4Track, String> {
    let mut tracks: Vec<&mp4::Mp4Track> = reader.tracks().values().collect();
    tracks.sort_by_key(|t| t.track_id());
    tracks
        .into_iter()
        .find(|t| matches!(t.track_type(), Ok(mp4::TrackType::Video)))
        .ok_or_else(|| "no video track in the MP4 header".to_owned())
}

/// Reads the header of an MP4 (or QuickTime) file: its first video track's
/// size, frame count, duration and frame rate.
///
/// The frame rate is computed from the sample count and the media
/// duration: `mp4`'s own `frame_rate()` rounds down to whole frames per
/// second (29.97 would read 29).
pub fn read_info(path: &Path) -> Result<VideoInfo, String> {
    let reader = open(path)?;
    let track = video_track(&reader)?;
    let frames = track.sample_count();
    let duration = track.duration();
    let seconds = duration.as_secs_f64();
    if frames == 0 || seconds <= 0.0 {
        return Err("the video track has no frames or no duration".into());
    }
    Ok(VideoInfo {
        width: u32::from(track.width()),
        height: u32::from(track.height()),
        frame_rate: f64::from(frames) / seconds,
        frames,
        duration,
    })
}

/// The four-character code of the first video track's sample entry (its
/// codec: `avc1`, `hvc1`, `vp09`, `jpeg`, `mp4v`...), read from the boxes
/// `moov/trak/mdia/minf/stbl/stsd`. The `mp4` crate keeps only the entries
/// it parses (`avc1`, `hev1`, `vp09`), so the code is read here.
pub fn codec(path: &Path) -> Result<[u8; 4], String> {
    let mut file = File::open(path).map_err(|e| e.to_string())?;
    let size = file.metadata().map_err(|e| e.to_string())?.len();
    let moov = read_top_level(&mut file, size, b"moov")
        .map_err(|e| e.to_string())?
        .ok_or("no `moov` box")?;
    children(&moov)
        .filter(|(kind, _)| kind == b"trak")
        .find_map(|(_, trak)| {
            let mdia = child(trak, b"mdia")?;
            // `hdlr`: version and flags, pre_defined, then the handler type.
            let handler = child(mdia, b"hdlr")?.get(8..12)?;
            if handler != b"vide" {
                return None;
            }
            let stsd = child(child(child(mdia, b"minf")?, b"stbl")?, b"stsd")?;
            // Version and flags, the entry count, then the first entry's
            // size and type.
            stsd.get(12..16)?.try_into().ok()
        })
        .ok_or_else(|| "no video sample entry".to_owned())
}

/// Most bytes a top-level box is read into memory for [`codec`].
const MOOV_LIMIT: u64 = 64 << 20;

/// The payload of the first top-level box of type `kind`, found by
/// seeking from box header to box header; `None` when there is none (or
/// it is larger than [`MOOV_LIMIT`]).
fn read_top_level(file: &mut File, size: u64, kind: &[u8; 4]) -> std::io::Result<Option<Vec<u8>>> {
    let mut at = 0u64;
    while at + 8 <= size {
        file.seek(SeekFrom::Start(at))?;
        let mut head = [0u8; 16];
        file.read_exact(&mut head[..8])?;
        let declared = u64::from(u32::from_be_bytes([head[0], head[1], head[2], head[3]]));
        let (header, length) = match declared {
            0 => (8, size - at),
            1 => {
                file.read_exact(&mut head[8..16])?;
                let large = u64::from_be_bytes(head[8..16].try_into().expect("8 bytes"));
                (16, large)
            }
            n => (8, n),
        };
        if length < header || at + length > size {
            return Ok(None);
        }
        if &head[4..8] == kind {
            if length - header > MOOV_LIMIT {
                return Ok(None);
            }
            let mut payload = vec![0u8; (length - header) as usize];
            file.read_exact(&mut payload)?;
            return Ok(Some(payload));
        }
        at += length;
    }
    Ok(None)
}

/// The boxes inside a box's payload: type and payload each, until one
/// does not fit.
fn children(mut data: &[u8]) -> impl Iterator<Item = ([u8; 4], &[u8])> {
    std::iter::from_fn(move || {
        let declared = u32::from_be_bytes(data.get(..4)?.try_into().ok()?) as usize;
        let kind: [u8; 4] = data.get(4..8)?.try_into().ok()?;
        let (header, length) = match declared {
            0 => (8, data.len()),
            1 => (
                16,
                usize::try_from(u64::from_be_bytes(data.get(8..16)?.try_into().ok()?)).ok()?,
            ),
            n => (8, n),
        };
        let payload = data.get(header..length)?;
        data = &data[length..];
        Some((kind, payload))
    })
}

/// The payload of the first box of type `kind` inside `data`.
fn child<'a>(data: &'a [u8], kind: &[u8; 4]) -> Option<&'a [u8]> {
    children(data)
        .find(|(k, _)| k == kind)
        .map(|(_, payload)| payload)
}

/// A video's picture, decoded.
pub struct Frame {
    /// The frame's index (0 for the first), in the order the file stores
    /// its samples.
    pub index: u32,
    /// The picture, in the video's pixels.
    pub picture: RgbImage,
}

/// The largest first sample read for a poster (a 4K intra-coded frame is a
/// few MiB).
const SAMPLE_LIMIT: u64 = 64 << 20;

/// How many samples, from the first sync sample on, are given to the H.264
/// decoder before it is asked to flush what it holds.
const DECODE_WINDOW: u32 = 8;

/// Decodes the first sync (key) frame of the first video track of an MP4
/// or QuickTime file: H.264 with OpenH264, Motion JPEG with `image`'s JPEG
/// decoder. An error says why not (no decoder for the codec, a sample that
/// does not decode, an unreadable file).
pub fn first_frame(path: &Path) -> Result<Frame, String> {
    let mut reader = open(path)?;
    let file_size = reader.size();
    let track = video_track(&reader)?;
    if !track.trafs.is_empty() {
        return Err("the frames of a fragmented MP4 are not decoded here".into());
    }
    let id = track.track_id();
    let count = track.sample_count();
    let stbl = &track.trak.mdia.minf.stbl;
    // Without an `stss` box every sample is a sync sample.
    let first = stbl
        .stss
        .as_ref()
        .map_or(Some(1), |stss| stss.entries.first().copied())
        .filter(|&n| n >= 1 && n <= count)
        .ok_or("the video track has no sync sample")?;
    let last = count.min(first.saturating_add(DECODE_WINDOW - 1));
    let sizes: Vec<Option<u32>> = (first..=last)
        .map(|n| match stbl.stsz.sample_size {
            0 => stbl.stsz.sample_sizes.get(n as usize - 1).copied(),
            fixed => Some(fixed),
        })
        .collect();
    let avcc = stbl.stsd.avc1.as_ref().map(|avc1| AvcConfig {
        length_size: usize::from(avc1.avcc.length_size_minus_one) + 1,
        parameter_sets: (avc1.avcc.sequence_parameter_sets.iter())
            .chain(&avc1.avcc.picture_parameter_sets)
            .map(|nal| nal.bytes.clone())
            .collect(),
    });
    let mut read = |n: u32| -> Result<Vec<u8>, String> {
        let size = sizes.get((n - first) as usize).copied().flatten();
        match size {
            Some(size) if u64::from(size) <= SAMPLE_LIMIT.min(file_size) => {}
            _ => return Err(format!("sample {n} has no usable size")),
        }
        let sample = catch_unwind(AssertUnwindSafe(|| reader.read_sample(id, n)))
            .map_err(|_| format!("sample {n} is malformed"))?
            .map_err(|e| format!("sample {n} cannot be read: {e}"))?
            .ok_or_else(|| format!("sample {n} is missing"))?;
        Ok(sample.bytes.to_vec())
    };
    let picture = match avcc {
        Some(avcc) => catch_unwind(AssertUnwindSafe(|| {
            decode_h264(&avcc, (first..=last).map(&mut read))
        }))
        .map_err(|_| "the H.264 decoder failed".to_owned())??,
        None => {
            let sample = read(first)?;
            if !sample.starts_with(&[0xff, 0xd8, 0xff]) {
                let code = codec(path).map_or_else(
                    |_| "unknown".to_owned(),
                    |c| String::from_utf8_lossy(&c).trim_end().to_owned(),
                );
                return Err(format!("no decoder here for the video's codec ({code})"));
            }
            image::load_from_memory_with_format(&sample, ImageFormat::Jpeg)
                .map_err(|e| format!("the Motion JPEG frame does not decode: {e}"))?
                .to_rgb8()
        }
    };
    Ok(Frame {
        index: first - 1,
        picture,
    })
}

/// What an `avcC` box says that decoding needs.
struct AvcConfig {
    /// How many bytes give each NAL unit's length in a sample (1, 2 or 4).
    length_size: usize,
    /// The sequence then picture parameter sets, as NAL units.
    parameter_sets: Vec<Vec<u8>>,
}

/// An H.264 sample (length-prefixed NAL units, as MP4 stores them) as an
/// Annex-B stream (each NAL unit after a start code), with the `avcC`
/// box's parameter sets first when `with_parameter_sets`.
fn annex_b(avcc: &AvcConfig, sample: &[u8], with_parameter_sets: bool) -> Result<Vec<u8>, String> {
    const START: [u8; 4] = [0, 0, 0, 1];
    let mut out = Vec::with_capacity(sample.len() + 64);
    if with_parameter_sets {
        for nal in &avcc.parameter_sets {
            out.extend_from_slice(&START);
            out.extend_from_slice(nal);
        }
    }
    let width = avcc.length_size;
    let mut rest = sample;
    while !rest.is_empty() {
        let (prefix, tail) = rest
            .split_at_checked(width)
            .ok_or("an H.264 NAL unit's length is cut short")?;
        let length = prefix
            .iter()
            .fold(0usize, |n, &b| (n << 8) | usize::from(b));
        let (nal, tail) = tail
            .split_at_checked(length)
            .ok_or("an H.264 NAL unit is longer than its sample")?;
        out.extend_from_slice(&START);
        out.extend_from_slice(nal);
        rest = tail;
    }
    Ok(out)
}

/// The first picture OpenH264 gives for `samples` (from a sync sample on),
/// fed one at a time, then flushed.
fn decode_h264(
    avcc: &AvcConfig,
    samples: impl Iterator<Item = Result<Vec<u8>, String>>,
) -> Result<RgbImage, String> {
    let mut decoder =
        openh264::decoder::Decoder::new().map_err(|e| format!("no H.264 decoder: {e}"))?;
    for (i, sample) in samples.enumerate() {
        let stream = annex_b(avcc, &sample?, i == 0)?;
        let decoded = decoder
            .decode(&stream)
            .map_err(|e| format!("the H.264 frame does not decode: {e}"))?;
        if let Some(picture) = decoded {
            return to_rgb(&picture);
        }
    }
    let flushed = decoder
        .flush_remaining()
        .map_err(|e| format!("the H.264 decoder gave no picture: {e}"))?;
    match flushed.first() {
        Some(picture) => to_rgb(picture),
        None => Err("the H.264 decoder gave no picture".into()),
    }
}

/// A decoded YUV 4:2:0 picture as RGB.
fn to_rgb(picture: &openh264::decoder::DecodedYUV<'_>) -> Result<RgbImage, String> {
    let (width, height) = picture.dimensions();
    let mut rgb = vec![0u8; width * height * 3];
    picture.write_rgb8(&mut rgb);
    let (w, h) = (u32::try_from(width), u32::try_from(height));
    match (w, h) {
        (Ok(w), Ok(h)) if w > 0 && h > 0 => {
            RgbImage::from_raw(w, h, rgb).ok_or_else(|| "a decoded picture of no size".into())
        }
        _ => Err("a decoded picture of no size".into()),
    }
}

/// The index of the frame on screen `time` seconds into playback at
/// `frame_rate` frames per second; `None` for a negative or unusable time
/// or rate.
pub fn frame_at(time: f64, frame_rate: f64) -> Option<u32> {
    if !(time.is_finite() && frame_rate.is_finite() && time >= 0.0 && frame_rate > 0.0) {
        return None;
    }
    // The small bias keeps 0.2 s at 25 fps on frame 5, not 4.999...
    let frame = (time * frame_rate + 1e-6).floor();
    (frame <= f64::from(u32::MAX)).then_some(frame as u32)
}

/// For how many frames a box stays on screen after the frame it was found
/// in: the smallest gap between two frames that have boxes (the sampling
/// step), or 1 when only one frame has a box.
pub fn hold(boxes: &BTreeMap<u32, FaceBox>) -> u32 {
    let keys: Vec<u32> = boxes.keys().copied().collect();
    keys.windows(2)
        .map(|pair| pair[1] - pair[0])
        .min()
        .unwrap_or(1)
        .max(1)
}

/// The box drawn on `frame`: the one of the latest frame at or before it
/// that has a box, while within [`hold`] frames of it; with the frame it
/// was found in.
pub fn box_for_frame(boxes: &BTreeMap<u32, FaceBox>, frame: u32) -> Option<(u32, FaceBox)> {
    box_held(boxes, hold(boxes), frame)
}

/// [`box_for_frame`] with the hold already known.
fn box_held(boxes: &BTreeMap<u32, FaceBox>, hold: u32, frame: u32) -> Option<(u32, FaceBox)> {
    let (&found, face) = boxes.range(..=frame).next_back()?;
    (frame - found < hold).then_some((found, *face))
}

/// The box drawn `time` seconds into playback at `frame_rate`:
/// [`frame_at`], then [`box_for_frame`].
pub fn box_at(boxes: &BTreeMap<u32, FaceBox>, time: f64, frame_rate: f64) -> Option<FaceBox> {
    box_for_frame(boxes, frame_at(time, frame_rate)?).map(|(_, face)| face)
}

/// The frames during which one box is drawn.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Span {
    /// The frame the box was found in: the first it is drawn on.
    pub found: u32,
    /// The first frame it is no longer drawn on.
    pub until: u32,
    /// The box.
    pub face: FaceBox,
}

/// The frames each box is drawn on, in order: exactly the frames for
/// which [`box_for_frame`] gives that box. The report's script only turns
/// the video's current time into a frame (as [`frame_at`] does) and looks
/// up the span holding it.
pub fn spans(boxes: &BTreeMap<u32, FaceBox>) -> Vec<Span> {
    let hold = hold(boxes);
    boxes
        .iter()
        .map(|(&found, &face)| {
            // The first frame after `found` drawn with another box or none
            // (at most `hold` frames on).
            let until = (found.saturating_add(1)..=found.saturating_add(hold))
                .find(|&frame| box_held(boxes, hold, frame).map(|(k, _)| k) != Some(found))
                .unwrap_or(found.saturating_add(hold));
            Span { found, until, face }
        })
        .collect()
}

/// The colour participant `index`'s boxes are drawn in (as `#rrggbb` for
/// the page, and as pixels for the poster).
pub fn participant_colour(index: u32) -> [u8; 3] {
    const COLOURS: [[u8; 3]; 6] = [
        [255, 215, 0],
        [0, 229, 255],
        [255, 64, 129],
        [118, 255, 3],
        [255, 145, 0],
        [213, 0, 249],
    ];
    COLOURS[index as usize % COLOURS.len()]
}

/// Posters are at most this wide (larger frames are scaled down).
pub const POSTER_WIDTH: u32 = 1280;

/// A still of a video for the page: shown when the browser cannot play
/// the file, and before playback starts when it can.
pub struct Poster {
    /// The picture, encoded.
    pub bytes: Vec<u8>,
    /// Its MIME type: `image/jpeg` for a decoded frame, `image/png` for
    /// the drawn stand-in.
    pub mime: &'static str,
    /// The index of the decoded frame; when the frame could not be
    /// decoded, why (and the poster is the drawn stand-in).
    pub decoded: Result<u32, String>,
}

/// The poster of the video at `path`: its first sync frame, decoded
/// ([`first_frame`]), at most 1280 wide, with the boxes each participant
/// has on that frame outlined in the participant's colour, as JPEG. When
/// the frame cannot be decoded, the drawn stand-in of [`poster_png`] with
/// the boxes of frame 0, and why.
pub fn poster(
    path: &Path,
    info: &VideoInfo,
    boxes: &BTreeMap<u32, BTreeMap<u32, FaceBox>>,
) -> Result<Poster, String> {
    // The boxes the page draws while `frame` is on screen, as its script
    // finds them during playback: from the frame's time.
    let at = |frame: u32| -> Vec<(u32, FaceBox)> {
        let time = f64::from(frame) / info.frame_rate;
        boxes
            .iter()
            .filter_map(|(p, frames)| box_at(frames, time, info.frame_rate).map(|face| (*p, face)))
            .collect()
    };
    match first_frame(path) {
        Ok(frame) => {
            let picture = decorated(frame.picture, &at(frame.index));
            let mut jpeg = Vec::new();
            JpegEncoder::new_with_quality(&mut jpeg, 90)
                .encode_image(&picture)
                .map_err(|e| e.to_string())?;
            Ok(Poster {
                bytes: jpeg,
                mime: "image/jpeg",
                decoded: Ok(frame.index),
            })
        }
        Err(why) => Ok(Poster {
            bytes: poster_png(info, &at(0))?,
            mime: "image/png",
            decoded: Err(why),
        }),
    }
}

/// `picture` (a frame in the video's pixels) scaled to at most
/// [`POSTER_WIDTH`] wide, with `faces` outlined.
pub fn decorated(picture: RgbImage, faces: &[(u32, FaceBox)]) -> RgbImage {
    let (width, height) = picture.dimensions();
    let scale = scale_for(width);
    let mut picture = if scale < 1.0 {
        let h = ((f64::from(height) * scale).round() as u32).max(1);
        image::imageops::resize(
            &picture,
            POSTER_WIDTH,
            h,
            image::imageops::FilterType::Triangle,
        )
    } else {
        picture
    };
    outline(&mut picture, faces, scale);
    picture
}

/// The factor that brings `width` to at most [`POSTER_WIDTH`].
fn scale_for(width: u32) -> f64 {
    if width > POSTER_WIDTH {
        f64::from(POSTER_WIDTH) / f64::from(width)
    } else {
        1.0
    }
}

/// Draws each box (in video pixels, times `scale`) as a 3-pixel outline in
/// its participant's colour, inside the box's edges; the parts outside the
/// picture are not drawn.
fn outline(picture: &mut RgbImage, faces: &[(u32, FaceBox)], scale: f64) {
    let (width, height) = (i64::from(picture.width()), i64::from(picture.height()));
    for &(participant, face) in faces {
        let colour = Rgb(participant_colour(participant));
        let at = |v: f64| (v * scale).round() as i64;
        let (x0, y0, x1, y1) = (at(face[0]), at(face[1]), at(face[2]), at(face[3]));
        if x1 < x0 || y1 < y0 {
            continue;
        }
        let mut put = |x: i64, y: i64| {
            if (0..width).contains(&x) && (0..height).contains(&y) {
                picture.put_pixel(x as u32, y as u32, colour);
            }
        };
        for t in 0..3 {
            for x in x0..=x1 {
                put(x, (y0 + t).min(y1));
                put(x, (y1 - t).max(y0));
            }
            for y in y0..=y1 {
                put((x0 + t).min(x1), y);
                put((x1 - t).max(x0), y);
            }
        }
    }
}

/// The drawn stand-in poster, as PNG bytes, for a video whose pictures
/// cannot be decoded here: the video's frame size (at most 1280 wide),
/// dark, with `faces` outlined, each participant's in its colour.
pub fn poster_png(info: &VideoInfo, faces: &[(u32, FaceBox)]) -> Result<Vec<u8>, String> {
    let scale = scale_for(info.width);
    let width = ((f64::from(info.width) * scale).round() as u32).max(1);
    let height = ((f64::from(info.height) * scale).round() as u32).max(1);
    let mut poster = RgbImage::from_pixel(width, height, Rgb([38, 41, 48]));
    outline(&mut poster, faces, scale);
    let mut png = std::io::Cursor::new(Vec::new());
    poster
        .write_to(&mut png, ImageFormat::Png)
        .map_err(|e| e.to_string())?;
    Ok(png.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The emulator's shape: boxes on frames 0, 5, 10, 15 and 20.
    fn every_fifth() -> BTreeMap<u32, FaceBox> {
        (0..5)
            .map(|i| {
                let x = f64::from(i) * 2.0;
                (i * 5, [x, 0.0, x + 10.0, 10.0])
            })
            .collect()
    }

    #[test]
    fn the_frame_on_screen_follows_time_and_frame_rate() {
        assert_eq!(frame_at(0.0, 25.0), Some(0));
        assert_eq!(frame_at(0.039, 25.0), Some(0));
        assert_eq!(frame_at(0.04, 25.0), Some(1));
        assert_eq!(frame_at(0.2, 25.0), Some(5));
        assert_eq!(frame_at(1.0, 30_000.0 / 1001.0), Some(29));
        assert_eq!(frame_at(1.001, 30_000.0 / 1001.0), Some(30));
        assert_eq!(frame_at(-0.1, 25.0), None);
        assert_eq!(frame_at(1.0, 0.0), None);
        assert_eq!(frame_at(f64::NAN, 25.0), None);
    }

    #[test]
    fn the_box_drawn_is_the_latest_found_while_within_the_sampling_step() {
        let boxes = every_fifth();
        assert_eq!(hold(&boxes), 5);
        // 25 fps: 0.30 s is frame 7.5 → 7, drawn with frame 5's box.
        assert_eq!(box_at(&boxes, 0.30, 25.0), Some([2.0, 0.0, 12.0, 10.0]));
        // Frame 10 exactly (0.4 s) switches to frame 10's box.
        assert_eq!(box_at(&boxes, 0.4, 25.0), Some([4.0, 0.0, 14.0, 10.0]));
        // The same moment at 50 fps is frame 20: the last box.
        assert_eq!(box_at(&boxes, 0.4, 50.0), Some([8.0, 0.0, 18.0, 10.0]));
        // Frame 24 still shows frame 20's box; frame 25 (1.0 s at 25 fps) none.
        assert_eq!(box_at(&boxes, 0.96, 25.0), Some([8.0, 0.0, 18.0, 10.0]));
        assert_eq!(box_at(&boxes, 1.0, 25.0), None);
        assert_eq!(
            box_for_frame(&boxes, 13),
            Some((10, [4.0, 0.0, 14.0, 10.0]))
        );
        // Before the first box, nothing.
        let late: BTreeMap<u32, FaceBox> = [(3, [1.0; 4]), (4, [2.0; 4])].into();
        assert_eq!(box_at(&late, 0.0, 25.0), None);
        assert_eq!(box_at(&late, 0.12, 25.0), Some([1.0; 4]));
        assert_eq!(box_at(&late, 0.2, 25.0), None);
    }

    #[test]
    fn spans_are_exactly_the_frames_each_box_is_drawn_on() {
        let boxes = every_fifth();
        let spans = spans(&boxes);
        assert_eq!(spans.len(), 5);
        assert_eq!((spans[1].found, spans[1].until), (5, 10));
        assert_eq!((spans[4].found, spans[4].until), (20, 25));
        for frame in 0..40 {
            let by_span = spans
                .iter()
                .find(|s| s.found <= frame && frame < s.until)
                .map(|s| (s.found, s.face));
            assert_eq!(by_span, box_for_frame(&boxes, frame), "frame {frame}");
        }
        let gaps: BTreeMap<u32, FaceBox> = [(0, [0.0; 4]), (2, [1.0; 4]), (9, [2.0; 4])].into();
        let spans = super::spans(&gaps);
        let frames: Vec<(u32, u32)> = spans.iter().map(|s| (s.found, s.until)).collect();
        assert_eq!(frames, [(0, 2), (2, 4), (9, 11)]);
    }

    #[test]
    fn the_sample_video_header_gives_25_fps() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../samples/test-pattern.mp4");
        let info = read_info(&path).unwrap();
        assert_eq!((info.width, info.height, info.frames), (320, 240, 50));
        assert!((info.frame_rate - 25.0).abs() < 1e-9, "{info:?}");
        let png = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../samples/test-pattern.png");
        assert!(read_info(&png).is_err());
        // Cut short, or with a box size corrupted: an error, not a panic.
        let bytes = std::fs::read(&path).unwrap();
        let dir = tempfile::tempdir().unwrap();
        for (i, cut) in [40, 700, bytes.len() / 2].into_iter().enumerate() {
            let mut broken = bytes[..cut].to_vec();
            if i == 2 {
                broken[33] ^= 0x7f;
            }
            let file = dir.path().join(format!("broken-{i}.mp4"));
            std::fs::write(&file, &broken).unwrap();
            assert!(read_info(&file).is_err(), "cut at {cut}");
        }
    }

    /// A fixture of `tests/fixtures/` (see its README).
    fn fixture(name: &str) -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name)
    }

    /// The fixtures' four flat quadrants: top left, top right, bottom left,
    /// bottom right.
    const QUADRANTS: [[u8; 3]; 4] = [[200, 40, 40], [40, 160, 60], [40, 60, 200], [230, 220, 60]];

    /// Checks that `picture` shows the four quadrants, sampling a 5×5
    /// patch at the centre of each, within `tolerance` per channel.
    #[track_caller]
    fn shows_quadrants(picture: &RgbImage, tolerance: u8) {
        let (w, h) = picture.dimensions();
        let centres = [
            (w / 4, h / 4),
            (3 * w / 4, h / 4),
            (w / 4, 3 * h / 4),
            (3 * w / 4, 3 * h / 4),
        ];
        for ((cx, cy), expected) in centres.into_iter().zip(QUADRANTS) {
            for x in cx - 2..=cx + 2 {
                for y in cy - 2..=cy + 2 {
                    let got = picture.get_pixel(x, y).0;
                    for c in 0..3 {
                        assert!(
                            got[c].abs_diff(expected[c]) <= tolerance,
                            "({x}, {y}): {got:?}, expected {expected:?} ±{tolerance}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn the_codec_is_read_from_the_sample_entry() {
        assert_eq!(&codec(&fixture("quadrants-h264.mov")).unwrap(), b"avc1");
        assert_eq!(&codec(&fixture("quadrants-mjpeg.mov")).unwrap(), b"jpeg");
        let samples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../samples");
        assert_eq!(&codec(&samples.join("test-pattern.mp4")).unwrap(), b"avc1");
        assert!(codec(&samples.join("test-pattern.png")).is_err());
    }

    #[test]
    fn the_h264_quicktime_fixture_decodes_to_its_colours_with_the_boxes_drawn_over() {
        let path = fixture("quadrants-h264.mov");
        let frame = first_frame(&path).unwrap();
        assert_eq!(frame.index, 0);
        assert_eq!(frame.picture.dimensions(), (320, 240));
        // Flat colours through H.264 and back: within the codec's error.
        shows_quadrants(&frame.picture, 12);

        // The face box of frame 0, outlined 3 pixels thick inside its edges.
        let face = [100.0, 40.0, 220.0, 200.0];
        let before = frame.picture.clone();
        let drawn = decorated(frame.picture, &[(1, face)]);
        let colour = participant_colour(1);
        for (x, y) in [
            (100, 120),
            (102, 120),
            (220, 120),
            (218, 120),
            (160, 40),
            (160, 42),
            (160, 200),
        ] {
            assert_eq!(
                drawn.get_pixel(x, y).0,
                colour,
                "({x}, {y}) is on the outline"
            );
        }
        for (x, y) in [
            (99, 120),
            (103, 120),
            (217, 120),
            (221, 120),
            (160, 39),
            (160, 43),
            (60, 60),
            (300, 230),
        ] {
            assert_eq!(
                drawn.get_pixel(x, y),
                before.get_pixel(x, y),
                "({x}, {y}) is not"
            );
        }

        // The poster: that picture as JPEG, with the boxes each participant
        // has on frame 0 (participant 0's box of frame 5 is not drawn yet).
        let info = read_info(&path).unwrap();
        let boxes: BTreeMap<u32, BTreeMap<u32, FaceBox>> = [
            (1, [(0, face)].into()),
            (0, [(5, [10.0, 10.0, 60.0, 60.0])].into()),
        ]
        .into();
        let poster = poster(&path, &info, &boxes).unwrap();
        assert_eq!((poster.mime, poster.decoded.clone()), ("image/jpeg", Ok(0)));
        let shown = image::load_from_memory(&poster.bytes).unwrap().to_rgb8();
        assert_eq!(shown.dimensions(), (320, 240));
        let near = |got: [u8; 3], want: [u8; 3], tolerance: u8| {
            (0..3).all(|c| got[c].abs_diff(want[c]) <= tolerance)
        };
        assert!(
            near(shown.get_pixel(101, 120).0, colour, 40),
            "{:?}",
            shown.get_pixel(101, 120)
        );
        assert!(
            near(shown.get_pixel(35, 35).0, QUADRANTS[0], 16),
            "no box of frame 5"
        );
        assert!(near(shown.get_pixel(280, 200).0, QUADRANTS[3], 16));
    }

    #[test]
    fn the_motion_jpeg_fixture_decodes_and_a_codec_without_decoder_gets_the_drawn_poster() {
        let path = fixture("quadrants-mjpeg.mov");
        let frame = first_frame(&path).unwrap();
        assert_eq!((frame.index, frame.picture.dimensions()), (0, (64, 48)));
        shows_quadrants(&frame.picture, 12);

        // The same file with its first sample no longer a JPEG picture: no
        // decoder for it, so the drawn stand-in, saying why.
        let mut bytes = std::fs::read(&path).unwrap();
        let at = bytes
            .windows(3)
            .position(|w| w == [0xff, 0xd8, 0xff])
            .unwrap();
        bytes[at..at + 3].copy_from_slice(&[0, 0, 0]);
        let dir = tempfile::tempdir().unwrap();
        let broken = dir.path().join("broken.mov");
        std::fs::write(&broken, &bytes).unwrap();
        let info = read_info(&broken).unwrap();
        let boxes = [(0, [(0, [4.0, 4.0, 30.0, 40.0])].into())].into();
        let poster = poster(&broken, &info, &boxes).unwrap();
        assert_eq!(poster.mime, "image/png");
        let why = poster.decoded.unwrap_err();
        assert!(
            why.contains("no decoder here for the video's codec (jpeg)"),
            "{why}"
        );
        let drawn = image::load_from_memory(&poster.bytes).unwrap().to_rgb8();
        assert_eq!(drawn.get_pixel(4, 20).0, participant_colour(0));
        assert_eq!(drawn.get_pixel(50, 20).0, [38, 41, 48]);
        // Not an MP4 at all: an error, not a panic.
        let png = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../samples/test-pattern.png");
        assert!(first_frame(&png).is_err());
    }

    #[test]
    fn the_sample_mp4_decodes_too() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../samples/test-pattern.mp4");
        let frame = first_frame(&path).unwrap();
        assert_eq!((frame.index, frame.picture.dimensions()), (0, (320, 240)));
        // `testsrc`: not one flat colour.
        let first = *frame.picture.get_pixel(0, 0);
        assert!(frame.picture.pixels().any(|p| *p != first));
    }

    #[test]
    fn boxes_partly_outside_the_picture_are_clipped_not_moved() {
        let mut picture = RgbImage::new(40, 30);
        outline(
            &mut picture,
            &[(2, [30.0, 10.0, 60.0, 20.0]), (3, [-5.0, 50.0, 10.0, 60.0])],
            1.0,
        );
        let colour = participant_colour(2);
        assert_eq!(picture.get_pixel(30, 15).0, colour);
        assert_eq!(picture.get_pixel(35, 10).0, colour);
        // The box's right edge is at 60: nothing drawn at the picture's
        // edge (39) except where the top and bottom edges cross it.
        assert_eq!(picture.get_pixel(39, 15).0, [0, 0, 0]);
        assert_eq!(picture.get_pixel(39, 10).0, colour);
        // A box wholly below the picture draws nothing.
        assert!(picture.pixels().all(|p| p.0 != participant_colour(3)));
    }

    #[test]
    fn the_poster_has_the_video_size_and_outlines_the_boxes() {
        let info = VideoInfo {
            width: 40,
            height: 30,
            frame_rate: 25.0,
            frames: 50,
            duration: Duration::from_secs(2),
        };
        let png = poster_png(&info, &[(1, [5.0, 5.0, 20.0, 25.0])]).unwrap();
        let poster = image::load_from_memory(&png).unwrap().to_rgb8();
        assert_eq!(poster.dimensions(), (40, 30));
        assert_eq!(poster.get_pixel(5, 10).0, participant_colour(1));
        assert_eq!(poster.get_pixel(12, 15).0, [38, 41, 48]);
        assert_eq!(poster.get_pixel(0, 0).0, [38, 41, 48]);
    }
}
