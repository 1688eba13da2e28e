"""`make demo` keeps working: the scripted scenario runs and every check it prints passes."""

import os
import subprocess
import sys

import pytest

from tests.integration.conftest import STACK_REDIS_URL


@pytest.mark.slow
def test_the_demo_runs_and_its_checks_pass():
    env = {**os.environ, "REDIS_URL": STACK_REDIS_URL}
    proc = subprocess.run(
        [sys.executable, "-m", "connector.entrypoints.cli", "demo"],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "FAIL" not in proc.stdout
    assert "Stopped everything the demo started." in proc.stdout
