"""The lean decoding step (``nn/fast/lean_step.py``) computes what the layers' forward does.

Every layer variant it covers is decoded one position at a time twice — through
:class:`LeanStack` and through the layers' own forward — and checked against the full
(parallel) forward; the variants it does not cover, and stacks with forward hooks, must
fall back to the layers.
"""

import itertools

import pytest
import torch

from attnkit.nn import TransformerStack, fast
from attnkit.nn.fast.lean_step import LeanStack, built_for

B, T, D, H, FF = 3, 7, 16, 4, 32
ATOL = 1e-5


@pytest.fixture(autouse=True)
def fast_paths():
    """The lean step is part of the speed seam: test it with the seam on, whatever
    ATTNKIT_REFERENCE says (``_decode(lean=False)`` switches it off for the reference)."""
    with fast.reference_mode(False):
        yield


def _stack(**options) -> TransformerStack:
    torch.manual_seed(0)
    options = {"dropout": 0.0, **options}
    return TransformerStack(2, D, H, FF, causal=True, **options).eval()


def _decode(stack, x, *, lean: bool, memory=None, memory_real=None, prompt=3):
    """A prompt chunk, then one position per call; returns all outputs and the cache."""
    cache = stack.new_cache()
    kwargs = {"memory": memory, "memory_padding_mask": memory_real}
    with fast.reference_mode(not lean):  # off: the reference layers' forward at every step
        outs = [stack(x[:, :prompt], cache=cache, **kwargs).hidden]
        outs += [stack(x[:, t : t + 1], cache=cache, **kwargs).hidden for t in range(prompt, T)]
    return torch.cat(outs, dim=1), cache


LAYER_VARIANTS = [
    dict(norm_first=nf, norm=norm, activation=act, bias=bias)
    for nf, norm, act, bias in itertools.product(
        (True, False), ("layernorm", "rmsnorm", "none"), ("relu", "gelu", "swiglu"), (True, False)
    )
]


@pytest.mark.parametrize("options", LAYER_VARIANTS, ids=lambda o: "-".join(map(str, o.values())))
@torch.no_grad()
def test_lean_steps_equal_the_layers_and_the_full_forward(options):
    stack = _stack(**options)
    x = torch.randn(B, T, D)
    lean, cache = _decode(stack, x, lean=True)
    assert isinstance(built_for(cache), LeanStack), "the lean path was not taken"
    layers, _ = _decode(stack, x, lean=False)
    torch.testing.assert_close(lean, layers, atol=ATOL, rtol=0)
    torch.testing.assert_close(lean, stack(x).hidden, atol=ATOL, rtol=0)


@pytest.mark.parametrize("positional", ["none", "rope", "alibi", "relative"])
@pytest.mark.parametrize("num_kv_heads", [H, 2, 1])
@torch.no_grad()
def test_lean_steps_with_positions_and_grouped_heads(positional, num_kv_heads):
    stack = _stack(positional=positional, num_kv_heads=num_kv_heads, norm_first=True)
    x = torch.randn(B, T, D)
    lean, cache = _decode(stack, x, lean=True)
    assert isinstance(built_for(cache), LeanStack)
    torch.testing.assert_close(lean, stack(x).hidden, atol=ATOL, rtol=0)


@pytest.mark.parametrize("norm_first", [True, False])
@pytest.mark.parametrize("score", ["scaled_dot", "general", "additive"])
@torch.no_grad()
def test_lean_steps_with_cross_attention_over_padded_memory(norm_first, score):
    stack = _stack(cross_attention=True, norm_first=norm_first, score=score)
    x, memory = torch.randn(B, T, D), torch.randn(B, 5, D)
    real = torch.tensor([[True] * 5, [True] * 2 + [False] * 3, [True] * 4 + [False]])
    lean, cache = _decode(stack, x, lean=True, memory=memory, memory_real=real)
    assert isinstance(built_for(cache), LeanStack)
    assert all(c.filled and len(c) == 5 for c in cache.cross_attn)
    full = stack(x, memory=memory, memory_padding_mask=real).hidden
    torch.testing.assert_close(lean, full, atol=ATOL, rtol=0)


@torch.no_grad()
def test_lean_steps_from_the_first_position_with_left_padding():
    """One position per call from the start, on a left-padded prompt (a key mask)."""
    stack = _stack(positional="rope")
    x = torch.randn(B, T, D)
    real = torch.ones(B, T, dtype=torch.bool)
    real[1, :2] = False
    cache = stack.new_cache()
    stack(x[:, :3], padding_mask=real[:, :3], cache=cache)
    steps = [
        stack(x[:, t : t + 1], padding_mask=real[:, t : t + 1], cache=cache).hidden
        for t in range(3, T)
    ]
    assert isinstance(built_for(cache), LeanStack)
    full = stack(x, padding_mask=real).hidden
    torch.testing.assert_close(torch.cat(steps, dim=1), full[:, 3:], atol=ATOL, rtol=0)


@pytest.mark.parametrize(
    "options", [dict(residual=False), dict(qkv_proj=False)], ids=["no-residual", "no-qkv-proj"]
)
@torch.no_grad()
def test_variants_the_lean_step_does_not_cover_run_the_layers(options):
    stack = _stack(**options)
    x = torch.randn(B, T, D)
    out, cache = _decode(stack, x, lean=True)
    assert built_for(cache) is False
    torch.testing.assert_close(out, stack(x).hidden, atol=ATOL, rtol=0)


@torch.no_grad()
def test_forward_hooks_still_fire_during_decoding():
    stack = _stack()
    seen = []
    handle = stack.layers[1].ffn.register_forward_hook(lambda m, args, out: seen.append(out))
    try:
        _, cache = _decode(stack, torch.randn(B, T, D), lean=True)
    finally:
        handle.remove()
    assert built_for(cache) is False
    assert len(seen) == 1 + (T - 3)  # the prompt chunk, then every step


def test_training_mode_weight_requests_and_autograd_take_the_layers():
    stack = _stack(dropout=0.1).train()
    cache = stack.new_cache()
    with torch.no_grad():
        stack(torch.randn(B, 1, D), cache=cache)
        assert built_for(cache) is None
        stack.eval()
        stack(torch.randn(B, 1, D), cache=cache, need_weights=True)
        assert built_for(cache) is None
    out = stack(torch.randn(B, 1, D), cache=cache)  # eval, but gradients wanted
    assert built_for(cache) is None
    out.hidden.sum().backward()
    assert stack.layers[0].self_attn.q_proj.weight.grad is not None
