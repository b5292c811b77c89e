"""Bad input -> the one clear message it must give. The table below is the specification: to add a
check, add a row.

A row is `Bad(id, run, expect, setup=None, error=Exception)`:
- `run` is either a command line (a list: the first item is a vitok console script, run as a process
  in a fresh folder; it must exit non-zero, print `expect` on stderr, and print no traceback), or a
  callable `run(tmp)` that must raise `error` with a message matching `expect`;
- `expect` is a regular expression searched in the message (use `re.escape` for literal text);
- `setup(tmp)`, if given, prepares files in the folder first (a corrupt checkpoint, an unwritable path);
- `env`, if given, is added to a command line's environment (values may hold `{tmp}`).

Placeholders in a command line: `{tmp}` is the row's folder.
"""
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest

BIN = Path(sys.executable).parent


@dataclass
class Bad:
    id: str
    run: list | Callable
    expect: str
    setup: Callable | None = None
    error: type = Exception
    env: dict | None = None


# ---------------------------------------------------------------------------------------------------
# Helpers rows use to build their input.

def tokenizer(tmp: Path, name: str = "tok") -> Path:
    "A saved U-U/8 tokenizer (save_pretrained folder) in tmp/name."
    from vitok import ViTok, ViTokConfig
    d = Path(tmp) / name
    ViTok(ViTokConfig.from_name("U-U/8", channels=4, resolution=32)).save_pretrained(d)
    return d


def truncate(path: Path, keep: float = 0.5) -> Path:
    "Cut a file to `keep` of its bytes."
    b = Path(path).read_bytes()
    Path(path).write_bytes(b[: int(len(b) * keep)])
    return Path(path)


# weights, checkpoints, corrupt files, model input
OFFLINE = {"VITOK_WEIGHTS": "{tmp}/w", "TORCH_HOME": "{tmp}/torch", "VITOK_OFFLINE": "1"}   # weights only in {tmp}/w
EVAL = ["vitok-eval", "--ckpt", "{tmp}/tok", "--data", "builtin", "--limit", "2", "--num-workers", "0", "--out", "{tmp}/e.json"]


def garbage(path: Path, n: int = 1000) -> Path:
    "`n` random bytes at `path`: a download cut short, a file of another network, ..."
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_bytes(os.urandom(n))
    return Path(path)


def micro():
    "An unsaved U-U/8 image tokenizer (32 px, 4 channels)."
    from vitok import ViTok, ViTokConfig
    return ViTok(ViTokConfig.from_name("U-U/8", channels=4, resolution=32))


def stats_npz(tmp: Path) -> Path:
    "A cached real-statistics file as vitok-eval writes it."
    import torch
    from vitok.metrics import FeatureStats
    return FeatureStats().update(torch.randn(6, 4)).save(Path(tmp) / "rfid-0123abcd.npz")


def checkpoint(tmp: Path) -> Path:
    "A training checkpoint folder (step 5) of a micro tokenizer."
    from vitok.checkpoint import save_checkpoint
    m = micro()
    return save_checkpoint(Path(tmp) / "ckpt", 5, {"model": m.state_dict()}, {"model_config": m.cfg.to_dict()})


def load(what: str, tmp: Path):
    "Read `tmp`'s file the way the package does: a stats file, a checkpoint folder."
    from vitok.metrics import FeatureStats
    from vitok.checkpoint import load_checkpoint
    return FeatureStats.load(tmp / "rfid-0123abcd.npz") if what == "stats" else load_checkpoint(tmp / "ckpt" / "step_0000005")


def pixels(kind: str):
    import torch
    return {"uint8": torch.randint(0, 256, (2, 3, 32, 32), dtype=torch.uint8),
            "0..255": torch.rand(2, 3, 32, 32) * 255, "nan": torch.full((2, 3, 32, 32), float("nan"))}[kind]


