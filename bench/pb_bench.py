"""Benchmark: our ``mes_add1`` against pabutools' on the largest shared pabulib election.

Usage (from the repository root)::

    .venv/bin/python bench/pb_bench.py [--file PATH] [--repeat 3] [--timeout 1800] [--no-reference]
        [--no-write]

"Largest" means the most approvals in total (the work MES does grows with them). pabutools is
GPL-3.0 and never a dependency of this project: it is installed with pip into a throwaway
virtualenv in a temporary directory, run in a subprocess, and deleted afterwards. If that
install fails (e.g. no network), only our figures are reported.

It prints its figures and replaces the "Participatory budgeting" section of
``docs/benchmarks.md`` (``--no-write`` to leave the file alone).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import venv
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "pabulib"
sys.path.insert(0, str(ROOT))

from bench.common import (  # noqa: E402 - needs the path above
    environment_rows,
    fmt_seconds,
    load_average,
    markdown_table,
    utc_now,
    write_markdown_section,
)
from ledger.pb import Election, load_pb, mes_add1  # noqa: E402

SECTION = "Participatory budgeting: mes_add1 against pabutools"

# Runs inside the throwaway virtualenv: parse with pabutools and time its iterated MES
# (cost utilities, per-voter budget +1 until exhaustive), printing JSON on the last line.
REFERENCE_SCRIPT = """
import json, sys, time
from importlib.metadata import version
from pabutools.election import Cost_Sat, parse_pabulib
from pabutools.rules import method_of_equal_shares

instance, profile = parse_pabulib(sys.argv[1])
wall, cpu = time.perf_counter(), time.process_time()
outcome = method_of_equal_shares(instance, profile, sat_class=Cost_Sat, voter_budget_increment=1)
wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
winners = sorted(p.name for p in outcome)
print(json.dumps({"wall": wall, "cpu": cpu, "winners": winners, "version": version("pabutools")}))
"""


def largest_election() -> Path:
    """The fixture with the most approvals (ties: the bigger file)."""

    def size(path: Path) -> tuple[int, int]:
        text = path.read_text(encoding="utf-8-sig")
        return sum(len(ballot) for ballot in load_pb(path).ballots), len(text)

    return max(sorted(FIXTURES.glob("*.pb")), key=size)


def time_ours(election: Election, repeat: int) -> tuple[float, float, list[str]]:
    """Best wall-clock and CPU times over ``repeat`` runs (the least disturbed ones).

    CPU time is what the ratio uses: on a shared machine wall-clock time mostly measures
    the neighbours.
    """
    best_wall, best_cpu, winners = float("inf"), float("inf"), []
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        outcome = mes_add1(election)
        best_wall = min(best_wall, time.perf_counter() - wall)
        best_cpu = min(best_cpu, time.process_time() - cpu)
        winners = sorted(outcome.winners)
    return best_wall, best_cpu, winners


def time_reference(path: Path, timeout: float) -> dict[str, object] | str:
    """pabutools' figures, or a sentence saying why there are none."""
    with tempfile.TemporaryDirectory(prefix="pb-bench-") as tmp:
        env_dir = Path(tmp) / "venv"
        venv.create(env_dir, with_pip=True)
        python = env_dir / ("Scripts" if sys.platform == "win32" else "bin") / "python"
        install = subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", "pabutools"],
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        if install.returncode != 0:
            return f"pip install pabutools failed:\n{install.stderr.strip()[-2000:]}"
        script = Path(tmp) / "reference.py"
        script.write_text(REFERENCE_SCRIPT)
        try:
            run = subprocess.run(
                [str(python), str(script), str(path)],
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return f"pabutools did not finish within {timeout:.0f} s"
        if run.returncode != 0:
            return f"pabutools failed:\n{run.stderr.strip()[-2000:]}"
        result: dict[str, object] = json.loads(run.stdout.strip().splitlines()[-1])
        return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--file", type=Path, help="a .pb file (default: the largest fixture)")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of ours (best kept)")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds allowed to pabutools")
    parser.add_argument("--no-reference", action="store_true", help="only time our implementation")
    parser.add_argument("--no-write", action="store_true", help="do not update docs/benchmarks.md")
    args = parser.parse_args()

    path = args.file or largest_election()
    election = load_pb(path)
    approvals = sum(len(ballot) for ballot in election.ballots)
    print(f"election: {path.name}")
    voters, projects = election.num_voters, len(election.projects)
    print(f"  {voters} voters, {projects} projects, {approvals} approvals")
    wall, cpu, our_winners = time_ours(election, max(1, args.repeat))
    print(f"ours      mes_add1: {cpu:9.3f} s CPU, {wall:9.3f} s wall (best of {args.repeat})")
    if args.no_reference:
        return 0

    print("installing pabutools into a throwaway virtualenv ...", flush=True)
    reference = time_reference(path, args.timeout)
    figures = Figures(path.name, voters, projects, approvals, args.repeat, wall, cpu, our_winners)
    if isinstance(reference, str):
        print(reference)
        print("reporting our figures only")
        if not args.no_write:
            write_markdown_section(SECTION, render(figures, None, reference))
        return 0
    ref_cpu, ref_wall = float(reference["cpu"]), float(reference["wall"])  # type: ignore[arg-type]
    print(f"pabutools mes_add1: {ref_cpu:9.3f} s CPU, {ref_wall:9.3f} s wall")
    print(f"ratio pabutools / ours (CPU time): {ref_cpu / cpu:.1f}x")
    agree = reference["winners"] == our_winners
    print(f"outcomes agree ({len(our_winners)} winners)" if agree else "OUTCOMES DIFFER")
    if not agree:
        print(f"  pabutools: {reference['winners']}\n  ours:      {our_winners}")
    if not args.no_write:
        write_markdown_section(SECTION, render(figures, reference, None))
    return 0 if agree else 1


