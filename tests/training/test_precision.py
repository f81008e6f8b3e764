"""The mixed-precision path a GPU takes (bf16 autocast) gives the numbers of fp32 within
bf16's precision; CI has no GPU, but CPU autocast runs the same model code: the fused
loss on low-precision hidden states, fp32 softmax of bf16 scores, the trainer's update."""

from __future__ import annotations

import functools

import pytest
import torch

import attnkit.training.trainer as trainer
from attnkit.config import DecoderLMConfig, Seq2SeqConfig, TrainConfig
from attnkit.models import build_model
from attnkit.runtime import DistributedContext, autocast, resolve_precision
from attnkit.training.optim import build_optimizer
from attnkit.training.tasks import LanguageModelTask, TranslationTask

CPU = torch.device("cpu")


def test_auto_precision_is_fp32_on_a_cpu():
    assert resolve_precision("auto", CPU) == "fp32"
    assert resolve_precision("bf16", CPU) == "bf16"


def test_fp16_off_cuda_is_refused_with_one_line_naming_the_alternatives():
    with pytest.raises(ValueError, match="needs a CUDA device") as error:
        resolve_precision("fp16", CPU)
    assert "\n" not in str(error.value) and "bf16" in str(error.value)


def test_an_unknown_precision_lists_the_choices():
    with pytest.raises(ValueError, match="auto, fp32, bf16 or fp16"):
        resolve_precision("fp8", CPU)


def _language_model(seed: int = 0, **overrides):
    torch.manual_seed(seed)
    config = DecoderLMConfig(vocab_size=31, d_model=32, num_heads=4, num_layers=2, **overrides)
    tokens = torch.randint(0, 31, (4, 13), generator=torch.Generator().manual_seed(seed))
    batch = {"tokens": tokens[:, :-1], "labels": tokens[:, 1:]}
    return build_model(config), batch, LanguageModelTask.loss


def _translator(seed: int = 0, **overrides):
    torch.manual_seed(seed)
    config = Seq2SeqConfig(
        src_vocab_size=29,
        tgt_vocab_size=29,
        d_model=32,
        num_heads=4,
        num_encoder_layers=2,
        num_decoder_layers=2,
        d_ff=64,
        share_embeddings=True,
        **overrides,
    )
    g = torch.Generator().manual_seed(seed)
    src = torch.randint(3, 29, (4, 11), generator=g)
    src[0, 8:] = 0  # one padded source row
    tgt = torch.randint(3, 29, (4, 10), generator=g)
    labels = tgt[:, 1:].clone()
    labels[1, 6:] = -100  # one shorter target
    batch = {"src": src, "tgt": tgt[:, :-1], "labels": labels}
    return build_model(config), batch, TranslationTask.loss


BUILDERS = {"language model": _language_model, "encoder-decoder": _translator}


def _gradients(model, batch, loss_fn, precision: str) -> tuple[float, list[torch.Tensor]]:
    model.zero_grad(set_to_none=True)
    with autocast(CPU, precision):
        summed, _ = loss_fn(model, batch, label_smoothing=0.1)
    summed.backward()
    return summed.item(), [p.grad.detach().clone() for p in model.parameters()]


@pytest.mark.parametrize("family", sorted(BUILDERS))
def test_bf16_autocast_gives_the_fp32_loss_and_gradients_within_bf16_precision(family):
    model, batch, loss_fn = BUILDERS[family](dropout=0.0)
    loss32, grads32 = _gradients(model, batch, loss_fn, "fp32")
    loss16, grads16 = _gradients(model, batch, loss_fn, "bf16")
    # bf16 keeps 8 bits of mantissa (relative error ~4e-3 per rounding).
    assert loss16 == pytest.approx(loss32, rel=2e-2)
    names = [name for name, _ in model.named_parameters()]
    for name, g32, g16 in zip(names, grads32, grads16, strict=True):
        assert g16.dtype == torch.float32  # parameters and their gradients stay fp32
        assert torch.isfinite(g16).all()
        if name.endswith("k_proj.bias"):
            # A key bias adds the same number to every score of a query, which softmax
            # ignores: its gradient is zero, and only rounding noise is left to compare.
            assert g32.norm() < 1e-8 and g16.norm() < 1e-4
            continue
        cosine = torch.nn.functional.cosine_similarity(g32.flatten(), g16.flatten(), dim=0)
        assert cosine > 0.98, f"{name}: gradient direction changed under bf16 ({cosine:.3f})"


@pytest.mark.parametrize("family", sorted(BUILDERS))
def test_a_bf16_training_update_keeps_fp32_parameters_and_lowers_the_loss(family):
    model, batch, loss_fn = BUILDERS[family](dropout=0.1)
    optimizer = build_optimizer(model, TrainConfig(lr=3e-3))
    step = functools.partial(
        trainer.update_step,
        model,
        functools.partial(loss_fn, label_smoothing=0.1),
        [batch],
        optimizer,
        scaler=torch.amp.GradScaler("cpu", enabled=False),
        device=CPU,
        precision="bf16",
        dist=DistributedContext(),
        grad_clip=1.0,
    )
    losses = [step()[0] for _ in range(8)]
    assert all(p.dtype == torch.float32 and torch.isfinite(p).all() for p in model.parameters())
    assert losses[-1] < losses[0] - 0.1, losses
