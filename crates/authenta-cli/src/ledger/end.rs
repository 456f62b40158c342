//! What the end of an item (a file's record, or a job) does to its ledger
//! entry: the one place that decides it, for `authenta process`, `authenta
//! jobs run` and the MCP server's `check_media`. Each caller keeps its own
//! error policy: [`Ledger::ended`] stops at the first write that fails, a
//! caller that goes on regardless makes each [`EndStep`] itself.

use std::io;

use authenta_reqwest::types::{Job, Media};
use authenta_reqwest::{Error, ErrorClass};

use super::{EntryKey, Ledger};

/// A final outcome an entry keeps: a record ([`Media`]) or a [`Job`].
pub trait Final {
    /// Saves `self` as the final outcome of the entry `key` (`None`: an
    /// item whose bytes were not identified), ending this process's claim.
    fn save(&self, ledger: &Ledger, key: Option<&EntryKey>) -> io::Result<()>;
    /// Drops the entry whose record or job the server no longer has
    /// (`gone` is the server's answer).
    fn forget(ledger: &Ledger, key: Option<&EntryKey>, gone: &Error) -> io::Result<()>;
}

/// A record is saved, and forgotten, by its id.
impl Final for Media {
    fn save(&self, ledger: &Ledger, _: Option<&EntryKey>) -> io::Result<()> {
        ledger.finished(self)
    }

    fn forget(ledger: &Ledger, _: Option<&EntryKey>, gone: &Error) -> io::Result<()> {
        match gone.mid() {
            Some(mid) => ledger.forget_mid(mid.as_str()).map(drop),
            None => Ok(()),
        }
    }
}

/// A job is saved, and forgotten, by its entry's key.
impl Final for Job {
    fn save(&self, ledger: &Ledger, key: Option<&EntryKey>) -> io::Result<()> {
        key.map_or(Ok(()), |key| ledger.job_finished(key, self))
    }

    fn forget(ledger: &Ledger, key: Option<&EntryKey>, _: &Error) -> io::Result<()> {
        key.map_or(Ok(()), |key| ledger.forget_job(key).map(drop))
    }
}

/// One write the end of an item makes to its ledger entry.
#[derive(Debug)]
pub enum EndStep<'a, T> {
    /// The final record or job saved (which ends the claim).
    Save(&'a T, Option<&'a EntryKey>),
    /// The entry forgotten: the server no longer has its record or job
    /// (deleted meanwhile), so the next run creates it anew.
    Forget(&'a Error, Option<&'a EntryKey>),
    /// The claim given up: another process may try the item again.
    Release(&'a EntryKey),
}

/// The writes, in order, that the end of an item makes to its entry `key`
/// (`None`: its bytes were not identified): `Ok` final, `Err` failed, not
/// final, or skipped.
pub fn end_steps<'a, T>(
    key: Option<&'a EntryKey>,
    end: Result<&'a T, &'a Error>,
) -> impl Iterator<Item = EndStep<'a, T>> {
    let (first, release) = match end {
        Ok(done) => (Some(EndStep::Save(done, key)), None),
        Err(e) => (
            (e.class() == ErrorClass::NotFound).then_some(EndStep::Forget(e, key)),
            key.map(EndStep::Release),
        ),
    };
    first.into_iter().chain(release)
}

impl Ledger {
    /// Makes one of the writes [`end_steps`] lists.
    pub fn end_step<T: Final>(&self, step: EndStep<'_, T>) -> io::Result<()> {
        match step {
            EndStep::Save(done, key) => done.save(self, key),
            EndStep::Forget(gone, key) => T::forget(self, key, gone),
            EndStep::Release(key) => self.release(key),
        }
    }

    /// Makes the writes the end of an item makes to its entry `key`
    /// ([`end_steps`]), stopping at the first that fails.
    pub fn ended<T: Final>(
        &self,
        key: Option<&EntryKey>,
        end: Result<&T, &Error>,
    ) -> io::Result<()> {
        end_steps(key, end).try_for_each(|step| self.end_step(step))
    }
}

#[cfg(test)]
mod tests {
    use authenta_reqwest::proto::engine::jobs::{JobCheckpoint, JobStage};
    use authenta_reqwest::proto::engine::resume::Resume;
    use authenta_reqwest::proto::error::{BatchStopped, HttpError, WaitTimeout};
    use authenta_reqwest::proto::http::StatusCode;
    use authenta_reqwest::proto::options::Checkpoint;
    use authenta_reqwest::proto::{ProtocolError, engine::resume::JobResume};
    use authenta_reqwest::types::{MediaId, TaskType};
    use serde_json::json;

    use super::*;
    use crate::ledger::Claim;
    use crate::ledger::saving;
    use crate::ledger::tests::two_workers_claim_one_file;

    fn not_found(mid: Option<&str>) -> Error {
        ProtocolError::Http(Box::new(HttpError {
            status: StatusCode::NOT_FOUND,
            snippet: String::new(),
            operation: None,
            mid: mid.map(MediaId::new),
            retry_after: None,
        }))
        .into()
    }

