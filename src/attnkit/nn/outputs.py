"""What models return: small dataclasses, never tuples of varying length."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from attnkit.nn.losses import output_loss

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


class ModelOutput:
    """A model's forward result.

    Without labels the logits are computed at once. With labels the model reports its
    loss through :func:`~attnkit.nn.losses.output_loss` (the one loss contract of every
    family: a summed cross-entropy and a token count) and the logits are computed only
    if read, so training never holds the ``(B, T, V)`` logits it does not need.

    Attributes:
        logits: ``(B, T, V)`` (``(B, C)`` for a classifier).
        loss_sum: summed cross-entropy over the non-ignored labels, when labels were given.
        token_count: number of non-ignored labels, when labels were given.
        loss: ``loss_sum / token_count`` (0 when every label is ignored), or ``None``.
        hidden: final hidden states ``(B, T, D)``.
        attentions: the attention maps when ``need_weights=True`` (else empty lists).
        cache: the updated cache during incremental decoding.
    """

    def __init__(
        self,
        logits: Tensor | None = None,
        *,
        hidden: Tensor | None = None,
        head: Callable[[Tensor], Tensor] | None = None,
        loss_sum: Tensor | None = None,
        token_count: Tensor | None = None,
        attentions: AttentionMaps | None = None,
        cache: Any = None,
    ):
        self._logits, self._head = logits, head
        self.hidden, self.loss_sum, self.token_count = hidden, loss_sum, token_count
        self.attentions = AttentionMaps() if attentions is None else attentions
        self.cache = cache

    @classmethod
    def from_hidden(
        cls,
        hidden: Tensor,
        head: Callable[[Tensor], Tensor],
        *,
        labels: Tensor | None = None,
        label_smoothing: float = 0.0,
        attentions: AttentionMaps | None = None,
        cache: Any = None,
    ) -> ModelOutput:
        """The output of a model whose logits are ``head(hidden)``, with the loss against
        ``labels`` (``-100`` = ignore) when given.

        Shape:
            hidden ``(*, D)``, labels ``(*)`` → logits ``(*, V)``.
        """
        if labels is None:
            return cls(head(hidden), hidden=hidden, attentions=attentions, cache=cache)
        loss_sum, count = output_loss(hidden, head, labels, label_smoothing=label_smoothing)
        return cls(
            hidden=hidden,
            head=head,
            loss_sum=loss_sum,
            token_count=count,
            attentions=attentions,
            cache=cache,
        )

    @property
    def logits(self) -> Tensor | None:
        if self._logits is None and self._head is not None and self.hidden is not None:
            self._logits = self._head(self.hidden)
        return self._logits

    @property
    def loss(self) -> Tensor | None:
        if self.loss_sum is None or self.token_count is None:
            return None
        return self.loss_sum / self.token_count.clamp_min(1)
