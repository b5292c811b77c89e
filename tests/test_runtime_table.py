"tools/runtime_table.py: the README's tiny-runtime column comes from a recorded vitok-figures run, never typed (issue 25)."
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

TOOL = Path(__file__).resolve().parents[1] / "tools" / "runtime_table.py"
spec = importlib.util.spec_from_file_location("runtime_table", TOOL)
rt = importlib.util.module_from_spec(spec); spec.loader.exec_module(rt)

README = """# title

Figure and table notebooks:

Runtimes were measured somewhere.

| notebook | paper | what the tiny preset shows | tiny runtime |
|---|---|---|---|
| `quickstart` | — | a fresh tokenizer; a \\| kept pipe | 7 s |
| `fig2_sweep` | Fig 2 / 17 | 9 tokenizers | 11 min 36 s |
| `fig5_generation` | Fig 5 | digits | 18 min 31 s (busy machine) |
| `fig16_video_samples` | Fig 16 | clips | about 8.5 min |

Text after the table.

| notebook | paper | code |
|---|---|---|
| `quickstart` | other table | 99 s |
"""


def record(name, seconds, ok=True, preset="tiny"):
    return {"notebook": name, "preset": preset, "ok": ok, "seconds": seconds, "error": "" if ok else "boom",
            "cause": "" if ok else "RuntimeError: boom", "executed": f"{name}/{name}.ipynb", "files": []}


def write_run(tmp_path, records, machine=None):
    out = tmp_path / "run"; out.mkdir(exist_ok=True)
    (out / "figures.json").write_text(json.dumps(records))
    if machine is not None:
        (out / "figures_machine.json").write_text(json.dumps(machine))
    readme = tmp_path / "README.md"; readme.write_text(README)
    return out / "figures.json", readme


def run_tool(*args):
    return subprocess.run([sys.executable, str(TOOL), *map(str, args)], capture_output=True, text=True)


def rows(text):
    "The runtime table's rows by first cell (the second table, after 'Text after the table.', is not read)."
    table = text.split("Text after the table.")[0]
    return {l.split("|")[1].strip(): l for l in table.splitlines() if l.startswith("| `")}


@pytest.mark.parametrize("seconds, shown", [(59.6, "1 min 0 s"), (61, "1 min 1 s"), (3600, "60 min 0 s"),
                                            (7.4, "7 s"), (0.2, "0 s"), (696.2, "11 min 36 s")])
def test_format_seconds(seconds, shown):
    assert rt.format_seconds(seconds) == shown


def test_rows_updated_others_kept_and_left_rows_reported(tmp_path):
    records = [record("quickstart", 59.6), record("fig2_sweep", 3600), record("fig5_generation", 12.0, ok=False),
               record("tab9_extra", 61)]                                  # fig16 not run; tab9 has no row
    fj, readme = write_run(tmp_path, records, {"cpu": "Test CPU 9000", "cores": 3, "date": "2025-01-02"})
    res = run_tool(fj, "--readme", readme)
    assert res.returncode == 0, res.stderr
    new = readme.read_text()
    old_rows, new_rows = rows(README), rows(new)
    assert new_rows["`quickstart`"] == "| `quickstart` | — | a fresh tokenizer; a \\| kept pipe | 1 min 0 s |"
    assert new_rows["`fig2_sweep`"] == "| `fig2_sweep` | Fig 2 / 17 | 9 tokenizers | 60 min 0 s |"
    assert new_rows["`fig5_generation`"] == old_rows["`fig5_generation`"]          # failed: left as typed
    assert new_rows["`fig16_video_samples`"] == old_rows["`fig16_video_samples`"]  # not in the record
    assert "| `quickstart` | other table | 99 s |" in new                        # only the runtime table is touched
    note = ("Runtimes: `vitok-figures --preset tiny` on Test CPU 9000 (3 cores), 2025-01-02, 62 min 13 s in all, "
            "recorded in `run/figures.json` (2 of 4 rows).")
    assert f"| about 8.5 min |\n\n{note}\n\nText after the table." in new
    # without the blank line and the note, line for line the old README except the updated rows' last cells
    lines = new.splitlines(); i = lines.index(note); del lines[i - 1:i + 1]
    changed = [(a, b) for a, b in zip(README.splitlines(), lines, strict=True) if a != b]
    assert [a.rsplit("|", 2)[0] for a, _ in changed] == [b.rsplit("|", 2)[0] for _, b in changed]
    assert [b for _, b in changed] == [new_rows["`quickstart`"], new_rows["`fig2_sweep`"]]
    out = res.stdout
    assert "2 runtime rows updated" in out and "total 62 min 13 s" in out
    assert "not in the record): fig16_video_samples" in out and "did not run ok): fig5_generation" in out
    assert "no table row): tab9_extra" in out and "figures_machine.json" in out
    assert "slowest: fig2_sweep 60 min 0 s, tab9_extra 1 min 1 s, quickstart 1 min 0 s" in out

    again = run_tool(fj, "--readme", readme)                                  # a second run replaces its line
    assert again.returncode == 0 and readme.read_text() == new


def test_check_exit_status(tmp_path):
    full = [record("quickstart", 7), record("fig2_sweep", 700), record("fig5_generation", 1100),
            record("fig16_video_samples", 500)]
    fj, readme = write_run(tmp_path, full)
    assert run_tool(fj, "--readme", readme, "--check").returncode == 0
    assert all(l.endswith(" s |") and "busy" not in l and "about" not in l for l in rows(readme.read_text()).values())
    for broken in ([r for r in full if r["notebook"] != "fig16_video_samples"],              # a row not run
                   [record(r["notebook"], r["seconds"], ok=r["notebook"] != "fig2_sweep") for r in full],  # a failure
                   full + [record("tab9_extra", 3)]):                                        # a record without a row
        fj, readme = write_run(tmp_path, broken)
        res = run_tool(fj, "--readme", readme, "--check")
        assert res.returncode == 1, res.stdout
        assert run_tool(fj, "--readme", readme).returncode == 0                # without --check: only reported


def test_machine_facts_without_sidecar_are_this_machines(tmp_path):
    fj, readme = write_run(tmp_path, [record("quickstart", 7)])
    res = run_tool(fj, "--readme", readme)
    mine = rt.this_machine()
    assert f"on {mine['cpu']} ({mine['cores']} cores)" in readme.read_text()
    assert "this machine" in res.stdout


def test_refuses_other_presets_and_non_records(tmp_path):
    fj, readme = write_run(tmp_path, [record("quickstart", 1, preset="smoke")])
    res = run_tool(fj, "--readme", readme)
    assert res.returncode != 0 and "not tiny" in res.stderr and readme.read_text() == README
    fj.write_text(json.dumps({"quickstart": 1}))
    res = run_tool(fj, "--readme", readme)
    assert res.returncode != 0 and "not a vitok-figures record" in res.stderr and readme.read_text() == README
