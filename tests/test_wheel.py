"""The installed package reproduces the figures: `pip wheel .`, a fresh venv outside the repository that installs
only torch (the release on this machine's disk) and the wheel, then, from an empty folder, `vitok-figures --preset
smoke --only fig2,tab1` writes the gallery from the notebooks shipped in the wheel, `vitok-info S-B/16` works and
`vitok-notebooks DIR` copies the notebooks out.

Slow (installing torch into a fresh venv takes minutes): `python -m pytest -q --runslow tests/test_wheel.py`.
Set VITOK_WHEEL_VENV=/path/to/venv to reuse a venv that already has torch (the wheel is reinstalled each time)."""
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TORCH = ["torch==2.14.1", "torchvision==0.29.1"]      # pinned to the release on this machine's disk (as .ci/run)


def run(cmd, cwd, env=None, timeout=1800):
    p = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert p.returncode == 0, f"{' '.join(map(str, cmd))}\n{p.stdout[-2000:]}\n{p.stderr[-4000:]}"
    return p


def test_wheel_ships_the_notebooks(tmp_path):
    run([sys.executable, "-m", "pip", "wheel", ".", "-w", tmp_path, "--no-deps", "-q"], ROOT, timeout=600)
    whl = next(tmp_path.glob("vitok-*.whl"))
    names = zipfile.ZipFile(whl).namelist()
    nbs = sorted(n.rsplit("/", 1)[1] for n in names if n.endswith(".ipynb"))
    want = sorted(p.name for p in (ROOT / "nbs").glob("*.ipynb") if not p.name[0].isdigit())
    assert nbs == want, set(nbs) ^ set(want)
    assert all("/data/share/vitok/notebooks/" in n for n in names if n.endswith(".ipynb"))
    assert "vitok/widgets.py" in names and "vitok/gallery.py" in names


@pytest.mark.slow
def test_fresh_venv_runs_the_figures(tmp_path):
    run([sys.executable, "-m", "pip", "wheel", ".", "-w", tmp_path / "dist", "--no-deps", "-q"], ROOT, timeout=600)
    whl = next((tmp_path / "dist").glob("vitok-*.whl"))
    venv = Path(os.environ.get("VITOK_WHEEL_VENV") or tmp_path / "venv")
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env.update(PATH=f"{venv / 'bin'}:/usr/bin:/bin", VITOK_THREADS="1", OMP_NUM_THREADS="1", MPLBACKEND="Agg",
               PIP_DISABLE_PIP_VERSION_CHECK="1")
    if not (venv / "bin" / "python").exists():
        run(["python3", "-m", "venv", venv], tmp_path, env)
    pip = venv / "bin" / "pip"
    run([pip, "install", "-q", *TORCH], tmp_path, env)
    run([pip, "install", "-q", "--force-reinstall", "--no-deps", whl], tmp_path, env)
    run([pip, "install", "-q", whl], tmp_path, env)                                   # its dependencies
    work = tmp_path / "elsewhere"; work.mkdir()
    py = venv / "bin" / "python"
    where = run([py, "-c", "import vitok, vitok.runner as r; print(vitok.__file__); print(r.default_nbs())"], work, env).stdout
    assert str(ROOT) not in where and "share/vitok/notebooks" in where, where       # the installed copy, not the checkout
    run([venv / "bin" / "vitok-figures", "--preset", "smoke", "--only", "fig2,tab1", "--out", "gallery"], work, env)
    recs = json.loads((work / "gallery" / "figures.json").read_text())
    assert [r["notebook"] for r in recs] == ["fig2_sweep", "tab1_sizes"] and all(r["ok"] for r in recs)
    assert {"index.html", "fig2_sweep.html", "tab1_sizes.html"} <= {p.name for p in (work / "gallery").iterdir()}
    assert json.loads((work / "gallery" / "fig2_sweep" / "results.json").read_text())["preset"] == "smoke"
    info = run([venv / "bin" / "vitok-info", "S-B/16"], work, env).stdout
    assert "E=4096" in info and "pixels/float=48" in info
    out = run([venv / "bin" / "vitok-notebooks", "nbs"], work, env).stdout
    assert "jupyter lab nbs" in out and (work / "nbs" / "fig2_sweep.ipynb").exists()
