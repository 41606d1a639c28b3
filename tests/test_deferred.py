"""What a worker's job does with a failure (handlers/deferred.py WorkerInteractions._run): a
crash before the job's outcome was recorded is raised, for Procrastinate to run the job again
(bot/jobs.py FIX_RETRIES); once recorded, or for what the listener would answer (Say, a
QuickBooks error), the person is answered as in the listener and the job ends."""
from __future__ import annotations

import pytest

from bot.errors import ApiError
from bot.jobs import FIX_RETRIES, ScanJobs
from handlers.deferred import WorkerInteractions
from handlers.steps import Interaction, Say
from handlers.texts import t


class Answers:
    """A respond callable (bolt's Respond's signature) keeping what was said."""

    def __init__(self):
        self.texts: list[str] = []

    def __call__(self, text: str, **_kw) -> None:
        self.texts.append(text)


def _ix(answers: Answers) -> Interaction:
    return Interaction(services=None, user="U0ALICE001", channel="C0ALERTS01", respond=answers,  # type: ignore[arg-type]
                       kind="action", _lang="en")


def _crash(_ix):
    raise ConnectionError("the database went away")


def test_a_crash_before_the_outcome_is_recorded_is_raised_for_a_retry():
    answers = Answers()
    with pytest.raises(ConnectionError):
        WorkerInteractions(None)._run(_ix(answers), _crash, recorded=lambda: False)
    assert answers.texts == []  # the retry answers


def test_a_crash_after_the_outcome_is_recorded_is_answered_and_not_retried():
    answers = Answers()
    WorkerInteractions(None)._run(_ix(answers), _crash, recorded=lambda: True)
    assert answers.texts == [t("en", "error")]


@pytest.mark.parametrize("exc, said", [(Say("alert_resolved"), t("en", "alert_resolved")),
                                       (ApiError("qbo", "Stale object", code="5010"), None)])
def test_what_the_listener_answers_is_answered_and_not_retried(exc, said):
    answers = Answers()

    def step(_ix):
        raise exc

    WorkerInteractions(None)._run(_ix(answers), step, recorded=lambda: False)
    assert len(answers.texts) == 1 and (said is None or answers.texts == [said])


def test_fix_jobs_are_retried_and_the_listener_runs_none():
    jobs = ScanJobs("postgresql://unused@127.0.0.1:1/none", poll_interval_s=3600)
    assert jobs.fix.retry_strategy.max_attempts == FIX_RETRIES == 3
    assert jobs.digest.retry_strategy is None  # an on-demand digest is not posted twice by a retry
    with pytest.raises(RuntimeError, match="only queues"):  # the listener's queue runs no fix
        jobs._run("qbsync.fix", "default", {})
