#!/usr/bin/env python
"""GPU throughput of the paper's S-B/16 stage 1 (LPIPS on) and of a DiT, in bf16, eager and compiled.

  python benchmarks/gpu.py [--batch 64] [--dit DiT-L] [--dit-batch 64] [--steps 30] [--out benchmarks] [--quick]

Only for a machine with a CUDA GPU (CI never runs it). One process, everything side by side:
  1. the bare model steps of `vitok.bench.benchmark` (S-B/16, 256p, c = 16): encode, decode, train step, in bf16,
     eager and `torch.compile`d, with achieved FLOP/s and model-FLOP utilisation (MFU) against a bf16 8192^3 matmul
     timed on the same GPU in the same run;
  2. the real training loop, `vitok.train.Trainer`, S-B/16 stage 1 at 256p with the paper's loss (MSE + LPIPS + KL),
     bf16, eager and compiled, on the built-in photos: the images/s it logs, and that rate's MFU (train step =
     3 x forward FLOPs). LPIPS needs torchvision's VGG16 weights; without them the loop runs without LPIPS and says so;
  3. `vitok.bench.dit_benchmark` for the DiT on the 16 x 16 latent grid, bf16, eager and compiled.
Writes OUT/gpu_results.json and OUT/gpu_throughput.png (images/s and MFU per arm) and prints a table.

The issue's goal: S-B/16 256p stage 1 at 1,200 images/s or more on one H200 (the paper's 6-12 h for 100k steps at
batch 1024 on 8 H100s implies 300-600 images/s per GPU)."""
from __future__ import annotations
import argparse, json, os, statistics, sys, tempfile, time
from pathlib import Path

import torch

from vitok.bench import benchmark, device_name, dit_benchmark, matmul_peak, sig4, tokenizer_macs
from vitok.bench_cli import report_text
from vitok.config import ViTokConfig


