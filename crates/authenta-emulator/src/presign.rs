//! Pre-signed URLs for the emulator's own S3 endpoint: where objects live
//! (bucket, region, object names) and signing `PUT` and `GET` URLs for them
//! with `rusty-s3`.

use std::time::Duration;

use rusty_s3::{Bucket, Credentials, S3Action as _, UrlStyle};

/// The bucket every upload URL points into.
pub const BUCKET: &str = "authenta-storage";
/// The region upload URLs are signed for.
pub(crate) const REGION: &str = "us-east-1";
/// How long download URLs (`resultURL`, `heatmapURL`) stay valid.
pub(crate) const DOWNLOAD_URL_TTL: Duration = Duration::from_secs(3600);
/// The longest validity S3 allows a pre-signed URL (7 days).
pub const MAX_UPLOAD_URL_EXPIRY: Duration = Duration::from_secs(7 * 24 * 3600);

/// The object name of a record's upload.
pub(crate) const ORIGINAL: &str = "original.media";
/// The object name of a record's result document.
pub(crate) const RESULT: &str = "result.json";
/// The object name of an image record's heatmap.
pub(crate) const HEATMAP: &str = "heatmap.png";

/// The suffix of a job slot's object name (`original.media`).
pub(crate) const SLOT_SUFFIX: &str = ".media";

/// What an object key of this account addresses.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Object<'k> {
    /// Object `name` of media record `mid`.
    Media { mid: &'k str, name: &'k str },
    /// Object `name` of job `id`: a slot's upload or an artifact.
    Job { id: u64, name: &'k str },
}

/// Signs URLs for the emulator's own S3 endpoint.
pub(crate) struct Presigner {
    bucket: Bucket,
    credentials: Credentials,
    account_id: String,
}

impl Presigner {
    /// A presigner for the endpoint at `root` (`http://127.0.0.1:PORT`).
    pub fn new(
        root: &str,
        account_id: &str,
        access_key: &str,
        secret_key: &str,
    ) -> Result<Self, String> {
        let endpoint = root
            .parse()
            .map_err(|e| format!("bad endpoint {root}: {e}"))?;
        let bucket = Bucket::new(endpoint, UrlStyle::Path, BUCKET, REGION)
            .map_err(|e| format!("bad bucket: {e}"))?;
        Ok(Presigner {
            bucket,
            credentials: Credentials::new(access_key, secret_key),
            account_id: account_id.to_owned(),
        })
    }

    /// The object key of `name` under record `mid`.
    pub fn key(&self, mid: &str, name: &str) -> String {
        format!("users/{}/media/{mid}/{name}", self.account_id)
    }

    /// The object key of `name` under job `id`: a slot's upload is
    /// `<slot>.media`, an artifact its own name.
    pub fn job_key(&self, id: u64, name: &str) -> String {
        format!("users/{}/jobs/{id}/{name}", self.account_id)
    }

    /// A pre-signed `PUT` URL for a record's upload, with `content-type`
    /// signed. `backdate` signs it as if issued that long ago.
    pub fn upload_url(
        &self,
        mid: &str,
        content_type: &str,
        expires_in: Duration,
        signed_at: jiff::Timestamp,
    ) -> String {
        self.put_url(
            &self.key(mid, ORIGINAL),
            content_type,
            expires_in,
            signed_at,
        )
    }

    /// A pre-signed `PUT` URL for one input slot of job `id`, as
    /// [`Presigner::upload_url`].
    pub fn job_upload_url(
        &self,
        id: u64,
        slot: &str,
        content_type: &str,
        expires_in: Duration,
        signed_at: jiff::Timestamp,
    ) -> String {
        let key = self.job_key(id, &format!("{slot}{SLOT_SUFFIX}"));
        self.put_url(&key, content_type, expires_in, signed_at)
    }

    fn put_url(
        &self,
        key: &str,
        content_type: &str,
        expires_in: Duration,
        signed_at: jiff::Timestamp,
    ) -> String {
        let mut action =
            rusty_s3::actions::PutObject::new(&self.bucket, Some(&self.credentials), key);
        action.headers_mut().insert("content-type", content_type);
        action.sign_with_time(expires_in, &signed_at).to_string()
    }

    /// A pre-signed `GET` URL for a derived object of record `mid`, signed
    /// at `now`.
    pub fn download_url(&self, mid: &str, name: &str, now: jiff::Timestamp) -> String {
        self.get_url(&self.key(mid, name), now)
    }

    /// A pre-signed `GET` URL for artifact `name` of job `id`, signed at
    /// `now`.
    pub fn job_download_url(&self, id: u64, name: &str, now: jiff::Timestamp) -> String {
        self.get_url(&self.job_key(id, name), now)
    }

    fn get_url(&self, key: &str, now: jiff::Timestamp) -> String {
        rusty_s3::actions::GetObject::new(&self.bucket, Some(&self.credentials), key)
            .sign_with_time(DOWNLOAD_URL_TTL, &now)
            .to_string()
    }

    /// What `key` addresses, when it is one of this account's objects.
    pub fn parse_key<'k>(&self, key: &'k str) -> Option<Object<'k>> {
        let rest = key.strip_prefix("users/")?;
        let rest = rest.strip_prefix(self.account_id.as_str())?;
        if let Some(rest) = rest.strip_prefix("/media/") {
            let (mid, name) = rest.split_once('/')?;
            return Some(Object::Media { mid, name });
        }
        let (id, name) = rest.strip_prefix("/jobs/")?.split_once('/')?;
        // Only the canonical form of a number: one job, one key.
        let id = id.parse::<u64>().ok().filter(|n| n.to_string() == id)?;
        Some(Object::Job { id, name })
    }
}