def run_config(d: Path, **changes) -> Path:
    "A vitok run folder (its marker and the smoke preset's config.json, with `changes`): returns the config.json path."
    import dataclasses, json
    from vitok.presets.train import train_preset
    from vitok.utils import write_json
    d.mkdir(parents=True)
    write_json(d / ".vitok-run.json", {"by": "vitok", "settings": "TrainConfig"})
    (d / "config.json").write_text(json.dumps(dataclasses.asdict(train_preset("smoke", out=str(d))) | changes))
    return d / "config.json"


def foreign_folder(d: Path) -> Path:
    "A folder of someone else's: a web app's config.json and page."
    d.mkdir(parents=True)
    (d / "config.json").write_text('{"name": "my web app"}'); (d / "index.html").write_text("<p>hello</p>")
    return d


def dit_run(tmp: Path, name: str = "dit") -> Path:
    "A micro DiT trained for 2 steps on toy latents (3 classes) that name a micro tokenizer: the run folder tmp/name."
    from vitok.dit_train import DiTTrainer, make_toy_latents
    from vitok.presets.train import dit_preset
    lat = make_toy_latents(Path(tmp) / "lat", tokenizer=tokenizer(tmp))
    DiTTrainer(dit_preset("smoke", latents=str(lat), out=str(Path(tmp) / name), steps=2, eval_every=2)).fit()
    return Path(tmp) / name


# ---------------------------------------------------------------------------------------------------
# The table. Sections by concern; keep each row's message test specific enough that a vaguer message fails.

