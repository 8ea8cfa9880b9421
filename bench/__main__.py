"""`python -m bench [name ...]`: run the benchmarks (all by default), each in its own process, and print
a summary table of every figure with its baseline ratio and target. BENCH_QUICK=1 for a smoke run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import machine

BENCHES = ["allocation", "place_order", "eta", "purchase_order", "portal_query", "subscriptions", "notifications",
           "order_stream", "fragment_bomb", "export", "backtest_eta", "preferences", "fair_share_eta"]


def main() -> int:
    wanted = sys.argv[1:] or BENCHES
    unknown = set(wanted) - set(BENCHES)
    if unknown:
        print(f"unknown benchmark(s): {', '.join(sorted(unknown))}; choose from {', '.join(BENCHES)}")
        return 2
    results = Path(tempfile.mkstemp(prefix="bench-", suffix=".jsonl")[1])
    env = {**os.environ, "BENCH_RESULTS": str(results)}
    print(f"# {machine()}\n# {time.strftime('%Y-%m-%d %H:%M %Z')}\n", flush=True)
    failed = []
    for name in wanted:
        started = time.perf_counter()
        print(f"== {name}", flush=True)
        if subprocess.run([sys.executable, "-m", f"bench.{name}"], env=env).returncode != 0:
            failed.append(name)
        print(f"   ({time.perf_counter() - started:.0f} s)\n", flush=True)
    figures = [json.loads(line) for line in results.read_text().splitlines()]
    results.unlink()
    print("| benchmark | figure | value | baseline | ratio | target | met |\n|---|---|---|---|---|---|---|")
    for f in figures:
        ratio = f"{f['ratio']:,.3g}x" if f["ratio"] is not None else ""
        baseline = f"{f['baseline']:,.3f} {f['unit']} ({f['baseline_name']})" if f["baseline"] is not None else ""
        met = "" if f["met"] is None else ("yes" if f["met"] else "**no**")
        print(f"| {f['bench']} | {f['name']} | {f['value']:,.3f} {f['unit']} | {baseline} | {ratio} | "
              f"{f['target'] or ''} | {met} |")
    if failed:
        print(f"\nfailed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
