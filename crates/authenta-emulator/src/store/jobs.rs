//! The jobs of the jobs API in the store: one row per job, one per input
//! slot, every change one transaction.
//!
//! The number of jobs in each status is kept in `job_counts` by triggers,
//! so a list's total is not a count over every job.
//!
//! A job's state machine, as the store enforces it: `created` until every
//! slot is uploaded, then `waiting_for_finalize` (where it stays, whatever
//! the clock, until finalized); finalize spends one credit and queues it;
//! it is `processing` from half its processing time on, and `completed` (or
//! `failed`) at its end. `cancelled` from any state before `processing`.

use std::time::Duration;

use jiff::Timestamp;
use rusqlite::{OptionalExtension as _, Row, params};

use authenta_types::JobStatus;

use super::{Store, StoreResult, db, ms, to_i64, to_u64, ts};
use crate::clock::plus;
use crate::model::{JobRecord, UploadInfo, job_status_str as status};

pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    task_type_id INTEGER NOT NULL,
    status TEXT NOT NULL,
    parameters TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    queued_at INTEGER,
    due INTEGER,
    finish_at INTEGER,
    completed_at INTEGER,
    error_message TEXT
);
CREATE INDEX IF NOT EXISTS jobs_due ON jobs (due) WHERE due IS NOT NULL;
CREATE INDEX IF NOT EXISTS jobs_status ON jobs (status, id);
CREATE TABLE IF NOT EXISTS job_counts (
    status TEXT PRIMARY KEY,
    n INTEGER NOT NULL
);
CREATE TRIGGER IF NOT EXISTS jobs_counted_in AFTER INSERT ON jobs BEGIN
    INSERT INTO job_counts (status, n) VALUES (NEW.status, 1)
        ON CONFLICT (status) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER IF NOT EXISTS jobs_counted_moved AFTER UPDATE OF status ON jobs
    WHEN OLD.status <> NEW.status BEGIN
    UPDATE job_counts SET n = n - 1 WHERE status = OLD.status;
    INSERT INTO job_counts (status, n) VALUES (NEW.status, 1)
        ON CONFLICT (status) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER IF NOT EXISTS jobs_counted_out AFTER DELETE ON jobs BEGIN
    UPDATE job_counts SET n = n - 1 WHERE status = OLD.status;
END;
CREATE TABLE IF NOT EXISTS job_inputs (
    job_id INTEGER NOT NULL,
    position INTEGER NOT NULL,
    slot_name TEXT NOT NULL,
    content_type TEXT NOT NULL,
    file_name TEXT NOT NULL,
    size_bytes INTEGER NOT NULL,
    upload TEXT,
    PRIMARY KEY (job_id, slot_name)
);
";

/// A job's columns and its slots, as one JSON array in slot order (read
/// in the same statement, so a page of jobs is one query).
const JOB_WITH_INPUTS: &str = "id, task_type_id, status, parameters, created_at, updated_at, \
     queued_at, due, finish_at, completed_at, error_message, \
     (SELECT json_group_array(json_object('slotName', slot_name, 'contentType', content_type, \
         'fileName', file_name, 'sizeBytes', size_bytes, 'upload', json(upload))) \
      FROM (SELECT * FROM job_inputs WHERE job_id = jobs.id ORDER BY position))";

fn job_from_row(row: &Row<'_>) -> rusqlite::Result<JobRecord> {
    let parameters: Option<String> = row.get(3)?;
    let inputs: Option<String> = row.get(11)?;
    let at = |i: usize| row.get::<_, Option<i64>>(i).map(|t| t.map(ts));
    Ok(JobRecord {
        id: to_u64(row.get(0)?),
        task_type_id: row.get(1)?,
        status: row.get(2)?,
        parameters: parameters.and_then(|p| serde_json::from_str(&p).ok()),
        created_at: ts(row.get(4)?),
        updated_at: ts(row.get(5)?),
        queued_at: at(6)?,
        due: at(7)?,
        finish_at: at(8)?,
        completed_at: at(9)?,
        error_message: row.get(10)?,
        inputs: inputs
            .and_then(|i| serde_json::from_str(&i).ok())
            .unwrap_or_default(),
    })
}