def trainer_rate(batch: int, steps: int, compile: bool, lpips: bool, out: Path) -> dict:
    "The images/s `vitok-train` logs for S-B/16 stage 1 at 256p, bf16 (median of the log lines after the first)."
    from vitok.presets.train import train_preset
    from vitok.train import Trainer, read_log
    cfg = train_preset("paper", out=str(out), batch=batch, steps=steps, log_every=5, eval_every=steps, eval_images=batch,
                       warmup=5, data="builtin", num_workers=4, bf16=True, compile=compile, overwrite=True,
                       lpips_weight=1.0 if lpips else 0.0, device="cuda")
    t0 = time.perf_counter()
    Trainer(cfg).fit()
    rates = [r["images_per_s"] for r in read_log(out / "log.jsonl") if "images_per_s" in r][1:]
    return {"images_per_s": sig4(statistics.median(rates)) if rates else None, "log_lines": len(rates),
            "lpips": lpips, "compile": compile, "batch": batch, "wall_s": round(time.perf_counter() - t0, 1)}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--dit", default="DiT-L")
    ap.add_argument("--dit-batch", type=int, default=64)
    ap.add_argument("--steps", type=int, default=30, help="training-loop steps per arm (the first log line is warm-up)")
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--out", default=str(Path(__file__).parent))
    ap.add_argument("--quick", action="store_true", help="smaller everything: checks the script runs, not a figure")
    a = ap.parse_args(argv)
    if not torch.cuda.is_available():
        sys.exit("benchmarks/gpu.py needs a CUDA GPU; on a CPU use vitok-bench (see benchmarks/README.md)")
    if a.quick: a.batch, a.dit_batch, a.steps, a.repeats, a.dit = 8, 8, 12, 3, "DiT-S"
    out = Path(a.out); out.mkdir(parents=True, exist_ok=True)
    dev = torch.device("cuda")
    torch.backends.cuda.matmul.allow_tf32 = True; torch.backends.cudnn.allow_tf32 = True
    res = {"device_name": device_name(dev), "torch": torch.__version__, "batch": a.batch, "dit_batch": a.dit_batch,
           "peak_bf16_gflops_per_s": sig4(matmul_peak(dev, "bf16") / 1e9), "bare": {}, "loop": {}, "dit": {}}
    peak = matmul_peak(dev, "bf16")
    for compile in (False, True):
        arm = "compiled" if compile else "eager"
        print(f"bare S-B/16 steps, {arm} ...", flush=True)
        r = benchmark("S-B/16", 256, 1, a.batch, 16, "cuda", compile=compile, warmup=3 if compile else 2,
                      repeats=a.repeats, dtypes="bf16")
        res["bare"][arm] = r
        print(report_text(r), flush=True)
        print(f"{a.dit} {arm} ...", flush=True)
        res["dit"][arm] = dit_benchmark(a.dit, (1, 16, 16), 16, a.dit_batch, "cuda", ("bf16",), compile, 3, a.repeats)
    train_flops = 6 * sum(tokenizer_macs(ViTokConfig.from_name("S-B/16", channels=16, resolution=256)).values())
    with tempfile.TemporaryDirectory() as d:
        for compile in (False, True):
            arm = "compiled" if compile else "eager"
            print(f"training loop S-B/16 stage 1, bf16, {arm} ...", flush=True)
            try: r = trainer_rate(a.batch, a.steps, compile, True, Path(d) / arm)
            except FileNotFoundError as e:          # WeightsMissing: no VGG16 for LPIPS on this machine
                print(f"LPIPS unavailable ({e}); the loop runs without it", flush=True)
                r = trainer_rate(a.batch, a.steps, compile, False, Path(d) / f"{arm}-nolpips") | {"lpips_missing": str(e)}
            if r["images_per_s"]: r["mfu"] = sig4(r["images_per_s"] * train_flops / peak)
            res["loop"][arm] = r
    res["goal"] = {"images_per_s": 1200, "reached": max((v["images_per_s"] or 0) for v in res["loop"].values()) >= 1200}
    (out / "gpu_results.json").write_text(json.dumps(res, indent=1))
    rows = []
    for arm in ("eager", "compiled"):
        b, l, dd = res["bare"][arm], res["loop"][arm], res["dit"][arm]["arms"]["bf16"]["train_step"]
        rows += [(f"S-B/16 bare step, {arm}", b["train_step_images_per_s"], b["train_step_mfu"]),
                 (f"S-B/16 stage-1 loop{' + LPIPS' if l['lpips'] else ''}, {arm}", l["images_per_s"], l.get("mfu")),
                 (f"{a.dit} train step, {arm}", dd["images_per_s"], dd["mfu"])]
    print(f"\n{'arm':<40}{'images/s':>10}{'MFU':>8}")
    for n, ips, mfu in rows: print(f"{n:<40}{ips or 0:>10.4g}{(mfu or 0):>8.1%}")
    print(f"goal: S-B/16 stage 1 >= 1,200 images/s: {'reached' if res['goal']['reached'] else 'not reached'}")
    import matplotlib; matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(1, 2, figsize=(11, 0.5 * len(rows) + 1.5))
    names = [n for n, _, _ in rows]
    ax[0].barh(names, [r[1] or 0 for r in rows]); ax[0].axvline(1200, ls="--", c="k", lw=1)
    ax[0].set_xlabel("images/s (bf16)"); ax[0].invert_yaxis()
    ax[1].barh(names, [100 * (r[2] or 0) for r in rows]); ax[1].set_xlabel("MFU (%) of a bf16 matmul")
    ax[1].set_yticklabels([]); ax[1].invert_yaxis()
    fig.suptitle(f"{res['device_name']}: S-B/16 256p batch {a.batch}, {a.dit} batch {a.dit_batch}")
    fig.tight_layout(); fig.savefig(out / "gpu_throughput.png", dpi=120)
    print(f"wrote {out / 'gpu_results.json'} and {out / 'gpu_throughput.png'}")


if __name__ == "__main__":
    main()
