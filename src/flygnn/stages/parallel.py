"""Run independent jobs (one condition's analysis each) in worker processes, several at a time.

A worker is a forked process: it shares the parent's state up to the fork (the plans, the
checked kernel) without pickling it, and sends back only values: the job's events as they
happen, then its result. An interrupt of the parent (Ctrl-C, SIGTERM) stops the workers,
which stop their kernels and discard their staging folders, and every process left below
the parent, before it is raised again; a worker that dies (SIGKILL, out of memory) becomes
a failed job.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from flygnn.stages.notebook_run import WORKER_STOP_S, stop_child_processes

Job = TypeVar("Job")
Result = TypeVar("Result")


def _work(run: Callable, job: Any, channel: Any, index: int) -> None:
    try:
        result = run(job, lambda event: channel.put(("event", index, event)))
    except KeyboardInterrupt:  # stopped by the parent: it reports the interruption
        os._exit(130)
    channel.put(("result", index, result))
    channel.close()
    channel.join_thread()


def run_in_workers(
    jobs: Sequence[Job],
    run: Callable[[Job, Callable[[Any], None]], Result],
    workers: int,
    on_event: Callable[[Any], None],
    died: Callable[[Job, int | None], Result],
) -> list[Result]:
    """``[run(job, emit) for job in jobs]`` with up to ``workers`` at a time, in job order.

    ``run`` calls ``emit(event)`` for each event, which reaches ``on_event`` in this process;
    ``died(job, exit code)`` stands for the result of a worker that ended without one.
    """
    context = multiprocessing.get_context("fork")
    channel = context.Queue()
    results: dict[int, Result] = {}
    waiting = list(enumerate(jobs))
    running: dict[int, multiprocessing.process.BaseProcess] = {}
    try:
        while waiting or running:
            while waiting and len(running) < workers:
                index, job = waiting.pop(0)
                process: multiprocessing.process.BaseProcess = context.Process(
                    target=_work, args=(run, job, channel, index), daemon=True
                )
                process.start()
                running[index] = process
            try:
                kind, index, value = channel.get(timeout=0.2)
            except queue.Empty:
                for index, process in list(running.items()):
                    if not process.is_alive() and index not in results:
                        process.join(1)
                        # its last message may still be on its way
                        try:
                            while True:
                                kind, number, value = channel.get(timeout=0.5)
                                _receive(kind, number, value, results, on_event)
                        except queue.Empty:
                            pass
                        if index not in results:
                            results[index] = died(jobs[index], process.exitcode)
                for index in [i for i in running if i in results]:
                    running.pop(index).join(5)
                continue
            _receive(kind, index, value, results, on_event)
            if kind == "result":
                running.pop(index).join(5)
    except BaseException:
        for process in running.values():
            process.terminate()
        # a worker discards its staging folder on the way out: killed before that (the grace of
        # stop_child_processes), it would leave the folder behind
        deadline = time.monotonic() + WORKER_STOP_S
        for process in running.values():
            process.join(max(0.0, deadline - time.monotonic()))
        stop_child_processes()
        raise
    return [results[index] for index in range(len(jobs))]


def _receive(kind: str, index: int, value: Any, results: dict, on_event: Callable[[Any], None]) -> None:
    if kind == "event":
        on_event(value)
    else:
        results[index] = value
