"""vitok-bench's report: its structure, FLOP counts against vitok.flops, utilisation in (0, 1], the peer's and the
loop's sections, `--bf16 auto` in training, evaluation and sampling (vitok.precision: the bf16 probe, emulated bf16
forced on any machine, the one warning an explicit bf16 gives there), the error messages, and the layout (nothing
below the benchmark imports it). Never a speed threshold: speed targets live in the benchmark's output (see
benchmarks/README.md)."""
import ast
import json
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest
import torch

from vitok import bench_peers, precision
from vitok.bench import benchmark, dit_benchmark, matmul_peak, tokenizer_macs
from vitok.bench_cli import report_text
from vitok.bench_loop import loop_fraction
from vitok.bench_peers import peer_ratio
from vitok.precision import SlowBF16Warning, bf16_pays, bool_or_auto
from vitok.config import ViTokConfig
from vitok.dit import DiTConfig, dit_macs
from vitok.flops import model_stats

BIN = Path(sys.executable).parent
PHASES = ("encode", "decode", "train_step")


def run(*args, check=True):
    p = subprocess.run([str(BIN / args[0]), *args[1:]], capture_output=True, text=True, timeout=300)
    if check:
        assert p.returncode == 0, p.stderr
    return p


@pytest.fixture(scope="module")
def both():
    return benchmark("U-U/8", resolution=32, batch=2, channels=4, device="cpu", warmup=1, repeats=2, dtypes="fp32,bf16",
                     peak_n=256)


def test_report_structure(both):
    assert both["dtypes"] == ["fp32", "bf16"] and both["bf16"] is True          # the flat keys are the last arm's
    assert set(both["arms"]) == {"fp32", "bf16"} and set(both["peak_gflops_per_s"]) == {"fp32", "bf16"}
    for arm in both["arms"].values():
        assert set(arm) == set(PHASES)
        for v in arm.values():
            assert set(v) == {"median_s", "images_per_s", "gflops_per_s", "mfu"}
            assert v["images_per_s"] == pytest.approx(2 / v["median_s"], rel=1e-3)
    for p in PHASES:
        assert both[f"{p}_mfu"] == both["arms"]["bf16"][p]["mfu"]
    assert set(both["bf16_speedup"]) == {"encode", "decode", "train_step", "encode_decode"}
    assert all(v > 0 for v in both["bf16_speedup"].values())
    assert "3 x forward" in both["flop_convention"] and "2 x MACs" in both["flop_convention"]
    text = report_text(both)
    assert "MFU" in text and "bf16 / fp32 speed-up" in text and "matmul peak" in text
    peaks = both["peak_gflops_per_s"]                  # the ceiling is the two peaks of the same run, not a constant
    assert both["bf16_matmul_ratio"] == pytest.approx(peaks["bf16"] / peaks["fp32"], rel=2e-3)
    assert f"{both['bf16_matmul_ratio']:.2f}x, the ceiling" in text


def test_utilisation_is_a_fraction(both):
    # Where bf16 is emulated (no bf16 instructions: a square bf16 matmul runs ~50x slower than fp32), the bf16 "peak"
    # is no ceiling: autocast leaves part of the model in fp32, which beats it, so the bf16 MFU can pass 1 there.
    emulated = precision.bf16_emulated("cpu")
    for dtype, arm in both["arms"].items():
        peak = both["peak_gflops_per_s"][dtype]
        for v in arm.values():
            assert 0 < v["mfu"] and (v["mfu"] <= 1 or (dtype == "bf16" and emulated)), (dtype, v["mfu"])
            assert v["mfu"] == pytest.approx(v["gflops_per_s"] / peak, rel=2e-3)


