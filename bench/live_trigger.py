"""Live path: end of a spoken trigger phrase -> the CRM task existing, on real calls.

    python bench/live_trigger.py [--quick] [--calls K] [--agents 1007,1008] [--json PATH]
                                 [--variants 500/5,300/1]

On the sandbox Asterisk (the running one, else started with ``ari_app.sandbox``), a
progressive campaign dials K sim-pstn humans (``[sim-pstn]``: "Hello?", 3 s, then the
``customer-talk`` prompt "Yes, I saw your offer. The price is too expensive for us. Please
call me next week.") bridged to SIPp agent phones. Everything else is the app's own wiring,
in-process, as ``dialcrm serve`` has it: the audio fork (snoop + chan_websocket) of both
speakers, the recogniser pool (``pool_from(DialerSettings())``: the demo's model, one worker
per speaker, started before the calls as with ``asr_start = "eager"``), the dialer's durable
``transcripts`` outbox lane, ``CrmService.add_transcript_segment`` and the default in-call
rules. Two triggers per call: "...price..." creates the quote task (``quote-on-price``),
"...call me next week" the callback task (``callback-requested``).

The clock: the phrase's end on the call's timeline is the moment Asterisk starts playing
``customer-talk`` to the customer's channel (AMI ``Newexten`` Playback, as received) plus the
phrase's end offset in the prompt wav (the end of the last 10 ms window above the energy
threshold of that sentence, found in the very file Asterisk plays). The task's existence is
the ``task_created`` push, sent after the rule's transaction committed. Breakdown per trigger:
 - vad_queue: phrase end -> the worker began decoding the utterance (segment arrival minus
   the decode time): the VAD's end-of-utterance silence, the audio's way through the fork,
   and any wait behind the same worker's earlier utterances;
 - recognition: the worker's decode time of that utterance (``decode_s``);
 - outbox: segment from the recogniser -> the outbox lane handed it to the CRM port;
 - crm_rules: push_transcript called -> ``task_created`` pushed (store segment, rules, task).

``--variants SILENCE/BEAMS,...`` runs the whole set once per live-path setting (VAD
end-of-utterance silence in ms / Whisper beam size), in the same run, so before/after compare
on the same machine load (the full run: the old 500/5 and the shipped setting). Word error
rate of each call's customer transcript against the prompt's text is printed beside (a
shorter silence that chops words, or fewer beams, would show there). The load average is
printed beside every figure: 2 shared cores.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import statistics
import sys
import tempfile
import time
import wave
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ari_app import sandbox  # noqa: E402
from ari_app.ami import AmiClient, AmiConfig, AmiEvent  # noqa: E402
from ari_app.ari import AriClient, AriConfig  # noqa: E402
from ari_app.dialer.model import CampaignConfig, DialMode  # noqa: E402
from ari_app.settings import DialerSettings  # noqa: E402
from ari_app.sim import start_phone  # noqa: E402
from ari_app.speech.fork import ForkConfig  # noqa: E402
from ari_app.speech.live import AudioForks  # noqa: E402
from ari_app.speech.types import TranscriptSegment  # noqa: E402
from ari_app.testing import DialerRig  # noqa: E402
from crm.domain.enums import Role  # noqa: E402
from web.metrics.loop_lag import with_loop_lag  # noqa: E402
from web.transcripts.wiring import attach_forks, pool_from, prompt_for  # noqa: E402

PROMPT = "customer-talk"
SAID = "Hello? Yes, I saw your offer. The price is too expensive for us. Please call me next week."
# trigger -> (the sentence of the prompt that carries it, its keyword in the transcript)
TRIGGERS = {"quote-on-price": (1, "price"), "callback-requested": (2, "week")}
PAD_S = 0.2  # VadConfig.pad_ms: an utterance's end is padded by this much
SIM_TALK_0 = "000"  # last digits: ring 1 s, stay 5 s after the sentence, a human (see [sim-pstn])


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def sentence_ends(wav_path: Path, threshold: float = 200.0, join_s: float = 0.3) -> list[float]:
    """End offsets (s) of the prompt's sentences: runs of 10 ms windows above ``threshold``
    RMS, runs closer than ``join_s`` joined (a comma's pause stays inside its sentence)."""
    with wave.open(str(wav_path)) as w:
        rate = w.getframerate()
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16).astype(np.float64)
    win = rate // 100
    n = len(pcm) // win
    rms = np.sqrt((pcm[: n * win].reshape(n, win) ** 2).mean(axis=1))
    runs: list[list[float]] = []
    for i, loud in enumerate(rms > threshold):
        if not loud:
            continue
        t0, t1 = i / 100, (i + 1) / 100
        if runs and t0 - runs[-1][1] < join_s:
            runs[-1][1] = t1
        else:
            runs.append([t0, t1])
    return [round(r[1], 2) for r in runs]


