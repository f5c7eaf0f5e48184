"""Recordings at rest: encryption / decryption throughput, key-rotation throughput, and the
signed-URL path over HTTP (issue URL → first byte, and full download rate).

    python bench/recordings.py [--quick] [--json PATH]

A 10-minute 8 kHz 16-bit mono call is 9.6 MB; the figures say how many of those per second
one core encrypts, serves and rotates.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import dataclasses
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from crm.crypto import SANDBOX_KEY  # noqa: E402
from crm.db.engine import create_all, make_engine  # noqa: E402
from crm.domain.enums import Role  # noqa: E402
from crm.service import CrmService  # noqa: E402
from crm.settings import CrmSettings  # noqa: E402
from web.metrics.loop_lag import with_loop_lag  # noqa: E402

CALL_MB = 9.6  # a 10-minute call at 8 kHz, 16 bit


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def run(quick: bool) -> dict[str, Any]:
    size_mb = 24 if quick else 192
    n_urls = 40 if quick else 200
    work = Path(tempfile.mkdtemp(prefix="bench-rec-"))
    url = f"sqlite+aiosqlite:///{work / 'crm.db'}"
    engine = make_engine(url)
    await create_all(engine)
    await engine.dispose()
    settings = CrmSettings(database_url=url, recordings_dir=work / "rec", password_scrypt_n=16)
    svc = CrmService.open(settings)
    audio = os.urandom(size_mb * 1024 * 1024)
    results: dict[str, Any] = {"size_mb": size_mb}
    try:
        t0 = time.perf_counter()
        rec = await svc.store_recording("bench-1", audio, content_type="application/octet-stream")
        results["encrypt_mb_s"] = size_mb / (time.perf_counter() - t0)
        t0 = time.perf_counter()
        got = 0
        async for chunk in svc.recordings.files.stream(rec.path):
            got += len(chunk)
        assert got == len(audio)
        results["decrypt_mb_s"] = size_mb / (time.perf_counter() - t0)
        results.update(await _http(svc, settings, rec.id, size_mb, n_urls))
        key = base64.b64encode(os.urandom(32)).decode()
        sandbox = base64.b64encode(SANDBOX_KEY).decode()
        rotated = CrmService.open(
            dataclasses.replace(settings, recording_keys=f"new:{key},sandbox-1:{sandbox}")
        )
        try:
            t0 = time.perf_counter()
            result = await rotated.recording_upkeep.rotate()
            assert result.rotated == 1 and not result.failed
            results["rotate_mb_s"] = size_mb / (time.perf_counter() - t0)
        finally:
            await rotated.close()
    finally:
        await svc.close()
    results["calls_per_s_encrypt"] = results["encrypt_mb_s"] / CALL_MB
    results["calls_per_s_serve"] = results["download_mb_s"] / CALL_MB
    return results


async def _http(
    svc: CrmService, settings: CrmSettings, rec_id: Any, size_mb: int, n: int
) -> dict[str, Any]:
    from aiohttp.test_utils import TestClient, TestServer

    from crm.app import create_crm_app

    user = await svc.auth.create_user("bench-manager", Role.MANAGER, password="password-1")
    token = (await svc.auth.issue_token(user.id, "bench")).token
    headers = {"Authorization": f"Bearer {token}"}
    client = TestClient(TestServer(create_crm_app(settings, service=svc)))
    await client.start_server()
    first_byte: list[float] = []
    try:
        for _ in range(n):
            t0 = time.perf_counter()
            resp = await client.post(f"/api/recordings/{rec_id}/url", headers=headers)
            signed = await resp.json()
            audio = await client.get(signed["url"], headers=headers)
            await audio.content.readany()
            first_byte.append((time.perf_counter() - t0) * 1000)
            audio.close()
        signed = await (await client.post(f"/api/recordings/{rec_id}/url", headers=headers)).json()
        t0 = time.perf_counter()
        resp = await client.get(signed["url"], headers=headers)
        body = await resp.read()
        elapsed = time.perf_counter() - t0
        assert len(body) == size_mb * 1024 * 1024
    finally:
        await client.close()
    return {
        "url_to_first_byte_ms_p50": statistics.median(first_byte),
        "url_to_first_byte_ms_p99": _pct(first_byte, 0.99),
        "download_mb_s": size_mb / elapsed,
        "requests": n,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    results, lag = asyncio.run(with_loop_lag(run(args.quick)))
    results["event_loop_lag"] = lag
    print(f"recordings at rest ({results['size_mb']} MB file, one process)")
    rows = [
        (
            "encrypt (store)",
            f"{results['encrypt_mb_s']:.0f} MB/s",
            f"{results['calls_per_s_encrypt']:.1f} ten-minute calls/s",
        ),
        ("decrypt (stream)", f"{results['decrypt_mb_s']:.0f} MB/s", ""),
        (
            "serve over HTTP",
            f"{results['download_mb_s']:.0f} MB/s",
            f"{results['calls_per_s_serve']:.1f} ten-minute calls/s",
        ),
        ("rotate (re-encrypt)", f"{results['rotate_mb_s']:.0f} MB/s", ""),
        (
            "issue URL + first byte",
            f"p50 {results['url_to_first_byte_ms_p50']:.1f} ms",
            f"p99 {results['url_to_first_byte_ms_p99']:.1f} ms ({results['requests']} requests)",
        ),
    ]
    for name, a, b in rows:
        print(f"  {name:<24} {a:>14}  {b}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
