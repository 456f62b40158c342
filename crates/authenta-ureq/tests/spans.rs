//! The `tracing` spans of the client: each operation in a span, each
//! attempt in a child span with OpenTelemetry's HTTP client attribute names
//! and the project's own, and no secret or pre-signed query in any field.
//! A capturing subscriber (a `Layer` on the registry) records them.

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use authenta_emulator::{Fault, FaultAction, FaultBody};
use authenta_ureq::UploadOptions;
use authenta_ureq::types::ModelType;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing_subscriber::layer::{Context, SubscriberExt as _};
use tracing_subscriber::registry::LookupSpan;

const PIXEL: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/pixel.png");

/// One span as captured: its name, its parent's index, its fields.
#[derive(Clone, Debug)]
struct Captured {
    id: u64,
    name: &'static str,
    parent: Option<u64>,
    fields: BTreeMap<String, String>,
}

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<Captured>>>);

struct Fields<'a>(&'a mut BTreeMap<String, String>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
}

impl<S> tracing_subscriber::Layer<S> for Capture
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let parent = ctx
            .span(id)
            .and_then(|span| span.parent())
            .map(|p| p.id().into_u64());
        let mut fields = BTreeMap::new();
        attrs.record(&mut Fields(&mut fields));
        self.0.lock().unwrap().push(Captured {
            id: id.into_u64(),
            name: attrs.metadata().name(),
            parent,
            fields,
        });
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, _: Context<'_, S>) {
        let mut spans = self.0.lock().unwrap();
        // Ids are reused once a span closes: the latest one is this one.
        if let Some(span) = spans.iter_mut().rev().find(|s| s.id == id.into_u64()) {
            values.record(&mut Fields(&mut span.fields));
        }
    }
}

#[test]
fn a_retried_get_is_one_operation_span_with_an_attempt_span_per_try() {
    let (emu, key, client) = common::emulator_and_client(Duration::from_millis(20), "spans");

    let capture = Capture::default();
    let subscriber = tracing_subscriber::registry().with(capture.clone());
    let mid = tracing::subscriber::with_default(subscriber, || {
        let uploaded = client
            .upload(PIXEL, &UploadOptions::new(ModelType::Ac1))
            .unwrap();
        let mid = uploaded.created.media.mid;
        // One 503, then the answer: the get is retried once.
        let unavailable = FaultAction::Status {
            status: 503,
            body: FaultBody::Json,
            retry_after: None,
        };
        emu.inject_fault(Fault::new(format!("/api/media/{mid}"), unavailable).times(1))
            .unwrap();
        client.get(&mid).unwrap();
        mid
    });
    let spans = capture.0.lock().unwrap().clone();
    let field = |span: &Captured, name: &str| span.fields.get(name).cloned().unwrap_or_default();

    // The get: one operation span, two attempts under it.
    let get = spans
        .iter()
        .rposition(|s| s.name == "authenta.operation" && field(s, "authenta.operation") == "get")
        .expect("an operation span for the get");
    let operation = &spans[get];
    assert_eq!(field(operation, "authenta.mid"), mid.as_str());
    let attempts: Vec<&Captured> = spans[get..]
        .iter()
        .filter(|s| s.name == "authenta.attempt" && s.parent == Some(operation.id))
        .collect();
    assert_eq!(attempts.len(), 2, "{spans:#?}");
    for (n, attempt) in attempts.iter().enumerate() {
        assert_eq!(field(attempt, "http.request.method"), "GET");
        assert_eq!(field(attempt, "url.template"), "/media/{mid}");
        assert_eq!(field(attempt, "authenta.attempt"), (n + 1).to_string());
        assert_eq!(field(attempt, "authenta.mid"), mid.as_str());
        assert_eq!(field(attempt, "authenta.quota"), "query");
        assert_eq!(field(attempt, "otel.name"), "GET /media/{mid}");
    }
    assert_eq!(field(attempts[0], "http.response.status_code"), "503");
    assert_eq!(field(attempts[0], "error.type"), "503");
    assert_eq!(field(attempts[1], "http.response.status_code"), "200");
    assert!(
        !attempts[1].fields.contains_key("error.type"),
        "{:?}",
        attempts[1]
    );

    // The upload: its operation span learnt the mid; the create and the
    // PUT are its attempts, the PUT's template is not its URL.
    let upload = spans
        .iter()
        .find(|s| field(s, "authenta.operation") == "upload")
        .expect("an operation span for the upload");
    assert_eq!(field(upload, "authenta.mid"), mid.as_str());
    let children: Vec<String> = (spans.iter())
        .filter(|s| s.parent == Some(upload.id) && s.name == "authenta.attempt")
        .map(|s| field(s, "otel.name"))
        .collect();
    assert_eq!(children, ["POST /media", "PUT {uploadUrl}"], "{spans:#?}");

    // No secret, signature or pre-signed query anywhere.
    let text = format!("{spans:?}");
    for secret in [
        key.client_secret.as_str(),
        "X-Amz-Signature",
        "X-Amz-Credential",
        "?",
    ] {
        assert!(!text.contains(secret), "{secret:?} in {text}");
    }
}
