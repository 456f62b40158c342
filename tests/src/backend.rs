//! [`Backend`]: the operations both backends offer, blocking, so a test
//! body is written once and instantiated for each.

use std::path::Path;

use authenta_proto::types::{
    CreateMediaRequest, CreatedMedia, ListQuery, Media, MediaId, MediaList, ResultDocument,
};
use authenta_proto::{
    Config, Credentials, Failure, PollPolicy, RetryPolicy, UploadOptions, UploadReceipt,
    UploadTarget, Uploaded,
};

/// A backend's error: proto's [`Failure`] over its transport's error.
pub type BackendError<B> = Failure<<B as Backend>::Transport>;

type Outcome<T, B> = Result<T, BackendError<B>>;

/// What a client is built from: where, who, and the policies.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The API base URL (an emulator's).
    pub base_url: String,
    /// The key.
    pub credentials: Credentials,
    /// When to retry.
    pub retry: RetryPolicy,
    /// How `wait` polls.
    pub poll: PollPolicy,
}

/// One backend's `Client`, blocking: the same method names, taking what
/// both accept (a path, bytes for the reader or stream upload).
pub trait Backend: Sized {
    /// The HTTP client's error.
    type Transport: std::error::Error + Send + Sync + 'static;

    /// The backend's crate, for messages.
    const NAME: &'static str;

    /// A client built with the backend's builder.
    fn connect(settings: &Settings) -> Outcome<Self, Self>;
    /// The `Debug` of the backend's builder, configured from `settings`.
    fn builder_debug(settings: &Settings) -> String;
    /// The `Debug` of the backend's client.
    fn client_debug(&self) -> String;
    /// The client's configuration.
    fn config(&self) -> &Config;

    /// `Client::create`.
    fn create(&self, request: CreateMediaRequest) -> Outcome<CreatedMedia, Self>;
    /// `Client::get`.
    fn get(&self, mid: &MediaId) -> Outcome<Media, Self>;
    /// `Client::list`.
    fn list(&self, query: ListQuery) -> Outcome<MediaList, Self>;
    /// `Client::list_all`, drained.
    fn list_all(&self) -> Vec<Outcome<Media, Self>>;
    /// `Client::delete`.
    fn delete(&self, mid: &MediaId) -> Outcome<(), Self>;
    /// `Client::upload` (a path).
    fn upload(&self, path: &Path, options: &UploadOptions) -> Outcome<Uploaded, Self>;
    /// `upload_reader` (ureq) or `upload_stream` (reqwest) of `bytes`, in
    /// several pieces.
    fn upload_reader(&self, bytes: Vec<u8>, options: &UploadOptions) -> Outcome<Uploaded, Self>;
    /// `Client::upload_to` (a path), without progress.
    fn upload_to(&self, target: &UploadTarget, path: &Path) -> Outcome<UploadReceipt, Self>;
    /// `Client::wait`.
    fn wait(&self, mid: &MediaId) -> Outcome<Media, Self>;
    /// `Client::wait_with`.
    fn wait_with(&self, mid: &MediaId, policy: PollPolicy) -> Outcome<Media, Self>;
    /// `Client::process` (a path).
    fn process(&self, path: &Path, options: &UploadOptions) -> Outcome<Media, Self>;
    /// `Client::result`.
    fn result(&self, media: &Media) -> Outcome<Option<ResultDocument>, Self>;
    /// `Client::download_heatmap` to a file.
    fn download_heatmap(&self, media: &Media, path: &Path) -> Outcome<Option<u64>, Self>;
}

/// The pieces a reader or stream upload is cut into: more than one, so the
/// backends join them.
const PIECES: usize = 3;

fn pieces(bytes: Vec<u8>) -> Vec<bytes::Bytes> {
    let bytes = bytes::Bytes::from(bytes);
    let size = bytes.len().div_ceil(PIECES).max(1);
    (0..bytes.len())
        .step_by(size)
        .map(|at| bytes.slice(at..(at + size).min(bytes.len())))
        .collect()
}

impl Backend for authenta_ureq::Client {
    type Transport = authenta_ureq::ureq::Error;

    const NAME: &'static str = "authenta-ureq";

    fn connect(settings: &Settings) -> Outcome<Self, Self> {
        ureq_builder(settings).build()
    }

    fn builder_debug(settings: &Settings) -> String {
        format!("{:?}", ureq_builder(settings))
    }

    fn client_debug(&self) -> String {
        format!("{self:?}")
    }

    fn config(&self) -> &Config {
        authenta_ureq::Client::config(self)
    }

    fn create(&self, request: CreateMediaRequest) -> Outcome<CreatedMedia, Self> {
        authenta_ureq::Client::create(self, request)
    }

    fn get(&self, mid: &MediaId) -> Outcome<Media, Self> {
        authenta_ureq::Client::get(self, mid)
    }

    fn list(&self, query: ListQuery) -> Outcome<MediaList, Self> {
        authenta_ureq::Client::list(self, query)
    }

    fn list_all(&self) -> Vec<Outcome<Media, Self>> {
        authenta_ureq::Client::list_all(self).collect()
    }

    fn delete(&self, mid: &MediaId) -> Outcome<(), Self> {
        authenta_ureq::Client::delete(self, mid)
    }

    fn upload(&self, path: &Path, options: &UploadOptions) -> Outcome<Uploaded, Self> {
        authenta_ureq::Client::upload(self, path, options)
    }

