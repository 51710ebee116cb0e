"""Shared fixtures: paths to the seed fixtures and a runner for the real `dedupe` command."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"

# The default suite is derandomized: the same examples on every run, so CI is reproducible.
# `make fuzz` (profile "fuzz") explores new random examples and keeps what it finds.
settings.register_profile(
    "default", max_examples=60, deadline=None, derandomize=True, database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "fuzz", max_examples=2000, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


@pytest.fixture
def fixtures() -> Path:
    return FIXTURES


def run_cli(args: Sequence[str], stdin: bytes | None = None, cwd: Path | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess[bytes]:
    """Run `python -m dedupe` as a user would, capturing stdout and stderr separately."""
    return subprocess.run(
        [sys.executable, "-m", "dedupe", *args], input=stdin, capture_output=True,
        cwd=cwd or ROOT, timeout=timeout, check=False,
    )


@pytest.fixture
def cli():  # type: ignore[no-untyped-def]
    return run_cli
