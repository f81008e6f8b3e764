"""What a trained run can do, per model family: evaluate it, draw its attention, run it
(generate, translate, classify, caption, fill masks) and describe it.

The API (:mod:`attnkit.api`) looks a loaded run's family up once, in :data:`FAMILIES`
(keyed by ``model.kind``: the only place that reads the kind), and asks it. Each
operation is a small protocol (:mod:`attnkit.families.base`) that a family implements
or not; :func:`fits` lists the API functions a family's runs can be given, and an API
function handed a run of the wrong family says which of them to use instead.

==============================  =====================================================
family                          API functions that fit it
``LanguageModel``               generate, evaluate, plot_run_attention
``Translator`` (incl. RNN)      translate, evaluate, plot_run_attention
``ImageClassifier``             classify, evaluate, plot_image_attention,
                                write_vision_samples
``Captioner``                   caption, evaluate, plot_image_attention,
                                write_vision_samples
``MaskedLanguageModel``         fill_mask, embed, evaluate, plot_run_attention
==============================  =====================================================

Every run also fits ``run_info`` and ``average_checkpoints``.
"""

from __future__ import annotations

from typing import TypeVar

from attnkit.families.base import (
    Captions,
    Classifies,
    DrawsImageAttention,
    DrawsTextAttention,
    Embeds,
    Evaluates,
    Family,
    FillsMasks,
    Generates,
    HoldsOutImages,
    Translates,
)
from attnkit.families.images import Captioner, ImageClassifier
from attnkit.families.language_model import LanguageModel, MaskedLanguageModel
from attnkit.families.translator import Translator
from attnkit.training.rundir import LoadedRun

__all__ = ["FAMILIES", "OPERATIONS", "Family", "family_for", "family_of", "fits"]

FAMILIES: dict[str, Family] = {
    "decoder_lm": LanguageModel(),
    "encoder": MaskedLanguageModel(),
    "seq2seq": Translator(),
    "rnn_seq2seq": Translator(),
    "vit": ImageClassifier(),
    "captioner": Captioner(),
}

# The API function behind each operation, the ones that run a model first (a family
# has at most one of those, so it leads the list of what to use instead).
OPERATIONS: dict[str, type] = {
    "generate": Generates,
    "translate": Translates,
    "classify": Classifies,
    "caption": Captions,
    "fill_mask": FillsMasks,
    "embed": Embeds,
    "evaluate": Evaluates,
    "plot_run_attention": DrawsTextAttention,
    "plot_image_attention": DrawsImageAttention,
    "write_vision_samples": HoldsOutImages,
}

Operation = TypeVar("Operation")


def family_of(run: LoadedRun) -> Family:
    """The family of a loaded run."""
    return FAMILIES[run.config.model.kind]


def fits(family: Family) -> list[str]:
    """The API functions that take runs of ``family``, the one that runs it first."""
    return [name for name, operation in OPERATIONS.items() if isinstance(family, operation)]


def _a(noun: str) -> str:
    return f"{'an' if noun[0] in 'aeiou' else 'a'} {noun}"


def family_for(
    run: LoadedRun, operation: type[Operation], *, needs: str, parameter: str | None = None
) -> Operation:
    """The family of ``run``, as the ``operation`` protocol an API function needs.

    Args:
        run: a loaded run.
        operation: the protocol the caller uses (``Translates``, ``Classifies``, ...).
        needs: what the caller takes, for the message ("a translator").
        parameter: the caller's argument that only suits such runs ("text"), if any.

    Raises:
        ValueError: the run's family does not implement ``operation``; the message names
            what the run holds and the API functions that fit it.
    """
    family = family_of(run)
    if isinstance(family, operation):
        return family
    why = f", so {parameter}= does not apply" if parameter else ""
    usable = [f"{name}()" for name in fits(family)]
    use = ", ".join(usable[:-1]) + " or " + usable[-1] if len(usable) > 1 else "".join(usable)
    raise ValueError(
        f"{run.run_dir.root} holds {_a(family.noun)}, not {needs}{why}: use {use or 'run_info()'}"
    )
