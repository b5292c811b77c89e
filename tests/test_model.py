"""Model behaviour that touches files, the compiler or the package layout: save/load round trips, no unpickling,
clear errors for a missing folder, torch.compile, the parameter names old checkpoints hold, and the variants building
from `ViTok(cfg)` alone. Shapes, tubelet errors, KL, RoPE, bf16 and activation checkpointing are checked where they
are written: nbs/01_layers.ipynb, nbs/02_model.ipynb and nbs/03_variants.ipynb."""
import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from vitok import ViTok, ViTokConfig

ROOT = Path(__file__).resolve().parents[1]


def micro(name, **kw):
    torch.manual_seed(0)
    return ViTok(ViTokConfig.from_name(name, **kw)).eval()


def test_save_load_bit_identical(tmp_path):
    m = micro("U-U/2x8", channels=4, frames=4, resolution=32)
    x = torch.rand(2, 3, 4, 32, 48) * 2 - 1
    m.save_pretrained(tmp_path)
    cfg = json.loads((tmp_path / "config.json").read_text())
    assert cfg["tubelet"] == 2 and cfg["channels"] == 4
    m2 = ViTok.from_pretrained(tmp_path).eval()
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    with torch.no_grad():
        y1 = m.decode(m.encode(x).sample(g1), size=(4, 32, 48))
        y2 = m2.decode(m2.encode(x).sample(g2), size=(4, 32, 48))
    assert torch.equal(y1, y2)


def test_from_pretrained_never_unpickles(tmp_path, monkeypatch):
    m = micro("U-U/8", resolution=32)
    m.save_pretrained(tmp_path)
    import pickle

    def boom(*a, **k):
        raise AssertionError("unpickling attempted")

    monkeypatch.setattr(pickle, "load", boom)
    monkeypatch.setattr(pickle, "loads", boom)
    monkeypatch.setattr(torch, "load", boom)
    ViTok.from_pretrained(tmp_path)


def test_from_pretrained_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="config.json is missing"):
        ViTok.from_pretrained(tmp_path)


@pytest.mark.slow
def test_torch_compile_matches_eager():
    m = micro("U-U/8", channels=4, resolution=32)
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    compiled = torch.compile(m)
    with torch.no_grad():
        ref, _ = m(x, sample=False)
        out, _ = compiled(x, sample=False)
    assert torch.allclose(ref, out, atol=1e-4)


ENCODER = ["encoder.embed.weight", "encoder.embed.bias", "encoder.to_moments.weight", "encoder.to_moments.bias"]
DECODER = ["decoder.from_latent.weight", "decoder.from_latent.bias", "decoder.unembed.weight", "decoder.unembed.bias"]
LATENT_DEC = ["decoder.mask_token", "decoder.latent_pos", "decoder.pos"]


@pytest.mark.parametrize("kw, enc_own, dec_own", [
    ({}, ["encoder.pos"], []),
    ({"latent_tokens": 8}, ["encoder.pos", "encoder.latents"], LATENT_DEC),
    ({"mask": True}, ["encoder.pos"], ["decoder.missing"]),
    ({"latent_tokens": 8, "mask": True, "mask_min": 2}, ["encoder.pos", "encoder.latents"], LATENT_DEC + ["decoder.missing"]),
], ids=["simple", "latent", "mask simple", "mask latent"])
def test_checkpoint_names_and_order_of_every_kind(kw, enc_own, dec_own):
    """The state_dict keys outside the two ViTs, in order (each module's own parameters, then its children's): what
    checkpoints written before the variants had a module of their own hold."""
    keys = [k for k in micro("U-U/8", channels=4, resolution=32, **kw).state_dict() if ".vit." not in k]
    assert keys == enc_own + ENCODER + dec_own + DECODER


def test_variants_sit_below_the_model():
    "vitok.variants imports only config and layers: the model imports it, never the other way round."
    tree = ast.parse((ROOT / "vitok" / "variants.py").read_text())
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.level}
    assert imported == {"config", "layers"}
    assert not any(isinstance(n, ast.Import) and any(a.name.startswith("vitok") for a in n.names) for n in ast.walk(tree))


def test_every_kind_builds_from_vitok_alone():
    "ViTok(cfg) builds and runs every kind, images and videos, in a fresh interpreter that imports nothing but `vitok`."
    code = """
import torch
from vitok import ViTok, ViTokConfig
for kw in ({}, {"latent_tokens": 6}, {"mask": True}, {"latent_tokens": 6, "mask": True}):
    for name, x in (("U-U/8", torch.rand(2, 3, 32, 32)), ("U-U/2x8", torch.rand(2, 3, 4, 32, 32))):
        m = ViTok(ViTokConfig.from_name(name, channels=4, frames=x.shape[2] if x.ndim == 5 else 1, resolution=32, **kw))
        assert m(x * 2 - 1)[0].shape == x.shape and m.eval()(x * 2 - 1)[0].shape == x.shape, (name, kw)
        print(m.cfg.name, m.cfg.kind)
"""
    p = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-3000:]
    assert p.stdout.split().count("mask") == 4 and "U-U/2x8 mask latent" in p.stdout
