//! What a job's section shows beside the pictures: its facts (the task
//! type, and per task type what its result holds, from the table's
//! `resultFields`), the embedding summarized, the faces found as boxes over
//! the image and as a table.

use std::io::{self, Write};

use authenta_types::{ArtifactKind as JobArtifactKind, EMBEDDING_LEN, Job, JobResult, SlotName};
use serde_json::Value;

use super::html::escape;
use super::video::{FaceBox, participant_colour};
use super::{Entry, Verdict};

/// A job's heatmaps that can be downloaded: their index in `artifacts`
/// and their URL.
pub(crate) fn heatmaps(job: &Job) -> impl Iterator<Item = (usize, &str)> {
    job.artifacts.iter().enumerate().filter_map(|(i, a)| {
        match (&a.kind, a.download_url.as_deref()) {
            (Some(JobArtifactKind::Heatmap), Some(url)) => Some((i, url)),
            _ => None,
        }
    })
}

/// The faces a job's result found that have a box, numbered as listed.
pub(crate) fn faces(job: &Job) -> Vec<(u32, FaceBox)> {
    job.result
        .as_ref()
        .map(JobResult::faces)
        .unwrap_or_default()
        .iter()
        .zip(0u32..)
        .filter_map(|(face, n)| face.bounding_box.map(|b| (n, b)))
        .collect()
}

/// `text` with its first letter upper case.
pub(crate) fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_uppercase().chain(chars).collect()
    })
}

fn yes_no(value: Option<bool>) -> String {
    match value {
        Some(true) => "yes".into(),
        Some(false) => "no".into(),
        None => "- (not in the result)".into(),
    }
}

fn number(value: Option<f64>) -> String {
    value.map_or_else(|| "- (not in the result)".into(), |v| format!("{v:.3}"))
}

/// An embedding in one line: its length (against the 512 expected), its
/// norm and range, and its first numbers; never the whole vector.
pub(crate) fn embedding_summary(embedding: &[f64]) -> String {
    if embedding.is_empty() {
        return "empty".into();
    }
    let norm = embedding.iter().map(|x| x * x).sum::<f64>().sqrt();
    let (low, high) = embedding
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), x| {
            (lo.min(*x), hi.max(*x))
        });
    let first: Vec<String> = embedding
        .iter()
        .take(4)
        .map(|x| format!("{x:.4}"))
        .collect();
    let length = match embedding.len() {
        EMBEDDING_LEN => format!("{EMBEDDING_LEN} numbers"),
        n => format!("{n} numbers ({EMBEDDING_LEN} expected)"),
    };
    format!(
        "{length}, norm {norm:.3}, from {low:.4} to {high:.4}; first {} …",
        first.join(", ")
    )
}

/// A result field the task type's table names, as a row: its label and
/// value.
fn result_field(result: &JobResult, field: &str) -> (String, String) {
    match field {
        "isAiGenerated" => ("AI-generated".into(), yes_no(result.is_ai_generated)),
        "isDeepFake" => ("Deepfake".into(), yes_no(result.is_deep_fake)),
        "isLiveness" => ("Live person".into(), yes_no(result.is_liveness)),
        "isSimilar" => (
            "Same person as the reference".into(),
            yes_no(result.is_similar),
        ),
        "similarityScore" => ("Similarity score".into(), number(result.similarity_score)),
        "confidence" => ("Confidence".into(), number(result.confidence)),
        "embedding" => (
            "Embedding".into(),
            result
                .embedding
                .as_deref()
                .map_or_else(|| "- (not in the result)".into(), embedding_summary),
        ),
        "identityDetails" => (
            "Faces".into(),
            match result.identity_details.as_ref().map(|d| d.faces.len()) {
                None => "- (not in the result)".into(),
                Some(1) => "1 (outlined on the picture, listed below)".into(),
                Some(n) => format!("{n} (outlined on the picture, listed below)"),
            },
        ),
        other => (
            other.to_owned(),
            result
                .extra
                .get(other)
                .map_or_else(|| "- (not in the result)".into(), short_json),
        ),
    }
}

/// At most this many characters of a result field the report does not
/// know, as JSON.
const SHORT_JSON: usize = 200;

fn short_json(value: &Value) -> String {
    let text = value.to_string();
    match text.char_indices().nth(SHORT_JSON) {
        Some((cut, _)) => format!("{} … ({} characters)", &text[..cut], text.chars().count()),
        None => text,
    }
}

/// The typed fields a result holds, for a task type the table lacks.
const TYPED_FIELDS: [&str; 8] = [
    "isAiGenerated",
    "isDeepFake",
    "isLiveness",
    "isSimilar",
    "similarityScore",
    "confidence",
    "embedding",
    "identityDetails",
];

