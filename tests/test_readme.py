"""The README's two commands, read as a new user would read them. `.ci/run` runs the quick start itself in a
fresh clone (at -p preset smoke); these checks are the cheap part: every folder the main job writes into
exists or is made by an earlier step of the same command, and CI runs the test command the README gives."""
import re
import shlex
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def bash_blocks(section: str) -> list[str]:
    body = README.split(f"## {section}", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.*?)\n```", body, re.S)


def test_quick_start_makes_every_output_folder_first():
    main_job = bash_blocks("Quick start")[0]
    made = set()
    for step in (shlex.split(s) for s in main_job.split("&&")):
        if step[:2] == ["mkdir", "-p"]:
            made.update(step[2:])
        if step[0].endswith("papermill"):
            out_nb = step[2]
            parent = str(Path(out_nb).parent)
            assert parent in made or (ROOT / parent).is_dir(), f"papermill writes {out_nb} but nothing makes {parent}/ first"
            assert step[1] == "nbs/fig2_sweep.ipynb" and "-p" in step and "out_dir" in step
    assert any(s.strip().endswith("papermill nbs/fig2_sweep.ipynb _out/fig2.ipynb -p out_dir _out/fig2") for s in main_job.split("&&"))


def test_ci_runs_the_readme_commands():
    tests = bash_blocks("Quick start")[1]
    assert tests.endswith("python -m pytest -q")
    ci = (ROOT / ".ci" / "run").read_text()
    assert "\npython -m pytest -q\n" in ci
    assert "-p preset smoke" in ci and "## Quick start" in ci       # the quick start, run as written
