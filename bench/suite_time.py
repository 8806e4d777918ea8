#!/usr/bin/env python
"""Where `make test`'s time goes: runs it once and prints its wall time, each xdist worker's timeline by tier,
the test time per tier and per file, and the CPU every process on the machine used meanwhile, by kind (the test
workers, Chromium by process type, Playwright's driver, PostgreSQL, Redis). `time make test` leaves Chromium
out (its processes are not reaped through pytest); this reads every process's CPU from /proc twice a second.

    .venv/bin/python bench/suite_time.py [--top 15] [-- make arguments, e.g. TEST_WORKERS=4 PYTEST_ARGS="-m browser"]

Set DATABASE_URL and REDIS_URL as for `make test` (CI: PostgreSQL and the system's Redis). The machine should be
quiet (the load is printed before the run): other work shows up in the "other" line and slows the suite.
"""

import argparse
import collections
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
from stack import machine_line

ROOT = Path(__file__).resolve().parent.parent


def process_kind(args):
    """What a process is, from its command line (Chromium by --type; ours apart from the rest)."""
    if not args:
        return "kernel threads"
    args = " ".join(args).split()  # Chromium's helpers rewrite their command line as one string
    program = args[0].rsplit("/", 1)[-1]
    if program == "chromium":
        kind = next((arg.split("=", 1)[1] for arg in args if arg.startswith("--type=")), "browser")
        return f"chromium {kind}"
    if program.startswith("python"):
        xdist_worker = args[1:3] == ["-u", "-c"]  # execnet starts each worker so
        if xdist_worker or "pytest" in " ".join(args[1:2]):
            return "python: pytest and its workers"
        return "python: others (the tests')"
    if program == "node":
        return "node (Playwright's driver)"
    if program.startswith("postgres"):
        return "postgresql"
    if program.startswith("redis"):
        return "redis"
    return "other"


class CpuSampler(threading.Thread):
    """CPU seconds per process kind (psutil: user + system), sampled every ``every`` seconds; a process that ends
    between two samples loses at most that interval."""

    def __init__(self, every=0.5):
        super().__init__(daemon=True)
        self.every, self.stop, self.seen, self.totals = every, threading.Event(), {}, collections.Counter()

    def sample(self):
        for process in psutil.process_iter(["cmdline", "cpu_times"]):
            times = process.info["cpu_times"]
            if times is None:  # gone, or not ours to read
                continue
            cpu = times.user + times.system
            if process.pid in self.seen:
                kind, last = self.seen[process.pid]
                self.totals[kind] += max(0.0, cpu - last)
                self.seen[process.pid] = (kind, cpu)
            else:  # its CPU before the first sample is not the run's
                self.seen[process.pid] = (process_kind(process.info["cmdline"]), cpu)

    def run(self):
        while not self.stop.is_set():
            self.sample()
            self.stop.wait(self.every)
        self.sample()


def read_timeline(directory):
    rows = []
    for path in sorted(Path(directory).glob("*.jsonl")):
        for line in path.read_text().splitlines():
            rows.append({**json.loads(line), "worker": path.stem})
    return rows


def report(rows, totals, wall, top):
    print(f"wall: {wall:.0f} s ({int(wall // 60)} min {wall % 60:.0f} s), {len(rows)} tests")
    if rows:
        t0 = min(row["start"] for row in rows)
        print("\neach worker's timeline (tier from-to s, tests):")
        for worker in sorted({row["worker"] for row in rows}):
            mine = sorted((row for row in rows if row["worker"] == worker), key=lambda row: row["start"])
            runs = []
            for row in mine:
                if runs and runs[-1][0] == row["tier"]:
                    runs[-1][2], runs[-1][3] = row["end"], runs[-1][3] + 1
                else:
                    runs.append([row["tier"], row["start"], row["end"], 1])
            spans = " | ".join(f"{tier} {a - t0:.0f}-{b - t0:.0f} ({n})" for tier, a, b, n in runs)
            print(f"  {worker}: ends at {mine[-1]['end'] - t0:.0f} s: {spans}")
        print("\ntest time per tier (the sum of the tests' own times; the workers overlap):")
        for tier in ("browser", "integration", "unit", "?"):
            mine = [row for row in rows if row["tier"] == tier]
            if mine:
                took = sum(row["end"] - row["start"] for row in mine)
                cpu = sum(row["cpu"] for row in mine)
                print(f"  {tier:12s} {len(mine):5d} tests {took:7.0f} s, {cpu:6.0f} s of their processes' CPU")
        files = collections.defaultdict(float)
        for row in rows:
            files[row["id"].split("::")[0]] += row["end"] - row["start"]
        print(f"\nthe {top} longest files (test time):")
        for name, took in sorted(files.items(), key=lambda item: -item[1])[:top]:
            print(f"  {took:7.1f} s  {name}")
    print(
        f"\nCPU during the run, every process on the machine ({sum(totals.values()):.0f} s in all, "
        f"{sum(totals.values()) / max(wall, 1):.2f} cores on average of {os.cpu_count()}):"
    )
    chromium = sum(seconds for kind, seconds in totals.items() if kind.startswith("chromium"))
    for kind, seconds in totals.most_common():
        print(f"  {seconds:7.0f} s  {kind}")
    print(f"  ({chromium:.0f} s Chromium in all)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("make_args", nargs="*", help="after --: arguments for make test")
    options = parser.parse_args()
    print("before the run:", machine_line())
    with tempfile.TemporaryDirectory() as directory:
        make_args = list(options.make_args)
        pytest_args = next((arg for arg in make_args if arg.startswith("PYTEST_ARGS=")), "PYTEST_ARGS=")
        make_args = [arg for arg in make_args if arg != pytest_args]
        make_args.append(f"{pytest_args} -p suite_timeline".replace("= ", "="))
        env = {
            **os.environ,
            "SUITE_TIMELINE_DIR": directory,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "bench"), os.environ.get("PYTHONPATH")])),
        }
        sampler = CpuSampler()
        sampler.start()
        began = time.monotonic()
        done = subprocess.run(["make", "test", *make_args], cwd=ROOT, env=env)
        wall = time.monotonic() - began
        sampler.stop.set()
        sampler.join()
        report(read_timeline(directory), sampler.totals, wall, options.top)
    print(f"\nmake test exited with {done.returncode}")
    return done.returncode


if __name__ == "__main__":
    sys.exit(main())
