"""vitok-bench's report: its structure, FLOP counts against vitok.flops, utilisation in (0, 1], the peer's and the
loop's sections, `--bf16 auto` in training, evaluation and sampling, and the error messages. Never a speed threshold:
speed targets live in the benchmark's output (see benchmarks/README.md)."""
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from vitok import bench
from vitok.bench import (benchmark, bf16_pays, bool_or_auto, dit_benchmark, loop_fraction, matmul_peak, peer_ratio,
                         report_text, tokenizer_macs)
from vitok.config import ViTokConfig
from vitok.dit import DiTConfig, dit_macs
from vitok.flops import model_stats

BIN = Path(sys.executable).parent
PHASES = ("encode", "decode", "train_step")


def run(*args, check=True):
    p = subprocess.run([str(BIN / args[0]), *args[1:]], capture_output=True, text=True, timeout=300)
    if check:
        assert p.returncode == 0, p.stderr
    return p


@pytest.fixture(scope="module")
def both():
    return benchmark("U-U/8", resolution=32, batch=2, channels=4, device="cpu", warmup=1, repeats=2, dtypes="fp32,bf16",
                     peak_n=256)


def test_report_structure(both):
    assert both["dtypes"] == ["fp32", "bf16"] and both["bf16"] is True          # the flat keys are the last arm's
    assert set(both["arms"]) == {"fp32", "bf16"} and set(both["peak_gflops_per_s"]) == {"fp32", "bf16"}
    for arm in both["arms"].values():
        assert set(arm) == set(PHASES)
        for v in arm.values():
            assert set(v) == {"median_s", "images_per_s", "gflops_per_s", "mfu"}
            assert v["images_per_s"] == pytest.approx(2 / v["median_s"], rel=1e-3)
    for p in PHASES:
        assert both[f"{p}_mfu"] == both["arms"]["bf16"][p]["mfu"]
    assert set(both["bf16_speedup"]) == {"encode", "decode", "train_step", "encode_decode"}
    assert all(v > 0 for v in both["bf16_speedup"].values())
    assert "3 x forward" in both["flop_convention"] and "2 x MACs" in both["flop_convention"]
    text = report_text(both)
    assert "MFU" in text and "bf16 / fp32 speed-up" in text and "matmul peak" in text
    peaks = both["peak_gflops_per_s"]                  # the ceiling is the two peaks of the same run, not a constant
    assert both["bf16_matmul_ratio"] == pytest.approx(peaks["bf16"] / peaks["fp32"], rel=2e-3)
    assert f"{both['bf16_matmul_ratio']:.2f}x, the ceiling" in text


def test_utilisation_is_a_fraction(both):
    for dtype, arm in both["arms"].items():
        peak = both["peak_gflops_per_s"][dtype]
        for v in arm.values():
            assert 0 < v["mfu"] <= 1
            assert v["mfu"] == pytest.approx(v["gflops_per_s"] / peak, rel=2e-3)


def test_flops_match_vitok_flops(both):
    from vitok.flops import count_macs
    from vitok.model import ViTok
    macs = count_macs(ViTok(ViTokConfig.from_name("U-U/8", channels=4, resolution=32)).eval(), torch.rand(2, 3, 32, 32) * 2 - 1,
                      lambda m, x: m(x, sample=False))
    g = both["gflops"]
    assert g["encode"] == pytest.approx(2 * macs["encoder"] / 1e9, rel=2e-3)    # 2 FLOPs a MAC
    assert g["decode"] == pytest.approx(2 * macs["decoder"] / 1e9, rel=2e-3)
    assert g["train_step"] == pytest.approx(3 * (g["encode"] + g["decode"]), rel=2e-3)
    m = tokenizer_macs(ViTokConfig.from_name("S-B/16", channels=16, resolution=256))
    s = model_stats("S-B/16", 16, 256)
    assert m["encode"] / 1e9 == pytest.approx(s["gflops"]["encoder"], abs=1e-3)
    assert m["decode"] / 1e9 == pytest.approx(s["gflops"]["decoder"], abs=1e-3)