CASES: list[Bad] = [
    # --- variants and sizes -----------------------------------------------------------------------
    Bad("info: unknown variant", ["vitok-info", "Z-B/16"], r"Unknown variant 'Z-B/16'.*S-B/16"),

    # --- numbers, run folders, outputs -------------------------------------------------------------
    Bad("info: zero channels", ["vitok-info", "S-B/16", "--channels", "0"],
        re.escape("vitok-info: channels must be a positive integer, got 0")),
    Bad("info: negative channels", ["vitok-info", "S-B/16", "--channels", "-3"], re.escape("channels must be a positive integer, got -3")),
    Bad("info: zero resolution", ["vitok-info", "S-B/16", "--resolution", "0"], re.escape("resolution must be a positive integer, got 0")),
    Bad("info: zero frames", ["vitok-info", "S-B/16", "--frames", "0"], re.escape("frames must be a positive integer, got 0")),
    Bad("info: zero patch", ["vitok-info", "S-B/0"], r"Variant 'S-B/0' has a zero patch p.*'S-B/16'"),
    Bad("info: zero tubelet", ["vitok-info", "S-B/0x8"], r"Variant 'S-B/0x8' has a zero tubelet q.*'S-B/4x8'"),
    Bad("dit-info: unknown size", ["vitok-dit-info", "DiT-Q"], r"vitok-dit-info: Unknown DiT size 'Q'; pick one of .*'XL'"),
    Bad("dit-info: zero channels", ["vitok-dit-info", "DiT-L", "--channels", "0"], re.escape("vitok-dit-info: channels must be a positive integer, got 0")),
    Bad("dit-info: an empty grid", ["vitok-dit-info", "DiT-L", "--grid", "0x0x0"], re.escape("--grid needs T', H', W' of at least 1, got '0x0x0'")),
    Bad("dit-info: grid not TxHxW", ["vitok-dit-info", "DiT-L", "--grid", "1x16"], r"--grid takes T'xH'xW', e\.g\. 1x16x16, got '1x16'"),
    Bad("config: negative channels", lambda tmp: __import__("vitok").ViTokConfig.from_name("S-B/16", channels=-1),
        re.escape("channels must be a positive integer, got -1"), error=ValueError),
    Bad("train: zero batch", ["vitok-train", "--preset", "smoke", "--batch", "0", "--out", "{tmp}/run"],
        re.escape("vitok-train: batch must be a positive integer, got 0")),
    Bad("train: zero steps", ["vitok-train", "--preset", "smoke", "--steps", "0", "--out", "{tmp}/run"],
        re.escape("vitok-train: steps must be a positive integer, got 0")),
    Bad("bench: zero batch", ["vitok-bench", "--variant", "U-U/8", "--resolution", "32", "--batch", "0"],
        re.escape("vitok-bench: batch must be a positive integer, got 0")),
    Bad("train: --out under a file", ["vitok-train", "--preset", "smoke", "--out", "{tmp}/a_file/run"],
        r"vitok-train: cannot write the run folder \(--out\) \S*a_file/run .*Nothing was run",
        setup=lambda tmp: (tmp / "a_file").write_text("not a folder")),
    Bad("figures: zero threads", ["vitok-figures", "--preset", "smoke", "--only", "tab1", "--threads", "0", "--out", "{tmp}/out"],
        re.escape("vitok-figures: threads must be a positive integer, got 0")),
    Bad("figures: unknown preset (checked before any kernel starts)",
        ["vitok-figures", "--preset", "smok", "--only", "tab1", "--out", "{tmp}/out"],
        re.escape("vitok-figures: --preset 'smok': no such preset; choose one of smoke, tiny, paper")),
    Bad("info: a resolution too large to count", ["vitok-info", "S-B/16", "--resolution", "1048576"],
        r"vitok-info: S-B/16 at 1x1048576x1048576 has L = 4,294,967,296 tokens, too many to count .*smaller --resolution"),
    Bad("figures: --out under a file", ["vitok-figures", "--preset", "smoke", "--only", "tab1", "--out", "{tmp}/a_file/out"],
        r"vitok-figures: cannot write the output folder \(--out\) \S*a_file/out .*Nothing was run",
        setup=lambda tmp: (tmp / "a_file").write_text("not a folder")),
    Bad("train: other variant into an occupied run folder", ["vitok-train", "--preset", "smoke", "--out", "{tmp}/run"],
        r"vitok-train: \S*run holds a run with other settings \(.*variant: 'T-T/8' -> 'U-U/8'.*another --out, or --overwrite",
        setup=lambda tmp: run_config(tmp / "run", variant="T-T/8")),
    Bad("train: broken config.json in the run folder", ["vitok-train", "--preset", "smoke", "--out", "{tmp}/run"],
        r"vitok-train: \S*run/config.json is not a readable training config.json .*--overwrite",
        setup=lambda tmp: run_config(tmp / "run").write_text('{"variant": "T-T')),    # a vitok run folder, config cut short
    # --- weights, checkpoints, corrupt files, model input ------------------------------------------
    Bad("eval: truncated model.safetensors", [*EVAL, "--metrics", "psnr"],
        r"tok/model\.safetensors is not a readable safetensors file.*copy it again, or write it again with ViTok\.save_pretrained",
        setup=lambda tmp: truncate(tokenizer(tmp) / "model.safetensors")),
    Bad("eval: broken config.json", [*EVAL, "--metrics", "psnr"],
        r"tok/config\.json is not a readable ViTok config \(JSON\) \(JSONDecodeError.*write it again with ViTok\.save_pretrained",
        setup=lambda tmp: (tokenizer(tmp) / "config.json").write_text('{"name": "U-U/8", "channels": ')),
    Bad("eval: VGG16 file with the wrong hash", [*EVAL, "--metrics", "lpips"],
        r"w/vgg16-397923af\.pth is not torchvision's VGG16 .*its SHA-256 is [0-9a-f]{64}, but the hash in its name says "
        r"it must start with 397923af.*get the right file from: https://download\.pytorch\.org/models/vgg16-397923af\.pth",
        setup=lambda tmp: (tokenizer(tmp), garbage(tmp / "w" / "vgg16-397923af.pth")), env=OFFLINE),
    Bad("eval: Inception file with the wrong hash", [*EVAL, "--metrics", "rfid"],
        r"w/weights-inception-2015-12-05-6726825d\.pth is not torch-fidelity's InceptionV3 .*its SHA-256 is [0-9a-f]{64}, "
        r"but the hash in its name says it must start with 6726825d.*get the right file from: https://github\.com/toshas/torch-fidelity/releases/\S+6726825d\.pth",
        setup=lambda tmp: (tokenizer(tmp), garbage(tmp / "w" / "weights-inception-2015-12-05-6726825d.pth")), env=OFFLINE),
    Bad("eval: I3D file other than the pinned one", [*EVAL, "--data", "builtin-videos", "--metrics", "rfvd"],
        r"w/i3d_torchscript\.pt is not StyleGAN-V's TorchScript I3D.*but \$VITOK_I3D_SHA256 says it must start with 0{64}.*dropbox\.com",
        setup=lambda tmp: (tokenizer(tmp), garbage(tmp / "w" / "i3d_torchscript.pt")), env={**OFFLINE, "VITOK_I3D_SHA256": "0" * 64}),
    Bad("stats: truncated cached statistics", lambda tmp: load("stats", tmp),
        r"rfid-0123abcd\.npz is not a readable feature statistics file \(\.npz\).*delete it; it is recomputed on the next evaluation",
        setup=lambda tmp: truncate(stats_npz(tmp)), error=ValueError),
    Bad("checkpoint: truncated safetensors", lambda tmp: load("ckpt", tmp),
        r"checkpoint \S*step_0000005 is unusable: model\.safetensors truncated.*delete that checkpoint folder",
        setup=lambda tmp: truncate(checkpoint(tmp) / "model.safetensors"), error=ValueError),
    Bad("checkpoint: broken state.json", lambda tmp: load("ckpt", tmp),
        r"checkpoint \S*step_0000005 is unusable: state\.json unreadable \(JSONDecodeError\).*delete that checkpoint folder",
        setup=lambda tmp: (checkpoint(tmp) / "state.json").write_text('{"step": 5, '), error=ValueError),
    Bad("model: uint8 pixels", lambda tmp: micro().encode(pixels("uint8")),
        re.escape("got a torch.uint8 tensor; for uint8 or 0..255 images pass x.float() / 127.5 - 1"), error=ValueError),
    Bad("model: 0..255 float pixels", lambda tmp: micro()(pixels("0..255")),
        r"takes float pixels in \[-1, 1\], but the input holds values in \[[0-9.e-]+, 2\d\d(\.\d+)?\]; "
        + re.escape("for uint8 or 0..255 images pass x.float() / 127.5 - 1"), error=ValueError),
    Bad("model: NaN pixels", lambda tmp: micro().encode(pixels("nan")), r"the input holds NaN or inf", error=ValueError),
    Bad("model: integer latents", lambda tmp: micro().decode(pixels("uint8")[:, 0, :16, :4].long()),
        r"z must be a float tensor \(B, L, c\) of latents, got torch\.int64", error=ValueError),
    # --- data and evaluation ----------------------------------------------------------------------
    Bad("eval: --out cannot be written (checked before the checkpoint is read)",
        ["vitok-eval", "--ckpt", "{tmp}/nothing", "--out", "{tmp}/afile/eval.json"],
        r"cannot write the report \(--out\) \S*afile/eval\.json .*Nothing was run",
        setup=lambda tmp: (tmp / "afile").write_text("a file where a folder should be")),
    Bad("eval: data folder that does not exist", [*EVAL, "--metrics", "psnr", "--data", "{tmp}/nope"],
        r"Data spec '\S*/nope': no such folder or file", setup=tokenizer),
    Bad("eval: shard pattern whose shards are missing", [*EVAL, "--metrics", "psnr", "--data", "{tmp}/s-{{000000..000003}}.tar"],
        r"4 of 4 shards are missing, e\.g\. \S*/s-000000\.tar", setup=tokenizer),
    Bad("train: data folder that does not exist", ["vitok-train", "--preset", "smoke", "--data", "{tmp}/nope", "--out", "{tmp}/r"],
        r"Data spec '\S*/nope': no such folder or file"),
    Bad("train: shard index that does not exist",
        ["vitok-train", "--preset", "smoke", "--data", "{tmp}/sh/train-index.json", "--out", "{tmp}/r"],
        r"Shard index \S*sh/train-index\.json does not exist: write shards with data_scripts/make_shards\.py"),
    Bad("train: shard index naming a missing shard",
        ["vitok-train", "--preset", "smoke", "--data", "{tmp}/sh/train-index.json", "--out", "{tmp}/r"],
        r"1 of 1 shards are missing, e\.g\. \S*sh/train-000000\.tar",
        setup=lambda tmp: (tmp / "sh").mkdir() or (tmp / "sh" / "train-index.json").write_text(
            '{"format": "vitok-shards/1", "shards": {"train-000000.tar": {"samples": 4, "skipped": []}}, "total": 4}')),
    Bad("train: remote shards (no random access)",
        ["vitok-train", "--preset", "smoke", "--data", "https://example.com/train-{{000000..000001}}.tar", "--out", "{tmp}/r"],
        r"needs local shards: https://example\.com/train-000000\.tar is remote\. Copy the shards to a local or mounted disk"),
    # --- DiT training and sampling -------------------------------------------------------------------
    Bad("train-dit: no --latents", ["vitok-train-dit", "--preset", "smoke", "--out", "{tmp}/r"],
        re.escape("vitok-train-dit: --latents is required: the latent cache folder to train on")),
    Bad("train-dit: latent cache that does not exist", ["vitok-train-dit", "--preset", "smoke", "--latents", "{tmp}/nope", "--out", "{tmp}/r"],
        r"vitok-train-dit: No latent cache at \S*nope \(--latents\)"),
    Bad("train-dit: other DiT size into an occupied run folder",
        ["vitok-train-dit", "--preset", "smoke", "--latents", "{tmp}/lat", "--size", "DiT-T", "--out", "{tmp}/dit"],
        r"vitok-train-dit: \S*dit holds a run with other settings \(size: 'DiT-U' -> 'DiT-T'\).*another --out, or --overwrite",
        setup=dit_run),
    Bad("eval: a DiT run given as the tokenizer", [*EVAL[:2], "{tmp}/dit", *EVAL[3:], "--metrics", "psnr"],
        re.escape("is a DiT run (vitok-train-dit), not a tokenizer run: give the tokenizer's folder"), setup=dit_run),
    Bad("train: --stage 2 --init a DiT run", ["vitok-train", "--preset", "smoke", "--stage", "2", "--init", "{tmp}/dit",
                                               "--out", "{tmp}/s2"],
        re.escape("is a DiT run (vitok-train-dit), not a tokenizer run"), setup=dit_run),
    Bad("eval: --out over the model's own config.json (checked before any work)",
        [*EVAL[:-1], "{tmp}/tok/config.json", "--metrics", "psnr"],
        r"--out \S*tok/config.json lies inside the ckpt \S*tok, which this command reads: writing there would replace its own input",
        setup=tokenizer),
    Bad("eval: --limit below 1", [*EVAL, "--metrics", "psnr", "--limit", "-1"], re.escape("--limit must be a positive integer, got -1"),
        setup=tokenizer),
    Bad("sample: a tokenizer run given as the DiT", ["vitok-sample", "--run", "{tmp}/tok", "--out", "{tmp}/g.png"],
        re.escape("is a tokenizer run (vitok-train), not a DiT run: give the DiT's run folder"), setup=tokenizer),
    Bad("train: someone else's config.json in --out", ["vitok-train", "--preset", "smoke", "--out", "{tmp}/app"],
        r"app holds files vitok did not write \(config.json, index.html; its config.json is not a run's settings\)",
        setup=lambda tmp: foreign_folder(tmp / "app")),
    Bad("train: --overwrite in a folder vitok did not make", ["vitok-train", "--preset", "smoke", "--out", "{tmp}/app", "--overwrite"],
        r"--overwrite deletes only runs vitok made", setup=lambda tmp: foreign_folder(tmp / "app")),
    Bad("train: --stage 2 --init R --out R --overwrite", ["vitok-train", "--preset", "smoke", "--stage", "2", "--init", "{tmp}/tok",
                                                         "--out", "{tmp}/tok", "--overwrite"],
        r"--out \S*tok is the init \S*tok, which this command reads", setup=tokenizer),
    Bad("eval: numbers out of range (checked before the model is read)", [*EVAL, "--metrics", "psnr", "--resolution", "-1"],
        re.escape("resolution must be a positive integer, got -1")),
    Bad("eval: negative --fps", [*EVAL, "--metrics", "psnr", "--fps", "-2"], re.escape("fps must be a number > 0, got -2.0")),
    Bad("sample: negative --seed", ["vitok-sample", "--run", "{tmp}/nope", "--seed", "-1", "--out", "{tmp}/g.png"],
        re.escape("seed must be an integer >= 0, got -1")),
    Bad("sample: class out of range", ["vitok-sample", "--run", "{tmp}/dit", "--classes", "0,3", "--out", "{tmp}/g.png"],
        r"class 3 is out of range: \S*dit/final knows classes 0\.\.2", setup=dit_run),
    Bad("sample: no DiT in the run folder", ["vitok-sample", "--run", "{tmp}/nope", "--out", "{tmp}/g.png"],
        r"No DiT at \S*nope: expected a run folder with final/ \(dit\.safetensors \+ config\.json\)"),
    Bad("sample: --out under a file", ["vitok-sample", "--run", "{tmp}/nope", "--out", "{tmp}/a_file/g.png"],
        r"cannot write the grid \(--out\) \S*a_file/g\.png .*Nothing was run",
        setup=lambda tmp: (tmp / "a_file").write_text("not a folder")),
    Bad("sample: truncated dit.safetensors", ["vitok-sample", "--run", "{tmp}/dit", "--out", "{tmp}/g.png"],
        r"dit/final/dit\.safetensors is not a readable safetensors file of DiT-U weights.*train again with vitok-train-dit",
        setup=lambda tmp: truncate(dit_run(tmp) / "final" / "dit.safetensors")),
    Bad("sample: the tokenizer's weights changed since the latents were made",
        ["vitok-sample", "--run", "{tmp}/dit", "--steps", "2", "--out", "{tmp}/g.png"],
        r"tokenizer \S*tok \(SHA-256 [0-9a-f]{12}\) is not the one that made the DiT's latents.*its weights changed: pass --tokenizer",
        setup=lambda tmp: (dit_run(tmp), __import__("torch").manual_seed(1), tokenizer(tmp))),   # new weights in place
]


# ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case: Bad, tmp_path):
    if case.setup:
        case.setup(tmp_path)
    if callable(case.run):
        with pytest.raises(case.error) as e:
            case.run(tmp_path)
        assert re.search(case.expect, str(e.value), re.S), f"message was: {e.value}"
        return
    argv = [a.format(tmp=tmp_path) for a in case.run]
    env = {**os.environ, **{k: v.format(tmp=tmp_path) for k, v in (case.env or {}).items()}}
    p = subprocess.run([str(BIN / argv[0]), *argv[1:]], capture_output=True, text=True, timeout=300, cwd=tmp_path, env=env)
    assert p.returncode != 0, f"exit 0 for bad input; stdout: {p.stdout[-2000:]}"
    assert re.search(case.expect, p.stderr, re.S), f"stderr was: {p.stderr[-3000:]}"
    assert "Traceback" not in p.stderr, f"a traceback instead of one clear line:\n{p.stderr[-3000:]}"
