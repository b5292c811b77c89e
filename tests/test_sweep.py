"Sweeps: the submitit job-array path (local executor), resuming, bad launcher."
import json
import os

import pytest

from vitok.sweep import Sweep, expand_grid, run_name


def grid():
    return expand_grid(channels=[4, 8], steps=2, eval_every=2, eval_images=4, num_workers=0)


def test_submitit_job_array_local_executor(tmp_path, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    sw = Sweep(tmp_path / "sw", grid(), preset="smoke", eval_images=4)
    res = sw.run("slurm", cluster="local", timeout_min=10)
    assert [r["c"] for r in res] == [4, 8]
    assert all((tmp_path / "sw" / run_name(r) / "final" / "model.safetensors").exists() for r in grid())
    assert list((tmp_path / "sw" / "_submitit").glob("*_log.out")), "no submitit job logs"
    # resuming: nothing is pending, a second launch submits nothing and returns the same results
    assert sw.pending() == [] and sw.run("slurm", cluster="local") == res


def test_partial_sweep_resumes_only_missing(tmp_path):
    sw = Sweep(tmp_path, grid(), preset="smoke", eval_images=4)
    first = Sweep(tmp_path, grid()[:1], preset="smoke", eval_images=4).run()
    mtime = os.path.getmtime(tmp_path / run_name(grid()[0]) / "results.json")
    assert sw.pending() == grid()[1:]
    res = sw.run()
    assert res[0] == first[0] and os.path.getmtime(tmp_path / run_name(grid()[0]) / "results.json") == mtime
    saved = json.loads((tmp_path / run_name(grid()[1]) / "results.json").read_text())
    assert saved["E"] == saved["tokens"] * 8 and saved["overrides"]["channels"] == 8


def test_bad_launcher_and_duplicates(tmp_path):
    with pytest.raises(ValueError, match="duplicate"):
        Sweep(tmp_path, grid() + grid()[:1])
    with pytest.raises(ValueError, match="launcher must be 'local' or 'slurm'"):
        Sweep(tmp_path, grid(), preset="smoke").run("kubernetes")
