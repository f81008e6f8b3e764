"""The token loss computed faster, with the same numbers as the reference
(:func:`attnkit.nn.losses.token_cross_entropy` and :func:`attnkit.nn.losses.output_loss`:
``head(hidden)`` then ``F.cross_entropy``), tested equal to 1e-6 in
``tests/nn/test_fused_losses_dropout.py``.

The loss over a large vocabulary is the most memory-bound part of a training step: a
``(B·T, V)`` logits matrix (2048 × 8000 floats = 64 MB) leaves the CPU caches, and the
textbook composition (``log_softmax`` → gather → label-smoothing sum, then their
backward) streams it through memory half a dozen times.

* :func:`token_cross_entropy` walks the rows in cache-sized chunks once, computing each
  chunk's loss *and* its gradient ``softmax − smoothed target`` while the chunk is in
  cache; the backward pass only scales that stored gradient.
* :func:`linear_cross_entropy` also fuses the output projection: the logits are computed
  chunk by chunk and never stored, nor is their gradient.

Both support one backward pass (their stored gradient is used up).
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["IGNORE_INDEX", "linear_cross_entropy", "token_cross_entropy"]

IGNORE_INDEX = -100  # the same as attnkit.nn.losses.IGNORE_INDEX (which imports this one)

# Rows per chunk: 64 rows of an 8000-word vocabulary are 2 MB of fp32, which stays in a
# core's L2/L3 while the chunk's loss and gradient are computed.
_CHUNK_ELEMENTS = 1 << 19


class _FusedCrossEntropy(torch.autograd.Function):
    """Summed (label-smoothed) cross-entropy whose gradient is computed in the forward."""

    @staticmethod
    def forward(ctx, logits: Tensor, targets: Tensor, smoothing: float) -> Tensor:  # type: ignore[override]
        rows, vocab = logits.shape
        chunk = max(1, _CHUNK_ELEMENTS // vocab)
        want_grad = ctx.needs_input_grad[0]
        dtype = torch.promote_types(logits.dtype, torch.float32)  # fp16/bf16 → fp32
        grad = torch.empty(logits.shape, dtype=dtype, device=logits.device) if want_grad else None
        total = torch.zeros((), dtype=dtype, device=logits.device)
        for start in range(0, rows, chunk):
            x = logits[start : start + chunk].to(dtype)  # (c, V), a copy if cast
            if grad is not None:
                g = grad[start : start + chunk]
                g.copy_(x)
                x = g  # the chunk's gradient overwrites its copy of the logits
            total += _chunk_loss_and_grad(
                x, targets[start : start + chunk], smoothing, want_grad=grad is not None
            )
        ctx.save_for_backward(grad if grad is not None else total)
        ctx.logits_dtype = logits.dtype
        ctx.spent = False
        return total

    @staticmethod
    def backward(ctx, grad_total: Tensor):  # type: ignore[override]
        if ctx.spent:
            raise RuntimeError(
                "token_cross_entropy's stored gradient was already used; it supports one "
                "backward pass (no retain_graph=True)"
            )
        ctx.spent = True
        (grad,) = ctx.saved_tensors
        # Scaling in place: the stored gradient is used once, so no second 64 MB buffer.
        grad = grad.mul_(grad_total).to(ctx.logits_dtype)
        return grad, None, None


# Rows per block of the elementwise passes: 1 MB of fp32, one core's L2 here. Passes over
# a block that fits are much faster than over one that spills to L3 (docs/benchmarks.md).
_L2_ELEMENTS = 1 << 18


def _chunk_loss_and_grad(
    logits: Tensor,
    targets: Tensor,
    smoothing: float,
    *,
    want_grad: bool,
    column_sums: Tensor | None = None,
) -> Tensor:
    """Summed loss of a chunk of rows; with ``want_grad``, overwrite ``logits`` with the
    gradient of that sum (``softmax − smoothed one-hot``, zero on ignored rows), and add
    its column sums (the bias gradient) to ``column_sums`` when given.

    The rows are walked in L2-sized blocks, each block going through all its passes
    (max, exp, sum, normalise, smooth, mask) while it is in cache.

    Shape:
        logits ``(c, V)`` float (fp32 or fp64), targets ``(c,)`` long,
        column_sums ``(V,)`` → ``()``.
    """
    rows, vocab = logits.shape
    step = max(1, _L2_ELEMENTS // vocab)
    total = torch.zeros((), dtype=logits.dtype, device=logits.device)
    for start in range(0, rows, step):
        block = logits[start : start + step]  # (b, V), a view: written in place
        total += _block_loss_and_grad(
            block, targets[start : start + step], smoothing, want_grad=want_grad
        )
        if want_grad and column_sums is not None:
            column_sums += block.sum(dim=0)
    return total


def _block_loss_and_grad(
    logits: Tensor, targets: Tensor, smoothing: float, *, want_grad: bool
) -> Tensor:
    """:func:`_chunk_loss_and_grad` for one cache-sized block. Shape: ``(b, V)`` → ``()``."""
    vocab = logits.shape[1]
    keep = targets != IGNORE_INDEX  # (b,)
    t = targets.clamp_min(0).unsqueeze(1)  # (b, 1): ignored rows point at token 0
    picked = logits.gather(1, t).squeeze(1)  # (b,) the target's logit
    mean = logits.mean(dim=-1) if smoothing else None  # (b,)
    top = logits.amax(dim=-1, keepdim=True)  # (b, 1)
    shifted = logits.sub_(top) if want_grad else logits - top  # the gradient reuses logits
    exp = shifted.exp_()
    norm = exp.sum(dim=-1, keepdim=True)  # (b, 1)
    lse = (top + norm.log()).squeeze(1)  # (b,) log Σ exp
    row_loss = lse - picked  # −log p(target)
    if smoothing:
        # Smoothed target: (1 − ε) on the target plus ε/V everywhere, so the loss is
        # (1 − ε)·NLL + ε·(lse − mean logit).
        row_loss = (1 - smoothing) * row_loss + smoothing * (lse - mean)
    total = row_loss.masked_fill(~keep, 0.0).sum()
    if want_grad:
        g = exp.mul_(norm.reciprocal_())  # softmax, in place
        if smoothing:
            g.sub_(smoothing / vocab)
        g.scatter_add_(1, t, g.new_full(t.shape, smoothing - 1.0))
        g.mul_(keep.unsqueeze(1))  # ignored rows: no gradient
    return total


class _LinearCrossEntropy(torch.autograd.Function):
    """``token_cross_entropy(hidden @ weight.T + bias, targets)`` without ever holding
    the ``(N, V)`` logits: each chunk of rows is projected, turned into its loss and its
    logit gradient, and folded into the input and weight gradients at once."""

    @staticmethod
    def forward(ctx, hidden, weight, bias, targets, smoothing):  # type: ignore[override]
        rows, vocab = hidden.shape[0], weight.shape[0]
        chunk = max(1, (4 * _CHUNK_ELEMENTS) // vocab)  # bigger: the matmuls want rows
        acc = torch.promote_types(hidden.dtype, torch.float32)
        w = weight.to(hidden.dtype)  # (V, D); autocast may hand us low-precision hidden
        b = None if bias is None else bias.to(hidden.dtype)
        want_h, want_w, want_b = ctx.needs_input_grad[:3]
        grad_h = torch.empty_like(hidden) if want_h else None
        grad_w = torch.zeros(weight.shape, dtype=acc, device=weight.device) if want_w else None
        grad_b = torch.zeros(vocab, dtype=acc, device=weight.device) if want_b else None
        total = torch.zeros((), dtype=acc, device=hidden.device)
        want_grad = want_h or want_w or want_b
        # One logits buffer for all chunks: a fresh (c, V) block per chunk would be
        # page-faulted in again every time.
        reuse = hidden.dtype == acc
        buffer = hidden.new_empty(min(chunk, rows), vocab) if reuse else None
        for start in range(0, rows, chunk):
            h = hidden[start : start + chunk]  # (c, D)
            if buffer is not None:
                logits = buffer[: h.shape[0]]  # (c, V)
                if b is None:
                    torch.mm(h, w.t(), out=logits)
                else:
                    torch.addmm(b, h, w.t(), out=logits)
            else:
                logits = (h @ w.t() if b is None else torch.addmm(b, h, w.t())).to(acc)
            total += _chunk_loss_and_grad(
                logits,
                targets[start : start + chunk],
                smoothing,
                want_grad=want_grad,
                column_sums=grad_b,
            )
            g = logits  # now the gradient of the summed loss w.r.t. these logits
            if grad_h is not None:  # (c, V) @ (V, D), written in place
                torch.mm(g.to(w.dtype), w, out=grad_h[start : start + chunk])
            if grad_w is not None:
                grad_w.addmm_(g.t(), h.to(acc))  # (V, c) @ (c, D)
        ctx.save_for_backward(*(x for x in (grad_h, grad_w, grad_b) if x is not None))
        ctx.present = (grad_h is not None, grad_w is not None, grad_b is not None)
        ctx.dtypes = (hidden.dtype, weight.dtype, None if bias is None else bias.dtype)
        ctx.spent = False
        return total

    @staticmethod
    def backward(ctx, grad_total):  # type: ignore[override]
        if ctx.spent:
            raise RuntimeError(
                "linear_cross_entropy's stored gradient was already used; it supports one "
                "backward pass (no retain_graph=True)"
            )
        ctx.spent = True
        saved = iter(ctx.saved_tensors)
        grads = []
        for present, dtype in zip(ctx.present, ctx.dtypes, strict=True):
            grads.append(next(saved).mul_(grad_total).to(dtype) if present else None)
        return (*grads, None, None)


def token_cross_entropy(logits: Tensor, targets: Tensor, label_smoothing: float) -> Tensor:
    """Summed (label-smoothed) cross-entropy of flat logits, its gradient computed in the
    forward pass, chunk by chunk.

    Shape:
        logits ``(N, V)``, targets ``(N,)`` → ``()``.
    """
    return _FusedCrossEntropy.apply(logits, targets, float(label_smoothing))


def linear_cross_entropy(
    hidden: Tensor, projection: torch.nn.Linear, targets: Tensor, label_smoothing: float
) -> Tensor:
    """Summed cross-entropy of ``projection(hidden)``, never holding the logits.

    Shape:
        hidden ``(N, D)``, targets ``(N,)``, projection ``D → V`` → ``()``.
    """
    return _LinearCrossEntropy.apply(
        hidden, projection.weight, projection.bias, targets, float(label_smoothing)
    )
