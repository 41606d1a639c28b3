"""APScheduler (3.x) job store on the app's own SQLite file (table `scheduler_jobs`, migration 4).

Why not APScheduler's SQLAlchemyJobStore: it would be a second database layer (and a new
dependency) over the same file; this goes through bot.store.Store's connection and lock, so
the scheduler's writes are ordinary Store transactions.

The rows hold what SQLAlchemyJobStore holds: the pickled `Job.__getstate__()` and the next run
time (epoch seconds, NULL for a paused job) in a column of its own so "which jobs are due" is
one indexed query. A job's function must therefore be importable by reference
("module:function") and its arguments picklable.
"""
from __future__ import annotations

import pickle
import sqlite3

from apscheduler.job import Job
from apscheduler.jobstores.base import BaseJobStore, ConflictingIdError, JobLookupError
from apscheduler.util import datetime_to_utc_timestamp, utc_timestamp_to_datetime

TABLE = "scheduler_jobs"


class SQLiteJobStore(BaseJobStore):
    def __init__(self, store, *, pickle_protocol: int = pickle.HIGHEST_PROTOCOL):
        """store: a bot.store.Store whose schema has the scheduler_jobs table."""
        super().__init__()
        self.store = store
        self.pickle_protocol = pickle_protocol

    # -- reads ------------------------------------------------------------------------------
    def lookup_job(self, job_id):
        rows = self.store.query_rows(f"SELECT job_state FROM {TABLE} WHERE id = ?", (job_id,))
        return self._reconstitute(rows[0]["job_state"]) if rows else None

    def get_due_jobs(self, now):
        return self._get_jobs("WHERE next_run_time <= ?", (datetime_to_utc_timestamp(now),))

    def get_next_run_time(self):
        rows = self.store.query_rows(
            f"SELECT next_run_time FROM {TABLE} WHERE next_run_time IS NOT NULL "
            "ORDER BY next_run_time LIMIT 1")
        return utc_timestamp_to_datetime(rows[0]["next_run_time"]) if rows else None

    def get_all_jobs(self):
        jobs = self._get_jobs()
        # SQLite sorts NULL (paused) first; APScheduler wants paused jobs last.
        self._fix_paused_jobs_sorting(jobs)
        return jobs

    # -- writes -----------------------------------------------------------------------------
    def add_job(self, job):
        try:
            with self.store.transaction() as conn:
                conn.execute(f"INSERT INTO {TABLE} (id, next_run_time, job_state) VALUES (?, ?, ?)",
                             (job.id, datetime_to_utc_timestamp(job.next_run_time), self._dump(job)))
        except sqlite3.IntegrityError:
            raise ConflictingIdError(job.id) from None

    def update_job(self, job):
        with self.store.transaction() as conn:
            cur = conn.execute(f"UPDATE {TABLE} SET next_run_time = ?, job_state = ? WHERE id = ?",
                               (datetime_to_utc_timestamp(job.next_run_time), self._dump(job), job.id))
            if cur.rowcount == 0:
                raise JobLookupError(job.id)

    def remove_job(self, job_id):
        with self.store.transaction() as conn:
            if conn.execute(f"DELETE FROM {TABLE} WHERE id = ?", (job_id,)).rowcount == 0:
                raise JobLookupError(job_id)

    def remove_all_jobs(self):
        with self.store.transaction() as conn:
            conn.execute(f"DELETE FROM {TABLE}")

    def shutdown(self):
        """Nothing to free: the connection is the Store's, and its owner closes it."""

    # -- helpers ----------------------------------------------------------------------------
    def _dump(self, job) -> bytes:
        return pickle.dumps(job.__getstate__(), self.pickle_protocol)

    def _reconstitute(self, blob: bytes) -> Job:
        state = pickle.loads(blob)
        state["jobstore"] = self
        job = Job.__new__(Job)
        job.__setstate__(state)
        job._scheduler = self._scheduler
        job._jobstore_alias = self._alias
        return job

    def _get_jobs(self, where: str = "", params: tuple = ()) -> list[Job]:
        rows = self.store.query_rows(
            f"SELECT id, job_state FROM {TABLE} {where} ORDER BY next_run_time, id", params)
        jobs, broken = [], []
        for row in rows:
            try:
                jobs.append(self._reconstitute(row["job_state"]))
            except BaseException:
                # E.g. the job's function was renamed in a new release: a job that cannot be
                # restored would fail on every wake-up; drop it (the runner re-adds its own).
                self._logger.exception('Unable to restore job "%s" -- removing it', row["id"])
                broken.append(row["id"])
        if broken:
            with self.store.transaction() as conn:
                conn.executemany(f"DELETE FROM {TABLE} WHERE id = ?", [(i,) for i in broken])
        return jobs

    def __repr__(self):
        return f"<{type(self).__name__} ({self.store.path})>"
