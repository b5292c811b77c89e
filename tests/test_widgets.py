"""The widgets on real figure outputs, driven without a browser: fig2's smoke sweep (papermill) for the E explorer,
a micro DiT for the sampler, a tokenizer's reconstruction of a held-out clip for the frame scrubber. Each knob turned
must change what is shown, and each redraw must take under a second on one CPU thread (tiny outputs)."""
import io
import contextlib
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from vitok.widgets import dit_sampler, e_explorer, frame_scrubber, show_panel

NBS = Path(__file__).resolve().parents[1] / "nbs"
BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def fig2(tmp_path_factory):
    d = tmp_path_factory.mktemp("fig2")
    p = subprocess.run([str(BIN / "papermill"), str(NBS / "fig2_sweep.ipynb"), str(d / "o.ipynb"), "-p", "preset", "smoke",
                        "-p", "out_dir", str(d / "out"), "--cwd", str(NBS), "--no-progress-bar"],
                       capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr[-3000:]
    return d / "out"


def test_e_explorer_on_fig2_smoke(fig2):
    torch.set_num_threads(1)
    ex = e_explorer(fig2, display=False)
    first = dict(ex.state)
    assert first["run"] == "p8-c8" and first["E"] == 128 and first["png"]          # the largest E first
    ex.controls["c"].value = 2
    assert ex.state["run"] == "p8-c2" and ex.state["E"] == 32 and ex.state["png"] != first["png"]
    assert ex.state["seconds"] < 1.0, ex.state["seconds"]
    ex.controls["p"].value = 16; ex.controls["c"].value = 8
    assert ex.state["run"] == "p16-c8" and ex.state["E"] == 32
    ex.controls["p"].value = 16; ex.controls["c"].value = 2                        # not in the grid: said, not drawn
    assert ex.state["run"] is None and "no run with p = 16, c = 2" in ex.children[1].value


def test_dit_sampler_turns(tmp_path):
    from vitok import ViTok, ViTokConfig
    from vitok.dit_train import DiTTrainer, make_toy_latents
    from vitok.presets.train import dit_preset
    torch.set_num_threads(1); torch.manual_seed(0)
    ViTok(ViTokConfig.from_name("U-U/8", channels=4, resolution=32)).save_pretrained(tmp_path / "tok")
    lat = make_toy_latents(tmp_path / "lat", grid=(1, 4, 4), channels=4, num_classes=3, tokenizer=tmp_path / "tok")
    DiTTrainer(dit_preset("smoke", latents=str(lat), out=str(tmp_path / "dit"), steps=30, eval_every=30, log_every=10,
                          batch=16, lr=3e-3)).fit()
    s = dit_sampler(tmp_path / "dit", n=4, steps=10, display=False)
    a = dict(s.state)
    assert a["shape"] == (4, 3, 32, 32) and a["seconds"] < 1.0, a
    s.controls["class"].value = 1; b = dict(s.state)
    s.controls["cfg"].value = 6.0; c = dict(s.state)
    s.controls["steps"].value = 5; d = dict(s.state)
    assert len({a["png"], b["png"], c["png"], d["png"]}) == 4 and (d["label"], d["cfg"], d["steps"]) == (1, 6.0, 5)
    assert max(x["seconds"] for x in (b, c, d)) < 1.0


def test_frame_scrubber_on_a_reconstruction():
    from vitok import ViTok, ViTokConfig
    from vitok.data import eval_data
    torch.set_num_threads(1); torch.manual_seed(0)
    clip = next(iter(eval_data("builtin-videos", 32, frames=4, limit=1)))
    clip = clip[0] if clip.ndim == 5 else clip                                      # (3, T, H, W) in [-1, 1]
    tok = ViTok(ViTokConfig.from_name("U-U/2x8", channels=8, resolution=32, frames=4)).eval()
    with torch.no_grad(): rec = tok(clip[None], sample=False)[0][0].clamp(-1, 1)
    fs = frame_scrubber({"held-out clip": clip, "reconstruction": rec}, display=False)
    s0 = dict(fs.state)
    assert s0["frame"] == 0 and fs.controls["frame"].max == 3 and set(s0["psnr"]) == {"reconstruction"}
    fs.controls["frame"].value = 3
    assert fs.state["frame"] == 3 and fs.state["png"] != s0["png"] and fs.state["seconds"] < 1.0


def test_outside_a_notebook_says_so():
    import ipywidgets
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf): show_panel(ipywidgets.VBox(), "e_explorer")
    assert "needs a Jupyter kernel" in buf.getvalue()
