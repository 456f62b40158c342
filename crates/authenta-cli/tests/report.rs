//! The HTML report and the heatmap overlay, end to end: the `authenta`
//! binary against an emulator (the embedded one, or one this test starts),
//! and the report opened in headless Chromium over the DevTools protocol.

mod common;

mod chromium;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use assert_cmd::Command;
use authenta_emulator::{ApiKey, Emulator, KeySpec, RunningEmulator};
use common::{authenta, root};
use sha2::{Digest as _, Sha256};

const SAMPLES: [&str; 3] = ["test-pattern.jpg", "test-pattern.mp4", "test-pattern.png"];

/// `authenta` pointed at `emulator` with `key`, by environment.
fn against(emulator: &RunningEmulator, key: &ApiKey) -> Command {
    let mut cmd = authenta();
    cmd.env("AUTHENTA_BASE_URL", emulator.base_url())
        .env("AUTHENTA_CLIENT_ID", &key.client_id)
        .env("AUTHENTA_CLIENT_SECRET", &key.client_secret);
    cmd
}

/// Runs and checks the exit code; stdout and stderr.
fn run_expect(cmd: &mut Command, args: &[&str], code: i32) -> (String, String) {
    let output = cmd.args(args).output().unwrap();
    let (stdout, stderr) = (
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    );
    assert_eq!(
        output.status.code(),
        Some(code),
        "authenta {args:?}\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    (stdout, stderr)
}

/// The emulator's verdict for a file: fake when the first byte of its
/// SHA-256 is odd (`authenta_emulator::verdict`).
fn expected_verdict(path: &Path) -> &'static str {
    let digest = Sha256::digest(std::fs::read(path).unwrap());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    match authenta_emulator::verdict(&hex) {
        true => "fake",
        false => "real",
    }
}

/// Every entry of a report: `data-file` → `data-verdict`, read from the
/// HTML text.
fn entries(html: &str) -> BTreeMap<String, String> {
    let attribute = |tag: &str, name: &str| {
        let start = tag.find(&format!(" {name}=\""))? + name.len() + 3;
        let end = start + tag[start..].find('"')?;
        Some(tag[start..end].to_owned())
    };
    html.split("<article ")
        .skip(1)
        .map(|rest| {
            let tag = &rest[..rest.find('>').unwrap()];
            (
                attribute(tag, "data-file").expect("every entry has data-file"),
                attribute(tag, "data-verdict").expect("every entry has data-verdict"),
            )
        })
        .collect()
}

/// Checks what a report must never hold: a pre-signed URL, an address to
/// load, and the given secrets.
#[track_caller]
fn holds_nothing_secret(html: &str, secrets: &[&str]) {
    for forbidden in ["X-Amz-", "x-amz-", "http://", "https://"] {
        assert!(!html.contains(forbidden), "the report holds {forbidden:?}");
    }
    for secret in secrets {
        assert!(!html.contains(secret), "the report holds a credential");
    }
}

/// `--emulator process samples/ --report FILE`: one entry per sample.
fn report_of_the_samples(dir: &Path) -> PathBuf {
    let report = dir.join("report.html");
    let (stdout, stderr) = run_expect(
        &mut authenta(),
        &[
            "--emulator",
            "process",
            "samples/",
            "--report",
            report.to_str().unwrap(),
        ],
        0,
    );
    assert_eq!(stdout.lines().count(), 4, "{stdout}");
    assert!(stderr.contains("wrote the report"), "{stderr}");
    report
}

#[test]
fn process_with_report_writes_an_entry_per_sample_with_its_verdict() {
    let dir = tempfile::tempdir().unwrap();
    let report = report_of_the_samples(dir.path());
    let html = std::fs::read_to_string(&report).unwrap();
    let expected: BTreeMap<String, String> = SAMPLES
        .iter()
        .map(|name| {
            let verdict = expected_verdict(&root().join("samples").join(name));
            (format!("samples/{name}"), verdict.to_owned())
        })
        .collect();
    assert_eq!(entries(&html), expected);
    holds_nothing_secret(&html, &[]);
    // Self-contained: nothing beside it, nothing left over.
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["report.html"]);
    // Each image with its heatmap over it; the video with its boxes' spans.
    assert_eq!(html.matches("class=\"heat\"").count(), 2);
    assert_eq!(html.matches("type=\"range\"").count(), 2);
    assert_eq!(html.matches("<video ").count(), 1);
    assert!(html.contains("data-fps=\"25\""));
    assert!(html.contains("data-spans=\"[{&quot;colour&quot;"));
    for image in html.split("<img ").skip(1) {
        assert!(image.contains(" alt=\""), "an image without alt text");
    }
}

