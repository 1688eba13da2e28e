"""Short voice chaos run (the full one is part of `make chaos`): status callbacks shuffled and
repeated, Salesforce and LINE failing part of the time, a worker SIGKILLed; every call still ends as
exactly one Task with its final status and duration, every caller who pressed 1 gets one LINE
message."""

from __future__ import annotations

import pytest

from bench.voice import chaos

pytestmark = pytest.mark.slow


def test_status_callbacks_under_chaos_end_in_one_task_per_call():
    result = chaos(calls=18, seed=3, kills=1, log_fn=lambda *_: None)
    assert result["voice_calls"] == 18 and result["voice_callbacks"] > 18 * 4, result
    for key in (
        "voice_tasks_missing",
        "voice_tasks_duplicated",
        "voice_tasks_wrong",
        "voice_line_duplicates",
        "voice_line_missing",
    ):
        assert result[key] == 0, result
