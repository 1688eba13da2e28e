"""`make demo` keeps working: the scripted scenario runs and every check it prints passes - on a
Redis of its own, whatever $REDIS_URL says (issue 17, finding 7: it used to flush that database)."""

import os
import subprocess
import sys

import pytest
import redis as redis_lib

from connector.local.redis_server import RedisServer


@pytest.mark.slow
def test_finding_7_the_demo_runs_and_its_checks_pass_without_touching_the_exported_redis_url():
    with RedisServer() as theirs:
        client = redis_lib.Redis.from_url(theirs.url)
        client.set("app:customer:42", "precious")
        env = {**os.environ, "REDIS_URL": theirs.url}
        proc = subprocess.run(
            [sys.executable, "-m", "connector.entrypoints.cli", "demo"],
            capture_output=True,
            text=True,
            timeout=300,
            env=env,
        )
        # the reason comes first on stderr ("DEMO FAILED: ..."), then the stack's logs
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[:2000] + "\n...\n" + proc.stderr[-2000:]
        assert "FAIL" not in proc.stdout
        assert "Stopped everything the demo started." in proc.stdout
        assert client.keys("*") == [b"app:customer:42"] and client.get("app:customer:42") == b"precious"
