"""All five training tasks are members of the one protocol the trainer drives."""

from __future__ import annotations

import inspect

import pytest

from attnkit.config import EncoderConfig, RunConfig
from attnkit.training.image_tasks import CaptioningTask, ImageClassificationTask
from attnkit.training.tasks import (
    TASKS,
    LanguageModelTask,
    MaskedLanguageModelTask,
    Task,
    TranslationTask,
    build_task,
)

MEMBERS = [name for name in vars(Task) if not name.startswith("_")]


def test_the_protocol_lists_what_the_trainer_uses():
    assert MEMBERS == ["vocab_sizes", "save_tokenizers", "micro_batches", "loss", "evaluate"]


@pytest.mark.parametrize(
    "task",
    [
        LanguageModelTask,
        MaskedLanguageModelTask,
        TranslationTask,
        ImageClassificationTask,
        CaptioningTask,
    ],
)
def test_every_task_has_the_protocol_members_with_their_signatures(task):
    for name in MEMBERS:
        wanted, got = inspect.getattr_static(Task, name), inspect.getattr_static(task, name)
        if isinstance(wanted, property):
            assert isinstance(got, property), (task, name)
            continue
        wanted_params = list(inspect.signature(wanted).parameters)[1:]  # without self
        got_function = got.__func__ if isinstance(got, staticmethod) else got
        got_params = list(inspect.signature(got_function).parameters)
        if not isinstance(got, staticmethod):
            got_params = got_params[1:]
        assert got_params == wanted_params, (task, name)


def test_build_task_names_every_trainable_kind(monkeypatch):
    assert sorted(TASKS) == ["captioner", "decoder_lm", "encoder", "rnn_seq2seq", "seq2seq", "vit"]
    monkeypatch.delitem(TASKS, "encoder")  # a kind without a task, as the encoder once was
    config = RunConfig(model=EncoderConfig())
    with pytest.raises(ValueError) as error:
        build_task(config)
    message = str(error.value)
    assert "model.kind='encoder'" in message
    for kind in TASKS:
        assert repr(kind) in message
