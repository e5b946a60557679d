"""Evaluations run by the service, in the background: a unit's stored question set asked of its live
knowledge base, counted as ``troly eval`` counts (``app.evaluation.runner.evaluate``), the result
kept on the job and the run in the evaluation history.

One worker thread per process runs one job at a time; a unit has at most one job queued or running
and the service at most ``MAX_PENDING`` (over every process and replica: the records are in the one
database). The queue itself is the process's own, in memory: a job runs in the process (replica) that
accepted it, and only its record and result are shared. While a process has jobs, a second thread beats
for them every ``BEAT_S`` (app.service.evaluation_records), so that other replicas can tell it still runs.

The worker asks through the same assistant as the live questions but steps aside for them: before
each question it pauses (``TROLY_EVAL_PAUSE_S``, which bounds its rate) and then waits for a lull in
the live questions (none for ``LULL_S``), at most ``QUIET_WAIT_S``; its thread runs at a lower CPU
priority. A question once started runs to its end, so that under constant live load an evaluation
costs each live question little and moves slowly. Its answers are not live traffic: they go neither
into the activity log nor into the metrics.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from app.assistant import Assistant
from app.errors import NotReady, QuestionSetMissing, QuestionSetNotFound, TrolyError
from app.evaluation.history import EvalHistory
from app.evaluation.question_sets import QuestionSet, QuestionSets
from app.evaluation.runner import evaluate
from app.evaluation.scorecard import scorecard
from app.evaluation.targets import InProcess, Reply, Target
from app.service.evaluation_records import BEAT_S, EvaluationJob, EvaluationRecords
from app.service.live_traffic import LiveTraffic
from app.service.process_mark import ProcessMark

log = logging.getLogger(__name__)

MAX_PENDING = 8  # queued or running, over every unit and worker process
# A lull: no live question for this long. Measured (docs/evaluation.md): waiting only until none is in
# flight let an evaluation question start between two back-to-back live ones and slow the next.
LULL_S = 0.1
# Under constant live load an evaluation still moves, one question per this long at most.
QUIET_WAIT_S = 2.0
PROGRESS_EVERY_S = 0.5  # how often the progress is written (every question would be a write each)
STOP_WAIT_S = 30.0
STOPPED = "the service stopped before this evaluation finished: start it again"
ORPHANED = "the service process running this evaluation ended before it finished (restarted or killed): start it again"


class Stopped(Exception):
    """The service is stopping: the running evaluation ends between two questions."""


class Paced:
    """A target that calls ``before`` ahead of every question: the worker's pause and its wait for
    live questions. The latency each reply reports is the question's alone, without the wait."""

    def __init__(self, target: Target, before: Callable[[], None]) -> None:
        self._target = target
        self._before = before

    def ask(self, question: str, unit: str | None, top_k: int) -> Reply:
        self._before()
        return self._target.ask(question, unit, top_k)

    def describe(self) -> dict[str, Any]:
        return self._target.describe()


@dataclass(frozen=True)
class _Queued:
    job: str
    questions: QuestionSet  # read when queued: deleting the set afterwards does not stop the job