def test_dit_section():
    d = dit_benchmark("DiT-U", grid=(1, 4, 4), channels=4, batch=2, device="cpu", warmup=0, repeats=1,
                      dtypes=("fp32", "bf16"), num_classes=10, peak_n=256)
    macs = dit_macs(DiTConfig.from_name("DiT-U", channels=4, grid=(1, 4, 4), num_classes=10))["total"]
    assert d["gflops"]["forward"] == pytest.approx(2 * 2 * macs / 1e9, rel=2e-3)
    assert set(d["arms"]) == {"fp32", "bf16"} and set(d["bf16_speedup"]) == {"forward", "train_step"}
    assert all(0 < v["mfu"] <= 1 for a in d["arms"].values() for v in a.values())


def test_matmul_peak_cached():
    a = matmul_peak("cpu", "fp32", n=128, repeats=2)
    assert a > 0 and matmul_peak("cpu", "fp32", n=128, repeats=2) == a
    with pytest.raises(ValueError, match="dtype must be one of fp32, bf16"):
        matmul_peak("cpu", "fp16", n=128)


def test_peer_ratio_arithmetic():
    arm = lambda e, d: {"encode": {"median_s": e}, "decode": {"median_s": d}}
    ours = {"arms": {"fp32": arm(1.0, 1.0)}, "gflops": {"encode": 1.0, "decode": 3.0}}
    peer = {"arms": {"fp32": arm(3.0, 5.0)}, "gflops": {"encode": 4.0, "decode": 12.0}}
    assert peer_ratio(ours, peer) == {"encode_decode_speedup": {"fp32": 4.0}, "flop_ratio": 4.0}


def test_peer_needs_diffusers(monkeypatch):
    import builtins
    real = builtins.__import__
    def no_diffusers(name, *a, **k):
        if name.startswith("diffusers"):
            raise ImportError(name)
        return real(name, *a, **k)
    monkeypatch.setattr(builtins, "__import__", no_diffusers)
    with pytest.raises(RuntimeError, match=r"pip install vitok\[peers\]"):
        bench.peer_model("sdvae")
    with pytest.raises(ValueError, match="Unknown peer 'vqgan'"):
        bench.peer_model("vqgan")


def test_peer_sdvae_builds_from_config():
    pytest.importorskip("diffusers")
    p = bench.peer_benchmark("sdvae", resolution=32, batch=1, device="cpu", warmup=0, repeats=1, peak_n=256)
    assert p["latent"] == [4, 4, 4] and p["gflops"]["decode"] > p["gflops"]["encode"] > 0
    assert 0 < p["arms"]["fp32"]["decode"]["mfu"] <= 1


def test_loop_fraction_structure(tmp_path):
    r = loop_fraction("smoke", steps=3, log_every=1, device="cpu", repeats=1, out=tmp_path)
    assert set(r) == {"stage1", "stage2", "dit"}
    for k, v in r.items():
        assert {"loop_per_s", "bare_per_s", "fraction", "batch", "log_lines", "bf16"} <= set(v)
        assert v["fraction"] == pytest.approx(v["loop_per_s"] / v["bare_per_s"], rel=2e-3) and v["log_lines"] >= 1
    with pytest.raises(ValueError, match="loop parts must be"):
        loop_fraction("smoke", parts=("gan",))


def test_bf16_auto_is_measured_once_and_keeps_the_random_state():
    from vitok.model import ViTok
    model = ViTok(ViTokConfig.from_name("U-U/8", channels=4, resolution=32))
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    w = [p.detach().clone() for p in model.parameters()]
    state = torch.get_rng_state()
    a = bf16_pays(model, (x,), "cpu", key="test-tiny")
    assert torch.equal(state, torch.get_rng_state())
    assert all(torch.equal(p, q) for p, q in zip(w, model.parameters()))
    n = len(bench._BF16)
    assert bf16_pays(model, (x,), "cpu", key="test-tiny") == a and len(bench._BF16) == n     # cached
    assert isinstance(a, bool)


