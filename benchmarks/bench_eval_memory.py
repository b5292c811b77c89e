#!/usr/bin/env python
"""Peak memory and time of scoring N images at 256p through vitok's evaluation path.

  python benchmarks/bench_eval_memory.py [--n 3000] [--resolution 256] [--variant T-T/16] [--batch 32]
                                         [--num_workers 0] [--metrics psnr,ssim] [--inception_double] [--device cpu]

Writes N JPEGs into a temporary image folder: real photos, random crops (500x375 or 375x500, quality
90) of vitok's built-in photos (scikit-image / scikit-learn sample images), as bench_data.py makes
them. Saves a randomly initialised tokenizer (default T-T/16, c = 16, 256p: the weights do not change
memory or time) with save_pretrained, then scores the folder with `vitok.evaluate.evaluate_tokenizer`,
the function `vitok-eval` and the sweep's `eval_run` use, with the sweep's defaults (DataLoader
without workers, batch 32). Prints the time and the peak resident memory of this process
(`resource.getrusage(RUSAGE_SELF).ru_maxrss`), and with workers that of the largest one.

With `--inception_double`, rFID and rIS run on a randomly initialised Inception saved in the real file
format (tests/doubles.py): the memory of the real network and statistics, not a real FID. The issue's
target: a paper-preset sweep scores 3,000 images at 256p with peak memory under 1.5 GB."""
from __future__ import annotations
import argparse, json, os, resource, shutil, sys, tempfile, time
from pathlib import Path


def make_folder(root: Path, n: int, seed: int = 0) -> Path:
    "n JPEGs cut from the built-in photos, ImageNet-sized, in one folder."
    from vitok.builtin import BUILTIN_PHOTOS, sample_generator
    from vitok.media import read_image
    from vitok.transforms import random_box
    photos = [read_image(p) for s in BUILTIN_PHOTOS for p in s.paths()]
    root.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        img, size = photos[i % len(photos)], (500, 375) if i % 3 else (375, 500)
        box = random_box(*img.size, sample_generator(seed, i), scale=(0.3, 1.0), ratio=(size[0] / size[1],) * 2)
        img.resize(size, box=box).save(root / f"{i:06d}.jpg", quality=90)
    return root


def peak_mb(who) -> float:
    return resource.getrusage(who).ru_maxrss / 1024          # Linux reports KiB


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=3000, help="images (default 3000)")
    p.add_argument("--resolution", type=int, default=256, help="evaluation resolution (default 256)")
    p.add_argument("--variant", default="T-T/16", help="tokenizer variant, randomly initialised (default T-T/16)")
    p.add_argument("--channels", type=int, default=16, help="latent channels (default 16)")
    p.add_argument("--batch", type=int, default=32, help="batch size (default 32, the sweep's)")
    p.add_argument("--num-workers", type=int, default=0, help="DataLoader workers (default 0, the sweep's)")
    p.add_argument("--metrics", default="psnr,ssim", help="metrics (default psnr,ssim)")
    p.add_argument("--inception-double", action="store_true",
                   help="add rfid,ris on a random Inception double (tests/doubles.py); implies no downloads")
    p.add_argument("--device", default=None, help="cpu, cuda (default: cuda if available)")
    p.add_argument("--dir", type=Path, help="keep the images and tokenizer here (default: a temporary folder)")
    args = p.parse_args(argv)
    root = args.dir or Path(tempfile.mkdtemp(prefix="vitok_evalmem_"))
    try:
        folder = root / "images"
        t0 = time.perf_counter()
        if not folder.exists() or len(list(folder.glob("*.jpg"))) != args.n: make_folder(folder, args.n)
        t_make = time.perf_counter() - t0
        before = peak_mb(resource.RUSAGE_SELF)
        metrics = args.metrics
        if args.inception_double:
            sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
            from doubles import save_random_inception
            from vitok.metrics import WEIGHTS
            os.environ.update(VITOK_WEIGHTS=str(root / "weights"), VITOK_OFFLINE="1")
            save_random_inception(root / "weights" / WEIGHTS["inception"].file)
            metrics += ",rfid,ris"
        import torch
        from vitok import ViTok, ViTokConfig
        from vitok.evaluate import evaluate_tokenizer
        torch.manual_seed(0)
        ckpt = ViTok(ViTokConfig.from_name(args.variant, channels=args.channels, resolution=args.resolution)).save_pretrained(root / "tok")
        t0 = time.perf_counter()
        rep = evaluate_tokenizer(ckpt, folder, args.resolution, metrics, batch_size=args.batch, num_workers=args.num_workers,
                                 device=args.device, missing="raise", progress=False)
        seconds = time.perf_counter() - t0
        out = {"n": args.n, "images_scored": rep["samples"], "resolution": args.resolution, "variant": args.variant,
               "metrics": rep["metrics"], "batch": args.batch, "num_workers": args.num_workers, "device": rep["device"],
               "torch_threads": torch.get_num_threads(), "cpus": os.cpu_count(), "folder_seconds": round(t_make, 1),
               "eval_seconds": round(seconds, 1), "images_per_s": round(rep["samples"] / seconds, 1),
               "peak_rss_mb_before_eval": round(before), "peak_rss_mb": round(peak_mb(resource.RUSAGE_SELF))}
        if args.num_workers:       # forked workers also count the pages they share with this process
            out["peak_rss_mb_largest_worker"] = round(peak_mb(resource.RUSAGE_CHILDREN))
        print(json.dumps(out, indent=1))
        print(f"{rep['samples']} images at {args.resolution}p ({args.variant}, {metrics}): {seconds:.1f} s, "
              f"peak RSS {out['peak_rss_mb']} MB (target < 1536 MB)")
        return out
    finally:
        if args.dir is None: shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
