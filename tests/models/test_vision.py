"""Vision models: patch embedding shapes, what positions do to a ViT, and the
captioner's decoding invariants (cache = full forward, beam 1 = greedy, save → load)."""

from __future__ import annotations

import pytest
import torch

from attnkit.config import ImageCaptionerConfig, VisionTransformerConfig
from attnkit.data.images import normalize_images
from attnkit.decoding.beam import beam_search
from attnkit.decoding.greedy import greedy_translate
from attnkit.evaluation.images import ImageSource, caption_images
from attnkit.models.vision import ImageCaptioner, VisionTransformer
from attnkit.nn import PatchEmbedding
from attnkit.training.checkpoint import load_checkpoint, restore_model, save_checkpoint
from attnkit.training.image_tasks import caption_tokenizer


def vit(**options) -> VisionTransformer:
    torch.manual_seed(0)
    defaults = dict(num_classes=5, d_model=16, num_heads=2, num_layers=2, dropout=0.0)
    return VisionTransformer(VisionTransformerConfig(**{**defaults, **options})).eval()


def captioner(**options) -> ImageCaptioner:
    torch.manual_seed(0)
    defaults = dict(
        tgt_vocab_size=12,
        d_model=16,
        num_heads=2,
        num_encoder_layers=1,
        num_decoder_layers=2,
        dropout=0.0,
        image_height=8,
        image_width=16,
    )
    return ImageCaptioner(ImageCaptionerConfig(**{**defaults, **options})).eval()


@pytest.mark.parametrize("stem", ["patch", "conv"])
@pytest.mark.parametrize("class_token", [True, False])
def test_patch_embedding_shapes(stem, class_token):
    embed = PatchEmbedding((28, 84), 4, 1, 16, class_token=class_token, stem=stem)
    assert embed.grid == (7, 21) and embed.num_patches == 147
    out = embed(torch.zeros(3, 1, 28, 84))
    assert out.shape == (3, 147 + class_token, 16)


def test_patch_embedding_is_a_linear_map_of_each_flattened_patch():
    embed = PatchEmbedding((8, 8), 4, 1, 6, positional="none", class_token=False)
    images = torch.randn(2, 1, 8, 8)
    # (B, 1, 2, 4, 2, 4) -> (B, rows, cols, 4, 4) -> (B, P, 16): patches in raster order
    patches = images.view(2, 1, 2, 4, 2, 4).permute(0, 2, 4, 1, 3, 5).reshape(2, 4, 16)
    expected = patches @ embed.proj.weight.view(6, 16).T + embed.proj.bias
    torch.testing.assert_close(embed(images), expected, atol=1e-5, rtol=1e-5)


def test_patch_embedding_refuses_other_sizes_and_odd_grids():
    embed = PatchEmbedding((28, 28), 7, 1, 8)
    with pytest.raises(ValueError, match=r"expected \(B, 1, 28, 28\)"):
        embed(torch.zeros(2, 1, 32, 32))
    with pytest.raises(ValueError, match="float tensor"):
        embed(torch.zeros(2, 1, 28, 28, dtype=torch.uint8))
    with pytest.raises(ValueError, match="not a multiple of patch_size=5"):
        PatchEmbedding((28, 28), 5, 1, 8)


def test_sinusoidal_2d_positions_encode_row_and_column():
    embed = PatchEmbedding((12, 12), 4, 1, 8, positional="sinusoidal", class_token=False)
    table = embed.grid_positions  # (9, 8): rows in the first half, columns in the second
    assert table.shape == (9, 8)
    torch.testing.assert_close(table[0, :4], table[2, :4])  # same row 0
    torch.testing.assert_close(table[0, 4:], table[6, 4:])  # same column 0
    assert not torch.allclose(table[0], table[4])


def permute_patches(images: torch.Tensor, patch: int, order: torch.Tensor) -> torch.Tensor:
    """Move whole patches of ``images`` to the raster slots given by ``order``."""
    batch, channels, height, width = images.shape
    rows, cols = height // patch, width // patch
    tiles = images.view(batch, channels, rows, patch, cols, patch).permute(0, 2, 4, 1, 3, 5)
    tiles = tiles.reshape(batch, rows * cols, channels, patch, patch)[:, order]
    tiles = tiles.view(batch, rows, cols, channels, patch, patch).permute(0, 3, 1, 4, 2, 5)
    return tiles.reshape(batch, channels, height, width)


