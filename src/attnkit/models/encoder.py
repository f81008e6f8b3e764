"""Encoder-only model (BERT-style) with a masked-token head: missing-word recovery.

    tokens (some replaced by [MASK]) ─► InputEmbedding ─► TransformerStack (bidirectional)
                                     ─► mlm_head (dense, GELU, norm, tied decoder) ─► logits

Every position sees the whole sentence, left and right, so "the [MASK] house" can be
filled from both sides. Training hides ~15 % of the tokens (:func:`mask_tokens`) and
asks the model to recover them.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from attnkit.config import EncoderConfig, embedding_options, stack_options
from attnkit.nn import (
    AttentionMaps,
    InputEmbedding,
    ModelOutput,
    TransformerStack,
    check_tokens,
    init_transformer_weights,
    make_norm,
)

__all__ = ["EncoderMLM", "mask_tokens"]


class EncoderMLM(nn.Module):
    """BERT-style encoder with a masked-language-model head, from an
    :class:`~attnkit.config.EncoderConfig`.

    Shape:
        tokens ``(B, T)`` long; labels ``(B, T)`` long (the original ids at masked
        positions, ``-100`` elsewhere) → ``ModelOutput.logits`` ``(B, T, V)``,
        ``ModelOutput.hidden`` ``(B, T, D)``.

    Example:
        >>> model = EncoderMLM(EncoderConfig(vocab_size=30, d_model=32, mask_id=1))
        >>> model(torch.randint(2, 30, (2, 8))).logits.shape
        torch.Size([2, 8, 30])
    """

    def __init__(self, config: EncoderConfig):
        super().__init__()
        config.require_vocab()
        self.config = config
        self.embedding = InputEmbedding(
            config.vocab_size, padding_idx=config.pad_id, **embedding_options(config)
        )
        self.encoder = TransformerStack(config.num_layers, **stack_options(config))
        self.mlm_dense = nn.Linear(config.d_model, config.d_model)
        self.mlm_norm = make_norm(
            "layernorm" if config.norm == "none" else config.norm,
            config.d_model,
            eps=config.norm_eps,
        )
        self.mlm_decoder = nn.Linear(config.d_model, config.vocab_size)
        init_transformer_weights(self, std=config.init_std, num_layers=config.num_layers)
        if config.tie_embeddings:
            self.mlm_decoder.weight = self.embedding.token.weight

    def forward(
        self,
        tokens: Tensor,
        *,
        labels: Tensor | None = None,
        padding_mask: Tensor | None = None,
        need_weights: bool = False,
        label_smoothing: float = 0.0,
    ) -> ModelOutput:
        """Contextual states of every token, the masked-word logits over the vocabulary,
        and the loss when ``labels`` are given (``-100`` at unmasked positions).

        Shape:
            tokens ``(B, T)`` → ``ModelOutput.logits`` ``(B, T, V)``, ``hidden``
            ``(B, T, D)``.
        """
        check_tokens(tokens, self.config.vocab_size)
        if padding_mask is None and self.config.pad_id is not None:
            padding_mask = tokens != self.config.pad_id
        positions = self.encoder.make_positions(
            tokens.shape[1], padding_mask=padding_mask, device=tokens.device
        )
        x = self.embedding(tokens, positions)  # (B, T, D)
        out = self.encoder(
            x, padding_mask=padding_mask, positions=positions, need_weights=need_weights
        )
        return ModelOutput.from_hidden(
            out.hidden,
            self.mlm_head,
            labels=labels,
            label_smoothing=label_smoothing,
            attentions=AttentionMaps(encoder=out.self_attentions),
        )

    def mlm_head(self, hidden: Tensor) -> Tensor:
        """BERT's masked-word head: dense, GELU, norm, then the vocabulary projection.

        Shape:
            hidden ``(B, T, D)`` → logits ``(B, T, V)``.
        """
        return self.mlm_decoder(self.mlm_norm(F.gelu(self.mlm_dense(hidden))))

    @torch.no_grad()
    def fill_mask(self, tokens: Tensor, *, top_k: int = 5) -> tuple[Tensor, Tensor, Tensor]:
        """The ``top_k`` most likely tokens at every ``mask_id`` position.

        Shape:
            tokens ``(B, T)`` → positions ``(N, 2)`` (batch, time) of the N masks,
            token ids ``(N, top_k)``, probabilities ``(N, top_k)``.
        """
        if self.config.mask_id is None:
            raise ValueError("this model has no mask_id; set model.mask_id in its config")
        where = (tokens == self.config.mask_id).nonzero()  # (N, 2)
        logits = self(tokens).logits[where[:, 0], where[:, 1]]  # (N, V)
        probs, ids = logits.softmax(-1).topk(top_k, dim=-1)
        return where, ids, probs


def mask_tokens(
    tokens: Tensor,
    *,
    mask_id: int,
    vocab_size: int,
    mask_prob: float = 0.15,
    special_ids: Sequence[int] = (),
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor]:
    """BERT's masking: choose ``mask_prob`` of the non-special tokens; of those, 80 %
    become ``mask_id``, 10 % a random token, 10 % stay; labels keep the original ids at
    the chosen positions and ``-100`` elsewhere.

    Shape:
        tokens ``(B, T)`` → inputs ``(B, T)``, labels ``(B, T)``.
    """
    device = tokens.device

    def uniform() -> Tensor:
        return torch.rand(tokens.shape, generator=generator, device=device)

    maskable = torch.ones_like(tokens, dtype=torch.bool)
    for special in special_ids:
        maskable &= tokens != special
    chosen = (uniform() < mask_prob) & maskable
    labels = tokens.masked_fill(~chosen, -100)
    action = uniform()
    inputs = tokens.masked_fill(chosen & (action < 0.8), mask_id)
    random_ids = torch.randint(vocab_size, tokens.shape, generator=generator, device=device)
    swap = chosen & (action >= 0.8) & (action < 0.9)
    inputs = torch.where(swap, random_ids, inputs)
    return inputs, labels