/// The job `id` with its inputs, read through `conn`.
fn read_job(conn: &rusqlite::Connection, id: u64) -> StoreResult<Option<JobRecord>> {
    conn.prepare_cached(&format!("SELECT {JOB_WITH_INPUTS} FROM jobs WHERE id = ?1"))
        .map_err(db)?
        .query_row([to_i64(id)], job_from_row)
        .optional()
        .map_err(db)
}

/// Whether a job in this status takes slot uploads: until it is finalized.
fn takes_uploads(status: &JobStatus) -> bool {
    matches!(status, JobStatus::Created | JobStatus::WaitingForFinalize)
}

/// Whether a job in this status can be cancelled: until it is processing.
fn cancellable(status: &JobStatus) -> bool {
    takes_uploads(status) || *status == JobStatus::Queued
}

/// Sets a job's status (and `updated_at`).
fn set_status(
    tx: &rusqlite::Connection,
    id: u64,
    to: JobStatus,
    now: Timestamp,
) -> StoreResult<()> {
    tx.prepare_cached("UPDATE jobs SET status = ?2, updated_at = ?3 WHERE id = ?1")
        .map_err(db)?
        .execute(params![to_i64(id), status(to), ms(now)])
        .map(drop)
        .map_err(db)
}

/// What storing a slot's upload did.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum SlotUpload {
    /// Stored; `true` when every slot now has its upload (the job went
    /// `waiting_for_finalize`).
    Stored(bool),
    /// No such job, or no such slot in it.
    NoSuchSlot,
    /// The job takes no more uploads: it is in this status.
    Closed(String),
}

/// What finalizing did.
#[derive(Debug)]
pub(crate) enum Finalized {
    /// The job is queued.
    Queued(Box<JobRecord>),
    /// No such job.
    NotFound,
    /// These slots have no upload yet.
    Missing(Vec<String>),
    /// Finalized before, or cancelled: the job is in this status.
    Already(String),
    /// No credit is left; nothing changed.
    NoCredits,
}

/// What cancelling or deleting did.
#[derive(Debug)]
pub(crate) enum JobChange {
    /// Done; the job as it was before (deleted) or is now (cancelled).
    Done(Box<JobRecord>),
    /// No such job.
    NotFound,
    /// Refused: the job is in this status.
    Refused(String),
}

impl Store {
    /// Creates a job and its slots (no upload yet), in one transaction; the
    /// job's id is assigned here.
    pub fn create_job(&mut self, mut job: JobRecord) -> StoreResult<JobRecord> {
        let tx = self.conn.savepoint().map_err(db)?;
        let parameters = job
            .parameters
            .as_ref()
            .map(serde_json::to_string)
            .transpose()
            .map_err(|e| e.to_string())?;
        tx.prepare_cached(
            "INSERT INTO jobs (task_type_id, status, parameters, created_at, updated_at) \
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )
        .map_err(db)?
        .execute(params![
            job.task_type_id,
            job.status,
            parameters,
            ms(job.created_at),
            ms(job.updated_at)
        ])
        .map_err(db)?;
        job.id = to_u64(tx.last_insert_rowid());
        for (position, input) in job.inputs.iter().enumerate() {
            tx.prepare_cached(
                "INSERT INTO job_inputs (job_id, position, slot_name, content_type, file_name, \
                 size_bytes) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )
            .map_err(db)?
            .execute(params![
                to_i64(job.id),
                to_i64(position as u64),
                input.slot_name,
                input.content_type,
                input.file_name,
                to_i64(input.size_bytes)
            ])
            .map_err(db)?;
        }
        tx.commit().map_err(db)?;
        Ok(job)
    }

    pub fn job(&self, id: u64) -> StoreResult<Option<JobRecord>> {
        read_job(&self.conn, id)
    }

    /// Page `page` (from 1) of `limit` jobs, newest first, of one status or
    /// all; and how many there are in all.
    pub fn job_page(
        &self,
        page: u64,
        limit: u32,
        status: Option<&str>,
    ) -> StoreResult<(u64, Vec<JobRecord>)> {
        let offset = to_i64(page.saturating_sub(1).saturating_mul(u64::from(limit)));
        let total: i64 = self
            .conn
            .prepare_cached(
                "SELECT coalesce(sum(n), 0) FROM job_counts WHERE ?1 IS NULL OR status = ?1",
            )
            .map_err(db)?
            .query_row([status], |r| r.get(0))
            .map_err(db)?;
        // Two statements rather than `?1 IS NULL OR status = ?1`, which
        // SQLite cannot answer from the (status, id) index.
        let filter = match status {
            Some(_) => "status = ?1",
            None => "?1 IS NULL",
        };
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT {JOB_WITH_INPUTS} FROM jobs WHERE {filter} \
                 ORDER BY id DESC LIMIT ?2 OFFSET ?3"
            ))
            .map_err(db)?;
        let rows = stmt
            .query_map(params![status, i64::from(limit), offset], job_from_row)
            .map_err(db)?;
        let jobs = rows.collect::<Result<_, _>>().map_err(db)?;
        Ok((to_u64(total), jobs))
    }

