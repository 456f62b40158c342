//! What each tool does: the calls to the SDK, the ledger kept current, and
//! the answers (verdicts as JSON a model reads).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use authenta_reqwest::client::driver::nonblocking;
use authenta_reqwest::client::{AsyncDownloadSink, BatchEvent, BatchItem, BatchSettings};
use authenta_reqwest::proto::engine::flows::{Download, Observer};
use authenta_reqwest::proto::{
    engine::resume::Resume, options::Checkpoint, options::CheckpointFn, options::Saved,
};
use authenta_reqwest::types::{ListQuery, Media, MediaId, MediaStatus, ModelType, ResultDocument};
use authenta_reqwest::{Error, ErrorClass, PollPolicy, UploadOptions};
use base64::Engine as _;
use futures_util::StreamExt as _;
use rmcp::model::{CallToolResult, ContentBlock};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::time::Instant;

use super::files::Opened;
use super::{
    Inner, MAX_FILES, MAX_HEATMAP_BYTES, Progress, Refusal, error_json, lock, parse_model,
};
use crate::batch::Distinct;
use crate::ledger::{self, Claim, Identity, Ledger};
use authenta_report::document_verdict;

/// `check_media`'s arguments.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckArgs {
    paths: Vec<String>,
    model: Option<String>,
    wait_seconds: Option<f64>,
}

/// `get_result`'s arguments.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ResultArgs {
    mid: String,
    #[serde(default)]
    heatmap: bool,
    wait_seconds: Option<f64>,
}

/// `list_media`'s arguments.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListArgs {
    limit: Option<u32>,
    offset: Option<u64>,
}

/// `delete_media`'s arguments.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MidArgs {
    mid: String,
}

fn arguments<T: serde::de::DeserializeOwned>(tool: &str, value: Value) -> Result<T, Refusal> {
    serde_json::from_value(value).map_err(|e| {
        Refusal::new(format!(
            "{tool}: bad arguments: {e}; see the tool's input schema"
        ))
    })
}

/// A mid checked by proto (24 hex characters) before any request.
fn mid(text: &str) -> Result<MediaId, Refusal> {
    authenta_reqwest::proto::validate::check_mid(text).map_err(|e| {
        Refusal::new(format!(
            "{e}; give a record's mid as check_media or list_media answered it"
        ))
    })
}

/// A wait in seconds, within the server's maximum.
fn wait(inner: &Inner, seconds: Option<f64>, default: Duration) -> Result<Duration, Refusal> {
    let Some(seconds) = seconds else {
        return Ok(default);
    };
    let max = inner.max_wait.as_secs_f64();
    if !seconds.is_finite() || seconds < 0.0 || seconds > max {
        return Err(Refusal::new(format!(
            "wait_seconds must be from 0 to {max} (the server's maximum, --max-wait)"
        )));
    }
    Ok(Duration::from_secs_f64(seconds))
}

/// One distinct content and model of a `check_media` call.
struct Item {
    /// The files it stands for; the first is uploaded.
    files: Vec<Opened>,
    model: ModelType,
    sha256: String,
}

/// How one item went.
enum Outcome {
    /// Final: from the server now (`spent`), or known from the ledger.
    Done {
        media: Box<Media>,
        document: Option<ResultDocument>,
        known: bool,
    },
    /// Uploaded, still running when the wait ended.
    Running { mid: MediaId, status: MediaStatus },
    /// Failed: the error, as a tool reports it.
    Failed(Value),
}

