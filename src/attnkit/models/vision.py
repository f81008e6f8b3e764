"""Attention over images: a vision Transformer and an image captioner.

Vision Transformer (Dosovitskiy et al. 2021), a classifier:

    image ─► PatchEmbedding (patches → tokens, [CLS] first, positions)
          ─► encoder (self-attention: every patch sees every other) ─► [CLS] or mean ─► head

Image captioner ("show, attend and tell", Xu et al. 2015, with the Transformer decoder):

    image ─► PatchEmbedding (CNN or patch grid of regions) ─► encoder ──────────┐ memory
    caption ─► tgt_embedding ─► decoder (masked self-attention,                │
                                         cross-attention over the regions ◄────┘) ─► words

Writing "seven two nine" for a mosaic of three digits, the decoder's cross-attention
moves from the left digit to the right one, word by word. The captioner has the same
``encode`` / ``decode`` / ``decode_step`` / ``new_cache`` as the translation
Transformer, so greedy and beam search decode it unchanged.
"""

from __future__ import annotations

from typing import ClassVar

from torch import Tensor, nn

from attnkit.config import (
    ImageCaptionerConfig,
    VisionTransformerConfig,
    embedding_options,
    stack_options,
)
from attnkit.nn import (
    ABSOLUTE_SCHEMES,
    AttentionMaps,
    EncoderOutput,
    InputEmbedding,
    ModelOutput,
    PatchEmbedding,
    StackCache,
    TransformerStack,
    check_tokens,
    init_transformer_weights,
)
from attnkit.nn.losses import token_cross_entropy

__all__ = ["ImageCaptioner", "VisionTransformer"]


def _patch_embedding(
    config: VisionTransformerConfig | ImageCaptionerConfig, *, class_token: bool
) -> PatchEmbedding:
    # Absolute schemes are added to the patches here; the others act inside attention
    # (the stack reads config.positional) on the raster index of the patches.
    absolute = config.positional if config.positional in ABSOLUTE_SCHEMES else "none"
    return PatchEmbedding(
        (config.image_height, config.image_width),
        config.patch_size,
        config.channels,
        config.d_model,
        positional=absolute,
        class_token=class_token,
        stem=config.stem,
        dropout=config.dropout,
    )


class VisionTransformer(nn.Module):
    """Image classifier built from a :class:`~attnkit.config.VisionTransformerConfig`.

    ``attentions.encoder[l]`` (with ``need_weights=True``) is ``(B, H, 1+P, 1+P)`` with
    the class token at index 0 (``(B, H, P, P)`` with mean pooling); patch ``i`` sits at
    row ``i // cols``, column ``i % cols`` of :attr:`grid`.

    Shape:
        images ``(B, C, H, W)`` float; labels ``(B,)`` long →
        ``ModelOutput.logits`` ``(B, num_classes)``, ``hidden`` ``(B, 1+P, D)``.

    Example:
        >>> config = VisionTransformerConfig(num_classes=10, d_model=32, num_layers=2)
        >>> VisionTransformer(config)(torch.zeros(2, 1, 28, 28)).logits.shape
        torch.Size([2, 10])
    """

    def __init__(self, config: VisionTransformerConfig):
        super().__init__()
        config.require_vocab()
        self.config = config
        self.embedding = _patch_embedding(config, class_token=config.pooling == "cls")
        self.encoder = TransformerStack(config.num_layers, **stack_options(config))
        self.head = nn.Linear(config.d_model, config.num_classes)
        init_transformer_weights(self, std=config.init_std, num_layers=config.num_layers)
        # A zero head starts every class at the same logit (Dosovitskiy et al.).
        nn.init.zeros_(self.head.weight)

    @property
    def grid(self) -> tuple[int, int]:
        """Patch rows and columns."""
        return self.embedding.grid

    def forward(
        self,
        images: Tensor,
        *,
        labels: Tensor | None = None,
        need_weights: bool = False,
        label_smoothing: float = 0.0,
    ) -> ModelOutput:
        """Class logits of each image (and the loss when ``labels`` are given).

        Shape:
            images ``(B, C, H, W)``, labels ``(B,)`` → ``ModelOutput.logits``
            ``(B, classes)``, ``hidden`` ``(B, 1+P, D)``.
        """
        x = self.embedding(images)  # (B, 1+P, D)
        out = self.encoder(x, need_weights=need_weights)
        h = out.hidden  # (B, 1+P, D)
        pooled = h[:, 0] if self.config.pooling == "cls" else h.mean(dim=1)  # (B, D)
        logits = self.head(pooled)  # (B, C)
        loss_sum = count = None
        if labels is not None:
            loss_sum, count = token_cross_entropy(logits, labels, label_smoothing=label_smoothing)
        return ModelOutput(
            logits,
            hidden=h,
            loss_sum=loss_sum,
            token_count=count,
            attentions=AttentionMaps(encoder=out.self_attentions),
        )