/// `name` copied into `dir` with bytes appended after its end, until the
/// emulator's verdict for it is `verdict`.
fn copy_with_verdict(name: &str, dir: &Path, as_name: &str, verdict: &str) -> PathBuf {
    let mut bytes = std::fs::read(root().join("samples").join(name)).unwrap();
    let path = dir.join(as_name);
    for pad in 0u8..=255 {
        std::fs::write(&path, &bytes).unwrap();
        if expected_verdict(&path) == verdict {
            return path;
        }
        bytes.push(pad);
    }
    panic!("no padding gives {verdict}");
}

#[test]
fn a_partial_batch_report_shows_what_failed_and_holds_no_credential() {
    // One credit: the first file is processed, the second is refused
    // (U007), the third not started.
    let emulator = Emulator::builder()
        .processing_time(Duration::from_millis(20))
        .credits(1)
        .spawn()
        .unwrap();
    let key = emulator.create_key(KeySpec::new("report")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let fake = copy_with_verdict("test-pattern.png", dir.path(), "a-fake.png", "fake");
    let refused = copy_with_verdict("test-pattern.png", dir.path(), "b.png", "real");
    let unstarted = copy_with_verdict("test-pattern.jpg", dir.path(), "c.jpg", "real");
    let report = dir.path().join("batch.html");
    let (_, stderr) = run_expect(
        &mut against(&emulator, &key),
        &[
            "process",
            "-j",
            "1",
            dir.path().to_str().unwrap(),
            "--report",
            report.to_str().unwrap(),
        ],
        5,
    );
    assert!(stderr.contains("wrote the report"), "{stderr}");
    let html = std::fs::read_to_string(&report).unwrap();
    let shown = |path: &Path| path.display().to_string();
    let expected: BTreeMap<String, String> = [
        (shown(&fake), "fake"),
        (shown(&refused), "failed"),
        (shown(&unstarted), "pending"),
    ]
    .into_iter()
    .map(|(file, verdict)| (file, verdict.to_owned()))
    .collect();
    assert_eq!(entries(&html), expected);
    assert!(html.contains("Insufficient credits"), "the error is shown");
    assert!(html.contains("<strong>1</strong>fake"));
    assert!(html.contains("<strong>1</strong>failed"));
    assert!(html.contains("<strong>1</strong>not final"));
    holds_nothing_secret(&html, &[&key.client_id, &key.client_secret]);

    // `authenta report` from the records: by mid (no original at hand), by
    // path (matched by name), and a path that has no record.
    let mid = emulator.records()[0].mid.clone();
    let again = dir.path().join("again.html");
    run_expect(
        &mut against(&emulator, &key),
        &[
            "report",
            again.to_str().unwrap(),
            &mid,
            fake.to_str().unwrap(),
            unstarted.to_str().unwrap(),
        ],
        0,
    );
    let html = std::fs::read_to_string(&again).unwrap();
    let expected: BTreeMap<String, String> = [
        ("a-fake.png".to_owned(), "fake"),
        (shown(&fake), "fake"),
        (shown(&unstarted), "failed"),
    ]
    .into_iter()
    .map(|(file, verdict)| (file, verdict.to_owned()))
    .collect();
    assert_eq!(entries(&html), expected);
    assert!(html.contains("no record named c.jpg"));
    // The image is shown from the path only.
    assert_eq!(html.matches("class=\"heat\"").count(), 1);
    holds_nothing_secret(&html, &[&key.client_id, &key.client_secret]);

    // With no item named: the ledger's final records, each with its file
    // (the image shown), then, with no ledger, every record of the account.
    let all = dir.path().join("all.html");
    run_expect(
        &mut against(&emulator, &key),
        &["report", all.to_str().unwrap()],
        0,
    );
    let html = std::fs::read_to_string(&all).unwrap();
    assert_eq!(
        entries(&html).into_iter().collect::<Vec<_>>(),
        [(shown(&fake), "fake".to_owned())]
    );
    assert_eq!(html.matches("class=\"heat\"").count(), 1);
    run_expect(
        &mut against(&emulator, &key),
        &["--no-ledger", "report", all.to_str().unwrap()],
        0,
    );
    let html = std::fs::read_to_string(&all).unwrap();
    assert_eq!(
        entries(&html).into_iter().collect::<Vec<_>>(),
        [("a-fake.png".to_owned(), "fake".to_owned())]
    );

    // An unusable report path is refused before anything is uploaded.
    let before = emulator.records().len();
    let (_, stderr) = run_expect(
        &mut against(&emulator, &key),
        &[
            "process",
            fake.to_str().unwrap(),
            "--report",
            "/no/such/dir/r.html",
        ],
        11,
    );
    assert!(stderr.contains("cannot write the report"), "{stderr}");
    assert_eq!(emulator.records().len(), before);
}

#[test]
fn result_overlay_blends_the_heatmap_over_the_original() {
    let emulator = Emulator::builder()
        .processing_time(Duration::from_millis(20))
        .spawn()
        .unwrap();
    let key = emulator.create_key(KeySpec::new("overlay")).unwrap();
    let original = root().join("samples/test-pattern.png");
    let (mid, _) = run_expect(
        &mut against(&emulator, &key),
        &["upload", original.to_str().unwrap()],
        0,
    );
    let mid = mid.trim();
    run_expect(&mut against(&emulator, &key), &["wait", mid], 0);
    let dir = tempfile::tempdir().unwrap();
    let overlay = |opacity: &str| {
        let out = dir.path().join(format!("overlay-{opacity}.png"));
        run_expect(
            &mut against(&emulator, &key),
            &[
                "result",
                mid,
                "--overlay",
                out.to_str().unwrap(),
                "--file",
                original.to_str().unwrap(),
                "--opacity",
                opacity,
            ],
            0,
        );
        image::open(&out).unwrap().to_rgba8()
    };
    let (none, half, full) = (overlay("0"), overlay("0.5"), overlay("1"));
    let source = image::open(&original).unwrap().to_rgba8();
    assert_eq!(none, source, "opacity 0 is the original");
    assert_eq!(full.dimensions(), (320, 240));
    assert_ne!(full, source);
    // At 0.5 each channel is the mean of the original and the stretched
    // heatmap (opacity 1), rounded.
    for ((o, h), m) in source.pixels().zip(full.pixels()).zip(half.pixels()) {
        for c in 0..3 {
            let mean = (f32::from(o[c]) + f32::from(h[c])) / 2.0;
            assert!((f32::from(m[c]) - mean).abs() <= 0.5, "{o:?} {h:?} {m:?}");
        }
    }
    // --overlay needs --file.
    run_expect(
        &mut against(&emulator, &key),
        &["result", mid, "--overlay", "x.png"],
        2,
    );
    // A file that is not an image: exit 6 and a reason.
    let (_, stderr) = run_expect(
        &mut against(&emulator, &key),
        &[
            "result",
            mid,
            "--overlay",
            dir.path().join("bad.png").to_str().unwrap(),
            "--file",
            "samples/README.md",
        ],
        6,
    );
    assert!(stderr.contains("cannot decode"), "{stderr}");
}

/// Opens `report` in headless Chromium, asserting that it loads with no
/// console error and no failed request.
fn open_cleanly(dir: &Path, report: &Path) -> chromium::Browser {
    let mut browser = chromium::Browser::launch(dir);
    let page = browser.open(report);
    assert_eq!(page.console_errors, Vec::<String>::new(), "console errors");
    assert_eq!(
        page.failed_requests,
        Vec::<String>::new(),
        "failed requests"
    );
    browser
}

#[test]
fn the_report_opens_in_headless_chromium_without_errors() {
    let dir = tempfile::tempdir().unwrap();
    let report = report_of_the_samples(dir.path());
    let mut browser = open_cleanly(dir.path(), &report);

    let found: BTreeMap<String, String> = serde_json::from_value(browser.evaluate(
        "Object.fromEntries([...document.querySelectorAll('[data-file]')]\
             .map(e => [e.dataset.file, e.dataset.verdict]))",
    ))
    .unwrap();
    let expected: BTreeMap<String, String> = SAMPLES
        .iter()
        .map(|name| {
            let verdict = expected_verdict(&root().join("samples").join(name));
            (format!("samples/{name}"), verdict.to_owned())
        })
        .collect();
    assert_eq!(found, expected);

    // Every image loaded and has alt text; the controls are reachable.
    let images = browser.evaluate(
        "[...document.images].map(i => [i.complete && i.naturalWidth > 0, i.alt.length > 0])",
    );
    let images = images.as_array().unwrap();
    // Two images, each under its heatmap and beside it alone, and at least
    // one participant's heatmap.
    assert!(images.len() >= 7, "{images:?}");
    for image in images {
        assert_eq!(image, &serde_json::json!([true, true]));
    }
    let focusable = browser.evaluate(
        "[...document.querySelectorAll('input[type=range], video[controls], a[href]')]\
         .filter(e => e.tabIndex >= 0).length",
    );
    assert!(focusable.as_u64().unwrap() >= 6, "{focusable}");

    // The boxes follow playback: the script draws the box whose span holds
    // the frame on screen (25 fps: 1.5 s is past the last box; 0.3 s is
    // frame 7, drawn with frame 5's box, as the screenshot shows).
    let sync = browser.evaluate_async(
        "(async () => {
            const video = document.querySelector('video');
            const stage = video.closest('.stage');
            const seek = t => new Promise(done => {
                video.addEventListener('seeked', () => done(), { once: true });
                video.currentTime = t;
            });
            const box = () => stage.querySelector('.box');
            const spans = JSON.parse(stage.dataset.spans)[0].spans;
            if (video.readyState < 1) await new Promise(done =>
                video.addEventListener('loadedmetadata', () => done(), { once: true }));
            await seek(1.5);
            const after = !box().hidden;
            await seek(0.3);
            const at = [!box().hidden, box().style.left];
            return { at, after, frame5: spans[1] };
        })()",
    );
    let x0 = sync["frame5"][2].as_f64().unwrap();
    assert_eq!(sync["frame5"][0], 5, "{sync}");
    assert_eq!(sync["at"][0], true, "a box at 0.3 s: {sync}");
    let left = sync["at"][1].as_str().unwrap().trim_end_matches('%');
    let left: f64 = left.parse().unwrap();
    assert!((left - 100.0 * x0 / 320.0).abs() < 1e-6, "{sync}");
    assert_eq!(sync["after"], false, "no box at 1.5 s: {sync}");

    let screenshot = browser.screenshot(1200);
    let picture = image::load_from_memory(&screenshot).unwrap().to_rgb8();
    let mut colours = std::collections::HashMap::new();
    for pixel in picture.pixels() {
        *colours.entry(pixel.0).or_insert(0usize) += 1;
    }
    let background = colours.values().max().copied().unwrap_or(0);
    let pixels = picture.pixels().len();
    assert!(
        colours.len() > 100 && background < pixels * 9 / 10,
        "the screenshot looks blank: {} colours, {background} of {pixels} pixels the same",
        colours.len()
    );
    assert!(
        picture.height() > 1500,
        "the whole page: {}",
        picture.height()
    );
    // Kept for the README (docs/report.png is a copy of it).
    let kept = root().join("target/report-screenshot.png");
    std::fs::create_dir_all(kept.parent().unwrap()).unwrap();
    std::fs::write(&kept, &screenshot).unwrap();
    // The page's own problems, seen after the interactions too.
    let later = browser.problems();
    assert_eq!(later, (Vec::new(), Vec::new()), "errors after playback");

    // Without JavaScript: the same entries and pictures, the boxes as
    // tables (no box drawn, as no script ran).
    browser.scripts(false);
    let page = browser.open(&report);
    assert_eq!(page.console_errors, Vec::<String>::new(), "console errors");
    assert_eq!(
        page.failed_requests,
        Vec::<String>::new(),
        "failed requests"
    );
    let still = browser.evaluate(
        "({ entries: document.querySelectorAll('[data-verdict]').length,
            loaded: [...document.images].every(i => i.complete && i.naturalWidth > 0),
            drawn: document.querySelectorAll('.stage .box').length,
            rows: document.querySelectorAll('details table tr').length,
            text: document.body.innerText.includes('Verdict') })",
    );
    assert_eq!(
        still,
        serde_json::json!({ "entries": 3, "loaded": true, "drawn": 0, "rows": 6, "text": true })
    );
}

