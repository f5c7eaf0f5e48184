"""What the abandon brake is fed, per campaign: abandons and live answers over its windows, and
the answer rates observed lately (issue 18 item 1; the brake itself is
:func:`predictive.pacing.brake.brake`, pure).

The counts of a window are the CRM's (its call records, read when the campaign starts and every
few minutes after) plus what this dialer has seen since that read. The answer rates are this
dialer's own observations over the last minutes, never a model's: a list that answers at 90 %
is seen as such after a few calls.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from predictive.pacing.brake import ALARM_WINDOW_S, AbandonWindow

HOUR_S = 3600.0
WINDOWS_S = {"30d": 30 * 86400.0, "24h": 86400.0}
RECENT_S = 15 * 60.0  # the answer rates are observed over this long
RECENT_MAX = 200  # ... and at most this many attempts
READ_EVERY_S = 300.0  # the CRM's counts are read again this often
OVERLAP_S = 120.0  # own abandons this long before a read count too (the outbox may lag)


@dataclass(frozen=True, slots=True)
class Base:
    """The CRM's counts for one window, read at ``at``."""

    live_answers: int = 0
    abandons: int = 0
    at: float = float("-inf")


class AbandonLedger:
    """One campaign's live answers, abandons and dial outcomes, as the brake needs them."""

    def __init__(self, regulatory: str = "30d") -> None:
        self.regulatory = regulatory
        self.bases: dict[str, Base] = {}  # window name -> the CRM's counts
        self.read_at = float("-inf")
        self.live: deque[tuple[float, bool]] = deque()  # (when, abandoned), last hour+
        self.attempts: deque[tuple[float, bool, bool]] = deque()  # (when, live, answered)
        self.alarm_from = float("-inf")  # abandons before this do not count for the alarm

    # ------------------------------------------------------------ feeding --
    def observe_live(self, at: float, abandoned: bool) -> None:
        self.live.append((at, abandoned))
        self.attempts.append((at, True, True))

    def observe_other(self, at: float, answered: bool) -> None:
        """A dial that did not reach a live person (``answered``: a machine picked up)."""
        self.attempts.append((at, False, answered))

    def set_base(self, name: str, live_answers: int, abandons: int, at: float) -> None:
        self.bases[name] = Base(live_answers, abandons, at)

    def due(self, now: float) -> bool:
        return now - self.read_at >= READ_EVERY_S

    def spans(self) -> dict[str, float]:
        """The windows the CRM is asked about: the regulatory one and the last hour."""
        return {self.regulatory: WINDOWS_S.get(self.regulatory, WINDOWS_S["30d"]), "1h": HOUR_S}

    def _trim(self, now: float) -> None:
        keep = max(HOUR_S, now - min((b.at for b in self.bases.values()), default=now)) \
            + OVERLAP_S
        while self.live and self.live[0][0] < now - keep:
            self.live.popleft()
        while self.attempts and (self.attempts[0][0] < now - RECENT_S
                                 or len(self.attempts) > RECENT_MAX):
            self.attempts.popleft()

    # ------------------------------------------------------------ reading --
    def windows(self, now: float) -> tuple[AbandonWindow, ...]:
        """The regulatory window and the last hour: the CRM's counts + ours since its read."""
        self._trim(now)
        out = []
        for name, span in self.spans().items():
            base = self.bases.get(name, Base())
            answers, abandons = base.live_answers, base.abandons
            start = max(base.at, now - span)
            for at, abandoned in self.live:
                if at >= start:
                    answers += 1
                if abandoned and at >= start - OVERLAP_S and at >= now - span:
                    abandons += 1
            out.append(AbandonWindow(name, answers, abandons, name == self.regulatory))
        return tuple(out)

    def recent(self, now: float, span: float = ALARM_WINDOW_S) -> AbandonWindow:
        """Our own live answers and abandons over the last ``span`` (the alarm's window),
        since :attr:`alarm_from` (a manager resumed predictive dialling)."""
        start = max(now - span, self.alarm_from)
        live = [abandoned for at, abandoned in self.live if at >= start]
        return AbandonWindow(f"{span / 60:g}min", len(live), sum(live))

    def answer_rates(self, now: float) -> tuple[float, float]:
        """(live answers per dial, live answers per answered call) observed lately, each with
        one live answer added (no data reads as 1.0: every call answers until seen otherwise)."""
        self._trim(now)
        live = sum(1 for _, is_live, _ in self.attempts if is_live)
        answered = sum(1 for _, _, was in self.attempts if was)
        return (live + 1) / (len(self.attempts) + 1), (live + 1) / (answered + 1)