/// `check_media`.
pub async fn check_media(
    inner: &Inner,
    arguments: Value,
    progress: &Progress,
) -> Result<CallToolResult, Refusal> {
    let started = Instant::now();
    let args: CheckArgs = self::arguments("check_media", arguments)?;
    if args.paths.is_empty() || args.paths.len() > MAX_FILES {
        return Err(Refusal::new(format!(
            "give from 1 to {MAX_FILES} paths (calls can be repeated for more)"
        )));
    }
    let model = args.model.as_deref().map(parse_model).transpose()?;
    let wait = wait(inner, args.wait_seconds, inner.wait)?;
    let deadline = started + wait;

    // Every file is opened, checked and hashed before any record is made.
    let items = {
        let (paths, model) = (args.paths.clone(), model.clone());
        let allowed = Arc::clone(&inner.allowed);
        tokio::task::spawn_blocking(move || prepare(&allowed, &paths, model.as_ref()))
            .await
            .map_err(|e| Refusal::new(format!("the files could not be checked: {e}")))?
    };
    let items = items.map_err(|errors| Refusal {
        value: json!({
            "error": {
                "message": format!("{}; nothing was uploaded", errors.join("; ")),
                "files": errors,
            }
        }),
    })?;

    let runs = items
        .iter()
        .map(|item| run_item(inner, item, deadline, progress));
    let outcomes = futures_util::future::join_all(runs).await;

    let mut files = Vec::new();
    let mut failed = 0;
    for (item, outcome) in items.iter().zip(&outcomes) {
        if matches!(outcome, Outcome::Failed(_)) {
            failed += 1;
        }
        for (i, file) in item.files.iter().enumerate() {
            let mut value = outcome_json(outcome, wait);
            value["path"] = json!(file.given);
            // The record's model when there is one (the server may run
            // another), else the one asked for.
            if value.get("model").is_none() {
                value["model"] = json!(item.model);
            }
            if i > 0 {
                value["sameBytesAs"] = json!(item.files[0].given);
            }
            files.push(value);
        }
    }
    let value = json!({ "files": files });
    Ok(match failed == outcomes.len() {
        true => CallToolResult::structured_error(value),
        false => CallToolResult::structured(value),
    })
}

/// Opens and checks every path, grouping the same bytes and model; every
/// problem when there is one.
fn prepare(
    allowed: &super::Allowed,
    paths: &[String],
    model: Option<&ModelType>,
) -> Result<Vec<Item>, Vec<String>> {
    let mut items: Distinct<(String, ModelType), Item> = Distinct::new();
    let mut errors = Vec::new();
    for given in paths {
        let checked = allowed.open(given).and_then(|opened| {
            opened
                .inspect(model)
                .map(|(_, model, sha)| (opened, model, sha))
        });
        match checked {
            Ok((opened, model, sha256)) => {
                let key = (sha256.clone(), model.clone());
                let start = || Item {
                    files: Vec::new(),
                    model,
                    sha256,
                };
                let (Ok(i) | Err(i)) = items.add(Some(key), start);
                items.get_mut(i).files.push(opened);
            }
            Err(e) => errors.push(e),
        }
    }
    match errors.is_empty() {
        true => Ok(items.into_items()),
        false => Err(errors),
    }
}

