"""Test helpers for the real Asterisk: an awaitable event log and SIPp agent phones."""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from ari_app.ari import AriEvent, AriEventStream, Reconnected

HERE = Path(__file__).resolve().parent
SIPP = HERE / "sipp"

Predicate = Callable[[AriEvent], bool]


class EventLog:
    """Every event our app received, with waiting on a condition (never sleeping)."""

    def __init__(self) -> None:
        self.events: list[AriEvent] = []
        self.connections: list[int] = []
        self.stream: AriEventStream | None = None
        self._changed = asyncio.Condition()

    async def add(self, event: AriEvent) -> None:
        async with self._changed:
            self.events.append(event)
            self._changed.notify_all()

    async def connected(self, marker: Reconnected) -> None:
        self.connections.append(marker.count)

    def matching(self, predicate: Predicate) -> list[AriEvent]:
        return [e for e in self.events if predicate(e)]

    async def wait_for(self, predicate: Predicate, timeout: float = 10.0) -> AriEvent:
        async with self._changed:
            try:
                async with asyncio.timeout(timeout):
                    while True:
                        for event in self.events:
                            if predicate(event):
                                return event
                        await self._changed.wait()
            except TimeoutError:
                seen = [(e.type, e.channel_id, e.args, e.dial_status) for e in self.events][-30:]
                raise AssertionError(f"no event matched within {timeout} s; last: {seen}") from None

    def of_channel(self, channel_id: str, event_type: str | None = None) -> list[AriEvent]:
        return [
            e for e in self.events
            if e.channel_id == channel_id and (event_type is None or e.type == event_type)
        ]


class SippPhone:
    """An agent phone: SIPp registers the extension, then answers every INVITE with RTP."""

    def __init__(self, extension: str, port: int, media_port: int, wav: Path, work: Path) -> None:
        self.extension = extension
        self.port = port
        self.media_port = media_port
        self.wav = wav
        self.work = work
        self.process: subprocess.Popen[bytes] | None = None

    def _common(self) -> list[str]:
        return ["-i", "127.0.0.1", "-p", str(self.port), "-nostdin", "-trace_err",
                "-error_file", str(self.work / f"sipp-{self.extension}.err")]

    def register(self) -> None:
        done = subprocess.run(
            ["sipp", "127.0.0.1:5060", "-sf", str(SIPP / "register.xml"),
             "-s", self.extension, "-au", self.extension, "-ap", f"sandbox-{self.extension}",
             "-m", "1", "-timeout", "10", "-timeout_error", *self._common()],
            capture_output=True, timeout=20,
        )
        if done.returncode != 0:
            raise RuntimeError(
                f"SIPp could not register {self.extension}: rc={done.returncode} "
                f"{done.stdout[-500:]!r} {done.stderr[-500:]!r}"
            )

    def start(self) -> None:
        self.register()
        scenario = self.work / f"answer-{self.extension}.xml"
        scenario.write_text((SIPP / "answer.xml").read_text().replace("[wav]", str(self.wav)))
        self.process = subprocess.Popen(
            ["sipp", "-sf", str(scenario), "-mi", "127.0.0.1", "-mp", str(self.media_port),
             "-aa", *self._common()],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        time.sleep(0.05)
        if self.process.poll() is not None:
            raise RuntimeError(f"SIPp UAS for {self.extension} exited at once")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
