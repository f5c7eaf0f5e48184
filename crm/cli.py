"""Command line for CRM administration (uses the same settings as the app: ``DIALCRM_*``).

    python -m crm.cli migrate
    python -m crm.cli create-admin admin            # prompts for the password
    python -m crm.cli create-user dialer --role dialer --no-password
    python -m crm.cli create-token admin --name ops # prints the token once
    python -m crm.cli seed                          # default disposition codes
    python -m crm.cli rotate-recording-keys         # re-encrypt recordings under the active key
    python -m crm.cli sweep-recordings              # purge recordings past campaign retention
    python -m crm.cli load-rules rules.yaml         # upsert workflow rules (--replace: only these)
    python -m crm.cli models retrain --kind conversion  # retrain when due (--force: now), rescore
    python -m crm.cli models status                 # the answer model in use and its metrics

``dialcrm models ...`` is the same command (``dialcrm models retrain --kind answer``).

``DIALCRM_ADMIN_PASSWORD`` supplies the password non-interactively.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlmodel import col

from crm.db.models_ops import User
from crm.domain.enums import Role
from crm.errors import CrmError, NotFoundError
from crm.migrations import upgrade
from crm.service import CrmService
from crm.settings import CrmSettings


def _password(args: argparse.Namespace) -> str | None:
    if getattr(args, "no_password", False):
        return None
    from_env = os.environ.get("DIALCRM_ADMIN_PASSWORD")
    if from_env:
        return from_env
    try:
        first = getpass.getpass("password: ")
        again = getpass.getpass("again: ")
    except EOFError:
        raise CrmError("no terminal: set DIALCRM_ADMIN_PASSWORD") from None
    if first != again:
        raise CrmError("passwords differ")
    return first


async def _create_user(
    settings: CrmSettings, username: str, role: Role, password: str | None, with_token: bool
) -> None:
    service = CrmService.open(settings)
    try:
        user = await service.auth.create_user(username, role, password=password)
        print(f"created {role.value} {user.username} id={user.id}")
        if with_token:
            issued = await service.auth.issue_token(user.id, "cli")
            print(f"token: {issued.token}")
    finally:
        await service.close()


async def _create_token(
    settings: CrmSettings, username: str, name: str, days: int | None = None
) -> None:
    service = CrmService.open(settings)
    try:
        async with service.engine.connect() as conn:
            user_id = await conn.scalar(
                sa.select(col(User.id)).where(col(User.username) == username)
            )
        if user_id is None:
            raise NotFoundError("user", username)
        issued = await service.auth.issue_token(user_id, name, expires_in_days=days)
        print(issued.token)
        print(f"expires {issued.expires_at:%Y-%m-%d %H:%M} UTC", file=sys.stderr)
    finally:
        await service.close()


async def _seed(settings: CrmSettings) -> None:
    service = CrmService.open(settings)
    try:
        print(f"added {await service.reference.seed_dispositions()} disposition codes")
    finally:
        await service.close()


async def _rotate(settings: CrmSettings) -> int:
    service = CrmService.open(settings)
    try:
        result = await service.recording_upkeep.rotate()
    finally:
        await service.close()
    print(f"re-encrypted {result.rotated} recordings under key {result.active_key}")
    for rec_id, why in result.failed.items():
        print(f"error: recording {rec_id}: {why}", file=sys.stderr)
    if result.failed:
        print(f"{len(result.failed)} recordings NOT rotated: keep their keys", file=sys.stderr)
    return 1 if result.failed else 0


async def _sweep(settings: CrmSettings) -> int:
    service = CrmService.open(settings)
    try:
        result = await service.recording_upkeep.sweep()
    finally:
        await service.close()
    print(f"purged {result.purged} recordings past retention ({result.campaigns} campaigns)")
    return 0


async def _answer_status(settings: CrmSettings) -> int:
    service = CrmService.open(settings)
    try:
        _print_answer_status(await service.answer_models.status())
    finally:
        await service.close()
    return 0


def _print_answer_status(status: dict[str, Any]) -> None:
    if status["source"] == "prior":
        print(f"  {status['message']}: scoring with the Beta-Binomial prior by list and hour")
        return
    print(f"  model {status['version']} trained {status['trained_at']} on {status['n_train']} rows "
          f"(+{status['n_calibration']} calibration, {status['n_test']} test): "
          f"Brier {status['brier']:.4f} (base rate {status['brier_base_rate']:.4f}), "
          f"log-loss {status['log_loss']:.4f}, AUC {status['auc']:.3f}")
    print("  predicted        n  mean p  observed")
    for b in status["reliability"]:
        print(f"  {b['lo']:.1f}-{b['hi']:.1f} {b['n']:9d}  {b['mean_predicted']:6.3f}  "
              f"{b['observed']:8.3f}")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m crm.cli", description="dialcrm CRM admin")
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("migrate", help="apply the Alembic migrations")
    admin = sub.add_parser("create-admin", help="migrate, then create an admin with a token")
    admin.add_argument("username")
    user = sub.add_parser("create-user", help="create a user")
    user.add_argument("username")
    user.add_argument("--role", choices=[r.value for r in Role], required=True)
    user.add_argument("--no-password", action="store_true")
    user.add_argument("--token", action="store_true", help="also issue an API token")
    token = sub.add_parser("create-token", help="issue an API token for a user")
    token.add_argument("username")
    token.add_argument("--name", default="cli")
    token.add_argument(
        "--expires-in-days", type=int, default=None,
        help="lifetime (1..3650; default DIALCRM_TOKEN_TTL_DAYS)",
    )
    sub.add_parser("seed", help="insert default reference data")
    sub.add_parser(
        "rotate-recording-keys",
        help="re-encrypt every recording not under DIALCRM_RECORDING_ACTIVE_KEY (old keys must "
        "still be in DIALCRM_RECORDING_KEYS; remove them afterwards)",
    )
    sub.add_parser(
        "sweep-recordings", help="purge recordings older than their campaign's retention"
    )
    rules = sub.add_parser("load-rules", help="load workflow rules from a YAML file (upsert)")
    rules.add_argument("path")
    rules.add_argument("--replace", action="store_true", help="delete rules the file lacks")
    models = sub.add_parser("models", help="predictive models (answer, conversion)")
    models_sub = models.add_subparsers(dest="models_command", required=True)
    retrain = models_sub.add_parser("retrain", help="retrain when due, then rescore")
    retrain.add_argument("--kind", choices=["answer", "conversion", "all"], default="all")
    retrain.add_argument("--force", action="store_true", help="train now if history suffices")
    models_sub.add_parser("status", help="the answer model in use and its held-out metrics")
    return p


def _read_text(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise CrmError(f"cannot read {path}: {exc}") from None


async def _load_rules(settings: CrmSettings, text: str, replace: bool) -> None:
    service = CrmService.open(settings)
    try:
        rows = await service.rules.import_yaml(text, replace=replace, actor_id=None)
        print(f"loaded {len(rows)} rules: {', '.join(r.id for r in rows)}")
    finally:
        await service.close()


async def _retrain(settings: CrmSettings, kind: str, force: bool) -> int:
    service = CrmService.open(settings)
    try:
        if kind in ("answer", "all"):
            answer = await service.answer_models.retrain(force=force)
            print(f"answer: {answer['result']} ({answer['rows']} history rows; scoring with "
                  f"{answer['source']})")
            _print_answer_status(await service.answer_models.status())
        if kind in ("conversion", "all"):
            run = await service.conversion.retrain(force=force)
            print(f"conversion: {run.why}; {run.scored} customers scored")
            summary = await service.conversion.summary()
            if summary["version"]:
                m = summary["metrics"]
                print(f"  {summary['version']}: Brier {m['brier']:.4f} (base rate "
                      f"{m['brier_base_rate']:.4f}), log-loss {m['log_loss']:.4f}, "
                      f"AUC {m['auc']:.3f}, ECE {m['ece']:.3f}")
                print("  routes: " + ", ".join(
                    f"{r} {v['customers']} ({v['share']:.0%})"
                    for r, v in summary["shares"].items()))
    finally:
        await service.close()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = CrmSettings.from_env()
        if args.command in ("migrate", "create-admin"):
            upgrade(settings.database_url)
            print("schema is at head")
        if args.command == "create-admin":
            asyncio.run(_seed(settings))
            asyncio.run(_create_user(settings, args.username, Role.ADMIN, _password(args), True))
        elif args.command == "create-user":
            asyncio.run(
                _create_user(settings, args.username, Role(args.role), _password(args), args.token)
            )
        elif args.command == "create-token":
            asyncio.run(_create_token(settings, args.username, args.name, args.expires_in_days))
        elif args.command == "seed":
            asyncio.run(_seed(settings))
        elif args.command == "rotate-recording-keys":
            return asyncio.run(_rotate(settings))
        elif args.command == "sweep-recordings":
            return asyncio.run(_sweep(settings))
        elif args.command == "models":
            if args.models_command == "status":
                return asyncio.run(_answer_status(settings))
            return asyncio.run(_retrain(settings, args.kind, args.force))
        elif args.command == "load-rules":
            asyncio.run(_load_rules(settings, _read_text(args.path), args.replace))
    except CrmError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
