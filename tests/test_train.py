"""Trainer integration: exact resume after a real kill, torn checkpoints on disk, torchrun DDP, the CLI.

The unit proofs (EMA update, GAN step, non-finite skip, in-process resume, stage-2 resume) live in
nbs/24_stage2 and nbs/25_train."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from vitok import ViTok
from vitok.checkpoint import check_checkpoint, latest_checkpoint, load_checkpoint
from vitok.presets.train import train_preset
from vitok.train import Trainer
from helpers import logs

PY = sys.executable
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


def cfg(out, **kw):
    base = dict(out=str(out), steps=6, eval_every=3, ckpt_every=1, log_every=1, eval_images=4, num_workers=0)
    return train_preset("smoke", **{**base, **kw})


def params(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


@pytest.fixture(scope="module")
def straight(tmp_path_factory):
    "Six steps in one go: the reference for the resume tests."
    out = tmp_path_factory.mktemp("straight")
    torch.set_num_threads(1)
    return out, params(Trainer(cfg(out)).fit().model)


def test_sigkill_then_resume_is_exact(straight, tmp_path):
    "A real kill (SIGKILL) part-way through, then a resume: the same parameters as six steps in one go."
    _, ref = straight
    args = [PY, "-m", "vitok.train", "--preset", "smoke", "--out", str(tmp_path), "--steps", "6", "--eval-every", "3",
            "--ckpt-every", "1", "--log-every", "1", "--eval-images", "4", "--num-workers", "0"]
    p = subprocess.Popen(args, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and not (tmp_path / "ckpt" / "step_0000002").exists():
        time.sleep(0.05)
    p.send_signal(signal.SIGKILL); p.wait()
    killed_at = latest_checkpoint(tmp_path / "ckpt")
    assert killed_at is not None and int(killed_at.name[5:]) < 6, "the run finished before it could be killed"
    torch.set_num_threads(1)
    got = params(Trainer(cfg(tmp_path)).fit().model)
    assert all(torch.equal(got[k], ref[k]) for k in ref)
    steps = [r["step"] for r in logs(tmp_path) if "total" in r]
    assert steps == list(range(1, 7)), steps          # a kill between log and checkpoint leaves no step twice


def test_kill_while_writing_checkpoint_keeps_previous(tmp_path):
    "SIGKILL in the middle of writing a checkpoint: the previous one stays complete and is used."
    script = f"""
import os, signal, torch
import vitok.checkpoint as T
ck = {str(tmp_path / 'ckpt')!r}
T.save_checkpoint(ck, 1, {{"model": {{"w": torch.ones(1000)}}, "optim": {{"m": torch.ones(10)}}}}, {{}})
real = T.save_file
def dying(tensors, path):
    real(tensors, path)
    with open(path, "r+b") as f: f.truncate(100)        # half-written file on disk ...
    os.kill(os.getpid(), signal.SIGKILL)                 # ... and the process dies