    fn upload_reader(&self, bytes: Vec<u8>, options: &UploadOptions) -> Outcome<Uploaded, Self> {
        let size = bytes.len() as u64;
        let chained = pieces(bytes).into_iter().map(std::io::Cursor::new).fold(
            Box::new(std::io::empty()) as Box<dyn std::io::Read + Send>,
            |r, p| Box::new(std::io::Read::chain(r, p)),
        );
        authenta_ureq::Client::upload_reader(self, chained, size, options)
    }

    fn upload_to(&self, target: &UploadTarget, path: &Path) -> Outcome<UploadReceipt, Self> {
        authenta_ureq::Client::upload_to(self, target, path, None)
    }

    fn wait(&self, mid: &MediaId) -> Outcome<Media, Self> {
        authenta_ureq::Client::wait(self, mid)
    }

    fn wait_with(&self, mid: &MediaId, policy: PollPolicy) -> Outcome<Media, Self> {
        authenta_ureq::Client::wait_with(self, mid, policy)
    }

    fn process(&self, path: &Path, options: &UploadOptions) -> Outcome<Media, Self> {
        authenta_ureq::Client::process(self, path, options)
    }

    fn result(&self, media: &Media) -> Outcome<Option<ResultDocument>, Self> {
        authenta_ureq::Client::result(self, media)
    }

    fn download_heatmap(&self, media: &Media, path: &Path) -> Outcome<Option<u64>, Self> {
        authenta_ureq::Client::download_heatmap(self, media, path)
    }
}

fn ureq_builder(settings: &Settings) -> authenta_ureq::ClientBuilder {
    authenta_ureq::Client::builder()
        .credentials(settings.credentials.clone())
        .base_url(&settings.base_url)
        .retry_policy(settings.retry)
        .poll_policy(settings.poll)
}

fn reqwest_builder(settings: &Settings) -> authenta_reqwest::ClientBuilder {
    authenta_reqwest::Client::builder()
        .credentials(settings.credentials.clone())
        .base_url(&settings.base_url)
        .retry_policy(settings.retry)
        .poll_policy(settings.poll)
}

/// The async client, driven to completion on its own single-threaded
/// tokio runtime.
pub struct Reqwest {
    runtime: tokio::runtime::Runtime,
    client: authenta_reqwest::Client,
}

impl Reqwest {
    /// The async client.
    pub fn client(&self) -> &authenta_reqwest::Client {
        &self.client
    }

    fn run<F: Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }
}

impl Backend for Reqwest {
    type Transport = authenta_reqwest::reqwest::Error;

    const NAME: &'static str = "authenta-reqwest";

    fn connect(settings: &Settings) -> Outcome<Self, Self> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime");
        let client = {
            let _entered = runtime.enter();
            reqwest_builder(settings).build()?
        };
        Ok(Reqwest { runtime, client })
    }

    fn builder_debug(settings: &Settings) -> String {
        format!("{:?}", reqwest_builder(settings))
    }

    fn client_debug(&self) -> String {
        format!("{:?}", self.client)
    }

    fn config(&self) -> &Config {
        self.client.config()
    }

    fn create(&self, request: CreateMediaRequest) -> Outcome<CreatedMedia, Self> {
        self.run(self.client.create(request))
    }

    fn get(&self, mid: &MediaId) -> Outcome<Media, Self> {
        self.run(self.client.get(mid))
    }

    fn list(&self, query: ListQuery) -> Outcome<MediaList, Self> {
        self.run(self.client.list(query))
    }

    fn list_all(&self) -> Vec<Outcome<Media, Self>> {
        use futures_util::StreamExt as _;
        self.run(self.client.list_all().collect())
    }

    fn delete(&self, mid: &MediaId) -> Outcome<(), Self> {
        self.run(self.client.delete(mid))
    }

    fn upload(&self, path: &Path, options: &UploadOptions) -> Outcome<Uploaded, Self> {
        self.run(self.client.upload(path, options))
    }

    fn upload_reader(&self, bytes: Vec<u8>, options: &UploadOptions) -> Outcome<Uploaded, Self> {
        let size = bytes.len() as u64;
        let stream = futures_util::stream::iter(pieces(bytes).into_iter().map(Ok));
        self.run(self.client.upload_stream(Box::pin(stream), size, options))
    }

    fn upload_to(&self, target: &UploadTarget, path: &Path) -> Outcome<UploadReceipt, Self> {
        self.run(self.client.upload_to(target, path, None))
    }

    fn wait(&self, mid: &MediaId) -> Outcome<Media, Self> {
        self.run(self.client.wait(mid))
    }

    fn wait_with(&self, mid: &MediaId, policy: PollPolicy) -> Outcome<Media, Self> {
        self.run(self.client.wait_with(mid, policy))
    }

    fn process(&self, path: &Path, options: &UploadOptions) -> Outcome<Media, Self> {
        self.run(self.client.process(path, options))
    }

    fn result(&self, media: &Media) -> Outcome<Option<ResultDocument>, Self> {
        self.run(self.client.result(media))
    }

    fn download_heatmap(&self, media: &Media, path: &Path) -> Outcome<Option<u64>, Self> {
        self.run(self.client.download_heatmap(media, path))
    }
}

#[cfg(test)]
mod tests {
    use super::pieces;

    #[test]
    fn bytes_are_cut_into_pieces_that_join_up() {
        let bytes: Vec<u8> = (0..10).collect();
        let cut = pieces(bytes.clone());
        assert_eq!(cut.len(), 3);
        assert_eq!(cut.concat(), bytes);
        assert_eq!(pieces(vec![7]).concat(), [7]);
    }
}
