#!/usr/bin/env python3
"""The tracker's commands that Taskwarrior has no twin for: forecast, review and sync.

Writes bench/TRACKER.md: hyperfine medians of `forecast` and `review` beside `status` in one
run (same workload, same database), on the real plan and on the generated 10,000-task
workload; and `sync` of 10,000 events out of one database and into an empty one, median of
--runs runs. The bars (issue 16): forecast and review within 1 ms of status on the real
plan and under 30 ms at 10,000 tasks; sync of 10,000 events each way under 1 s.

    bench/tracker.py [--binary PATH] [--runs 7]

Without --binary it builds `swift build -c release --product curriculum` first. Needs
hyperfine (bench/run.sh installs it).
"""
import argparse
import datetime as dt
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TODAY = "2026-11-01"


def sh(cmd, env, capture=True):
    return subprocess.run(cmd, env=env, check=True, text=True, capture_output=capture)


def hyperfine(cmds, env, work):
    export = os.path.join(work, "hyperfine.json")
    sh(["hyperfine", "-N", "--warmup", "3", "--min-runs", "30", "--export-json", export, "--style", "none"] + cmds, env)
    with open(export) as f:
        return [r["median"] * 1000 for r in json.load(f)["results"]]


def timed(cmd, env):
    t0 = time.monotonic()
    sh(cmd, env)
    return time.monotonic() - t0


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--binary", help="the curriculum binary to time (default: build the release one)")
    ap.add_argument("--runs", type=int, default=7, help="sync runs each way (the median is reported)")
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "TRACKER.md"))
    args = ap.parse_args(argv)
    binary = args.binary
    if not binary:
        subprocess.run(["swift", "build", "-c", "release", "--product", "curriculum"], cwd=ROOT, check=True)
        binary = os.path.join(ROOT, ".build", "release", "curriculum")
    work = tempfile.mkdtemp(prefix="curriculum-bench-tracker-")
    base = dict(os.environ, NO_COLOR="1", CURRICULUM_TODAY=TODAY, LC_ALL="C.UTF-8", XDG_CACHE_HOME=os.path.join(work, "cache"))
    for k in ("CURRICULUM_FILE", "CURRICULUM_DB"):
        base.pop(k, None)
    rows = []
    try:
        # forecast and review beside status: the real plan, then 10,000 tasks.
        wl = os.path.join(work, "10000")
        sh([sys.executable, os.path.join(ROOT, "bench", "workload.py"), "10000", wl], base)
        for label, plan, done in [("58 tasks (curriculum.yaml)", os.path.join(ROOT, "curriculum.yaml"), None),
                                  ("10,000 tasks (workload.py, seed 1)", os.path.join(wl, "curriculum.yaml"),
                                   os.path.join(wl, "done.txt"))]:
            env = dict(base, CURRICULUM_FILE=plan, CURRICULUM_DB=os.path.join(work, f"{len(rows)}.sqlite"))
            if done:
                sh([binary, "done", "--from", done], env)
            else:
                # A learner a few weeks in: the first tasks done, a lab run verified.
                sh([binary, "done", "rest-api", "layered-architecture", "dtos", "--force"], env)
            medians = hyperfine([f"{binary} status", f"{binary} forecast", f"{binary} review"], env, work)
            rows.append((label, medians))

        # sync: 10,000 events out of one database, then into an empty one.
        env = dict(base, CURRICULUM_FILE=os.path.join(wl, "curriculum.yaml"))
        tasks = json.loads(sh([binary, "list", "--json"], dict(env, CURRICULUM_DB=os.path.join(work, "list.sqlite"))).stdout)
        leaves = [t["id"] for t in tasks if not t["parts"]]
        source = os.path.join(work, "source.sqlite")
        ids = os.path.join(work, "ids.txt")
        with open(ids, "w") as f:
            f.write("\n".join(leaves) + "\n")
        sh([binary, "done", "--force", "--from", ids], dict(env, CURRICULUM_DB=source))
        # Reopen and check off again until the log holds exactly 10,000 events.
        extra = (10000 - len(leaves)) // 2
        for t in leaves[:extra]:
            sh([binary, "reopen", t], dict(env, CURRICULUM_DB=source))
        with open(ids, "w") as f:
            f.write("\n".join(leaves[:extra]) + "\n")
        sh([binary, "done", "--force", "--from", ids], dict(env, CURRICULUM_DB=source))
        events = len(json.loads(sh([binary, "log", "--json", "-n", "0"], dict(env, CURRICULUM_DB=source)).stdout))
        out_times, in_times = [], []
        for k in range(args.runs):
            folder, a, b = os.path.join(work, f"sync{k}"), os.path.join(work, f"a{k}.sqlite"), os.path.join(work, f"b{k}.sqlite")
            shutil.copy(source, a)
            out_times.append(timed([binary, "sync", folder], dict(env, CURRICULUM_DB=a)))
            in_times.append(timed([binary, "sync", folder], dict(env, CURRICULUM_DB=b)))
            same = [sh([binary, "status", "--json"], dict(env, CURRICULUM_DB=db)).stdout for db in (a, b)]
            if same[0] != same[1]:
                sys.exit("sync: the two databases disagree after the sync")
        load = os.getloadavg()
        version = sh([binary, "--version"], base).stdout.strip()
    finally:
        shutil.rmtree(work, ignore_errors=True)

    def ok(flag):
        return "met" if flag else "**not met**"

    lines = [
        "# Benchmarks: forecast, review and sync",
        "",
        "Generated by `bench/tracker.py` (Taskwarrior has no twin for these, so they are timed beside our own `status`).",
        f"Measured {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC with curriculum {version} (release build); "
        f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on a shared 2-core machine. hyperfine medians "
        f"(`-N`, 3 warm-ups, at least 30 runs, `CURRICULUM_TODAY={TODAY}`).",
        "",
        "| workload | status ms | forecast ms | review ms | forecast − status | review − status |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for label, (status, forecast, review) in rows:
        lines.append(f"| {label} | {status:.1f} | {forecast:.1f} | {review:.1f} | {forecast - status:+.1f} | {review - status:+.1f} |")
    (s0, f0, r0), (s1, f1, r1) = rows[0][1], rows[1][1]
    so, si = statistics.median(out_times), statistics.median(in_times)
    lines += [
        "",
        f"`sync` of {events:,} events (every leaf task of the 10,000-task workload checked off, some reopened and "
        f"checked off again), median of {args.runs} runs: **out** of the database into an empty folder "
        f"{so * 1000:.0f} ms (min {min(out_times) * 1000:.0f}, max {max(out_times) * 1000:.0f}); **in** to an empty "
        f"database {si * 1000:.0f} ms (min {min(in_times) * 1000:.0f}, max {max(in_times) * 1000:.0f}). Both databases "
        "report the same status afterwards (checked on every run).",
        "",
        "| bar | figure | |",
        "|---|---|---|",
        f"| forecast and review within 1 ms of status, real plan | {f0 - s0:+.1f} / {r0 - s0:+.1f} ms | {ok(f0 - s0 <= 1 and r0 - s0 <= 1)} |",
        f"| forecast and review under 30 ms, 10,000 tasks | {f1:.1f} / {r1:.1f} ms | {ok(f1 < 30 and r1 < 30)} |",
        f"| sync of 10,000 events each way under 1 s | out {so:.2f} s, in {si:.2f} s | {ok(so < 1 and si < 1)} |",
        "",
    ]
    with open(args.out, "w") as f:
        f.write("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main(sys.argv[1:])
