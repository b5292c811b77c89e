"Model behaviour the issue asks for: shapes, tubelet errors, KL, RoPE, save/load, bf16, compile."
import json
import math

import pytest
import torch

from vitok import ViTok, ViTokConfig
from vitok.layers import apply_rope, grid_positions, rope_angles, rope_split
from vitok.model import DiagonalGaussian


def micro(name, **kw):
    torch.manual_seed(0)
    return ViTok(ViTokConfig.from_name(name, **kw)).eval()


@pytest.mark.parametrize("h,w", [(256, 256), (512, 512), (256, 384)])
def test_image_roundtrip_shapes(h, w):
    m = micro("U-U/16", channels=16, resolution=h)
    x = torch.rand(2, 3, h, w) * 2 - 1
    with torch.no_grad():
        post = m.encode(x)
        z = post.sample()
        assert z.shape == (2, (h // 16) * (w // 16), 16)
        assert post.mode().shape == z.shape
        x_hat = m.decode(z, size=(h, w))
    assert x_hat.shape == x.shape


def test_default_size_decode_matches_config():
    m = micro("U-U/16", channels=16, resolution=256)
    x = torch.rand(1, 3, 256, 256) * 2 - 1
    with torch.no_grad():
        assert m.decode(m.encode(x).sample()).shape == x.shape


@pytest.mark.parametrize("q", [1, 2, 4, 8])
def test_video_roundtrip_shapes(q):
    m = micro(f"U-U/{q}x8", channels=8, frames=16, resolution=128)
    x = torch.rand(1, 3, 16, 128, 128) * 2 - 1
    with torch.no_grad():
        post = m.encode(x)
        assert post.sample().shape == (1, (16 // q) * 16 * 16, 8)
        assert m.cfg.tokens() == (16 // q) * 16 * 16 and m.cfg.E() == m.cfg.tokens() * 8
        assert m.decode(post.sample()).shape == x.shape


def test_tubelet_error_names_size_and_tubelet():
    m = micro("U-U/16", resolution=256)
    with pytest.raises(ValueError, match=r"250.*1x16x16.*H=250 is not a multiple of p=16"):
        m.encode(torch.zeros(1, 3, 250, 256))
    mv = micro("U-U/4x8", frames=16, resolution=64)
    with pytest.raises(ValueError, match=r"T=6 is not a multiple of q=4"):
        mv.encode(torch.zeros(1, 3, 6, 64, 64))
    with pytest.raises(ValueError, match=r"Expected images"):
        m.encode(torch.zeros(3, 256, 256))


def test_decode_wrong_token_count_explains_size():
    m = micro("U-U/16", resolution=256)
    with pytest.raises(ValueError, match=r"size=\(H, W\)"):
        m.decode(torch.zeros(1, 384, 16))


def test_unknown_variant_lists_sizes():
    with pytest.raises(ValueError, match=r"Unknown variant 'Q-B/16'.*'B'.*'S'"):
        ViTokConfig.from_name("Q-B/16")


def test_kl_zero_and_value():
    z = torch.zeros(3, 5, 4)
    assert DiagonalGaussian(z, z).kl().item() == 0.0
    mean, logvar = torch.randn(3, 5, 4), torch.randn(3, 5, 4)
    # independent computation with torch.distributions
    ref = torch.distributions.kl_divergence(
        torch.distributions.Normal(mean, (0.5 * logvar).exp()), torch.distributions.Normal(0.0, 1.0)
    ).flatten(1).sum(1).mean()
    assert torch.allclose(DiagonalGaussian(mean, logvar).kl(), ref, rtol=1e-5)


@pytest.mark.parametrize("head_dim", [16, 64, 72])
def test_rope_preserves_norm(head_dim):
    pos = grid_positions(3, 5, 7)
    x = torch.randn(2, 4, pos.shape[0], head_dim)
    y = apply_rope(x, rope_angles(pos, head_dim))
    assert torch.allclose(y.norm(dim=-1), x.norm(dim=-1), rtol=1e-5)
    assert not torch.allclose(y, x)
    assert sum(rope_split(head_dim)) == head_dim // 2


@pytest.mark.parametrize("head_dim", [64, 72])
def test_rope_logits_depend_on_relative_position_only(head_dim):
    torch.manual_seed(1)
    q, k = torch.randn(head_dim), torch.randn(head_dim)

    def logit(m, n):
        a = rope_angles(torch.tensor([m, n]), head_dim)
        return (apply_rope(q, a[0]) @ apply_rope(k, a[1])).item()

    ref = logit([1, 2, 3], [0, 5, 1])
    for s in ([2, 0, 0], [0, 3, 0], [0, 0, 4], [5, 6, 7]):
        m = [a + b for a, b in zip([1, 2, 3], s)]
        n = [a + b for a, b in zip([0, 5, 1], s)]
        assert math.isclose(logit(m, n), ref, rel_tol=1e-4, abs_tol=1e-4)
    # a different relative offset on each axis changes the logit
    for delta in ([1, 0, 0], [0, 1, 0], [0, 0, 1]):
        m = [a + b for a, b in zip([1, 2, 3], delta)]
        assert not math.isclose(logit(m, [0, 5, 1]), ref, rel_tol=1e-4, abs_tol=1e-4)


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


def test_bf16_autocast_cpu():
    m = micro("U-U/8", channels=4, resolution=32)
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        x_hat, post = m(x, sample=False)
    assert x_hat.shape == x.shape and torch.isfinite(x_hat.float()).all()
    with torch.no_grad():
        ref, _ = m(x, sample=False)
    assert (x_hat.float() - ref).abs().max() < 0.1  # bf16 is close to fp32


@pytest.mark.slow
def test_torch_compile_matches_eager():
    m = micro("U-U/8", channels=4, resolution=32)
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    compiled = torch.compile(m)
    with torch.no_grad():
        ref, _ = m(x, sample=False)
        out, _ = compiled(x, sample=False)
    assert torch.allclose(ref, out, atol=1e-4)


def test_grad_checkpoint_same_grads():
    m = micro("U-U/8", channels=4, resolution=32).train()
    x = torch.rand(2, 3, 32, 32) * 2 - 1

    def grads():
        m.zero_grad()
        x_hat, post = m(x, sample=False)
        ((x_hat - x) ** 2).mean().backward()
        return [p.grad.clone() for p in m.parameters()]

    g1 = grads()
    m.encoder.vit.grad_checkpoint = m.decoder.vit.grad_checkpoint = True
    g2 = grads()
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(g1, g2))
