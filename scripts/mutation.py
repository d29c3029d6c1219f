"""Mutation testing with cosmic-ray, per module group (`make mutation`; not part of CI).

For each group of scripts/mutation.toml: `cosmic-ray init` over the group's modules, skip the operators
not listed and all but a deterministic sample of the rest, `cosmic-ray baseline` (the group's tests must
pass unmutated), `cosmic-ray exec` (mutates the files IN PLACE, one mutant at a time, restoring each),
then the report benchmarks/results/mutation.json and mutation.md with the score per module. Surviving
mutants listed in scripts/mutation_equivalents.toml (module, original line, mutated line -- or every
mutant of that line when `mutated` is left out -- and the reason) count as equivalent, not as survivors.

    python scripts/mutation.py                      # every group
    python scripts/mutation.py --group counters     # the groups whose name contains 'counters'
    python scripts/mutation.py --limit 50           # the first 50 of each group's sample
    python scripts/mutation.py --report-only        # rewrite the report from the session databases
    python scripts/mutation.py --rerun-survivors    # run the survivors again against the current tests
    python scripts/mutation.py --before OLD.json    # the report also shows OLD.json's scores

The mutated modules must be unchanged from git HEAD before the run (the script checks `git diff`
before and after: cosmic-ray restores every file, so a run never leaves a mutant behind).
"""
from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import platform
import re
import shlex
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import toml
from cosmic_ray.work_db import WorkDB, use_db
from cosmic_ray.work_item import TestOutcome, WorkerOutcome, WorkResult

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "scripts" / "mutation.toml"
EQUIVALENTS = ROOT / "scripts" / "mutation_equivalents.toml"
SESSIONS = ROOT / ".mutation"
RESULTS = ROOT / "benchmarks" / "results"
FAILED_TEST = re.compile(r"^FAILED (tests/\S+)", re.MULTILINE)


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def module_files(modules) -> list:
    files = []
    for m in modules:
        path = ROOT / m
        files += sorted(p.relative_to(ROOT).as_posix() for p in path.rglob("*.py")) if path.is_dir() else [m]
    return files


def check_clean(files) -> None:
    """Refuse to run (or report a leftover mutant) when a mutated module differs from git HEAD."""
    dirty = subprocess.run(["git", "diff", "--name-only", "HEAD", "--", *files], cwd=ROOT, capture_output=True,
                           text=True, check=True).stdout.split()
    if dirty:
        sys.exit(f"mutation: modules differ from git HEAD, commit or stash them first: {dirty}")


def check_mutants_reach_pytest() -> None:
    """compile/ and sim/ import as neurograph.compile / neurograph.sim: the files mutated here must be the
    ones the tests import (an editable install of THIS tree), or every mutant would survive."""
    code = "import neurograph.compile.ir as m, neurograph.sim.reference as r; print(m.__file__); print(r.__file__)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    for path, expected in zip(out.split(), ("compile/ir.py", "sim/reference.py")):
        if Path(path).resolve() != (ROOT / expected).resolve():
            sys.exit(f"mutation: tests would import {path}, not {ROOT / expected}; "
                     f"pip install -e this tree first")


def sample_key(mutation) -> str:
    return hashlib.sha1(f"{Path(mutation.module_path).as_posix()}:{mutation.operator_name}:"
                        f"{mutation.occurrence}".encode()).hexdigest()


def select(db_path: Path, operators: list, sample: int) -> tuple:
    """Skip the mutants of unlisted operators and all but the first `sample` by sample_key; returns
    (mutants with a listed operator, mutants kept)."""
    allowed = re.compile("|".join(f"(?:{o})$" for o in operators))
    with use_db(str(db_path), WorkDB.Mode.open) as db:
        items = list(db.pending_work_items)
        listed = [it for it in items if allowed.match(it.mutations[0].operator_name)]
        kept = {it.job_id for it in sorted(listed, key=lambda it: sample_key(it.mutations[0]))[:sample]}
        skipped = [it.job_id for it in items if it.job_id not in kept]
        db.set_multiple_results(skipped, WorkResult(output="not sampled", worker_outcome=WorkerOutcome.SKIPPED))
    return len(listed), len(kept)


def changed_lines(diff: str) -> tuple:
    """(original line, mutated line) of a one-line mutant's unified diff, stripped."""
    minus = [l[1:].strip() for l in diff.splitlines() if l.startswith("-") and not l.startswith("---")]
    plus = [l[1:].strip() for l in diff.splitlines() if l.startswith("+") and not l.startswith("+++")]
    return " / ".join(minus), " / ".join(plus)


