"""Build what a Dockerfile from `cloudserve package` builds, without Docker: a folder that
stands for the image's file system, a venv that stands for its Python, and the image's
environment and command in ``image.json``.

    python scripts/follow-dockerfile.py CONTEXT ROOT --python PYTHON

``FROM python:X.Y-slim`` must name PYTHON's version; ``ENV`` and ``WORKDIR`` are recorded;
``COPY`` copies from the context (a missing source fails, as ``docker build`` would);
``RUN`` runs with ``sh -c`` in the working directory, with the venv first on PATH;
``EXPOSE``, ``ENTRYPOINT`` and ``CMD`` are recorded. Any other instruction is an error.
Absolute paths are taken under ROOT. Like docker's layer cache, a second run over the same
ROOT resumes at the first step whose instruction or copied files changed (later steps are
run again on top, not undone first); a changed FROM starts afresh.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path


def instructions(dockerfile: str) -> list[tuple[str, str]]:
    joined = re.sub(r"\\\n\s*", " ", dockerfile)
    steps = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            steps.append((keyword.upper(), rest.strip()))
    return steps


def digest_of(path: Path) -> str:
    h = hashlib.sha256()
    for item in sorted(path.rglob("*")) if path.is_dir() else [path]:
        if item.is_file():
            h.update(str(item.relative_to(path) if path.is_dir() else item.name).encode())
            h.update(item.read_bytes())
    return h.hexdigest()


class Image:
    def __init__(self, context: Path, root: Path, python: str) -> None:
        self.context, self.root, self.python = context, root, python
        self.state_file = root / "image.json"
        self.state = json.loads(self.state_file.read_text()) if self.state_file.is_file() else {}
        self.env: dict[str, str] = {}
        self.workdir = "/"

    def under_root(self, path: str) -> Path:
        absolute = path if path.startswith("/") else os.path.join(self.workdir, path)
        return self.root / absolute.lstrip("/")

    def step_key(self, previous: str, keyword: str, rest: str) -> str:
        h = hashlib.sha256(f"{previous}\n{keyword} {rest}".encode())
        if keyword == "COPY":
            source = rest.split()[0]
            if not (self.context / source).exists():
                sys.exit(f"COPY {source}: not in the build context {self.context}")
            h.update(digest_of(self.context / source).encode())
        return h.hexdigest()

    def follow(self) -> None:
        done: list[str] = self.state.get("steps", [])
        key, fresh = "", False
        for index, (keyword, rest) in enumerate(instructions((self.context / "Dockerfile").read_text())):
            key = self.step_key(key, keyword, rest)
            cached = not fresh and index < len(done) and done[index] == key
            if not cached and keyword == "FROM":
                self.start_from(rest)
            fresh = fresh or not cached
            self.apply(keyword, rest, run=not cached)
            done = [*done[:index], key]
            self.save(done)

    def start_from(self, image: str) -> None:
        match = re.fullmatch(r"python:(\d+\.\d+)(-slim)?", image)
        have = subprocess.run(
            [self.python, "-c", "import sys; print(f'{sys.version_info[0]}.{sys.version_info[1]}')"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        if match is None or match[1] != have:
            sys.exit(f"FROM {image}: follow it with that image's Python (have {self.python}, {have})")
        shutil.rmtree(self.root, ignore_errors=True)
        self.root.mkdir(parents=True)
        subprocess.run([self.python, "-m", "venv", str(self.root / "venv")], check=True)

    def apply(self, keyword: str, rest: str, run: bool) -> None:
        if keyword == "FROM" or keyword == "EXPOSE":
            self.state.setdefault("image", {})[keyword.lower()] = rest
        elif keyword == "ENV":
            for pair in shlex.split(rest):
                name, _, value = pair.partition("=")
                self.env[name] = value
        elif keyword == "WORKDIR":
            self.workdir = rest
            self.under_root(rest).mkdir(parents=True, exist_ok=True)
        elif keyword == "COPY" and run:
            source, target = rest.split()
            into = self.under_root(target)
            origin = self.context / source
            if origin.is_dir():
                shutil.rmtree(into, ignore_errors=True)
                shutil.copytree(origin, into)
            else:
                into = into / origin.name if target.endswith("/") else into
                into.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(origin, into)
        elif keyword == "RUN" and run:
            env = {**os.environ, **self.env, "VIRTUAL_ENV": str(self.root / "venv")}
            env["PATH"] = f"{self.root / 'venv' / 'bin'}{os.pathsep}{os.environ['PATH']}"
            subprocess.run(["sh", "-c", rest], cwd=self.under_root(self.workdir), env=env, check=True)
        elif keyword in ("ENTRYPOINT", "CMD"):
            self.state.setdefault("image", {})[keyword.lower()] = json.loads(rest)
        elif keyword not in ("COPY", "RUN"):
            sys.exit(f"{keyword}: not an instruction this follower knows")

    def save(self, steps: list[str]) -> None:
        image = self.state.setdefault("image", {})
        image.update(env=self.env, workdir=self.workdir, python=str(self.root / "venv" / "bin" / "python"))
        self.state["steps"] = steps
        self.state_file.write_text(json.dumps(self.state, indent=1) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("context", type=Path)
    parser.add_argument("root", type=Path)
    parser.add_argument("--python", required=True)
    args = parser.parse_args()
    Image(args.context.resolve(), args.root.resolve(), args.python).follow()


if __name__ == "__main__":
    main()
