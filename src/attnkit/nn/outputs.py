"""What models return: small dataclasses, never tuples of varying length."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor

from attnkit.nn.cache import StackCache

__all__ = ["AttentionMaps", "EncoderOutput", "ModelOutput"]


@dataclass
class AttentionMaps:
    """Every attention map of one forward pass, one tensor per layer.

    Attributes:
        encoder: encoder self-attention, each ``(B, H, S, S)``.
        decoder: decoder (masked) self-attention, each ``(B, H, T, Tk)``.
        cross: encoder–decoder attention, each ``(B, H, T, S)``.
    """

    encoder: list[Tensor] = field(default_factory=list)
    decoder: list[Tensor] = field(default_factory=list)
    cross: list[Tensor] = field(default_factory=list)

    def stacked(self, kind: str) -> Tensor:
        """All layers of one kind (``encoder``, ``decoder`` or ``cross``) in one tensor.

        Shape:
            ``(L, B, H, Tq, Tk)``.
        """
        maps = getattr(self, kind)
        if not maps:
            raise ValueError(f"no {kind} attention maps were recorded (pass need_weights=True)")
        return torch.stack(maps)


@dataclass
class EncoderOutput:
    """The encoded source of an encoder–decoder model.

    Attributes:
        memory: encoder states ``(B, S, D)``.
        padding_mask: ``(B, S)`` bool, ``True`` = real source token, or ``None``.
        attentions: encoder self-attention per layer, each ``(B, H, S, S)``.
        state: a recurrent encoder's final state, one tensor per part (``(h,)`` or
            ``(h, c)``), each batch-first ``(B, L, H)``; empty for Transformers.
    """

    memory: Tensor
    padding_mask: Tensor | None = None
    attentions: list[Tensor] = field(default_factory=list)
    state: tuple[Tensor, ...] = ()

    def reorder(self, index: Tensor) -> EncoderOutput:
        """Select batch rows (beam search). Shape: index ``(B_new,)``."""
        mask = None if self.padding_mask is None else self.padding_mask.index_select(0, index)
        state = tuple(part.index_select(0, index) for part in self.state)
        return EncoderOutput(self.memory.index_select(0, index), mask, self.attentions, state)


@dataclass
class ModelOutput:
    """A model's forward result.

    Attributes:
        logits: ``(B, T, V)``; ``None`` when the model was asked for the fused loss
            only (``return_logits=False``).
        loss: mean cross-entropy over non-ignored targets when targets were given.
        hidden: final hidden states ``(B, T, D)``.
        attentions: the attention maps when ``need_weights=True`` (else empty lists).
        cache: the updated cache during incremental decoding.
    """

    logits: Tensor | None
    loss: Tensor | None = None
    hidden: Tensor | None = None
    attentions: AttentionMaps = field(default_factory=AttentionMaps)
    cache: StackCache | None = None
