//! The report page's HTML: escaping, assets streamed into `data:` URIs (or
//! copied beside the page), and the fixed parts (style, script, head).
//!
//! The page loads nothing from a network: its Content-Security-Policy
//! allows only inline style and script, `data:` images and media, and
//! files beside it.

use std::fs::File;
use std::io::{self, BufReader, Read as _, Write};
use std::path::{Path, PathBuf};

/// Files up to this size are embedded as `data:` URIs; larger ones are
/// copied into the `FILE_files/` directory beside the page.
pub const EMBED_LIMIT: u64 = 24 * 1024 * 1024;

/// `text` with `&`, `<`, `>`, `"` and `'` escaped, for text and attribute
/// values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `text` with every `http://` or `https://` address shortened to its host
/// and path: no scheme, no query string (pre-signed URLs carry their
/// signature there). Error messages go through this before the page shows
/// them.
pub fn without_urls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    loop {
        let found = ["https://", "http://"]
            .iter()
            .filter_map(|scheme| rest.find(scheme).map(|at| (at, scheme.len())))
            .min();
        let Some((at, scheme_len)) = found else {
            out.push_str(rest);
            return out;
        };
        out.push_str(&rest[..at]);
        let address = &rest[at + scheme_len..];
        let end = address
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>' | ')'))
            .unwrap_or(address.len());
        let shown = &address[..end];
        out.push_str(shown.split(['?', '#']).next().unwrap_or(""));
        rest = &address[end..];
    }
}

/// Writes a `data:` URI of `mime` with the bytes of `reader`, streamed
/// through base64 (never the whole file in memory).
pub fn write_data_uri(
    out: &mut impl Write,
    mime: &str,
    reader: &mut impl io::Read,
) -> io::Result<()> {
    write!(out, "data:{mime};base64,")?;
    let mut encoder =
        base64::write::EncoderWriter::new(out, &base64::engine::general_purpose::STANDARD);
    io::copy(reader, &mut encoder)?;
    encoder.finish()?;
    Ok(())
}

/// Where a page's assets go: embedded, or copied into `FILE_files/`.
pub struct Assets {
    dir: PathBuf,
    dir_name: String,
    copied: usize,
}

impl Assets {
    /// The assets of the page at `page`: `page`'s file stem + `_files`
    /// beside it (created only when a file is copied there).
    pub fn for_page(page: &Path) -> Assets {
        let stem = page
            .file_stem()
            .map_or_else(|| "report".into(), |s| s.to_string_lossy().into_owned());
        let dir_name = format!("{}_files", safe_name(&stem));
        let dir = page.with_file_name(&dir_name);
        Assets {
            dir,
            dir_name,
            copied: 0,
        }
    }

    /// Writes the value of a `src` attribute for the file at `path`: a
    /// `data:` URI of `mime` when it is at most [`EMBED_LIMIT`] bytes, else
    /// the relative address of a copy in the assets directory.
    pub fn write_src(&mut self, out: &mut impl Write, path: &Path, mime: &str) -> io::Result<()> {
        let file = File::open(path)?;
        if file.metadata()?.len() <= EMBED_LIMIT {
            return write_data_uri(out, mime, &mut BufReader::new(file));
        }
        drop(file);
        std::fs::create_dir_all(&self.dir)?;
        self.copied += 1;
        let name = path
            .file_name()
            .map_or_else(|| "asset".into(), |n| n.to_string_lossy().into_owned());
        let name = format!("{}-{}", self.copied, safe_name(&name));
        std::fs::copy(path, self.dir.join(&name))?;
        write!(out, "{}/{}", self.dir_name, name)
    }
}

/// A file name with only letters, digits, `.`, `-` and `_` (others become
/// `_`), so it needs no escaping in an address.
fn safe_name(name: &str) -> String {
    name.chars()
        .map(|c| match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '.' | '-' | '_' => c,
            _ => '_',
        })
        .collect()
}

