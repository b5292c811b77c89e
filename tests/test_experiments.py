"""The scripts in experiments/: each still runs on the package as it is now, at a few steps."""
import dataclasses
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import torch

from vitok.presets.appendix import FIG19

ROOT = Path(__file__).resolve().parents[1]


def load(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "experiments" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_fig19_halves_pairs_each_kind_of_encoder_with_each_kind_of_decoder(tmp_path):
    halves, P = load("fig19_halves"), FIG19.get("smoke")
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    for enc_l, dec_l in halves.arms(16).values():
        cfg = dataclasses.replace(P.train, variant="U-U/8", channels=8, resolution=32, data="builtin", latent_tokens=enc_l,
                                  out=str(tmp_path / f"e{enc_l}d{dec_l}"), steps=1, threads=1)
        model = halves.HalvesTrainer(cfg, dec_l).model
        assert (model.encoder.latents is not None) == bool(enc_l) and model.decoder.latent_tokens == dec_l
        assert model(x)[0].shape == x.shape


def test_fig19_halves_runs_end_to_end(tmp_path):
    p = subprocess.run([sys.executable, str(ROOT / "experiments" / "fig19_halves.py"), "--out", str(tmp_path), "--steps", "2",
                        "--pool", "16", "--eval-images", "4"], capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert p.returncode == 0, p.stderr[-3000:]
    rows = json.loads((tmp_path / "results-seed0.json").read_text())
    assert [r["arm"] for r in rows] == ["simple", "latent", "latent-encoder", "latent-decoder"]
    assert all(r["E"] == 128 and r["steps"] == 2 and 0 < r["val_psnr"] < 100 and -1 <= r["val_ssim"] <= 1 for r in rows), rows
    assert "latent-decoder" in p.stdout
