#!/usr/bin/env python3
"""The benchmark's synthetic workload, generated from the repository alone.

usage: bench/workload.py N OUT_DIR [--seed SEED] [--start YYYY-MM-DD]

Writes into OUT_DIR (created when missing):

  curriculum.yaml    a plan of N tasks in the tracker's schema (schema: 1)
  taskwarrior.json   the same tasks for `task import` (depends = the task's effective
                     requirements, its own and its ancestors', plus its parts)
  done.txt           the ids to check off, one a line, each unblocked when its turn comes
  uuids.tsv          id <TAB> Taskwarrior uuid, plan order
  meta.json          what the tracker must count afterwards (ready, blocked, completed)
                     and the task the `done` benchmark checks off

Shape: phases of 10 to 50 tasks; each task requires 0 to 3 earlier tasks (mostly recent
ones); about 40% have a due date spread over a year from --start along plan order; about
10% are parts of an earlier task of their phase (a parent is never a part; a part requires
only tasks before its parent, or earlier parts of the same parent, so no cycle arises
through "a parent waits for its parts" and "a part inherits its parent's requirements");
30% of the tasks (leaves only, mostly early ones) are checked off. Same N, seed and start:
byte-identical files (only random.Random(seed).random() is drawn; no clock is read).
"""
import argparse
import datetime as dt
import json
import os
import sys
import uuid

NAMESPACE = uuid.UUID("6f1c2b1e-8a57-4d0b-9a39-5b1f0e6f2c11")


def build(n, seed, start):
    r = __import__("random").Random(seed)
    rand = r.random
    width = len(str(n))
    # Phases.
    sizes, left = [], n
    while left > 0:
        size = 10 + int(rand() * 41)
        if left - size < 10:
            size = left
        sizes.append(size)
        left -= size
    phase_of, phases, k = [], [], 0
    for p, size in enumerate(sizes):
        phases.append(list(range(k, k + size)))
        phase_of += [p] * size
        k += size
    # Parts: about 10%, of an earlier non-part task of the same phase.
    parent = [None] * n
    for i in range(n):
        earlier = [j for j in phases[phase_of[i]] if j < i and parent[j] is None]
        if earlier and rand() < 0.1:
            parent[i] = earlier[int(rand() * len(earlier))]
    parts = [[] for _ in range(n)]
    for i in range(n):
        if parent[i] is not None:
            parts[parent[i]].append(i)
    # Requirements: 0-3 earlier tasks, 60% from the last 40, 40% from anywhere earlier.
    requires = [[] for _ in range(n)]
    for i in range(n):
        if parent[i] is None:
            allowed = lambda j: j < i and j != parent[i]
            limit = i
        else:
            q = parent[i]
            allowed = lambda j, q=q: j < q or (parent[j] == q and j < i)
            limit = i
        want = int(rand() * 4)
        for _ in range(want * 3):
            if len(requires[i]) >= want or limit == 0:
                break
            if rand() < 0.6:
                j = max(0, i - 1 - int(rand() * 40))
            else:
                j = int(rand() * limit)
            if j < n and allowed(j) and j not in requires[i] and parent[j] != i and j not in ancestors(j=i, parent=parent):
                requires[i].append(j)
        requires[i].sort()
    # Due dates: about 40%, along plan order over a year, give or take 60 days.
    due = [None] * n
    for i in range(n):
        if rand() < 0.4:
            offset = int(365 * i / max(1, n - 1) + (rand() * 120 - 60))
            due[i] = start + dt.timedelta(days=max(0, offset))
    return phases, phase_of, parent, parts, requires, due, width, rand


def ancestors(j, parent):
    out, p = [], parent[j]
    while p is not None:
        out.append(p)
        p = parent[p]
    return out


def effective(i, parent, requires):
    eff = set(requires[i])
    for a in ancestors(i, parent):
        eff.update(requires[a])
    eff.discard(i)
    return eff


def progress(n, parent, parts, requires, rand):
    """Checks off round(0.3 N) leaves, each only when unblocked; returns the order."""
    eff = [effective(i, parent, requires) for i in range(n)]
    completed = set()

    def complete(i):
        completed.add(i)
        q = parent[i]
        while q is not None and all(p in completed for p in parts[q]):
            completed.add(q)
            q = parent[q]

    target = round(0.3 * n)
    order = []
    rounds = 0
    while len(order) < target and rounds < 200:
        rounds += 1
        for i in range(n):
            if len(order) >= target:
                break
            if i in completed or parts[i] or not eff[i] <= completed:
                continue
            # Mostly from the front of the plan.
            if rand() < 0.9 * (1 - i / n) ** 3 + 0.01:
                order.append(i)
                complete(i)
    return order, completed, eff