/// Runs one item through proto's batch pipeline (from where the ledger saw
/// it last): at most `--max-concurrency` uploads at once over all calls,
/// then a wait until `deadline`.
async fn run_item(inner: &Inner, item: &Item, deadline: Instant, progress: &Progress) -> Outcome {
    let file = &item.files[0];
    let ledger = inner.ledger.as_ref();
    let (resume, saving) = match ledger {
        Some(ledger) => {
            let identity = Identity {
                path: file.real.clone(),
                size: file.size(),
                sha256: item.sha256.clone(),
            };
            let key = ledger.key(&Ledger::account(&inner.client), &identity, &item.model);
            // Another process sharing the ledger may be checking the same
            // bytes: its outcome is awaited, not a second record made.
            let resume = loop {
                match ledger.claim(&key, false) {
                    Ok(Claim::Mine(resume)) => break resume,
                    Ok(Claim::Held) if Instant::now() < deadline => {
                        tokio::time::sleep(Duration::from_millis(250)).await;
                    }
                    Ok(Claim::Held) => {
                        return Outcome::Failed(json!({ "error": {
                            "message": "another authenta process sharing the ledger is checking \
                                        this file; ask again later for its verdict",
                        } }));
                    }
                    Err(e) => return Outcome::Failed(ledger_error(ledger, &e)),
                }
            };
            (resume, Some((ledger.checkpoint(&key, &identity), key)))
        }
        None => (Resume::New, None),
    };
    let (saving, claimed) = match saving {
        Some((save, key)) => (Some(save), Some(key)),
        None => (None, None),
    };
    let known = matches!(resume, Resume::Final(_));
    // Each step is checked against the file opened, then saved.
    let checkpoint: CheckpointFn = {
        let file = file.clone();
        Arc::new(move |point: Checkpoint<'_>| {
            file.verify()?;
            match &saving {
                Some(save) => save(point),
                None => Ok(Saved::Now),
            }
        })
    };
    let name = file.name();
    let mut options = UploadOptions::new(item.model.clone())
        .name(name.clone())
        .on_progress(upload_progress(progress.clone(), name.clone()));
    options.checkpoint = Some(checkpoint);
    let last: Arc<Mutex<Option<MediaStatus>>> = Arc::default();
    let observe: Observer = {
        let (last, ledger, progress, name) = (
            last.clone(),
            inner.ledger.clone(),
            progress.clone(),
            name.clone(),
        );
        let started = std::time::Instant::now();
        // Every poll is a notification (at most 20 s apart): a client that
        // extends its timeout on progress keeps waiting.
        Arc::new(move |media: &Media| {
            let mut last = lock(&last);
            let waited = started.elapsed().as_secs();
            match last.as_ref() == Some(&media.status) {
                true => progress.say(format!("{name}: still {}, {waited} s", media.status)),
                false => progress.say(format!("{name}: {}", media.status)),
            }
            *last = Some(media.status.clone());
            if let Some(ledger) = &ledger {
                let _ = ledger.seen(media);
            }
        })
    };
    let mut permit = match known {
        true => None,
        false => inner.uploads.clone().acquire_owned().await.ok(),
    };
    let policy = PollPolicy::default().with_max_wait(inner.max_wait + Duration::from_secs(60));
    let settings = BatchSettings::new(1, policy).observed(Some(observe));
    let batch_item = BatchItem::new((), file.upload_path(), options).resume(resume);
    let mut events = std::pin::pin!(
        inner
            .client
            .process_batch(std::iter::once(batch_item), settings)
    );
    let mut uploaded: Option<MediaId> = None;
    let result = loop {
        let event = match &uploaded {
            // Uploads are not cut short: the bound is on the wait.
            None => events.next().await,
            Some(mid) => match tokio::time::timeout_at(deadline, events.next()).await {
                Ok(event) => event,
                Err(_) => {
                    let status = lock(&last).clone().unwrap_or(MediaStatus::Uploaded);
                    // Its upload is saved: whoever asks next waits for it.
                    if let (Some(ledger), Some(key)) = (ledger, &claimed) {
                        let _ = ledger.release(key);
                    }
                    return Outcome::Running {
                        mid: mid.clone(),
                        status,
                    };
                }
            },
        };
        match event {
            Some(BatchEvent::Uploaded((), mid)) => {
                drop(permit.take());
                if !known {
                    progress.say(format!(
                        "{name}: uploaded as {mid}; waiting for the verdict"
                    ));
                }
                uploaded = Some(mid);
            }
            Some(BatchEvent::Finished((), result)) => break result,
            None => {
                return Outcome::Failed(
                    json!({ "error": { "message": "the upload ended without an answer; try again" } }),
                );
            }
        }
    };
    drop(permit);
    match result {
        Ok(media) => {
            if let Some(ledger) = ledger
                && !known
                // Written at once: another process may wait for it.
                && let Err(e) = (ledger.ended(claimed.as_ref(), Ok(&media))).and_then(|()| ledger.flush())
            {
                return Outcome::Failed(ledger_error(ledger, &e));
            }
            let document = match known || media.status != MediaStatus::Processed {
                true => None,
                false => inner.client.result(&media).await.ok().flatten(),
            };
            Outcome::Done {
                media: Box::new(media),
                document,
                known,
            }
        }
        Err(e) => {
            // A record deleted meanwhile is forgotten (the next call
            // creates it anew), the claim given up: each write tried,
            // whatever the one before did.
            if let Some(ledger) = ledger {
                for step in ledger::end_steps::<Media>(claimed.as_ref(), Err(&e)) {
                    let _ = ledger.end_step(step);
                }
            }
            Outcome::Failed(json!({ "mid": e.mid(), "error": error_json(&e) }))
        }
    }
}

