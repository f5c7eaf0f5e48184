"""Simulated agent phones: SIPp registers an extension, then answers every INVITE with RTP.

Used by the demo (simulated agents) and the tests. SIPp comes from Debian's
``sip-tester``; the scenarios are in ``sipp/``.
"""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

from ari_app.ami import AmiClient
from ari_app.ari import AriClient

SIPP = Path(__file__).resolve().parent / "sipp"
QUALIFY_TIMEOUT_S = 3.0  # res_pjsip's default qualify_timeout (asterisk-config/pjsip.conf)


def phone_ports(extension: str) -> tuple[int, int]:
    """SIP on 5000+ext, media on 30000+10*(ext-1000): outside Asterisk's RTP range,
    and 10 apart because SIPp binds more than one media port."""
    number = int(extension)
    return 5000 + number, 30000 + 10 * (number - 1000)


class SippPhone:
    """An agent phone: SIPp registers the extension, then answers every INVITE with RTP."""

    def __init__(self, extension: str, port: int, media_port: int, wav: Path, work: Path,
                 password: str | None = None) -> None:
        self.extension = extension
        self.password = password or f"sandbox-{extension}"
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
             "-s", self.extension, "-au", self.extension, "-ap", self.password,
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


async def start_phone(extension: str, wav: Path, work: Path, ami: AmiClient, ari: AriClient,
                      password: str | None = None) -> SippPhone:
    """Start a phone and return once Asterisk sees it reachable, and still reachable after any
    qualify sent before SIPp listened has timed out.

    The qualify Asterisk sends right after REGISTER finds no SIPp listening (the
    registering SIPp has exited), so ask for a qualify again until it is online. A qualify
    already in flight when SIPp started (right after REGISTER, or the periodic one) times out
    up to ``QUALIFY_TIMEOUT_S`` later and marks the contact unreachable, and Asterisk does not
    dial an unreachable contact: so the phone must stay online that long.
    """
    port, media_port = phone_ports(extension)
    phone = SippPhone(extension, port, media_port, wav, work, password)
    await asyncio.to_thread(phone.start)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 20
    online_since: float | None = None
    while loop.time() < deadline:
        state = await ari.request("GET", f"/endpoints/PJSIP/{extension}")
        now = loop.time()
        if state.get("state") == "online":
            online_since = now if online_since is None else online_since
            if now - online_since >= QUALIFY_TIMEOUT_S + 0.3:
                return phone
            await asyncio.sleep(0.25)
            continue
        online_since = None
        await ami.action("PJSIPQualify", Endpoint=extension)
        await asyncio.sleep(0.1)
    phone.stop()
    raise RuntimeError(f"phone {extension} never became reachable")