/// The fixture videos (authenta-report's `tests/fixtures/`): H.264 in QuickTime, which
/// browsers play, and Motion JPEG in QuickTime, which they do not.
const FIXTURES: [&str; 2] = ["quadrants-h264.mov", "quadrants-mjpeg.mov"];

/// The fixtures' four flat quadrants: top left, top right, bottom left,
/// bottom right (`tests/fixtures/README.md`).
const QUADRANTS: [[u8; 3]; 4] = [[200, 40, 40], [40, 160, 60], [40, 60, 200], [230, 220, 60]];

/// `--emulator process DIR --report FILE` of a directory holding copies of
/// the fixture videos; the report's path.
fn report_of_the_fixtures(dir: &Path) -> PathBuf {
    let videos = dir.join("videos");
    std::fs::create_dir_all(&videos).unwrap();
    for name in FIXTURES {
        let from = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../authenta-report/tests/fixtures")
            .join(name);
        std::fs::copy(from, videos.join(name)).unwrap();
    }
    let report = dir.join("videos.html");
    let (stdout, stderr) = run_expect(
        &mut authenta(),
        &[
            "--emulator",
            "process",
            videos.to_str().unwrap(),
            "--report",
            report.to_str().unwrap(),
        ],
        0,
    );
    assert_eq!(stdout.lines().count(), 3, "{stdout}");
    assert!(stderr.contains("wrote the report"), "{stderr}");
    report
}