/// The upload's progress callback: a message at each tenth of the file.
fn upload_progress(progress: Progress, name: String) -> impl Fn(u64, u64) + Send + Sync + 'static {
    let said = AtomicU64::new(u64::MAX);
    move |sent, total| {
        let tenth = match total {
            0 => 10,
            total => sent.saturating_mul(10) / total,
        };
        if said.swap(tenth, Ordering::Relaxed) != tenth {
            progress.say(format!("{name}: uploading, {sent} of {total} bytes"));
        }
    }
}

fn ledger_error(ledger: &Ledger, e: &std::io::Error) -> Value {
    json!({ "error": {
        "class": "local_io",
        "message": format!("cannot write the ledger {}: {e}", ledger.location()),
        "hint": "check the ledger's disk and permissions, or restart the server with --ledger PATH",
    }})
}

/// One item's answer.
fn outcome_json(outcome: &Outcome, wait: Duration) -> Value {
    match outcome {
        Outcome::Done {
            media,
            document,
            known,
        } => {
            let mut value = verdict_json(media, document.as_ref());
            if *known {
                value["known"] = json!(true);
                value["note"] = json!(
                    "checked before: the known verdict, nothing spent (get_result reads the score and details, one query)"
                );
            }
            value
        }
        Outcome::Running { mid, status } => json!({
            "mid": mid,
            "status": status,
            "running": true,
            "advice": format!(
                "still running after {} s: call get_result with mid {mid} later (one query; no credit is spent again)",
                wait.as_secs()
            ),
        }),
        Outcome::Failed(value) => value.clone(),
    }
}

/// A record's status and verdict: fake or real, the score, and for video
/// the faces and fake faces (the record's own counts when it carries them,
/// else its participants).
fn verdict_json(media: &Media, document: Option<&ResultDocument>) -> Value {
    let (doc_fake, doc_score) = document.map_or((None, None), document_verdict);
    let fake = match media.status {
        MediaStatus::Processed => doc_fake.or(media.fake),
        _ => None,
    };
    let mut value = json!({
        "mid": media.mid,
        "name": media.name,
        "model": media.model_type,
        "status": media.status,
        "verdict": fake.map(|fake| if fake { "fake" } else { "real" }),
    });
    let score = doc_score.or_else(|| media.extra.get("confidence").and_then(Value::as_f64));
    if let Some(score) = score {
        value["score"] = json!(score);
    }
    let participants = media.participants.as_deref().unwrap_or_default();
    let faces = media
        .extra
        .get("faces")
        .and_then(Value::as_u64)
        .or((!participants.is_empty()).then_some(participants.len() as u64));
    if let Some(faces) = faces {
        value["faces"] = json!(faces);
    }
    let fake_faces = media
        .extra
        .get("deepFakes")
        .and_then(Value::as_u64)
        .or_else(|| {
            let known: Vec<bool> = (participants.iter())
                .filter_map(|p| p.extra.get("fake").and_then(Value::as_bool))
                .collect();
            (!known.is_empty()).then(|| known.iter().filter(|fake| **fake).count() as u64)
        });
    if let Some(fake_faces) = fake_faces {
        value["fakeFaces"] = json!(fake_faces);
    }
    if let Some(error) = media.extra.get("error") {
        value["error"] = error.clone();
    }
    value
}

