"""The library notebooks (nbs/NN_*.ipynb) are the source of vitok/: every module is exported by exactly one of
them, the modules on disk are what the notebooks export now, and every library notebook runs (in-process, as
`nbdev-test` does, skipping cells flagged slow / gpu)."""
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from nbdev.test import test_nb as run_notebook  # renamed so pytest does not collect it

ROOT = Path(__file__).resolve().parents[1]
NBS = ROOT / "nbs"
LIBRARY_NBS = sorted(NBS.glob("[0-9][0-9]_*.ipynb"))
SKIP = {"_modidx"}                              # nbdev's generated index


def exports(nb: Path) -> list[str]:
    "The modules a notebook exports (`#| default_exp a.b` -> 'a/b')."
    src = "\n".join("".join(c["source"]) for c in json.loads(nb.read_text())["cells"] if c["cell_type"] == "code")
    return [m.replace(".", "/") for m in re.findall(r"^#\|\s*default_exp\s+(\S+)", src, re.M)]


def test_every_module_comes_from_one_library_notebook():
    owners = {}
    for nb in LIBRARY_NBS:
        for mod in exports(nb): owners.setdefault(mod, []).append(nb.name)
    twice = {m: o for m, o in owners.items() if len(o) > 1}
    assert not twice, f"modules exported by more than one notebook: {twice}"
    modules = {str(p.relative_to(ROOT / "vitok").with_suffix("")) for p in (ROOT / "vitok").rglob("*.py")}
    orphans = sorted(m for m in modules - set(owners) if Path(m).name not in SKIP and Path(m).name != "__init__")
    assert not orphans, f"vitok modules no notebook exports (stale, or edited by hand): {orphans}"
    missing = sorted(set(owners) - modules)
    assert not missing, f"notebooks export modules that are not in vitok/ (run nbdev-export): {missing}"
    assert all(nb.name[:2].isdigit() for nb in LIBRARY_NBS) and len(owners) >= 20


def test_modules_are_what_the_notebooks_export(tmp_path):
    "nbdev-export in a copy of the repository gives byte for byte the modules that are checked in."
    shutil.copytree(NBS, tmp_path / "nbs", ignore=shutil.ignore_patterns(".ipynb_checkpoints", "_*"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    (tmp_path / "vitok").mkdir()
    shutil.copy(ROOT / "vitok" / "__init__.py", tmp_path / "vitok" / "__init__.py")       # holds __version__
    p = subprocess.run([str(Path(sys.executable).parent / "nbdev-export")], cwd=tmp_path, capture_output=True, text=True)
    assert p.returncode == 0, p.stderr[-2000:]
    fresh = {q.relative_to(tmp_path / "vitok"): q.read_text() for q in (tmp_path / "vitok").rglob("*.py")}
    stale = sorted(str(k) for k, v in fresh.items() if k.stem not in SKIP
                   and (not (ROOT / "vitok" / k).exists() or (ROOT / "vitok" / k).read_text() != v))
    assert not stale, f"vitok/ differs from what the notebooks export (run nbdev-export, never edit vitok/ by hand): {stale}"


@pytest.mark.parametrize("nb", LIBRARY_NBS, ids=[p.stem for p in LIBRARY_NBS])
def test_library_notebook(nb, monkeypatch):
    monkeypatch.chdir(nb.parent)  # nbdev-test runs each notebook from its own folder
    ok, secs = run_notebook(nb, skip_flags=["slow", "gpu"], showerr=True)
    assert ok, f"{nb.name} failed (see the cell error above)"
