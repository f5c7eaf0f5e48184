"""Simulator vs real calls (issue 18 #4): one predictive campaign on the sandbox, and the
project's simulator's prediction for the same scenario, side by side.

    python bench/pacing_live.py --quick --json bench/results/pacing_live.json   # 2 live minutes
    python bench/pacing_live.py --json bench/results/pacing_live_full.json      # 20 live minutes

Live: the whole dialer in-process (``ari_app.testing.DialerRig``: the CRM on SQLite) on the
sandbox Asterisk, 10 SIPp agent phones (1001-1010), a predictive campaign (model pacing, hard
abandon brake, 3 % cap, 2 s abandon rule, 25 s ring timeout) over ``sim-pstn-hold`` numbers
drawn to answer like the scenario: humans 30 % (ringing 1-10 s, uniform), busy 4.5 %,
answering machines 12 % (AMD hangs up), the rest ring out. The simulated agents end each call
after a talk time drawn lognormal (mean 30 s, cv 1) and dispose 5 s into wrap-up. Measured:
occupancy (talk + wrap-up over staffed time) from the agents' state changes, the abandon rate
from the CRM's call records, and what the simulator takes as given: ring time (dial ->
answer), AMD time (answer -> verdict, by verdict), connect latency (verdict -> bridged).

Sim: ``predictive.sim`` with the same scenario (10 agents, p 0.30, talk 30 s cv 1, wrap 5 s,
the live mix of outcomes and ring times, the AMD delay measured live, no pauses, the same
length of day), the same policy (``PredictivePolicy`` defaults, cold start) under the same hard
abandon brake (:class:`Braked`), over ``--seeds`` seeds; and the policy alone, as
``bench/pacing.py`` runs it, beside.

The sandbox lock (/tmp/dialcrm-sandbox.lock) is held for the whole live run (set
DIALCRM_SANDBOX_LOCK_HELD=1 when running it under ``flock`` yourself); the sandbox is
brought up (or its configuration re-laid: ``sim-pstn-hold``) from this tree unless
ASTERISK_ARI_URL names another Asterisk.
"""

from __future__ import annotations

import argparse
import asyncio
import fcntl
import json
import math
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ari_app import sandbox  # noqa: E402
from ari_app.ami import AmiClient, AmiConfig  # noqa: E402
from ari_app.ari import AriClient, AriConfig, AriEvent  # noqa: E402
from ari_app.dialer.events import AgentStateChanged  # noqa: E402
from ari_app.dialer.model import AgentState, CallAttempt, CampaignConfig, DialMode  # noqa: E402
from ari_app.sim import SippPhone, start_phone  # noqa: E402
from ari_app.testing import DialerRig, wait_until  # noqa: E402
from predictive.pacing.brake import AbandonWindow, BrakeInput, brake  # noqa: E402
from predictive.pacing.policy import PredictivePolicy  # noqa: E402
from predictive.pacing.types import (  # noqa: E402
    AttemptEnded,
    AttemptOutcome,
    DialDecision,
    PacingEvent,
    PacingSnapshot,
)
from predictive.sim.engine import simulate_day  # noqa: E402
from predictive.sim.metrics import summarize  # noqa: E402
from predictive.sim.scenario import Scenario  # noqa: E402

LOCK = Path(os.environ.get("DIALCRM_SANDBOX_LOCK", "/tmp/dialcrm-sandbox.lock"))
ANSWER, BUSY, MACHINE = 0.30, 0.045, 0.12
TALK_MEAN_S, TALK_CV, WRAP_S, RING_TIMEOUT_S, CAP = 30.0, 1.0, 5.0, 25, 0.03
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)  # every record of the run's fresh campaign
STAFFED = (AgentState.READY, AgentState.RESERVED, AgentState.ON_CALL, AgentState.WRAP_UP)
HANDLING = (AgentState.ON_CALL, AgentState.WRAP_UP)


def draw_numbers(rng: np.random.Generator, n: int) -> list[str]:
    """sim-pstn numbers (extensions.conf: Y = ringing 1 + Y s, Z = outcome): 0 human,
    6 busy, 4 machine, 5 rings out."""
    u = rng.random(n)
    z = np.where(u < ANSWER, 0, np.where(u < ANSWER + BUSY, 6,
                                         np.where(u < ANSWER + BUSY + MACHINE, 4, 5)))
    y = rng.integers(0, 10, n)
    return [f"+86138{i:05d}0{yy}{zz}" for i, (yy, zz) in enumerate(zip(y, z, strict=True))]


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, 100 * q)) if values else float("nan")