def load_equivalents() -> list:
    if not EQUIVALENTS.exists():
        return []
    return toml.loads(EQUIVALENTS.read_text()).get("equivalent", [])


def write_session(group: dict, cfg: dict) -> tuple:
    """The group's cosmic-ray config (its modules, its tests) and database paths."""
    name, files = group["name"], module_files(group["modules"])
    missing = [t for t in group["tests"] if not (ROOT / t).exists()]
    if missing:
        sys.exit(f"mutation: group {name!r} lists missing tests {missing}")
    pytest = cfg["pytest"].replace("python", shlex.quote(sys.executable), 1)
    marks = shlex.quote(group.get("marks", cfg["marks"]))
    session = {"module-path": files, "timeout": cfg["timeout"], "excluded-modules": [],
               "test-command": f"{pytest} -m {marks} {' '.join(group['tests'])}", "distributor": {"name": "local"}}
    SESSIONS.mkdir(exist_ok=True)
    config_path, db_path = SESSIONS / f"{slug(name)}.toml", SESSIONS / f"{slug(name)}.sqlite"
    config_path.write_text(toml.dumps({"cosmic-ray": session}))
    return config_path, db_path, session["test-command"]


def execute(name: str, config_path: Path, db_path: Path, test_command: str) -> None:
    """Baseline (the tests pass unmutated), then every pending mutant of the session."""
    cr = [sys.executable, "-m", "cosmic_ray.cli"]
    if subprocess.run([*cr, "baseline", str(config_path)], cwd=ROOT).returncode != 0:
        sys.exit(f"mutation: the tests of group {name!r} fail without any mutant: {test_command}")
    exec_ = subprocess.Popen([*cr, "exec", str(config_path), str(db_path)], cwd=ROOT)
    try:
        if exec_.wait() != 0:
            sys.exit(f"mutation: cosmic-ray exec failed for group {name!r}")
    except KeyboardInterrupt:          # let cosmic-ray put the mutated file back before stopping
        try:
            exec_.wait(timeout=10)         # Ctrl-C reached it too
        except subprocess.TimeoutExpired:
            exec_.send_signal(signal.SIGINT)
            exec_.wait()
        raise


def run_group(group: dict, cfg: dict, limit: int | None = None) -> dict:
    name, files = group["name"], module_files(group["modules"])
    config_path, db_path, test_command = write_session(group, cfg)
    db_path.unlink(missing_ok=True)
    start = time.monotonic()
    subprocess.run([sys.executable, "-m", "cosmic_ray.cli", "init", str(config_path), str(db_path)], cwd=ROOT,
                   check=True)
    listed, kept = select(db_path, cfg["operators"], min(group["sample"], limit or group["sample"]))
    print(f"[{name}] {kept} of {listed} mutants (listed operators) in {len(files)} modules", flush=True)
    execute(name, config_path, db_path, test_command)
    meta = {"listed": listed, "sampled": kept, "wall_s": round(time.monotonic() - start, 1)}
    (SESSIONS / f"{slug(name)}.json").write_text(json.dumps(meta))
    return meta


def rerun_survivors(group: dict, cfg: dict, equivalents: list) -> None:
    """Run the group's surviving (not equivalent) mutants again against its tests as they are now: a new
    test that kills one fails on exactly the code change it guards."""
    name = group["name"]
    config_path, db_path, test_command = write_session(group, cfg)
    survivors = [s["key"] for s in group_report(group, equivalents)["survivors"]]
    with use_db(str(db_path), WorkDB.Mode.open) as db:
        jobs = [item.job_id for item, result in db.completed_work_items
                if f"{Path(item.mutations[0].module_path).as_posix()}:{item.mutations[0].operator_name}:"
                   f"{item.mutations[0].occurrence}" in survivors]
    with sqlite3.connect(db_path) as con:                    # forget their results: exec runs them again
        con.executemany("DELETE FROM work_results WHERE job_id = ?", [(j,) for j in jobs])
    print(f"[{name}] running {len(jobs)} surviving mutants again", flush=True)
    start = time.monotonic()
    execute(name, config_path, db_path, test_command)
    meta_path = SESSIONS / f"{slug(name)}.json"
    meta = json.loads(meta_path.read_text())
    meta["rerun_s"] = round(meta.get("rerun_s", 0) + time.monotonic() - start, 1)
    meta["rerun_command"] = "python scripts/mutation.py " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    meta_path.write_text(json.dumps(meta))


