"The command-line tools: vitok-info against the paper's sizes, vitok-bench's JSON, errors."
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from vitok.flops import PAPER_SIZES, count_macs, model_stats, vitok_info

BIN = Path(sys.executable).parent


def run(*args, check=True):
    p = subprocess.run([str(BIN / args[0]), *args[1:]], capture_output=True, text=True, timeout=300)
    if check:
        assert p.returncode == 0, p.stderr
    return p


VIDEO_GAP = {"S-B/8x8", "S-B/4x16"}  # faithful count vs the paper's 768-input embedding: see 03_flops


@pytest.mark.parametrize("row", PAPER_SIZES, ids=[f"{r['variant']}@{r['res']}x{r['frames']}:{r['part']}" for r in PAPER_SIZES])
def test_vitok_info_json_matches_paper(row, capsys):
    vitok_info(row["variant"], channels=16, res=row["res"], frames=row["frames"], json=True)
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"variant", "tokens", "channels", "E", "pixels_per_float", "params_m", "gflops"}
    assert set(out["params_m"]) == set(out["gflops"]) == {"encoder", "decoder", "total"}
    g = out["gflops"][row["part"]]
    tol = 0.03 if row["variant"] in VIDEO_GAP else 0.01
    assert abs(g - row["gflops"]) / row["gflops"] < tol, (g, row)
    if row["params_m"] is not None:
        p = out["params_m"][row["part"]]
        assert abs(p - row["params_m"]) / row["params_m"] < 0.005, (p, row)
    assert out["E"] == out["tokens"] * 16
    assert out["pixels_per_float"] == pytest.approx(row["frames"] * row["res"] ** 2 * 3 / out["E"])


def test_info_tokens_for_video():
    s = model_stats("S-B/4x8", 16, 128, 16)
    assert s["tokens"] == 1024 and s["E"] == 16384 and s["pixels_per_float"] == 48.0


def test_macs_match_independent_formula():
    "Hook-based count vs the closed-form count of a Llama-style ViT (fvcore's rules)."
    def stack(width, depth, L):
        h = 8 * width // 3
        per_block = L * width * 3 * width + 2 * L * L * width + L * width * width + L * 3 * width * h + 2 * 5 * L * width
        return depth * per_block + 5 * L * width  # blocks + final norm
    L, c = 256, 16
    enc = stack(768, 6, L) + L * 768 * 768 + L * 768 * 2 * c
    dec = stack(768, 12, L) + L * c * 768 + L * 768 * 768
    s = model_stats("S-B/16", c, 256, 1)
    assert s["gflops"]["encoder"] == pytest.approx(enc / 1e9, abs=1e-3)
    assert s["gflops"]["decoder"] == pytest.approx(dec / 1e9, abs=1e-3)


def test_macs_match_torch_flop_counter_for_matmuls():
    "torch's FlopCounterMode (2 FLOPs per MAC) sees the same Linear/conv work as our hooks."
    import torch
    from torch.utils.flop_counter import FlopCounterMode
    from vitok import ViTok, ViTokConfig
    from vitok.layers import Attention

    cfg = ViTokConfig.from_name("U-U/8", channels=4, resolution=32)
    m = ViTok(cfg)
    x = torch.rand(1, 3, 32, 32)
    fc = FlopCounterMode(display=False)
    with fc, torch.no_grad():
        m(x, sample=False)
    counts = {str(k): v for k, v in fc.get_flop_counts()["Global"].items()}
    torch_macs = sum(v for k, v in counts.items() if k in ("aten.mm", "aten.addmm", "aten.convolution")) // 2
    ours = sum(count_macs(m, x, lambda mm, xx: mm(xx, sample=False)).values())
    L, width, depth = 16, 64, 2
    attn = 2 * depth * 2 * L * L * width
    norms = 2 * (2 * depth + 1) * 5 * L * width
    assert ours == torch_macs + attn + norms


def test_vitok_info_console_script():
    out = json.loads(run("vitok-info", "S-B/4x8", "--frames", "16", "--res", "128", "--json").stdout)
    assert out["variant"] == "S-B/4x8" and out["tokens"] == 1024
    assert "E=4096" in run("vitok-info", "S-B/16").stdout
    p = run("vitok-info", "Z-B/16", check=False)
    assert p.returncode != 0 and "Unknown variant 'Z-B/16'" in p.stderr and "S-B/16" in p.stderr


def test_vitok_bench_json():
    r = json.loads(run("vitok-bench", "--variant", "U-U/8", "--res", "32", "--batch", "2", "--channels", "4",
                       "--warmup", "1", "--repeats", "2").stdout)
    for k in ("encode", "decode", "train_step"):
        assert r[f"{k}_images_per_s"] > 0
        assert r[f"{k}_images_per_s"] == pytest.approx(2 / r[f"{k}_median_s"], rel=1e-2)
    assert r["device"] == "cpu" and r["dtype"] == "fp32" and r["compile"] is False


def test_vitok_bench_video_and_bf16():
    r = json.loads(run("vitok-bench", "--variant", "U-U/2x8", "--res", "32", "--frames", "4", "--batch", "1",
                       "--channels", "4", "--dtype", "bf16", "--warmup", "1", "--repeats", "1").stdout)
    assert r["dtype"] == "bf16" and r["train_step_frames_per_s"] > 0


def test_vitok_bench_errors():
    p = run("vitok-bench", "--variant", "U-U/8", "--res", "32", "--dtype", "fp8", check=False)
    assert p.returncode != 0 and "dtype must be fp32 or bf16" in p.stderr
    import torch
    if not torch.cuda.is_available():
        p = run("vitok-bench", "--variant", "U-U/8", "--res", "32", "--device", "cuda", check=False)
        assert p.returncode != 0 and "cuda" in p.stderr
