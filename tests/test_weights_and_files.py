"""Weights files are checked against their hash before anything reads them, and read without pickle;
damaged files this package reads are named, with what to do. (The one-line messages of each bad input
are rows of tests/test_bad_input.py; this file checks the mechanisms behind them.)

No pretrained file is on the test machines: each test writes a small file of its own under the expected
name, and either names it after its real SHA-256 or trusts it (`doubles.trust`) for the test."""
import dataclasses
import os

import pytest
import torch

from doubles import offline, save_random_inception, save_random_vgg16, trust
from vitok.checkpoint import load_checkpoint, save_checkpoint
from vitok.metrics import (WEIGHTS, FeatureStats, InceptionV3, WeightsMismatch, WeightsMissing, load_lpips,
                           measurable, weights_path)
from vitok.utils import CorruptFile, file_sha256


@pytest.fixture
def no_weights(tmp_path):
    with offline(tmp_path):
        (tmp_path / "weights").mkdir()
        yield tmp_path / "weights"


class Payload:
    "Pickles to a call that creates `marker`: what a malicious weights file would run on load."
    def __init__(self, marker): self.marker = str(marker)
    def __reduce__(self): return (exec, (f"open({self.marker!r}, 'w').close()",))


def record_torch_load(monkeypatch) -> list:
    "Patch torch.load to record each call's weights_only (None: not given, the default) and go on."
    calls, real = [], torch.load
    def load(*a, **k):
        calls.append(k.get("weights_only"))
        return real(*a, **k)
    monkeypatch.setattr(torch, "load", load)
    return calls


# ---------------------------------------------------------------- the hash in the name

def test_file_whose_sha256_starts_with_the_hash_in_its_name_is_accepted(no_weights, monkeypatch):
    blob = no_weights / "blob"
    torch.save({"w": torch.arange(3.0)}, blob)
    sha = file_sha256(blob)
    named = blob.rename(no_weights / f"vgg16-{sha[:8]}.pth")
    monkeypatch.setitem(WEIGHTS, "vgg16", dataclasses.replace(WEIGHTS["vgg16"], file=named.name, hash_prefix=sha[:8]))
    assert weights_path("vgg16") == named


def test_wrong_file_under_the_expected_name_is_refused_before_it_is_read(no_weights, monkeypatch):
    marker = no_weights.parent / "ran"
    for key in ("inception", "vgg16"):
        f = no_weights / WEIGHTS[key].file
        torch.save({"x": Payload(marker)}, f)
        calls = record_torch_load(monkeypatch)
        with pytest.raises(WeightsMismatch) as e:
            InceptionV3() if key == "inception" else load_lpips()
        msg = str(e.value)
        assert str(f) in msg and WEIGHTS[key].hash_prefix in msg and file_sha256(f) in msg and WEIGHTS[key].url in msg
        assert calls == [] and not marker.exists()
        monkeypatch.undo()


def test_a_mismatch_is_reported_missing_never_a_number(no_weights):
    (no_weights / WEIGHTS["inception"].file).write_bytes(b"not the inception file")
    ok, missing = measurable(["psnr", "rfid"], download=False)
    assert ok == ["psnr"] and "SHA-256" in missing["rfid"]
    assert issubclass(WeightsMismatch, WeightsMissing)


def test_i3d_pin(no_weights, monkeypatch):
    f = no_weights / WEIGHTS["i3d"].file
    f.write_bytes(b"some TorchScript archive")
    assert weights_path("i3d") == f                       # no hash published: accepted, its SHA-256 is reported
    monkeypatch.setenv("VITOK_I3D_SHA256", file_sha256(f))
    assert weights_path("i3d") == f
    monkeypatch.setenv("VITOK_I3D_SHA256", "ab" * 32)
    with pytest.raises(WeightsMismatch, match=r"\$VITOK_I3D_SHA256.*abab"):
        weights_path("i3d")


# ---------------------------------------------------------------- loading without pickle

def test_inception_is_built_without_pickle(no_weights, monkeypatch):
    double = save_random_inception(no_weights / WEIGHTS["inception"].file)
    calls = record_torch_load(monkeypatch)
    with trust("inception", double):
        inc = InceptionV3()
    assert calls == [True], f"torch.load calls' weights_only: {calls}"
    assert torch.equal(inc.net.fc.weight, torch.load(double, weights_only=True)["fc.weight"])    # the file's weights


def test_a_pickle_payload_never_runs_even_when_its_hash_is_trusted(no_weights):
    marker = no_weights.parent / "ran"
    for key in ("inception", "vgg16"):
        f = no_weights / WEIGHTS[key].file
        torch.save({"x": Payload(marker)}, f)
        with trust(key, f), pytest.raises(CorruptFile, match=WEIGHTS[key].url):
            InceptionV3() if key == "inception" else load_lpips()
        assert not marker.exists(), f"the {key} file's pickle ran"


def test_lpips_loads_both_of_its_files_without_pickle(no_weights, monkeypatch):
    vgg = save_random_vgg16(no_weights / WEIGHTS["vgg16"].file)
    calls = record_torch_load(monkeypatch)
    with trust("vgg16", vgg):
        load_lpips()
    assert calls == [True, True], f"torch.load calls' weights_only: {calls}"   # the VGG16 trunk, lpips' linear layers


# ---------------------------------------------------------------- damaged files are named

def test_truncated_statistics_file(tmp_path):
    f = FeatureStats().update(torch.randn(5, 4)).save(tmp_path / "rfid-abc.npz")
    f.write_bytes(f.read_bytes()[:200])
    with pytest.raises(CorruptFile, match=r"rfid-abc\.npz.*delete it; it is recomputed"):
        FeatureStats.load(f)


def test_named_checkpoint_with_a_damaged_file(tmp_path):
    ck = save_checkpoint(tmp_path, 3, {"model": {"w": torch.ones(100)}}, {})
    (ck / "model.safetensors").write_bytes((ck / "model.safetensors").read_bytes()[:50])
    with pytest.raises(CorruptFile, match=r"step_0000003.*model\.safetensors truncated.*delete that checkpoint"):
        load_checkpoint(ck)
    (ck / "state.json").write_text('{"step": ')
    with pytest.raises(CorruptFile, match=r"step_0000003.*state\.json unreadable"):
        load_checkpoint(ck)


def test_weights_get_the_same_mode_as_the_json_beside_them(tmp_path):
    """Fails on the old main: every .safetensors vitok wrote was 0600 (safetensors' own writer) beside 0644 JSON,
    so a colleague sharing a run folder could read the config but not the model."""
    import os, stat
    import torch
    from vitok import ViTok, ViTokConfig
    from vitok.checkpoint import save_checkpoint
    old = os.umask(0o022)
    try:
        ViTok(ViTokConfig.from_name("U-U/8", channels=4, resolution=32)).save_pretrained(tmp_path / "tok")
        ck = save_checkpoint(tmp_path / "ckpt", 1, {"model": {"w": torch.zeros(3)}}, {"note": "x"})
        files = [tmp_path / "tok" / "model.safetensors", tmp_path / "tok" / "config.json", ck / "model.safetensors", ck / "state.json"]
        assert {f.name: stat.S_IMODE(f.stat().st_mode) for f in files} == {f.name: 0o644 for f in files}
    finally:
        os.umask(old)