def group_report(group: dict, equivalents: list) -> dict:
    name = group["name"]
    meta = json.loads((SESSIONS / f"{slug(name)}.json").read_text())
    modules, survivors, equivalent_found, killed = {}, [], [], []
    with use_db(str(SESSIONS / f"{slug(name)}.sqlite"), WorkDB.Mode.open) as db:
        done = list(db.completed_work_items)
    for item, result in done:
        if result.worker_outcome == WorkerOutcome.SKIPPED:
            continue
        mutation = item.mutations[0]
        module = Path(mutation.module_path).as_posix()
        row = modules.setdefault(module, {"mutants": 0, "killed": 0, "survived": 0, "equivalent": 0,
                                          "incompetent": 0})
        row["mutants"] += 1
        if result.test_outcome not in (TestOutcome.KILLED, TestOutcome.SURVIVED):   # could not be applied or run
            row["incompetent"] += 1
            continue
        original, mutated = changed_lines(result.diff or "")
        entry = {"module": module, "line": mutation.start_pos[0], "operator": mutation.operator_name,
                 "original": original, "mutated": mutated,
                 "key": f"{module}:{mutation.operator_name}:{mutation.occurrence}"}
        if result.test_outcome == TestOutcome.KILLED:
            row["killed"] += 1
            failed = FAILED_TEST.search(result.output or "")        # pytest -x: the first test that failed
            killed.append({**entry, "test": failed.group(1) if failed else "(timeout or error)"})
            continue
        match = next((e for e in equivalents if e["module"] == module and e["original"] == original
                      and e.get("mutated", mutated) == mutated), None)
        if match:
            row["equivalent"] += 1
            equivalent_found.append({**entry, "reason": match["reason"]})
        else:
            row["survived"] += 1
            survivors.append(entry)
    for row in modules.values():
        scored = row["killed"] + row["survived"]
        row["score"] = round(row["killed"] / scored, 4) if scored else None
    totals = {k: sum(r[k] for r in modules.values()) for k in ("mutants", "killed", "survived", "equivalent",
                                                                 "incompetent")}
    scored = totals["killed"] + totals["survived"]
    totals["score"] = round(totals["killed"] / scored, 4) if scored else None
    return {"name": name, "area": group.get("area"), "target": group.get("target"), "tests": group["tests"], **meta,
            "totals": totals,
            "modules": dict(sorted(modules.items())),
            "survivors": sorted(survivors, key=lambda s: (s["module"], s["line"])),
            "killed": sorted(killed, key=lambda s: (s["module"], s["line"])),
            "equivalents": sorted(equivalent_found, key=lambda s: (s["module"], s["line"]))}


def cell(text: str) -> str:
    """Source text for a Markdown table cell (a '|' would end the cell)."""
    return text.replace("|", "\\|")


def pct(x) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def area_scores(report: dict) -> dict:
    """Killed, survived and score of each area (groups scored together)."""
    areas = {}
    for g in report.get("groups", []):
        if g.get("area"):
            area = areas.setdefault(g["area"], {"killed": 0, "survived": 0, "target": g["target"]})
            area["killed"] += g["totals"]["killed"]
            area["survived"] += g["totals"]["survived"]
    for a in areas.values():
        scored = a["killed"] + a["survived"]
        a["score"] = a["killed"] / scored if scored else None
    return areas


