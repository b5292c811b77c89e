"Every papermill notebook (nbs/ files not starting with a number) runs end to end with preset='smoke'."
import json
from pathlib import Path

import papermill as pm
import pytest

NBS = Path(__file__).resolve().parents[1] / "nbs"
FIGURE_NBS = sorted(p for p in NBS.glob("*.ipynb") if not p.name[0].isdigit())


def parameters_cell(nb_path):
    nb = json.loads(nb_path.read_text())
    cells = [c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
    return cells, nb


@pytest.mark.parametrize("nb", FIGURE_NBS, ids=[p.stem for p in FIGURE_NBS])
def test_parameters_cell(nb):
    cells, meta = parameters_cell(nb)
    assert len(cells) == 1, f"{nb.name}: needs exactly one cell tagged 'parameters' (papermill)"
    first = "".join(cells[0]["source"]).splitlines()[0]
    assert first == 'preset = "tiny"', f"{nb.name}: the parameters cell must start with preset = \"tiny\""
    assert meta["metadata"]["kernelspec"]["name"] == "python3"


@pytest.mark.parametrize("nb", FIGURE_NBS, ids=[p.stem for p in FIGURE_NBS])
def test_figure_notebook_smoke(nb, tmp_path):
    out_dir = tmp_path / "out"
    pm.execute_notebook(str(nb), str(tmp_path / nb.name), parameters={"preset": "smoke", "out_dir": str(out_dir)},
                        kernel_name="python3", cwd=str(nb.parent), progress_bar=False)
    assert out_dir.exists() and any(out_dir.iterdir()), f"{nb.name} wrote nothing into out_dir"
