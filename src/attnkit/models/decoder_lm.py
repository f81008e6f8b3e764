"""Decoder-only language model (GPT-style): predict the next token from the ones before.

    tokens ─► InputEmbedding ─► TransformerStack (causal self-attention) ─► lm_head ─► logits

The causal mask is what makes it a language model: position t sees tokens ≤ t only, so
every position of a sequence is a training example for "what comes next".
"""

from __future__ import annotations

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

__all__ = ["DecoderLM"]


class DecoderLM(nn.Module):
    """A GPT-style language model built from a :class:`~attnkit.config.DecoderLMConfig`.

    Shape:
        tokens ``(B, T)`` long; labels ``(B, T)`` long (the next tokens, ``-100`` =
        ignore); padding_mask ``(B, T)`` bool (``True`` = real; left padding for
        generation) → ``ModelOutput.logits`` ``(B, T, V)``.

    Example:
        >>> model = DecoderLM(DecoderLMConfig(vocab_size=65, d_model=32, num_heads=4))
        >>> model(torch.randint(65, (2, 10))).logits.shape
        torch.Size([2, 10, 65])
    """

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
        labels: Tensor | None = None,
        padding_mask: Tensor | None = None,
        cache: StackCache | None = None,
        need_weights: bool = False,
        label_smoothing: float = 0.0,
    ) -> ModelOutput:
        """Next-token logits for every position, and the loss when ``labels`` (the next
        tokens) are given.

        Shape:
            tokens ``(B, T)`` long; labels ``(B, T)`` long (``-100`` = ignore) →
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
        return ModelOutput.from_hidden(
            out.hidden,  # (B, T, D) -> logits (B, T, V) through lm_head
            self.lm_head,
            labels=labels,
            label_smoothing=label_smoothing,
            attentions=AttentionMaps(decoder=out.self_attentions),
            cache=cache,
        )

    def decode_step(
        self, tokens: Tensor, cache: StackCache, *, padding_mask: Tensor | None = None
    ) -> Tensor:
        """Logits for ``tokens`` that follow what ``cache`` has seen; updates ``cache``.

        Shape:
            tokens ``(B, T_new)`` → ``(B, T_new, V)``.
        """
        return self(tokens, padding_mask=padding_mask, cache=cache).logits