def spread(values: list[float]) -> dict[str, float]:
    if not values:
        return {"n": 0}
    return {"n": len(values), "mean": round(statistics.fmean(values), 3),
            "p10": round(pct(values, 0.1), 3), "p50": round(pct(values, 0.5), 3),
            "p90": round(pct(values, 0.9), 3)}


@dataclass
class StateLog:
    """Every agent's state changes (the bus), to time their states over a window."""

    changes: dict[str, list[tuple[float, AgentState]]] = field(
        default_factory=lambda: defaultdict(list))

    def add(self, event: AgentStateChanged) -> None:
        self.changes[event.agent_id].append((event.at, event.state))

    def seconds(self, t0: float, t1: float) -> dict[AgentState, float]:
        out: dict[AgentState, float] = defaultdict(float)
        for changes in self.changes.values():
            for (at, state), nxt in zip(changes, [*changes[1:], (t1, None)], strict=True):
                lo, hi = max(at, t0), min(nxt[0], t1)
                if hi > lo:
                    out[state] += hi - lo
        return out


@dataclass
class CallLog:
    ring: list[float] = field(default_factory=list)  # dial -> the channel answered (humans)
    amd_human: list[float] = field(default_factory=list)  # answer -> HUMAN/NOTSURE verdict
    connect: list[float] = field(default_factory=list)  # verdict -> bridged
    verdicts: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def live(self, call: CallAttempt, abandoned: bool) -> None:
        if call.answered_at is None or call.handed_at is None:
            return
        self.ring.append(call.answered_at - call.originated_at)
        self.amd_human.append(call.handed_at - call.answered_at)
        self.verdicts[call.amd_status or "none"] += 1
        if call.bridged_at is not None and not abandoned:
            self.connect.append(call.bridged_at - call.handed_at)


def amd_by_verdict(events: list[AriEvent]) -> dict[str, list[float]]:
    """Answer (first StasisStart) -> verdict (StasisStart amd ...) per verdict, from Asterisk's
    own event timestamps."""
    answered: dict[str, float] = {}
    out: dict[str, list[float]] = defaultdict(list)
    for e in events:
        cid = e.channel_id or ""
        if e.type != "StasisStart" or not cid.startswith("call-") or e.timestamp is None:
            continue
        if e.args[:1] == ("customer",):
            answered[cid] = e.timestamp
        elif e.args[:1] == ("amd",) and cid in answered:
            out[e.args[1] if len(e.args) > 1 else "?"].append(e.timestamp - answered.pop(cid))
    return out


