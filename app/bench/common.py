"""What every part of ``troly bench`` shares: the log line, the clean environment of the
processes it starts, and running a measuring subprocess that writes JSON."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import click

ROOT = Path(__file__).resolve().parents[2]

# Variables that change what is measured: troly's own settings and the thread pools' sizes.
_MEASURED_PREFIXES = ("TROLY_", "OMP_", "GOMP_", "OPENBLAS_")


def log(message: str) -> None:
    """A timestamped progress line on stderr (stdout is the command's own output)."""
    click.echo(f"[{datetime.now().strftime('%H:%M:%S')}] {message}", err=True)


# The bench measures capacity from one address: the service's rate limits would measure themselves.
_UNLIMITED = {"TROLY_ASK_RATE_LIMIT": "", "TROLY_WRITE_RATE_LIMIT": ""}


def clean_env(extra: dict[str, str]) -> dict[str, str]:
    """This process's environment without anything that would change what is measured (rate
    limits off), plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_MEASURED_PREFIXES)}
    env.update(_UNLIMITED)
    env.update(extra)
    return env


def subprocess_json(args: list[str], out: Path, env: dict[str, str] | None = None) -> Any:
    """Runs ``python ARGS --out OUT`` in a clean environment and reads the JSON it wrote to OUT."""
    completed = subprocess.run(
        [sys.executable, *args, "--out", str(out)], env=clean_env(env or {}), cwd=ROOT, capture_output=True, text=True
    )
    if completed.returncode != 0:
        raise click.ClickException(f"{' '.join(args[:3])} failed:\n{completed.stderr[-3000:]}")
    return json.loads(out.read_text(encoding="utf-8"))