def write(n, seed, start, out):
    phases, phase_of, parent, parts, requires, due, width, rand = build(n, seed, start)
    order, completed, eff = progress(n, parent, parts, requires, rand)
    ids = [f"t{i:0{width}d}" for i in range(n)]
    os.makedirs(out, exist_ok=True)
    lines = ["schema: 1", f"id: workload-{n}", f"title: Workload of {n} tasks", "phases:"]
    for p, members in enumerate(phases):
        lines += [f"  - id: phase-{p + 1}", f"    number: {p + 1}", f"    title: Phase {p + 1}", "    tasks:"]
        for i in members:
            lines += [f"      - id: {ids[i]}", f"        title: Task {i + 1} of phase {p + 1}"]
            if requires[i]:
                lines.append("        requires: [" + ", ".join(ids[j] for j in requires[i]) + "]")
            if due[i]:
                lines.append(f"        due: {due[i].isoformat()}")
            if parent[i] is not None:
                lines.append(f"        decomposed-from: {ids[parent[i]]}")
    with open(os.path.join(out, "curriculum.yaml"), "w") as f:
        f.write("\n".join(lines) + "\n")

    uid = [str(uuid.uuid5(NAMESPACE, f"workload-{n}/{seed}/{ids[i]}")) for i in range(n)]
    begin = dt.datetime.combine(start, dt.time(9, 0))
    position = {i: k for k, i in enumerate(order)}
    records = []
    for i in range(n):
        stamp = (begin + dt.timedelta(seconds=i)).strftime("%Y%m%dT%H%M%SZ")
        rec = {"uuid": uid[i], "description": f"Task {i + 1} of phase {phase_of[i] + 1}", "entry": stamp,
               "modified": stamp, "project": f"phase-{phase_of[i] + 1}"}
        deps = sorted(eff[i] | set(parts[i]))
        if due[i]:
            rec["due"] = due[i].strftime("%Y%m%dT000000Z")
        if deps:
            rec["depends"] = [uid[j] for j in deps]
        if i in completed:
            k = position.get(i)
            if k is None:
                k = max(position[p] for p in parts[i] if p in position) if any(p in position for p in parts[i]) else 0
            end = begin + dt.timedelta(days=1 + 80 * k / max(1, len(order)))
            rec["status"] = "completed"
            rec["end"] = rec["modified"] = end.strftime("%Y%m%dT%H%M%SZ")
        else:
            rec["status"] = "pending"
        records.append(rec)
    with open(os.path.join(out, "taskwarrior.json"), "w") as f:
        f.write("[\n" + ",\n".join(json.dumps(x, separators=(",", ":")) for x in records) + "\n]\n")
    with open(os.path.join(out, "done.txt"), "w") as f:
        f.write("".join(ids[i] + "\n" for i in order))
    with open(os.path.join(out, "uuids.tsv"), "w") as f:
        f.write("".join(f"{ids[i]}\t{uid[i]}\n" for i in range(n)))

    ready = [i for i in range(n) if i not in completed and not any(p not in completed for p in parts[i])
             and eff[i] <= completed]
    pending = [i for i in range(n) if i not in completed]
    dependents = {}
    for i in range(n):
        for j in eff[i] | set(parts[i]):
            dependents.setdefault(j, []).append(i)
    candidates = [i for i in ready if parent[i] is None and not parts[i]]
    target = max(candidates, key=lambda i: (len([d for d in dependents.get(i, []) if d not in completed]), -i)) if candidates else None
    meta = {
        "n": n, "seed": seed, "start": start.isoformat(), "generator": "bench/workload.py",
        "phases": len(phases), "phase_sizes": {"min": min(map(len, phases)), "max": max(map(len, phases))},
        "requires_edges": sum(map(len, requires)), "with_due": sum(1 for d in due if d),
        "parts": sum(1 for p in parent if p is not None), "parents": sum(1 for p in parts if p),
        "done_txt": len(order), "completed": len(completed), "pending": len(pending),
        "ready": len(ready), "blocked": len(pending) - len(ready),
        "taskwarrior_depends_edges": sum(len(x.get("depends", [])) for x in records),
        "done_target": None if target is None else {
            "id": ids[target], "uuid": uid[target],
            "open_dependents": len([d for d in dependents.get(target, []) if d not in completed])},
    }
    with open(os.path.join(out, "meta.json"), "w") as f:
        json.dump(meta, f, indent=2)
        f.write("\n")
    return meta


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("n", type=int, help="number of tasks")
    ap.add_argument("out", help="output folder")
    ap.add_argument("--seed", type=int, default=1, help="seed (default 1)")
    ap.add_argument("--start", default="2026-09-01", help="first due date (default 2026-09-01)")
    a = ap.parse_args(argv)
    if a.n < 1:
        ap.error("N must be at least 1")
    json.dump(write(a.n, a.seed, dt.date.fromisoformat(a.start), a.out), sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main(sys.argv[1:])
