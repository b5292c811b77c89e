#!/usr/bin/env python
"""Where the tiny preset's wall time goes, and what each speed-up of issue 25 buys, side by side in one run.

  python benchmarks/tiny_speed.py [--steps 100 400] [--grid-steps 300] [--figures _out/figures.json] [--skip-compile]

1. A tiny training step, plain against `torch.compile`d, for two of Fig 2's tiny tokenizers (U-U/4 c=8 batch 8 and
   U-U/8 c=16 batch 32, 32 px, one thread): each run in a fresh process with an empty inductor cache, so the compile
   time is in the number; two lengths give the time per step and the fixed cost, and so the steps after which
   compiling pays for itself.
2. One sweep (Fig 2's four p=8 tokenizers, --grid-steps steps each, on a crop pool) trained one after another and in
   parallel processes (`Sweep.run(workers=...)`), the run store off; the wall times, their ratio, and whether the
   two gave the same numbers.
3. With --figures: the wall time of every notebook of a `vitok-figures` run, slowest first, and the total.
Quote the ratios; absolute times drift with the machine and its load (the load average is printed)."""
from __future__ import annotations
import argparse, json, os, subprocess, sys, tempfile, time
from pathlib import Path

POINTS = [("U-U/4", 8, 8), ("U-U/8", 16, 32)]          # (variant, c, batch) of Fig 2's tiny grid at 32 px


def one_run(variant: str, c: int, batch: int, steps: int, compile_: bool, data: str) -> float:
    "Seconds of `Trainer(cfg).fit()` for one tiny run (this process; called through `timed`)."
    import dataclasses
    from vitok.presets.grid import TINY_GRID_TRAIN
    from vitok.train import Trainer
    cfg = dataclasses.replace(TINY_GRID_TRAIN, variant=variant, channels=c, batch=batch, resolution=32, steps=steps,
                              eval_every=steps, out=tempfile.mkdtemp(), compile=compile_, threads=1, data=data)
    t = time.perf_counter(); Trainer(cfg).fit(); return time.perf_counter() - t


def timed(variant, c, batch, steps, compile_, data) -> float:
    "`one_run` in a fresh process with an empty inductor cache (a compile starts cold, as in a first run)."
    env = os.environ | {"TORCHINDUCTOR_CACHE_DIR": tempfile.mkdtemp(), "VITOK_PROGRESS": "0", "CI": "1"}
    code = (f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); from tiny_speed import one_run; "
            f"print(one_run({variant!r}, {c}, {batch}, {steps}, {compile_}, {data!r}))")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    if out.returncode: raise RuntimeError(out.stderr[-2000:])
    return float(out.stdout.strip().splitlines()[-1])


def compile_table(steps: tuple[int, int], data: str) -> list[dict]:
    rows = []
    for variant, c, b in POINTS:
        r = {"model": f"{variant} c={c} batch {b}"}
        for mode in ("plain", "compiled"):
            t1, t2 = (timed(variant, c, b, n, mode == "compiled", data) for n in steps)
            per = (t2 - t1) / (steps[1] - steps[0])
            r[mode] = {"step_ms": 1000 * per, "fixed_s": t1 - steps[0] * per, f"total_{steps[1]}_s": t2}
        gain = r["plain"]["step_ms"] - r["compiled"]["step_ms"]
        extra = r["compiled"]["fixed_s"] - r["plain"]["fixed_s"]
        r["pays_after_steps"] = round(1000 * extra / gain) if gain > 0 else None
        rows.append(r)
        print(f"{r['model']}: plain {r['plain']['step_ms']:.1f} ms/step; compiled {r['compiled']['step_ms']:.1f} ms/step "
              f"after {extra:.1f} s more start-up; " + (f"compiling pays after {r['pays_after_steps']} steps" if gain > 0
                                                        else "compiling never pays"), flush=True)
    return rows


def sweep_table(grid_steps: int, pool: str) -> dict:
    import dataclasses
    import torch
    from vitok.presets.grid import TINY_GRID_TRAIN
    from vitok.sweep import Sweep
    os.environ["VITOK_RUN_STORE"] = "off"
    torch.set_num_threads(1)
    base = dataclasses.replace(TINY_GRID_TRAIN, steps=grid_steps, eval_every=grid_steps)
    runs = [{"variant": "U-U/8", "channels": c, "resolution": 32, "batch": 32, "data": pool} for c in (4, 8, 16, 32)]
    out, root = {}, Path(tempfile.mkdtemp())
    for label, workers in (("in turn", 1), ("parallel", None)):
        t = time.perf_counter()
        res = Sweep(root / label.replace(" ", "_"), runs, base=base, eval_images=64).run(workers=workers)
        out[label] = {"seconds": time.perf_counter() - t, "metrics": [r["metrics"] for r in res]}
    from vitok.parallel import auto_workers
    r = {"runs": len(runs), "steps": grid_steps, "workers": auto_workers(len(runs)),
         "in_turn_s": out["in turn"]["seconds"], "parallel_s": out["parallel"]["seconds"],
         "speed_up": out["in turn"]["seconds"] / out["parallel"]["seconds"],
         "same_numbers": out["in turn"]["metrics"] == out["parallel"]["metrics"]}
    print(f"sweep of {len(runs)} runs x {grid_steps} steps: in turn {r['in_turn_s']:.1f} s, parallel ({r['workers']} processes) "
          f"{r['parallel_s']:.1f} s: {r['speed_up']:.2f}x; same numbers: {'yes' if r['same_numbers'] else 'NO'}", flush=True)
    return r


def figures_table(path: str) -> list[dict]:
    recs = json.loads(Path(path).read_text())
    total = sum(r["seconds"] for r in recs)
    print(f"\n{path}: {len(recs)} notebooks, {total / 60:.1f} min in all")
    for r in sorted(recs, key=lambda r: -r["seconds"]):
        print(f"  {r['notebook']:<28} {r['seconds'] / 60:6.1f} min {'' if r['ok'] else 'FAILED'}")
    return [{k: r[k] for k in ("notebook", "seconds", "ok")} for r in recs]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, nargs=2, default=[100, 400], help="two run lengths for the step timing")
    ap.add_argument("--grid-steps", type=int, default=300, help="steps of each run of the sweep timing (0: skip it)")
    ap.add_argument("--figures", default="", help="a vitok-figures figures.json: per-notebook wall times")
    ap.add_argument("--skip-compile", action="store_true", help="skip the plain / compiled step timing")
    ap.add_argument("--json", default="", help="also write the numbers here")
    a = ap.parse_args(argv)
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores", flush=True)
    from vitok.sweep import crop_pool
    pool = str(crop_pool(Path(tempfile.mkdtemp()) / "pool", 2048, 32))
    res = {"load_average": os.getloadavg()[0]}
    if not a.skip_compile: res["compile"] = compile_table(tuple(a.steps), pool)
    if a.grid_steps: res["sweep"] = sweep_table(a.grid_steps, pool)
    if a.figures: res["figures"] = figures_table(a.figures)
    print(f"load average {os.getloadavg()[0]:.2f} at the end")
    if a.json: Path(a.json).write_text(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
