"""Which attnkit variants another architecture can express, and the one-line refusals.

attnkit builds many Transformers from one config; GPT-2 and BERT are each one point of
that space. Before converting, :func:`check_expressible` names the first setting the
target has no place for (``model.positional='rope' cannot be expressed as GPT-2: ...``),
so an exported directory is either exact or not written at all. Settings that only
matter in training (dropout rates) are not checked.
"""

from __future__ import annotations

from typing import Any

from attnkit.config import TransformerConfig

__all__ = ["check_expressible", "refusal", "setting"]


def setting(key: str, value: Any) -> str:
    """``model.key=value`` written as ``--set`` takes it (``true``, ``'rope'``)."""
    shown = str(value).lower() if isinstance(value, bool) else repr(value)
    return f"model.{key}={shown}"


def refusal(config: Any, key: str, target: str, why: str) -> ValueError:
    """The one-line error for a setting ``target`` cannot express."""
    return ValueError(
        f"{setting(key, getattr(config, key))} cannot be expressed as {target}: {why}"
    )


def check_expressible(
    config: TransformerConfig,
    target: str,
    *,
    pre_ln: bool,
    scores: tuple[str, ...],
    activations: tuple[str, ...],
) -> None:
    """Raise the refusal of the first setting of ``config`` that ``target`` (GPT-2, BERT)
    cannot express.

    Both targets add learned absolute positions (a sinusoidal table or none is written
    as such a table), use LayerNorm, learned Q/K/V, residuals and one projection per
    head; ``pre_ln``, ``scores`` and ``activations`` say what else the target has.
    """
    positional = config.positional
    if positional not in ("learned", "sinusoidal", "none"):
        raise refusal(
            config,
            "positional",
            target,
            f"it adds learned absolute positions to the embeddings, and {positional} "
            f"positions act inside attention",
        )
    checks = (
        ("pos_combine", config.pos_combine != "add", "it adds positions to the tokens"),
        ("embed_scale", config.embed_scale, "it does not scale token embeddings by √d"),
        ("norm", config.norm != "layernorm", "its norms are LayerNorm"),
        ("norm_first", config.norm_first != pre_ln, _ln_why(pre_ln)),
        ("residual", not config.residual, "its layers have residual connections"),
        ("qkv_proj", not config.qkv_proj, "its attention learns Q/K/V projections"),
        (
            "score",
            config.score not in scores,
            f"its attention score is {' or '.join(scores)}",
        ),
        (
            "activation",
            config.activation not in activations,
            f"its feed-forward activation is {' or '.join(activations)}",
        ),
    )
    for key, fails, why in checks:
        if fails:
            raise refusal(config, key, target, why)


def _ln_why(pre_ln: bool) -> str:
    if pre_ln:
        return "it is pre-LN (a norm before each sub-layer): train with model.norm_first=true"
    return "it is post-LN (a norm after each residual sum): train with model.norm_first=false"
