"Sweeps: the submitit job-array path (local executor), a torchrun run, resuming, refusing stale folders, bad input."
import json
import os

import pytest

from vitok.presets.train import train_preset
from vitok.sweep import Sweep, expand_grid

BASE = train_preset("smoke", steps=2, eval_every=2, eval_images=4, num_workers=0)


def grid():
    return expand_grid(channels=[4, 8])


def test_submitit_job_array_local_executor(tmp_path, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    sw = Sweep(tmp_path / "sw", grid(), base=BASE, eval_images=4)
    res = sw.run("slurm", cluster="local", timeout_min=10)
    assert [r["c"] for r in res] == [4, 8] and sw.names == ["c4", "c8"]
    for name in sw.names:
        folder = tmp_path / "sw" / name
        assert (folder / "final" / "model.safetensors").exists()
        assert json.loads((folder / "config.json").read_text())["channels"] == int(name[1:])
    assert list((tmp_path / "sw" / "_submitit").glob("*_log.out")), "no submitit job logs"
    # resuming: nothing is pending, a second launch submits nothing and returns the same results
    assert sw.pending() == [] and sw.run("slurm", cluster="local") == res


def test_partial_sweep_resumes_only_missing(tmp_path):
    sw = Sweep(tmp_path, grid(), base=BASE, eval_images=4)
    from vitok.sweep import run_one
    first = run_one(*sw._args(0))                                  # as if the sweep stopped after one run
    mtime = os.path.getmtime(tmp_path / "c4" / "results.json")
    assert sw.pending() == grid()[1:]
    res = sw.run()
    assert res[0] == first and os.path.getmtime(tmp_path / "c4" / "results.json") == mtime
    saved = json.loads((tmp_path / "c8" / "results.json").read_text())
    assert saved["E"] == saved["tokens"] * 8 and saved["overrides"] == {"channels": 8}
    assert saved["config"]["steps"] == 2 and set(saved["metrics"]) == {"psnr", "ssim"}


def test_torchrun_run_gets_the_same_config(tmp_path, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    sw = Sweep(tmp_path, [{"channels": 4}], base=BASE, nproc=2, eval_images=4)
    res = sw.run()
    saved = json.loads((tmp_path / sw.names[0] / "config.json").read_text())
    assert saved["channels"] == 4 and saved["steps"] == 2 and saved["lr"] == BASE.peak_lr and res[0]["c"] == 4


def test_stale_folder_is_refused(tmp_path):
    Sweep(tmp_path, grid(), base=BASE, eval_images=4).run()
    with pytest.raises(ValueError, match="steps: 2 there, 3 asked"):
        Sweep(tmp_path, grid(), base=train_preset("smoke", steps=3, eval_every=2)).run()


def test_bad_launcher_and_duplicates(tmp_path):
    with pytest.raises(ValueError, match="duplicate"):
        Sweep(tmp_path, grid() + grid()[:1])
    with pytest.raises(ValueError, match="launcher must be 'local' or 'slurm'"):
        Sweep(tmp_path, grid(), base="smoke").run("kubernetes")


def _weights(folder):
    from vitok.utils import file_sha256
    return file_sha256(folder / "final" / "model.safetensors")


def test_parallel_sweep_gives_the_numbers_of_one_in_turn(tmp_path, monkeypatch):
    import torch
    monkeypatch.setenv("VITOK_RUN_STORE", "off")                    # each sweep trains its own runs
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        runs = expand_grid(channels=[4, 8, 16])
        base = train_preset("smoke", steps=4, eval_every=4, eval_images=4, num_workers=0)
        in_turn = Sweep(tmp_path / "in_turn", runs, base=base, eval_images=4).run(workers=1)
        parallel = Sweep(tmp_path / "parallel", runs, base=base, eval_images=4).run(workers=2)
    finally:
        torch.set_num_threads(threads)
    assert [r["metrics"] for r in parallel] == [r["metrics"] for r in in_turn]
    assert [r["name"] for r in parallel] == ["c4", "c8", "c16"]
    for name in ("c4", "c8", "c16"):
        assert _weights(tmp_path / "parallel" / name) == _weights(tmp_path / "in_turn" / name), name


def test_run_store_copies_a_run_another_sweep_trained(tmp_path):
    first = Sweep(tmp_path / "fig_a" / "run", grid(), base=BASE, eval_images=4).run()
    log = (tmp_path / "fig_a" / "run" / "c4" / "log.jsonl").read_text()
    second = Sweep(tmp_path / "fig_b" / "run", grid()[:1], base=BASE, eval_images=4, names=["c4"]).run()
    assert second[0]["metrics"] == first[0]["metrics"]
    assert _weights(tmp_path / "fig_b" / "run" / "c4") == _weights(tmp_path / "fig_a" / "run" / "c4")
    # nothing was trained: a new run would log new step times, the copy holds the first run's log as it was
    assert (tmp_path / "fig_b" / "run" / "c4" / "log.jsonl").read_text() == log
    other = Sweep(tmp_path / "fig_c", [{"channels": 4, "seed": 1}], base=BASE, eval_images=4).run()
    assert _weights(tmp_path / "fig_c" / other[0]["name"]) != _weights(tmp_path / "fig_a" / "run" / "c4")
