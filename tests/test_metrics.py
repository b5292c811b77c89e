"""vitok-eval outside the notebooks: the CLI's exit codes and messages, the real-statistics cache on disk,
the video path with --fps. Pretrained networks are replaced by randomly initialised ones saved in the real
file formats and loaded through the real code (tests/doubles.py). The weights policy, the metrics and the
cache key are checked in nbs/30_metrics, 31_evaluate, 32_fvd and 33_stats_cache."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from fastcore.script import CliError
from PIL import Image

from doubles import save_random_inception, save_random_i3d, trust
from vitok import ViTok, ViTokConfig
from vitok.metrics import WEIGHTS
from vitok.evaluate import vitok_eval, evaluate, evaluate_tokenizer, Evaluator
from vitok.data import builtin_videos
from vitok.utils import file_sha256

INCEPTION = WEIGHTS["inception"].file


@pytest.fixture
def no_weights(tmp_path, monkeypatch):
    "No weights anywhere, downloads off: what a machine without network and without files looks like."
    monkeypatch.setenv("VITOK_WEIGHTS", str(tmp_path / "weights"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("VITOK_OFFLINE", "1")
    monkeypatch.setenv("VITOK_CACHE", str(tmp_path / "cache"))
    return tmp_path


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    "A micro image tokenizer saved with save_pretrained."
    torch.manual_seed(0)
    return ViTok(ViTokConfig.from_name("U-U/8", channels=8, resolution=32)).save_pretrained(
        tmp_path_factory.mktemp("ckpt") / "tok")


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    "A folder of 6 real photo crops of different sizes (resize + centre crop must handle them)."
    import skimage.data
    d = tmp_path_factory.mktemp("photos")
    for i, name in enumerate(["astronaut", "coffee", "chelsea", "rocket", "immunohistochemistry", "retina"]):
        img = getattr(skimage.data, name)()
        Image.fromarray(img[: 60 + 10 * i, : 80 + 5 * i]).save(d / f"{i:02d}_{name}.png")
    return d


def run_cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "vitok.evaluate", *map(str, args)], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=300)


def offline_env(tmp):
    return {"VITOK_WEIGHTS": str(tmp / "weights"), "TORCH_HOME": str(tmp / "torch"), "VITOK_OFFLINE": "1",
            "VITOK_CACHE": str(tmp / "cache")}


# ---------------------------------------------------------------- the command line

def test_cli_rfid_without_weights_fails_with_the_policy_message(tmp_path, ckpt, photos):
    out = tmp_path / "eval.json"
    r = run_cli("--ckpt", ckpt, "--data", photos, "--resolution", 32, "--metrics", "rfid", "--out", out, "--num-workers", 0,
                env=offline_env(tmp_path))
    assert r.returncode != 0
    assert INCEPTION in r.stderr and WEIGHTS["inception"].url in r.stderr and "hub/checkpoints" in r.stderr
    assert "Traceback" not in r.stderr and not out.exists()


def test_cli_psnr_ssim_work_without_weights(tmp_path, ckpt, photos):
    out = tmp_path / "eval.json"
    r = run_cli("--ckpt", ckpt, "--data", photos, "--resolution", 32, "--metrics", "psnr,ssim", "--out", out,
                "--num-workers", 0, "--quiet", env=offline_env(tmp_path))
    assert r.returncode == 0, r.stderr
    rep = json.loads(out.read_text())
    assert rep["samples"] == 6 and set(rep["metrics"]) == {"psnr", "ssim"}
    assert 3 < rep["metrics"]["psnr"] < 40 and -1 < rep["metrics"]["ssim"] < 1
    assert rep["versions"]["torch"] and rep["versions"]["torch-fidelity"] and rep["versions"]["python"]
    assert {"preprocess", "psnr", "ssim"} <= set(rep["protocol"]) and rep["data"]["key"]["files"] == 6
    assert rep["model"]["name"] == "U-U/8" and rep["missing"] == {}


def test_cli_allow_missing_reports_missing_never_a_number(tmp_path, ckpt, photos):
    out = tmp_path / "eval.json"
    r = run_cli("--ckpt", ckpt, "--data", photos, "--resolution", 32, "--metrics", "psnr,lpips,rfid", "--out", out,
                "--num-workers", 0, "--allow-missing", "--limit", 3, env=offline_env(tmp_path))
    assert r.returncode == 0, r.stderr
    rep = json.loads(out.read_text())
    assert rep["samples"] == 3 and rep["metrics"]["rfid"] is None and rep["metrics"]["lpips"] is None
    assert INCEPTION in rep["missing"]["rfid"] and "MISSING" in r.stdout


def test_cli_bad_checkpoint_and_metric(tmp_path, ckpt, photos, no_weights):
    # in-process: CliError is what fastcore turns into exit status 1 and a message on stderr
    with pytest.raises(CliError, match="save_pretrained.*final"):
        vitok_eval(ckpt=str(tmp_path / "nothing"), data=str(photos), metrics="psnr", out=str(tmp_path / "e.json"))
    with pytest.raises(CliError, match="rfid"):
        vitok_eval(ckpt=str(ckpt), data=str(photos), metrics="psnr,fid", out=str(tmp_path / "e.json"))
    with pytest.raises(CliError, match="--ckpt"):
        vitok_eval(data=str(photos))
    assert not (tmp_path / "e.json").exists()


def test_run_folder_layout(tmp_path, ckpt, photos, no_weights):
    run = tmp_path / "run"
    ViTok.from_pretrained(ckpt).save_pretrained(run / "final")
    rep = vitok_eval(ckpt=str(run), data=str(photos), resolution=32, metrics="psnr", out=str(tmp_path / "e.json"),
                     num_workers=0, quiet=True)
    assert rep["ckpt"].endswith("final") and rep["samples"] == 6


# ---------------------------------------------------------------- the real-statistics cache

def test_second_evaluation_reuses_real_statistics(tmp_path, ckpt, photos, no_weights):
    double = save_random_inception(no_weights / "weights" / INCEPTION)
    kw = dict(ckpt=str(ckpt), data=str(photos), resolution=32, metrics="rfid,ris,psnr", num_workers=0, quiet=True,
              stats_dir=str(tmp_path / "stats"))
    with trust("inception", double):
        first = vitok_eval(out=str(tmp_path / "1.json"), **kw)
        second = vitok_eval(out=str(tmp_path / "2.json"), **kw)
    # first run: Inception saw the 6 real images and the 6 reconstructions; second run only the reconstructions
    assert first["network_images"]["inception"] == {"real": 6, "total": 12}
    assert second["network_images"]["inception"] == {"real": 0, "total": 6}
    assert first["real_stats"]["rfid"]["source"] == "computed" and second["real_stats"]["rfid"]["source"] == "cache"
    assert Path(second["real_stats"]["rfid"]["file"]).is_file()
    assert abs(first["metrics"]["rfid"] - second["metrics"]["rfid"]) < 1e-9 and first["metrics"]["rfid"] > 0
    assert first["weights"]["inception"]["sha256"] == file_sha256(no_weights / "weights" / INCEPTION)
    assert first["ris_splits"] == 6 and first["metrics"]["ris"] >= 1


# ---------------------------------------------------------------- video: per-frame metrics and rFVD

def test_video_evaluation_per_frame_and_fvd(tmp_path, no_weights):
    double = save_random_inception(no_weights / "weights" / INCEPTION)
    save_random_i3d(no_weights / "weights" / WEIGHTS["i3d"].file, size=32)
    torch.manual_seed(0)
    model = ViTok(ViTokConfig.from_name("U-U/2x8", channels=8, frames=4, resolution=32))
    clips = builtin_videos(frames=4, resolution=32, split="val", n=3)
    with trust("inception", double):
        rep = evaluate(model, clips, ["psnr", "ssim", "rfid", "rfvd"], batch_size=2, device="cpu", progress=False)
    assert rep["samples"] == 3 and rep["frames"] == 12
    assert rep["network_images"]["inception"] == {"real": 12, "total": 24}      # rFID per frame
    assert rep["network_images"]["i3d"] == {"real": 3, "total": 6}              # rFVD per clip
    assert all(np.isfinite(v) for v in rep["metrics"].values()) and rep["metrics"]["rfvd"] > 0
    with pytest.raises(ValueError, match="clips"):
        Evaluator(["rfvd"]).update(torch.zeros(1, 3, 8, 8, dtype=torch.uint8), torch.zeros(1, 3, 8, 8, dtype=torch.uint8))


def test_cli_video_fps_reaches_the_data(tmp_path, no_weights):
    torch.manual_seed(0)
    ViTok(ViTokConfig.from_name("U-U/2x8", channels=8, frames=4, resolution=32)).save_pretrained(tmp_path / "vid")
    kw = dict(ckpt=str(tmp_path / "vid"), data="builtin-videos", metrics="psnr", limit=2, num_workers=0, quiet=True)
    rep = vitok_eval(out=str(tmp_path / "e.json"), fps=8, **kw)
    every = vitok_eval(out=str(tmp_path / "f.json"), **kw)
    assert rep["data"]["frames"] == 4 and rep["data"]["resolution"] == 32                 # the model's own
    assert rep["data"]["fps"] == 8 and rep["data"]["key"]["fps"] == 8 and every["data"]["fps"] is None
    assert rep["data"]["key"] != every["data"]["key"]                  # other clips: other real statistics
    assert rep["samples"] == 2 and rep["frames"] == 8
    assert json.loads((tmp_path / "e.json").read_text())["data"]["fps"] == 8


# ---------------------------------------------------------------- bounded memory: samples are streamed

def test_evaluation_streams_samples(ckpt):
    "Batches are pulled from the source one at a time: at most one batch of samples is held, whatever N."
    model = ViTok.from_pretrained(ckpt)
    pulled, seen = [0], []
    def source():
        for _ in range(10):
            pulled[0] += 1
            yield torch.zeros(3, 32, 32)
    forward = model.forward
    model.forward = lambda x, **kw: (seen.append(pulled[0]), forward(x, **kw))[1]
    rep = evaluate_tokenizer(model, source(), batch_size=4, device="cpu", progress=False)
    assert rep["samples"] == 10 and seen == [4, 8, 10] and rep["data"]["spec"] is None
