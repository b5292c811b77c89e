#!/usr/bin/env python
"""Images per second of vitok's image-folder loader and webdataset-shard loader.

  python benchmarks/bench_data.py [--n 1024] [--resolution 256] [--num-workers 2] [--batch 32]

Builds an ImageNet-like folder (10 class folders of 500x375 / 375x500 JPEGs, quality 90, cut from
the built-in photos), packs it into shards with vitok.shards.folder_shards, then times one pass of a
DataLoader over each (evaluation transform: short-side resize + centre crop; training transform:
random resized crop + flip). The clock starts at the first batch, so worker start-up is excluded;
each loader runs --repeat passes; the best pass is the least disturbed by other processes, and
the load average is printed because other processes on the machine slow the numbers down."""
from __future__ import annotations
import argparse, os, shutil, tempfile, time
from pathlib import Path
import torch
from torch.utils.data import DataLoader
from tqdm.auto import tqdm
from vitok.builtin import BUILTIN_PHOTOS, sample_generator
from vitok.folders import image_folder
from vitok.media import read_image
from vitok.shards import folder_shards, shard_dataset
from vitok.transforms import random_box


def make_folder(root: Path, n: int, seed: int = 0) -> Path:
    "n ImageNet-sized JPEGs in 10 class folders, cropped from the built-in photos."
    photos = [read_image(p) for s in BUILTIN_PHOTOS for p in s.paths()]
    for i in tqdm(range(n), desc="making JPEGs", unit="img"):
        g = sample_generator(seed, i)
        img = photos[i % len(photos)]
        size = (500, 375) if i % 3 else (375, 500)
        box = random_box(*img.size, g, scale=(0.3, 1.0), ratio=(size[0] / size[1],) * 2)
        d = root / f"class{i % 10}"; d.mkdir(parents=True, exist_ok=True)
        img.resize(size, box=box).save(d / f"{i:06d}.jpg", quality=90)
    return root


def throughput(ds, batch: int, workers: int) -> tuple[float, int]:
    "Images per second over one pass, from the first batch to the last."
    it, n = iter(DataLoader(ds, batch_size=batch, num_workers=workers)), 0
    next(it)
    t0 = time.perf_counter()
    for x in it: n += len(x)
    return n / (time.perf_counter() - t0), n


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=1024, help="images (default 1024)")
    p.add_argument("--resolution", type=int, default=256, help="output resolution (default 256)")
    p.add_argument("--num-workers", type=int, default=2, help="DataLoader workers (default 2)")
    p.add_argument("--batch", type=int, default=32, help="batch size (default 32)")
    p.add_argument("--repeat", type=int, default=3, help="passes per loader; best and median are printed (default 3)")
    p.add_argument("--dir", type=Path, help="keep the folder and shards here (default: a temporary folder)")
    args = p.parse_args(argv)
    root = args.dir or Path(tempfile.mkdtemp(prefix="vitok_bench_"))
    try:
        folder = root / "images"
        if not folder.exists(): make_folder(folder, args.n)
        shards = root / "shards"
        folder_shards(folder, shards, "train", shard_size=max(1, args.n // (4 * args.num_workers)), progress=False)
        mb = sum(f.stat().st_size for f in folder.rglob("*.jpg")) / 2**20
        print(f"{args.n} JPEGs ({mb:.0f} MiB, 500x375), {len(list(shards.glob('*.tar')))} shards; "
              f"{args.num_workers} workers, batch {args.batch}, {args.resolution}p; torch threads {torch.get_num_threads()}, "
              f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
        print(f"{'loader':<8} {'transform':<10} {'best img/s':>10} {'median':>8}")
        for name, make in [("folder", lambda t: image_folder(folder, args.resolution, train=t)),
                           ("shards", lambda t: shard_dataset(shards, args.resolution, train=t))]:
            for train in (False, True):
                runs = sorted(throughput(make(train), args.batch, args.num_workers)[0] for _ in range(args.repeat))
                print(f"{name:<8} {'train' if train else 'eval':<10} {runs[-1]:>10.1f} {runs[len(runs) // 2]:>8.1f}", flush=True)
        print(f"load average at the end {os.getloadavg()[0]:.1f}")
    finally:
        if args.dir is None: shutil.rmtree(root)


if __name__ == "__main__":
    main()
