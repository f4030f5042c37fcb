#!/usr/bin/env python3
"""Run the coverage-guided fuzz targets (atheris/libFuzzer) for a given time each.

    python scripts/fuzz.py [--seconds N] [--targets a,b] [--jobs 1] [--out fuzz-out]

For every target: (re)builds its seeds under ``OUT/seeds/<target>`` (fixtures,
../shared/corpus, synthetic inputs; see fuzz/seeds.py), then runs
``fuzz/run_target.py <target>`` with ``-max_total_time``, ``-rss_limit_mb=256``
and ``-timeout=2``, growing the corpus in ``OUT/corpus/<target>`` (kept between
runs, never committed) and writing crash, timeout and out-of-memory inputs
to ``OUT/<target>/``.  libFuzzer stops at the first finding; the run is then
restarted for the time left, so one target can report several findings.
Logs go to ``OUT/logs/<target>-<n>.log``.  Prints executions per target (from
libFuzzer's "Done N runs in S second(s)" line, or its final stats after a
finding) and exits 1 when a run left new files in ``OUT/<target>/``.
"""
from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fuzz.seeds import build as build_seeds  # noqa: E402
from fuzz.targets import TARGETS  # noqa: E402

RSS_LIMIT_MB = 256
TIMEOUT_S = 2
MAX_RESTARTS = 25
DONE_RE = re.compile(r"^Done (\d+) runs in (\d+) second", re.M)
STAT_RE = re.compile(r"^stat::number_of_executed_units:\s*(\d+)", re.M)
ARTIFACT_RE = re.compile(r"Test unit written to (\S+)")


def run_target(name: str, seconds: int, out: Path) -> dict:
    corpus = out / "corpus" / name
    seeds = out / "seeds" / name
    findings = out / name
    logs = out / "logs"
    for d in (corpus, findings, logs):
        d.mkdir(parents=True, exist_ok=True)
    before = {p.name for p in findings.iterdir()}
    runs = 0
    artifacts: list[str] = []
    start = time.monotonic()
    attempt = 0
    while attempt <= MAX_RESTARTS:
        left = int(seconds - (time.monotonic() - start))
        if left < 1:
            break
        log = logs / f"{name}-{attempt}.log"
        cmd = [sys.executable, str(ROOT / "fuzz" / "run_target.py"), name,
               f"-max_total_time={left}", f"-rss_limit_mb={RSS_LIMIT_MB}", f"-timeout={TIMEOUT_S}",
               f"-artifact_prefix={findings}/", "-print_final_stats=1", str(corpus), str(seeds)]
        with open(log, "w") as handle:
            code = subprocess.call(cmd, stdout=handle, stderr=subprocess.STDOUT, cwd=ROOT)
        text = log.read_text(errors="replace")
        done = DONE_RE.findall(text)
        stats = STAT_RE.findall(text)
        runs += int(done[-1][0]) if done else (int(stats[-1]) if stats else 0)
        found = ARTIFACT_RE.findall(text)
        artifacts += found
        attempt += 1
        if code == 0 or not found:
            if code not in (0, None) and not found:
                artifacts.append(f"(exit {code} without an artifact; see {log})")
            break
    elapsed = time.monotonic() - start
    new = sorted({p.name for p in findings.iterdir()} - before)
    return {"target": name, "runs": runs, "seconds": round(elapsed), "restarts": attempt - 1,
            "new_findings": new, "artifacts": artifacts, "corpus": sum(1 for _ in corpus.iterdir())}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=60, help="fuzzing time per target (default 60)")
    parser.add_argument("--targets", default=",".join(TARGETS), help="comma-separated targets (default: all)")
    parser.add_argument("--jobs", type=int, default=1, help="targets run at the same time (default 1)")
    parser.add_argument("--out", type=Path, default=ROOT / "fuzz-out", help="output folder (default fuzz-out)")
    args = parser.parse_args()
    names = [n.strip() for n in args.targets.split(",") if n.strip()]
    unknown = [n for n in names if n not in TARGETS]
    if unknown:
        parser.error(f"unknown target(s) {', '.join(unknown)}; known: {', '.join(TARGETS)}")
    counts = build_seeds(args.out / "seeds")
    print("seeds: " + ", ".join(f"{n} {counts[n]}" for n in names), flush=True)
    results = []
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        for result in pool.map(lambda n: run_target(n, args.seconds, args.out), names):
            results.append(result)
            rate = result["runs"] / max(1, result["seconds"])
            flag = f"  NEW: {', '.join(result['new_findings'])}" if result["new_findings"] else ""
            print(f"{result['target']:15} {result['runs']:>10} runs in {result['seconds']:>5} s "
                  f"({rate:8.1f}/s), corpus {result['corpus']}{flag}", flush=True)
    (args.out / "summary.json").write_text(json.dumps(results, indent=2) + "\n")
    return 1 if any(r["new_findings"] for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
