"""How long the command line takes to refuse bad input (issue 16: "each exits 2 with one line,
within a second, before any heavy work").

Every case of the bad-input table (``tests/unit/cli/bad_input_table.py``) runs as a user runs
it: the ``medtwin`` console script in a fresh process, in a fresh folder holding the table's
files. Printed per case: the wall time and the exit status. Then the summary against the
one-second target, beside what any Python process pays first (``python -c pass``) and what
importing JAX alone costs on this machine (``python -c 'import jax'``) -- what a check would pay
if it loaded a model's numerics rather than reading its declaration.

    python benchmarks/cli_bad_input.py [--repeat 3]

Each case runs ``--repeat`` times and its best time is kept (the machine's other load only ever
adds time). Exit status 1 if a case does not exit with status 2.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "unit" / "cli"))

from bad_input_table import CASES, KEY, make_folder  # noqa: E402

SCRIPT = Path(sys.executable).parent / "medtwin"
TARGET_S = 1.0


def _env(home: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MEDTWIN_", "JAX_"))}
    env.update(MEDTWIN_KEY=KEY, MEDTWIN_JAX_CACHE="off", HOME=home)
    return env


def _best(argv: list[str], repeat: int) -> tuple[float, int]:
    """Best wall time of ``argv`` over ``repeat`` runs, each in a fresh folder; its exit status."""
    times, code = [], 0
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as tmp:
            folder = make_folder(Path(tmp))
            t = time.perf_counter()
            res = subprocess.run(argv, cwd=folder, env=_env(tmp), capture_output=True, timeout=120)
            times.append(time.perf_counter() - t)
            code = res.returncode
    return min(times), code


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    if not SCRIPT.exists():
        print(f"No medtwin script next to {sys.executable}: run `make test` (pip install -e .).")
        return 1
    python, _ = _best([sys.executable, "-c", "pass"], args.repeat)
    jax, _ = _best([sys.executable, "-c", "import jax"], args.repeat)
    version, _ = _best([str(SCRIPT), "--version"], args.repeat)
    print(f"python -c pass: {python:.3f} s; python -c 'import jax': {jax:.3f} s; "
          f"medtwin --version: {version:.3f} s (load {os.getloadavg()[0]:.1f})\n")  # fmt: skip
    times: list[float] = []
    wrong = []
    print(f"{'case':<34} {'wall s':>7}  exit")
    for name, (argv, _) in CASES.items():
        took, code = _best([str(SCRIPT), *argv], args.repeat)
        times.append(took)
        if code != 2:
            wrong.append(name)
        print(f"{name:<34} {took:7.3f}  {code:4d}")
    over = sum(t > TARGET_S for t in times)
    print(
        f"\n{len(times)} cases: median {statistics.median(times):.3f} s, max {max(times):.3f} s; "
        f"{len(times) - over} of {len(times)} within {TARGET_S:g} s (slowest / target = "
        f"{max(times) / TARGET_S:.2f}; importing JAX alone: {jax:.3f} s)."
    )
    if wrong:
        print(f"Not exit status 2: {', '.join(wrong)}")
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