/// The bytes of a `data:` URI's standard base64.
fn unbase64(text: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .unwrap()
}

/// The picture of the `data:` URI that follows `attribute` in `html`, and
/// its MIME type.
fn data_picture(html: &str, attribute: &str) -> (String, image::RgbImage) {
    let start = html
        .find(attribute)
        .unwrap_or_else(|| panic!("no {attribute}"))
        + attribute.len();
    let uri = &html[start..start + html[start..].find('"').unwrap()];
    let (mime, data) = uri
        .strip_prefix("data:")
        .and_then(|rest| rest.split_once(";base64,"))
        .unwrap_or_else(|| panic!("not a data: URI: {}", &uri[..uri.len().min(60)]));
    let picture = image::load_from_memory(&unbase64(data)).unwrap().to_rgb8();
    (mime.to_owned(), picture)
}

/// Asserts that `got` is within `tolerance` of `want` in every channel.
#[track_caller]
fn near(got: &image::Rgb<u8>, want: [u8; 3], tolerance: u8) {
    assert!(
        (0..3).all(|c| got.0[c].abs_diff(want[c]) <= tolerance),
        "{got:?}, expected {want:?} ±{tolerance}"
    );
}

/// One entry of a report: the text of its `<article>`, by its `data-file`
/// ending.
fn article<'a>(html: &'a str, file_end: &str) -> &'a str {
    html.split("<article ")
        .skip(1)
        .map(|rest| &rest[..rest.find("</article>").unwrap()])
        .find(|entry| entry[..entry.find('>').unwrap()].contains(&format!("{file_end}\"")))
        .unwrap_or_else(|| panic!("no entry for {file_end}"))
}

