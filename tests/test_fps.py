"""--fps end to end on the built-in clips, whose frame rates PyAV reads from the files (bikes and bigbuckbunny 25 fps,
the held-out carphone 29.97 fps): `read_clip`, the built-in video streams, `vitok-train --fps 8` and
`vitok-eval --fps 8` pick frames rate / 8 apart. Each check fails if fps were ignored (consecutive frames)."""
import json
import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest
import torch

import vitok.builtin
from vitok.builtin import BUILTIN_VIDEOS, builtin_videos
from vitok.evaluate import evaluate_tokenizer
from vitok.media import clip_indices, read_clip

BIN = Path(sys.executable).parent
VIDEO = {v.name: v.paths()[0] for v in BUILTIN_VIDEOS}


def rate_of(path) -> float:
    with av.open(str(path)) as c: return float(c.streams.video[0].average_rate)


def spaced_at(idx, step) -> bool:
    "Consecutive indices are `step` apart, rounded (floor or ceil), and `step` apart on average."
    gaps = np.diff(idx)
    return bool(len(idx) > 1 and set(gaps) <= {int(np.floor(step)), int(np.ceil(step))}
                and abs((idx[-1] - idx[0]) / (len(idx) - 1) - step) < 0.5)


def test_builtin_clips_have_the_expected_rates():
    assert rate_of(VIDEO["bikes"]) == 25 and rate_of(VIDEO["bigbuckbunny"]) == 25
    assert rate_of(VIDEO["carphone"]) == pytest.approx(30000 / 1001)


def test_read_clip_at_8_fps_picks_frames_rate_over_8_apart():
    path = VIDEO["carphone"]
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        rate, every = float(s.average_rate), [f.to_ndarray(format="rgb24") for f in c.decode(s)]
    want = clip_indices(len(every), 8, rate / 8)
    assert spaced_at(want, rate / 8), want                                     # 29.97 / 8 = 3.75 frames apart
    got = [np.asarray(im) for im in read_clip(path, 8, fps=8)]
    assert all(np.array_equal(g, every[k]) for g, k in zip(got, want))
    consecutive = [np.asarray(im) for im in read_clip(path, 8)]               # what ignoring fps would give
    assert not all(np.array_equal(a, b) for a, b in zip(got, consecutive))


@pytest.mark.parametrize("split", ["train", "val"])
def test_builtin_videos_at_8_fps(split):
    ds = builtin_videos(frames=8, resolution=16, fps=8, split=split, n=4)
    for i in range(4):
        _, src, video, idx = ds._pick(i)
        assert spaced_at(idx, rate_of(src.paths()[0]) / 8), (src.name, idx)
    assert not spaced_at(builtin_videos(frames=8, resolution=16, split=split, n=1)._pick(0)[3], 25 / 8)


def test_train_and_eval_clis_at_8_fps(tmp_path, monkeypatch):
    "vitok-train --fps 8 draws its training and validation clips rate/8 apart; vitok-eval --fps 8 scores such clips."
    from vitok.train import main
    steps, real = [], vitok.builtin.clip_indices
    def spy(n, frames, step=1.0, start=0.5):
        steps.append(step); return real(n, frames, step, start)
    monkeypatch.setattr(vitok.builtin, "clip_indices", spy)
    run = tmp_path / "run"
    main(["--preset", "smoke", "--variant", "U-U/2x8", "--frames", "4", "--resolution", "16", "--channels", "2",
          "--batch", "2", "--steps", "2", "--eval-every", "2", "--eval-images", "2", "--data", "builtin-videos",
          "--fps", "8", "--num-workers", "0", "--threads", "1", "--device", "cpu", "--out", str(run)])
    monkeypatch.undo()
    cfg = json.loads((run / "config.json").read_text())
    assert (cfg["fps"], cfg["frames"], cfg["data"]) == (8.0, 4, "builtin-videos")
    assert steps and set(steps) == {25 / 8, 30000 / 1001 / 8}, set(steps)     # training (25 fps) and held-out (29.97)

    out = tmp_path / "eval.json"
    p = subprocess.run([str(BIN / "vitok-eval"), "--ckpt", str(run), "--data", "builtin-videos", "--fps", "8",
                        "--metrics", "psnr,ssim", "--limit", "2", "--batch", "2", "--num-workers", "0", "--device", "cpu",
                        "--quiet", "--out", str(out)], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    rep = json.loads(out.read_text())
    assert (rep["data"]["fps"], rep["data"]["frames"], rep["samples"]) == (8.0, 4, 2)
    torch.set_num_threads(1)
    step = rate_of(VIDEO["carphone"]) / 8
    clips = lambda **kw: list(builtin_videos(frames=4, resolution=16, split="val", n=2, **kw))
    score = lambda xs: evaluate_tokenizer(run, xs, metrics=("psnr",), device="cpu", progress=False)["metrics"]["psnr"]
    assert rep["metrics"]["psnr"] == pytest.approx(score(clips(stride=step)), abs=1e-6)   # the clips rate/8 apart
    assert rep["metrics"]["psnr"] != pytest.approx(score(clips()), abs=1e-6)             # not consecutive frames
