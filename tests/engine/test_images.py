"""Image files <-> tensors for the engine (nst/engine/images.py); reading files is tests/test_image_files.py."""
import numpy as np
import torch
from PIL import Image

from nst.engine.images import load_tensor, pil_to_tensor, resize_tensor, save_tensor, tensor_to_pil


def test_resizing_keeps_aspect_and_never_enlarges(tmp_path):
    Image.fromarray(np.zeros((300, 500, 3), np.uint8)).save(tmp_path / "wide.png")
    assert load_tensor(tmp_path / "wide.png", 100).shape == (1, 3, 60, 100)
    assert load_tensor(tmp_path / "wide.png", 1000).shape == (1, 3, 300, 500)


def test_tensor_round_trip_is_exact_for_8_bit_images(tmp_path):
    pixels = np.random.default_rng(0).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    tensor = pil_to_tensor(Image.fromarray(pixels))
    assert tensor.shape == (1, 3, 5, 7) and tensor.dtype == torch.float32
    assert 0 <= tensor.min() and tensor.max() <= 1
    assert np.array_equal(np.asarray(tensor_to_pil(tensor)), pixels)
    save_tensor(tensor, tmp_path / "again.png")
    assert np.array_equal(np.asarray(Image.open(tmp_path / "again.png")), pixels)


def test_saving_rounds_to_the_nearest_level_and_clips():
    tensor = torch.tensor([0.7 / 255, 1.6 / 255, -0.2, 1.3]).view(1, 1, 2, 2).expand(1, 3, 2, 2)
    assert np.asarray(tensor_to_pil(tensor))[..., 0].tolist() == [[1, 2], [0, 255]]


def test_resize_tensor_gives_the_asked_shape():
    tensor = torch.rand(1, 3, 40, 60)
    assert resize_tensor(tensor, 20, 30).shape == (1, 3, 20, 30)


def test_within_remembered_loads_each_file_and_size_is_decoded_once(tmp_path, monkeypatch):
    from nst.engine import images

    pixels = np.random.default_rng(0).integers(0, 256, (60, 80, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(tmp_path / "photo.png")
    decoded = []
    read_rgb = images.read_rgb
    monkeypatch.setattr(images, "read_rgb", lambda path, size: decoded.append(size) or read_rgb(path, size))
    with images.remembered_loads():
        first = load_tensor(tmp_path / "photo.png", 64)
        first.mul_(0)  # a caller's own copy: changing it changes nothing remembered
        second = load_tensor(tmp_path / "photo.png", 64)
        assert decoded == [64]
        assert second.shape == (1, 3, 48, 64) and second.max() > 0
        # Shrunk, the image is the same with or without enlarge: not read again.
        assert torch.equal(load_tensor(tmp_path / "photo.png", 64, enlarge=True), second)
        assert decoded == [64]
        # Larger than the file, it is not: each is read once.
        assert load_tensor(tmp_path / "photo.png", 96).shape == (1, 3, 60, 80)
        assert load_tensor(tmp_path / "photo.png", 96, enlarge=True).shape == (1, 3, 72, 96)
        load_tensor(tmp_path / "photo.png", 96)
        load_tensor(tmp_path / "photo.png", 96, enlarge=True)
        assert decoded == [64, 96, 96]
        Image.fromarray(255 - pixels[:, :40]).save(tmp_path / "photo.png")  # rewritten meanwhile: read again
        assert load_tensor(tmp_path / "photo.png", 64).shape == (1, 3, 60, 40)
        assert decoded == [64, 96, 96, 64]
    load_tensor(tmp_path / "photo.png", 64)  # outside: every load reads the file
    assert decoded == [64, 96, 96, 64, 64]


def test_print_size_images_are_not_remembered(tmp_path, monkeypatch):
    from nst.engine import images

    Image.fromarray(np.zeros((96, 96, 3), np.uint8)).save(tmp_path / "big.png")
    monkeypatch.setattr(images, "REMEMBER_PIXELS", 95 * 95)
    decoded = []
    read_rgb = images.read_rgb
    monkeypatch.setattr(images, "read_rgb", lambda path, size: decoded.append(size) or read_rgb(path, size))
    with images.remembered_loads():
        load_tensor(tmp_path / "big.png", 96)
        load_tensor(tmp_path / "big.png", 96)
        load_tensor(tmp_path / "big.png", 64)
        load_tensor(tmp_path / "big.png", 64)
    assert decoded == [96, 96, 64]