#[test]
fn a_video_browsers_do_not_play_shows_its_decoded_first_frame() {
    let dir = tempfile::tempdir().unwrap();
    let report = report_of_the_fixtures(dir.path());
    let html = std::fs::read_to_string(&report).unwrap();
    let files: Vec<String> = entries(&html).into_keys().collect();
    assert_eq!(files.len(), 2, "{files:?}");
    holds_nothing_secret(&html, &[]);

    // Motion JPEG: no browser plays it. No <video>: the decoded first
    // frame, a 64×48 picture of the four quadrants, with alt text and a
    // note saying what it is.
    let mjpeg = article(&html, "quadrants-mjpeg.mov");
    assert!(!mjpeg.contains("<video"), "a video element for Motion JPEG");
    let (mime, poster) = data_picture(mjpeg, "<img class=\"poster\" src=\"");
    assert_eq!(mime, "image/jpeg");
    assert_eq!(poster.dimensions(), (64, 48));
    // Where no face box of frame 0 can be (the emulator's boxes start at
    // x ≥ 10 and y ≥ 20): the decoded colours, within the codecs' error.
    near(poster.get_pixel(8, 4), QUADRANTS[0], 16);
    near(poster.get_pixel(56, 4), QUADRANTS[1], 16);
    near(poster.get_pixel(4, 40), QUADRANTS[2], 16);
    assert!(
        mjpeg.contains(" alt=\"quadrants-mjpeg.mov: its first frame, decoded from the video, with its face boxes outlined\""),
        "{}",
        &mjpeg[..mjpeg.find("<img").unwrap()]
    );
    assert!(
        mjpeg.contains("the video (codec jpeg) is in a format browsers do not play; its first frame, decoded, stands in for it"),
        "the note"
    );
    // Participant 0's box of frame 0 (from the page's spans) is outlined
    // on the poster, where it falls inside the picture.
    let spans_at = mjpeg.find("data-spans=\"").unwrap() + "data-spans=\"".len();
    let spans = &mjpeg[spans_at..spans_at + mjpeg[spans_at..].find('"').unwrap()];
    let spans: serde_json::Value = serde_json::from_str(&spans.replace("&quot;", "\"")).unwrap();
    let first = &spans[0]["spans"][0];
    assert_eq!(first[0], 0, "{spans}");
    let (x0, y0) = (first[2].as_f64().unwrap(), first[3].as_f64().unwrap());
    // (The boxes come from the fixture's hash: this one starts inside the
    // picture, so its left edge is there to check, never skipped.)
    assert!(
        x0 + 2.0 < 64.0 && y0 < 48.0,
        "the box starts outside: {first}"
    );
    near(poster.get_pixel(x0 as u32 + 1, 47), [255, 215, 0], 64);

    // H.264 in QuickTime: browsers play it as MP4, so it is a <video>, and
    // its poster (before playback) is its decoded first frame too.
    let h264 = article(&html, "quadrants-h264.mov");
    assert_eq!(h264.matches("<video ").count(), 1);
    assert!(h264.contains(" src=\"data:video/mp4;base64,"));
    assert!(!h264.contains("class=\"poster\""));
    let (mime, poster) = data_picture(h264, " poster=\"");
    assert_eq!(mime, "image/jpeg");
    assert_eq!(poster.dimensions(), (320, 240));
    // Columns 5 and 315 hold no box edge of frame 0 (x0 in 10..110 or
    // 210..310, each box 120 wide).
    near(poster.get_pixel(5, 5), QUADRANTS[0], 16);
    near(poster.get_pixel(315, 5), QUADRANTS[1], 16);
    near(poster.get_pixel(5, 235), QUADRANTS[2], 16);
    near(poster.get_pixel(315, 235), QUADRANTS[3], 16);
}

