//! What goes to stdout: tables for people, one JSON object per line for
//! scripts. Notes and errors go to stderr.

use std::io::Write as _;

use authenta_reqwest::types::Media;
use authenta_reqwest::{Error, ErrorClass};
use serde::Serialize;
use serde_json::{Value, json};

/// Text from the server (or anything else) made safe for a terminal:
/// control characters (escape sequences, carriage returns, line breaks),
/// C1 controls and the bidirectional overrides are shown escaped (`\u{1b}`),
/// so a name or status cannot hide, rewrite or reorder what is printed.
/// `--json` output keeps strings exact (JSON escapes what it must).
pub fn terminal_safe(text: &str) -> String {
    terminal_text(text, false)
}

/// [`terminal_safe`], keeping line breaks (text of several lines).
fn terminal_text(text: &str, keep_newlines: bool) -> String {
    let unsafe_char = |c: char| {
        (c.is_control() && !(keep_newlines && c == '\n'))
            || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    };
    if !text.contains(unsafe_char) {
        return text.to_owned();
    }
    text.chars()
        .map(|c| {
            if unsafe_char(c) {
                c.escape_unicode().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// Writes a line to stdout, [`terminal_safe`] (its line breaks kept). A
/// reader that went away (`| head`) ends the output quietly; another
/// failure is reported once on stderr.
pub fn line(text: &str) {
    write_line(&terminal_text(text, true));
}

fn write_line(text: &str) {
    let mut out = std::io::stdout().lock();
    if let Err(e) = writeln!(out, "{text}")
        && e.kind() != std::io::ErrorKind::BrokenPipe
    {
        eprintln!("authenta: cannot write the output: {e}");
    }
}

/// Writes `value` as one line of JSON.
pub fn json_line(value: &impl Serialize) {
    write_line(&serde_json::to_string(value).expect("the output serializes"));
}

/// A table with aligned columns, the last one not padded.
pub struct Table {
    headers: &'static [&'static str],
    rows: Vec<Vec<String>>,
}

impl Table {
    /// An empty table with these column headers.
    pub fn new(headers: &'static [&'static str]) -> Table {
        Table {
            headers,
            rows: Vec::new(),
        }
    }

    /// Adds a row (as many cells as headers), each cell [`terminal_safe`].
    pub fn row(&mut self, cells: Vec<String>) {
        debug_assert_eq!(cells.len(), self.headers.len());
        self.rows
            .push(cells.iter().map(|cell| terminal_safe(cell)).collect());
    }

    /// The table as text, one line per row after the header line.
    pub fn render(&self) -> String {
        let width = |i: usize| {
            let cells = self.rows.iter().map(|row| row[i].chars().count());
            cells.chain([self.headers[i].len()]).max().unwrap_or(0)
        };
        let widths: Vec<usize> = (0..self.headers.len()).map(width).collect();
        let headers = self.headers.iter().map(|h| h.to_uppercase()).collect();
        let mut text = String::new();
        for row in std::iter::once(&headers).chain(&self.rows) {
            let mut cells = Vec::with_capacity(row.len());
            for (i, cell) in row.iter().enumerate() {
                let pad = widths[i].saturating_sub(cell.chars().count());
                let last = i + 1 == row.len();
                cells.push(if last {
                    cell.clone()
                } else {
                    format!("{cell}{}", " ".repeat(pad))
                });
            }
            text.push_str(cells.join("  ").trim_end());
            text.push('\n');
        }
        text
    }

    /// Prints the table to stdout.
    pub fn print(&self) {
        line(self.render().trim_end_matches('\n'));
    }
}

/// The verdict of a record: `fake`, `real`, or `-` before there is one.
pub fn verdict(media: &Media) -> &'static str {
    match media.fake {
        Some(true) => "fake",
        Some(false) => "real",
        None => "-",
    }
}

pub use authenta_report::figures;

/// When a record was created, RFC 3339.
pub fn created(media: &Media) -> String {
    media.created_at.to_string()
}

/// The columns of a record listing.
pub const MEDIA_COLUMNS: &[&str] = &[
    "mid", "name", "type", "model", "status", "verdict", "created", "detail",
];

/// A record as a row of [`MEDIA_COLUMNS`].
pub fn media_row(media: &Media) -> Vec<String> {
    vec![
        media.mid.to_string(),
        media.name.clone(),
        media.media_type.to_string(),
        media.model_type.to_string(),
        media.status.to_string(),
        verdict(media).to_owned(),
        created(media),
        figures(media),
    ]
}

/// Prints one record: JSON, or its fields one per line.
pub fn print_media(media: &Media, json: bool) {
    if json {
        return json_line(media);
    }
    let mut fields: Vec<(&str, String)> = MEDIA_COLUMNS
        .iter()
        .copied()
        .zip(media_row(media))
        .collect();
    if let Some(error) = media.extra.get("error") {
        fields.push(("error", compact(error)));
    }
    print_fields(&fields);
}

/// Prints `name value` pairs, the values aligned.
pub fn print_fields(fields: &[(&str, String)]) {
    let width = fields.iter().map(|(name, _)| name.len()).max().unwrap_or(0);
    for (name, value) in fields {
        line(&format!("{name:<width$}  {}", terminal_safe(value)));
    }
}

/// A JSON value on one line: strings without quotes.
pub fn compact(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The name of an error class in JSON output.
pub fn class_name(class: ErrorClass) -> &'static str {
    match class {
        ErrorClass::Config => "config",
        ErrorClass::Authentication => "authentication",
        ErrorClass::Permission => "permission",
        ErrorClass::Quota => "quota",
        ErrorClass::Credits => "credits",
        ErrorClass::InvalidInput => "invalid_input",
        ErrorClass::NotFound => "not_found",
        ErrorClass::Network => "network",
        ErrorClass::Server => "server",
        ErrorClass::Timeout => "timeout",
        ErrorClass::LocalIo => "local_io",
        ErrorClass::Interrupted => "interrupted",
        _ => "other",
    }
}

/// An error as a JSON object: class, code, HTTP status, mid, message and
/// the exit code it maps to.
pub fn error_json(error: &Error, message: &str) -> Value {
    json!({
        "class": class_name(error.class()),
        "code": error.code().map(|c| c.as_str()).or_else(|| error.s3_code()),
        "status": error.status().map(|s| s.as_u16()),
        "mid": error.mid(),
        "message": message,
        "exitCode": crate::exit::for_class(error.class()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_text_cannot_drive_the_terminal() {
        // A status that hides what follows, a name that sets the title and
        // clears the screen, one that reorders the line.
        let mut table = Table::new(&["mid", "name", "status"]);
        table.row(vec![
            "m1".into(),
            "x\u{1b}]0;owned\u{7}\u{1b}[2J\r\nfake".into(),
            "DONE\u{1b}[8m".into(),
        ]);
        table.row(vec![
            "m2".into(),
            "a\u{202e}gnp.exe".into(),
            "PROCESSED".into(),
        ]);
        let text = table.render();
        assert!(
            !text.contains('\u{1b}') && !text.contains('\r') && !text.contains('\u{202e}'),
            "{text:?}"
        );
        assert_eq!(text.lines().count(), 3, "one line per row: {text}");
        assert!(text.contains("DONE\\u{1b}[8m"), "{text}");
        assert!(text.contains("a\\u{202e}gnp.exe"), "{text}");
        assert_eq!(terminal_safe("plain – ünïcode"), "plain – ünïcode");
        // The JSON output keeps the string exact (JSON escapes it).
        let json = serde_json::to_string(&json!({"status": "DONE\u{1b}[8m"})).unwrap();
        assert_eq!(json, r#"{"status":"DONE\u001b[8m"}"#);
    }

    #[test]
    fn figures_say_what_the_server_sent() {
        let media = |extra: Value| -> Media {
            let mut v = json!({"mid": "692f406f9f68d4b70080bb80", "name": "x", "type": "Video",
                "status": "PROCESSED", "modelType": "DF-1", "createdAt": "2025-12-02T19:39:27Z"});
            v.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            serde_json::from_value(v).unwrap()
        };
        assert_eq!(figures(&media(json!({}))), "-");
        assert_eq!(
            figures(&media(json!({"confidence": 0.934}))),
            "confidence 0.93"
        );
        assert_eq!(
            figures(&media(json!({"faces": 2, "deepFakes": 1}))),
            "2 faces, 1 fake"
        );
        assert_eq!(figures(&media(json!({"faces": 1}))), "1 face");
    }

    #[test]
    fn tables_align_and_do_not_pad_the_last_column() {
        let mut table = Table::new(&["file", "status"]);
        table.row(vec!["a-long-name.png".into(), "PROCESSED".into()]);
        table.row(vec!["b.mp4".into(), "-".into()]);
        assert_eq!(
            table.render(),
            "FILE             STATUS\na-long-name.png  PROCESSED\nb.mp4            -\n"
        );
    }
}