def test_flops_match_vitok_flops(both):
    from vitok.flops import count_macs
    from vitok.model import ViTok
    macs = count_macs(ViTok(ViTokConfig.from_name("U-U/8", channels=4, resolution=32)).eval(), torch.rand(2, 3, 32, 32) * 2 - 1,
                      lambda m, x: m(x, sample=False))
    g = both["gflops"]
    assert g["encode"] == pytest.approx(2 * macs["encoder"] / 1e9, rel=2e-3)    # 2 FLOPs a MAC
    assert g["decode"] == pytest.approx(2 * macs["decoder"] / 1e9, rel=2e-3)
    assert g["train_step"] == pytest.approx(3 * (g["encode"] + g["decode"]), rel=2e-3)
    m = tokenizer_macs(ViTokConfig.from_name("S-B/16", channels=16, resolution=256))
    s = model_stats("S-B/16", 16, 256)
    assert m["encode"] / 1e9 == pytest.approx(s["gflops"]["encoder"], abs=1e-3)
    assert m["decode"] / 1e9 == pytest.approx(s["gflops"]["decoder"], abs=1e-3)


def test_dit_section():
    d = dit_benchmark("DiT-U", grid=(1, 4, 4), channels=4, batch=2, device="cpu", warmup=0, repeats=1,
                      dtypes=("fp32", "bf16"), num_classes=10, peak_n=256)
    macs = dit_macs(DiTConfig.from_name("DiT-U", channels=4, grid=(1, 4, 4), num_classes=10))["total"]
    assert d["gflops"]["forward"] == pytest.approx(2 * 2 * macs / 1e9, rel=2e-3)
    assert set(d["arms"]) == {"fp32", "bf16"} and set(d["bf16_speedup"]) == {"forward", "train_step"}
    emulated = precision.bf16_emulated("cpu")            # as in test_utilisation_is_a_fraction: no ceiling for bf16 there
    assert all(0 < v["mfu"] and (v["mfu"] <= 1 or (k == "bf16" and emulated)) for k, a in d["arms"].items() for v in a.values())


def test_matmul_peak_cached():
    a = matmul_peak("cpu", "fp32", n=128, repeats=2)
    assert a > 0 and matmul_peak("cpu", "fp32", n=128, repeats=2) == a
    with pytest.raises(ValueError, match="dtype must be one of fp32, bf16"):
        matmul_peak("cpu", "fp16", n=128)


def test_peer_ratio_arithmetic():
    arm = lambda e, d: {"encode": {"median_s": e}, "decode": {"median_s": d}}
    ours = {"arms": {"fp32": arm(1.0, 1.0)}, "gflops": {"encode": 1.0, "decode": 3.0}}
    peer = {"arms": {"fp32": arm(3.0, 5.0)}, "gflops": {"encode": 4.0, "decode": 12.0}}
    assert peer_ratio(ours, peer) == {"encode_decode_speedup": {"fp32": 4.0}, "flop_ratio": 4.0}


def test_peer_needs_diffusers(monkeypatch):
    import builtins
    real = builtins.__import__
    def no_diffusers(name, *a, **k):
        if name.startswith("diffusers"):
            raise ImportError(name)
        return real(name, *a, **k)
    monkeypatch.setattr(builtins, "__import__", no_diffusers)
    with pytest.raises(RuntimeError, match=r"pip install vitok\[peers\]"):
        bench_peers.peer_model("sdvae")
    with pytest.raises(ValueError, match="Unknown peer 'vqgan'"):
        bench_peers.peer_model("vqgan")


def test_peer_sdvae_builds_from_config():
    pytest.importorskip("diffusers")
    p = bench_peers.peer_benchmark("sdvae", resolution=32, batch=1, device="cpu", warmup=0, repeats=1, peak_n=256)
    assert p["latent"] == [4, 4, 4] and p["gflops"]["decode"] > p["gflops"]["encode"] > 0
    assert 0 < p["arms"]["fp32"]["decode"]["mfu"] <= 1


def test_loop_fraction_structure(tmp_path):
    r = loop_fraction("smoke", steps=3, log_every=1, device="cpu", repeats=1, out=tmp_path)
    assert set(r) == {"stage1", "stage2", "dit"}
    for k, v in r.items():
        assert {"loop_per_s", "bare_per_s", "fraction", "batch", "log_lines", "bf16"} <= set(v)
        assert v["fraction"] == pytest.approx(v["loop_per_s"] / v["bare_per_s"], rel=2e-3) and v["log_lines"] >= 1
    with pytest.raises(ValueError, match="loop parts must be"):
        loop_fraction("smoke", parts=("gan",))


