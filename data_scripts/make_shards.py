#!/usr/bin/env python
"""Pack any image or video folder into webdataset tar shards with an index.

  python data_scripts/make_shards.py SRC OUT [--prefix train] [--shard-size 1000] [--workers 8]

SRC holds images (.jpg .png ...) or videos (.mp4 .avi ...), flat or in class sub-folders (the
sorted sub-folder names become integer labels). OUT gets PREFIX-000000.tar, PREFIX-000001.tar, ...
and PREFIX-index.json (shards, sample counts, classes, skipped files). Each sample keeps the
original file bytes (no re-encoding: PNG pixels round-trip exactly), plus .cls (label) and .json
(path, label, size; frames and fps for videos). Every file is decoded once: corrupt files, non-image
content and videos shorter than --min-frames are skipped and listed. Rerunning skips finished shards.
Read the result with `vitok.data.shard_dataset("OUT/PREFIX-index.json")` or `--data OUT`."""
from __future__ import annotations
import sys
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import add_shard_args, fail, parser, shards, summary
from vitok.folders import folder_kind, scan_folder
from vitok.media import IMAGE_EXTS, VIDEO_EXTS
from vitok.shards import shard_summary


def main(argv=None):
    p = parser(__doc__)
    p.add_argument("src", type=Path, help="image or video folder")
    p.add_argument("out", type=Path, help="output folder for the shards and the index")
    p.add_argument("--prefix", default="train", help="shard name prefix, e.g. train or val (default train)")
    p.add_argument("--kind", choices=["auto", "image", "video"], default="auto",
                   help="what SRC holds (default: whichever extension is more common)")
    p.add_argument("--min-frames", type=int, default=1, help="videos with fewer frames are skipped (default 1)")
    add_shard_args(p)
    args = p.parse_args(argv)
    try:
        kind = folder_kind(args.src) if args.kind == "auto" and args.src.is_dir() else args.kind
        kind = "image" if kind == "auto" else kind
        files, classes, labels, ignored = scan_folder(args.src, VIDEO_EXTS if kind == "video" else IMAGE_EXTS, kind)
        s = shards([(args.src / f, y) for f, y in zip(files, labels)], args.out, args.prefix, kind, args,
                   classes=classes, root=args.src, min_frames=args.min_frames, ignored=ignored)
    except (FileNotFoundError, NotADirectoryError, ValueError) as e:
        fail(str(e))
    summary(f"make_shards: {len(files)} {kind} file(s) from {args.src}, {len(classes)} classes", [shard_summary(s)])
    return s


if __name__ == "__main__":
    main()