def wer(ref: str, hyp: str) -> float:
    r, h = (re.findall(r"[a-z']+", s.lower()) for s in (ref, hyp))
    d = list(range(len(h) + 1))
    for i, rw in enumerate(r, 1):
        prev, d[0] = d[0], i
        for j, hw in enumerate(h, 1):
            prev, d[j] = d[j], min(d[j] + 1, d[j - 1] + 1, prev + (rw != hw))
    return d[len(h)] / max(1, len(r))


class TimedStream:
    """A recogniser stream, noting when each segment came out of the worker."""

    def __init__(self, inner: Any, arrivals: list[tuple[float, TranscriptSegment]]) -> None:
        self._inner, self._arrivals = inner, arrivals

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def __aiter__(self) -> AsyncIterator[Any]:
        async for event in self._inner:
            if isinstance(event, TranscriptSegment):
                self._arrivals.append((time.time(), event))
            yield event


class TimedRecogniser:
    def __init__(self, pool: Any) -> None:
        self.pool = pool
        self.arrivals: list[tuple[float, TranscriptSegment]] = []

    async def open_stream(self, *args: Any, **kwargs: Any) -> Any:
        return TimedStream(await self.pool.open_stream(*args, **kwargs), self.arrivals)


class TimedCrm:
    """The dialer's CRM port: when the outbox lane handed each segment over."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.pushed_at: dict[tuple[str, str], float] = {}  # (call, text) -> handed over
        self.end_s: dict[tuple[str, str], float] = {}  # (call, text) -> end in call time

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def push_transcript(self, call_id: str, segment: Mapping[str, Any]) -> None:
        if segment.get("speaker") == "customer" and not segment.get("gap"):
            self.pushed_at.setdefault((call_id, str(segment["text"])), time.time())
            self.end_s.setdefault((call_id, str(segment["text"])), float(segment["end_s"]))
        await self.inner.push_transcript(call_id, segment)


class Pushed:
    """The agents' socket hub, in-process: every live message with its arrival time."""

    def __init__(self) -> None:
        self.sent: list[tuple[float, dict[str, Any]]] = []

    def deliver(self, agent_id: str, message: Mapping[str, Any]) -> int:
        self.sent.append((time.time(), dict(message)))
        return 1


