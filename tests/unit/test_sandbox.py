"""The sandbox script's pure parts: mirror discovery, paths inside the root, usage."""

from __future__ import annotations

from pathlib import Path

import pytest

from ari_app import sandbox


def test_given_root_with_absolute_symlink_then_path_stays_inside(tmp_path: Path) -> None:
    root = tmp_path / "sid-root"
    (root / "run").mkdir(parents=True)
    (root / "var").mkdir()
    (root / "var/run").symlink_to("/run")
    box = sandbox.Sandbox(cache_dir=tmp_path)

    assert box.path("/var/run/asterisk") == root / "run/asterisk"
    assert box.pid_file == root / "run/asterisk/asterisk.pid"


def test_given_this_machine_then_mirror_comes_from_apt_sources() -> None:
    mirror = sandbox.debian_mirror()
    assert mirror.startswith(("http://", "https://", "file:", "ftp://"))
    sources = " ".join(
        p.read_text() for p in [*Path("/etc/apt/sources.list.d").glob("*.sources"),
                                Path("/etc/apt/sources.list")] if p.exists()
    )
    assert mirror in sources


def test_given_bad_command_then_usage(capsys: pytest.CaptureFixture[str]) -> None:
    assert sandbox.main(["sideways"]) == 2
    assert "usage" in capsys.readouterr().err


def test_given_config_dir_then_every_listener_is_on_loopback() -> None:
    conf = sandbox.CONFIG_DIR
    assert "bindaddr = 127.0.0.1" in (conf / "http.conf").read_text()
    assert "bindaddr = 127.0.0.1" in (conf / "manager.conf").read_text()
    assert "bind = 127.0.0.1:5060" in (conf / "pjsip.conf").read_text()
