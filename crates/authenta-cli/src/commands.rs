//! The commands other than `process`: one record at a time, listings, and
//! the emulator.

use authenta_emulator::Emulator;
use authenta_reqwest::proto::validate::check_mid;
use authenta_reqwest::types::{ListQuery, MediaId, MediaStatus};
use authenta_reqwest::{PollPolicy, UploadOptions};
use futures_util::TryStreamExt as _;
use serde_json::json;

use crate::cli::{EmulatorArgs, Global, List, MidArg, ResultArgs, Upload, Wait};
use crate::exit;
use crate::files;
use crate::output::{self, Table};
use crate::progress::Bars;
use crate::session::{CliError, Session, start_emulator};

/// Whether to draw progress: stderr is a terminal and the output is not JSON.
fn show_progress(global: &Global) -> bool {
    !global.json && std::io::IsTerminal::is_terminal(&std::io::stderr())
}

/// `upload FILE`: checks the file, creates its record, uploads it, and
/// prints the mid (or a JSON object).
pub async fn upload(global: &Global, args: &Upload) -> Result<u8, CliError> {
    let model = args.model.model.as_ref();
    let job = files::check(&args.path, model, false)
        .map_err(|e| CliError::Invalid(vec![files::Refusal::file(e, &args.path, model)]))?;
    if let Some(note) = files::mismatch_note(&job) {
        note.tell(global.json);
    }
    let session = Session::open(global).await?;
    let bar = Bars::new(show_progress(global)).upload(&job.file.name, job.file.size);
    let mut options = UploadOptions::new(job.model.clone()).on_progress(bar.on_bytes());
    if let Some(name) = &args.name {
        options = options.name(name.clone());
    }
    let uploaded = session.client.upload(&job.path, &options).await;
    bar.done();
    let uploaded = uploaded?;
    let media = &uploaded.created.media;
    if global.json {
        output::json_line(&json!({
            "file": job.path.display().to_string(),
            "mid": media.mid,
            "name": media.name,
            "model": media.model_type,
            "contentType": uploaded.target.content_type,
            "size": uploaded.target.size,
        }));
    } else {
        output::line(media.mid.as_str());
        eprintln!(
            "authenta: uploaded {} ({} bytes) for {} as {}; `authenta wait {}` waits for the verdict",
            job.path.display(),
            job.file.size,
            media.model_type,
            media.mid,
            media.mid
        );
    }
    Ok(exit::SUCCESS)
}

/// A mid from the command line, checked by proto before any request (and
/// before credentials are needed): a mistyped one spends nothing, exit 6.
fn checked_mid(text: &str) -> Result<MediaId, CliError> {
    check_mid(text).map_err(|e| CliError::Sdk(e.into()))
}

/// `get MID`.
pub async fn get(global: &Global, args: &MidArg) -> Result<u8, CliError> {
    let mid = checked_mid(&args.mid)?;
    let session = Session::open(global).await?;
    let media = session.client.get(&mid).await?;
    output::print_media(&media, global.json);
    Ok(exit::SUCCESS)
}

/// `delete MID`.
pub async fn delete(global: &Global, args: &MidArg) -> Result<u8, CliError> {
    let mid = checked_mid(&args.mid)?;
    let session = Session::open(global).await?;
    session.client.delete(&mid).await?;
    if global.json {
        output::json_line(&json!({ "mid": mid, "deleted": true }));
    } else {
        output::line(&format!("deleted {mid}"));
    }
    Ok(exit::SUCCESS)
}

/// `list [--all] [--limit N] [--offset N]`.
pub async fn list(global: &Global, args: &List) -> Result<u8, CliError> {
    let session = Session::open(global).await?;
    let mut table = Table::new(output::MEDIA_COLUMNS);
    let mut add = |media| match global.json {
        true => output::json_line(&media),
        false => table.row(output::media_row(&media)),
    };
    if args.all {
        let mut records = session.client.list_all();
        while let Some(media) = records.try_next().await? {
            add(media);
        }
    } else {
        let query = ListQuery {
            limit: args.limit,
            offset: args.offset,
        };
        let page = session.client.list(query).await?;
        let shown = page.data.len();
        page.data.into_iter().for_each(&mut add);
        if !global.json {
            eprintln!(
                "authenta: {shown} of {} records from offset {} (--all for every one)",
                page.total, page.offset
            );
        }
    }
    if !global.json {
        table.print();
    }
    Ok(exit::SUCCESS)
}

/// `wait MID [--timeout D]`: the record once final; exit 1 unless it is
/// `PROCESSED`.
pub async fn wait(global: &Global, args: &Wait) -> Result<u8, CliError> {
    let mid = checked_mid(&args.mid)?;
    let session = Session::open(global).await?;
    let bar = Bars::new(show_progress(global)).spinner(mid.as_str());
    let policy = PollPolicy::default().with_max_wait(args.timeout);
    let media = crate::process::wait(&session.client, &mid, policy, &bar).await;
    bar.done();
    let media = media?;
    output::print_media(&media, global.json);
    if media.status != MediaStatus::Processed {
        return Err(CliError::Unfinished(format!(
            "media {} ended {}",
            media.mid, media.status
        )));
    }
    Ok(exit::SUCCESS)
}