/// `get_result`.
pub async fn get_result(inner: &Inner, arguments: Value) -> Result<CallToolResult, Refusal> {
    let args: ResultArgs = self::arguments("get_result", arguments)?;
    let mid = mid(&args.mid)?;
    let wait = wait(inner, args.wait_seconds, Duration::ZERO)?;
    let client = &inner.client;
    let mut media = client.get(&mid).await.map_err(|e| forget(inner, e))?;
    if !media.status.is_final() && !wait.is_zero() {
        match client
            .wait_with(&mid, PollPolicy::default().with_max_wait(wait))
            .await
        {
            Ok(done) => media = done,
            Err(e) if e.class() == ErrorClass::Timeout => {}
            Err(e) => return Err(forget(inner, e)),
        }
    }
    if let Some(ledger) = &inner.ledger {
        let _ = match media.status.is_final() {
            true => ledger.finished(&media).and_then(|()| ledger.flush()),
            false => ledger.seen(&media),
        };
    }
    if !media.status.is_final() {
        let mut value = verdict_json(&media, None);
        value["running"] = json!(true);
        value["advice"] = json!(format!(
            "{} is {}: call get_result again later (wait_seconds waits in the same call)",
            media.mid, media.status
        ));
        return Ok(CallToolResult::structured(value));
    }
    let document = match media.status {
        MediaStatus::Processed => client.result(&media).await.map_err(|e| Refusal::sdk(&e))?,
        _ => None,
    };
    let mut value = verdict_json(&media, document.as_ref());
    if let Some(document) = &document {
        value["result"] = json!(document);
    }
    let mut image = None;
    if args.heatmap {
        match heatmap(inner, &media).await {
            Ok(Some((bytes, mime))) => {
                value["heatmap"] = json!({ "bytes": bytes.len(), "mimeType": mime });
                let data = base64::engine::general_purpose::STANDARD.encode(&bytes);
                image = Some(ContentBlock::image(data, mime));
            }
            Ok(None) => {
                value["heatmap"] = json!(null);
                value["heatmapNote"] = json!(
                    "this record has no heatmap image: image models have one; a video's are per face"
                );
            }
            Err(note) => {
                value["heatmap"] = json!(null);
                value["heatmapNote"] = json!(note);
            }
        }
    }
    let mut result = CallToolResult::structured(value);
    result.content.extend(image);
    Ok(result)
}

/// An SDK error as a refusal; a record not found is dropped from the
/// ledger (deleted elsewhere: checking its file again makes a new one).
fn forget(inner: &Inner, e: Error) -> Refusal {
    if let (Some(ledger), Some(mid), ErrorClass::NotFound) = (&inner.ledger, e.mid(), e.class()) {
        let _ = ledger.forget_mid(mid.as_str());
    }
    Refusal::sdk(&e)
}

/// The record's heatmap in memory, at most [`MAX_HEATMAP_BYTES`]: `None`
/// when it has none, `Err` saying why it is not returned.
async fn heatmap(inner: &Inner, media: &Media) -> Result<Option<(Vec<u8>, &'static str)>, String> {
    if media.heatmap_url.is_none() {
        return Ok(None);
    }
    let client = &inner.client;
    let mut flow = Download::heatmap(media, *client.retry_policy());
    let mut sink = Capped::default();
    let mut io = nonblocking::Io {
        source: None,
        sink: Some(&mut sink),
        progress: None,
    };
    match client.generic().run(&mut flow, &mut io).await {
        Ok(Some(_)) => {}
        Ok(None) => return Ok(None),
        Err(_) if sink.over => {
            return Err(format!(
                "the heatmap is larger than {MAX_HEATMAP_BYTES} bytes: `authenta result {} --heatmap FILE` saves it",
                media.mid
            ));
        }
        Err(e) => {
            return Err(format!(
                "the heatmap could not be read: {}",
                crate::session::describe(&e)
            ));
        }
    }
    let mime = match sink.bytes.as_slice() {
        [0x89, b'P', b'N', b'G', ..] => "image/png",
        [0xff, 0xd8, 0xff, ..] => "image/jpeg",
        _ => return Err("the heatmap is not a PNG or JPEG image".into()),
    };
    Ok(Some((sink.bytes, mime)))
}