class EvaluationJobs:
    def __init__(
        self,
        assistant: Assistant,
        question_sets: QuestionSets,
        records: EvaluationRecords,
        history: EvalHistory,
        traffic: LiveTraffic,
        mark: ProcessMark,
        pause_s: float,
        max_pending: int = MAX_PENDING,
    ) -> None:
        self._assistant = assistant
        self._sets = question_sets
        self._records = records
        self._history = history
        self._traffic = traffic
        self._mark = mark
        self._pause_s = pause_s
        self._max_pending = max_pending
        self._queue: queue.Queue[_Queued | None] = queue.Queue()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._beat: threading.Thread | None = None
        self._thread_lock = threading.Lock()
        # Jobs a dead process left queued or running would block their unit for ever.
        self._records.fail_orphans(mark.alive, ORPHANED)

    def start(self, unit: str, question_set: str) -> EvaluationJob:
        """Queues an evaluation of ``unit`` with its stored set ``question_set``."""
        if self._stop.is_set():
            raise NotReady("the service is stopping: no evaluation can start")
        try:
            chosen = self._sets.get(unit, question_set)
        except QuestionSetNotFound as exc:
            raise QuestionSetMissing(exc.message) from exc
        self._records.fail_orphans(self._mark.alive, ORPHANED)
        job = self._records.create(unit, question_set, chosen.info.name, self._mark.token, self._max_pending)
        self._queue.put(_Queued(job.id, chosen))
        with self._thread_lock:
            if self._thread is None:  # started on the first evaluation: none runs in a service that never evaluates
                self._thread = threading.Thread(target=self._work, name="troly-evaluations", daemon=True)
                self._thread.start()
                self._beat = threading.Thread(target=self._beating, name="troly-evaluation-beat", daemon=True)
                self._beat.start()
        return job

    def get(self, job_id: str) -> EvaluationJob:
        return self._records.get(job_id)

    def recent(self, unit: str, limit: int = 20) -> list[EvaluationJob]:
        return self._records.recent(unit, limit)

    def close(self, timeout_s: float = STOP_WAIT_S) -> None:
        """Stops the worker: the running job ends at its next question and, like every job still
        queued, is marked failed (``STOPPED``), so that none is left looking alive."""
        self._stop.set()
        self._queue.put(None)
        with self._thread_lock:
            thread, beat = self._thread, self._beat
        if thread is not None:
            thread.join(timeout_s)
        if beat is not None:
            beat.join(timeout_s)
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is not None:
                self._records.failed(item.job, STOPPED)
        self._mark.close()

    # -- the worker thread ---------------------------------------------------------------
    def _work(self) -> None:
        _lower_priority()
        while (item := self._queue.get()) is not None:
            if self._stop.is_set():
                self._records.failed(item.job, STOPPED)
                continue
            self._run(item)

    def _run(self, item: _Queued) -> None:
        job, chosen = item.job, item.questions
        self._records.started(job)
        total, asked, written = len(chosen.questions), 0, time.monotonic()

        def progress(n: int) -> None:
            nonlocal asked, written
            asked += n
            if time.monotonic() - written >= PROGRESS_EVERY_S:
                self._records.progressed(job, asked / total)
                written = time.monotonic()

        try:
            done = evaluate(
                chosen.questions,
                Paced(InProcess(self._assistant), self._step_aside),
                self._history,
                label=chosen.info.name,
                corpus=f"{chosen.info.unit} (live knowledge base)",
                details={"evaluation": job, "question_set": chosen.info.id},
                progress=progress,
            )
        except Stopped:
            self._records.failed(job, STOPPED)
        except TrolyError as exc:
            self._records.failed(job, exc.message)
        except Exception as exc:
            log.exception("evaluation %s failed", job)
            self._records.failed(job, f"internal error ({type(exc).__name__}): see the service's log")
        else:
            self._records.done(job, scorecard(done.summary, done.records), done.run.id)

    def _beating(self) -> None:
        """This process's jobs still run: said every BEAT_S until the service stops. A beat that fails
        (the database away for a moment) is only logged; the next one may pass."""
        while not self._stop.wait(BEAT_S):
            try:
                self._records.beat(self._mark.token)
            except Exception:
                log.warning("could not record that this process's evaluations still run", exc_info=True)

    def _step_aside(self) -> None:
        """Before each question: the pause, then a lull in the live questions."""
        if self._stop.wait(self._pause_s):
            raise Stopped
        self._traffic.wait_lull(LULL_S, QUIET_WAIT_S)
        if self._stop.is_set():
            raise Stopped


def _lower_priority() -> None:
    """The worker thread's CPU time yields to the threads answering live questions: on Linux a
    thread has a nice value of its own. Elsewhere, or where it is not allowed, nothing changes."""
    if hasattr(os, "setpriority"):
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
