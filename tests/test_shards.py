"""Webdataset shards wherever a folder works: `vitok-train` (validation included), exact resume, `vitok-eval`
with unreadable samples recorded, and a 2-rank torchrun run killed and resumed. The unit checks (random
access, truncated shards, rank slices) live in nbs/14_shards and nbs/22_distributed."""
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from vitok.presets.train import train_preset
from vitok.shards import shard_spans
from vitok.train import Trainer
from helpers import logs

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
BIN = Path(sys.executable).parent
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    "12 smooth random 40x48 PNGs packed by data_scripts/make_shards.py, 4 per shard -> 3 shards and train-index.json."
    d = tmp_path_factory.mktemp("shards")
    rng = np.random.default_rng(0)
    (d / "imgs").mkdir()
    for i in range(12):
        small = rng.integers(0, 256, (5, 6, 3), dtype=np.uint8)
        Image.fromarray(small).resize((48, 40), Image.BICUBIC).save(d / "imgs" / f"{i:02d}.png")
    r = subprocess.run([PY, str(ROOT / "data_scripts" / "make_shards.py"), str(d / "imgs"), str(d / "sh"),
                        "--shard-size", "4", "--workers", "0"], capture_output=True, text=True, env=ENV)
    assert r.returncode == 0, r.stderr[-3000:]
    assert json.loads((d / "sh" / "train-index.json").read_text())["total"] == 12
    return d / "sh"


@pytest.fixture(scope="module")
def trained(shards, tmp_path_factory):
    "vitok-train from shards, validating on shards: the command of the issue, 2 steps."
    out = tmp_path_factory.mktemp("run") / "r"
    index = str(shards / "train-index.json")
    p = subprocess.run([str(BIN / "vitok-train"), "--preset", "smoke", "--data", index, "--val-data", index, "--out", str(out),
                        "--num-workers", "0", "--steps", "2", "--eval-every", "2", "--eval-images", "4"],
                       capture_output=True, text=True, env=ENV, timeout=300)
    return out, p


def test_train_from_shards(trained):
    "Fails on the old main: ShardDataset had no random access (load(i)), so StepBatches refused it."
    out, p = trained
    assert p.returncode == 0, p.stderr[-3000:]
    assert (out / "final" / "model.safetensors").exists()
    val = [r for r in logs(out) if "val_psnr" in r]
    assert [r["step"] for r in val] == [0, 2] and all(r["val_psnr"] > 0 for r in val)


def test_resume_from_shards_is_exact(shards, tmp_path):
    "Stop after 2 of 4 steps, resume: bit-identical weights to 4 steps in one go (sample g = f(seed, epoch, g))."
    def cfg(out, **kw):
        return train_preset("smoke", out=str(out), data=str(shards / "train-index.json"), steps=4, eval_every=4,
                            ckpt_every=1, eval_images=4, num_workers=0, **kw)
    torch.set_num_threads(1)
    ref = Trainer(cfg(tmp_path / "straight")).fit().model.state_dict()
    Trainer(cfg(tmp_path / "resumed", stop_after=2)).fit()
    resumed = Trainer(cfg(tmp_path / "resumed"))
    assert resumed.step == 2
    got = resumed.fit().model.state_dict()
    assert all(torch.equal(got[k], ref[k]) for k in ref)


def test_eval_on_shards_records_skipped(trained, shards, tmp_path):
    "vitok-eval on shards whose last shard was cut short, 2 DataLoader workers: eval.json counts and names the lost samples."
    out, p = trained
    assert p.returncode == 0, p.stderr[-3000:]
    cut = tmp_path / "sh"
    shutil.copytree(shards, cut)
    last = cut / "train-000002.tar"
    last.write_bytes(last.read_bytes()[: shard_spans(last)[0][2, 0] + 700])    # 2 whole samples left of 4
    r = subprocess.run([str(BIN / "vitok-eval"), "--ckpt", str(out), "--data", str(cut / "train-index.json"),
                        "--metrics", "psnr,ssim", "--num-workers", "2", "--batch", "4", "--quiet", "--out", str(tmp_path / "e.json")],
                       capture_output=True, text=True, env=ENV, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    rep = json.loads((tmp_path / "e.json").read_text())
    assert rep["samples"] == 10 and rep["metrics"]["psnr"] > 0
    assert rep["skipped"] == 3 and list(rep["skipped_inputs"]) == ["train-000002.tar#2", "train-000002.tar#3", str(last)]
    assert "skipped 3 unreadable" in r.stdout


def test_torchrun_two_ranks_shards_kill_and_resume(shards, tmp_path):
    "2 gloo ranks train from shards, SIGKILL after a checkpoint, the same command resumes and finishes, no step logged twice."
    cmd = [PY, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m", "vitok.train",
           "--preset", "smoke", "--data", str(shards / "train-index.json"), "--out", str(tmp_path), "--steps", "16",
           "--ckpt-every", "1", "--eval-every", "8", "--eval-images", "4", "--num-workers", "0"]
    p = subprocess.Popen(cmd, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 200
    while time.time() < deadline and not (tmp_path / "ckpt" / "step_0000002").exists() and p.poll() is None:
        time.sleep(0.05)
    os.killpg(p.pid, signal.SIGKILL); p.wait()
    assert not (tmp_path / "final").exists(), "the run finished before it could be killed"
    assert (tmp_path / "ckpt" / "step_0000002").exists(), "no checkpoint before the kill"
    again = subprocess.run(cmd, env=ENV, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "resumed from" in again.stdout and (tmp_path / "final" / "model.safetensors").exists()
    steps = [r["step"] for r in logs(tmp_path) if "total" in r]
    assert len(steps) == len(set(steps)) and max(steps) == 16, steps
