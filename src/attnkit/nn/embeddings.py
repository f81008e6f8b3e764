"""Input embeddings: token vectors joined with absolute position information.

The two ways of joining are a config choice:

* ``"add"`` — ``x = e_token + p_position`` (Vaswani et al.): both live in the same
  ``d_model``-wide space;
* ``"concat"`` — ``x = [e_token ; p_position]``: the token part is ``d_model − pos_dim``
  wide and the position part ``pos_dim`` wide, so the two never interfere.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from attnkit.nn.dropout import Dropout
from attnkit.nn.positional import (
    ABSOLUTE_SCHEMES,
    LearnedPositionEmbedding,
    SinusoidalEncoding,
)

__all__ = ["COMBINE_MODES", "PATCH_STEMS", "InputEmbedding", "PatchEmbedding", "check_tokens"]

COMBINE_MODES = ("add", "concat")


def check_tokens(tokens: Tensor, vocab_size: int, name: str = "tokens") -> None:
    """Raise a ``ValueError`` unless ``tokens`` is a non-empty ``(B, T)`` integer tensor
    of ids below ``vocab_size`` — before any embedding lookup, which would otherwise
    fail with an opaque index error.
    """
    if not isinstance(tokens, Tensor) or tokens.dtype not in (torch.long, torch.int32):
        got = tokens.dtype if isinstance(tokens, Tensor) else type(tokens).__name__
        raise ValueError(f"{name} must be a torch.long tensor of token ids, got {got}")
    if tokens.dim() != 2:
        raise ValueError(f"{name} has shape {tuple(tokens.shape)}, expected (B, T)")
    if tokens.numel() == 0:
        raise ValueError(f"{name} is empty (shape {tuple(tokens.shape)}); pass at least one token")
    low, high = torch.aminmax(tokens)  # one pass instead of two: this runs every decoding step
    low, high = int(low), int(high)
    if low < 0 or high >= vocab_size:
        bad = low if low < 0 else high
        raise ValueError(f"{name} contains id {bad}, outside the vocabulary [0, {vocab_size})")


class InputEmbedding(nn.Module):
    """Token embedding plus (optionally) absolute positions, then dropout.

    Token ids are not checked here (models call :func:`check_tokens` once per input).

    For the schemes that act inside attention (relative, RoPE, ALiBi) and for ``"none"``
    this is a plain token embedding.

    Args:
        vocab_size: number of tokens ``V``.
        d_model: output width ``D``.
        positional: one of :data:`~attnkit.nn.positional.POSITIONAL_SCHEMES`.
        combine: ``"add"`` or ``"concat"`` (absolute schemes only).
        pos_dim: width of the position part when concatenating (default ``D // 4``).
        max_len: size of the learned position table.
        scale: multiply token vectors by ``√(token width)`` (the paper's convention).
        dropout: dropout on the result.
        padding_idx: token id whose embedding stays zero.
        token_embedding: an existing ``nn.Embedding`` to share (e.g. between encoder
            and decoder); its width must be the token width.
        type_vocab_size: number of token types (BERT's segments); ``0`` = none. A type
            vector is added to the token vector (before the position, in BERT's order).
        norm: normalise the joined embedding with a LayerNorm (BERT), before dropout.
        norm_eps: that LayerNorm's epsilon.

    Shape:
        tokens ``(B, T)`` long, positions ``(B|1, T)`` long, token_types ``(B, T)`` long
        (default: all type 0) → ``(B, T, D)``.
    """

    def __init__(
        self,
        vocab_size: int,
        d_model: int,
        *,
        positional: str = "learned",
        combine: str = "add",
        pos_dim: int | None = None,
        max_len: int = 512,
        scale: bool = False,
        dropout: float = 0.0,
        padding_idx: int | None = None,
        token_embedding: nn.Embedding | None = None,
        type_vocab_size: int = 0,
        norm: bool = False,
        norm_eps: float = 1e-5,
    ):
        super().__init__()
        if combine not in COMBINE_MODES:
            raise ValueError(f"unknown combine '{combine}'; choose 'add' or 'concat'")
        absolute = positional in ABSOLUTE_SCHEMES
        if combine == "concat" and not absolute:
            raise ValueError(
                f"combine='concat' needs an absolute positional scheme "
                f"({' or '.join(ABSOLUTE_SCHEMES)}), got '{positional}'"
            )
        self.combine = combine
        default_pos_dim = d_model // 4 if pos_dim is None else pos_dim
        self.pos_dim = default_pos_dim if combine == "concat" else d_model
        if not 0 < self.pos_dim <= d_model or (combine == "concat" and self.pos_dim == d_model):
            raise ValueError(
                f"pos_dim={self.pos_dim} leaves no room for the token embedding in "
                f"d_model={d_model}: with combine='concat' it must be between 1 and "
                f"{d_model - 1}"
            )
        token_dim = d_model - self.pos_dim if combine == "concat" else d_model
        if token_embedding is None:
            token_embedding = nn.Embedding(vocab_size, token_dim, padding_idx=padding_idx)
        elif token_embedding.embedding_dim != token_dim:
            raise ValueError(
                f"shared token embedding is {token_embedding.embedding_dim} wide, expected "
                f"{token_dim}"
            )
        self.token = token_embedding
        self.scale = math.sqrt(token_dim) if scale else 1.0
        self.position: nn.Module | None = None
        if positional == "learned":
            self.position = LearnedPositionEmbedding(max_len, self.pos_dim)
        elif positional == "sinusoidal":
            self.position = SinusoidalEncoding(self.pos_dim)
        # Absent (None) unless asked for, so the weights of models without them keep
        # their names and existing checkpoints load unchanged.
        self.token_type: nn.Embedding | None = None
        if type_vocab_size:
            self.token_type = nn.Embedding(type_vocab_size, token_dim)
        self.norm = nn.LayerNorm(d_model, eps=norm_eps) if norm else None
        self.dropout = Dropout(dropout)

    def forward(
        self, tokens: Tensor, positions: Tensor, token_types: Tensor | None = None
    ) -> Tensor:
        # Positions first: a too-long input fails (naming max_len) before any lookup.
        p = None if self.position is None else self.position(positions)  # (B|1, T, pos_dim)
        x = self.token(tokens)  # (B, T, D or D - pos_dim)
        if self.scale != 1.0:
            x = x * self.scale
        if self.token_type is not None:
            if token_types is None:
                x = x + self.token_type.weight[0]  # every token of type 0: (D,) broadcast
            else:
                x = x + self.token_type(token_types)  # (B, T, D)
        elif token_types is not None:
            raise ValueError("token_types were given but this embedding has no token types")
        if p is not None:
            p = p.to(x.dtype)
            if self.combine == "add":
                x = x + p
            else:
                x = torch.cat([x, p.expand(x.shape[0], -1, -1)], dim=-1)  # (B, T, D)
        if self.norm is not None:
            x = self.norm(x)
        return self.dropout(x) if self.training else x

    def extra_repr(self) -> str:
        return f"combine={self.combine!r}, scale={self.scale:.3g}"


PATCH_STEMS = ("patch", "conv")


def _conv_stem(in_channels: int, d_model: int, patch_size: int) -> nn.Sequential:
    """A small CNN with total stride ``patch_size`` (a power of two): 3×3 convolutions,
    each halving the resolution, then a 1×1 projection to ``d_model``. Its output cell
    is a "region" in the sense of show, attend and tell (Xu et al. 2015); early
    convolutions also make vision Transformers train faster on little data."""
    if patch_size & (patch_size - 1):
        raise ValueError(f"stem='conv' needs a power-of-two patch_size, got {patch_size}")
    layers: list[nn.Module] = []
    width, channels = 32, in_channels
    layers += [nn.Conv2d(channels, width, 3, padding=1), nn.ReLU()]
    channels = width
    for _ in range(patch_size.bit_length() - 1):  # log2(patch_size) halvings
        width = min(2 * width, max(d_model, 32))
        layers += [nn.Conv2d(channels, width, 3, stride=2, padding=1), nn.ReLU()]
        channels = width
    layers.append(nn.Conv2d(channels, d_model, 1))
    return nn.Sequential(*layers)


class PatchEmbedding(nn.Module):
    """Cut an image into non-overlapping ``p × p`` patches and embed each as one token
    (Dosovitskiy et al. 2021): ``x_i = W · flatten(patch_i) + p_i``.

    The linear map of a flattened patch is written as a convolution with kernel and
    stride ``p`` (the same maths, without copying patches out). With ``stem="conv"`` a
    small CNN of the same total stride replaces it.

    Positions (raster order, row by row):

    * ``"learned"`` — one learned vector per patch (and one for the class token);
    * ``"sinusoidal"`` — 2-D sinusoids: the first half of the channels encodes the
      patch's row, the second half its column (the class token gets none);
    * anything else (``"relative"``, ``"rope"``, ``"alibi"``, ``"none"``) — nothing is
      added here; the attention layers see the raster index, or no position at all.

    Args:
        image_size: ``(H, W)`` in pixels, each a multiple of ``patch_size``.
        patch_size: patch side ``p`` in pixels.
        in_channels: image channels ``C`` (1 = grey, 3 = RGB).
        d_model: token width ``D``.
        positional: the model's positional scheme.
        class_token: prepend a learned ``[CLS]`` token (the classifier reads it).
        stem: ``"patch"`` (linear patch projection) or ``"conv"`` (small CNN).
        dropout: dropout on the result.

    Shape:
        images ``(B, C, H, W)`` float → ``(B, P (+1), D)`` with
        ``P = (H / p) · (W / p)`` patches (plus the class token first).

    Example:
        >>> embed = PatchEmbedding((28, 28), 7, 1, 32)
        >>> embed(torch.zeros(2, 1, 28, 28)).shape
        torch.Size([2, 17, 32])
    """

    def __init__(
        self,
        image_size: tuple[int, int],
        patch_size: int,
        in_channels: int,
        d_model: int,
        *,
        positional: str = "learned",
        class_token: bool = True,
        stem: str = "patch",
        dropout: float = 0.0,
    ):
        super().__init__()
        height, width = image_size
        if height % patch_size or width % patch_size:
            raise ValueError(
                f"the image size {height}×{width} is not a multiple of patch_size={patch_size}"
            )
        if stem not in PATCH_STEMS:
            raise ValueError(f"unknown stem {stem!r}; choose one of {', '.join(PATCH_STEMS)}")
        self.image_size, self.patch_size = (height, width), patch_size
        self.in_channels = in_channels
        self.grid = (height // patch_size, width // patch_size)  # (rows, cols) of patches
        num_patches = self.grid[0] * self.grid[1]
        if stem == "patch":
            self.proj: nn.Module = nn.Conv2d(in_channels, d_model, patch_size, stride=patch_size)
        else:
            self.proj = _conv_stem(in_channels, d_model, patch_size)
        self.class_token = nn.Parameter(torch.zeros(1, 1, d_model)) if class_token else None
        if self.class_token is not None:
            nn.init.normal_(self.class_token, std=0.02)
        self.position: LearnedPositionEmbedding | None = None
        if positional == "learned":
            self.position = LearnedPositionEmbedding(num_patches + int(class_token), d_model)
        if positional == "sinusoidal":
            if d_model % 2:
                raise ValueError(f"2-D sinusoidal positions need an even d_model, got {d_model}")
            rows = torch.arange(self.grid[0]).repeat_interleave(self.grid[1])  # (P,)
            cols = torch.arange(self.grid[1]).repeat(self.grid[0])  # (P,)
            axis = SinusoidalEncoding(d_model // 2)
            table = torch.cat([axis(rows[None]), axis(cols[None])], dim=-1)[0]  # (P, D)
            self.register_buffer("grid_positions", table, persistent=False)
        else:
            self.grid_positions = None
        self.dropout = Dropout(dropout)

    @property
    def num_patches(self) -> int:
        """Patches per image ``P`` (the class token not counted)."""
        return self.grid[0] * self.grid[1]

    def check_images(self, images: Tensor) -> None:
        """Raise a one-line ``ValueError`` unless ``images`` is a float ``(B, C, H, W)``
        batch of this embedding's size."""
        expected = (self.in_channels, *self.image_size)
        if not isinstance(images, Tensor) or not images.is_floating_point():
            got = images.dtype if isinstance(images, Tensor) else type(images).__name__
            raise ValueError(f"images must be a float tensor (B, C, H, W), got {got}")
        if images.dim() != 4 or tuple(images.shape[1:]) != expected or images.shape[0] == 0:
            raise ValueError(
                f"images have shape {tuple(images.shape)}, expected (B, {expected[0]}, "
                f"{expected[1]}, {expected[2]}) with B >= 1"
            )

    def forward(self, images: Tensor) -> Tensor:
        self.check_images(images)
        x = self.proj(images)  # (B, D, rows, cols)
        x = x.flatten(2).transpose(1, 2)  # (B, D, P) -> (B, P, D)
        if self.grid_positions is not None:
            x = x + self.grid_positions.to(x.dtype)  # (P, D) broadcast over B
        if self.class_token is not None:
            x = torch.cat([self.class_token.expand(x.shape[0], -1, -1), x], dim=1)  # (B, 1+P, D)
        if self.position is not None:
            positions = torch.arange(x.shape[1], device=x.device)[None]  # (1, P (+1))
            x = x + self.position(positions).to(x.dtype)
        return self.dropout(x)

    def extra_repr(self) -> str:
        return f"grid={self.grid[0]}×{self.grid[1]}, patch_size={self.patch_size}"
