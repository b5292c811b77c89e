"""The latent cache (vitok.latents): resume after an interrupted encode, refusal of another tokenizer,
a damaged shard named with what to do."""
import json

import pytest
import torch
from safetensors.torch import load_file

from vitok import ViTok, ViTokConfig
from vitok.digits import digits
from vitok.latents import encode_latents, index_path, latent_dataset
from vitok.utils import CorruptFile

KW = dict(shard_size=32, batch=16, progress=False)


@pytest.fixture(scope="module")
def tok(tmp_path_factory):
    torch.manual_seed(0)
    return ViTok(ViTokConfig.from_name("U-U/8", channels=4, resolution=32)).save_pretrained(tmp_path_factory.mktemp("tok") / "tok")


@pytest.fixture(scope="module")
def full(tok, tmp_path_factory):
    out = tmp_path_factory.mktemp("full")
    return out, encode_latents(tok, digits("train", n=100), out, **KW)


def all_latents(folder):
    ds = latent_dataset(folder, sample=False)
    return torch.stack([ds.load(i)[0] for i in range(ds.n)]), [ds.load(i)[1] for i in range(ds.n)]


def test_resume_after_a_limit_equals_one_run(tok, full, tmp_path):
    ref, idx = full
    part = encode_latents(tok, digits("train", n=100), tmp_path, limit=40, **KW)      # stops inside shard 1
    assert part["written"] == 2 and not part["complete"] and part["total"] == 40
    with pytest.raises(ValueError, match="unfinished"): latent_dataset(tmp_path)
    rest = encode_latents(tok, digits("train", n=100), tmp_path, **KW)
    assert rest["written"] == 3 and rest["complete"] and rest["shards"] == idx["shards"] and rest["stats"] == idx["stats"]
    a, b = all_latents(ref), all_latents(tmp_path)
    assert torch.equal(a[0], b[0]) and a[1] == b[1]


def test_resume_after_losing_the_last_shard(tok, full, tmp_path):
    ref, idx = full
    encode_latents(tok, digits("train", n=100), tmp_path, **KW)
    p = index_path(tmp_path, "train")
    j = json.loads(p.read_text())
    last = j["shards"].pop()                                                       # killed before the index was updated
    (tmp_path / last["file"]).unlink()
    j["complete"], j["stats"] = False, None
    p.write_text(json.dumps(j))
    again = encode_latents(tok, digits("train", n=100), tmp_path, **KW)
    assert again["written"] == 1 and again["shards"] == idx["shards"] and again["complete"]
    assert torch.equal(all_latents(ref)[0], all_latents(tmp_path)[0])
    assert encode_latents(tok, digits("train", n=100), tmp_path, **KW)["written"] == 0


def test_another_tokenizer_or_data_is_refused(tok, full):
    ref, _ = full
    other = ViTok(ViTokConfig.from_name("U-U/8", channels=4, resolution=32))
    with pytest.raises(ValueError, match=r"already holds train latents of another tokenizer or data \(tokenizer_sha256"):
        encode_latents(other, digits("train", n=100), ref, **KW)
    with pytest.raises(ValueError, match=r"another tokenizer or data \(data: .*delete .*train-index.json"):
        encode_latents(tok, digits("val", n=100), ref, **KW)


def test_a_damaged_shard_is_named_and_encoded_again(tok, full, tmp_path):
    encode_latents(tok, digits("train", n=100), tmp_path, **KW)
    shard = tmp_path / "train-000001.safetensors"
    shard.write_bytes(shard.read_bytes()[:100])                                    # truncated
    for memory in (1 << 30, 0):                                                    # shards read whole, or row by row
        ds = latent_dataset(tmp_path, memory=memory)
        assert ds.in_memory == bool(memory)
        ds.load(0)                                                                 # shard 0 is fine
        with pytest.raises(CorruptFile, match=r"train-000001.safetensors is not a readable latent shard.*encode_latents again"):
            ds.load(40)
    again = encode_latents(tok, digits("train", n=100), tmp_path, **KW)
    assert again["written"] == 1
    assert torch.equal(all_latents(full[0])[0], all_latents(tmp_path)[0])


def test_a_builtin_spec_is_read_from_the_split_it_is_cached_as(tok, tmp_path):
    """Fails on the old main: encode_latents(TOK, 'builtin-digits', LAT, split='train') encoded the 1,000 held-out
    digits (`split` named the cache, not the data), so a DiT trained and validated on the same samples."""
    for split in ("train", "val"):
        encode_latents(tok, "builtin-digits", tmp_path / "spec", split=split, limit=40, **KW)
        encode_latents(tok, digits(split, n=40), tmp_path / f"obj-{split}", split=split, **KW)
        spec, obj = (load_file(str(d / f"{split}-000000.safetensors")) for d in (tmp_path / "spec", tmp_path / f"obj-{split}"))
        assert torch.equal(spec["mean"], obj["mean"]) and torch.equal(spec["label"], obj["label"])   # the first 32 samples
    with pytest.raises(ValueError, match="split must be 'train' or 'val'"):
        encode_latents(tok, "builtin-digits", tmp_path / "bad", split="test", **KW)


def test_a_cache_holds_one_tokenizer(tok, full, tmp_path):
    "Fails on the old main: val latents of another tokenizer were written beside the train split without a word."
    other = ViTok(ViTokConfig.from_name("U-U/8", channels=4, resolution=32))
    encode_latents(tok, digits("train", n=40), tmp_path, **KW)
    with pytest.raises(ValueError, match=r"holds train latents of another tokenizer .*a cache holds one tokenizer"):
        encode_latents(other, digits("val", n=40), tmp_path, split="val", **KW)
    assert not index_path(tmp_path, "val").exists()
