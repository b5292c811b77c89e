#!/usr/bin/env python
"""Prepare Kinetics-700 (or -400/-600) for vitok: optionally downscale, then pack into webdataset shards.

  python data_scripts/prepare_kinetics.py /data/k700/val /data/vitok/k700 --split val --short-side 256 --workers 16

SRC is either class folders (<class>/<youtube_id>_<start>_<end>.mp4) or a flat folder of .mp4 files
with --annotations, the official CSV (label,youtube_id,time_start,time_end,split); files are
matched by youtube id, and labels are the index of the class among the sorted class names.
--short-side S re-encodes each video with H.264 so its short side is S (Kinetics files range from
240p to 1080p; 256 keeps decoding cheap), into OUT/resized_S/; --max-videos N takes a seeded random
subset. Corrupt videos, videos shorter than --min-frames, and files without a label are skipped and
listed. Rerunning resumes: existing resized files and finished shards are skipped.
Use with vitok: `--data OUT/shards/val-index.json --frames 16 --fps 8`."""
from __future__ import annotations
import csv, random, shutil, sys
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parent))
import av
from _common import add_shard_args, fail, parser, pmap, shards, summary
from vitok.folders import scan_folder
from vitok.media import VIDEO_EXTS
from vitok.shards import shard_summary
from vitok.utils import atomic_write


def read_annotations(path: Path) -> dict:
    "youtube_id -> class name, from the official CSV."
    if not path.exists(): fail(f"--annotations {path} does not exist.")
    with open(path, newline="") as f:
        rows = {r["youtube_id"]: r["label"] for r in csv.DictReader(f)}
    if not rows: fail(f"--annotations {path} holds no rows (expected columns label,youtube_id,time_start,time_end,split).")
    return rows


def _even(x: float) -> int: return max(2, int(round(x / 2)) * 2)


def transcode(job):
    "Re-encode one video so its short side is `short` (H.264, no audio); copy it if already small enough."
    src, dst, short = job
    dst = Path(dst)
    if dst.exists(): return "kept", src, None
    try:
        with av.open(src) as inp, atomic_write(dst) as tmp:     # a video on disk is always complete
            s = inp.streams.video[0]
            scale = short / min(s.width, s.height)
            if scale >= 1:
                shutil.copyfile(src, tmp)
            else:
                w, h = _even(s.width * scale), _even(s.height * scale)
                with av.open(str(tmp), "w", format="mp4") as out:
                    o = out.add_stream("libx264", rate=s.average_rate or 25)
                    o.width, o.height, o.pix_fmt, o.options = w, h, "yuv420p", {"crf": "20", "preset": "fast"}
                    for f in inp.decode(s):
                        f = f.reformat(width=w, height=h, format="yuv420p")
                        f.pts = None
                        for pkt in o.encode(f): out.mux(pkt)
                    for pkt in o.encode(): out.mux(pkt)
        return "wrote", src, None
    except Exception as e:
        return "bad", src, f"{type(e).__name__}: {e}"


def main(argv=None):
    p = parser(__doc__)
    p.add_argument("src", type=Path, help="Kinetics folder: class folders, or flat .mp4 files with --annotations")
    p.add_argument("out", type=Path, help="output folder")
    p.add_argument("--split", default="val", help="shard prefix / split name (default val)")
    p.add_argument("--annotations", type=Path, help="official CSV (label,youtube_id,...) for a flat folder")
    p.add_argument("--short-side", type=int, default=0, help="re-encode to this short side first (default 0: keep files)")
    p.add_argument("--max-videos", type=int, default=0, help="use a random subset of this many videos (default 0: all)")
    p.add_argument("--min-frames", type=int, default=16, help="skip videos with fewer frames (default 16)")
    add_shard_args(p, shard_size=500)
    args = p.parse_args(argv)
    try: files, classes, labels, ignored = scan_folder(args.src, VIDEO_EXTS, "video")
    except (FileNotFoundError, NotADirectoryError, ValueError) as e: fail(str(e))
    lines, unlabelled = [], []
    if not classes:
        if not args.annotations: fail(f"{args.src} is a flat folder: give --annotations (the official {args.split}.csv) for labels.")
        ann = read_annotations(args.annotations)
        classes = sorted(set(ann.values()))
        keep = [(f, classes.index(ann[Path(f).stem[:11]])) for f in files if Path(f).stem[:11] in ann]
        unlabelled = [f for f in files if Path(f).stem[:11] not in ann]
        files, labels = [f for f, _ in keep], [y for _, y in keep]
    if args.max_videos and args.max_videos < len(files):
        pick = sorted(random.Random(args.seed).sample(range(len(files)), args.max_videos))
        files, labels = [files[i] for i in pick], [labels[i] for i in pick]
    lines.append(f"{args.split}: {len(files)} labelled videos in {len(classes)} classes")
    root, bad = args.src, []
    if args.short_side:
        root = args.out / f"resized_{args.short_side}"
        jobs = [(str(args.src / f), str((root / f).with_suffix(".mp4")), args.short_side) for f in files]
        stats = {"wrote": 0, "kept": 0}
        for status, src, why in pmap(transcode, jobs, args.workers, f"resize to {args.short_side}p", "video"):
            if status == "bad": bad.append((src, why))
            else: stats[status] += 1
        lines.append(f"resized: wrote {stats['wrote']}, kept {stats['kept']} already there, skipped {len(bad)} unreadable -> {root}"
                     + "".join(f"\n  skipped {s}: {w[:100]}" for s, w in bad[:10]))
        bad_set = {s for s, _ in bad}
        kept = [(str(Path(f).with_suffix(".mp4")), y) for f, y in zip(files, labels) if str(args.src / f) not in bad_set]
        files, labels = [f for f, _ in kept], [y for _, y in kept]
    s = shards([(root / f, y) for f, y in zip(files, labels)], args.out / "shards", args.split, "video", args, classes,
               root=root, min_frames=args.min_frames, ignored=ignored)
    lines.append(shard_summary(s))
    if unlabelled: lines.append(f"skipped {len(unlabelled)} video(s) without a label in {args.annotations}, e.g. {unlabelled[0]}")
    if ignored: lines.append(f"ignored {len(ignored)} non-video file(s), e.g. {ignored[0]}")
    summary(f"prepare_kinetics -> {args.out}", lines)


if __name__ == "__main__":
    main()