@dataclass(frozen=True)
class Figures:
    file: str
    voters: int
    projects: int
    approvals: int
    repeat: int
    wall: float
    cpu: float
    winners: list[str]


def render(ours: Figures, reference: dict[str, object] | None, why_not: str | None) -> str:
    """The section of docs/benchmarks.md: environment, method, results, target."""
    env = environment_rows(packages=())
    installed = f"pabutools {reference['version']}" if reference else "pabutools (not run)"
    env[-1] = ["Reference", f"{installed}, from PyPI into a throwaway virtualenv"]
    env.append(["Load average at the end", load_average()])
    rows = [["ours (`ledger.pb.mes_add1`)", fmt_seconds(ours.cpu), fmt_seconds(ours.wall)]]
    if reference is not None:
        ref_cpu, ref_wall = float(reference["cpu"]), float(reference["wall"])  # type: ignore[arg-type]
        rows.append(["pabutools", fmt_seconds(ref_cpu), fmt_seconds(ref_wall)])
        ratio = ref_cpu / ours.cpu
        agree = reference["winners"] == ours.winners
        verdict = (
            f"pabutools / ours, CPU time: **{ratio:.1f}x**. Target: at least as fast as "
            f"pabutools (ratio at least 1.0). {'Met' if ratio >= 1 else 'Not met'} in this run. "
            + (
                f"Both chose the same {len(ours.winners)} winners."
                if agree
                else "THE OUTCOMES DIFFER: see the script's output."
            )
        )
    else:
        verdict = f"No reference figures in this run: {(why_not or '').splitlines()[0]}"
    return f"""Measured {utc_now()} with `python bench/pb_bench.py` (options: --file PATH,
--repeat N, --timeout S, --no-reference, --no-write).

### Environment

{markdown_table(["", ""], env)}

### Method

The largest election among the 30 pabulib files in `tests/fixtures/pabulib/` (the most
approvals in total; the work Equal Shares does grows with them): `{ours.file}`, {ours.voters:,}
voters, {ours.projects} projects, {ours.approvals:,} approvals. Both sides count `mes_add1` (Equal
Shares with cost utilities, every voter's share raised by one currency unit at a time until the
outcome is exhaustive) on the parsed election; parsing is not timed. Ours is the best of
{ours.repeat} runs in this process (`ledger.pb.rules`, exact fractions); pabutools'
`method_of_equal_shares(..., sat_class=Cost_Sat, voter_budget_increment=1)` runs once in a
subprocess of the throwaway virtualenv, with its default number type. The ratio uses CPU
time: on a shared machine wall-clock time mostly measures the neighbours.

### Results

{markdown_table(["implementation", "CPU", "wall clock"], rows)}

{verdict}
"""


if __name__ == "__main__":
    sys.exit(main())
