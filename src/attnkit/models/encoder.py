"""Encoder-only model (BERT-style) with a masked-token head: missing-word recovery.

    tokens (some replaced by [MASK]) ─► InputEmbedding ─► TransformerStack (bidirectional)
                                     ─► mlm_head (dense, GELU, norm, tied decoder) ─► logits

Every position sees the whole sentence, left and right, so "the [MASK] house" can be
filled from both sides. Training hides ~15 % of the tokens
(:func:`attnkit.data.masking.mask_tokens`) and asks the model to recover them; only those
positions carry a label, and the head runs on them alone.

The same encoder, pooled over its final states, gives sentence embeddings
(:meth:`EncoderMLM.sentence_embedding`). With token types, a normalised embedding and
post-LN layers it is BERT exactly, so BERT-family checkpoints load into it
(:mod:`attnkit.interop`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from attnkit.config import EncoderConfig, embedding_options, stack_options
from attnkit.nn import (
    AttentionMaps,
    InputEmbedding,
    ModelOutput,
    StackOutput,
    TransformerStack,
    check_tokens,
    init_transformer_weights,
    make_norm,
)
from attnkit.nn.losses import IGNORE_INDEX, output_loss

__all__ = ["EncoderMLM"]


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
            config.vocab_size,
            padding_idx=config.pad_id,
            type_vocab_size=config.type_vocab_size,
            norm=config.embed_norm,
            norm_eps=config.norm_eps,
            **embedding_options(config),
        )
        self.encoder = TransformerStack(config.num_layers, **stack_options(config))
        self.mlm_dense: nn.Linear | None = None
        self.mlm_norm: nn.Module | None = None
        self.mlm_decoder: nn.Linear | None = None
        if config.mlm_head:
            self.mlm_dense = nn.Linear(config.d_model, config.d_model)
            self.mlm_norm = make_norm(
                "layernorm" if config.norm == "none" else config.norm,
                config.d_model,
                eps=config.norm_eps,
            )
            self.mlm_decoder = nn.Linear(config.d_model, config.vocab_size)
        init_transformer_weights(self, std=config.init_std, num_layers=config.num_layers)
        if config.tie_embeddings and self.mlm_decoder is not None:
            self.mlm_decoder.weight = self.embedding.token.weight

    def forward(
        self,
        tokens: Tensor,
        *,
        labels: Tensor | None = None,
        padding_mask: Tensor | None = None,
        token_types: Tensor | None = None,
        need_weights: bool = False,
        label_smoothing: float = 0.0,
    ) -> ModelOutput:
        """Contextual states of every token, the masked-word logits over the vocabulary,
        and the loss when ``labels`` are given (``-100`` at unmasked positions).

        Without an MLM head (``config.mlm_head = False``) the logits are ``None``.

        Shape:
            tokens ``(B, T)``; token_types ``(B, T)`` (default all 0) →
            ``ModelOutput.logits`` ``(B, T, V)``, ``hidden`` ``(B, T, D)``.
        """
        out = self.encode(
            tokens, padding_mask=padding_mask, token_types=token_types, need_weights=need_weights
        )
        attentions = AttentionMaps(encoder=out.self_attentions)
        if self.mlm_decoder is None:
            if labels is not None:
                raise ValueError("this encoder has no MLM head (model.mlm_head=false): no loss")
            return ModelOutput(hidden=out.hidden, attentions=attentions)
        if labels is None:
            return ModelOutput.from_hidden(out.hidden, self.mlm_head, attentions=attentions)
        # Only the masked positions (~15 %) carry a label: the head and the loss run on
        # those rows alone, not on the (B, T, V) logits of every position.
        scored = labels != IGNORE_INDEX  # (B, T)
        loss_sum, count = output_loss(
            out.hidden[scored], self.mlm_head, labels[scored], label_smoothing=label_smoothing
        )  # hidden[scored] (N, D)
        return ModelOutput(
            hidden=out.hidden,
            head=self.mlm_head,
            loss_sum=loss_sum,
            token_count=count,
            attentions=attentions,
        )

    def encode(
        self,
        tokens: Tensor,
        *,
        padding_mask: Tensor | None = None,
        token_types: Tensor | None = None,
        need_weights: bool = False,
    ) -> StackOutput:
        """The final states of every token (and, when asked, every attention map).

        Shape:
            tokens ``(B, T)``; token_types ``(B, T)`` → ``StackOutput.hidden`` ``(B, T, D)``.
        """
        check_tokens(tokens, self.config.vocab_size)
        if token_types is not None:
            check_tokens(token_types, max(self.config.type_vocab_size, 1), name="token_types")
        if padding_mask is None and self.config.pad_id is not None:
            padding_mask = tokens != self.config.pad_id
        positions = self.encoder.make_positions(
            tokens.shape[1], padding_mask=padding_mask, device=tokens.device
        )
        x = self.embedding(tokens, positions, token_types)  # (B, T, D)
        return self.encoder(
            x, padding_mask=padding_mask, positions=positions, need_weights=need_weights
        )

    def sentence_embedding(
        self,
        tokens: Tensor,
        *,
        padding_mask: Tensor | None = None,
        normalize: bool = True,
    ) -> Tensor:
        """One vector per sentence: the final states pooled as ``config.pooling`` says
        (``mean`` over the real tokens, as sentence-transformers does, or the first
        token's), then scaled to unit length when ``normalize`` (so that a dot product
        is the cosine similarity).

        Shape:
            tokens ``(B, T)``, padding_mask ``(B, T)`` bool → ``(B, D)``.
        """
        if padding_mask is None:
            padding_mask = (
                torch.ones_like(tokens, dtype=torch.bool)
                if self.config.pad_id is None
                else tokens != self.config.pad_id
            )
        hidden = self.encode(tokens, padding_mask=padding_mask).hidden  # (B, T, D)
        if self.config.pooling == "cls":
            pooled = hidden[:, 0]  # (B, D)
        else:
            weights = padding_mask.to(hidden.dtype).unsqueeze(-1)  # (B, T, 1)
            pooled = (hidden * weights).sum(1) / weights.sum(1).clamp_min(1e-9)  # (B, D)
        return F.normalize(pooled, dim=-1) if normalize else pooled

    def mlm_head(self, hidden: Tensor) -> Tensor:
        """BERT's masked-word head: dense, GELU, norm, then the vocabulary projection.

        Shape:
            hidden ``(B, T, D)`` → logits ``(B, T, V)``.
        """
        if self.mlm_dense is None or self.mlm_norm is None or self.mlm_decoder is None:
            raise ValueError("this encoder has no MLM head (model.mlm_head=false)")
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
        if self.mlm_decoder is None:
            raise ValueError(
                "this encoder has no MLM head (model.mlm_head=false) to fill masks: "
                "use attnkit embed for its sentence embeddings"
            )
        where = (tokens == self.config.mask_id).nonzero()  # (N, 2)
        logits = self(tokens).logits[where[:, 0], where[:, 1]]  # (N, V)
        probs, ids = logits.softmax(-1).topk(top_k, dim=-1)
        return where, ids, probs
