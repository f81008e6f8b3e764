"""The fast paths of a training step give the textbook numbers: chunked cross-entropy,
the loss fused with the output projection, and dropout with cheap masks."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from attnkit.config import DecoderLMConfig, Seq2SeqConfig
from attnkit.models import build_model
from attnkit.nn import fast
from attnkit.nn.dropout import Dropout, dropout
from attnkit.nn.fast import losses as fast_losses
from attnkit.nn.fast.dropout import keep_mask
from attnkit.nn.losses import IGNORE_INDEX, output_loss, token_cross_entropy


@pytest.fixture(autouse=True)
def fast_paths():
    """These tests hold the fast implementations to the textbook numbers: run them on,
    whatever ATTNKIT_REFERENCE says."""
    with fast.reference_mode(False):
        yield


@pytest.fixture
def small_chunks(monkeypatch):
    """Chunks of a few rows, so that every test crosses chunk boundaries."""
    monkeypatch.setattr(fast_losses, "_CHUNK_ELEMENTS", 40)


def _targets(rows: int, cols: int, vocab: int) -> torch.Tensor:
    targets = torch.randint(0, vocab, (rows, cols))
    targets[0, :3] = IGNORE_INDEX
    targets[-1, -2:] = IGNORE_INDEX
    return targets


@pytest.mark.parametrize("smoothing", [0.0, 0.1, 0.3])
def test_token_cross_entropy_matches_torch_values_and_gradients(small_chunks, smoothing):
    torch.manual_seed(0)
    logits = torch.randn(3, 7, 11, dtype=torch.float64, requires_grad=True)
    targets = _targets(3, 7, 11)
    ours, count = token_cross_entropy(logits, targets, label_smoothing=smoothing)
    (ours * 0.7).backward()
    grad_ours, logits.grad = logits.grad.clone(), None
    ref = F.cross_entropy(
        logits.flatten(0, 1), targets.flatten(), label_smoothing=smoothing, reduction="sum"
    )
    (ref * 0.7).backward()
    assert count.item() == 21 - 5
    assert ours.item() == pytest.approx(ref.item(), rel=1e-12)
    torch.testing.assert_close(grad_ours, logits.grad, atol=1e-12, rtol=1e-10)


@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_loss_fused_with_the_projection_matches_projection_then_loss(small_chunks, bias, smoothing):
    torch.manual_seed(1)
    hidden = torch.randn(2, 9, 5, dtype=torch.float64, requires_grad=True)
    projection = nn.Linear(5, 13, bias=bias).double()
    targets = _targets(2, 9, 13)
    ours, count = output_loss(hidden, projection, targets, label_smoothing=smoothing)
    ours.backward()
    mine = [hidden.grad.clone()] + [p.grad.clone() for p in projection.parameters()]
    hidden.grad = None
    projection.zero_grad()
    ref = F.cross_entropy(
        projection(hidden).flatten(0, 1),
        targets.flatten(),
        label_smoothing=smoothing,
        reduction="sum",
    )
    ref.backward()
    theirs = [hidden.grad] + [p.grad for p in projection.parameters()]
    assert count.item() == 18 - 5
    assert ours.item() == pytest.approx(ref.item(), rel=1e-12)
    for a, b in zip(mine, theirs, strict=True):
        torch.testing.assert_close(a, b, atol=1e-12, rtol=1e-10)


def test_fused_losses_refuse_a_second_backward_and_handle_all_ignored_rows():
    hidden = torch.randn(1, 4, 3, requires_grad=True)
    projection = nn.Linear(3, 6)
    loss, _ = output_loss(hidden, projection, torch.randint(0, 6, (1, 4)))
    loss.backward(retain_graph=True)
    with pytest.raises(RuntimeError, match="one backward pass"):
        loss.backward()
    empty, count = token_cross_entropy(
        torch.randn(2, 3, 6, requires_grad=True), torch.full((2, 3), IGNORE_INDEX)
    )
    assert count.item() == 0 and empty.item() == 0.0


def test_label_smoothing_out_of_range_is_a_clear_error():
    with pytest.raises(ValueError, match=r"label_smoothing must be in \[0, 1\)"):
        token_cross_entropy(
            torch.randn(1, 2, 3), torch.zeros(1, 2, dtype=torch.long), label_smoothing=1.0
        )


@pytest.mark.parametrize("kind", ["decoder_lm", "seq2seq"])
def test_models_fused_training_loss_equals_the_logits_path(kind):
    torch.manual_seed(2)
    if kind == "decoder_lm":
        model = build_model(DecoderLMConfig(vocab_size=31, d_model=16, num_heads=2, dropout=0.0))
        inputs = (torch.randint(0, 31, (2, 6)),)
    else:
        config = Seq2SeqConfig(src_vocab_size=29, tgt_vocab_size=31, d_model=16, dropout=0.0)
        model = build_model(config)
        inputs = (torch.randint(3, 29, (2, 5)), torch.randint(3, 31, (2, 6)))
    labels = _targets(2, 6, 31)
    grads = []
    for fused in (True, False):
        model.zero_grad()
        with fast.reference_mode(not fused):
            out = model(*inputs, labels=labels, label_smoothing=0.1)
            out.loss.backward()
        grads.append((out.loss.detach(), [p.grad.clone() for p in model.parameters()]))
    (loss_a, grads_a), (loss_b, grads_b) = grads
    torch.testing.assert_close(loss_a, loss_b, atol=1e-6, rtol=1e-6)
    for a, b in zip(grads_a, grads_b, strict=True):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-5)


def test_dropout_keeps_the_expectation_and_drops_the_asked_fraction():
    torch.manual_seed(3)
    mask = keep_mask((400_000,), 0.1, device=torch.device("cpu"))
    dropped = 1 - mask.float().mean().item()
    assert abs(dropped - 0.1) < 0.003  # binomial s.d. ≈ 0.0005
    x = torch.ones(400_000)
    assert abs(dropout(x, 0.3).mean().item() - 1.0) < 0.01
    assert dropout(x, 0.3, training=False) is x and dropout(x, 0.0) is x


def test_dropout_gradient_is_the_scaled_mask_and_seeds_reproduce_it():
    x = torch.randn(50, 40, requires_grad=True)
    torch.manual_seed(4)
    y = dropout(x, 0.25)
    y.sum().backward()
    kept = y != 0
    scale = 65536 / (65536 - round(0.25 * 65536))
    torch.testing.assert_close(x.grad, kept.float() * scale)
    torch.testing.assert_close(y[kept], x[kept] * scale)
    torch.manual_seed(4)
    assert torch.equal(dropout(x, 0.25), y)


def test_dropout_module_is_a_drop_in_and_validates_p():
    drop = Dropout(0.2)
    assert "p=0.2" in repr(drop)
    with pytest.raises(ValueError, match=r"dropout probability must be in \[0, 1\)"):
        Dropout(1.0)
