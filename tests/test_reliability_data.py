"""Unreadable inputs are skipped and counted in every path (training's validation, `vitok-eval`, the sweep's
evaluation of training crops), and `vitok-eval` checks where it writes before it works."""
import json
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
import torch
from fastcore.script import CliError
from PIL import Image

from vitok import ViTok, ViTokConfig
from vitok.media import write_video
from vitok.presets.train import train_preset
from vitok.train import Trainer
from helpers import logs


def images(d: Path, n: int = 6) -> Path:
    "A folder of `n` small PNGs whose first file (in sorted order) is not an image."
    d.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(1, n):
        Image.fromarray(rng.integers(0, 256, (36, 40, 3), dtype=np.uint8)).save(d / f"{i:02d}.png")
    (d / "00.png").write_text("not an image")
    return d


def videos(d: Path, n: int = 4) -> Path:
    "A folder of `n` 8-frame 32x32 clips whose first file is not a video."
    d.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(1, n):
        write_video(d / f"{i:02d}.mp4", rng.integers(0, 256, (8, 32, 32, 3), dtype=np.uint8), fps=8)
    (d / "00.mp4").write_bytes(b"not a video")
    return d


def micro(tmp: Path) -> Path:
    "A run folder with final/ weights of an untrained U-U/8 (what eval_run and vitok-eval read)."
    torch.manual_seed(0)
    ViTok(ViTokConfig.from_name("U-U/8", channels=4, resolution=32)).save_pretrained(tmp / "run" / "final")
    return tmp / "run"


@pytest.mark.parametrize("kind", ["image", "video"])
@pytest.mark.parametrize("where", ["data", "val_data"])
@pytest.mark.parametrize("workers", [0, 2])
def test_validation_skips_unreadable_first_file(tmp_path, kind, where, workers):
    "The first of the eval_images files is unreadable: validation skips it (the issue saw an Unreadable traceback)."
    folder = images(tmp_path / "imgs") if kind == "image" else videos(tmp_path / "vids")
    video = dict(variant="U-U/2x8", frames=4, batch=2) if kind == "video" else {}
    cfg = train_preset("smoke", out=str(tmp_path / "r"), steps=1, eval_every=1, eval_images=2, num_workers=workers,
                       **video, **{where: str(folder)})
    torch.set_num_threads(1)
    Trainer(cfg).fit()
    val = [r for r in logs(tmp_path / "r") if "val_psnr" in r]
    assert [r["step"] for r in val] == [0, 1] and all(r["val_psnr"] > 0 for r in val)
    assert (tmp_path / "r" / "final" / "model.safetensors").exists()


@pytest.mark.parametrize("workers", [0, 2])
def test_eval_report_names_skipped_inputs(tmp_path, workers):
    "Fails on the old main: eval.json had no `skipped`. Skips found in DataLoader workers reach the report."
    from vitok.evaluate import vitok_eval
    run, folder = micro(tmp_path), images(tmp_path / "imgs")
    rep = vitok_eval(ckpt=str(run), data=str(folder), resolution=32, metrics="psnr,ssim", num_workers=workers, batch=2,
                     limit=6, quiet=True, out=str(tmp_path / "eval.json"))
    saved = json.loads((tmp_path / "eval.json").read_text())
    assert rep["samples"] == saved["samples"] == 5 and saved["skipped"] == 1
    assert list(saved["skipped_inputs"]) == ["00.png"] and "not a readable image" in saved["skipped_inputs"]["00.png"]
    clean = vitok_eval(ckpt=str(run), data="builtin", metrics="psnr", limit=4, num_workers=0, quiet=True,
                       out=str(tmp_path / "clean.json"))
    assert clean["skipped"] == 0 and clean["skipped_inputs"] == {}


def test_sweep_train_crops_skip_unreadable(tmp_path):
    "Fails on the old main: eval_run(train_crops=True) called ds.load(i) and crashed on an Unreadable file."
    from vitok.sweep import eval_run
    run, folder = micro(tmp_path), images(tmp_path / "imgs")
    m = eval_run(run, str(folder), 32, ("psnr",), limit=4, train_crops=True)
    cached = json.loads(next(run.glob("eval_*.json")).read_text())
    assert 0 < m["psnr"] < 60 and cached["samples"] == 4 and cached["skipped"] == 1 and list(cached["skipped_inputs"]) == ["00.png"]


def test_eval_out_unwritable_fails_before_work(tmp_path):
    "Fails on the old main: vitok-eval evaluated everything, then failed writing the report."
    from vitok import evaluate
    (tmp_path / "afile").write_text("a file where the report's folder should be")
    with mock.patch.object(evaluate, "evaluate_tokenizer", side_effect=AssertionError("evaluated before checking --out")):
        with pytest.raises(CliError, match=r"cannot write the report \(--out\) .*afile/eval\.json"):
            evaluate.vitok_eval(ckpt=str(micro(tmp_path)), data="builtin", out=str(tmp_path / "afile" / "eval.json"))