async def run_variant(min_silence_ms: int, beam_size: int, calls: int, agents: list[str],
                      work: Path, ends: list[float], box: sandbox.Sandbox) -> dict[str, Any]:
    config = AriConfig(app=f"dialcrm-bench-live-{os.getpid()}-{min_silence_ms}-{beam_size}")
    rig = DialerRig(config, work)
    await rig.start()
    crm = rig.crm
    await crm.rules.seed_defaults_if_empty()
    pushed = Pushed()
    crm.attach_live(pushed)
    timed_crm = TimedCrm(rig.dialer.crm)
    rig.dialer.crm = timed_crm
    ami = AmiClient(AmiConfig())
    plays: dict[str, float] = {}  # dialled digits -> customer-talk playback start (wall)

    async def on_exten(event: AmiEvent) -> None:
        if event.get("Application") == "Playback" and event.get("AppData") == f"dialcrm/{PROMPT}":
            dialled_as = re.match(r"Local/\+?(\d+)@", event.get("Channel") or "")
            if dialled_as:  # the customer's half of the Local channel: Local/<number>@sim-pstn
                plays.setdefault(dialled_as.group(1), time.time())

    ami.on("Newexten", on_exten)
    await ami.connect()
    ari = AriClient(config)
    prompts = box.path("/usr/share/asterisk/sounds/dialcrm")
    phones = []
    pool = pool_from(DialerSettings(), min_silence_ms=min_silence_ms, beam_size=beam_size)
    await pool.start()  # eager: the model is warm before the first call
    recogniser = TimedRecogniser(pool)
    forks = AudioForks(rig.dialer.control, recogniser, rig.dialer.record_transcript,  # type: ignore[arg-type]
                       ForkConfig(), prompt_for(rig.dialer))
    attach_forks(rig.dialer, forks)
    dialled: dict[str, str] = {}  # call id -> dialled digits
    rig.dialer.calls.on_live.append(
        lambda call, abandoned: dialled.setdefault(call.call_id, re.sub(r"\D", "", call.number)))
    # CN mobiles (+86 139 + 8 digits), distinct per variant; the last 3 digits set the sim
    numbers = [f"+86139{os.getpid() % 100:02d}{(min_silence_ms + beam_size + i) % 1000:03d}"
               f"{SIM_TALK_0}" for i in range(calls)]
    load0 = os.getloadavg()[0]
    t_start = time.monotonic()
    try:
        campaign_id = await rig.campaign_with_leads(f"live {min_silence_ms}/{beam_size}",
                                                    numbers)
        if len(await rig.leads(campaign_id)) != calls:
            raise RuntimeError(f"the CRM took {len(await rig.leads(campaign_id))} of "
                               f"{calls} leads: {numbers}")
        for ext in agents:
            phones.append(await start_phone(ext, prompts / "agent-talk.ulaw.wav", work, ami, ari))
            await crm.auth.create_user(f"agent{ext}", Role.AGENT, password=None)
            await rig.dialer.login(f"agent{ext}", ext, campaign_id)
        rig.auto_dispose("not_interested")
        await rig.dialer.start_campaign(CampaignConfig(campaign_id, mode=DialMode.PROGRESSIVE))
        deadline = time.monotonic() + 60 + 40 * calls / len(agents)
        while time.monotonic() < deadline:
            leads = await rig.leads(campaign_id)
            if all(lead.last_outcome is not None for lead in leads.values()) \
                    and not forks.calls:
                break
            await asyncio.sleep(0.5)
        await asyncio.sleep(2.0)  # the last segments through the outbox
    finally:
        load1 = os.getloadavg()[0]
        now_wall, now_mono = time.time(), time.monotonic()
        leg_wall = {cid: now_wall - (now_mono - leg.t0) for cid, fork in forks.finished.items()
                    for leg in fork.legs if leg.speaker == "customer"}
        await forks.close()
        await pool.stop()
        for ext in agents:  # hang up the nailed-up legs: a killed SIPp sends no BYE
            with contextlib.suppress(Exception):
                await rig.dialer.logout(f"agent{ext}")
        for phone in phones:
            phone.stop()
        await ami.close()
        await ari.close()
        await rig.close()
    wall = time.monotonic() - t_start

    by_call: dict[str, list[tuple[float, TranscriptSegment]]] = {}
    for at, seg in recogniser.arrivals:
        if seg.speaker == "customer":
            by_call.setdefault(seg.call_id, []).append((at, seg))
    samples: list[dict[str, Any]] = []
    wers: list[float] = []
    missed: list[dict[str, Any]] = []
    calls_seen = {m["call_id"] for _, m in pushed.sent if m.get("call_id")} | set(by_call)
    for call_id in sorted(calls_seen):
        digits = dialled.get(call_id)
        played = plays.get(digits) if digits else None
        segs = sorted(by_call.get(call_id, []), key=lambda x: x[1].start)
        text = " ".join(s.text for _, s in segs)
        wers.append(wer(SAID, text))
        for rule_id, (sentence, word) in TRIGGERS.items():
            task = next((at for at, m in pushed.sent if m["type"] == "task_created"
                         and m.get("call_id") == call_id and m.get("rule_id") == rule_id), None)
            hit = next(((at, s) for at, s in segs if word in s.text.lower()), None)
            if played is None or task is None or hit is None:
                missed.append({"call_id": call_id, "rule": rule_id, "transcript": text,
                               "played": played is not None, "task": task is not None})
                continue
            phrase_end = played + ends[sentence + 0]
            arrived, seg = hit
            handed = timed_crm.pushed_at[(call_id, seg.text)]
            # cross-check of the clock: where the recogniser's VAD put the utterance's end
            # (call time, minus its 200 ms pad) against the phrase end from AMI + the wav
            fork = forks.finished.get(call_id)
            leg = next((x for x in fork.legs if x.speaker == "customer"), None) if fork else None
            vad_end = (leg_wall[call_id] + timed_crm.end_s[(call_id, seg.text)] - PAD_S
                       if leg is not None and call_id in leg_wall else None)
            samples.append({
                "call_id": call_id, "rule": rule_id, "text": seg.text,
                "total_s": round(task - phrase_end, 3),
                "vad_queue_s": round(arrived - seg.decode_s - phrase_end, 3),
                "recognition_s": round(seg.decode_s, 3),
                "outbox_s": round(handed - arrived, 3),
                "crm_rules_s": round(task - handed, 3),
                "vad_end_vs_phrase_end_s": None if vad_end is None
                else round(vad_end - phrase_end, 3),
            })
    totals = [s["total_s"] for s in samples]
    row: dict[str, Any] = {
        "variant": f"{min_silence_ms}/{beam_size}", "min_silence_ms": min_silence_ms,
        "beam_size": beam_size, "calls": len(calls_seen), "triggers": len(samples),
        "missed": len(missed),
        "p50_s": round(pct(totals, 0.5), 2), "p95_s": round(pct(totals, 0.95), 2),
        "max_s": round(max(totals), 2) if totals else None,
        **{f"{k}_p50_s": round(pct([s[k] for s in samples], 0.5), 3)
           for k in ("vad_queue_s", "recognition_s", "outbox_s", "crm_rules_s")},
        **{f"{k}_p95_s": round(pct([s[k] for s in samples], 0.95), 3)
           for k in ("vad_queue_s", "recognition_s", "outbox_s", "crm_rules_s")},
        "wer_mean": round(statistics.fmean(wers), 3) if wers else None,
        "vad_end_vs_phrase_end_p50_s": round(pct([s["vad_end_vs_phrase_end_s"] for s in samples
                                                  if s["vad_end_vs_phrase_end_s"] is not None],
                                                 0.5), 3),
        "load_avg_1m": [round(load0, 2), round(load1, 2)], "wall_s": round(wall, 1),
        "samples": samples, "missed_detail": missed,
    }
    return row