async def run_live(minutes: float, agents: int, seed: int, work: Path,
                   box: sandbox.Sandbox) -> dict[str, Any]:
    config = AriConfig(
        url=os.environ.get("ASTERISK_ARI_URL", box.ari_url),
        user=os.environ.get("ASTERISK_ARI_USER", box.ari_user),
        password=os.environ.get("ASTERISK_ARI_PASSWORD", box.ari_password),
        app=f"dialcrm-bench-{os.getpid()}")
    rng = np.random.default_rng(seed)
    leads = int(minutes * 60 * agents / 10)  # ~1 dial per agent per 10 s, with margin
    rig = DialerRig(config, work)
    await rig.start("bench-pacing-live")
    ami = AmiClient(AmiConfig())
    await ami.connect()
    ari = AriClient(config)
    phones: list[SippPhone] = []
    try:
        campaign_id = await rig.campaign_with_leads("pacing live", draw_numbers(rng, leads))
        states, calls = StateLog(), CallLog()
        sub = rig.bus.subscribe(lambda e: isinstance(e, AgentStateChanged))

        async def follow() -> None:
            while True:
                event = await sub.get()
                assert isinstance(event, AgentStateChanged)
                states.add(event)

        follower = asyncio.create_task(follow())
        rig.dialer.calls.on_live.append(calls.live)
        wav = box.path("/usr/share/asterisk/sounds/dialcrm") / "agent-talk.ulaw.wav"
        for i in range(agents):
            ext = str(1001 + i)
            phones.append(await start_phone(ext, wav, work, ami, ari))
            await rig.dialer.login(f"agent{ext}", ext, campaign_id)
        mu = math.log(TALK_MEAN_S) - math.log(1 + TALK_CV**2) / 2
        sigma = math.sqrt(math.log(1 + TALK_CV**2))
        rig.scripted_agents(wrap_s=lambda _a: WRAP_S,
                            talk_s=lambda _a: max(1.0, float(rng.lognormal(mu, sigma))))

        async def all_ready() -> bool:
            sessions = [s for s in rig.dialer.agents.sessions.values()]
            return len(sessions) == agents and all(
                s.state is AgentState.READY for s in sessions)

        await wait_until(all_ready, timeout=30, what="every agent ready")
        t0 = time.time()
        await rig.dialer.start_campaign(CampaignConfig(
            campaign_id, mode=DialMode.PREDICTIVE, pacing="model", abandon_target=CAP,
            abandon_after_s=2.0, ring_timeout_s=RING_TIMEOUT_S, wrap_up_limit_s=60.0,
            record=False, max_lines=4 * agents,
            channel_template="Local/{number}@sim-pstn-hold"))
        await asyncio.sleep(minutes * 60)  # the bench's length (a run, not a wait for an event)
        t1 = time.time()
        counters = rig.dialer.calls.counters[campaign_id]
        await rig.dialer.stop_campaign(campaign_id)

        # the calls still up after the run: their abandons are decided 2 s after an answer;
        # then they are hung up (a bench's ending, not part of what it measures)
        await asyncio.sleep(5)
        for call in rig.dialer.calls.in_flight(campaign_id):
            try:
                await rig.dialer.calls.hangup(call.call_id)
            except Exception:  # noqa: BLE001 - gone meanwhile
                pass

        async def calls_over() -> bool:
            return not rig.dialer.calls.in_flight(campaign_id)

        await wait_until(calls_over, timeout=120, what="the last calls to end")

        async def crm_has_all() -> bool:
            answers, abandons = await rig.crm.abandon_counts(
                uuid.UUID(campaign_id), EPOCH)
            return answers >= counters.live_answers and abandons >= counters.abandons

        await wait_until(crm_has_all, timeout=120, what="the CRM's records of every call")
        answers, abandons = await rig.crm.abandon_counts(uuid.UUID(campaign_id), EPOCH)
        secs = states.seconds(t0, t1)
        staffed = sum(secs[s] for s in STAFFED)
        handling = sum(secs[s] for s in HANDLING)
        follower.cancel()
        amd = amd_by_verdict(rig.events.events)
        return {
            "minutes": minutes, "agents": agents, "leads": leads,
            "occupancy": round(handling / staffed, 4) if staffed else None,
            "abandon_rate": round(abandons / answers, 4) if answers else 0.0,
            "live_answers_crm": answers, "abandons_crm": abandons,
            "dials": counters.dials, "connects": counters.connects,
            "machines": counters.machines,
            "talk_s_per_agent_hour": round(secs[AgentState.ON_CALL] / staffed * 3600, 1)
            if staffed else None,
            "ring_s": spread(calls.ring), "amd_s_live": spread(calls.amd_human),
            "amd_s_by_verdict": {k: spread(v) for k, v in sorted(amd.items())},
            "connect_s": spread(calls.connect), "verdicts": dict(calls.verdicts),
            "load_avg_1m": round(os.getloadavg()[0], 2),
        }
    finally:
        await ami.close()
        await ari.close()
        await rig.close()
        for phone in phones:
            phone.stop()


def sim_scenario(minutes: float, agents: int, amd_s: tuple[float, float]) -> Scenario:
    return Scenario(
        name=f"live_n{agents}_p30_t30", agents=agents, answer_rate=ANSWER,
        talk_mean_s=TALK_MEAN_S, talk_cv=TALK_CV, wrap_s=int(WRAP_S), busy_rate=BUSY,
        machine_rate=MACHINE, amd_false_negative=0.0, amd_false_positive=0.0,
        amd_delay_s=amd_s, ring_timeout_s=RING_TIMEOUT_S, ring_clusters=((1, 10, 1.0),),
        busy_detect_s=(1, 1), day_s=int(minutes * 60), pauses_per_agent=0, cap=CAP,
        max_lines_per_agent=4.0)


class Braked:
    """``PredictivePolicy`` under the dialer's hard abandon brake (predictive/pacing/brake.py),
    as the live campaign runs it: the sim's own counts as the regulatory window (and the last
    hour: the same, a run is shorter), the answer rate observed over the last 200 attempts."""

    name = "predictive+brake"

    def __init__(self) -> None:
        self.inner = PredictivePolicy()
        self.recent: list[bool] = []

    def start_day(self, view: object) -> None:
        self.inner.start_day(view)

    def observe(self, event: PacingEvent, now: float) -> None:
        self.inner.observe(event, now)
        if isinstance(event, AttemptEnded):
            self.recent = [*self.recent[-199:], event.outcome is AttemptOutcome.LIVE]

    def decide(self, snapshot: PacingSnapshot) -> DialDecision:
        d = self.inner.decide(snapshot)
        st = snapshot.stats
        windows = (AbandonWindow("30d", st.live_answers, st.abandons, regulatory=True),
                   AbandonWindow("1h", st.live_answers, st.abandons))
        count = brake(BrakeInput(
            proposed=d.count, free_agents=len(snapshot.ready), ringing=len(snapshot.in_flight),
            answer_rate=(sum(self.recent) + 1) / (len(self.recent) + 1), windows=windows,
            cap=snapshot.target_abandon, waiting=snapshot.waiting_calls)).count
        return d if count == d.count else DialDecision(count, d.lead_ids[:count], d.reason)


