"""Decoder-only language model (GPT-style): predict the next token from the ones before.

    tokens ─► InputEmbedding ─► TransformerStack (causal self-attention) ─► lm_head ─► logits

The causal mask is what makes it a language model: position t sees tokens ≤ t only, so
every position of a sequence is a training example for "what comes next".
"""

from __future__ import annotations

from typing import ClassVar

from torch import Tensor, nn

from attnkit.config import DecoderLMConfig, embedding_options, stack_options
from attnkit.nn import (
    AttentionMaps,
    InputEmbedding,
    ModelOutput,
    StackCache,
    TransformerStack,
    check_tokens,
    init_transformer_weights,
)
from attnkit.nn.losses import linear_cross_entropy, mean_token_cross_entropy

__all__ = ["DecoderLM"]


class DecoderLM(nn.Module):
    """A GPT-style language model built from a :class:`~attnkit.config.DecoderLMConfig`.

    Shape:
        tokens ``(B, T)`` long; targets ``(B, T)`` long (the next tokens, ``-100`` =
        ignore); padding_mask ``(B, T)`` bool (``True`` = real; left padding for
        generation) → ``ModelOutput.logits`` ``(B, T, V)``.

    Example:
        >>> model = DecoderLM(DecoderLMConfig(vocab_size=65, d_model=32, num_heads=4))
        >>> model(torch.randint(65, (2, 10))).logits.shape
        torch.Size([2, 10, 65])
    """

    # Training computes the loss fused with the output projection (return_logits=False).
    fused_loss: ClassVar[bool] = True

    def __init__(self, config: DecoderLMConfig):
        super().__init__()
        config.require_vocab()
        self.config = config
        self.embedding = InputEmbedding(
            config.vocab_size, padding_idx=config.pad_id, **embedding_options(config)
        )
        self.decoder = TransformerStack(
            config.num_layers, causal=config.causal, **stack_options(config)
        )
        self.lm_head = nn.Linear(config.d_model, config.vocab_size, bias=False)
        init_transformer_weights(self, std=config.init_std, num_layers=config.num_layers)
        if config.tie_embeddings:
            self.lm_head.weight = self.embedding.token.weight

    def new_cache(self) -> StackCache:
        """An empty key/value cache for :meth:`decode_step`."""
        return self.decoder.new_cache()

    def forward(
        self,
        tokens: Tensor,
        *,
        targets: Tensor | None = None,
        padding_mask: Tensor | None = None,
        cache: StackCache | None = None,
        need_weights: bool = False,
        label_smoothing: float = 0.0,
        return_logits: bool = True,
    ) -> ModelOutput:
        """Next-token logits for every position (and the mean loss when ``targets``
        are given).

        ``return_logits=False`` with ``targets`` computes the loss fused with the
        vocabulary projection (:func:`~attnkit.nn.losses.linear_cross_entropy`) and
        returns ``logits=None``: the training fast path, which never holds the
        ``(B, T, V)`` logits.

        Shape:
            tokens ``(B, T)`` long; targets ``(B, T)`` long (``-100`` = ignore) →
            ``ModelOutput.logits`` ``(B, T, V)``.
        """
        check_tokens(tokens, self.config.vocab_size)
        # Padding is read off pad_id only for a fresh input: a generated token that
        # happens to equal pad_id is a real token.
        if padding_mask is None and cache is None and self.config.pad_id is not None:
            padding_mask = tokens != self.config.pad_id
        positions = self.decoder.make_positions(
            tokens.shape[1], padding_mask=padding_mask, cache=cache, device=tokens.device
        )
        x = self.embedding(tokens, positions)  # (B, T, D)
        out = self.decoder(
            x,
            padding_mask=padding_mask,
            positions=positions,
            cache=cache,
            need_weights=need_weights,
        )
        logits, loss = None, None
        if targets is not None and not return_logits:
            loss_sum, count = linear_cross_entropy(
                out.hidden, self.lm_head, targets, label_smoothing=label_smoothing
            )
            loss = loss_sum / count.clamp_min(1)
        else:
            logits = self.lm_head(out.hidden)  # (B, T, V)
            if targets is not None:
                loss = mean_token_cross_entropy(logits, targets, label_smoothing=label_smoothing)
        return ModelOutput(
            logits, loss, out.hidden, AttentionMaps(decoder=out.self_attentions), cache
        )

    def decode_step(
        self, tokens: Tensor, cache: StackCache, *, padding_mask: Tensor | None = None
    ) -> Tensor:
        """Logits for ``tokens`` that follow what ``cache`` has seen; updates ``cache``.

        Shape:
            tokens ``(B, T_new)`` → ``(B, T_new, V)``.
        """
        return self(tokens, padding_mask=padding_mask, cache=cache).logits
