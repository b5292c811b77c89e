"""Helpers shared by the data scripts: centre-cropped evaluation sets, linking files into folders,
parallel maps with a progress bar, and the closing summary. The shard format itself lives in
`vitok.shards` (`write_shards`, `shard_dataset`), so writer and reader cannot drift apart."""
from __future__ import annotations
import argparse, multiprocessing as mp, os, shutil, sys
from pathlib import Path
from tqdm.auto import tqdm
from vitok.media import Unreadable, read_image
from vitok.shards import write_shards
from vitok.transforms import center_crop
from vitok.utils import atomic_write


def parser(description: str) -> argparse.ArgumentParser:
    return argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)


def add_shard_args(p: argparse.ArgumentParser, shard_size: int = 1000):
    p.add_argument("--shard-size", type=int, default=shard_size, help="samples per shard (default %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="seed of the shuffle before sharding (default 0)")
    p.add_argument("--no-shuffle", action="store_true", help="keep the sorted file order in the shards")
    p.add_argument("--workers", type=int, default=max(1, (os.cpu_count() or 2) - 1),
                   help="parallel processes (default: CPUs - 1); 0 = this process only")
    p.add_argument("--overwrite", action="store_true", help="rewrite shards even if an index for another file list exists")


def shards(items, out, prefix, kind, args, classes=(), root=None, min_frames=1, ignored=()) -> dict:
    "write_shards with the common command-line options."
    return write_shards(items, out, prefix, kind, root=root, classes=classes, shard_size=args.shard_size,
                        shuffle=not args.no_shuffle, seed=args.seed, min_frames=min_frames, workers=args.workers,
                        ignored=ignored, overwrite=args.overwrite)


def pmap(fn, jobs, workers: int, desc: str, unit: str = "file"):
    "Yield fn(job) for every job (order not kept), in `workers` processes, with a progress bar."
    jobs = list(jobs)
    if workers > 0 and len(jobs) > 1:
        with mp.get_context("spawn").Pool(workers) as pool:
            yield from tqdm(pool.imap_unordered(fn, jobs, chunksize=16), total=len(jobs), desc=desc, unit=unit)
    else:
        yield from tqdm(map(fn, jobs), total=len(jobs), desc=desc, unit=unit)


def _crop_job(job):
    src, targets = job
    todo = [(s, Path(d)) for s, d in targets if not Path(d).exists()]
    if not todo: return "kept", src, None
    try: img = read_image(src)
    except Unreadable as e: return "bad", src, str(e)
    for size, dst in todo:
        with atomic_write(dst) as tmp:          # a crop on disk is always complete
            center_crop(img, size).save(tmp, format="PNG")
    return "wrote", src, None


def write_crops(items, out: Path, sizes, workers: int) -> dict:
    """Centre-cropped PNG evaluation sets (ADM protocol): for each `(src, rel)` and size S, write
    `out/val_S/rel.png`. Existing files are kept, so a rerun resumes."""
    jobs = [(str(src), [(s, str(out / f"val_{s}" / Path(rel).with_suffix(".png"))) for s in sizes]) for src, rel in items]
    stats = {"wrote": 0, "kept": 0, "bad": []}
    for status, src, why in pmap(_crop_job, jobs, workers, f"val crops {'/'.join(map(str, sizes))}"):
        if status == "bad": stats["bad"].append((src, why))
        else: stats[status] += 1
    return stats


def crop_summary(stats: dict, out: Path, sizes) -> str:
    s = (f"val crops ({', '.join(str(out / f'val_{x}') for x in sizes)}): wrote {stats['wrote']} image(s), "
         f"kept {stats['kept']} already there, skipped {len(stats['bad'])} unreadable")
    return s + "".join(f"\n  skipped {src}: {why[:100]}" for src, why in stats["bad"][:10])


def place(items, out: Path, mode: str, desc: str) -> dict:
    "Link or copy `(src, rel)` files to `out/rel` (mode: symlink, hardlink or copy); existing ones are kept."
    stats = {"wrote": 0, "kept": 0}
    for src, rel in tqdm(items, desc=desc, unit="file"):
        dst = out / rel
        if dst.exists() or dst.is_symlink(): stats["kept"] += 1; continue
        dst.parent.mkdir(parents=True, exist_ok=True)
        if mode == "symlink": dst.symlink_to(Path(src).resolve())
        elif mode == "hardlink": os.link(src, dst)
        else: shutil.copy2(src, dst)
        stats["wrote"] += 1
    return stats


def fail(msg: str):
    "Stop with a clear message (no traceback) and exit status 2."
    print(f"error: {msg}", file=sys.stderr)
    raise SystemExit(2)


def summary(title: str, lines):
    print(f"\n== {title} ==")
    for line in lines: print(line)