def markdown(report: dict, before: dict | None) -> str:
    old = {}
    for g in (before or {}).get("groups", []):
        old[g["name"]] = g["totals"]["score"]
        old.update({m: r["score"] for m, r in g["modules"].items()})
    lines = [f"# Mutation score ({report['tool']})", "",
             f"Command: `{report['command']}` on {report['machine']}, {report['date']}; "
             f"{report['wall_s'] / 60:.0f} min in all"
             + (f" (and {report['rerun_s'] / 60:.1f} min for the rerun of the survivors)" if report.get("rerun_s") else "")
             + ". Score = killed / (killed + survived), equivalent mutants "
             f"left out; a deterministic sample of each group's mutants (scripts/mutation.toml)."
             + (f" 'Before': {before['label']}." if before else ""), "",
             "| group / module | mutants | killed | survived | equivalent | score | before | target |",
             "|---|---|---|---|---|---|---|---|"]
    for g in report["groups"]:
        t = g["totals"]
        lines.append(f"| **{g['name']}** ({g['sampled']} of {g['listed']}) | {t['mutants']} | {t['killed']} | "
                     f"{t['survived']} | {t['equivalent']} | **{pct(t['score'])}** | {pct(old.get(g['name']))} | "
                     f"{pct(g['target']) if g['target'] else '-'} |")
        for m, r in g["modules"].items():
            lines.append(f"| {m} | {r['mutants']} | {r['killed']} | {r['survived']} | {r['equivalent']} | "
                         f"{pct(r['score'])} | {pct(old.get(m))} | |")
    areas, old_areas = area_scores(report), area_scores(before or {})
    lines += ["", "| area (its groups together) | killed | survived | score | before | target |",
              "|---|---|---|---|---|---|"]
    for name, a in areas.items():
        lines.append(f"| {name} | {a['killed']} | {a['survived']} | **{pct(a['score'])}** | "
                     f"{pct(old_areas.get(name, {}).get('score'))} | {pct(a['target'])} |")
    lines += ["", "## Equivalent mutants", "", "| module:line | change | reason |", "|---|---|---|"]
    for g in report["groups"]:
        for e in g["equivalents"]:
            lines.append(f"| {e['module']}:{e['line']} | `{cell(e['original'])}` -> `{cell(e['mutated'])}` | "
                         f"{cell(e['reason'])} |")
    if before:
        was_killed = {k["key"] for g in before["groups"] for k in g.get("killed", [])}
        was_run = was_killed | {k["key"] for g in before["groups"] for k in g["survivors"] + g["equivalents"]}
        lines += ["", "## Killed now, not before", "",
                  "Each of these mutants survived the earlier run; the test named is the first that failed on it "
                  "now (pytest -x), so it is a test that fails on the code change it guards.", "",
                  "| module:line | change | failing test |", "|---|---|---|"]
        for g in report["groups"]:
            for k in g["killed"]:
                if k["key"] in was_run and k["key"] not in was_killed:
                    lines.append(f"| {k['module']}:{k['line']} | `{cell(k['original'])}` -> `{cell(k['mutated'])}` | "
                                 f"{k['test']} |")
    lines += ["", "## Surviving mutants", "", "| module:line | change |", "|---|---|"]
    for g in report["groups"]:
        for s in g["survivors"]:
            lines.append(f"| {s['module']}:{s['line']} | `{cell(s['original'])}` -> `{cell(s['mutated'])}` |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--group", action="append", help="run only the groups whose name contains this "
                                                         "(repeatable)")
    parser.add_argument("--report-only", action="store_true")
    parser.add_argument("--rerun-survivors", action="store_true",
                        help="run each group's surviving mutants again against the current tests, then report")
    parser.add_argument("--before", type=Path, help="an earlier mutation.json whose scores the table shows")
    parser.add_argument("--out", default="mutation", help="report name under benchmarks/results/")
    parser.add_argument("--limit", type=int, help="at most this many mutants per group: the first of each "
                                                  "group's sample (a smaller deterministic sample)")
    args = parser.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    signal.signal(signal.SIGTERM, signal.default_int_handler)     # `kill` stops like Ctrl-C: files restored
    cfg = toml.loads(CONFIG.read_text())
    groups = [g for g in cfg["group"] if not args.group or any(part in g["name"] for part in args.group)]
    start = time.monotonic()
    equivalents = load_equivalents()
    if not args.report_only:
        files = [f for g in groups for f in module_files(g["modules"])]
        check_clean(files)
        check_mutants_reach_pytest()
        for group in groups:
            if args.rerun_survivors:
                rerun_survivors(group, cfg, equivalents)
            else:
                run_group(group, cfg, args.limit)
        check_clean(files)
    from importlib.metadata import version
    report = {"tool": f"cosmic-ray {version('cosmic-ray')}",
              "command": "make mutation" if not (args.group or args.limit) else
                         "python scripts/mutation.py" + "".join(f" --group {shlex.quote(g)}" for g in args.group or [])
                         + (f" --limit {args.limit}" if args.limit else ""),
              "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores (shared), Python "
                         f"{platform.python_version()}",
              "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
              "commit": subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                                       text=True).stdout.strip(),
              "groups": [group_report(g, equivalents) for g in groups]}
    report["wall_s"] = sum(g["wall_s"] for g in report["groups"])
    report["rerun_s"] = sum(g.get("rerun_s", 0) for g in report["groups"])
    reruns = sorted({g["rerun_command"] for g in report["groups"] if g.get("rerun_command")})
    if reruns:
        report["command"] += ", then the survivors again: " + "; ".join(reruns)
    before = None
    if args.before:
        before = json.loads(args.before.read_text())
        before["label"] = f"{args.before.name} (commit {before.get('commit', '?')})"
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{args.out}.json").write_text(json.dumps(report, indent=1) + "\n")
    (RESULTS / f"{args.out}.md").write_text(markdown(report, before))
    for g in report["groups"]:
        print(f"{g['name']}: {pct(g['totals']['score'])} ({g['totals']['killed']} killed, "
              f"{g['totals']['survived']} survived, {g['totals']['equivalent']} equivalent)")
    print(f"report: {RESULTS / args.out}.md ({(time.monotonic() - start) / 60:.1f} min)")


if __name__ == "__main__":
    main()
