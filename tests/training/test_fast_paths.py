"""Speed features of the training step and the decoding loops change no numbers."""

from __future__ import annotations

import functools

import pytest
import torch

import attnkit.training.trainer as trainer
from attnkit.config import DecoderLMConfig, TrainConfig
from attnkit.decoding import greedy_generate
from attnkit.models import build_model
from attnkit.nn import fast
from attnkit.nn.fast import passes
from attnkit.nn.fast.threads import cpu_decoding
from attnkit.runtime import DistributedContext
from attnkit.training.optim import build_optimizer
from attnkit.training.tasks import LanguageModelTask


@pytest.fixture(autouse=True)
def fast_paths():
    """These are tests of the speed seam: on, whatever ATTNKIT_REFERENCE says."""
    with fast.reference_mode(False):
        yield


def _update(monkeypatch, pass_tokens: int) -> tuple[float, list[torch.Tensor]]:
    monkeypatch.setattr(passes, "CPU_PASS_TOKENS", pass_tokens)
    torch.manual_seed(0)
    model = build_model(DecoderLMConfig(vocab_size=23, d_model=16, num_heads=2, dropout=0.0))
    optimizer = build_optimizer(model, TrainConfig(lr=1e-3))
    tokens = torch.randint(0, 23, (6, 9), generator=torch.Generator().manual_seed(1))
    batch = {"tokens": tokens[:, :-1], "labels": tokens[:, 1:]}
    loss, count, _ = trainer.update_step(
        model,
        functools.partial(LanguageModelTask.loss, label_smoothing=0.1),
        [batch],
        optimizer,
        scaler=torch.amp.GradScaler("cpu", enabled=False),
        device=torch.device("cpu"),
        precision="fp32",
        dist=DistributedContext(),
        grad_clip=1.0,
    )
    assert count == 6 * 8
    return loss, [p.detach().clone() for p in model.parameters()]


def test_a_large_cpu_batch_split_into_cache_sized_passes_gives_the_same_update(monkeypatch):
    whole_loss, whole = _update(monkeypatch, pass_tokens=10_000)
    split_loss, split = _update(monkeypatch, pass_tokens=16)  # passes of 2 rows
    assert abs(whole_loss - split_loss) < 1e-6
    for a, b in zip(whole, split, strict=True):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-5)


def test_cache_sized_passes_split_rows_and_keep_single_labels_whole(monkeypatch):
    monkeypatch.setattr(passes, "CPU_PASS_TOKENS", 10)
    batch = {"tokens": torch.zeros(7, 5), "labels": torch.zeros(7, 5)}
    parts = passes.cache_sized_passes(batch)
    assert [p["tokens"].shape[0] for p in parts] == [2, 2, 2, 1]
    images = {"images": torch.zeros(7, 1, 4, 4), "labels": torch.zeros(7)}
    assert [p["images"].shape[0] for p in passes.cache_sized_passes(images)] == [7]


def test_cpu_decoding_uses_one_thread_for_few_rows_and_restores_the_settings():
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        cpu = torch.device("cpu")
        with cpu_decoding(1, cpu):
            assert torch.get_num_threads() == 1
            assert not torch.backends.mkldnn.enabled
        assert torch.get_num_threads() == 2
        assert torch.backends.mkldnn.enabled
        with cpu_decoding(10_000, cpu):
            assert torch.get_num_threads() == 2
        with pytest.raises(RuntimeError, match="restores"), cpu_decoding(1, cpu):
            raise RuntimeError("a failing decode restores the settings too")
        assert torch.get_num_threads() == 2 and torch.backends.mkldnn.enabled
    finally:
        torch.set_num_threads(before)


def test_overlapping_decoding_loops_restore_the_settings_when_the_last_one_ends():
    """Loops that end out of order (two generators, two explorer threads) must not
    leave oneDNN off: the first saves the settings, the last restores them."""
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        cpu = torch.device("cpu")
        first, second = cpu_decoding(1, cpu), cpu_decoding(10_000, cpu)
        first.__enter__()
        second.__enter__()
        first.__exit__(None, None, None)  # the first to start ends first
        assert torch.get_num_threads() == 1 and not torch.backends.mkldnn.enabled
        second.__exit__(None, None, None)
        assert torch.get_num_threads() == 2 and torch.backends.mkldnn.enabled
    finally:
        torch.set_num_threads(before)


def test_decoding_in_many_threads_at_once_leaves_the_process_settings_as_they_were():
    import threading

    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        cpu = torch.device("cpu")
        start = threading.Barrier(8)

        def decode(rows: int) -> None:
            start.wait()
            for _ in range(50):
                with cpu_decoding(rows, cpu):
                    torch.ones(4, 4) @ torch.ones(4, 4)

        threads = [threading.Thread(target=decode, args=(1 + 3 * i,)) for i in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert torch.get_num_threads() == 2 and torch.backends.mkldnn.enabled
    finally:
        torch.set_num_threads(before)


def test_greedy_generation_matches_full_forward_argmax():
    """With the preallocated cache and no per-step mask, each generated token is still
    the argmax of a full (uncached) forward over everything before it."""
    torch.manual_seed(5)
    model = build_model(DecoderLMConfig(vocab_size=17, d_model=16, num_heads=2, max_len=200))
    model.eval()
    prompt = torch.randint(0, 17, (2, 3))
    out = greedy_generate(model, prompt, max_new_tokens=70)  # crosses the 64-slot buffer
    with torch.no_grad():
        logits = model(out[:, :-1]).logits
    torch.testing.assert_close(logits[:, 2:].argmax(-1), out[:, 3:])


def test_compile_falls_back_to_the_eager_model_with_a_warning(monkeypatch, caplog):
    def broken(model):
        raise RuntimeError("no compiler here")

    monkeypatch.setattr(torch, "compile", broken)
    model = torch.nn.Linear(2, 2)
    with caplog.at_level("WARNING"):
        assert trainer.compile_model(model) is model
    assert "training without it" in caplog.text


def test_train_compile_must_be_a_bool():

    from attnkit.config import ConfigError

    with pytest.raises(ConfigError, match=r"train\.compile"):
        TrainConfig(compile="yes")