@pytest.mark.parametrize("pooling", ["cls", "mean"])
def test_without_positions_a_vit_ignores_where_the_patches_are(pooling):
    model = vit(positional="none", pooling=pooling, patch_size=7)
    images = torch.randn(3, 1, 28, 28)
    shuffled = permute_patches(
        images, 7, torch.randperm(16, generator=torch.Generator().manual_seed(1))
    )
    torch.testing.assert_close(model(shuffled).logits, model(images).logits, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("positional", ["learned", "sinusoidal", "relative", "rope", "alibi"])
def test_every_positional_scheme_makes_patch_order_matter(positional):
    model = vit(positional=positional, patch_size=7)
    if positional == "learned":
        torch.nn.init.normal_(model.embedding.position.weight, std=1.0)
    if positional == "relative":
        torch.nn.init.normal_(model.encoder.position_bias.bias.weight, std=1.0)
    with torch.no_grad():
        model.head.weight.normal_()  # the zero-initialised head would hide any change
    images = torch.randn(3, 1, 28, 28)
    shuffled = permute_patches(
        images, 7, torch.randperm(16, generator=torch.Generator().manual_seed(1))
    )
    assert not torch.allclose(model(shuffled).logits, model(images).logits, atol=1e-4)


def test_vit_attention_maps_and_loss():
    model = vit(patch_size=7)
    out = model(torch.randn(2, 1, 28, 28), labels=torch.tensor([1, 3]), need_weights=True)
    assert out.logits.shape == (2, 5)
    assert len(out.attentions.encoder) == 2
    assert out.attentions.encoder[0].shape == (2, 2, 17, 17)  # class token + 16 patches
    torch.testing.assert_close(out.loss, torch.log(torch.tensor(5.0)))  # zero head: uniform
    fast = model(torch.randn(2, 1, 28, 28).zero_()).logits
    explicit = model(torch.zeros(2, 1, 28, 28), need_weights=True).logits
    torch.testing.assert_close(fast, explicit, atol=1e-6, rtol=1e-6)


@pytest.mark.parametrize("positional", ["learned", "sinusoidal", "relative", "rope", "alibi"])
def test_captioner_cached_decoding_equals_the_full_forward(positional):
    model = captioner(positional=positional)
    images = torch.randn(2, 1, 8, 16)
    tgt = torch.randint(3, 12, (2, 6))
    full = model(images, tgt).logits
    encoded = model.encode(images)
    cache = model.new_cache()
    steps = [model.decode_step(tgt[:, t : t + 1], encoded, cache) for t in range(6)]
    torch.testing.assert_close(torch.cat(steps, dim=1), full, atol=1e-5, rtol=1e-5)


def test_captioner_cross_attention_covers_the_image_regions():
    model = captioner(stem="patch")
    out = model(torch.randn(2, 1, 8, 16), torch.ones(2, 3, dtype=torch.long), need_weights=True)
    assert model.grid == (2, 4)
    assert out.attentions.cross[0].shape == (2, 2, 3, 8)  # (B, H, T, P)
    torch.testing.assert_close(out.attentions.cross[-1].sum(-1), torch.ones(2, 2, 3))


def test_beam_of_one_equals_greedy_through_the_image_adapter():
    model = captioner()
    images = torch.randn(4, 1, 8, 16)
    rows = torch.arange(4).unsqueeze(1)
    real = torch.ones_like(rows, dtype=torch.bool)
    source = ImageSource(model, images)
    greedy = greedy_translate(
        source, rows, bos_id=1, eos_id=2, max_len=6, pad_id=0, src_padding_mask=real
    )
    beam = beam_search(
        source, rows, beam_size=1, max_len=6, bos_id=1, eos_id=2, pad_id=0,
        length_penalty=0.0, src_padding_mask=real,
    )  # fmt: skip
    for row, hypothesis in zip(greedy.tolist(), beam.tokens, strict=True):
        row = row[: row.index(2)] if 2 in row else row
        assert hypothesis[0] == row


def test_caption_images_batches_like_one_at_a_time():
    tokenizer = caption_tokenizer("digit-mosaics")
    model = captioner(tgt_vocab_size=tokenizer.vocab_size)
    pixels = torch.randint(0, 256, (5, 1, 8, 16), dtype=torch.uint8)
    together = caption_images(model, pixels, tokenizer, max_len=5, batch_size=5)
    alone = [caption_images(model, pixels[i : i + 1], tokenizer, max_len=5)[0] for i in range(5)]
    assert together == alone
    assert caption_images(model, pixels[:2], tokenizer, beam=3, max_len=5)  # runs


@pytest.mark.parametrize("kind", ["vit", "captioner"])
def test_save_then_load_gives_identical_logits(tmp_path, kind):
    model = vit(patch_size=7) if kind == "vit" else captioner()
    size = (28, 28) if kind == "vit" else (8, 16)
    images = normalize_images(torch.randint(0, 256, (2, 1, *size), dtype=torch.uint8))
    args = (images,) if kind == "vit" else (images, torch.ones(2, 3, dtype=torch.long))
    save_checkpoint(tmp_path, step=1, model=model, optimizer=None, trainer_state={})
    fresh = vit(patch_size=7) if kind == "vit" else captioner()
    for p in fresh.parameters():
        torch.nn.init.normal_(p)
    restore_model(fresh, load_checkpoint(tmp_path))
    fresh.eval()
    for a, b in zip(model.state_dict().values(), fresh.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    assert torch.equal(model(*args).logits, fresh(*args).logits)
