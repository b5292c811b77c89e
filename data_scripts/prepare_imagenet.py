#!/usr/bin/env python
"""Prepare ImageNet-1K for vitok: train and val as folders or webdataset shards, plus centre-cropped
256 and 512 validation sets for rFID.

  python data_scripts/prepare_imagenet.py /data/imagenet /data/vitok/imagenet --format shards --workers 16

SRC must hold train/<wnid>/*.JPEG (1000 class folders, as extracted from ILSVRC2012_img_train.tar)
and val/, either in class folders (val/<wnid>/*.JPEG) or flat (val/ILSVRC2012_val_00000001.JPEG ...)
with --val-labels: Kaggle's LOC_val_solution.csv (ImageId,PredictionString "n01751748 ...") or a
text file of "<file name> <wnid>" lines. Labels are the index of the wnid among the sorted train
class folders (the usual 0..999 order).

OUT gets:
  train/ val/                  --format folders: <wnid>/<file> links (or copies, --link)
  train-*.tar val-*.tar        --format shards (in OUT/shards/), with train-index.json, val-index.json
  val_256/<wnid>/<name>.png    --crops: the ADM protocol (short side resize, centre crop), PNG
  val_512/<wnid>/<name>.png

Corrupt files are skipped and listed; rerunning resumes (finished shards and existing crops are
skipped). Use with vitok: `--data OUT/shards/train-index.json`, `--data OUT/val_256`."""
from __future__ import annotations
import csv, sys
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import add_shard_args, crop_summary, fail, parser, place, shards, summary, write_crops
from vitok.folders import scan_folder
from vitok.media import IMAGE_EXTS
from vitok.shards import shard_summary


def read_val_labels(path: Path) -> dict:
    "File stem -> wnid, from LOC_val_solution.csv or '<file> <wnid>' lines."
    if not path.exists(): fail(f"--val-labels {path} does not exist.")
    out = {}
    if path.suffix.lower() == ".csv":
        with open(path, newline="") as f:
            for row in csv.DictReader(f):
                out[row["ImageId"]] = row["PredictionString"].split()[0]
    else:
        for line in path.read_text().splitlines():
            if line.strip():
                name, wnid = line.split()[:2]
                out[Path(name).stem] = wnid
    if not out: fail(f"--val-labels {path} holds no labels.")
    return out


def val_items(val: Path, classes: list, labels_file: Path | None):
    "(path, rel path '<wnid>/<file>', label) for the validation images; ignored files."
    files, val_classes, _, ignored = scan_folder(val, IMAGE_EXTS, "image")
    if val_classes:                                        # val/<wnid>/<file>
        return [(val / f, f, classes.index(Path(f).parts[0])) for f in files if Path(f).parts[0] in classes], ignored
    if labels_file is None:
        fail(f"{val} is a flat folder: give --val-labels LOC_val_solution.csv (Kaggle) or a '<file> <wnid>' text file, "
             f"or sort val/ into class folders first.")
    wnid = read_val_labels(labels_file)
    missing = [f for f in files if Path(f).stem not in wnid]
    if missing: fail(f"{len(missing)} val images have no label in {labels_file}, e.g. {missing[0]}.")
    return [(val / f, f"{wnid[Path(f).stem]}/{f}", classes.index(wnid[Path(f).stem])) for f in files], ignored


def main(argv=None):
    p = parser(__doc__)
    p.add_argument("src", type=Path, help="ImageNet root with train/ and val/")
    p.add_argument("out", type=Path, help="output folder")
    p.add_argument("--format", choices=["shards", "folders", "none"], default="shards",
                   help="train/val as webdataset shards (default), class folders of links, or neither (crops only)")
    p.add_argument("--val-labels", type=Path, help="labels for a flat val/: LOC_val_solution.csv or '<file> <wnid>' lines")
    p.add_argument("--crops", type=int, nargs="*", default=[256, 512], help="centre-cropped val sizes (default 256 512)")
    p.add_argument("--splits", nargs="+", choices=["train", "val"], default=["train", "val"], help="which splits to pack")
    p.add_argument("--link", choices=["symlink", "hardlink", "copy"], default="symlink", help="--format folders: how (default symlink)")
    add_shard_args(p)
    args = p.parse_args(argv)
    train, val = args.src / "train", args.src / "val"
    for d in [train] + ([val] if "val" in args.splits or args.crops else []):
        if not d.is_dir(): fail(f"{d} is missing: SRC must hold train/<wnid>/ class folders and val/.")
    try:
        tfiles, classes, tlabels, tignored = scan_folder(train, IMAGE_EXTS, "image")
    except ValueError as e: fail(str(e))
    if not classes: fail(f"{train} has no class sub-folders: expected train/<wnid>/*.JPEG.")
    lines = [f"{len(tfiles)} train images in {len(classes)} classes"]
    vitems, vignored = val_items(val, classes, args.val_labels) if val.is_dir() else ([], [])
    if val.is_dir(): lines.append(f"{len(vitems)} val images")

    if args.format == "shards":
        if "train" in args.splits:
            s = shards([(train / f, y) for f, y in zip(tfiles, tlabels)], args.out / "shards", "train", "image", args,
                       classes, root=train, ignored=tignored)
            lines.append("train: " + shard_summary(s))
        if "val" in args.splits:
            s = shards([(pth, y) for pth, _, y in vitems], args.out / "shards", "val", "image", args, classes,
                       root=val, ignored=vignored)
            lines.append("val: " + shard_summary(s))
    elif args.format == "folders":
        if "train" in args.splits:
            st = place([(train / f, f) for f in tfiles], args.out / "train", args.link, "train files")
            lines.append(f"train: {args.link} {st['wrote']} file(s), kept {st['kept']} already there -> {args.out / 'train'}")
        if "val" in args.splits:
            st = place([(pth, rel) for pth, rel, _ in vitems], args.out / "val", args.link, "val files")
            lines.append(f"val: {args.link} {st['wrote']} file(s), kept {st['kept']} already there -> {args.out / 'val'}")
    if args.crops:
        st = write_crops([(pth, rel) for pth, rel, _ in vitems], args.out, args.crops, args.workers)
        lines.append(crop_summary(st, args.out, args.crops))
    if tignored or vignored:
        lines.append(f"ignored {len(tignored) + len(vignored)} non-image file(s), e.g. {(tignored + vignored)[0]}")
    summary(f"prepare_imagenet -> {args.out}", lines)


if __name__ == "__main__":
    main()