#[test]
fn chromium_plays_the_h264_quicktime_video_and_shows_the_motion_jpeg_poster() {
    // What `video_mime` decides, checked in the browser: the H.264 file
    // (QuickTime, given as video/mp4) loads its first frame; the Motion
    // JPEG entry's poster image loads.
    let dir = tempfile::tempdir().unwrap();
    let report = report_of_the_fixtures(dir.path());
    let mut browser = open_cleanly(dir.path(), &report);
    let seen = browser.evaluate_async(
        "(async () => {
            const video = document.querySelector('video');
            if (video.readyState < 2 && !video.error) await new Promise(done => {
                video.addEventListener('loadeddata', done, { once: true });
                video.addEventListener('error', done, { once: true });
            });
            const poster = document.querySelector('img.poster');
            return { videos: document.querySelectorAll('video').length,
                     played: [video.readyState >= 2, video.videoWidth, video.error && video.error.message],
                     poster: [poster.complete, poster.naturalWidth, poster.naturalHeight] };
        })()",
    );
    assert_eq!(
        seen,
        serde_json::json!({ "videos": 1, "played": [true, 320, null], "poster": [true, 64, 48] })
    );
}

#[test]
fn the_browser_check_sees_console_errors_and_failed_requests() {
    // The check above would pass on a page it cannot see into; this page
    // has one of each problem and the check must report both.
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("broken.html");
    std::fs::write(
        &page,
        "<!DOCTYPE html><html><head><title>broken</title></head><body>\
         <img src=\"missing.png\" alt=\"missing\">\
         <script>console.error('deliberate');</script></body></html>",
    )
    .unwrap();
    let mut browser = chromium::Browser::launch(dir.path());
    let loaded = browser.open(&page);
    assert!(
        loaded
            .console_errors
            .iter()
            .any(|e| e.contains("deliberate")),
        "{:?}",
        loaded.console_errors
    );
    assert!(
        loaded
            .failed_requests
            .iter()
            .any(|e| e.contains("missing.png")),
        "{:?}",
        loaded.failed_requests
    );
}

