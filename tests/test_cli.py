"""The command-line tools as processes: vitok-info against the paper's sizes, vitok-bench's JSON, the flag
spelling every vitok CLI shares, errors. The MAC counts themselves are checked in nbs/04_flops.ipynb."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from vitok.flops import PAPER_SIZES, vitok_info

BIN = Path(sys.executable).parent


def run(*args, check=True, env=None):
    p = subprocess.run([str(BIN / args[0]), *args[1:]], capture_output=True, text=True, timeout=300,
                       env=None if env is None else {**os.environ, **env})
    if check:
        assert p.returncode == 0, p.stderr
    return p


VIDEO_GAP = {"S-B/8x8", "S-B/4x16"}  # faithful count vs the paper's 768-input embedding: see 04_flops


@pytest.mark.parametrize("row", PAPER_SIZES, ids=[f"{r['variant']}@{r['res']}x{r['frames']}:{r['part']}" for r in PAPER_SIZES])
def test_vitok_info_json_matches_paper(row, capsys):
    vitok_info(row["variant"], channels=16, resolution=row["res"], frames=row["frames"], json=True)
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"variant", "kind", "tokens", "channels", "E", "pixels_per_float", "params_m", "gflops"}
    assert set(out["params_m"]) == set(out["gflops"]) == {"encoder", "decoder", "total"}
    g = out["gflops"][row["part"]]
    tol = 0.03 if row["variant"] in VIDEO_GAP else 0.01
    assert abs(g - row["gflops"]) / row["gflops"] < tol, (g, row)
    if row["params_m"] is not None:
        p = out["params_m"][row["part"]]
        assert abs(p - row["params_m"]) / row["params_m"] < 0.005, (p, row)
    assert out["E"] == out["tokens"] * 16
    assert out["pixels_per_float"] == pytest.approx(row["frames"] * row["res"] ** 2 * 3 / out["E"])


def test_vitok_info_console_script():
    out = json.loads(run("vitok-info", "S-B/4x8", "--frames", "16", "--resolution", "128", "--json").stdout)
    assert out["variant"] == "S-B/4x8" and out["tokens"] == 1024
    assert "E=4096" in run("vitok-info", "S-B/16").stdout
    p = run("vitok-info", "Z-B/16", check=False)
    assert p.returncode != 0 and "Unknown variant 'Z-B/16'" in p.stderr and "S-B/16" in p.stderr


def test_vitok_bench_json():
    r = json.loads(run("vitok-bench", "--variant", "U-U/8", "--resolution", "32", "--batch", "2", "--channels", "4",
                       "--device", "cpu", "--warmup", "1", "--repeats", "2").stdout)
    for k in ("encode", "decode", "train_step"):
        assert r[f"{k}_images_per_s"] > 0
        assert r[f"{k}_images_per_s"] == pytest.approx(2 / r[f"{k}_median_s"], rel=1e-2)
    assert r["device"] == "cpu" and r["bf16"] is False and r["compile"] is False and r["resolution"] == 32


def test_vitok_bench_video_and_bf16():
    """--bf16 where bf16 is emulated (forced, so on any CPU): it runs, and says once that it will be slow and why. The
    peak is a 256^3 matmul: the default 2048^3 takes over 2 minutes a call in emulated bf16 (an AVX2-only CPU)."""
    p = run("vitok-bench", "--variant", "U-U/2x8", "--resolution", "32", "--frames", "4", "--batch", "1", "--channels", "4",
            "--device", "cpu", "--bf16", "--warmup", "1", "--repeats", "1", "--peak-n", "256",
            env={"VITOK_BF16_PROBE": "emulated"})
    r = json.loads(p.stdout)
    assert r["bf16"] is True and r["train_step_frames_per_s"] > 0
    assert p.stderr.count("SlowBF16Warning") == 1 and "forced by VITOK_BF16_PROBE=emulated" in p.stderr, p.stderr


def test_vitok_bench_errors():
    p = run("vitok-bench", "--variant", "Z-B/16", "--resolution", "32", check=False)
    assert p.returncode != 0 and "Unknown variant 'Z-B/16'" in p.stderr and "Traceback" not in p.stderr
    import torch
    if not torch.cuda.is_available():
        p = run("vitok-bench", "--variant", "U-U/8", "--resolution", "32", "--device", "cuda", check=False)
        assert p.returncode != 0 and "cuda" in p.stderr


@pytest.mark.parametrize("tool,flags", [
    ("vitok-eval", ["--resolution", "--frames", "--fps", "--batch", "--num-workers", "--device", "--bf16"]),
    ("vitok-bench", ["--variant", "--resolution", "--frames", "--batch", "--channels", "--device", "--bf16"]),
    ("vitok-info", ["--resolution", "--frames", "--channels"]),
    ("vitok-train", ["--variant", "--resolution", "--frames", "--fps", "--batch", "--channels", "--num-workers", "--device",
                     "--bf16"]),
    ("vitok-figures", ["--preset", "--threads"]),
    ("vitok-train-dit", ["--preset", "--latents", "--batch", "--num-workers", "--device", "--bf16", "--threads"]),
    ("vitok-sample", ["--run", "--tokenizer", "--batch", "--fps", "--device", "--bf16", "--threads"]),
    ("vitok-dit-info", ["--channels", "--grid"]),
])
def test_shared_flag_spelling(tool, flags):
    "Every vitok CLI spells a setting the same way (fastcore's call_parse writes num_workers as --num-workers)."
    out = run(tool, "--help").stdout
    assert all(f in out.split() or f + "," in out for f in flags), [f for f in flags if f not in out]
    assert "--res " not in out and "--workers" not in out and "--dtype" not in out


# -- vitok-train (flags generated from TrainConfig) ------------------------------------------------------

def test_vitok_train_help_lists_every_field():
    import dataclasses
    from vitok.presets.train import TrainConfig
    out = run("vitok-train", "--help").stdout
    for f in dataclasses.fields(TrainConfig):
        assert f"--{f.name.replace('_', '-')}" in out, f.name
    assert "frames per second" in out and "beta of eq. (1)" in out     # help comes from the field comments
    assert "--beta " not in out and "--res " not in out


def test_vitok_train_flags_reach_the_run(tmp_path):
    "Console script: --fps, a bare bool flag, 'none' for an optional number land in the run's config.json."
    out = tmp_path / "r"
    run("vitok-train", "--preset", "smoke", "--steps", "2", "--eval-every", "2", "--eval-images", "2", "--fps", "8",
        "--grad-checkpoint", "--bf16", "false", "--lr", "none", "--threads", "1", "--out", str(out))
    c = json.loads((out / "config.json").read_text())
    assert (c["fps"], c["grad_checkpoint"], c["bf16"], c["lr"], c["threads"], c["steps"]) == (8.0, True, False, None, 1, 2)
    assert (out / "final" / "model.safetensors").exists()
    p = run("vitok-train", "--preset", "smoke-stage2", "--stage", "1", check=False)
    assert p.returncode != 0 and "contradicts" in p.stderr