def run_sim(s: Scenario, seeds: int, braked: bool = False) -> dict[str, Any]:
    days = [simulate_day(s, Braked() if braked else PredictivePolicy(), seed)
            for seed in range(seeds)]
    m = summarize(days, s.cap)
    occ = [d.occupancy for d in days]
    ab = [d.abandon_rate for d in days]
    return {
        "scenario": {k: v for k, v in asdict(s).items() if k != "tags"},
        "seeds": seeds, "occupancy": round(m.occupancy, 4),
        "occupancy_sd_day": round(statistics.pstdev(occ), 4),
        "abandon_rate": round(m.abandon_mean, 4),
        "abandon_sd_day": round(statistics.pstdev(ab), 4),
        "dials_per_day": round(statistics.fmean(d.dials for d in days), 1),
        "live_answers_per_day": round(statistics.fmean(d.live_answers for d in days), 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 live minutes (20 by default)")
    parser.add_argument("--minutes", type=float, help="live minutes (overrides --quick)")
    parser.add_argument("--agents", type=int, default=10)
    parser.add_argument("--seeds", type=int, default=20, help="simulated days")
    parser.add_argument("--seed", type=int, default=0, help="the live run's number draws")
    parser.add_argument("--json", type=Path, help="write the results here too")
    args = parser.parse_args()
    minutes = args.minutes or (2.0 if args.quick else 20.0)
    box = sandbox.Sandbox.from_env()
    with LOCK.open("a") as lock:
        if os.environ.get("DIALCRM_SANDBOX_LOCK_HELD") != "1":  # else a caller holds it
            fcntl.flock(lock, fcntl.LOCK_EX)  # one user of the sandbox at a time
        if not os.environ.get("ASTERISK_ARI_URL"):
            sandbox.up(box)  # (re)lays this tree's configuration: sim-pstn-hold
        with tempfile.TemporaryDirectory() as tmp:
            live = asyncio.run(run_live(minutes, args.agents, args.seed, Path(tmp), box))
    amd = live["amd_s_live"]
    amd_range = (round(amd.get("p10", 2.0), 1), round(amd.get("p90", 2.0), 1)) \
        if amd.get("n") else (1.5, 5.0)
    scenario = sim_scenario(minutes, args.agents, amd_range)
    sim = run_sim(scenario, args.seeds, braked=True)  # as the live dialer runs it
    bare = run_sim(scenario, args.seeds)  # the policy alone (bench/pacing.py's rows)
    occ_gap = (live["occupancy"] or 0.0) - sim["occupancy"]
    ab_gap = live["abandon_rate"] - sim["abandon_rate"]
    result = {"live": live, "sim": sim, "sim_without_brake": bare,
              "gap_points": {"occupancy": round(100 * occ_gap, 2),
                             "abandon_rate": round(100 * ab_gap, 2)}}
    print(f"{'':16}{'live (1 run)':>14}{'sim+brake':>12}{'gap (pt)':>10}{'sim, no brake':>15}"
          f"   sim: {args.seeds} seeds")
    print(f"{'occupancy':16}{live['occupancy']:>14.3f}{sim['occupancy']:>12.3f}"
          f"{100 * occ_gap:>+10.1f}{bare['occupancy']:>15.3f}")
    print(f"{'abandon rate':16}{live['abandon_rate']:>14.2%}{sim['abandon_rate']:>12.2%}"
          f"{100 * ab_gap:>+10.2f}{bare['abandon_rate']:>15.2%}")
    print(f"{'live answers':16}{live['live_answers_crm']:>14}"
          f"{sim['live_answers_per_day']:>12.0f}{'':>10}{bare['live_answers_per_day']:>15.0f}")
    print(f"{'dials':16}{live['dials']:>14}{sim['dials_per_day']:>12.0f}{'':>10}"
          f"{bare['dials_per_day']:>15.0f}")
    print(f"# {minutes:g} live minutes, {args.agents} agents; AMD answer->verdict "
          f"(live humans) mean {amd.get('mean')} s p10-p90 {amd.get('p10')}-{amd.get('p90')} s "
          f"(sim drew {amd_range[0]}-{amd_range[1]} s); by verdict: "
          + ", ".join(f"{k} {v.get('mean')} s (n={v['n']})"
                      for k, v in live["amd_s_by_verdict"].items())
          + f"; ring mean {live['ring_s'].get('mean')} s; verdict->bridged p50 "
          f"{live['connect_s'].get('p50')} s; load {live['load_avg_1m']}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