    fn stopped() -> Error {
        ProtocolError::Stopped(BatchStopped {
            class: ErrorClass::Credits,
            cause: "no credits left".into(),
        })
        .into()
    }

    fn media(mid: &str) -> Media {
        serde_json::from_value(json!({
            "mid": mid, "name": "a.png", "type": "Image", "modelType": "AC-1",
            "status": "Processed", "createdAt": "2026-12-01T00:00:00Z",
        }))
        .unwrap()
    }

    /// The steps' names, with whether each names the key.
    fn named<T>(key: Option<&EntryKey>, end: Result<&T, &Error>) -> Vec<(&'static str, bool)> {
        end_steps(key, end)
            .map(|step| match step {
                EndStep::Save(_, key) => ("save", key.is_some()),
                EndStep::Forget(_, key) => ("forget", key.is_some()),
                EndStep::Release(_) => ("release", true),
            })
            .collect()
    }

    #[test]
    fn an_item_s_end_saves_forgets_or_releases_its_entry() {
        let (_dir, _, _, _, key) = two_workers_claim_one_file();
        let done = media("m-1");
        let gone = not_found(Some("m-1"));
        let timeout: Error = ProtocolError::Timeout(WaitTimeout {
            mid: MediaId::new("m-1"),
            last_status: None,
            waited: std::time::Duration::from_secs(1),
            polls: 1,
        })
        .into();
        // Final: saved, which ends the claim (no release).
        assert_eq!(named(Some(&key), Ok(&done)), [("save", true)]);
        assert_eq!(named(None, Ok(&done)), [("save", false)]);
        // Gone from the server: forgotten, then released.
        assert_eq!(
            named::<Media>(Some(&key), Err(&gone)),
            [("forget", true), ("release", true)]
        );
        assert_eq!(named::<Job>(None, Err(&gone)), [("forget", false)]);
        // Failed otherwise, not final, or skipped: released only.
        for other in [&timeout, &stopped()] {
            assert_eq!(named::<Media>(Some(&key), Err(other)), [("release", true)]);
            assert_eq!(named::<Job>(None, Err(other)).len(), 0);
        }
    }

    #[test]
    fn the_steps_write_the_ledger_as_they_say() {
        let (_dir, a, b, identity, key) = two_workers_claim_one_file();
        let mid = MediaId::new("m-1");
        // `a` holds the entry and saves its upload; `b` then asks.
        let upload = |a: &Ledger| {
            assert!(matches!(a.claim(&key, false).unwrap(), Claim::Mine(_)));
            saving(a.checkpoint(&key, &identity))(Checkpoint::Uploaded { mid: &mid }).unwrap();
            assert!(matches!(b.claim(&key, false).unwrap(), Claim::Held));
        };
        // Failed otherwise: released, its stage kept.
        upload(&a);
        a.ended::<Media>(Some(&key), Err(&stopped())).unwrap();
        assert!(matches!(
            b.claim(&key, false).unwrap(),
            Claim::Mine(Resume::Uploaded { mid: m, .. }) if m == mid
        ));
        b.release(&key).unwrap();
        // Gone: forgotten and released (new again).
        upload(&a);
        a.ended::<Media>(Some(&key), Err(&not_found(Some("m-1"))))
            .unwrap();
        assert!(matches!(
            b.claim(&key, false).unwrap(),
            Claim::Mine(Resume::New)
        ));
        b.release(&key).unwrap();
        // Final: saved, which ends the claim.
        upload(&a);
        a.ended(Some(&key), Ok(&media("m-1"))).unwrap();
        a.flush().unwrap();
        assert!(
            matches!(b.claim(&key, false).unwrap(), Claim::Mine(Resume::Final(m)) if m.mid == mid)
        );
        // A job's entry is saved, and forgotten, by its key (the answer
        // names no record).
        let job_key = a.job_key(&key.account, &identity, &TaskType::AiImageDetection, None);
        let claim = |l: &Ledger| l.claim_many::<JobResume>(&[&job_key], false).unwrap().pop();
        let uploaded = JobStage::Uploaded { job: "7".into() };
        let upload = || {
            assert!(matches!(claim(&a), Some(Claim::Mine(_))));
            (a.job_checkpoint(&job_key, &identity))(JobCheckpoint::Stage(&uploaded)).unwrap();
            assert!(matches!(claim(&b), Some(Claim::Held)));
        };
        upload();
        a.ended::<Job>(Some(&job_key), Err(&not_found(None)))
            .unwrap();
        assert!(matches!(claim(&b), Some(Claim::Mine(JobResume::New))));
        b.release(&job_key).unwrap();
        upload();
        let job: Job = serde_json::from_value(json!({"jobId": 7, "status": "completed"})).unwrap();
        a.ended(Some(&job_key), Ok(&job)).unwrap();
        a.flush().unwrap();
        assert!(
            matches!(claim(&b), Some(Claim::Mine(JobResume::Final(saved))) if saved.id == job.id)
        );
    }
}