T.save_file = dying
T.save_checkpoint(ck, 2, {{"model": {{"w": torch.zeros(1000)}}, "optim": {{"m": torch.zeros(10)}}}}, {{}})
"""
    p = subprocess.run([PY, "-c", script], env=ENV, capture_output=True)
    assert p.returncode == -signal.SIGKILL
    left = sorted(x.name for x in (tmp_path / "ckpt").iterdir())
    assert "step_0000001" in left and "step_0000002" not in left and any(n.startswith(".step_0000002") for n in left)
    ck = latest_checkpoint(tmp_path / "ckpt")
    assert ck.name == "step_0000001" and check_checkpoint(ck) is None
    assert torch.equal(load_checkpoint(ck)[0]["model"]["w"], torch.ones(1000))


def test_truncated_newest_checkpoint_falls_back(straight, tmp_path):
    Trainer(cfg(tmp_path, stop_after=4)).fit()
    newest = tmp_path / "ckpt" / "step_0000004"
    with open(newest / "model.safetensors", "r+b") as f:
        f.truncate(64)
    with pytest.warns(UserWarning, match="truncated"):
        tr = Trainer(cfg(tmp_path))
    assert tr.step == 3
    _, ref = straight
    got = params(tr.fit().model)
    assert all(torch.equal(got[k], ref[k]) for k in ref)


def test_torchrun_two_ranks_match_one_process(tmp_path):
    "2 gloo ranks x batch 2 == 1 process x batch 4, within 1e-5 relative, after 4 steps."
    common = ["--preset", "smoke", "--steps", "4", "--eval-every", "4", "--eval-images", "4", "--num-workers", "0",
              "--batch", "4"]
    one = subprocess.run([PY, "-m", "vitok.train", *common, "--out", str(tmp_path / "one")], env=ENV,
                         capture_output=True, text=True, timeout=300)
    assert one.returncode == 0, one.stderr[-3000:]
    two = subprocess.run([PY, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m", "vitok.train",
                          *common, "--out", str(tmp_path / "two")], env=ENV, capture_output=True, text=True, timeout=300)
    assert two.returncode == 0, two.stderr[-3000:]
    a = ViTok.from_pretrained(tmp_path / "one" / "final").state_dict()
    b = ViTok.from_pretrained(tmp_path / "two" / "final").state_dict()
    worst = max(((a[k] - b[k]).norm() / a[k].norm().clamp_min(1e-12)).item() for k in a)
    assert worst < 1e-5, worst
    la, lb = logs(tmp_path / "one"), logs(tmp_path / "two")
    assert [r["step"] for r in la] == [r["step"] for r in lb]


def test_torchrun_stage2_two_ranks(tmp_path):
    "Stage 2 under 2 gloo ranks: DDP decoder, discriminator synced by hand (R1's double backward included)."
    s1 = tmp_path / "s1"
    Trainer(cfg(s1, steps=2, eval_every=2)).fit()
    two = subprocess.run([PY, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m", "vitok.train",
                          "--preset", "smoke", "--stage", "2", "--init", str(s1), "--steps", "3", "--eval-every", "3",
                          "--eval-images", "4", "--r1-every", "2", "--out", str(tmp_path / "s2")],
                         env=ENV, capture_output=True, text=True, timeout=300)
    assert two.returncode == 0, two.stderr[-3000:]
    steps = [r for r in logs(tmp_path / "s2") if "disc" in r]
    assert [r["step"] for r in steps] == [1, 2, 3] and all(r["r1"] > 0 for r in steps)
    assert steps[1]["r1"] == steps[0]["r1"] != steps[2]["r1"]          # lazy R1: computed on steps 0 and 2
    enc0 = ViTok.from_pretrained(s1 / "final").encoder.state_dict()
    enc1 = ViTok.from_pretrained(tmp_path / "s2" / "final").encoder.state_dict()
    assert all(torch.equal(enc0[k], enc1[k]) for k in enc0), "stage 2 changed the encoder"


def test_cli_errors(tmp_path):
    p = subprocess.run([PY, "-m", "vitok.train", "--preset", "smoke", "--variant", "Q-Q/8", "--out", str(tmp_path)],
                       env=ENV, capture_output=True, text=True)
    assert p.returncode != 0 and "Unknown variant 'Q-Q/8'" in p.stderr and "S-B/16" in p.stderr
    p = subprocess.run([PY, "-m", "vitok.train", "--preset", "huge"], env=ENV, capture_output=True, text=True)
    assert p.returncode != 0 and "Unknown preset 'huge'" in p.stderr
    p = subprocess.run([PY, "-m", "vitok.train", "--preset", "smoke", "--stage", "2", "--out", str(tmp_path)],
                       env=ENV, capture_output=True, text=True)
    assert p.returncode != 0 and "--init" in p.stderr


def test_lpips_without_weights_gets_policy_error(tmp_path):
    env = {**ENV, "TORCH_HOME": str(tmp_path / "th"), "VITOK_WEIGHTS": str(tmp_path / "w")}
    p = subprocess.run([PY, "-m", "vitok.train", "--preset", "smoke", "--lpips-weight", "1", "--out", str(tmp_path / "r")],
                       env=env, capture_output=True, text=True, timeout=120)
    assert p.returncode != 0 and "vgg16" in p.stderr.lower(), p.stderr[-2000:]
    assert not (tmp_path / "r" / "log.jsonl").exists(), "training started without LPIPS weights"


@pytest.mark.slow
def test_tiny_preset_improves_psnr_by_6db(tmp_path):
    p = subprocess.run([PY, "-m", "vitok.train", "--preset", "tiny", "--data", "builtin", "--out", str(tmp_path)],
                       env={**os.environ}, capture_output=True, text=True, timeout=900)
    assert p.returncode == 0, p.stderr[-3000:]
    evals = [r for r in logs(tmp_path) if "val_psnr" in r]
    assert evals[0]["step"] == 0 and evals[-1]["val_psnr"] - evals[0]["val_psnr"] >= 6.0, evals


def test_appendix_variants_train_and_stage2_can_train_the_encoder(tmp_path):
    "Latent / Mask ViTok train from the CLI settings and keep them through stage 2; train_encoder unfreezes the encoder."
    torch.set_num_threads(1)
    s1 = Trainer(cfg(tmp_path / "s1", steps=3, latent_tokens=4, mask=True, mask_min=1)).fit()
    m1 = ViTok.from_pretrained(tmp_path / "s1" / "final")
    assert m1.cfg.kind == "mask latent" and m1.cfg.keep_choices() == [1, 2, 4] and s1.model.cfg == m1.cfg
    enc = {k: v for k, v in params(m1).items() if k.startswith("encoder.")}
    for name, train_encoder in (("frozen", False), ("full", True)):
        t = Trainer(train_preset("smoke-stage2", out=str(tmp_path / name), init=str(tmp_path / "s1"), steps=2, eval_every=2,
                                 eval_images=4, num_workers=0, train_encoder=train_encoder)).fit()
        assert (t.cfg.latent_tokens, t.cfg.mask, t.cfg.mask_min) == (4, True, 1)        # stage 2 records the model it fine-tunes
        after = params(ViTok.from_pretrained(tmp_path / name / "final"))
        moved = [k for k in enc if not torch.equal(enc[k], after[k])]
        assert bool(moved) == train_encoder, (name, moved[:3])
    Trainer(train_preset("smoke-stage2", out=str(tmp_path / "frozen"), init=str(tmp_path / "s1"), steps=2, eval_every=2,
                         eval_images=4, num_workers=0)).fit()     # the same run again: not refused for --init's model fields


def test_mask_start_trains_on_all_tokens_first(tmp_path):
    "Mask ViTok with mask_start=n: the decoder gets all l tokens in the first n steps, then a random first k of them."
    torch.set_num_threads(1)
    t = Trainer(cfg(tmp_path / "m", steps=30, eval_every=30, ckpt_every=0, latent_tokens=8, mask=True, mask_min=1,
                    mask_start=10))
    seen = []
    t.model.decoder.register_forward_pre_hook(lambda mod, args: seen.append(args[0].shape[1]) if mod.training else None)
    t.fit()
    assert seen[:10] == [8] * 10                                        # the warm-up steps keep every token
    assert set(seen[10:]) <= {1, 2, 4, 8} and len(set(seen[10:])) > 1  # then the masking draws k
    with pytest.raises(ValueError, match="mask_start must be an integer >= 0"):
        train_preset("smoke", mask_start=-1)
