"""Integration tests of vitok's data modules and data_scripts/: files on disk (folders built here from
the built-in photos and videos, each with one corrupt file and one stray text file among them),
DataLoader worker processes, simulated ranks, shards, and the preparation scripts. The unit checks
live in the notebooks nbs/10_transforms ... nbs/15_data."""
import importlib.util, json, subprocess, sys
from pathlib import Path
import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader
from vitok.builtin import builtin_images, builtin_videos
from vitok.data import eval_data, make_dataset, make_loader
from vitok.folders import ImageFolder, image_folder, video_folder
from vitok.media import Unreadable, clip_indices, read_clip, video_info, write_video
from vitok.shards import ShardDataset, folder_shards, shard_dataset
from vitok.transforms import to_uint8

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ROOT / "data_scripts"


def script(name):
    "Import data_scripts/NAME.py as a module (its main(argv) runs in this process: no torch re-import)."
    spec = importlib.util.spec_from_file_location(f"ds_{name}", SCRIPTS / f"{name}.py")
    mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)
    return mod


def pixels(x):
    return to_uint8(x).numpy().tobytes()


def truncate(path, keep):
    path.write_bytes(path.read_bytes()[:keep])


# ---------------------------------------------------------------- fixtures
@pytest.fixture(scope="session")
def image_dir(tmp_path_factory):
    "3 class folders x 4 images (PNG and JPEG, 80x64) cut from the training photos, a truncated JPEG, a text file."
    d = tmp_path_factory.mktemp("images")
    ds = builtin_images("train", 80, seed=7, n=12, labels=True)
    for i, (x, _) in enumerate(ds):
        c = d / f"class{i % 3}"; c.mkdir(exist_ok=True)
        img = Image.fromarray(to_uint8(x).permute(1, 2, 0).numpy()).crop((0, 0, 80, 64))
        img.save(c / f"img{i:02d}.{'png' if i % 2 == 0 else 'jpg'}")
    Image.new("RGB", (80, 64), (200, 10, 10)).save(d / "class0" / "broken.jpg", quality=95)
    truncate(d / "class0" / "broken.jpg", 200)
    (d / "notes.txt").write_text("a stray text file, not an image")
    return d


@pytest.fixture(scope="session")
def video_dir(tmp_path_factory):
    "2 class folders of 20-frame 64x48 clips (.mp4 and .avi) from the built-in videos, a truncated .mp4, a text file."
    d = tmp_path_factory.mktemp("videos")
    (d / "bunny").mkdir(); (d / "street").mkdir()
    clips = list(builtin_videos(frames=20, resolution=64, stride=2, n=4, seed=3))
    for i, x in enumerate(clips):
        write_video(d / ("bunny" if i < 2 else "street") / f"clip{i}.{'mp4' if i % 2 == 0 else 'avi'}", x[:, :, :48])
    (d / "street" / "broken.mp4").write_bytes((d / "bunny" / "clip0.mp4").read_bytes()[:1500])
    (d / "README.txt").write_text("a stray text file, not a video")
    return d


# ---------------------------------------------------------------- built-in data
def test_builtin_crops_independent_of_workers():
    "Training crops are a function of (seed, epoch, i), however many DataLoader workers made them."
    one = sorted(pixels(x) for x in builtin_images("train", 48, seed=5, n=8))
    two = sorted(pixels(x) for b in DataLoader(builtin_images("train", 48, seed=5, n=8), batch_size=2, num_workers=2) for x in b)
    assert one == two and len(set(one)) == 8
    ds = builtin_images("train", 48, seed=5, n=8); ds.set_epoch(1)
    assert sorted(pixels(x) for x in ds) != one


# ---------------------------------------------------------------- image folders
def test_image_folder_eval(image_dir):
    ds = image_folder(image_dir, 32, labels=True)
    got = list(ds)
    assert len(got) == 12 and ds.skipped == 1 and ds.ignored == ["notes.txt"]
    assert "broken.jpg" in ds.report() and "notes.txt" in ds.report()
    assert ds.classes == ["class0", "class1", "class2"] and sorted(y for _, y in got) == [0] * 4 + [1] * 4 + [2] * 4
    assert all(x.shape == (3, 32, 32) and -1 <= x.min() and x.max() <= 1 for x, _ in got)
    assert all(torch.equal(x, y) for (x, _), (y, _) in zip(got, image_folder(image_dir, 32, labels=True)))


