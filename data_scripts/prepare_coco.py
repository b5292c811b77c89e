#!/usr/bin/env python
"""Prepare COCO-2017 validation images for vitok's rFID: centre-cropped 256 and 512 sets.

  python data_scripts/prepare_coco.py /data/coco/val2017 /data/vitok/coco [--shards]

SRC is the flat folder of COCO images (val2017/, 5000 JPEGs; COCO has no class folders). OUT gets
val_256/<name>.png and val_512/<name>.png (short side resized, centre crop: the ADM protocol peers
use for rFID), and with --shards also shards/val-*.tar (the original JPEGs) with val-index.json.
Corrupt files are skipped and listed; rerunning resumes. Use with vitok: `--data OUT/val_256`."""
from __future__ import annotations
import sys
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import add_shard_args, crop_summary, fail, parser, shards, summary, write_crops
from vitok.folders import scan_folder
from vitok.media import IMAGE_EXTS
from vitok.shards import shard_summary


def main(argv=None):
    p = parser(__doc__)
    p.add_argument("src", type=Path, help="COCO image folder, e.g. val2017/")
    p.add_argument("out", type=Path, help="output folder")
    p.add_argument("--crops", type=int, nargs="*", default=[256, 512], help="centre-cropped sizes (default 256 512)")
    p.add_argument("--shards", action="store_true", help="also pack the original images into webdataset shards")
    p.add_argument("--prefix", default="val", help="shard prefix (default val)")
    add_shard_args(p)
    args = p.parse_args(argv)
    try: files, _, _, ignored = scan_folder(args.src, IMAGE_EXTS, "image")
    except (FileNotFoundError, NotADirectoryError, ValueError) as e: fail(str(e))
    lines = [f"{len(files)} images in {args.src}"]
    if args.shards:
        s = shards([args.src / f for f in files], args.out / "shards", args.prefix, "image", args, root=args.src, ignored=ignored)
        lines.append(shard_summary(s))
    if args.crops:
        st = write_crops([(args.src / f, f) for f in files], args.out, args.crops, args.workers)
        lines.append(crop_summary(st, args.out, args.crops))
    if ignored: lines.append(f"ignored {len(ignored)} non-image file(s), e.g. {ignored[0]}")
    summary(f"prepare_coco -> {args.out}", lines)


if __name__ == "__main__":
    main()
