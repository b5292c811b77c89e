"Run every library notebook (nbs/NN_*.ipynb) in-process with nbdev's runner, as `nbdev-test` does."
import os
from pathlib import Path

import pytest
from nbdev.test import test_nb as run_notebook  # renamed so pytest does not collect it

NBS = Path(__file__).resolve().parents[1] / "nbs"
LIBRARY_NBS = sorted(p for p in NBS.glob("[0-9][0-9]_*.ipynb"))


@pytest.mark.parametrize("nb", LIBRARY_NBS, ids=[p.stem for p in LIBRARY_NBS])
def test_library_notebook(nb, monkeypatch):
    monkeypatch.chdir(nb.parent)  # nbdev-test runs each notebook from its own folder
    ok, secs = run_notebook(nb, skip_flags=["slow", "gpu"], showerr=True)
    assert ok, f"{nb.name} failed (see the cell error above)"


def test_notebooks_found():
    assert len(LIBRARY_NBS) >= 5, LIBRARY_NBS