def test_image_folder_train_crops_deterministic(image_dir):
    a, b = image_folder(image_dir, 32, train=True, seed=1), image_folder(image_dir, 32, train=True, seed=1)
    assert [pixels(x) for x in a] == [pixels(x) for x in b]                 # same order, same crops
    c = image_folder(image_dir, 32, train=True, seed=2)
    assert sorted(pixels(x) for x in a) != sorted(pixels(x) for x in c)
    a.set_epoch(1)
    assert [pixels(x) for x in a] != [pixels(x) for x in b]


def test_skips_counted_across_workers(image_dir, tmp_path):
    ds = image_folder(image_dir, 32)
    batches = list(DataLoader(ds, batch_size=5, num_workers=2))
    assert sum(len(b) for b in batches) == 12 and ds.skipped == 1
    assert "Truncated" in ds.report() or "truncated" in ds.report()
    (tmp_path / "a.png").write_text("text in a file named .png")
    Image.new("RGB", (8, 8)).save(tmp_path / "b.png")
    ds = image_folder(tmp_path, 8)
    assert len(list(ds)) == 1 and ds.skipped == 1 and "not a readable image" in ds.report()


def test_missing_and_empty_folders_name_the_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="no_such_dir"):
        image_folder(tmp_path / "no_such_dir")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="empty"):
        video_folder(tmp_path / "empty")
    (tmp_path / "txt").mkdir(); (tmp_path / "txt" / "a.txt").write_text("x")
    with pytest.raises(ValueError, match="txt"):
        image_folder(tmp_path / "txt")
    with pytest.raises(FileNotFoundError, match="nowhere"):
        make_dataset(str(tmp_path / "nowhere"))
    with pytest.raises(FileNotFoundError, match="missing"):
        shard_dataset(str(tmp_path / "s-{000000..000003}.tar"))
    with pytest.raises(ValueError, match="class sub-folders"):
        image_folder(_flat(tmp_path), labels=True)


def _flat(tmp_path):
    d = tmp_path / "flat"; d.mkdir()
    Image.new("RGB", (8, 8)).save(d / "x.png")
    return d