def test_bf16_auto_is_measured_once_and_keeps_the_random_state(monkeypatch):
    monkeypatch.setenv("VITOK_BF16_PROBE", "native")     # the model's own timing, also where bf16 is emulated
    from vitok.model import ViTok
    model = ViTok(ViTokConfig.from_name("U-U/8", channels=4, resolution=32))
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    w = [p.detach().clone() for p in model.parameters()]
    state = torch.get_rng_state()
    a = bf16_pays(model, (x,), "cpu", key="test-tiny")
    assert torch.equal(state, torch.get_rng_state())
    assert all(torch.equal(p, q) for p, q in zip(w, model.parameters()))
    n = len(precision._BF16)
    assert bf16_pays(model, (x,), "cpu", key="test-tiny") == a and len(precision._BF16) == n     # cached
    assert isinstance(a, bool)


def test_bool_or_auto():
    assert [bool_or_auto(s) for s in ("auto", "true", "on", "false", "0")] == ["auto", True, True, False, False]
    with pytest.raises(Exception, match="expected true, false or auto"):
        bool_or_auto("maybe")


def test_bf16_auto_in_the_trainers(tmp_path, monkeypatch):
    from vitok.dit_train import DiTTrainer, make_toy_latents
    from vitok.presets.train import dit_preset, train_preset
    from vitok.train import Trainer, parse_args
    assert parse_args(["--preset", "smoke", "--bf16", "auto"]).bf16 == "auto"
    assert parse_args(["--preset", "smoke", "--bf16"]).bf16 is True
    assert parse_args(["--preset", "smoke", "--bf16", "false"]).bf16 is False
    assert train_preset("paper").bf16 is True and dit_preset("paper").bf16 is True     # the paper's setting
    t = Trainer(train_preset("smoke", out=str(tmp_path / "a"), bf16="auto", device="cpu"))
    assert isinstance(t.bf16, bool)
    lat = make_toy_latents(tmp_path / "lat")
    d = DiTTrainer(dit_preset("smoke", latents=str(lat), out=str(tmp_path / "d"), bf16="auto", device="cpu"))
    assert isinstance(d.bf16, bool)
    import vitok.train as vt
    for pays in (True, False):                   # 'auto' follows the measurement, whichever way it comes out
        monkeypatch.setattr(vt, "bf16_pays", lambda *a, pays=pays, **k: pays)
        t = Trainer(train_preset("smoke", out=str(tmp_path / f"m{pays}"), bf16="auto", device="cpu"))
        assert t.bf16 is pays
    with pytest.raises(ValueError, match="bf16 must be true, false or 'auto'"):
        train_preset("smoke", bf16="yes")


def test_bf16_auto_in_evaluation():
    from vitok.evaluate import evaluate
    from vitok.model import ViTok
    model = ViTok(ViTokConfig.from_name("U-U/8", channels=4, resolution=32))
    rep = evaluate(model, torch.rand(4, 3, 32, 32) * 2 - 1, ("psnr",), batch_size=2, device="cpu", bf16="auto", progress=False)
    assert isinstance(rep["bf16"], bool)
    import vitok.evaluate as ve
    for pays in (True, False):                   # 'auto' follows the measurement, whichever way it comes out
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(ve, "bf16_pays", lambda *a, pays=pays, **k: pays)
            assert evaluate(model, torch.rand(4, 3, 32, 32) * 2 - 1, ("psnr",), batch_size=2, device="cpu", bf16="auto",
                            progress=False)["bf16"] is pays
    with pytest.raises(ValueError, match="bf16 must be True, False or 'auto'"):
        evaluate(model, torch.rand(2, 3, 32, 32), ("psnr",), device="cpu", bf16="sometimes", progress=False)


