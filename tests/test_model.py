"""Model behaviour that touches files or the compiler: save/load round trips, no unpickling, clear errors
for a missing folder, torch.compile. Shapes, tubelet errors, KL, RoPE, bf16 and activation checkpointing
are checked where they are written: nbs/01_layers.ipynb and nbs/02_model.ipynb."""
import json

import pytest
import torch

from vitok import ViTok, ViTokConfig


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
