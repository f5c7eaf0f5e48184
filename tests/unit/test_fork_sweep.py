"""The stale-fork sweep after a (re)connection: it removes what a previous process of this
Stasis app left behind, never the live forks of another app on the same Asterisk (a demo
beside test runs, a second controller), whose channels carry that app in ``app_data``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

from ari_app.ari import BridgeInfo, ChannelInfo
from ari_app.errors import AriNotFound
from web.transcripts.wiring import sweep_stale_forks

APP, OTHER = "dialcrm", "dialcrm-demo"


def _channel(channel_id: str, app_data: str) -> dict[str, Any]:
    return {"id": channel_id, "dialplan": {"app_name": "Stasis", "app_data": app_data}}


def _bridge(bridge_id: str, members: list[str], age_s: float = 5.0) -> dict[str, Any]:
    created = datetime.now(UTC) - timedelta(seconds=age_s)
    return {"id": bridge_id, "channels": members,
            "creationtime": created.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000"}


class Ari:
    def __init__(self) -> None:
        self.channels = [
            _channel("fork-snoop-old", f"{APP},audio-fork"),  # ours, a killed process's
            _channel("fork-media-old", APP),
            _channel("fork-snoop-live", f"{APP},audio-fork"),  # ours, in use now
            _channel("fork-media-live", APP),
            _channel("fork-snoop-theirs", f"{OTHER},audio-fork"),  # another app's, live
            _channel("fork-media-theirs", OTHER),
            _channel("fork-snoop-prefix", f"{APP}-2,audio-fork"),  # a longer app name
            _channel("call-1", f"{APP},dialed"),  # a customer leg: never a fork
        ]
        self.bridges = [
            _bridge("fork-br-old", ["fork-snoop-old", "fork-media-old"]),
            _bridge("fork-br-live", ["fork-snoop-live", "fork-media-live"]),
            _bridge("fork-br-theirs", ["fork-snoop-theirs", "fork-media-theirs"]),
            _bridge("fork-br-mixed", ["fork-snoop-old", "fork-media-theirs"]),
            _bridge("fork-br-empty-old", [], age_s=300),
            _bridge("fork-br-building", [], age_s=1),  # someone's fork being built
            _bridge("agentbridge-agent1001", ["call-1"], age_s=300),
        ]
        self.hung_up: list[str] = []
        self.destroyed: list[str] = []

    async def list_channels(self) -> list[ChannelInfo]:
        return [ChannelInfo.from_json(c) for c in self.channels]

    async def list_bridges(self) -> list[BridgeInfo]:
        return [BridgeInfo.from_json(b) for b in self.bridges]

    async def hangup(self, channel_id: str, reason: str = "normal") -> None:
        self.hung_up.append(channel_id)

    async def destroy_bridge(self, bridge_id: str) -> None:
        if bridge_id == "fork-br-empty-old":
            raise AriNotFound("DELETE", f"/bridges/{bridge_id}", 404, "gone meanwhile")
        self.destroyed.append(bridge_id)


def _forks_using(*channels: str) -> Any:
    leg = SimpleNamespace(channels=channels)
    return SimpleNamespace(calls={"call-live": SimpleNamespace(legs=[leg])})


async def test_given_forks_of_two_apps_when_sweeping_then_only_own_stale_ones_removed() -> None:
    ari = Ari()
    forks = _forks_using("fork-snoop-live", "fork-media-live", "fork-br-live")

    removed = await sweep_stale_forks(forks, ari, APP)

    assert sorted(ari.hung_up) == ["fork-media-old", "fork-snoop-old"]
    assert ari.destroyed == ["fork-br-old"], "another app's bridge (or one it shares) stays"
    assert removed == 3, "the bridge that vanished meanwhile is not counted"


async def test_given_same_asterisk_when_the_other_app_sweeps_then_our_forks_survive() -> None:
    ari = Ari()
    removed = await sweep_stale_forks(_forks_using("fork-snoop-theirs", "fork-media-theirs",
                                                   "fork-br-theirs"), ari, OTHER)
    assert ari.hung_up == [] and ari.destroyed == [] and removed == 0
