"vitok-figures: runs notebooks, carries on past a failure, reports it, exits non-zero, writes an index, passes --threads."
import json
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat

NBS = Path(__file__).resolve().parents[1] / "nbs"
BIN = Path(sys.executable).parent


def make_nb(path, code):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    params = nbformat.v4.new_code_cell('preset = "tiny"\nout_dir = "_out/x"')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell(code)]
    nbformat.write(nb, str(path))


def test_runner_continues_past_failure_and_indexes(tmp_path):
    nbs = tmp_path / "nbs"; nbs.mkdir()
    make_nb(nbs / "a_fails.ipynb", "raise RuntimeError('boom in a: the cause\\n(a second line of detail)')")
    make_nb(nbs / "b_works.ipynb", "import os\nfrom pathlib import Path\nimport matplotlib; matplotlib.use('Agg')\n"
            "import matplotlib.pyplot as plt\nplt.plot([1, 2]); (Path(out_dir) / 'pool').mkdir(exist_ok=True, parents=True)\n"
            "plt.savefig(Path(out_dir) / 'fig.png'); plt.savefig(Path(out_dir) / 'pool' / 'crop.png')\n"
            "(Path(out_dir) / 'threads.txt').write_text(os.environ.get('VITOK_THREADS', '')); assert preset == 'smoke'")
    shutil.copy(NBS / "00_config.ipynb", nbs / "00_config.ipynb")          # library notebooks are not run
    out = tmp_path / "out"
    p = subprocess.run([str(BIN / "vitok-figures"), "--preset", "smoke", "--nbs", str(nbs), "--out", str(out), "--threads", "1"],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 1
    assert "FAILED a_fails: RuntimeError: boom in a: the cause" in p.stderr, p.stderr   # the cause, not the traceback's last line
    assert "1 of 2 notebooks ran" in p.stdout
    recs = {r["notebook"]: r for r in json.loads((out / "figures.json").read_text())}
    assert set(recs) == {"a_fails", "b_works"} and not recs["a_fails"]["ok"] and recs["b_works"]["ok"]
    index = (out / "index.html").read_text()
    assert "b_works/fig.png" in index and "a_fails/a_fails.ipynb" in index and (out / "b_works" / "fig.png").exists()
    assert recs["b_works"]["files"] == ["b_works/fig.png"] and "crop.png" not in index    # a notebook's subfolders are not listed
    assert (out / "b_works" / "threads.txt").read_text() == "1"                           # --threads reaches the notebooks
    machine = json.loads((out / "figures_machine.json").read_text())                     # where the times were taken
    assert machine["cores"] >= 1 and machine["cpu"] and machine["preset"] == "smoke" and machine["threads_env"] == "1"


def test_runner_unknown_only_lists_choices(tmp_path):
    p = subprocess.run([str(BIN / "vitok-figures"), "--only", "fig99", "--out", str(tmp_path)],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode != 0 and "fig99" in p.stderr and "quickstart" in p.stderr