    /// Every job, newest first (the control surface).
    pub fn all_jobs(&self) -> StoreResult<Vec<JobRecord>> {
        self.job_page(1, u32::MAX, None).map(|(_, jobs)| jobs)
    }

    /// Records the upload of one slot (replacing an earlier one: S3
    /// overwrites an object) while the job still takes uploads, after
    /// `keep` (which puts its bytes in place) succeeded; the job goes
    /// `waiting_for_finalize` once every slot has one.
    pub fn complete_job_upload(
        &mut self,
        id: u64,
        slot: &str,
        upload: &UploadInfo,
        now: Timestamp,
        keep: impl FnOnce() -> StoreResult<()>,
    ) -> StoreResult<SlotUpload> {
        let tx = self.conn.savepoint().map_err(db)?;
        let Some(job) = read_job(&tx, id)? else {
            return Ok(SlotUpload::NoSuchSlot);
        };
        if !job.inputs.iter().any(|i| i.slot_name == slot) {
            return Ok(SlotUpload::NoSuchSlot);
        }
        if !takes_uploads(&JobStatus::from_wire(&job.status)) {
            return Ok(SlotUpload::Closed(job.status));
        }
        let upload_json = serde_json::to_string(upload).map_err(|e| e.to_string())?;
        keep()?;
        tx.prepare_cached("UPDATE job_inputs SET upload = ?3 WHERE job_id = ?1 AND slot_name = ?2")
            .map_err(db)?
            .execute(params![to_i64(id), slot, upload_json])
            .map_err(db)?;
        let all = job
            .inputs
            .iter()
            .all(|i| i.slot_name == slot || i.upload.is_some());
        let to = if all {
            JobStatus::WaitingForFinalize
        } else {
            JobStatus::Created
        };
        set_status(&tx, id, to, now)?;
        tx.commit().map_err(db)?;
        Ok(SlotUpload::Stored(all))
    }

    /// Finalizes a job whose slots are all uploaded: spends one credit and
    /// queues it, due to be `processing` after half of `processing_time`
    /// and done after all of it; `fail` is the failure armed for it, if
    /// any. One transaction; a refusal changes nothing.
    pub fn finalize_job(
        &mut self,
        id: u64,
        now: Timestamp,
        processing_time: Duration,
        fail: Option<&str>,
    ) -> StoreResult<Finalized> {
        let tx = self.conn.savepoint().map_err(db)?;
        let Some(job) = read_job(&tx, id)? else {
            return Ok(Finalized::NotFound);
        };
        if !takes_uploads(&JobStatus::from_wire(&job.status)) {
            return Ok(Finalized::Already(job.status));
        }
        let missing: Vec<String> = job
            .inputs
            .iter()
            .filter(|i| i.upload.is_none())
            .map(|i| i.slot_name.clone())
            .collect();
        if !missing.is_empty() {
            return Ok(Finalized::Missing(missing));
        }
        let spent = tx
            .prepare_cached("UPDATE account SET credits = credits - 1 WHERE id = 1 AND credits > 0")
            .map_err(db)?
            .execute([])
            .map_err(db)?;
        if spent == 0 {
            return Ok(Finalized::NoCredits);
        }
        tx.prepare_cached(
            "UPDATE jobs SET status = ?2, updated_at = ?3, queued_at = ?3, due = ?4, \
             finish_at = ?5, error_message = ?6 WHERE id = ?1",
        )
        .map_err(db)?
        .execute(params![
            to_i64(id),
            status(JobStatus::Queued),
            ms(now),
            ms(plus(now, processing_time / 2)),
            ms(plus(now, processing_time)),
            fail
        ])
        .map_err(db)?;
        let job = read_job(&tx, id)?.ok_or("the finalized job vanished")?;
        tx.commit().map_err(db)?;
        Ok(Finalized::Queued(Box::new(job)))
    }

