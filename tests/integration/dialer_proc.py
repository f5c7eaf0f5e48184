"""The controller as its own process, for the kill -9 fault test.

``python -m tests.integration.dialer_proc WORK --app APP [--campaign NUMBERS --agent EXT]``
runs the whole controller (ARI events, dialer, outbox, in-process CRM on SQLite) with its state
in WORK (``crm.sqlite3``, ``dialer.sqlite3``). With ``--campaign`` it first creates a progressive
campaign of those numbers and logs the agent in (the first start); without it, it only starts
and recovers what the previous process persisted (a restart). Agents dispose every call with
``not_interested``. Every 0.2 s it writes its state to ``WORK/status.json`` (atomic replace) for
the test to poll. SIGTERM stops it cleanly; SIGKILL is the fault under test.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

from ari_app.ari import AriConfig
from ari_app.dialer.model import CampaignConfig, DialMode
from ari_app.testing import DialerRig


async def _write_status(rig: DialerRig, work: Path, extra: dict[str, Any]) -> None:
    snap = rig.dialer.snapshot().as_json()
    snap["pid"] = os.getpid()
    snap["reconciler_runs"] = rig.dialer.reconciler.runs
    snap["outbox"] = await rig.store.outbox_stats()
    snap["call_phases"] = {c.call_id: c.phase.value for c in rig.dialer.calls.calls.values()}
    snap.update(extra)
    tmp = work / "status.json.tmp"
    tmp.write_text(json.dumps(snap, default=str))
    tmp.replace(work / "status.json")


async def run(work: Path, app: str, numbers: list[str], agent: str | None) -> None:
    config = AriConfig(
        url=os.environ.get("ASTERISK_ARI_URL", "http://127.0.0.1:8088"),
        user=os.environ.get("ASTERISK_ARI_USER", "dialcrm"),
        password=os.environ.get("ASTERISK_ARI_PASSWORD", "dialcrm-sandbox-ari"),
        app=app,
    )
    rig = DialerRig(config, work)
    await rig.start(worker="dialer-proc")
    rig.auto_dispose("not_interested")
    extra: dict[str, Any] = {}
    if numbers:
        campaign_id = await rig.campaign_with_leads("killed controller", numbers)
        await rig.dialer.start_campaign(CampaignConfig(
            campaign_id, mode=DialMode.PROGRESSIVE, ring_timeout_s=6, wrap_up_limit_s=20))
        assert agent is not None
        await rig.dialer.login(f"agent{agent}", agent, campaign_id)
        (work / "campaign_id").write_text(campaign_id)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    while not stop.is_set():
        await _write_status(rig, work, extra)
        try:
            async with asyncio.timeout(0.2):
                await stop.wait()
        except TimeoutError:
            pass
    await rig.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("work", type=Path)
    parser.add_argument("--app", required=True)
    parser.add_argument("--campaign", nargs="*", default=[])
    parser.add_argument("--agent")
    args = parser.parse_args(argv)
    asyncio.run(run(args.work, args.app, args.campaign, args.agent))
    return 0


if __name__ == "__main__":
    sys.exit(main())