/// `result MID [--heatmap PATH]`: the verdict and the result document, and
/// the heatmap saved.
pub async fn result(global: &Global, args: &ResultArgs) -> Result<u8, CliError> {
    let mid = checked_mid(&args.mid)?;
    let session = Session::open(global).await?;
    let client = &session.client;
    let media = client.get(&mid).await?;
    if !media.status.is_final() {
        return Err(CliError::NotFinal(format!(
            "media {} is {}, not final: no result yet; `authenta wait {}` waits for it",
            media.mid, media.status, media.mid
        )));
    }
    let document = client.result(&media).await?;
    let heatmap = match &args.heatmap {
        Some(path) => Some((path, client.download_heatmap(&media, path).await?)),
        None => None,
    };
    if global.json {
        output::json_line(&json!({
            "mid": media.mid,
            "status": media.status,
            "fake": media.fake,
            "result": document,
            "heatmap": heatmap.as_ref().and_then(|(path, bytes)| {
                bytes.map(|bytes| json!({ "path": path.display().to_string(), "bytes": bytes }))
            }),
        }));
    } else {
        let mut fields = vec![
            ("mid", media.mid.to_string()),
            ("status", media.status.to_string()),
            ("verdict", output::verdict(&media).to_owned()),
        ];
        let figures = output::figures(&media);
        if figures != "-" {
            fields.push(("detail", figures));
        }
        if let Some(document) = &document {
            if let Some(score) = document.score {
                fields.push(("score", format!("{score:.3}")));
            }
            for (name, value) in &document.extra {
                if !value.is_object() && !value.is_array() {
                    fields.push((name.as_str(), output::compact(value)));
                }
            }
            for (participant, boxes) in document.bounding_boxes.iter().flatten() {
                let frames = boxes.bounding_box.len();
                fields.push((
                    "face",
                    format!("participant {participant}: boxes in {frames} frames"),
                ));
            }
        }
        if let Some((path, Some(bytes))) = &heatmap {
            fields.push((
                "heatmap",
                format!("saved to {} ({bytes} bytes)", path.display()),
            ));
        }
        output::print_fields(&fields);
    }
    if let Some((_, None)) = heatmap {
        return Err(CliError::Unfinished(format!(
            "media {} has no heatmap image (a video's heatmaps are per participant: see `authenta get {} --json`)",
            media.mid, media.mid
        )));
    }
    if let (Some(out), Some(original)) = (&args.overlay, &args.file) {
        let saved = heatmap.map(|(path, _)| path.as_path());
        let code =
            crate::report::save_overlay(client, &media, saved, original, out, args.opacity).await?;
        if code == exit::SUCCESS {
            if global.json {
                output::json_line(&json!({
                    "overlay": { "path": out.display().to_string(), "over": original.display().to_string() },
                }));
            } else {
                eprintln!(
                    "authenta: wrote the overlay {} (the heatmap over {}, opacity {})",
                    out.display(),
                    original.display(),
                    args.opacity
                );
            }
        }
        return Ok(code);
    }
    Ok(exit::SUCCESS)
}

/// `emulator`: runs an emulator until Ctrl-C; prints a key for it as
/// `export` lines (or JSON) on stdout.
pub async fn emulator(global: &Global, args: &EmulatorArgs) -> Result<u8, CliError> {
    let mut builder = Emulator::builder()
        .listen(args.listen)
        .processing_time(args.processing_time)
        .upload_url_expiry(args.upload_url_expiry)
        .auth(args.auth);
    if let Some(dir) = &args.data_dir {
        builder = builder.data_dir(dir);
    }
    if let Some(token) = &args.admin_token {
        builder = builder.admin_token(token);
    }
    if let Some(credits) = args.credits {
        builder = builder.credits(credits);
    }
    let (emulator, key) = start_emulator(builder).await?;
    if global.json {
        output::json_line(&json!({
            "baseUrl": emulator.base_url(),
            "controlUrl": emulator.control_url(),
            "apiKey": key.api_key,
            "clientId": key.client_id,
            "clientSecret": key.client_secret,
        }));
    } else {
        // The API key is exported; the older kind is shown commented out
        // (setting both kinds is an error).
        output::line(&format!("export AUTHENTA_BASE_URL={}", emulator.base_url()));
        output::line(&format!("export AUTHENTA_API_KEY={}", key.api_key));
        output::line(&format!(
            "# or the older kind instead of AUTHENTA_API_KEY: export AUTHENTA_CLIENT_ID={} AUTHENTA_CLIENT_SECRET={}",
            key.client_id, key.client_secret
        ));
    }
    eprintln!(
        "authenta: emulator running at {} (control surface {}); Ctrl-C stops it",
        emulator.base_url(),
        emulator.control_url()
    );
    tokio::signal::ctrl_c()
        .await
        .map_err(|e| CliError::Emulator(format!("cannot wait for Ctrl-C: {e}")))?;
    emulator.stopped().await;
    Ok(exit::SUCCESS)
}
