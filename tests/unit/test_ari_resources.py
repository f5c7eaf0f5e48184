"""ARI's JSON is read in the adapter: the typed resources callers get instead."""

from __future__ import annotations

from datetime import UTC, datetime

from ari_app.ari import ApplicationInfo, AriEvent, AsteriskInfo, BridgeInfo, ChannelInfo


def test_given_channel_json_when_parsed_then_ids_app_and_media_connection() -> None:
    channel = ChannelInfo.from_json({
        "id": "fork-snoop-1", "name": "Snoop/call-1-00000001", "state": "Up",
        "dialplan": {"app_name": "Stasis", "app_data": "dialcrm,audio-fork"},
        "channelvars": {"MEDIA_WEBSOCKET_CONNECTION_ID": "conn-9"}})
    assert (channel.id, channel.name, channel.state) == ("fork-snoop-1",
                                                         "Snoop/call-1-00000001", "Up")
    assert channel.in_app("dialcrm") and not channel.in_app("dialcrm-demo")
    assert channel.media_connection_id == "conn-9"
    assert not ChannelInfo.from_json({"id": "x"}).in_app("dialcrm")


def test_given_bridge_json_when_parsed_then_members_and_creation_time() -> None:
    bridge = BridgeInfo.from_json({"id": "b1", "channels": ["c1", "c2"],
                                   "creationtime": "2026-11-26T15:03:43.685+0000"})
    assert bridge.channels == ("c1", "c2")
    assert bridge.created == datetime(2026, 11, 26, 15, 3, 43, 685000, tzinfo=UTC)
    bare = BridgeInfo.from_json({"id": "b2", "creationtime": "yesterday"})
    assert (bare.channels, bare.created) == ((), None)


def test_given_info_and_application_json_when_parsed_then_fields_used() -> None:
    info = AsteriskInfo.from_json({"status": {"startup_time": "2026-12-07T10:00:00.000+0000"},
                                   "system": {"version": "22.1.0"}})
    assert (info.startup_time, info.version) == ("2026-12-07T10:00:00.000+0000", "22.1.0")
    assert AsteriskInfo.from_json({}) == AsteriskInfo("", None)
    app = ApplicationInfo.from_json({"name": "dialcrm", "channel_ids": ["c1"],
                                     "bridge_ids": ["b1", "b2"]})
    assert (app.channel_ids, app.bridge_ids) == (("c1",), ("b1", "b2"))


def test_given_event_timestamp_when_parsed_then_epoch_seconds_or_none() -> None:
    event = AriEvent.from_json({"type": "StasisStart", "timestamp": "2026-11-26T15:03:43.685+0000"})
    assert event.timestamp is not None and abs(event.timestamp - 1795705423.685) < 1e-6
    assert AriEvent.from_json({"type": "StasisStart", "timestamp": "bad"}).timestamp is None
