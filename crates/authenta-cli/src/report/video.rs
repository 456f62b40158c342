//! Video entries: the size and frame rate from the file's MP4 header (the
//! `mp4` crate; nothing is decoded), which face box is drawn at a moment of
//! playback, and a still poster for when the browser cannot play the file.

use std::collections::BTreeMap;
use std::io::BufReader;
use std::path::Path;
use std::time::Duration;

use image::{ImageFormat, Rgb, RgbImage};

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

/// Reads the header of an MP4 (or QuickTime) file: its first video track's
/// size, frame count, duration and frame rate.
///
/// The frame rate is computed from the sample count and the media
/// duration: `mp4`'s own `frame_rate()` rounds down to whole frames per
/// second (29.97 would read 29).
pub fn read_info(path: &Path) -> Result<VideoInfo, String> {
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let size = file.metadata().map_err(|e| e.to_string())?.len();
    // A malformed file must not end the whole report: the parser's panics
    // are caught and told as an unreadable header.
    let parsed =
        std::panic::catch_unwind(|| mp4::Mp4Reader::read_header(BufReader::new(file), size))
            .map_err(|_| "the MP4 header is malformed".to_owned())?;
    let reader = parsed.map_err(|e| format!("not a readable MP4 header: {e}"))?;
    let mut tracks: Vec<&mp4::Mp4Track> = reader.tracks().values().collect();
    tracks.sort_by_key(|t| t.track_id());
    let track = tracks
        .into_iter()
        .find(|t| matches!(t.track_type(), Ok(mp4::TrackType::Video)))
        .ok_or("no video track in the MP4 header")?;
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

/// A still poster for a video the browser cannot play, as PNG bytes: the
/// video's frame size (at most 1280 wide), dark, with the boxes drawn at
/// the start of playback outlined, each participant's in its colour. The video's own pictures are not
/// decoded (that would take a video decoder); the page says so.
pub fn poster_png(info: &VideoInfo, faces: &[(u32, FaceBox)]) -> Result<Vec<u8>, String> {
    let scale = if info.width > 1280 {
        1280.0 / f64::from(info.width)
    } else {
        1.0
    };
    let width = ((f64::from(info.width) * scale).round() as u32).max(1);
    let height = ((f64::from(info.height) * scale).round() as u32).max(1);
    let mut poster = RgbImage::from_pixel(width, height, Rgb([38, 41, 48]));
    for &(participant, face) in faces {
        let colour = Rgb(participant_colour(participant));
        let clamp = |v: f64, max: u32| (v * scale).round().clamp(0.0, f64::from(max - 1)) as u32;
        let (x0, y0) = (clamp(face[0], width), clamp(face[1], height));
        let (x1, y1) = (clamp(face[2], width), clamp(face[3], height));
        for t in 0..3u32 {
            for x in x0..=x1 {
                for y in [y0.saturating_add(t).min(y1), y1.saturating_sub(t).max(y0)] {
                    poster.put_pixel(x, y, colour);
                }
            }
            for y in y0..=y1 {
                for x in [x0.saturating_add(t).min(x1), x1.saturating_sub(t).max(x0)] {
                    poster.put_pixel(x, y, colour);
                }
            }
        }
    }
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
