"""A run folder holds one run: a rerun with other settings stops before anything changes (or starts over with
--overwrite), a resume leaves each step once in log.jsonl, a crash's half-written files are removed on the next
start, and validation reports the unreadable samples it skipped.

The in-process proofs live in nbs/25_train ("One run per folder"); these run the console script where the exit
status and the message matter."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from PIL import Image

from vitok.presets.train import train_preset
from vitok.train import Trainer
from helpers import logs

BIN = Path(sys.executable).parent
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


@pytest.fixture(autouse=True)
def one_thread():
    torch.set_num_threads(1)


def cfg(out, **kw):
    return train_preset("smoke", **{"out": str(out), "num_workers": 0, **kw})


def snapshot(d):
    "Every file under `d` with its modification time and bytes."
    return {str(p.relative_to(d)): (p.stat().st_mtime_ns, p.read_bytes()) for p in sorted(Path(d).rglob("*")) if p.is_file()}


def train_cli(*args):
    return subprocess.run([str(BIN / "vitok-train"), "--preset", "smoke", "--num-workers", "0", *args], env=ENV,
                          capture_output=True, text=True, timeout=300)


def test_other_variant_refused_then_overwrite(tmp_path):
    "Checkpoints gone, another --variant into the same --out: exit non-zero naming the change, nothing touched; --overwrite trains."
    Trainer(cfg(tmp_path)).fit()
    shutil.rmtree(tmp_path / "ckpt")
    before = snapshot(tmp_path)
    p = train_cli("--variant", "U-U/4", "--out", str(tmp_path))
    assert p.returncode != 0 and "Traceback" not in p.stderr, p.stderr[-3000:]
    assert "vitok-train: " in p.stderr and "variant: 'U-U/8' -> 'U-U/4'" in p.stderr and "--overwrite" in p.stderr, p.stderr
    assert snapshot(tmp_path) == before, "the refused run changed the folder"
    with pytest.raises(ValueError, match="no usable checkpoint"):          # same settings, but nothing to resume from
        Trainer(cfg(tmp_path))
    assert snapshot(tmp_path) == before
    p = train_cli("--variant", "U-U/4", "--out", str(tmp_path), "--overwrite")
    assert p.returncode == 0, p.stderr[-3000:]
    assert json.loads((tmp_path / "config.json").read_text())["variant"] == "U-U/4"
    assert json.loads((tmp_path / "final" / "config.json").read_text())["patch"] == 4
    recs = logs(tmp_path)
    assert [r["step"] for r in recs if "val_psnr" in r] == [0, 2, 4]                       # one run's log, not two


def test_folder_with_a_run_but_no_config_is_refused(tmp_path):
    (tmp_path / "log.jsonl").write_text(json.dumps({"step": 1, "total": 0.5}) + "\n")
    before = snapshot(tmp_path)
    with pytest.raises(ValueError, match=r"holds a run \(log.jsonl\) but no config.json.*--overwrite"):
        Trainer(cfg(tmp_path))
    assert snapshot(tmp_path) == before


def test_resume_leaves_each_step_once_in_the_log(tmp_path):
    "The log ran ahead of the last checkpoint (a kill between them): the records after it go, the resumed run writes them once."
    Trainer(cfg(tmp_path, steps=6, eval_every=3, ckpt_every=4, stop_after=5)).fit()     # checkpoints at 4 and 5
    shutil.rmtree(tmp_path / "ckpt" / "step_0000005")                                   # as if killed before writing it
    assert max(r["step"] for r in logs(tmp_path)) == 5
    tr = Trainer(cfg(tmp_path, steps=6, eval_every=3, ckpt_every=4))
    assert tr.step == 4 and max(r["step"] for r in logs(tmp_path)) == 4
    tr.fit()
    recs = logs(tmp_path)
    train_steps = [r["step"] for r in recs if "total" in r]
    assert train_steps == [1, 2, 3, 4, 5, 6], train_steps
    assert [r["step"] for r in recs if "val_psnr" in r] == [0, 3, 6]


def test_partial_files_from_a_crash_are_removed_on_start(tmp_path):
    Trainer(cfg(tmp_path, stop_after=1)).fit()
    partial = [tmp_path / "ckpt" / ".step_0000002.123.tmp", tmp_path / ".log.jsonl.123.tmp",
               tmp_path / "final" / ".model.safetensors.77.tmp"]
    partial[0].mkdir(); (partial[0] / "model.safetensors").write_bytes(b"half")
    partial[1].write_text("{}"); partial[2].parent.mkdir(); partial[2].write_bytes(b"x")
    keep = [tmp_path / "notes.txt", tmp_path / "ckpt" / ".hidden"]
    for k in keep: k.write_text("not the trainer's")
    tr = Trainer(cfg(tmp_path))
    assert tr.step == 1
    assert not any(p.exists() for p in partial) and all(k.exists() for k in keep)


def test_validation_counts_unreadable_samples(tmp_path):
    "An unreadable image among the validation set is skipped and counted in the logged validation."
    from vitok.builtin import builtin_images
    from vitok.transforms import to_uint8
    val = tmp_path / "val"; val.mkdir()
    for i, x in enumerate(builtin_images("val", 32, n=6)):
        Image.fromarray(to_uint8(x).permute(1, 2, 0).numpy()).save(val / f"img{i}.png")
    (val / "img0b.png").write_bytes((val / "img0.png").read_bytes()[:100])               # truncated
    Trainer(cfg(tmp_path / "run", val_data=str(val), steps=2, eval_every=2)).fit()
    vals = [r for r in logs(tmp_path / "run") if "val_psnr" in r]
    assert [r["step"] for r in vals] == [0, 2] and all(r["val_skipped"] == 1 for r in vals), vals


def test_one_run_per_folder_at_a_time_and_a_kill_frees_it(tmp_path):
    """Fails on the old main, where a second vitok-train into a live run's folder "resumed" from the first's
    checkpoint, trimmed its log and both finished with an interleaved log. The second stops at once, naming the
    first; once the first is killed (SIGKILL: no clean-up of its own), the folder is free and the run resumes."""
    import signal, time
    first = subprocess.Popen([str(BIN / "vitok-train"), "--preset", "smoke", "--num-workers", "0", "--steps", "100000",
                              "--eval-every", "2", "--out", str(tmp_path)], env=ENV, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 120
        while not any((tmp_path / "ckpt").glob("step_*")) and time.time() < deadline and first.poll() is None: time.sleep(0.5)
        assert first.poll() is None and any((tmp_path / "ckpt").glob("step_*")), first.stderr.read()[-2000:] if first.poll() else "no checkpoint"
        t0 = time.time()
        p = train_cli("--steps", "100000", "--eval-every", "2", "--out", str(tmp_path))
        assert p.returncode != 0 and "Traceback" not in p.stderr, p.stderr[-2000:]
        assert f"is in use by another run (pid {first.pid}, TrainConfig, since" in p.stderr, p.stderr[-2000:]
        assert time.time() - t0 < 60                                          # at once, not after training
    finally:
        first.send_signal(signal.SIGKILL); first.wait()
    p = train_cli("--steps", "100000", "--eval-every", "2", "--stop-after", "2", "--out", str(tmp_path))
    assert p.returncode == 0, p.stderr[-2000:]
    steps = [r["step"] for r in logs(tmp_path) if "val_psnr" in r]
    assert len(steps) == len(set(steps)), steps                              # one run's log: no step twice


def test_refusals_leave_a_folder_vitok_did_not_make_alone(tmp_path):
    "Fails on the old main, where --overwrite deleted a folder holding someone else's config.json."
    app = tmp_path / "app"; app.mkdir()
    (app / "config.json").write_text('{"name": "my web app"}'); (app / "log.jsonl").write_text("my app's log\n")
    before = snapshot(app)
    for extra in ((), ("--overwrite",)):
        p = train_cli("--out", str(app), *extra)
        assert p.returncode != 0 and "holds files vitok did not write (config.json, log.jsonl" in p.stderr, p.stderr[-2000:]
    assert snapshot(app) == before


def test_stage2_cannot_overwrite_the_run_it_starts_from(tmp_path):
    "Fails on the old main: --stage 2 --init R --out R --overwrite deleted R, then failed with 'No tokenizer'."
    Trainer(cfg(tmp_path / "r")).fit()
    before = snapshot(tmp_path / "r")
    p = train_cli("--stage", "2", "--init", str(tmp_path / "r"), "--out", str(tmp_path / "r"), "--overwrite")
    assert p.returncode != 0 and "is the init" in p.stderr and "would replace its own input" in p.stderr, p.stderr[-2000:]
    assert snapshot(tmp_path / "r") == before
