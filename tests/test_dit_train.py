"""DiT training and sampling from outside the notebooks: a real kill then resume, 2-rank torchrun against one
process, the EMA in final/, `vitok-sample`'s grid and its refusals, a video latent grid end to end.

The runs train a micro DiT on toy latents (`vitok.dit_train.make_toy_latents`) that name a micro tokenizer, so
sampling decodes real pixels; the unit proofs (draws per sample, in-process resume, one run per folder,
non-finite skip) live in nbs/43_dit_train and nbs/44_sample."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from PIL import Image

from vitok import ViTok, ViTokConfig
from vitok.checkpoint import latest_checkpoint, load_checkpoint
from vitok.dit_train import DiTTrainer, load_dit, make_toy_latents
from vitok.presets.train import dit_preset
from vitok.sample import sample_images
from helpers import logs

PY = sys.executable
BIN = Path(PY).parent
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "VITOK_THREADS": "1", "PYTHONUNBUFFERED": "1"}
ARGS = ["--preset", "smoke", "--steps", "6", "--eval-every", "3", "--ckpt-every", "1", "--log-every", "1", "--batch", "8"]


def cfg(latents, out, **kw):
    base = dict(latents=str(latents), out=str(out), steps=6, eval_every=3, ckpt_every=1, log_every=1, batch=8)
    return dit_preset("smoke", **{**base, **kw})


def same(a, b):
    return all(torch.equal(a[k], b[k]) for k in a)


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    "A micro image tokenizer (4 channels, 32 px: a 1x4x4 grid), toy latents naming it, and 6 DiT steps in one go."
    d = tmp_path_factory.mktemp("toy")
    torch.set_num_threads(1)
    ViTok(ViTokConfig.from_name("U-U/8", channels=4, resolution=32)).save_pretrained(d / "tok")
    lat = make_toy_latents(d / "lat", grid=(1, 4, 4), channels=4, num_classes=3, tokenizer=d / "tok")
    tr = DiTTrainer(cfg(lat, d / "straight")).fit()
    return d, lat, tr


def test_val_loss_falls(toy, tmp_path):
    _, lat, _ = toy
    DiTTrainer(cfg(lat, tmp_path, steps=30, eval_every=15, log_every=10, batch=16, lr=3e-3, ema=0.8)).fit()
    ev = [r for r in logs(tmp_path) if "val_loss" in r]
    assert [r["step"] for r in ev] == [0, 15, 30] and ev[-1]["val_loss"] < 0.8 * ev[0]["val_loss"], ev


def test_ema_exported(toy):
    d, _, tr = toy
    final = load_dit(d / "straight" / "final")[0].state_dict()
    ck_t, ck = load_checkpoint(latest_checkpoint(d / "straight" / "ckpt"))
    assert ck["step"] == 6 and same(final, ck_t["ema"]) and same(final, tr.ema.state_dict())
    assert not same(final, tr.model.state_dict()), "final/ holds the trained weights, not the EMA"
    info = json.loads((d / "straight" / "final" / "config.json").read_text())
    assert info["tokenizer"] == str(d / "tok") and len(info["tokenizer_sha256"]) == 64 and info["grid"] == [1, 4, 4]


def test_sigkill_then_resume_is_exact(toy, tmp_path):
    "SIGKILL part-way through, then a resume: the weights and the EMA of six steps in one go, each step logged once."
    _, lat, ref = toy
    p = subprocess.Popen([PY, "-m", "vitok.dit_train", *ARGS, "--latents", str(lat), "--out", str(tmp_path)], env=ENV,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and not (tmp_path / "ckpt" / "step_0000002").exists():
        time.sleep(0.02)
    p.send_signal(signal.SIGKILL); p.wait()
    killed_at = latest_checkpoint(tmp_path / "ckpt")
    assert killed_at is not None and int(killed_at.name[5:]) < 6, "the run finished before it could be killed"
    tr = DiTTrainer(cfg(lat, tmp_path)).fit()
    assert same(tr.model.state_dict(), ref.model.state_dict()) and same(tr.ema.state_dict(), ref.ema.state_dict())
    assert [r["step"] for r in logs(tmp_path) if "loss" in r] == list(range(1, 7))


def test_torchrun_two_ranks_match_one_process(toy, tmp_path):
    "2 gloo ranks x batch 4 == 1 process x batch 8 (the module's straight run), within 1e-5, EMA included."
    d, lat, _ = toy
    two = subprocess.run([PY, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m", "vitok.dit_train",
                          *ARGS, "--latents", str(lat), "--out", str(tmp_path)], env=ENV, capture_output=True, text=True,
                         timeout=300)
    assert two.returncode == 0, two.stderr[-3000:]
    a, b = (load_dit(r / "final")[0].state_dict() for r in (d / "straight", tmp_path))
    worst = max(((a[k] - b[k]).norm() / a[k].norm().clamp_min(1e-12)).item() for k in a)
    assert worst < 1e-5, worst
    la, lb = logs(d / "straight"), logs(tmp_path)
    assert [r["step"] for r in la] == [r["step"] for r in lb]
    assert all(abs(x["val_loss"] - y["val_loss"]) < 1e-5 for x, y in zip(la, lb) if "val_loss" in x)


def test_vitok_sample_grid_and_bad_class(toy, tmp_path):
    d, _, _ = toy
    p = subprocess.run([str(BIN / "vitok-sample"), "--run", str(d / "straight"), "--classes", "2,0", "--per-class", "3",
                        "--steps", "5", "--out", str(tmp_path / "g.png"), "--samples-dir", str(tmp_path / "each")],
                       env=ENV, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr[-3000:]
    assert Image.open(tmp_path / "g.png").size == (3 * 34, 2 * 34)          # 3 columns, 2 rows (classes) of 32 px + borders
    assert sorted(f.name for f in (tmp_path / "each").iterdir())[:4] == ["000000_c2.png", "000001_c2.png", "000002_c2.png",
                                                                        "000003_c0.png"]
    p = subprocess.run([str(BIN / "vitok-sample"), "--run", str(d / "straight"), "--classes", "0,3", "--out",
                        str(tmp_path / "h.png")], env=ENV, capture_output=True, text=True, timeout=120)
    assert p.returncode != 0 and "Traceback" not in p.stderr and not (tmp_path / "h.png").exists()
    assert p.stderr.strip().splitlines() == [f"class 3 is out of range: {d / 'straight' / 'final'} knows classes 0..2"]


def test_video_latents_train_and_sample(tmp_path):
    "A tubelet-2 tokenizer on 4-frame clips gives a 2x4x4 latent grid: the DiT trains on it and samples clips."
    torch.set_num_threads(1)
    ViTok(ViTokConfig.from_name("U-U/2x8", channels=4, resolution=32, frames=4)).save_pretrained(tmp_path / "tok")
    lat = make_toy_latents(tmp_path / "lat", grid=(2, 4, 4), channels=4, num_classes=2, tokenizer=tmp_path / "tok")
    tr = DiTTrainer(cfg(lat, tmp_path / "run", steps=4, eval_every=2)).fit()
    assert tr.model.cfg.grid == (2, 4, 4)
    clips = sample_images(tmp_path / "run", [0, 1, 1], cfg_scale=2.0, steps=3, batch=2)
    assert clips.shape == (3, 3, 4, 32, 32) and clips.dtype == torch.uint8
    p = subprocess.run([str(BIN / "vitok-sample"), "--run", str(tmp_path / "run"), "--per-class", "2", "--steps", "3",
                        "--cfg", "2", "--out", str(tmp_path / "g.gif")], env=ENV, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr[-3000:]
    g = Image.open(tmp_path / "g.gif")
    assert g.size == (2 * 34, 2 * 34) and g.n_frames == 4


def test_train_and_val_latents_of_different_tokenizers_are_refused(tmp_path):
    "Fails on the old main: a DiT trained on train latents of one tokenizer and validated on another's, without a word."
    toks = []
    for i in range(2):
        torch.manual_seed(i)
        toks.append(ViTok(ViTokConfig.from_name("U-U/8", channels=4, resolution=32)).save_pretrained(tmp_path / f"tok{i}"))
    a, b = (make_toy_latents(tmp_path / f"lat{i}", tokenizer=t) for i, t in enumerate(toks))
    with pytest.raises(ValueError, match=r"the train and val latents come from different tokenizers \(train: .*tok0.*val: .*tok1"):
        DiTTrainer(dit_preset("smoke", latents=str(a), val_latents=str(b), out=str(tmp_path / "dit")))
    assert not (tmp_path / "dit" / "config.json").exists()
