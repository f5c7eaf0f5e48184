"""docker-compose.yml stays consistent with the sandbox recipe (no Docker engine here)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from ari_app import sandbox

ROOT = Path(__file__).resolve().parents[2]


def load() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_given_compose_file_then_it_parses_with_both_services() -> None:
    compose = load()
    assert set(compose["services"]) == {"asterisk", "app"}
    for service in compose["services"].values():
        dockerfile = ROOT / service["build"]["context"] / service["build"]["dockerfile"]
        assert dockerfile.exists(), dockerfile


def test_given_asterisk_image_then_same_base_packages_and_config_as_sandbox() -> None:
    dockerfile = (ROOT / "asterisk-config/Dockerfile").read_text()
    assert dockerfile.startswith("#") and "FROM debian:sid-slim" in dockerfile
    for package in sandbox.PACKAGES:
        assert re.search(rf"\b{re.escape(package)}\b", dockerfile), package
    assert "COPY asterisk-config/*.conf /etc/asterisk/" in dockerfile
    assert "-U" not in dockerfile.split("CMD", 1)[1]


def test_given_services_then_nothing_published_beyond_loopback() -> None:
    for name, service in load()["services"].items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), (name, port)
        if service.get("network_mode") == "host":
            continue
        assert "ports" in service, name
    env = load()["services"]["app"]["environment"]
    assert env["DIALCRM_HTTP_HOST"] == "127.0.0.1"
    assert env["ASTERISK_ARI_URL"].startswith("http://127.0.0.1:")