def test_cli_flags_and_errors():
    p = run("vitok-bench", "--variant", "U-U/8", "--res", "32", "--batch", "1", "--channels", "4", "--device", "cpu",
            "--bf16", "both", "--warmup", "0", "--repeats", "1", "--dit", "DiT-U", "--peak-n", "256")
    r = json.loads(p.stdout)
    assert r["resolution"] == 32 and set(r["bf16_speedup"]) >= {"encode_decode"} and r["dit"]["grid"] == [1, 4, 4]
    assert "MFU" in p.stderr and "bf16 / fp32 speed-up" in p.stderr
    assert r["bf16_matmul_ratio"] > 0 and "the ceiling of matmul-bound work" in p.stderr
    p = run("vitok-bench", "--variant", "U-U/8", "--res", "32", "--bf16", "fp16", check=False)
    assert p.returncode != 0 and "vitok-bench: --bf16 must be true, false or both" in p.stderr


# -- bf16 on a CPU without bf16 instructions (vitok.precision) --------------------------------------------------

EMULATED = dict(device="cpu", n=256, fp32_gflops=130.0, bf16_gflops=0.8, ratio=0.8 / 130, emulated=True, source="test")


def test_the_probe_is_quick_and_cached(monkeypatch):
    monkeypatch.delenv("VITOK_BF16_PROBE", raising=False)
    monkeypatch.setattr(precision, "_PROBES", {})
    monkeypatch.setattr(precision, "_PEAKS", {})                     # the matmuls timed again, not taken from the cache
    threads, t0 = torch.get_num_threads(), time.perf_counter()
    p = precision.bf16_probe("cpu")
    assert time.perf_counter() - t0 < 5       # about 0.2 s even where bf16 is emulated: this catches a probe timing a model
    assert precision.bf16_probe("cpu") is p and torch.get_num_threads() == threads    # cached; the threads restored
    assert p["emulated"] == (p["bf16_gflops"] < 0.5 * p["fp32_gflops"]) and p["source"] == "measured"
    for v, emulated in (("emulated", True), ("native", False), (" Emulated ", True)):
        monkeypatch.setenv("VITOK_BF16_PROBE", v)
        assert precision.bf16_emulated("cpu") is emulated
    monkeypatch.setenv("VITOK_BF16_PROBE", "maybe")
    with pytest.raises(ValueError, match="VITOK_BF16_PROBE must be emulated or native"):
        precision.bf16_probe("cpu")


def test_auto_picks_fp32_at_once_where_bf16_is_emulated(monkeypatch, tmp_path):
    "Where the probe reports an emulated rate, 'auto' is fp32 without timing the model (in bf16 or at all)."
    monkeypatch.setattr(precision, "bf16_probe", lambda device=None: EMULATED)
    class Untimed(torch.nn.Module):
        def forward(self, x): raise AssertionError("the model was timed")
    assert bf16_pays(Untimed(), (torch.zeros(2, 4),), "cpu") is False
    from vitok.config import ViTokConfig
    from vitok.evaluate import evaluate
    from vitok.model import ViTok
    from vitok.presets.train import train_preset
    from vitok.train import Trainer
    timed = len(precision._BF16)
    model = ViTok(ViTokConfig.from_name("U-U/8", channels=4, resolution=32))
    assert evaluate(model, torch.rand(2, 3, 32, 32) * 2 - 1, ("psnr",), device="cpu", bf16="auto", progress=False)["bf16"] is False
    t = Trainer(train_preset("smoke", out=str(tmp_path / "t"), bf16="auto", device="cpu"))
    assert t.bf16 is False and t.cfg.bf16 == "auto" and len(precision._BF16) == timed       # no model was timed


