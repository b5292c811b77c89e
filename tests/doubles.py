"""Test doubles for the pretrained networks behind LPIPS, rFID/rIS and rFVD.

Nothing can be downloaded on the test machines, so the real loading paths of `vitok.metrics` and
`vitok.fvd` are exercised with randomly initialised networks **saved in the real file formats** and
loaded through the real code. They check properties (distance 0 to itself, growth with noise), never
a number that would be reported. This module is not part of the package: the tests import it from
here, and notebooks that demonstrate a metric do
`sys.path.insert(0, str(Path("../tests").resolve())); from doubles import save_random_inception`.
"""
from __future__ import annotations

import os
import warnings
from pathlib import Path
from unittest import mock

import torch
import torch.nn as nn
import torch.nn.functional as F


def offline(folder, downloads: bool = False):
    """Context: the environment of a machine without pretrained weights: `$VITOK_WEIGHTS` is `folder/weights`,
    torch hub's cache is under `folder/torch`, downloads are off (unless `downloads`). Restored afterwards."""
    folder = Path(folder)
    return mock.patch.dict(os.environ, {"VITOK_WEIGHTS": str(folder / "weights"), "TORCH_HOME": str(folder / "torch"),
                                        "VITOK_OFFLINE": "0" if downloads else "1"})


def trust(key: str, path, table: dict | None = None):
    """Context: accept the file at `path` (a double) as weights `key` inside the block: its SHA-256 becomes the
    only hash `key` must have. In-process only: it patches `table` (default `vitok.metrics.WEIGHTS`; a notebook
    that defines its own table passes it); restored afterwards. A double can never match the hash in the real
    file's name, so without this it is refused like any wrong file."""
    import dataclasses
    from vitok.utils import file_sha256
    if table is None: from vitok.metrics import WEIGHTS as table
    w = dataclasses.replace(table[key], hash_prefix=None, sha256=file_sha256(path))
    return mock.patch.dict(table, {key: w})


def save_random_vgg16(path, seed: int = 0) -> Path:
    "torchvision VGG16 `features.*` (VGG's own Kaiming init) saved as a state_dict to `path`."
    from torchvision.models.vgg import make_layers, cfgs
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        feats = make_layers(cfgs["D"])         # exactly vgg16().features, without the 500 MB classifier
        for m in feats.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu"); nn.init.zeros_(m.bias)
    path = Path(path); path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({f"features.{k}": v for k, v in feats.state_dict().items()}, path)
    return path


def save_random_inception(path, seed: int = 0) -> Path:
    """torch-fidelity's InceptionV3 graph with Kaiming-normal convolutions, saved to `path` in the format
    `vitok.metrics.load_weights` reads (a state_dict,
    `weights_only=True`); `trust` makes the policy accept it. PyTorch's default init shrinks activations layer after layer
    until every image gives the same features and FID collapses to 0; Kaiming keeps them apart."""
    import torch_fidelity.feature_extractor_inceptionv3 as fe

    class _Graph(fe.FeatureExtractorInceptionV3):         # build the layers, skip the weights load
        def load_state_dict(self, *a, **k): return None

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        with mock.patch.object(fe, "load_state_dict_from_url", lambda *a, **k: None):
            net = _Graph("inception-v3-compat", ["2048"])
        for m in net.modules():
            if isinstance(m, nn.Conv2d): nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
    path = Path(path); path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(net.state_dict(), path)
    return path


class _Unit3D(nn.Module):
    def __init__(self, cin: int, cout: int, k: int = 1, stride: int = 1):
        super().__init__()
        self.conv = nn.Conv3d(cin, cout, k, stride, padding=k // 2, bias=False)
        self.bn = nn.BatchNorm3d(cout, eps=1e-3)

    def forward(self, x): return F.relu(self.bn(self.conv(x)))


class _Mixed3D(nn.Module):
    "Four branches: 1x1x1; 1x1x1 -> 3x3x3; 1x1x1 -> 3x3x3; max pool -> 1x1x1; concatenated (4w channels)."
    def __init__(self, cin: int, w: int):
        super().__init__()
        self.b0 = _Unit3D(cin, w)
        self.b1 = nn.Sequential(_Unit3D(cin, w), _Unit3D(w, w, 3))
        self.b2 = nn.Sequential(_Unit3D(cin, w // 2), _Unit3D(w // 2, w, 3))
        self.b3 = nn.Sequential(nn.MaxPool3d(3, 1, 1), _Unit3D(cin, w))

    def forward(self, x): return torch.cat([self.b0(x), self.b1(x), self.b2(x), self.b3(x)], 1)


class RandomI3D(nn.Module):
    """A small, randomly initialised I3D-shaped network with the TorchScript detector's call signature:
    a 7x7x7 stride-2 stem, spatial max pools, two inception-style mixed blocks, global average pool,
    a 1x1x1 convolution to 400 logits."""
    def __init__(self, size: int = 224, width: int = 8, classes: int = 400):
        super().__init__()
        w, self.size = width, size
        self.features = nn.Sequential(
            _Unit3D(3, w, 7, 2), nn.MaxPool3d((1, 3, 3), (1, 2, 2), (0, 1, 1)),
            _Unit3D(w, w), _Unit3D(w, 3 * w, 3), nn.MaxPool3d((1, 3, 3), (1, 2, 2), (0, 1, 1)),
            _Mixed3D(3 * w, w), nn.MaxPool3d(3, 2, 1), _Mixed3D(4 * w, 2 * w), nn.AdaptiveAvgPool3d(1))
        self.logits = nn.Conv3d(8 * w, classes, 1)
        for m in self.modules():
            if isinstance(m, nn.Conv3d): nn.init.kaiming_normal_(m.weight, nonlinearity="relu")

    def forward(self, x: torch.Tensor, rescale: bool = False, resize: bool = False,
                return_features: bool = False) -> torch.Tensor:
        if rescale: x = x / 127.5 - 1.0
        if resize: x = F.interpolate(x, size=(x.shape[2], self.size, self.size), mode="trilinear", align_corners=False)
        y = self.logits(self.features(x)).flatten(1)
        return y if return_features else y.softmax(1)


def save_random_i3d(path, size: int = 224, width: int = 8, seed: int = 0) -> Path:
    "Script a Kaiming-initialised `RandomI3D` and save it where `vitok.fvd.I3D` can load it."
    with torch.random.fork_rng(devices=[]), warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        torch.manual_seed(seed)
        net = torch.jit.script(RandomI3D(size, width).eval())
        path = Path(path); path.parent.mkdir(parents=True, exist_ok=True)
        torch.jit.save(net, str(path))
    return path