# ---------------------------------------------------------------- shards
@pytest.fixture(scope="session")
def shards(image_dir, tmp_path_factory):
    "make_shards.py run as a command on the image folder: 13 image files, 3 per shard -> 5 shards."
    out = tmp_path_factory.mktemp("shards")
    r = subprocess.run([sys.executable, str(SCRIPTS / "make_shards.py"), str(image_dir), str(out), "--prefix", "train",
                        "--shard-size", "3", "--workers", "0"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "wrote 5 shard(s)" in r.stdout and "broken.jpg" in r.stdout and "notes.txt" in r.stdout, r.stdout
    return out


def test_shards_round_trip_png_pixels(shards, image_dir):
    index = json.loads((shards / "train-index.json").read_text())
    assert index["total"] == 12 and len(index["shards"]) == 5 and [s[0] for s in index["skipped"]] == ["class0/broken.jpg"]
    got = {}
    for x, y in shard_dataset(shards / "train-index.json", resolution=None, labels=True):
        got[pixels(x)] = y
    pngs = sorted(image_dir.glob("class*/*.png"))
    assert len(pngs) == 6
    for p in pngs:                                   # every PNG comes back with identical pixels and its label
        key = np.array(Image.open(p).convert("RGB")).transpose(2, 0, 1).tobytes()
        assert got.get(key) == int(p.parent.name[-1])
    for p in image_dir.glob("class*/img*.jpg"):      # JPEG bytes are stored as they were: same decode
        key = np.array(Image.open(p).convert("RGB")).transpose(2, 0, 1).tobytes()
        assert key in got


def test_make_shards_resumes(shards, image_dir, capsys):
    (shards / "train-000004.tar").unlink()                      # as if the last shard was never finished
    s = script("make_shards").main([str(image_dir), str(shards), "--shard-size", "3", "--workers", "0"])
    assert (s["written"], s["resumed"], s["samples"]) == (1, 4, 12)
    assert "skipped 4 finished shard(s)" in capsys.readouterr().out
    with pytest.raises(SystemExit):                              # a different plan must not mix with the old shards
        script("make_shards").main([str(image_dir), str(shards), "--shard-size", "4", "--workers", "0"])
    assert "different file list" in capsys.readouterr().err


class _Keys(ShardDataset):
    def decode(self, s): return s["__key__"]


class _Meta(ShardDataset):
    def decode(self, s): return json.loads(s["json"])


class _Index(ImageFolder):
    def load(self, i): return i


@pytest.mark.parametrize("train", [False, True])
def test_two_ranks_two_workers_see_each_sample_once(shards, image_dir, train):
    def epoch(make, e):
        seen = []
        for rank in range(2):
            ds = make(rank); ds.set_epoch(e)
            seen += [k for b in DataLoader(ds, batch_size=2, num_workers=2) for k in (b.tolist() if torch.is_tensor(b) else b)]
        return seen
    for e in range(2):
        keys = epoch(lambda r: _Keys(shards, train=train, rank=r, world_size=2), e)
        assert len(keys) == 12 and len(set(keys)) == 12
        idx = epoch(lambda r: _Index(image_dir, train=train, rank=r, world_size=2), e)
        assert sorted(idx) == list(range(13))
    # and the real decoded pixels: 2 ranks x 2 workers give back exactly the one-process set
    one = sorted(pixels(x) for x in shard_dataset(shards, 32))
    two = sorted(pixels(x) for r in range(2) for b in DataLoader(shard_dataset(shards, 32, rank=r, world_size=2),
                                                               batch_size=3, num_workers=2) for x in b)
    assert one == two


# ---------------------------------------------------------------- videos
def test_video_folder(video_dir):
    ds = video_folder(video_dir, frames=8, resolution=32, stride=2, labels=True)
    got = list(ds)
    assert [tuple(x.shape) for x, _ in got] == [(3, 8, 32, 32)] * 4 and sorted(y for _, y in got) == [0, 0, 1, 1]
    assert ds.skipped == 1 and "broken.mp4" in ds.report() and ds.ignored == ["README.txt"]
    ds = video_folder(video_dir, frames=8, resolution=32, train=True)
    xs = [x for b in DataLoader(ds, batch_size=2, num_workers=2) for x in b]
    assert len(xs) == 4 and xs[0].shape == (3, 8, 32, 32) and ds.skipped == 1


def test_short_video_skipped(tmp_path, video_dir):
    (tmp_path / "v").mkdir()
    write_video(tmp_path / "v" / "long.mp4", np.zeros((12, 16, 16, 3), np.uint8))
    write_video(tmp_path / "v" / "short.mp4", np.zeros((6, 16, 16, 3), np.uint8))
    ds = video_folder(tmp_path / "v", frames=8, resolution=16)
    assert len(list(ds)) == 1 and ds.skipped == 1 and "fewer than the 8" in ds.report()
    with pytest.raises(Unreadable, match="fewer than"):
        read_clip(tmp_path / "v" / "short.mp4", 8)


def test_video_shards(video_dir, tmp_path, capsys):
    s = script("make_shards").main([str(video_dir), str(tmp_path), "--prefix", "ucf", "--shard-size", "2",
                                    "--min-frames", "16", "--workers", "0"])
    assert s["samples"] == 4 and [r for r, _ in s["skipped"]] == ["street/broken.mp4"]
    ds = make_dataset(str(tmp_path / "ucf-index.json"), 32, train=False, frames=8, stride=2, labels=True)
    got = list(ds)
    assert [tuple(x.shape) for x, _ in got] == [(3, 8, 32, 32)] * 4 and sorted(y for _, y in got) == [0, 0, 1, 1]
    ref = {pixels(x) for x in video_folder(video_dir, frames=8, resolution=32, stride=2)}
    assert {pixels(x) for x, _ in got} == ref                   # the same clips as from the folder
    s = script("make_shards").main([str(video_dir), str(tmp_path / "long"), "--min-frames", "21", "--workers", "0"])
    assert s["samples"] == 0 and len(s["skipped"]) == 5


# ---------------------------------------------------------------- fps, end to end
@pytest.fixture(scope="session")
def ramp_dir(tmp_path_factory):
    "Two class folders of 24 fps videos whose frame k is a flat grey of level 5k (48 and 30 frames)."
    d = tmp_path_factory.mktemp("ramps")
    levels = np.repeat(np.arange(0, 240, 5, dtype=np.uint8), 16 * 16 * 3).reshape(48, 16, 16, 3)
    (d / "a").mkdir(); (d / "b").mkdir()
    write_video(d / "a" / "long.mp4", levels, fps=24); write_video(d / "b" / "short.avi", levels[:30], fps=24)
    return d


def which(x):
    "The frame indices of a ramp clip (3,T,H,W), read back from its grey levels."
    return (to_uint8(x).float().mean(dim=(0, 2, 3)) / 5).round().int().tolist()


def test_fps_picks_the_frames_from_every_source(ramp_dir, tmp_path):
    "fps=8 on 24 fps videos reads every 3rd frame, through make_dataset, from a folder, from shards and from the built-in videos."
    folder_shards(ramp_dir, tmp_path, "ramp", shard_size=1, shuffle=False, progress=False)
    for spec in (str(ramp_dir), str(tmp_path / "ramp-index.json")):
        clips = lambda **kw: sorted(which(x) for x in make_dataset(spec, 16, train=False, frames=4, **kw))
        assert clips(fps=8) == sorted([clip_indices(48, 4, 3), clip_indices(30, 4, 3)]) == [[10, 13, 16, 19], [19, 22, 25, 28]]
        assert clips() == [[13, 14, 15, 16], [22, 23, 24, 25]]                # stride 1: consecutive frames
        assert sorted(which(x) for x in eval_data(spec, 16, frames=4, fps=8)) == clips(fps=8)
        train = make_dataset(spec, 16, train=True, frames=4, fps=8, seed=1)   # random starts, in worker processes
        got = [which(c) for b in DataLoader(train, batch_size=1, num_workers=2) for c in b]
        assert len(got) == 2 and all(b - a == 3 for w in got for a, b in zip(w, w[1:])), got
    rate = video_info(builtin_videos(4, 16, split="val").videos[0].paths()[0])["fps"]
    val = lambda **kw: list(make_dataset("builtin-videos", 16, train=False, frames=4, n=3, **kw))
    at_fps, every_3rd, every = val(fps=rate / 3), val(stride=3), val()
    assert all(torch.equal(a, b) for a, b in zip(at_fps, every_3rd))
    assert not any(torch.equal(a, b) for a, b in zip(at_fps, every))


# ---------------------------------------------------------------- the spec string
def test_make_dataset_and_loader(image_dir, video_dir, shards):
    assert make_dataset("builtin", 32, train=True).train and not make_dataset("builtin", 32, train=False).train
    assert make_dataset("builtin-videos", 32, frames=4).frames == 4
    assert isinstance(make_dataset(str(image_dir), 32), ImageFolder)
    assert make_dataset(str(video_dir), 32, frames=4).frames == 4
    assert isinstance(make_dataset(str(shards / "train-{000000..000004}.tar"), 32), ShardDataset)
    assert isinstance(make_dataset(str(shards / "train-*.tar"), 32), ShardDataset)
    x, y = next(iter(make_loader(str(shards), batch_size=4, num_workers=0, resolution=32, labels=True)))
    assert x.shape == (4, 3, 32, 32) and y.dtype == torch.int64


# ---------------------------------------------------------------- preparation scripts
@pytest.mark.parametrize("name", ["make_shards", "prepare_imagenet", "prepare_coco", "prepare_ucf101", "prepare_kinetics"])
def test_scripts_have_help(name, capsys):
    with pytest.raises(SystemExit) as e:
        script(name).main(["--help"])
    assert e.value.code == 0 and "usage:" in capsys.readouterr().out


def test_prepare_imagenet(image_dir, tmp_path, capsys):
    src = tmp_path / "imagenet"
    for f in image_dir.glob("class*/*"):                      # train/<wnid>/..., a flat val/ with a labels file
        (src / "train" / f.parent.name.replace("class", "n0")).mkdir(parents=True, exist_ok=True)
        (src / "train" / f.parent.name.replace("class", "n0") / f.name).write_bytes(f.read_bytes())
    (src / "val").mkdir()
    lines = []
    for i, f in enumerate(sorted(image_dir.glob("class*/img*"))[:6]):
        name = f"ILSVRC2012_val_{i:08d}{f.suffix}"
        (src / "val" / name).write_bytes(f.read_bytes()); lines.append(f"{name} {f.parent.name.replace('class', 'n0')}")
    (src / "val.txt").write_text("\n".join(lines))
    argv = [str(src), str(tmp_path / "out"), "--val-labels", str(src / "val.txt"), "--crops", "32", "48",
            "--shard-size", "4", "--workers", "0"]
    mod = script("prepare_imagenet")
    mod.main(argv)
    out = capsys.readouterr().out
    assert "skipped 1 unreadable" in out and "val crops" in out
    crops = sorted((tmp_path / "out" / "val_32").rglob("*.png"))
    assert len(crops) == 6 and Image.open(crops[0]).size == (32, 32)
    assert len(list((tmp_path / "out" / "val_48").rglob("*.png"))) == 6
    val = json.loads((tmp_path / "out" / "shards" / "val-index.json").read_text())
    assert val["total"] == 6 and val["classes"] == ["n00", "n01", "n02"]
    wnid = dict(line.split() for line in lines)
    for meta in _Meta(tmp_path / "out" / "shards" / "val-index.json"):    # each val label is its wnid's train index
        assert val["classes"][meta["label"]] == wnid[meta["path"]]
    ds = image_folder(tmp_path / "out" / "val_32", 32, labels=True)
    assert len(list(ds)) == 6 and set(ds.classes) <= set(val["classes"])
    mod.main(argv)                                              # rerun: everything is already there
    out = capsys.readouterr().out
    assert "wrote 0 shard(s)" in out and "wrote 0 image(s), kept 6" in out
    with pytest.raises(SystemExit):
        mod.main([str(src), str(tmp_path / "o2"), "--workers", "0"])      # flat val without labels
    assert "--val-labels" in capsys.readouterr().err


def test_prepare_coco(image_dir, tmp_path, capsys):
    src = tmp_path / "val2017"; src.mkdir()
    for f in image_dir.glob("class*/*"): (src / f"{f.parent.name}_{f.name}").write_bytes(f.read_bytes())
    script("prepare_coco").main([str(src), str(tmp_path / "coco"), "--crops", "32", "--shards", "--workers", "0"])
    out = capsys.readouterr().out
    assert len(list((tmp_path / "coco" / "val_32").glob("*.png"))) == 12 and "skipped 1 unreadable" in out
    assert json.loads((tmp_path / "coco" / "shards" / "val-index.json").read_text())["total"] == 12


def test_prepare_ucf101(video_dir, tmp_path, capsys):
    src = tmp_path / "UCF-101"
    for f in video_dir.glob("*/*"):
        cls = {"bunny": "HandstandPushups", "street": "ApplyEyeMakeup"}[f.parent.name]
        (src / cls).mkdir(parents=True, exist_ok=True)
        (src / cls / f"v_{cls}_g01_{f.stem}{f.suffix}").write_bytes(f.read_bytes())
    lists = tmp_path / "ucfTrainTestlist"; lists.mkdir()
    (lists / "classInd.txt").write_text("1 ApplyEyeMakeup\n2 HandstandPushups\n")
    (lists / "trainlist01.txt").write_text(     # the official list spells HandStandPushups
        "HandStandPushups/v_HandstandPushups_g01_clip0.mp4 2\nApplyEyeMakeup/v_ApplyEyeMakeup_g01_clip2.mp4 1\n"
        "ApplyEyeMakeup/v_ApplyEyeMakeup_g01_broken.mp4 1\n")
    (lists / "testlist01.txt").write_text("HandstandPushups/v_HandstandPushups_g01_clip1.avi\n")
    mod = script("prepare_ucf101")
    mod.main([str(src), str(tmp_path / "ucf"), "--splits-dir", str(lists), "--min-frames", "8", "--workers", "0"])
    out = capsys.readouterr().out
    assert "train: 3 videos" in out and "skipped 1 unreadable" in out
    ds = shard_dataset(tmp_path / "ucf" / "shards" / "train-index.json", 32, frames=8, labels=True)
    assert sorted(y for _, y in ds) == [0, 1]
    mod.main([str(src), str(tmp_path / "ucf"), "--splits-dir", str(lists), "--split", "test", "--format", "folders", "--workers", "0"])
    assert len(list((tmp_path / "ucf" / "test").rglob("*.avi"))) == 1


def test_prepare_kinetics(video_dir, tmp_path, capsys):
    src = tmp_path / "k700"; src.mkdir()
    rows, ids = ["label,youtube_id,time_start,time_end,split"], {}
    for i, f in enumerate(sorted(video_dir.glob("*/*.*[4i]"))):
        yid = f"vid{i:08d}"; ids[yid] = f.parent.name
        (src / f"{yid}_000010_000020{f.suffix}").write_bytes(f.read_bytes())
        if i < 4: rows.append(f"{f.parent.name},{yid},10,20,val")
    (src / "val.csv").write_text("\n".join(rows))
    script("prepare_kinetics").main([str(src), str(tmp_path / "k"), "--annotations", str(src / "val.csv"), "--short-side", "32",
                                     "--min-frames", "8", "--workers", "0"])
    out = capsys.readouterr().out
    assert "without a label" in out and "shards" in out
    resized = sorted((tmp_path / "k" / "resized_32").glob("*.mp4"))
    assert resized and all(min(video_info(r)["width"], video_info(r)["height"]) == 32 for r in resized)
    ds = shard_dataset(tmp_path / "k" / "shards" / "val-index.json", 32, frames=8, labels=True)
    assert all(x.shape == (3, 8, 32, 32) for x, _ in ds)


@pytest.mark.slow
def test_parallel_shard_writing_matches_serial(image_dir, tmp_path):
    a = folder_shards(image_dir, tmp_path / "a", shard_size=3, workers=0, progress=False)
    b = folder_shards(image_dir, tmp_path / "b", shard_size=3, workers=2, progress=False)
    assert a["samples"] == b["samples"] == 12
    for t in sorted((tmp_path / "a").glob("*.tar")):
        assert sorted(pixels(x) for x in shard_dataset([str(t)], None)) == \
               sorted(pixels(x) for x in shard_dataset([str(tmp_path / "b" / t.name)], None))


def test_bad_samples_and_shards_are_counted(tmp_path):
    import io, webdataset as wds
    png = io.BytesIO(); Image.new("RGB", (8, 8), (1, 2, 3)).save(png, format="PNG")
    for k in range(2):
        with wds.TarWriter(str(tmp_path / f"s-{k:06d}.tar"), encoder=False) as w:
            w.write({"__key__": "good", "png": png.getvalue(), "cls": b"0"})
            w.write({"__key__": "bad", "jpg": b"not a jpeg", "cls": b"0"})
    truncate(tmp_path / "s-000001.tar", 700)                 # a shard cut short by a failed copy
    ds = shard_dataset(str(tmp_path / "s-{000000..000001}.tar"), 8)
    xs = [x for b in DataLoader(ds, batch_size=1, num_workers=2) for x in b]
    assert len(xs) == 1 and ds.skipped == 2                   # shard 0: 1 good, 1 bad sample; shard 1: unreadable
    assert "1 unreadable sample" in ds.report() and "s-000001.tar" in ds.report()


def test_a_folder_walk_sees_each_file_once_whatever_links_it_holds(tmp_path):
    "Fails on the old main: a link loop and a second link to a class folder made image_folder count one file many times."
    import numpy as np
    from PIL import Image
    from vitok.folders import image_folder
    (tmp_path / "c" / "sub").mkdir(parents=True)
    Image.fromarray(np.zeros((40, 40, 3), np.uint8)).save(tmp_path / "c" / "sub" / "1.png")
    (tmp_path / "c" / "sub" / "loop").symlink_to(tmp_path / "c")
    (tmp_path / "d").symlink_to(tmp_path / "c")
    (tmp_path / "c" / "again.png").symlink_to(tmp_path / "c" / "sub" / "1.png")
    ds = image_folder(tmp_path, 32)
    assert ds.n == 1 and len(list(ds)) == 1


def test_a_cached_image_folder_gives_the_same_samples_and_skips_in_workers(image_dir):
    "Decoded images kept in memory (issue 25): bitwise the same training crops over two epochs, in DataLoader workers too; the broken file skipped and counted."
    on, off = (image_folder(image_dir, 32, train=True, seed=4, cache=c) for c in (True, False))
    assert on.cache and not off.cache and image_folder(image_dir, 32).cache        # the automatic rule: 13 small files
    assert not make_dataset(str(image_dir), 32, cache=False).cache                  # the choice reaches make_dataset's folders
    for epoch in range(2):
        for ds in (on, off): ds.set_epoch(epoch)
        got = [[pixels(x) for b in DataLoader(ds, batch_size=5, num_workers=2) for x in b] for ds in (on, off)]
        assert got[0] == got[1] and len(got[0]) == 12 and on.skipped == off.skipped == 1
    first = [pixels(x) for x in on]                                                 # this process fills its own cache
    assert len(on._images) == 12 and first == [pixels(x) for x in off]
    assert sorted(pixels(x) for b in DataLoader(on, batch_size=5, num_workers=2) for x in b) == sorted(first)   # workers inherit it