def test_bool_or_auto():
    assert [bool_or_auto(s) for s in ("auto", "true", "on", "false", "0")] == ["auto", True, True, False, False]
    with pytest.raises(Exception, match="expected true, false or auto"):
        bool_or_auto("maybe")


def test_bf16_auto_in_the_trainers(tmp_path, monkeypatch):
    from vitok.dit_train import DiTTrainer, make_toy_latents
    from vitok.presets.train import dit_preset, train_preset
    from vitok.train import Trainer, parse_args
    assert parse_args(["--preset", "smoke", "--bf16", "auto"]).bf16 == "auto"
    assert parse_args(["--preset", "smoke", "--bf16"]).bf16 is True
    assert parse_args(["--preset", "smoke", "--bf16", "false"]).bf16 is False
    assert train_preset("paper").bf16 is True and dit_preset("paper").bf16 is True     # the paper's setting
    t = Trainer(train_preset("smoke", out=str(tmp_path / "a"), bf16="auto", device="cpu"))
    assert isinstance(t.bf16, bool)
    lat = make_toy_latents(tmp_path / "lat")
    d = DiTTrainer(dit_preset("smoke", latents=str(lat), out=str(tmp_path / "d"), bf16="auto", device="cpu"))
    assert isinstance(d.bf16, bool)
    import vitok.train as vt
    for pays in (True, False):                   # 'auto' follows the measurement, whichever way it comes out
        monkeypatch.setattr(vt, "bf16_pays", lambda *a, pays=pays, **k: pays)
        t = Trainer(train_preset("smoke", out=str(tmp_path / f"m{pays}"), bf16="auto", device="cpu"))
        assert t.bf16 is pays
    with pytest.raises(ValueError, match="bf16 must be true, false or 'auto'"):
        train_preset("smoke", bf16="yes")


def test_bf16_auto_in_evaluation():
    from vitok.evaluate import evaluate
    from vitok.model import ViTok
    model = ViTok(ViTokConfig.from_name("U-U/8", channels=4, resolution=32))
    rep = evaluate(model, torch.rand(4, 3, 32, 32) * 2 - 1, ("psnr",), batch_size=2, device="cpu", bf16="auto", progress=False)
    assert isinstance(rep["bf16"], bool)
    import vitok.evaluate as ve
    for pays in (True, False):                   # 'auto' follows the measurement, whichever way it comes out
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(ve, "bf16_pays", lambda *a, pays=pays, **k: pays)
            assert evaluate(model, torch.rand(4, 3, 32, 32) * 2 - 1, ("psnr",), batch_size=2, device="cpu", bf16="auto",
                            progress=False)["bf16"] is pays
    with pytest.raises(ValueError, match="bf16 must be True, False or 'auto'"):
        evaluate(model, torch.rand(2, 3, 32, 32), ("psnr",), device="cpu", bf16="sometimes", progress=False)


def test_cli_flags_and_errors():
    p = run("vitok-bench", "--variant", "U-U/8", "--res", "32", "--batch", "1", "--channels", "4", "--device", "cpu",
            "--bf16", "both", "--warmup", "0", "--repeats", "1", "--dit", "DiT-U", "--peak-n", "256")
    r = json.loads(p.stdout)
    assert r["resolution"] == 32 and set(r["bf16_speedup"]) >= {"encode_decode"} and r["dit"]["grid"] == [1, 4, 4]
    assert "MFU" in p.stderr and "bf16 / fp32 speed-up" in p.stderr
    assert r["bf16_matmul_ratio"] > 0 and "the ceiling of matmul-bound work" in p.stderr
    p = run("vitok-bench", "--variant", "U-U/8", "--res", "32", "--bf16", "fp16", check=False)
    assert p.returncode != 0 and "vitok-bench: --bf16 must be true, false or both" in p.stderr