/// The MIME type of an image file from its first bytes: PNG, JPEG, GIF,
/// WebP or BMP (the formats every browser shows), else `None`.
pub fn image_mime(path: &Path) -> Option<&'static str> {
    let mut head = [0u8; 32];
    let n = File::open(path).and_then(|mut f| f.read(&mut head)).ok()?;
    let mime = infer::get(&head[..n])?.mime_type();
    SHOWN_IMAGES.into_iter().find(|shown| *shown == mime)
}

/// The image types every browser shows in an `<img>`.
const SHOWN_IMAGES: [&str; 5] = [
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "image/bmp",
];

/// The sample entries (codecs) of MP4-family files that browsers play
/// when the file is given as `video/mp4`: H.264 (`avc1`, `avc3`), VP9 and
/// AV1. Not HEVC (`hvc1`, `hev1`: Chromium on Linux has no decoder for it
/// without a hardware one), MPEG-4 Part 2 (`mp4v`), Motion JPEG (`jpeg`,
/// `mjpa`, `mjpb`) or ProRes.
const PLAYED_IN_MP4: [&[u8; 4]; 4] = [b"avc1", b"avc3", b"vp09", b"av01"];

/// The MIME type of a video file a browser may play, from its first bytes
/// and, for the MP4 family, its video codec: an MP4-family file (an `ftyp`
/// box, QuickTime's `qt  ` brand included) whose first video track is
/// H.264, VP9 or AV1 plays as `video/mp4`; WebM as `video/webm`; `None`
/// for anything else (Motion JPEG, HEVC, MPEG-4 Part 2 in a `.mov`...).
///
/// The codec decides, not the brand: Chromium refuses `video/quicktime`
/// but plays an H.264 QuickTime file given as `video/mp4` (its demuxer
/// reads both), and it plays no Motion JPEG at all, whatever the type.
pub fn video_mime(path: &Path) -> Option<&'static str> {
    let mut head = [0u8; 12];
    let n = File::open(path).and_then(|mut f| f.read(&mut head)).ok()?;
    let head = &head[..n];
    if head.len() >= 8 && &head[4..8] == b"ftyp" {
        let codec = super::video::codec(path).ok()?;
        PLAYED_IN_MP4.contains(&&codec).then_some("video/mp4")
    } else if head.starts_with(&[0x1a, 0x45, 0xdf, 0xa3]) {
        Some("video/webm")
    } else {
        None
    }
}

/// The page's head and opening, up to where the summary goes.
pub fn write_head(out: &mut impl Write, title: &str) -> io::Result<()> {
    write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; \
         img-src data: 'self'; media-src data: 'self'; style-src 'unsafe-inline'; \
         script-src 'unsafe-inline'\">\n\
         <meta name=\"referrer\" content=\"no-referrer\">\n\
         <title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n\
         <a class=\"skip\" href=\"#entries\">Skip to the files</a>\n<main>\n<h1>{}</h1>\n",
        escape(title),
        escape(title)
    )
}

/// The page's end: the script (progressive: the page reads the same
/// without it) and the closing tags.
pub fn write_tail(out: &mut impl Write) -> io::Result<()> {
    write!(
        out,
        "</main>\n<script>{SCRIPT}</script>\n</body>\n</html>\n"
    )
}

