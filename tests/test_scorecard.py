"""The committed tiny scorecard (docs/claims.json, docs/claims.md, written by `vitok-figures --scorecard docs`) is
consistent: every verdict follows from its numbers by vitok.verdict's one rule, and the table lists every claim."""
import json
from pathlib import Path

import pytest

from vitok.presets.figure import ClaimRule
from vitok.runner import scorecard_markdown
from vitok.verdict import VERDICTS, noise_verdict

DOCS = Path(__file__).resolve().parents[1] / "docs"
CLAIMS = json.loads((DOCS / "claims.json").read_text()) if (DOCS / "claims.json").exists() else None


def test_scorecard_is_committed():
    assert CLAIMS, "docs/claims.json is missing or empty: vitok-figures --preset tiny --out _out --scorecard docs"


@pytest.mark.parametrize("i", range(len(CLAIMS or [])))
def test_each_verdict_follows_from_its_numbers(i):
    c = CLAIMS[i]
    assert c["verdict"] in VERDICTS and c["figure"] and c["claim"] and c["notebook"], c
    if not isinstance(c["ours"], dict): return                   # a claim made the older way: one run, kept as typed
    rule = ClaimRule(c["claim"], c["paper"], c["quantity"], c["expect"], c["bound"], noise_free=c["noise_free"])
    assert noise_verdict(rule, c["ours"])[0] == c["verdict"], c
    if c["verdict"] != "not measured" and not c["noise_free"]:
        assert len(c["ours"]["seeds"]) >= 3, f"{c['figure']}: {c['claim']!r} judged on fewer than 3 seeds at tiny"


def test_table_lists_every_claim():
    md = (DOCS / "claims.md").read_text()
    assert md.splitlines()[0] == scorecard_markdown(CLAIMS, "tiny").splitlines()[0], md.splitlines()[0]
    rows = [l for l in md.splitlines() if l.startswith("| ") and not l.startswith("| figure")]
    assert len(rows) == len(CLAIMS) and all(f"| {c['figure']} | {c['claim']} |" in md for c in CLAIMS)
