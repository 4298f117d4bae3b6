"""The hot path: `record` a duration in one append; hand samples to the SDK histograms later.

Usage (what the tracing API, ``rag_otel.spans``, does on every stage and turn exit)::

    from rag_otel.metrics import recorder

    key = recorder.stage_key("retrieve", "retrieval")   # once, at decoration time
    if recorder.ENABLED:                                # one module-attribute read when off
        recorder.record(0.012, key)                     # seconds; one deque append
        recorder.record(0.030, key, ValueError)         # a sample of a stage that raised
    recorder.drain()                                    # what a collection runs first

Why a queue: the SDK's ``Histogram.record`` cleans and hashes the attributes, takes locks and
updates buckets on every call, which costs about half of a whole stage span. So `record`
appends ``(seconds, key, error class)`` to a deque (one atomic append) and the samples are
handed to the SDK histograms when a reader collects (`collect_hook`, a callback the SDK runs
before every collection: the periodic OTLP export, a Prometheus scrape, ``force_flush``,
shutdown), or, when more than `MAX_PENDING` wait, by a background thread (by the recording
thread itself past `MAX_BACKLOG`, so memory stays bounded). Every sample recorded before a
collection is in it; none is dropped.

`start` and `stop` are called by `rag_otel.metrics.provider.enable` / ``disable``, which own
the MeterProvider and create the histograms (`rag_otel.metrics.histograms`).
"""

from __future__ import annotations

import os
import threading
from collections import deque
from collections.abc import Iterable
from typing import TYPE_CHECKING, Final

from rag_otel._errors import contained
from rag_otel.metrics.keys import (
    TURN_FIRST_CHUNK_KEY,
    TURN_KEY,
    MetricKey,
    first_chunk_key,
    stage_key,
    turn_first_chunk_key,
    turn_key,
)

if TYPE_CHECKING:
    from opentelemetry.metrics import CallbackOptions, Histogram, Observation

__all__ = [
    "ENABLED",
    "MAX_BACKLOG",
    "MAX_PENDING",
    "TURN_FIRST_CHUNK_KEY",
    "TURN_KEY",
    "Instruments",
    "MetricKey",
    "collect_hook",
    "drain",
    "first_chunk_key",
    "record",
    "release",
    "stage_key",
    "start",
    "stop",
    "turn_first_chunk_key",
    "turn_key",
]

MAX_PENDING: Final = 16_384
"""Samples waiting for a collection before a background thread aggregates them."""
MAX_BACKLOG: Final = 131_072
"""Samples waiting before the recording thread aggregates them itself (about 12 MB)."""

ENABLED: bool = False
"""Read by the tracing API on every stage and turn: record durations or not."""


class Instruments:
    """The SDK histograms samples are handed to, indexed by `MetricKey.instrument`."""

    __slots__ = ("histograms",)

    def __init__(
        self, stage: Histogram, turn: Histogram, stage_first: Histogram, turn_first: Histogram
    ) -> None:
        self.histograms = (stage, turn, stage_first, turn_first)  # by MetricKey.instrument


_INSTRUMENTS: Instruments | None = None
"""Where `drain` hands samples; None while metrics are off (samples are then discarded)."""

_Sample = tuple[float, MetricKey, "type[BaseException] | None"]
_PENDING: Final[deque[_Sample]] = deque()
if hasattr(os, "register_at_fork"):  # a forked worker must not re-count its parent's samples
    os.register_at_fork(after_in_child=_PENDING.clear)

_drain_lock: Final = threading.Lock()
_wake: Final = threading.Event()
_start_lock: Final = threading.Lock()
_drainer: threading.Thread | None = None


def record(seconds: float, key: MetricKey, error: type[BaseException] | None = None) -> None:
    """Record one duration. The hot path: one append; aggregation happens at collection."""
    _PENDING.append((seconds, key, error))
    if len(_PENDING) > MAX_PENDING:
        _overflow()


def _overflow() -> None:
    """Many samples wait: a background thread aggregates them, or, past `MAX_BACKLOG`
    (it cannot keep up), the recording thread itself: memory stays bounded, nothing is lost."""
    global _drainer
    if len(_PENDING) > MAX_BACKLOG:
        drain()
        return
    if _drainer is None or not _drainer.is_alive():  # first time, or in a forked child
        with _start_lock:
            if _drainer is None or not _drainer.is_alive():
                _drainer = threading.Thread(
                    target=_drain_when_woken, name="rag-otel-metrics", daemon=True
                )
                _drainer.start()
    if not _wake.is_set():
        _wake.set()


def _drain_when_woken() -> None:
    while True:
        _wake.wait()
        _wake.clear()
        try:
            drain()
        except Exception:
            contained("metrics-drain", "aggregating durations failed")


def drain() -> int:
    """Hand every pending sample to the SDK histograms; returns how many."""
    instruments = _INSTRUMENTS
    pop = _PENDING.popleft
    done = 0
    # One drainer at a time keeps samples in order; a concurrent caller finds the queue empty.
    with _drain_lock:
        for _ in range(len(_PENDING)):
            try:
                seconds, key, error = pop()
            except IndexError:
                break
            if instruments is None:
                continue
            try:
                instruments.histograms[key.instrument].record(seconds, key.attributes_for(error))
            except Exception:
                contained("metrics-record", "recording a duration in a histogram failed")
            done += 1
    return done


def collect_hook(options: CallbackOptions) -> Iterable[Observation]:
    """Runs before each collection (an observable-instrument callback): drains the queue."""
    drain()
    return ()


def start(instruments: Instruments) -> None:
    """Record from now on, into ``instruments`` (the caller holds its configuration lock)."""
    global _INSTRUMENTS, ENABLED
    _INSTRUMENTS = instruments
    ENABLED = True


def stop() -> None:
    """Record no more; the samples already taken still reach the histograms on `drain`."""
    global ENABLED
    ENABLED = False


def release() -> None:
    """Forget the histograms (after the last `drain`): later samples are discarded."""
    global _INSTRUMENTS
    _INSTRUMENTS = None