HEADER = ("variant", "calls", "triggers", "missed", "p50_s", "p95_s", "max_s",
          "vad_queue_s_p50_s", "recognition_s_p50_s", "outbox_s_p50_s", "crm_rules_s_p50_s",
          "wer_mean", "load_avg_1m")


def print_row(row: dict[str, Any]) -> None:
    print(" | ".join(f"{str(row.get(h)):>14}" for h in HEADER), flush=True)


async def main_async(variants: list[tuple[int, int]], calls: int,
                     agents: list[str]) -> list[dict[str, Any]]:
    box = sandbox.Sandbox.from_env()
    if sandbox.ari_info(box) is None:  # a running sandbox is used as it is (no reload)
        sandbox.up(box)
    ends = sentence_ends(box.path(f"/usr/share/asterisk/sounds/dialcrm/{PROMPT}.wav"))
    print(f"{PROMPT}.wav sentence ends (s): {ends}")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        print(" | ".join(f"{h:>14}" for h in HEADER))
        for silence, beams in variants:
            work = Path(tmp) / f"{silence}-{beams}"
            work.mkdir()
            rows.append(await run_variant(silence, beams, calls, agents, work, ends, box))
            print_row(rows[-1])
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="6 calls, the shipped setting only")
    parser.add_argument("--calls", type=int, help="calls per variant (quick 6, full 20)")
    parser.add_argument("--agents", default="1007,1008", help="SIPp agent extensions")
    parser.add_argument("--variants", help="SILENCE_MS/BEAMS,... to compare (default: the "
                        "shipped one; full: also the former 500/5)")
    parser.add_argument("--json", type=Path, help="write the rows as JSON here")
    args = parser.parse_args()
    from web.transcripts.wiring import LIVE_BEAM_SIZE, LIVE_MIN_SILENCE_MS

    shipped = (LIVE_MIN_SILENCE_MS, LIVE_BEAM_SIZE)
    if args.variants:
        variants = [(int(a), int(b)) for a, b in
                    (v.split("/") for v in args.variants.split(","))]
    elif args.quick:
        variants = [shipped]
    else:
        variants = [(500, 5)] + ([shipped] if shipped != (500, 5) else [])
    calls = args.calls or (6 if args.quick else 20)
    rows, lag = asyncio.run(with_loop_lag(main_async(variants, calls, args.agents.split(","))))
    for row in rows:
        for s in row["samples"]:
            print(f"  [{row['variant']}] {s['rule']:<20} total {s['total_s']:5.2f} s  "
                  f"vadq {s['vad_queue_s']:5.2f}  asr {s['recognition_s']:5.2f}  "
                  f"outbox {s['outbox_s']:5.2f}  crm {s['crm_rules_s']:5.2f}  {s['text']!r}")
        for m in row["missed_detail"]:
            print(f"  [{row['variant']}] MISSED {m}")
    print(f"target: trigger -> task p95 <= 2.0 s; {os.cpu_count()} cores, load average beside")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"rows": rows, "cores": os.cpu_count(),
                                         "target_p95_s": 2.0, "event_loop_lag": lag},
                                        indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
