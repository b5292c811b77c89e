"""The generation metrics from outside the notebooks: the reference classifier's cache (reused, and retrained
with a warning when damaged), the streaming evaluator (chunks equal one batch), gFID / gIS missing without weights,
and the reference classifier's names importable from `vitok.gen_metrics` as well as from `vitok.refnet`."""
import numpy as np
import pytest
import torch

import vitok.gen_metrics as gm
import vitok.refnet as rn
from vitok.digits import digit_tensors
from vitok.metrics import WeightsMissing
from vitok.transforms import to_uint8

SMALL = dict(width=4, epochs=1)          # about a second on one thread: the cache logic, not the accuracy


@pytest.fixture(scope="module")
def small_net(tmp_path_factory):
    return gm.reference_classifier("cpu", folder=tmp_path_factory.mktemp("refnet"), **SMALL)


def test_reference_classifier_is_importable_from_gen_metrics():
    "vitok.refnet was split out of vitok.gen_metrics: every name of it is still there, the same object, in __all__."
    assert rn.__all__ and set(rn.__all__) <= set(gm.__all__)
    for name in rn.__all__: assert getattr(gm, name) is getattr(rn, name), name
    from vitok.gen_metrics import GenEvaluator, ref_fid_floor, reference_classifier      # the figure notebooks' imports
    assert reference_classifier is rn.reference_classifier and GenEvaluator.__module__ == "vitok.gen_metrics"


def same_weights(a, b):
    return all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values()))


def test_cache_is_reused_without_training(tmp_path, monkeypatch):
    monkeypatch.setenv("VITOK_CACHE", str(tmp_path))
    first = gm.reference_classifier("cpu", **SMALL)
    assert first.info["source"] == "trained" and first.info["path"].startswith(str(tmp_path / "refnet"))
    monkeypatch.setattr(rn, "train_refnet", lambda **kw: pytest.fail("trained again although the cache holds it"))
    again = gm.reference_classifier("cpu", **SMALL)
    assert again.info["source"] == "cache" and same_weights(first, again)
    assert again.info["val_accuracy"] == first.info["val_accuracy"]
    with pytest.raises(TypeError, match="unknown reference-classifier settings"):
        gm.reference_classifier("cpu", widht=4)


@pytest.mark.parametrize("damage", ["flip", "truncate"])
def test_damaged_cache_is_retrained_with_a_warning(tmp_path, damage):
    first = gm.reference_classifier("cpu", folder=tmp_path, **SMALL)
    p = tmp_path / f"refnet-{first.info['key']}.safetensors"
    raw = bytearray(p.read_bytes())
    if damage == "flip": raw[-3] ^= 0x40                     # inside the last weight: only the tensor hash sees it
    else: raw = raw[:200]
    p.write_bytes(bytes(raw))
    with pytest.warns(UserWarning, match="training the reference classifier again"):
        again = gm.reference_classifier("cpu", folder=tmp_path, **SMALL)
    assert again.info["source"] == "trained" and same_weights(first, again)
    assert gm.reference_classifier("cpu", folder=tmp_path, **SMALL).info["source"] == "cache"


def test_streaming_in_chunks_equals_one_batch(small_net, tmp_path):
    x, y = digit_tensors("val")
    x, y = to_uint8(x[:300]), y[:300]
    metrics = ("ref_fid", "ref_is", "class_accuracy")
    one = gm.GenEvaluator(metrics, "digits-val", refnet=small_net, cache=tmp_path).update(x, y)
    many = gm.GenEvaluator(metrics, "digits-val", refnet=small_net, cache=tmp_path, batch=64)
    assert many.reference["ref_fid"]["source"] == "cache"
    for xb, yb in zip(x.split(37), y.split(37)): many.update(xb, yb.tolist())
    a, b = one.compute(), many.compute()
    assert many.samples == 300 and set(a) == set(b) == {"ref_fid", "ref_is", "ref_is_std", "class_accuracy"}
    assert a["class_accuracy"] == b["class_accuracy"]
    for k in ("ref_fid", "ref_is", "ref_is_std"): assert b[k] == pytest.approx(a[k], rel=1e-6, abs=1e-9), k
    with pytest.raises(ValueError, match="needs the labels"): many.update(x[:4])
    with pytest.raises(TypeError, match="uint8"): many.update(x[:4].float(), y[:4])


def fake_adm(path, n=5, dim=2048):
    rng = np.random.default_rng(0)
    a = rng.normal(size=(dim, 16))
    np.savez(path, arr_0=np.zeros((n, 4, 4, 3), np.uint8), mu=rng.normal(size=dim), sigma=a @ a.T / 16)
    return path


def test_adm_reference_batch_is_read_without_its_images(tmp_path):
    st = gm.adm_reference(fake_adm(tmp_path / "VIRTUAL_fake256.npz", n=7))
    assert st.n == 7 and st.mean().shape == (2048,) and st.cov().shape == (2048, 2048) and st.cov().dtype == np.float64
    with pytest.raises(ValueError, match="holds Inception statistics"):        # not a reference for ref_fid
        gm.GenEvaluator(("ref_fid",), reference=str(tmp_path / "VIRTUAL_fake256.npz"), refnet=gm.RefNet())


def test_gfid_is_missing_with_the_reason_without_weights(tmp_path, monkeypatch):
    empty = tmp_path / "weights"; empty.mkdir()
    for k, v in {"VITOK_WEIGHTS": empty, "VITOK_OFFLINE": "1", "TORCH_HOME": tmp_path / "torch"}.items():
        monkeypatch.setenv(k, str(v))
    ref = str(fake_adm(tmp_path / "VIRTUAL_fake256.npz"))
    ev = gm.GenEvaluator(("gfid", "gis"), reference=ref)
    rep = ev.update(torch.zeros(4, 3, 32, 32, dtype=torch.uint8)).report()
    assert rep["metrics"] == {"gfid": None, "gis": None} and rep["samples"] == 4
    for m in ("gfid", "gis"):
        assert "gFID / gIS needs weights-inception" in rep["missing"][m] and "VITOK_OFFLINE=1" in rep["missing"][m]
    with pytest.raises(WeightsMissing):
        gm.GenEvaluator(("gfid",), reference=ref, missing="raise")