/// `process --task … --report FILE` against an emulator with an API key:
/// face intelligence over an image and a video with a reference image, a
/// face embedding, and a job that fails; the report's path and each file's
/// job as `--json` printed it.
fn report_of_jobs(dir: &Path) -> (PathBuf, BTreeMap<String, serde_json::Value>) {
    let emulator = Emulator::builder()
        .processing_time(Duration::from_millis(20))
        .spawn()
        .unwrap();
    let key = emulator.create_key(KeySpec::new("report-jobs")).unwrap();
    let with_key = || {
        let mut cmd = authenta();
        cmd.env("AUTHENTA_BASE_URL", emulator.base_url())
            .env("AUTHENTA_API_KEY", &key.api_key);
        cmd
    };
    let report = dir.join("jobs.html");
    let (stdout, stderr) = run_expect(
        &mut with_key(),
        &[
            "--json",
            "process",
            "--task",
            "face-intelligence",
            "samples/test-pattern.png",
            "samples/test-pattern.mp4",
            "--reference",
            "samples/test-pattern.jpg",
            "--report",
            report.to_str().unwrap(),
        ],
        0,
    );
    assert!(stderr.contains("wrote the report"), "{stderr}");
    let mut jobs: BTreeMap<String, serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|l| l.get("job").is_some())
        .map(|l| (l["file"].as_str().unwrap().to_owned(), l["job"].clone()))
        .collect();
    assert_eq!(jobs.len(), 2, "{stdout}");
    holds_nothing_secret(&std::fs::read_to_string(&report).unwrap(), &[&key.api_key]);

    // An embedding, and a job that fails, in a second report.
    emulator
        .fail_next_jobs(1, "the model could not read the file")
        .unwrap();
    let more = dir.join("more-jobs.html");
    let (stdout, _) = run_expect(
        &mut with_key(),
        &[
            "--json",
            "process",
            "-j",
            "1",
            "--task",
            "face-embedding",
            "samples/test-pattern.jpg",
            "samples/test-pattern.png",
            "--report",
            more.to_str().unwrap(),
        ],
        1,
    );
    for line in stdout.lines() {
        let line: serde_json::Value = serde_json::from_str(line).unwrap();
        jobs.insert(
            format!("embedding:{}", line["file"].as_str().unwrap()),
            line["job"].clone(),
        );
    }
    (report, jobs)
}