def test_eval_stats_cache_unwritable_warns_and_finishes(tmp_path):
    "Fails on the old main: the real-set statistics were saved after the evaluation, into a folder that could not be made."
    from doubles import offline, save_random_i3d, trust
    from vitok.evaluate import vitok_eval
    from vitok.metrics import WEIGHTS
    torch.manual_seed(0)
    ViTok(ViTokConfig.from_name("U-U/2x8", channels=4, frames=4, resolution=32)).save_pretrained(tmp_path / "vid")
    (tmp_path / "afile").write_text("a file where the cache folder should be")
    with offline(tmp_path):
        double = save_random_i3d(tmp_path / "weights" / WEIGHTS["i3d"].file, size=32)
        with trust("i3d", double), pytest.warns(UserWarning, match=r"afile/stats cannot be written.*--stats-dir"):
            rep = vitok_eval(ckpt=str(tmp_path / "vid"), data="builtin-videos", metrics="psnr,rfvd", limit=2, num_workers=0,
                             quiet=True, stats_dir=str(tmp_path / "afile" / "stats"), out=str(tmp_path / "e.json"))
    assert rep["metrics"]["rfvd"] is not None and rep["real_stats"]["rfvd"]["source"].startswith("computed, not cached")
    assert json.loads((tmp_path / "e.json").read_text())["samples"] == 2


def test_eval_damaged_stats_cache_is_recomputed(tmp_path):
    "Fails on the old main: a truncated cached-statistics .npz gave a bare BadZipFile after loading model and data."
    from doubles import offline, save_random_i3d, trust
    from vitok.evaluate import vitok_eval
    from vitok.metrics import WEIGHTS
    torch.manual_seed(0)
    ViTok(ViTokConfig.from_name("U-U/2x8", channels=4, frames=4, resolution=32)).save_pretrained(tmp_path / "vid")
    kw = dict(ckpt=str(tmp_path / "vid"), data="builtin-videos", metrics="psnr,rfvd", limit=2, num_workers=0, quiet=True,
              stats_dir=str(tmp_path / "stats"))
    with offline(tmp_path):
        double = save_random_i3d(tmp_path / "weights" / WEIGHTS["i3d"].file, size=32)
        with trust("i3d", double):
            first = vitok_eval(**kw, out=str(tmp_path / "a.json"))
            (cache,) = (tmp_path / "stats").glob("rfvd-*.npz")
            cache.write_bytes(cache.read_bytes()[:100])                        # a copy cut short
            with pytest.warns(UserWarning, match=rf"{cache.name}.*recomputing it now"):
                again = vitok_eval(**kw, out=str(tmp_path / "b.json"))
            third = vitok_eval(**kw, out=str(tmp_path / "c.json"))
    assert first["real_stats"]["rfvd"]["source"] == "computed"
    assert again["real_stats"]["rfvd"]["source"] == "recomputed (the cached file was damaged)"
    assert third["real_stats"]["rfvd"]["source"] == "cache"                    # the damaged file was overwritten
    assert again["metrics"]["rfvd"] == pytest.approx(first["metrics"]["rfvd"]) == pytest.approx(third["metrics"]["rfvd"])


def test_deep_images_and_any_file_name_through_eval(tmp_path):
    """Fails on the old main: a 16-bit greyscale PNG was read as white and a float TIFF as black, and one non-ASCII
    file name made the folder unusable ('ascii' codec ...). Each deep image must evaluate exactly like its 8-bit
    twin, and names in UTF-8 or not (Latin-1 bytes) work through the folder, the statistics cache key and the report."""
    import os
    from vitok.evaluate import vitok_eval
    run = micro(tmp_path)
    grey = np.random.default_rng(1).integers(0, 256, (32, 32), dtype=np.uint8)
    twins = {"8bit": tmp_path / "eight", "deep": tmp_path / "deep"}
    for d in twins.values(): (d / "c").mkdir(parents=True)
    Image.fromarray(grey).save(twins["8bit"] / "c" / "a.png"); Image.fromarray(grey).save(twins["8bit"] / "c" / "b.png")
    Image.fromarray(grey.astype(np.uint16) * 257).save(twins["deep"] / "c" / "café.png")              # 16-bit PNG
    Image.fromarray(grey.astype(np.float32) / 255).save(os.fsencode(twins["deep"] / "c") + b"/lat\xe9.tif")  # float TIFF
    with open(os.fsencode(twins["deep"] / "c") + b"/bad\xff.png", "wb") as f: f.write(b"not an image")
    rep = {k: vitok_eval(ckpt=str(run), data=str(d), resolution=32, metrics="psnr,ssim", num_workers=0, batch=2,
                         quiet=True, out=str(tmp_path / f"{k}.json")) for k, d in twins.items()}
    assert rep["deep"]["samples"] == rep["8bit"]["samples"] == 2 and rep["deep"]["skipped"] == 1
    assert rep["deep"]["metrics"] == pytest.approx(rep["8bit"]["metrics"], abs=1e-9)
    assert list(json.loads((tmp_path / "deep.json").read_text())["skipped_inputs"]) == ["c/bad\\xff.png"]
