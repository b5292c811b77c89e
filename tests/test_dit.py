"""The DiT and the diffusion process from outside the notebooks: a tiny DiT learns a two-point latent
distribution, sampling returns finite latents of the grid's shape, DiT-XL's size without allocating weights."""
import pytest
import torch

from vitok.dit import DiT, DiTConfig, dit_params, dit_stats, dit_info
from vitok.diffusion import GaussianDiffusion


def toy_batch(n, g, grid=(1, 2, 2), c=4):
    "Class 0 is the latent of all +1, class 1 of all -1 (two points)."
    y = torch.randint(0, 2, (n,), generator=g)
    x0 = (1 - 2 * y.float())[:, None, None].expand(n, grid[0] * grid[1] * grid[2], c).contiguous()
    return x0, y


@pytest.fixture
def one_thread():
    "A 64-wide model runs fastest on one thread (and does not fight other processes for cores)."
    n = torch.get_num_threads(); torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def test_tiny_dit_learns_two_points_and_samples(one_thread):
    torch.manual_seed(0)
    cfg = DiTConfig("U", channels=4, num_classes=2, grid=(1, 2, 2))
    model, diff = DiT(cfg), GaussianDiffusion()
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=0)
    g_eval = torch.Generator().manual_seed(123)
    x_eval, y_eval = toy_batch(256, g_eval)
    t_eval, n_eval = diff.sample_t(256, g_eval), torch.randn(x_eval.shape, generator=g_eval)

    def eval_loss():
        model.eval()
        with torch.no_grad(): return diff.loss(model, x_eval, t_eval, n_eval, y=y_eval)[0].item()

    before, g = eval_loss(), torch.Generator().manual_seed(0)
    model.train()
    for _ in range(100):
        x0, y = toy_batch(64, g)
        loss, per = diff.loss(model, x0, generator=g, y=y)
        assert per.shape == (64,)
        opt.zero_grad(); loss.backward(); opt.step()
    after = eval_loss()
    assert after < 0.7 * before, (before, after)

    model.eval()
    y = torch.tensor([0, 1] * 8)
    img = diff.sample(model, y, steps=20, cfg_scale=2.0, generator=torch.Generator().manual_seed(0))
    assert img.shape == (16, 4, 4) and img.isfinite().all()
    right_side = ((img.mean((1, 2)) > 0) == (y == 0)).float().mean()   # already after 100 steps: 15 of 16
    assert right_side >= 0.75, right_side
    y = torch.tensor([0, 1, 0, 1])
    vid = diff.sample(model, y, grid=(2, 2, 2), steps=5, eta=1.0, generator=torch.Generator().manual_seed(0))
    assert vid.shape == (4, 8, 4) and vid.isfinite().all()


def test_dit_xl_size_without_weights():
    cfg = DiTConfig.from_name("DiT-XL", channels=16, grid=(1, 16, 16), num_classes=1000)
    assert abs(dit_params(cfg) / 675e6 - 1) < 0.02
    s = dit_info("DiT-XL", channels=16, grid="1x16x16")
    assert s == dit_stats("DiT-XL") and abs(s["gflops"] - 118.64) / 118.64 < 0.03


def test_learned_variance_trains_both_halves(one_thread):
    cfg = DiTConfig("U", channels=4, num_classes=2, grid=(1, 2, 2), learn_sigma=True)
    model, diff = DiT(cfg), GaussianDiffusion()
    with torch.no_grad(): model.final.linear.weight.normal_(std=0.02)
    x0, y = toy_batch(8, torch.Generator().manual_seed(0))
    loss, per = diff.loss(model, x0, generator=torch.Generator().manual_seed(1), y=y)
    loss.backward()
    w = model.final.linear.weight.grad
    assert per.shape == (8,) and w[:4].abs().sum() > 0 and w[4:].abs().sum() > 0     # eps rows and variance rows
    out = diff.sample(model, y, steps=5, cfg_scale=1.5, generator=torch.Generator().manual_seed(0))
    assert out.shape == x0.shape and out.isfinite().all()                           # DDIM uses the eps channels
