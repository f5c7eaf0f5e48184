"""Cross-check of our call durations against Asterisk's CDRs (AMI ``Cdr`` events).

Asterisk writes a CDR for each leg when it ends; ``cdr_manager`` sends it over AMI. Our customer
legs are originated with a pre-chosen channel id, which is the channel's ``uniqueid``: the CDRs
of a call are those whose unique id is the call id (and ``<call id>;2``, the far half of a
``Local`` channel). Asterisk's answered time for the customer is from the earliest answer to the
latest end among them; ours is from the leg's answer to its end. When both are known (the call
finished and no CDR arrived for ``settle_s``), the comparison is appended to the call's event
stream (``cdr_checked``: the CDR billsec, our answered seconds, the difference and a mismatch
flag when it exceeds ``tolerance_s``) and counted (:attr:`CdrCrossCheck.stats`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field

from ari_app.ami import AmiEvent, CdrRecord, cdr_record
from ari_app.dialer import events as ev
from ari_app.dialer.model import CallAttempt
from ari_app.dialer.ports import Clock
from ari_app.dialer.snapshot import CdrSnapshot
from ari_app.tasks import TaskSet

log = logging.getLogger(__name__)

CALL_PREFIX = "call-"
LOCAL_FAR_HALF = ";2"


@dataclass
class CdrStats:
    checked: int = 0
    mismatched: int = 0
    missing: int = 0  # the call ended but no CDR came within ``missing_after_s``
    max_abs_delta_s: float = 0.0


@dataclass(frozen=True)
class CdrVerdict:
    call_id: str
    cdr_billsec: float
    cdr_disposition: str
    cdr_records: int
    our_answered_seconds: float
    delta_s: float
    mismatch: bool


@dataclass
class _Pending:
    records: list[CdrRecord] = field(default_factory=list)
    ours: float | None = None  # our answered seconds, once the call finished
    timer: asyncio.TimerHandle | None = None


def call_id_of(record: CdrRecord) -> str | None:
    uid = record.unique_id.removesuffix(LOCAL_FAR_HALF)
    return uid if uid.startswith(CALL_PREFIX) else None


def judge(call_id: str, records: list[CdrRecord], ours: float,
          tolerance_s: float) -> CdrVerdict:
    """Compare Asterisk's answered span of a call with ours (pure)."""
    answers = [r.answer for r in records if r.answer is not None]
    ends = [r.end for r in records if r.end is not None]
    billsec = 0.0
    if answers and ends:
        billsec = max(0.0, (max(ends) - min(answers)).total_seconds())
    disposition = "ANSWERED" if answers else (records[0].disposition if records else "")
    delta = billsec - ours
    return CdrVerdict(call_id, billsec, disposition, len(records), round(ours, 3),
                      round(delta, 3), abs(delta) > tolerance_s)


def answered_seconds(call: CallAttempt) -> float:
    if call.answered_at is None or call.ended_at is None:
        return 0.0
    return max(0.0, call.ended_at - call.answered_at)


class CdrCrossCheck:
    def __init__(self, emit: Callable[[ev.CallEvent], Awaitable[None]], clock: Clock,
                 *, settle_s: float = 2.0, missing_after_s: float = 30.0,
                 tolerance_s: float = 2.0) -> None:
        self._emit = emit
        self.clock = clock
        self.settle_s = settle_s
        self.missing_after_s = missing_after_s
        self.tolerance_s = tolerance_s
        self.stats = CdrStats()
        self.verdicts: dict[str, CdrVerdict] = {}  # the latest ones (bounded)
        self._pending: dict[str, _Pending] = {}
        self._tasks = TaskSet(log)

    # --------------------------------------------------------------- intake --
    async def on_ami_event(self, event: AmiEvent) -> None:
        record = cdr_record(event)
        if record is not None:
            self.on_cdr(record)

    def on_cdr(self, record: CdrRecord) -> None:
        call_id = call_id_of(record)
        if call_id is None:
            return
        pending = self._pending.setdefault(call_id, _Pending())
        pending.records.append(record)
        if pending.ours is not None:
            self._arm(call_id, pending, self.settle_s)

    def call_finished(self, call: CallAttempt) -> None:
        pending = self._pending.setdefault(call.call_id, _Pending())
        pending.ours = answered_seconds(call)
        self._arm(call.call_id, pending,
                  self.settle_s if pending.records else self.missing_after_s)

    # ---------------------------------------------------------------- check --
    def _arm(self, call_id: str, pending: _Pending, delay: float) -> None:
        if pending.timer is not None:
            pending.timer.cancel()
        loop = asyncio.get_running_loop()
        pending.timer = loop.call_later(delay, self._spawn_check, call_id)

    def _spawn_check(self, call_id: str) -> None:
        self._tasks.spawn(self._check(call_id), f"cdr-check-{call_id}")

    async def _check(self, call_id: str) -> None:
        pending = self._pending.pop(call_id, None)
        if pending is None or pending.ours is None:
            return
        if not pending.records:
            self.stats.missing += 1
            log.warning("call %s: no CDR from Asterisk within %.0f s", call_id,
                        self.missing_after_s)
            return
        verdict = judge(call_id, pending.records, pending.ours, self.tolerance_s)
        self.stats.checked += 1
        self.stats.max_abs_delta_s = max(self.stats.max_abs_delta_s, abs(verdict.delta_s))
        if verdict.mismatch:
            self.stats.mismatched += 1
            log.warning("call %s: CDR billsec %.0f s vs our %.1f s answered", call_id,
                        verdict.cdr_billsec, verdict.our_answered_seconds)
        self.verdicts[call_id] = verdict
        if len(self.verdicts) > 1000:
            self.verdicts.pop(next(iter(self.verdicts)))
        try:
            await self._emit(cdr_checked(verdict, self.clock.now()))
        except Exception:  # the outbox is local SQLite: log, never stop the AMI dispatcher
            log.exception("call %s: the CDR verdict could not be queued", call_id)

    def snapshot(self) -> CdrSnapshot:
        return CdrSnapshot(**asdict(self.stats), pending=len(self._pending),
                           tolerance_s=self.tolerance_s)

    async def close(self) -> None:
        for pending in self._pending.values():
            if pending.timer is not None:
                pending.timer.cancel()
        await self._tasks.close()


def cdr_checked(verdict: CdrVerdict, at: float) -> ev.CallEvent:
    return ev.CallEvent("cdr_checked", verdict.call_id, at, {
        "cdr_billsec": verdict.cdr_billsec,
        "cdr_disposition": verdict.cdr_disposition,
        "cdr_records": verdict.cdr_records,
        "answered_seconds": verdict.our_answered_seconds,
        "cdr_delta_seconds": verdict.delta_s,
        "cdr_mismatch": verdict.mismatch,
    })