/// A job's facts, as the `<dl>`'s rows: the file and reference, the kind,
/// the task type, the job, its status and verdict, what its result holds
/// (the fields the task type's table names, then any other the result
/// has), its artifacts and time.
pub(crate) fn write_facts(
    out: &mut impl Write,
    entry: &Entry,
    job: &Job,
    verdict: Verdict,
) -> io::Result<()> {
    let dash = || "-".to_owned();
    let mut facts: Vec<(String, String)> = Vec::new();
    if let Some(file) = &entry.file {
        facts.push(("File".into(), file.display().to_string()));
    }
    let reference_slot = job
        .inputs
        .iter()
        .find(|s| s.slot_name == SlotName::Reference);
    match (&entry.reference, reference_slot) {
        (Some(path), _) => facts.push(("Reference".into(), path.display().to_string())),
        (None, Some(slot)) => facts.push((
            "Reference".into(),
            slot.file_name.clone().unwrap_or_else(dash),
        )),
        (None, None) => {}
    }
    let task = job.task_type().and_then(|t| t.info());
    facts.extend([
        ("Kind".into(), entry.kind.clone().unwrap_or_else(dash)),
        ("Task".into(), entry.model.clone().unwrap_or_else(dash)),
        ("Job".into(), job.id.to_string()),
        ("Status".into(), entry.status.clone()),
        (
            "Verdict".into(),
            match (verdict, task.and_then(|t| t.verdict)) {
                (Verdict::NoVerdict, None) => "none (this task type gives no verdict)".into(),
                (Verdict::Real | Verdict::Fake, Some(rule)) => {
                    format!("{} (from {})", verdict.as_str(), rule.field)
                }
                _ => verdict.as_str().to_owned(),
            },
        ),
    ]);
    if let Some(result) = &job.result {
        let named: Vec<&str> = match task {
            Some(task) => task.result_fields.to_vec(),
            None => TYPED_FIELDS.to_vec(),
        };
        for field in &named {
            facts.push(result_field(result, field));
        }
        // What the table does not name: the typed fields present, then the
        // rest as sent (shortened).
        for field in TYPED_FIELDS.iter().filter(|f| !named.contains(f)) {
            let (label, value) = result_field(result, field);
            if !value.starts_with('-') {
                facts.push((label, value));
            }
        }
        for (key, value) in &result.extra {
            if !named.contains(&key.as_str()) {
                facts.push((key.clone(), short_json(value)));
            }
        }
    }
    if !job.artifacts.is_empty() {
        let kinds: Vec<String> = job
            .artifacts
            .iter()
            .map(|a| {
                a.kind
                    .as_ref()
                    .map_or_else(|| "unknown".into(), |k| k.to_string())
            })
            .collect();
        facts.push(("Artifacts".into(), kinds.join(", ")));
    }
    facts.push((
        "Processing time".into(),
        entry.elapsed.map_or_else(
            || "not measured (read from the job, not waited for here)".to_owned(),
            |d| format!("{:.1} s", d.as_secs_f64()),
        ),
    ));
    for (name, value) in facts {
        writeln!(out, "<dt>{}</dt><dd>{}</dd>", escape(&name), escape(&value))?;
    }
    Ok(())
}

/// `#rrggbb` of a face's (a participant's) colour.
fn colour(face: u32) -> String {
    let [r, g, b] = participant_colour(face);
    format!("#{r:02x}{g:02x}{b:02x}")
}

/// The faces' boxes over an image of `size` (width, height) in pixels, as
/// outlined boxes placed in percent of the picture (drawn without a
/// script); returns how many were drawn.
pub(crate) fn write_face_boxes(
    out: &mut impl Write,
    faces: &[(u32, FaceBox)],
    (width, height): (u32, u32),
) -> io::Result<usize> {
    if width == 0 || height == 0 {
        return Ok(0);
    }
    let (w, h) = (f64::from(width), f64::from(height));
    let percent = |v: f64, of: f64| (100.0 * v / of).clamp(0.0, 100.0);
    for (n, [x0, y0, x1, y1]) in faces {
        let (left, top) = (percent(*x0, w), percent(*y0, h));
        let (right, bottom) = (percent(*x1, w), percent(*y1, h));
        let colour = colour(*n);
        write!(
            out,
            "<div class=\"box\" data-face=\"{n}\" style=\"left:{left:.4}%;top:{top:.4}%;\
             width:{:.4}%;height:{:.4}%;border-color:{colour}\">\
             <span style=\"background:{colour}\">face {n}</span></div>",
            (right - left).max(0.0),
            (bottom - top).max(0.0),
        )?;
    }
    Ok(faces.len())
}

/// The faces found, as a table (what a screen reader reads, and the page
/// without its pictures).
pub(crate) fn write_face_table(out: &mut impl Write, job: &Job) -> io::Result<()> {
    let faces = job
        .result
        .as_ref()
        .map(JobResult::faces)
        .unwrap_or_default();
    if faces.is_empty() {
        return Ok(());
    }
    writeln!(
        out,
        "<table class=\"faces\"><caption>Faces found ({})</caption>\n\
         <tr><th scope=\"col\">face</th><th scope=\"col\">confidence</th><th scope=\"col\">xmin</th>\
         <th scope=\"col\">ymin</th><th scope=\"col\">xmax</th><th scope=\"col\">ymax</th></tr>",
        faces.len()
    )?;
    for (n, face) in faces.iter().enumerate() {
        let confidence = face
            .confidence
            .map_or_else(|| "-".to_owned(), |c| format!("{c:.3}"));
        let cells = face.bounding_box.map_or_else(
            || "<td colspan=\"4\">no box</td>".to_owned(),
            |b| {
                b.iter()
                    .map(|v| format!("<td>{v}</td>"))
                    .collect::<String>()
            },
        );
        writeln!(out, "<tr><td>{n}</td><td>{confidence}</td>{cells}</tr>")?;
    }
    writeln!(out, "</table>")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_embedding_is_summarized_never_dumped() {
        let mut e = vec![0.0; EMBEDDING_LEN];
        e[0] = 0.6;
        e[1] = -0.8;
        let line = embedding_summary(&e);
        assert_eq!(
            line,
            "512 numbers, norm 1.000, from -0.8000 to 0.6000; first 0.6000, -0.8000, 0.0000, 0.0000 …"
        );
        assert!(embedding_summary(&[1.0]).contains("1 numbers (512 expected)"));
        assert_eq!(embedding_summary(&[]), "empty");
    }

    #[test]
    fn a_long_unknown_field_is_shortened() {
        let long = Value::String("x".repeat(500));
        let shown = short_json(&long);
        assert!(shown.ends_with("… (502 characters)"), "{shown}");
        assert_eq!(short_json(&serde_json::json!([1, 2])), "[1,2]");
    }
}
