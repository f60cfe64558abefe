"""The quickstart end to end: train -> apply -> invoke -> status, on the local target.

    python examples/quickstart/run.py          # leaves the endpoint running
    python examples/quickstart/run.py --down   # stops it and removes its state

Each step is the `cloudserve` command a user would type; the request loop in the middle
uses the Python API to show the 90/10 split on real requests.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
SPEC = HERE / "deployment.yaml"
ROWS = [[5.1, 3.5, 1.4, 0.2], [6.2, 2.9, 4.3, 1.3], [7.7, 3.0, 6.1, 2.3]]  # one of each species


def cloudserve(*args: str) -> None:
    command = [sys.executable, "-m", "cloudserve", *args]
    print(f"\n$ cloudserve {shlex.join(args)}", flush=True)  # quoted: pastes into a shell
    subprocess.run(command, check=True)


def show_split(requests: int = 200) -> None:
    from cloudserve import api

    deployment = api.load(str(SPEC))[0]
    answered: Counter[str] = Counter()
    for _ in range(requests):
        result = api.invoke(deployment, {"instances": ROWS[:1]})
        answered[result.version or "?"] += 1
    shares = ", ".join(f"{v}: {n}" for v, n in sorted(answered.items()))
    print(f"\n{requests} requests answered by -> {shares}", flush=True)


def main(argv: list[str]) -> int:
    spec = str(SPEC.relative_to(Path.cwd())) if SPEC.is_relative_to(Path.cwd()) else str(SPEC)
    if "--down" in argv:
        cloudserve("destroy", spec, "--yes")
        return 0
    sys.path.insert(0, str(HERE))
    from train import train

    print("$ python examples/quickstart/train.py")
    for version, what in train().items():
        print(f"{version}: {what}")
    cloudserve("apply", spec, "--yes")
    body = '{"instances": ' + str(ROWS) + "}"
    cloudserve("invoke", spec, "--data", body)
    show_split()
    cloudserve("status", spec)
    venv_bin = Path(sys.executable).parent
    print(
        "\nThe endpoint keeps running. Next, with the CLI this installed:\n"
        f"  source {_shown(venv_bin / 'activate')}      # puts cloudserve on your PATH\n"
        f"  cloudserve status {spec}\n"
        f"  cloudserve invoke {spec} -d '{{\"instances\": [[5.1, 3.5, 1.4, 0.2]]}}'\n"
        f"  cloudserve plan {spec}\n"
        "Stop it with: scripts/quickstart --down",
        flush=True,
    )
    return 0


def _shown(path: Path) -> str:
    """``path`` relative to the working directory when it is under it."""
    return str(path.relative_to(Path.cwd())) if path.is_relative_to(Path.cwd()) else str(path)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
