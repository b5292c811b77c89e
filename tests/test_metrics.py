"""Metrics and vitok-eval outside the notebooks: the weights policy, the CLI's exit codes and messages,
the real-statistics cache, and the video path. Pretrained networks are replaced by randomly initialised
ones saved in the real file formats and loaded through the real code (vitok.metrics' test doubles)."""
import json
import os
import subprocess
import sys
import urllib.error
from pathlib import Path

import numpy as np
import pytest
import torch
from fastcore.script import CliError
from PIL import Image

from vitok import ViTok, ViTokConfig
from vitok.metrics import (WEIGHTS, WeightsMissing, weights_path, load_lpips, save_random_inception,
                           save_random_vgg16, file_sha256)
from vitok.fvd import save_random_i3d
from vitok.evaluate import vitok_eval, evaluate, data_fingerprint, eval_data, Evaluator
from vitok.data import builtin_videos

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


# ---------------------------------------------------------------- weights policy

def test_missing_weights_message_names_file_source_and_places(no_weights):
    with pytest.raises(WeightsMissing) as e:
        weights_path("inception")
    msg = str(e.value)
    assert INCEPTION in msg and WEIGHTS["inception"].url in msg
    assert str(no_weights / "weights") in msg                                  # $VITOK_WEIGHTS/<file>
    assert str(no_weights / "torch" / "hub" / "checkpoints" / INCEPTION) in msg   # $TORCH_HOME/hub/checkpoints/<file>
    assert "VITOK_OFFLINE" in msg


def test_failed_download_is_reported_not_hidden(no_weights, monkeypatch):
    monkeypatch.delenv("VITOK_OFFLINE")
    calls = []
    def no_network(url, dst, hash_prefix=None, progress=True):
        calls.append((url, dst, hash_prefix))
        raise urllib.error.URLError("[Errno -2] Name or service not known")
    monkeypatch.setattr(torch.hub, "download_url_to_file", no_network)
    with pytest.raises(WeightsMissing) as e:
        weights_path("vgg16")
    assert calls and calls[0][0] == WEIGHTS["vgg16"].url and calls[0][2] == "397923af"   # the library's URL and hash
    assert "URLError" in str(e.value) and "vgg16-397923af.pth" in str(e.value)
    assert not (no_weights / "torch" / "hub" / "checkpoints" / "vgg16-397923af.pth").exists()


def test_vitok_weights_first_then_hub_cache(no_weights):
    hub = no_weights / "torch" / "hub" / "checkpoints" / INCEPTION
    hub.parent.mkdir(parents=True); hub.write_bytes(b"x")
    assert weights_path("inception") == hub
    mine = no_weights / "weights" / INCEPTION
    mine.parent.mkdir(parents=True); mine.write_bytes(b"y")
    assert weights_path("inception") == mine


def test_lpips_rejects_a_file_that_is_not_vgg16(no_weights):
    bad = no_weights / "weights" / WEIGHTS["vgg16"].file
    bad.parent.mkdir(parents=True)
    torch.save({"features.0.weight": torch.zeros(64, 3, 3, 3)}, bad)
    with pytest.raises(RuntimeError, match="not a torchvision VGG16"):
        load_lpips()
    save_random_vgg16(bad)
    assert load_lpips().net.slice5._modules["28"].weight.shape == (512, 512, 3, 3)


# ---------------------------------------------------------------- the command line

def test_cli_rfid_without_weights_fails_with_the_policy_message(tmp_path, ckpt, photos):
    out = tmp_path / "eval.json"
    r = run_cli("--ckpt", ckpt, "--data", photos, "--res", 32, "--metrics", "rfid", "--out", out, "--workers", 0,
                env=offline_env(tmp_path))
    assert r.returncode != 0
    assert INCEPTION in r.stderr and WEIGHTS["inception"].url in r.stderr and "hub/checkpoints" in r.stderr
    assert "Traceback" not in r.stderr and not out.exists()