/// A download kept in memory, refused past [`MAX_HEATMAP_BYTES`].
#[derive(Default)]
struct Capped {
    bytes: Vec<u8>,
    over: bool,
}

#[async_trait::async_trait]
impl AsyncDownloadSink for Capped {
    async fn restart(&mut self) -> std::io::Result<()> {
        self.bytes.clear();
        Ok(())
    }

    async fn write_chunk(&mut self, chunk: &[u8]) -> std::io::Result<()> {
        if self.bytes.len() + chunk.len() > MAX_HEATMAP_BYTES {
            self.over = true;
            return Err(std::io::Error::other("the heatmap is larger than the cap"));
        }
        self.bytes.extend_from_slice(chunk);
        Ok(())
    }
}

/// `list_media`.
pub async fn list_media(inner: &Inner, arguments: Value) -> Result<CallToolResult, Refusal> {
    let args: ListArgs = self::arguments("list_media", arguments)?;
    let query = ListQuery {
        limit: Some(args.limit.unwrap_or(20)),
        offset: args.offset,
    };
    let page = inner
        .client
        .list(query)
        .await
        .map_err(|e| Refusal::sdk(&e))?;
    let records: Vec<Value> = page
        .data
        .iter()
        .map(|media| verdict_json(media, None))
        .collect();
    let next = page.offset + page.data.len() as u64;
    Ok(CallToolResult::structured(json!({
        "total": page.total,
        "offset": page.offset,
        "records": records,
        "next_offset": (next < page.total).then_some(next),
    })))
}

/// `delete_media`.
pub async fn delete_media(inner: &Inner, arguments: Value) -> Result<CallToolResult, Refusal> {
    let args: MidArgs = self::arguments("delete_media", arguments)?;
    let mid = mid(&args.mid)?;
    inner
        .client
        .delete(&mid)
        .await
        .map_err(|e| forget(inner, e))?;
    if let Some(ledger) = &inner.ledger {
        let _ = ledger.forget_mid(mid.as_str());
    }
    Ok(CallToolResult::structured(
        json!({ "mid": mid, "deleted": true }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PNG: &[u8] = include_bytes!("../../../../samples/test-pattern.png");
    const JPG: &[u8] = include_bytes!("../../../../samples/test-pattern.jpg");

    /// The same bytes at two paths make one item, uploaded once: its
    /// files in the order given, the first one uploaded.
    #[test]
    fn the_same_bytes_at_two_paths_make_one_item() {
        let dir = tempfile::tempdir().unwrap();
        let path = |name: &str| dir.path().join(name).display().to_string();
        for (name, bytes) in [("a.png", PNG), ("b.jpg", JPG), ("c.png", PNG)] {
            std::fs::write(dir.path().join(name), bytes).unwrap();
        }
        let allowed = super::super::Allowed::new(&[dir.path().to_path_buf()]).unwrap();
        let given = [path("a.png"), path("b.jpg"), path("c.png")];
        let Ok(items) = prepare(&allowed, &given, None) else {
            panic!("the files are readable media");
        };
        let files: Vec<Vec<&str>> = (items.iter())
            .map(|item| item.files.iter().map(|f| f.given.as_str()).collect())
            .collect();
        assert_eq!(files, [vec![&given[0], &given[2]], vec![&given[1]]]);
    }
}