class ImageCaptioner(nn.Module):
    """Image encoder + Transformer decoder from an
    :class:`~attnkit.config.ImageCaptionerConfig`.

    ``attentions.cross[l]`` is ``(B, H, T, P)``: for each written word, its weights over
    the ``P`` image regions (row-major over :attr:`grid`).

    Shape:
        images ``(B, C, H, W)`` float; tgt ``(B, T)`` long (BOS + caption); labels
        ``(B, T)`` long (``-100`` = ignore) → ``ModelOutput.logits`` ``(B, T, V)``.

    Example:
        >>> config = ImageCaptionerConfig(tgt_vocab_size=20, d_model=32)
        >>> model = ImageCaptioner(config)
        >>> model(torch.zeros(2, 1, 28, 84), torch.ones(2, 4, dtype=torch.long)).logits.shape
        torch.Size([2, 4, 20])
    """

    # decode_step takes image encodings shared by consecutive caption rows (beam search).
    accepts_shared_source: ClassVar[bool] = True

    def __init__(self, config: ImageCaptionerConfig):
        super().__init__()
        config.require_vocab()
        self.config = config
        self.patch_embedding = _patch_embedding(config, class_token=False)
        stack = stack_options(config)
        self.encoder = TransformerStack(config.num_encoder_layers, **stack)
        self.tgt_embedding = InputEmbedding(
            config.tgt_vocab_size, padding_idx=config.pad_id, **embedding_options(config)
        )
        self.decoder = TransformerStack(
            config.num_decoder_layers, causal=True, cross_attention=True, **stack
        )
        self.output_proj = nn.Linear(config.d_model, config.tgt_vocab_size, bias=False)
        depth = config.num_encoder_layers + config.num_decoder_layers
        init_transformer_weights(self, std=config.init_std, num_layers=depth)
        if config.tie_embeddings:
            self.output_proj.weight = self.tgt_embedding.token.weight

    @property
    def grid(self) -> tuple[int, int]:
        """Rows and columns of image regions."""
        return self.patch_embedding.grid

    def encode(self, images: Tensor, *, need_weights: bool = False) -> EncoderOutput:
        """Encode the image once into a grid of regions; the decoder attends over it.

        Shape:
            images ``(B, C, H, W)`` → ``EncoderOutput.memory`` ``(B, P, D)``.
        """
        x = self.patch_embedding(images)  # (B, P, D)
        out = self.encoder(x, need_weights=need_weights)
        return EncoderOutput(out.hidden, None, out.self_attentions)

    def decode(
        self,
        tgt: Tensor,
        encoded: EncoderOutput,
        *,
        labels: Tensor | None = None,
        label_smoothing: float = 0.0,
        cache: StackCache | None = None,
        need_weights: bool = False,
    ) -> ModelOutput:
        """Run the decoder over ``tgt`` given the encoded image (and the loss when
        ``labels`` are given).

        Shape:
            tgt ``(B, T)`` → ``ModelOutput.logits`` ``(B, T, V)``.
        """
        check_tokens(tgt, self.config.tgt_vocab_size, "tgt")
        positions = self.decoder.make_positions(tgt.shape[1], cache=cache, device=tgt.device)
        y = self.tgt_embedding(tgt, positions)  # (B, T, D)
        out = self.decoder(
            y,
            positions=positions,
            memory=encoded.memory,
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
        images: Tensor,
        tgt: Tensor,
        *,
        labels: Tensor | None = None,
        need_weights: bool = False,
        label_smoothing: float = 0.0,
    ) -> ModelOutput:
        """Teacher-forced forward pass: encode the images, decode ``tgt`` in parallel."""
        encoded = self.encode(images, need_weights=need_weights)
        return self.decode(
            tgt, encoded, labels=labels, label_smoothing=label_smoothing, need_weights=need_weights
        )

    def new_cache(self) -> StackCache:
        """An empty decoder cache (self-attention keys grow; cross keys computed once)."""
        return self.decoder.new_cache()

    def decode_step(self, tgt: Tensor, encoded: EncoderOutput, cache: StackCache) -> Tensor:
        """Logits for the newest caption tokens; updates ``cache``.

        Shape:
            tgt ``(B, T_new)`` → ``(B, T_new, V)``.
        """
        return self.decode(tgt, encoded, cache=cache).logits
