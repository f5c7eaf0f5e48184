"""Run every benchmark in bench/ (``bench/<name>.py``), passing --quick/--json through.

    python bench/run_all.py --quick     # what `make bench` runs
Results land in bench/results/<name>.json beside each printed table.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", nargs="*", help="benchmark names to run")
    args = parser.parse_args()
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    scripts = sorted(
        p for p in HERE.glob("*.py") if not p.name.startswith("_") and p.name != "run_all.py"
    )
    if args.only:
        scripts = [p for p in scripts if p.stem in args.only]
    failed = []
    for script in scripts:
        print(f"\n=== bench/{script.name} ===", flush=True)
        cmd = [sys.executable, str(script), "--json", str(out / f"{script.stem}.json")]
        if args.quick:
            cmd.append("--quick")
        if subprocess.run(cmd, cwd=HERE.parent).returncode != 0:
            failed.append(script.name)
    if not scripts:
        print("no benchmarks yet")
    if failed:
        print(f"\nfailed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