#[test]
fn a_jobs_report_shows_each_result_and_opens_in_headless_chromium() {
    let dir = tempfile::tempdir().unwrap();
    let (report, jobs) = report_of_jobs(dir.path());
    let html = std::fs::read_to_string(&report).unwrap();
    // One entry per file, its verdict the result's `isDeepFake`.
    let expected: BTreeMap<String, String> =
        ["samples/test-pattern.png", "samples/test-pattern.mp4"]
            .iter()
            .map(|file| {
                let fake = jobs[*file]["result"]["isDeepFake"].as_bool().unwrap();
                (
                    (*file).to_owned(),
                    if fake { "fake" } else { "real" }.to_owned(),
                )
            })
            .collect();
    assert_eq!(entries(&html), expected);
    // What the result holds, per the task type's fields.
    let image = article(&html, "test-pattern.png");
    let result = &jobs["samples/test-pattern.png"]["result"];
    for shown in [
        "<dt>Task</dt><dd>face-intelligence (FI-1)</dd>".to_owned(),
        format!(
            "<dt>Similarity score</dt><dd>{:.3}</dd>",
            result["similarityScore"].as_f64().unwrap()
        ),
        format!(
            "<dt>Confidence</dt><dd>{:.3}</dd>",
            result["confidence"].as_f64().unwrap()
        ),
        "<dt>Reference</dt><dd>samples/test-pattern.jpg</dd>".to_owned(),
    ] {
        assert!(
            image.contains(&shown),
            "{shown} in {}",
            &image[..image.find("</dl>").unwrap()]
        );
    }
    assert_eq!(
        image.matches("class=\"heat\"").count(),
        1,
        "the heatmap over the image"
    );
    assert_eq!(
        image.matches("class=\"box\"").count(),
        1,
        "the face outlined"
    );
    assert!(
        image.contains("class=\"alone reference\""),
        "the reference image"
    );
    assert!(image.contains("<caption>Faces found (1)</caption>"));
    let video = article(&html, "test-pattern.mp4");
    assert_eq!(video.matches("<video ").count(), 1);
    assert!(
        video.contains("Heatmap 1 of the job."),
        "the video's heatmap"
    );

    // The embedding summarized, never dumped; the failed job with its
    // reason.
    let more = std::fs::read_to_string(dir.path().join("more-jobs.html")).unwrap();
    let embedded = jobs
        .values()
        .find(|j| j["result"]["embedding"].is_array())
        .expect("an embedding");
    let numbers = embedded["result"]["embedding"].as_array().unwrap();
    assert_eq!(numbers.len(), 512);
    assert!(
        more.contains("<dt>Embedding</dt><dd>512 numbers, norm 1.000"),
        "the summary"
    );
    assert!(
        !more.contains(&numbers[10].to_string()),
        "the embedding is not dumped"
    );
    assert!(more.contains("none (this task type gives no verdict)"));
    // Completed without a verdict is final: counted apart, not as "not
    // final".
    assert!(
        more.contains("<li class=\"none\"><strong>1</strong>no verdict</li>"),
        "the summary counts the embedding as done without a verdict"
    );
    assert!(more.contains("<li class=\"pending\"><strong>0</strong>not final</li>"));
    assert!(
        more.contains("the model could not read the file"),
        "the failure"
    );
    assert_eq!(
        entries(&more).values().filter(|v| *v == "failed").count(),
        1,
        "{:?}",
        entries(&more)
    );

    // In Chromium: no error, every picture loaded with alt text, the face
    // box placed where the result says over the image, the reference
    // shown, and the video's face drawn during playback.
    let mut browser = open_cleanly(dir.path(), &report);
    let seen = browser.evaluate_async(
        "(async () => {
            const images = [...document.images].map(i => [i.complete && i.naturalWidth > 0, i.alt.length > 0]);
            const stack = document.querySelector('.stack');
            const picture = stack.querySelector('img').getBoundingClientRect();
            const box = stack.querySelector('.box').getBoundingClientRect();
            const reference = document.querySelector('img.reference');
            const video = document.querySelector('video');
            const stage = video.closest('.stage');
            if (video.readyState < 1) await new Promise(done =>
                video.addEventListener('loadedmetadata', () => done(), { once: true }));
            await new Promise(done => {
                video.addEventListener('seeked', () => done(), { once: true });
                video.currentTime = 1.5;
            });
            const drawn = stage.querySelector('.box');
            return {
                images,
                left: (box.left - picture.left) / picture.width,
                top: (box.top - picture.top) / picture.height,
                width: box.width / picture.width,
                reference: [reference.complete, reference.naturalWidth],
                videoBox: drawn ? [!drawn.hidden, drawn.style.left] : null,
            };
        })()",
    );
    for image in seen["images"].as_array().unwrap() {
        assert_eq!(image, &serde_json::json!([true, true]), "{seen}");
    }
    let face = result["identityDetails"]["faces"][0]["boundingBox"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect::<Vec<_>>();
    // The sample is 320 × 240.
    for (got, want) in [
        (&seen["left"], face[0] / 320.0),
        (&seen["top"], face[1] / 240.0),
        (&seen["width"], (face[2] - face[0]) / 320.0),
    ] {
        assert!(
            (got.as_f64().unwrap() - want).abs() < 0.01,
            "{got} vs {want}: {seen}"
        );
    }
    assert_eq!(seen["reference"][0], true, "{seen}");
    let video_face =
        jobs["samples/test-pattern.mp4"]["result"]["identityDetails"]["faces"][0]["boundingBox"][0]
            .as_f64()
            .unwrap();
    assert_eq!(
        seen["videoBox"][0], true,
        "the face is drawn at 1.5 s: {seen}"
    );
    let left: f64 = seen["videoBox"][1]
        .as_str()
        .unwrap()
        .trim_end_matches('%')
        .parse()
        .unwrap();
    assert!((left - 100.0 * video_face / 320.0).abs() < 1e-6, "{seen}");
    assert_eq!(
        browser.problems(),
        (Vec::new(), Vec::new()),
        "errors after playback"
    );
    // Kept to look at (target/report-jobs-screenshot.png).
    let kept = root().join("target/report-jobs-screenshot.png");
    std::fs::create_dir_all(kept.parent().unwrap()).unwrap();
    std::fs::write(&kept, browser.screenshot(1200)).unwrap();

    // The report of the embedding and the failure opens cleanly too.
    let page = browser.open(&dir.path().join("more-jobs.html"));
    assert_eq!(page.console_errors, Vec::<String>::new(), "console errors");
    assert_eq!(
        page.failed_requests,
        Vec::<String>::new(),
        "failed requests"
    );
}