def test_cli_psnr_ssim_work_without_weights(tmp_path, ckpt, photos):
    out = tmp_path / "eval.json"
    r = run_cli("--ckpt", ckpt, "--data", photos, "--res", 32, "--metrics", "psnr,ssim", "--out", out,
                "--workers", 0, "--quiet", env=offline_env(tmp_path))
    assert r.returncode == 0, r.stderr
    rep = json.loads(out.read_text())
    assert rep["samples"] == 6 and set(rep["metrics"]) == {"psnr", "ssim"}
    assert 3 < rep["metrics"]["psnr"] < 40 and -1 < rep["metrics"]["ssim"] < 1
    assert rep["versions"]["torch"] and rep["versions"]["torch-fidelity"] and rep["versions"]["python"]
    assert {"preprocess", "psnr", "ssim"} <= set(rep["protocol"]) and rep["data"]["key"]["files"] == 6
    assert rep["model"]["name"] == "U-U/8" and rep["missing"] == {}


def test_cli_allow_missing_reports_missing_never_a_number(tmp_path, ckpt, photos):
    out = tmp_path / "eval.json"
    r = run_cli("--ckpt", ckpt, "--data", photos, "--res", 32, "--metrics", "psnr,lpips,rfid", "--out", out,
                "--workers", 0, "--allow-missing", "--limit", 3, env=offline_env(tmp_path))
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
    rep = vitok_eval(ckpt=str(run), data=str(photos), res=32, metrics="psnr", out=str(tmp_path / "e.json"),
                     workers=0, quiet=True)
    assert rep["ckpt"].endswith("final") and rep["samples"] == 6


# ---------------------------------------------------------------- the real-statistics cache

def test_second_evaluation_reuses_real_statistics(tmp_path, ckpt, photos, no_weights):
    save_random_inception(no_weights / "weights" / INCEPTION)
    kw = dict(ckpt=str(ckpt), data=str(photos), res=32, metrics="rfid,ris,psnr", workers=0, quiet=True,
              stats_dir=str(tmp_path / "stats"))
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


def test_cache_key_follows_the_data(tmp_path, photos):
    ds = eval_data(photos, 32)
    key = data_fingerprint(ds, photos)
    assert data_fingerprint(eval_data(photos, 32), photos) == key
    assert data_fingerprint(eval_data(photos, 32, limit=3), photos, 3) != key
    extra = tmp_path / "more"; extra.mkdir()
    for p in photos.iterdir(): (extra / p.name).write_bytes(p.read_bytes())
    Image.new("RGB", (40, 40)).save(extra / "zz.png")
    assert data_fingerprint(eval_data(extra, 32), extra)["listing_sha256"] != key["listing_sha256"]


# ---------------------------------------------------------------- video: per-frame metrics and rFVD

def test_video_evaluation_per_frame_and_fvd(tmp_path, no_weights):
    save_random_inception(no_weights / "weights" / INCEPTION)
    save_random_i3d(no_weights / "weights" / WEIGHTS["i3d"].file, size=32)
    torch.manual_seed(0)
    model = ViTok(ViTokConfig.from_name("U-U/2x8", channels=8, frames=4, resolution=32))
    clips = builtin_videos(frames=4, resolution=32, split="val", n=3)
    rep = evaluate(model, clips, ["psnr", "ssim", "rfid", "rfvd"], batch_size=2, device="cpu", progress=False)
    assert rep["samples"] == 3 and rep["frames"] == 12
    assert rep["network_images"]["inception"] == {"real": 12, "total": 24}      # rFID per frame
    assert rep["network_images"]["i3d"] == {"real": 3, "total": 6}              # rFVD per clip
    assert all(np.isfinite(v) for v in rep["metrics"].values()) and rep["metrics"]["rfvd"] > 0
    with pytest.raises(ValueError, match="clips"):
        Evaluator(["rfvd"]).update(torch.zeros(1, 3, 8, 8, dtype=torch.uint8), torch.zeros(1, 3, 8, 8, dtype=torch.uint8))