    /// Cancels a job that is not yet processing.
    pub fn cancel_job(&mut self, id: u64, now: Timestamp) -> StoreResult<JobChange> {
        let tx = self.conn.savepoint().map_err(db)?;
        let Some(job) = read_job(&tx, id)? else {
            return Ok(JobChange::NotFound);
        };
        if !cancellable(&JobStatus::from_wire(&job.status)) {
            return Ok(JobChange::Refused(job.status));
        }
        tx.prepare_cached("UPDATE jobs SET status = ?2, updated_at = ?3, due = NULL WHERE id = ?1")
            .map_err(db)?
            .execute(params![to_i64(id), status(JobStatus::Cancelled), ms(now)])
            .map_err(db)?;
        let job = read_job(&tx, id)?.ok_or("the cancelled job vanished")?;
        tx.commit().map_err(db)?;
        Ok(JobChange::Done(Box::new(job)))
    }

    /// Deletes a job and its slots, unless it is processing.
    pub fn delete_job(&mut self, id: u64) -> StoreResult<JobChange> {
        let tx = self.conn.savepoint().map_err(db)?;
        let Some(job) = read_job(&tx, id)? else {
            return Ok(JobChange::NotFound);
        };
        if JobStatus::from_wire(&job.status) == JobStatus::Processing {
            return Ok(JobChange::Refused(job.status));
        }
        for sql in [
            "DELETE FROM job_inputs WHERE job_id = ?1",
            "DELETE FROM jobs WHERE id = ?1",
        ] {
            tx.prepare_cached(sql)
                .map_err(db)?
                .execute([to_i64(id)])
                .map_err(db)?;
        }
        tx.commit().map_err(db)?;
        Ok(JobChange::Done(Box::new(job)))
    }

    /// Moves every job whose next step is due at `now`: `queued` to
    /// `processing`, and to `completed` (or `failed`, when a failure was
    /// armed for it) once its processing time is over. One transaction;
    /// returns the jobs and the status each reached.
    pub fn advance_due_jobs(&mut self, now: Timestamp) -> StoreResult<Vec<(u64, String)>> {
        let tx = self.conn.savepoint().map_err(db)?;
        let due: Vec<(i64, String, Option<i64>, Option<String>)> = {
            let mut stmt = tx
                .prepare_cached(
                    "SELECT id, status, finish_at, error_message FROM jobs \
                     WHERE due IS NOT NULL AND due <= ?1",
                )
                .map_err(db)?;
            let rows = stmt
                .query_map([ms(now)], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
                })
                .map_err(db)?;
            rows.collect::<Result<_, _>>().map_err(db)?
        };
        let mut moved = Vec::with_capacity(due.len());
        for (id, state, finish_at, fail) in due {
            let finish_at = finish_at.unwrap_or(ms(now));
            let done =
                JobStatus::from_wire(&state) == JobStatus::Processing || finish_at <= ms(now);
            let to = status(match (done, &fail) {
                (false, _) => JobStatus::Processing,
                (true, None) => JobStatus::Completed,
                (true, Some(_)) => JobStatus::Failed,
            });
            if done {
                tx.prepare_cached(
                    "UPDATE jobs SET status = ?2, updated_at = ?3, completed_at = ?3, \
                     due = NULL WHERE id = ?1",
                )
                .map_err(db)?
                .execute(params![id, to, finish_at])
                .map_err(db)?;
            } else {
                tx.prepare_cached(
                    "UPDATE jobs SET status = ?2, updated_at = ?3, due = ?4 WHERE id = ?1",
                )
                .map_err(db)?
                .execute(params![id, to, ms(now), finish_at])
                .map_err(db)?;
            }
            moved.push((to_u64(id), to));
        }
        tx.commit().map_err(db)?;
        Ok(moved)
    }

    /// When the next job's step is due.
    pub fn next_job_due(&self) -> StoreResult<Option<Timestamp>> {
        self.conn
            .prepare_cached("SELECT min(due) FROM jobs WHERE due IS NOT NULL")
            .map_err(db)?
            .query_row([], |r| r.get::<_, Option<i64>>(0))
            .map(|t| t.map(ts))
            .map_err(db)
    }
}
