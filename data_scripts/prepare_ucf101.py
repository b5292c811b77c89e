#!/usr/bin/env python
"""Prepare UCF-101 for vitok: videos as webdataset shards (or class folders of links), with labels.

  python data_scripts/prepare_ucf101.py /data/UCF-101 /data/vitok/ucf101 --splits-dir /data/ucfTrainTestlist

SRC holds the 101 class folders of .avi files (UCF-101/ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi).
--splits-dir is the official ucfTrainTestlist/ folder (classInd.txt, trainlist0N.txt, testlist0N.txt):
with it, --split train|test picks fold --fold's list and labels follow classInd.txt (0-based);
without it, every video is used (--split all) and labels are the sorted class folder names, which
is the same order. The paper reports rFVD on the train split and trains its class-conditional DiT
on it. Videos with fewer than --min-frames frames, and corrupt ones, are skipped and listed.
Rerunning skips finished shards. Use with vitok: `--data OUT/shards/train-index.json --frames 16`."""
from __future__ import annotations
import sys
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import add_shard_args, fail, parser, place, shards, summary
from vitok.folders import scan_folder
from vitok.media import VIDEO_EXTS
from vitok.shards import shard_summary


def split_list(splits_dir: Path, split: str, fold: int) -> tuple[list[str], list[str]]:
    "Relative paths of fold `fold`'s split, and the classes in classInd.txt order."
    ind, lst = splits_dir / "classInd.txt", splits_dir / f"{split}list{fold:02d}.txt"
    for f in (ind, lst):
        if not f.exists(): fail(f"{f} is missing: --splits-dir must be the ucfTrainTestlist/ folder.")
    classes = [line.split()[1] for line in ind.read_text().splitlines() if line.strip()]
    return [line.split()[0] for line in lst.read_text().splitlines() if line.strip()], classes


def main(argv=None):
    p = parser(__doc__)
    p.add_argument("src", type=Path, help="UCF-101 folder of class folders")
    p.add_argument("out", type=Path, help="output folder")
    p.add_argument("--splits-dir", type=Path, help="ucfTrainTestlist/ folder with classInd.txt and the split lists")
    p.add_argument("--split", choices=["train", "test", "all"], default=None, help="default: train with --splits-dir, else all")
    p.add_argument("--fold", type=int, choices=[1, 2, 3], default=1, help="official split fold (default 1)")
    p.add_argument("--format", choices=["shards", "folders"], default="shards")
    p.add_argument("--link", choices=["symlink", "hardlink", "copy"], default="symlink", help="--format folders: how")
    p.add_argument("--min-frames", type=int, default=16, help="skip videos with fewer frames (default 16)")
    add_shard_args(p, shard_size=500)
    args = p.parse_args(argv)
    split = args.split or ("train" if args.splits_dir else "all")
    try: files, classes, labels, ignored = scan_folder(args.src, VIDEO_EXTS, "video")
    except (FileNotFoundError, NotADirectoryError, ValueError) as e: fail(str(e))
    if not classes: fail(f"{args.src} has no class folders: expected UCF-101/<Class>/v_<Class>_gNN_cNN.avi.")
    lines = []
    if split != "all":
        if not args.splits_dir: fail(f"--split {split} needs --splits-dir (the official ucfTrainTestlist/ folder).")
        wanted, classes = split_list(args.splits_dir, split, args.fold)
        by_lower = {f.lower().replace("\\", "/"): f for f in files}   # the lists spell HandStandPushups, the folder Handstand
        lower_classes = [c.lower() for c in classes]
        missing = [w for w in wanted if w.lower() not in by_lower]
        if missing: lines.append(f"{len(missing)} video(s) of {split}list{args.fold:02d}.txt are not in {args.src}, e.g. {missing[0]}")
        files = [by_lower[w.lower()] for w in wanted if w.lower() in by_lower]
        labels = [lower_classes.index(Path(f).parts[0].lower()) for f in files]
    lines.insert(0, f"{split}: {len(files)} videos in {len(classes)} classes")
    if args.format == "shards":
        s = shards([(args.src / f, y) for f, y in zip(files, labels)], args.out / "shards", split, "video", args,
                   classes, root=args.src, min_frames=args.min_frames, ignored=ignored)
        lines.append(shard_summary(s))
    else:
        st = place([(args.src / f, f) for f in files], args.out / split, args.link, f"{split} files")
        lines.append(f"{args.link} {st['wrote']} file(s), kept {st['kept']} already there -> {args.out / split} "
                     "(unreadable or short videos are skipped by the loader, which counts them)")
    if ignored: lines.append(f"ignored {len(ignored)} non-video file(s), e.g. {ignored[0]}")
    summary(f"prepare_ucf101 -> {args.out}", lines)


if __name__ == "__main__":
    main()