const STYLE: &str = r#"
:root { color-scheme: light; --fake: #b00020; --real: #1b5e20; --failed: #6a1b9a; --pending: #8d6e00; --none: #455a64; }
body { font: 15px/1.45 system-ui, sans-serif; margin: 0; background: #f4f5f7; color: #1d1f23; }
main { max-width: 1100px; margin: 0 auto; padding: 1rem 1.5rem 3rem; }
h1 { font-size: 1.5rem; margin: .5rem 0 1rem; }
h2 { font-size: 1.15rem; margin: 0 0 .5rem; overflow-wrap: anywhere; }
.skip { position: absolute; left: -999px; }
.skip:focus { left: 1rem; top: 1rem; background: #fff; padding: .5rem; z-index: 9; }
.summary { display: flex; flex-wrap: wrap; gap: .75rem; padding: 0; list-style: none; margin: 0 0 1rem; }
.summary li { background: #fff; border-radius: 8px; padding: .5rem 1rem; border-left: 6px solid #999; }
.summary li.fake { border-color: var(--fake); } .summary li.real { border-color: var(--real); }
.summary li.failed { border-color: var(--failed); } .summary li.pending { border-color: var(--pending); } .summary li.none { border-color: var(--none); }
.summary strong { font-size: 1.4rem; display: block; }
nav ol { columns: 2; padding-left: 1.5rem; }
a { color: #0b57d0; } a:focus, input:focus, video:focus, [tabindex]:focus { outline: 3px solid #0b57d0; outline-offset: 2px; }
.entry { background: #fff; border-radius: 10px; padding: 1rem 1.25rem; margin: 1rem 0; border-left: 8px solid #999; }
.entry[data-verdict=fake] { border-color: var(--fake); } .entry[data-verdict=real] { border-color: var(--real); }
.entry[data-verdict=failed] { border-color: var(--failed); } .entry[data-verdict=pending] { border-color: var(--pending); } .entry[data-verdict=none] { border-color: var(--none); }
.badge { display: inline-block; border-radius: 4px; padding: 0 .5rem; color: #fff; font-size: .9rem; vertical-align: middle; background: #555; }
.badge.fake { background: var(--fake); } .badge.real { background: var(--real); }
.badge.failed { background: var(--failed); } .badge.pending { background: var(--pending); } .badge.none { background: var(--none); }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .15rem 1rem; margin: 0 0 .75rem; }
dt { font-weight: 600; } dd { margin: 0; overflow-wrap: anywhere; }
.error { background: #fdecea; color: #611a15; padding: .5rem .75rem; border-radius: 6px; overflow-wrap: anywhere; }
.note { color: #555; font-style: italic; }
.figures { display: flex; flex-wrap: wrap; gap: 1rem; align-items: flex-start; }
figure { margin: 0; max-width: 100%; }
figcaption { font-size: .9rem; color: #444; margin-top: .25rem; }
.stack { position: relative; display: inline-block; max-width: 100%; line-height: 0; }
.stack img { max-width: 100%; height: auto; display: block; }
.stack img.heat { position: absolute; inset: 0; width: 100%; height: 100%; mix-blend-mode: normal; }
img.alone { width: 240px; max-width: 100%; height: auto; image-rendering: auto; border: 1px solid #ccc; }
.stage { position: relative; max-width: 100%; line-height: 0; background: #000; }
.stage video, .stage img { width: 100%; height: 100%; display: block; }
.stage .box, .stack .box { position: absolute; border: 3px solid; box-sizing: border-box; pointer-events: none; }
.stage .box span, .stack .box span { position: absolute; top: -1.4em; left: -3px; font: 12px/1.2 system-ui, sans-serif; color: #000; padding: 0 .25rem; }
table { border-collapse: collapse; font-size: .85rem; margin: .5rem 0; }
caption { text-align: left; font-weight: 600; }
th, td { border: 1px solid #ddd; padding: .1rem .5rem; text-align: right; }
details { margin: .5rem 0; }
"#;

const SCRIPT: &str = r#"
"use strict";
for (const input of document.querySelectorAll("input.opacity")) {
  const heat = document.getElementById(input.dataset.target);
  const apply = () => { heat.style.opacity = String(input.value / 100); };
  input.addEventListener("input", apply);
  apply();
}
for (const stage of document.querySelectorAll(".stage[data-spans]")) {
  const video = stage.querySelector("video");
  if (!video) continue;
  const rate = Number(stage.dataset.fps), width = Number(stage.dataset.width), height = Number(stage.dataset.height);
  const participants = JSON.parse(stage.dataset.spans);
  const drawn = [];
  for (const p of participants) {
    const box = document.createElement("div");
    box.className = "box";
    box.style.borderColor = p.colour;
    box.hidden = true;
    const label = document.createElement("span");
    label.textContent = p.label || "participant " + p.participant;
    label.style.background = p.colour;
    box.appendChild(label);
    stage.appendChild(box);
    drawn.push([p, box]);
  }
  const draw = () => {
    // The frame on screen, as the report's Rust `frame_at` computes it.
    const frame = Math.floor(video.currentTime * rate + 1e-6);
    for (const [p, box] of drawn) {
      const span = p.spans.find(s => s[0] <= frame && frame < s[1]);
      box.hidden = !span;
      if (!span) continue;
      const [x0, y0, x1, y1] = span.slice(2);
      box.style.left = (100 * x0 / width) + "%";
      box.style.top = (100 * y0 / height) + "%";
      box.style.width = (100 * (x1 - x0) / width) + "%";
      box.style.height = (100 * (y1 - y0) / height) + "%";
    }
  };
  // The browser plays the file: its own first frame replaces the poster
  // (which stays for a browser that cannot).
  video.addEventListener("loadeddata", () => video.removeAttribute("poster"));
  const follow = () => { draw(); if (!video.paused && !video.ended) requestAnimationFrame(follow); };
  for (const event of ["loadeddata", "timeupdate", "seeked", "pause"]) video.addEventListener(event, draw);
  video.addEventListener("play", () => requestAnimationFrame(follow));
  draw();
}
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_covers_text_and_attributes() {
        assert_eq!(
            escape(r#"<a href="x">Tom & 'Jerry'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;Tom &amp; &#39;Jerry&#39;&lt;/a&gt;"
        );
    }

    #[test]
    fn urls_lose_their_scheme_and_query() {
        assert_eq!(
            without_urls(
                "GET https://s3.example.com/b/k?X-Amz-Signature=abc failed (http://127.0.0.1:9/api)"
            ),
            "GET s3.example.com/b/k failed (127.0.0.1:9/api)"
        );
        assert_eq!(without_urls("no address here"), "no address here");
    }

    #[test]
    fn data_uris_stream_across_chunks() {
        use base64::Engine as _;
        let bytes: Vec<u8> = (0..100_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let mut out = Vec::new();
        write_data_uri(&mut out, "image/png", &mut bytes.as_slice()).unwrap();
        let text = String::from_utf8(out).unwrap();
        let encoded = text.strip_prefix("data:image/png;base64,").unwrap();
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .unwrap();
        assert_eq!(decoded, bytes);
    }

    #[test]
    fn samples_are_recognised() {
        let samples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../samples");
        assert_eq!(
            image_mime(&samples.join("test-pattern.png")),
            Some("image/png")
        );
        assert_eq!(
            image_mime(&samples.join("test-pattern.jpg")),
            Some("image/jpeg")
        );
        assert_eq!(image_mime(&samples.join("test-pattern.mp4")), None);
        assert_eq!(
            video_mime(&samples.join("test-pattern.mp4")),
            Some("video/mp4")
        );
        assert_eq!(video_mime(&samples.join("test-pattern.png")), None);
        // The codec decides, not the brand: H.264 in QuickTime plays as
        // MP4; Motion JPEG plays nowhere.
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
        assert_eq!(
            video_mime(&fixtures.join("quadrants-h264.mov")),
            Some("video/mp4")
        );
        assert_eq!(video_mime(&fixtures.join("quadrants-mjpeg.mov")), None);
    }

    #[test]
    fn large_files_are_copied_beside_the_page() {
        let dir = tempfile::tempdir().unwrap();
        let big = dir.path().join("big clip.mp4");
        let file = File::create(&big).unwrap();
        file.set_len(EMBED_LIMIT + 1).unwrap();
        let mut assets = Assets::for_page(&dir.path().join("report.html"));
        let mut src = Vec::new();
        assets.write_src(&mut src, &big, "video/mp4").unwrap();
        assert_eq!(
            String::from_utf8(src).unwrap(),
            "report_files/1-big_clip.mp4"
        );
        assert!(dir.path().join("report_files/1-big_clip.mp4").exists());
    }
}
