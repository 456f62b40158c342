//! The four tools as a client lists them: names, descriptions written for
//! a model choosing between them (with what each costs), input schemas and
//! annotations.

use std::sync::Arc;

use rmcp::model::{JsonObject, Tool, ToolAnnotations};
use serde_json::{Value, json};

/// What the server tells the client about itself at initialization.
pub const INSTRUCTIONS: &str = "Authenta detects deepfakes and manipulated media. \
Call check_media with local file paths to get a verdict (fake or real, with a score) for each \
file; it uploads each file once (one credit and one mutation per new file) and waits up to a \
bound. When it answers that a record is still running, call get_result with its mid later \
instead of checking the file again. list_media and get_result only read (one query each); \
delete_media deletes a record for good.";

const CHECK_MEDIA: &str = "Check local media files for deepfakes or manipulation and \
answer each file's verdict: fake or real, a score from 0 to 1 (above 0.5 means fake) and, for \
video, the faces found and how many are fake. Files must be under a folder the user allowed \
when starting the server; images (PNG, JPEG) and video (MP4, MOV, WebM) are taken, each \
checked before anything is sent. The model defaults to the file's kind (AC-1 for images, DF-1 \
for video). Cost per new file: one credit, one mutation (the record's creation) and a few \
queries while waiting. The same bytes with the same model are never paid twice: a file \
already checked answers its known verdict at no cost. The call waits up to wait_seconds \
(default 45) for verdicts; a file still running is answered with its mid and status: call \
get_result with that mid later (do not call check_media again for it, though doing so costs \
nothing more).";

const GET_RESULT: &str = "Read one record by its mid: its status and, once processed, the \
verdict (fake or real), score, faces and fake faces. Use it for a record check_media left \
running, or one list_media showed. With heatmap: true, also returns the heatmap image (image \
models) showing where manipulation was found. With wait_seconds, waits up to that long for a \
running record to finish. Cost: one query (a few more while waiting); no credit, nothing is \
changed.";

const LIST_MEDIA: &str = "List the account's records, newest first, a page at a time: each \
record's mid, name, model, status and verdict. Use offset to page on (next_offset in the \
answer). Cost: one query per page; no credit, nothing is changed.";

const DELETE_MEDIA: &str = "Delete a record and its stored media for good, by its mid. Only \
when the user asks for it: a deleted record's verdict cannot be read again, and checking the \
same file afterwards is paid again. Cost: one mutation; no credit.";

/// The tools.
pub fn list() -> Vec<Tool> {
    vec![
        Tool::new(
            "check_media",
            CHECK_MEDIA,
            schema(json!({
                "type": "object",
                "properties": {
                    "paths": {
                        "type": "array",
                        "items": { "type": "string" },
                        "minItems": 1,
                        "maxItems": super::MAX_FILES,
                        "description": "The files' paths, under a folder the user allowed: absolute, or relative to the server's working directory or to an allowed folder."
                    },
                    "model": {
                        "type": "string",
                        "description": "The model for every file, such as AC-1 (AI-generated image), FD-1 (image forgery), DF-1 (video faceswap); by default the file kind's documented model."
                    },
                    "wait_seconds": {
                        "type": "number",
                        "minimum": 0,
                        "description": "How long to wait for the verdicts before answering with the records still running (default 45; 0 answers as soon as the files are uploaded)."
                    }
                },
                "required": ["paths"],
                "additionalProperties": false
            })),
        )
        .with_title("Check media for deepfakes")
        .annotate(
            ToolAnnotations::with_title("Check media for deepfakes")
                .read_only(false)
                .destructive(false)
                .idempotent(true)
                .open_world(true),
        ),
        Tool::new(
            "get_result",
            GET_RESULT,
            schema(json!({
                "type": "object",
                "properties": {
                    "mid": mid_schema(),
                    "heatmap": {
                        "type": "boolean",
                        "description": "Also return the heatmap image, when the record has one (image models)."
                    },
                    "wait_seconds": {
                        "type": "number",
                        "minimum": 0,
                        "description": "Wait up to this long for a running record to finish (default 0: answer at once)."
                    }
                },
                "required": ["mid"],
                "additionalProperties": false
            })),
        )
        .with_title("Get a record's result")
        .annotate(
            ToolAnnotations::with_title("Get a record's result")
                .read_only(true)
                .open_world(true),
        ),
        Tool::new(
            "list_media",
            LIST_MEDIA,
            schema(json!({
                "type": "object",
                "properties": {
                    "limit": {
                        "type": "integer",
                        "minimum": 1,
                        "maximum": 100,
                        "description": "Records per page (default 20)."
                    },
                    "offset": {
                        "type": "integer",
                        "minimum": 0,
                        "description": "Records to skip (default 0)."
                    }
                },
                "additionalProperties": false
            })),
        )
        .with_title("List records")
        .annotate(
            ToolAnnotations::with_title("List records")
                .read_only(true)
                .open_world(true),
        ),
        Tool::new(
            "delete_media",
            DELETE_MEDIA,
            schema(json!({
                "type": "object",
                "properties": { "mid": mid_schema() },
                "required": ["mid"],
                "additionalProperties": false
            })),
        )
        .with_title("Delete a record")
        .annotate(
            ToolAnnotations::with_title("Delete a record")
                .read_only(false)
                .destructive(true)
                .idempotent(true)
                .open_world(true),
        ),
    ]
}

fn mid_schema() -> Value {
    json!({
        "type": "string",
        "pattern": "^[0-9a-f]{24}$",
        "description": "The record's id (24 hex characters), as check_media or list_media gave it."
    })
}

fn schema(value: Value) -> Arc<JsonObject> {
    match value {
        Value::Object(object) => Arc::new(object),
        _ => unreachable!("every schema here is an object"),
    }
}
