"""Small readers the integration tests share (test doubles of networks live in doubles.py)."""
import json
from pathlib import Path


def logs(run) -> list[dict]:
    "Every record of a run's log.jsonl, strictly: a torn or non-JSON line fails the test (vitok.train.read_log skips it)."
    return [json.loads(line) for line in (Path(run) / "log.jsonl").read_text().splitlines()]
