"""The encoder–decoder Transformer of "Attention is all you need" (Vaswani et al. 2017).

    source ─► src_embedding ─► encoder (self-attention) ──────────────┐ memory
    target ─► tgt_embedding ─► decoder (masked self-attention,        │
                                        cross-attention over memory ◄─┘) ─► output_proj

Translation "la casa roja" → "the red house": the encoder reads the whole source at
once; the decoder writes one target word at a time, each attending over its own past
(masked self-attention) and over every source word (cross-attention).
"""

from __future__ import annotations

from typing import ClassVar

from torch import Tensor, nn

from attnkit.config import Seq2SeqConfig, embedding_options, stack_options
from attnkit.nn import (
    AttentionMaps,
    EncoderOutput,
    InputEmbedding,
    ModelOutput,
    StackCache,
    TransformerStack,
    check_tokens,
    init_transformer_weights,
)

__all__ = ["EncoderDecoder", "Transformer"]


class EncoderDecoder(nn.Module):
    """Encoder–decoder Transformer built from a :class:`~attnkit.config.Seq2SeqConfig`.

    Source padding is found from ``pad_id``; target padding needs no mask under teacher
    forcing (right padding sits in every real position's future), so pass
    ``tgt_padding_mask`` only for left-padded targets.

    Shape:
        src ``(B, S)`` long; tgt ``(B, T)`` long (decoder input, starting with BOS);
        labels ``(B, T)`` long (``-100`` = ignore) → ``ModelOutput.logits`` ``(B, T, V)``.

    Example:
        >>> config = Seq2SeqConfig(src_vocab_size=50, tgt_vocab_size=60, d_model=32)
        >>> model = EncoderDecoder(config)
        >>> src, tgt = torch.randint(1, 50, (2, 7)), torch.randint(1, 60, (2, 5))
        >>> model(src, tgt).logits.shape
        torch.Size([2, 5, 60])
    """

    # decode_step takes a source with fewer rows than tgt, shared by consecutive tgt rows
    # (cross-attention folds them together): beam search keeps one copy per sentence.
    accepts_shared_source: ClassVar[bool] = True

    def __init__(self, config: Seq2SeqConfig):
        super().__init__()
        config.require_vocab()
        self.config = config
        embed = embedding_options(config)
        self.src_embedding = InputEmbedding(
            config.src_vocab_size, padding_idx=config.pad_id, **embed
        )
        shared = self.src_embedding.token if config.share_embeddings else None
        self.tgt_embedding = InputEmbedding(
            config.tgt_vocab_size, padding_idx=config.pad_id, token_embedding=shared, **embed
        )
        stack = stack_options(config)
        self.encoder = TransformerStack(config.num_encoder_layers, **stack)
        self.decoder = TransformerStack(
            config.num_decoder_layers, causal=True, cross_attention=True, **stack
        )
        self.output_proj = nn.Linear(config.d_model, config.tgt_vocab_size, bias=False)
        depth = config.num_encoder_layers + config.num_decoder_layers
        init_transformer_weights(self, std=config.init_std, num_layers=depth)
        if config.tie_embeddings:
            self.output_proj.weight = self.tgt_embedding.token.weight

    def encode(
        self,
        src: Tensor,
        *,
        src_padding_mask: Tensor | None = None,
        need_weights: bool = False,
    ) -> EncoderOutput:
        """Encode the source once; the decoder attends over the result.

        Shape:
            src ``(B, S)`` → ``EncoderOutput.memory`` ``(B, S, D)``.
        """
        check_tokens(src, self.config.src_vocab_size, "src")
        if src_padding_mask is None:
            src_padding_mask = src != self.config.pad_id
        positions = self.encoder.make_positions(
            src.shape[1], padding_mask=src_padding_mask, device=src.device
        )
        x = self.src_embedding(src, positions)  # (B, S, D)
        out = self.encoder(
            x, padding_mask=src_padding_mask, positions=positions, need_weights=need_weights
        )
        return EncoderOutput(out.hidden, src_padding_mask, out.self_attentions)

    def decode(
        self,
        tgt: Tensor,
        encoded: EncoderOutput,
        *,
        labels: Tensor | None = None,
        label_smoothing: float = 0.0,
        tgt_padding_mask: Tensor | None = None,
        cache: StackCache | None = None,
        need_weights: bool = False,
    ) -> ModelOutput:
        """Run the decoder over ``tgt`` given the encoded source (and the loss when
        ``labels`` are given).

        Shape:
            tgt ``(B, T)`` → ``ModelOutput.logits`` ``(B, T, V)``.
        """
        check_tokens(tgt, self.config.tgt_vocab_size, "tgt")
        positions = self.decoder.make_positions(
            tgt.shape[1], padding_mask=tgt_padding_mask, cache=cache, device=tgt.device
        )
        y = self.tgt_embedding(tgt, positions)  # (B, T, D)
        out = self.decoder(
            y,
            padding_mask=tgt_padding_mask,
            positions=positions,
            memory=encoded.memory,
            memory_padding_mask=encoded.padding_mask,
            cache=cache,
            need_weights=need_weights,
        )
        maps = AttentionMaps(
            encoder=encoded.attentions, decoder=out.self_attentions, cross=out.cross_attentions
        )
        return ModelOutput.from_hidden(
            out.hidden,  # (B, T, D) -> logits (B, T, V) through output_proj
            self.output_proj,
            labels=labels,
            label_smoothing=label_smoothing,
            attentions=maps,
            cache=cache,
        )

    def forward(
        self,
        src: Tensor,
        tgt: Tensor,
        *,
        labels: Tensor | None = None,
        src_padding_mask: Tensor | None = None,
        tgt_padding_mask: Tensor | None = None,
        need_weights: bool = False,
        label_smoothing: float = 0.0,
    ) -> ModelOutput:
        """Teacher-forced forward pass: encode ``src``, decode ``tgt`` in parallel."""
        encoded = self.encode(src, src_padding_mask=src_padding_mask, need_weights=need_weights)
        return self.decode(
            tgt,
            encoded,
            labels=labels,
            label_smoothing=label_smoothing,
            tgt_padding_mask=tgt_padding_mask,
            need_weights=need_weights,
        )

    def new_cache(self) -> StackCache:
        """An empty decoder cache (self-attention keys grow; cross keys computed once)."""
        return self.decoder.new_cache()

    def decode_step(
        self,
        tgt: Tensor,
        encoded: EncoderOutput,
        cache: StackCache,
        *,
        tgt_padding_mask: Tensor | None = None,
    ) -> Tensor:
        """Logits for the newest target tokens; updates ``cache``.

        Shape:
            tgt ``(B, T_new)`` → ``(B, T_new, V)``.
        """
        return self.decode(tgt, encoded, tgt_padding_mask=tgt_padding_mask, cache=cache).logits


# The paper calls this model "the Transformer"; attnkit's first name for the class.
Transformer = EncoderDecoder
