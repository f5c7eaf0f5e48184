"""The live audio fork on the real sandbox: a progressive call to a sim-pstn human, bridged to a
SIPp agent phone; the customer's words come back as transcript segments while the call is up.

Prints the figures the issue asks for: utterance end → segment in the CRM, and CPU per second
of call (controller process and recogniser worker).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from ari_app.settings import DialerSettings
from ari_app.speech import PoolConfig, RecogniserPool
from ari_app.speech.fork import FORK_PREFIX, ForkConfig
from ari_app.speech.live import AudioForks
from ari_app.testing import DialerRig, wait_until
from tests.helpers.audio_fork import one_call
from web.transcripts.wiring import pool_from, prompt_for


def _cpu_seconds(pid: int | None) -> float:
    if pid is None:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _no_fork_left(rig: DialerRig, forks: AudioForks, call_id: str) -> None:
    built = {cid for leg in forks.finished[call_id].legs for ids in leg.built for cid in ids}
    channels = {c.id for c in await rig.dialer.control.list_channels()}
    bridges = {b.id for b in await rig.dialer.control.list_bridges()}
    assert not built & (channels | bridges), f"fork channels left behind: {built & channels}"


async def test_given_connected_call_when_customer_speaks_then_transcript_arrives_during_call(
    rig: DialerRig, sipp_phone
) -> None:
    # The app's defaults: base model, one worker per speaker, utterances capped at 8 s.
    pool = pool_from(DialerSettings())
    await pool.start()  # the model is loaded before the call (the demo starts it eagerly)
    forks = AudioForks(rig.dialer.control, pool, rig.dialer.record_transcript,  # type: ignore[arg-type]
                       ForkConfig(), prompt_for(rig.dialer))
    try:
        workers = pool.worker_pids()
        cpu_worker0 = sum(_cpu_seconds(w) for w in workers)
        cpu_self0, wall0 = time.process_time(), time.time()
        call_id, ended_at, crm = await one_call(rig, forks, "1003", sipp_phone)
        cpu_worker = sum(_cpu_seconds(w) for w in workers) - cpu_worker0
        cpu_self = time.process_time() - cpu_self0
        wall = time.time() - wall0
    finally:
        await forks.close()
        await pool.stop()

    mine = crm.of_call(call_id)
    customer = [(at, s) for at, s in mine if s["speaker"] == "customer" and not s.get("gap")]
    agent = [(at, s) for at, s in mine if s["speaker"] == "agent" and not s.get("gap")]
    for at, seg in mine:
        print(f"  {at - ended_at:+6.2f} s vs end  {seg}")
    said = " ".join(s["text"].lower() for _, s in customer)
    assert "price" in said or "expensive" in said, f"customer transcript: {said!r}"
    hit = next(s["segment_id"] for _, s in customer
               if "price" in s["text"].lower() or "expensive" in s["text"].lower())
    assert hit in crm.accepted, "the CRM stored the keyword segment"
    assert crm.accepted[hit] < ended_at, \
        f"the keyword segment was stored {crm.accepted[hit] - ended_at:.2f} s after the call ended"
    assert agent, "the agent's side is forked and transcribed too"
    assert all(s["segment_id"].startswith(f"{call_id}:") for _, s in mine)
    fork = forks.finished[call_id]
    assert all(leg.frames > 100 for leg in fork.legs), [leg.frames for leg in fork.legs]
    await _no_fork_left(rig, forks, call_id)

    lat = sorted(forks.stats.latencies_s)
    seconds = fork.legs[0].stopped_at or wall
    t0_wall = time.time() - (time.monotonic() - fork.legs[0].t0)
    stored = sorted(round(crm.accepted[s["segment_id"]] - (t0_wall + s["end_s"]), 2)
                    for _, s in customer + agent if s["segment_id"] in crm.accepted)
    print(f"\nFORK FIGURES: {len(customer)} customer / {len(agent)} agent segments; "
          f"utterance end -> segment in outbox: p50 {lat[len(lat) // 2]:.2f} s, "
          f"max {lat[-1]:.2f} s (n={len(lat)}); utterance end -> stored by the CRM: "
          f"{stored} s; "
          f"CPU per call-second: controller {cpu_self / wall:.3f} s/s over {wall:.0f} s "
          f"(includes the test's own event handling), recogniser workers "
          f"{cpu_worker / max(seconds, 1):.3f} s/s over {seconds:.1f} s of talk")


async def test_given_recogniser_down_when_call_connected_then_call_completes_and_gap_recorded(
    rig: DialerRig, sipp_phone
) -> None:
    pool = RecogniserPool(PoolConfig(engine="fake"))  # never started: the recogniser is down
    forks = AudioForks(rig.dialer.control, pool, rig.dialer.record_transcript,  # type: ignore[arg-type]
                       ForkConfig(recogniser_retry_s=1.0))
    try:
        call_id, ended_at, crm = await one_call(rig, forks, "1004", sipp_phone)
    finally:
        await forks.close()
    mine = [p["segment"] for p in await rig.store.all_payloads("transcripts")
            if p["call_id"] == call_id]  # durable: the outbox delivers them (in order, retried)
    assert mine and all(seg.get("gap") for seg in mine), mine
    assert {seg["speaker"] for seg in mine} == {"customer", "agent"}
    for seg in mine:
        assert seg["reason"] == "recogniser_unavailable"
        assert seg["start_s"] == 0.0 and seg["end_s"] > 5.0, seg
    assert all(not leg.built for leg in forks.finished[call_id].legs), "nothing forked"
    channels = {c.id for c in await rig.dialer.control.list_channels()}
    assert not any(c.startswith(FORK_PREFIX) and call_id in c for c in channels)


async def test_given_recogniser_crashes_mid_call_when_restarted_then_gap_and_call_goes_on(
    rig: DialerRig, sipp_phone
) -> None:
    pool = RecogniserPool(PoolConfig(engine="fake"))  # the plumbing, without a model
    await pool.start()
    forks = AudioForks(rig.dialer.control, pool, rig.dialer.record_transcript,  # type: ignore[arg-type]
                       ForkConfig())
    killed: list[float] = []

    async def kill_while_customer_talks() -> None:
        async def streaming_4s() -> bool:
            legs = [leg for fork in forks.calls.values() for leg in fork.legs]
            return bool(legs) and all(leg.frames >= 200 for leg in legs)

        await wait_until(streaming_4s, timeout=60, what="4 s of forked audio")
        killed.append(forks.calls[next(iter(forks.calls))].legs[0].now())
        pool.kill_worker(0)

    try:
        call_id, _, _ = await one_call(rig, forks, "1004", sipp_phone, kill_while_customer_talks)
    finally:
        await forks.close()
        await pool.stop()
    mine = [p["segment"] for p in await rig.store.all_payloads("transcripts")
            if p["call_id"] == call_id]
    gaps = [s for s in mine if s.get("gap")]
    assert gaps and {g["reason"] for g in gaps} <= {"worker_crashed", "worker_down"}, mine
    assert all(g["start_s"] <= killed[0] + 0.5 for g in gaps)
    resumed = [s for s in mine if not s.get("gap") and any(
        g["speaker"] == s["speaker"] and s["start_s"] >= g["end_s"] for g in gaps)]
    assert resumed, f"recognition resumed after the restart: {mine}"
    fork = forks.finished[call_id]
    assert all(leg.rebuilds == 0 for leg in fork.legs), "the ARI fork itself was never touched"
    assert pool.health().workers[0].restarts == 1
    await _no_fork_left(rig, forks, call_id)