def test_explicit_bf16_warns_once_where_bf16_is_emulated(monkeypatch, tmp_path):
    monkeypatch.setenv("VITOK_BF16_PROBE", "emulated")
    from vitok.presets.train import train_preset
    from vitok.train import Trainer
    for make in (lambda i: Trainer(train_preset("smoke", out=str(tmp_path / f"t{i}"), bf16=True, device="cpu")),
                 lambda i: _sampler(monkeypatch)):
        monkeypatch.setattr(precision, "_WARNED", set())
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            made = [make(i) for i in range(2)]
        slow = [w for w in caught if w.category is SlowBF16Warning]
        assert len(slow) == 1, [str(w.message) for w in caught]                          # once per process
        assert "will be slow" in str(slow[0].message) and "forced by VITOK_BF16_PROBE=emulated" in str(slow[0].message)
        assert all(m.bf16 is True for m in made)                                         # warned, and obeyed
    monkeypatch.setattr(precision, "_WARNED", set())
    monkeypatch.setattr(precision, "bf16_probe", lambda device=None: EMULATED)          # the measured rates are in the message
    from vitok.config import ViTokConfig
    from vitok.evaluate import evaluate
    from vitok.model import ViTok
    model = ViTok(ViTokConfig.from_name("U-U/8", channels=4, resolution=32))
    with pytest.warns(SlowBF16Warning, match="0.8 GFLOP/s in bf16 against 130 in fp32, 162x slower"):
        rep = evaluate(model, torch.rand(1, 3, 32, 32) * 2 - 1, ("psnr",), device="cpu", bf16=True, progress=False)
    assert rep["bf16"] is True


def _sampler(monkeypatch):
    "A Sampler on a tiny random DiT (load_dit replaced: no run folder needed to reach the bf16 decision)."
    import vitok.sample as vs
    from vitok.dit import DiT, DiTConfig
    dit = DiT(DiTConfig.from_name("DiT-U", channels=4, grid=(1, 4, 4), num_classes=10))
    monkeypatch.setattr(vs, "load_dit", lambda run, device: (dit, {}, Path(run)))
    return vs.Sampler("run", device="cpu", bf16=True)


def test_layout_nothing_below_the_benchmark_imports_it():
    "vitok.precision sits below training, evaluation, sampling and the benchmark; no vitok.bench* module or vitok.train is over 350 lines."
    root = Path(__file__).resolve().parents[1] / "vitok"
    def imports(mod):
        out = set()
        for node in ast.walk(ast.parse((root / f"{mod}.py").read_text())):          # function-level imports count
            if isinstance(node, ast.ImportFrom):
                out.add(node.module if not node.level else f"vitok.{node.module}")
            elif isinstance(node, ast.Import):
                out |= {a.name for a in node.names}
        return {m for m in out if m and m.startswith("vitok.")}
    below = ("precision", "run_folder", "train", "evaluate", "dit_train", "sample")
    for mod in below:
        up = {m for m in imports(mod) if m.startswith("vitok.bench")}
        assert not up, f"vitok.{mod} imports the benchmark: {up}"
    assert imports("precision") <= {"vitok.utils"}
    assert not imports("bench_timing") & {"vitok.train", "vitok.evaluate", "vitok.dit_train", "vitok.sample", "vitok.bench_loop",
                                          "vitok.bench_peers", "vitok.bench_cli", "vitok.bench"}
    for mod in ("bench_timing", "bench_peers", "bench_loop", "bench_cli"):      # only the facade vitok.bench gathers them
        assert "vitok.bench" not in imports(mod), f"vitok.{mod} imports the facade vitok.bench"
    for f in [*root.glob("bench*.py"), root / "train.py", root / "precision.py", root / "run_folder.py"]:
        assert len(f.read_text().splitlines()) <= 350, f.name
    import vitok.bench, vitok.train                                      # old imports keep working where no circle costs
    assert vitok.bench.bf16_pays is precision.bf16_pays and vitok.bench.bool_or_auto is precision.bool_or_auto
    assert vitok.bench.check_bf16 is precision.check_bf16 and vitok.bench.matmul_peak is precision.matmul_peak
    from vitok.bench import benchmark, loop_fraction, peer_benchmark, peer_ratio, report_text, vitok_bench   # as before the split
    from vitok.run_folder import read_log
    from vitok.train import Trainer, main, parse_args, settings_flags, parse_flags, run_cli, NonFiniteLoss
    assert vitok.train.read_log is read_log
