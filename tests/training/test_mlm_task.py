"""The masked-language-model task: batches, masks, the loss on masked positions only,
evaluation with a fixed mask, and the baselines."""

from __future__ import annotations

import dataclasses

import pytest
import torch
import torch.nn.functional as F

from attnkit.config import DataConfig, EncoderConfig, RunConfig, TrainConfig
from attnkit.data.tokenizers import MASK
from attnkit.evaluation.masked_lm import unigram_baselines
from attnkit.models import EncoderMLM
from attnkit.training.losses import IGNORE_INDEX
from attnkit.training.tasks import MLM_SPECIALS, MaskedLanguageModelTask, build_task

TEXT = "the cat sat on the mat , and the dog sat on the log .\n" * 120


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    path = tmp_path_factory.mktemp("mlm") / "corpus.txt"
    path.write_text(TEXT, encoding="utf-8")
    return path


def _data(corpus, **extra) -> DataConfig:
    return DataConfig(train=str(corpus), tokenizer="word", block_size=24, **extra)


def _model(task) -> EncoderMLM:
    torch.manual_seed(0)
    config = EncoderConfig(
        d_model=16, num_heads=2, num_layers=1, dropout=0.0, max_len=32, **task.vocab_sizes
    )
    return EncoderMLM(config)


def test_the_vocabulary_puts_pad_and_mask_first(corpus):
    task = MaskedLanguageModelTask(_data(corpus), seed=0)
    assert MLM_SPECIALS == ("<pad>", MASK)
    assert task.vocab_sizes["pad_id"] == 0 and task.vocab_sizes["mask_id"] == 1
    assert task.tokenizer.encode("the [MASK]")[-1] == 1


def test_batches_hide_about_15_percent_of_the_words_and_never_a_space(corpus):
    task = MaskedLanguageModelTask(_data(corpus), seed=0)
    rows = [task.micro_batches(i, batch_size=16, accumulate=1, rank=0, world_size=1)[0]
            for i in range(20)]  # fmt: skip
    labels = torch.cat([r["labels"] for r in rows])
    tokens = torch.cat([r["tokens"] for r in rows])
    chosen = labels != IGNORE_INDEX
    spaces = torch.isin(labels[chosen], torch.tensor(task.table.unmaskable))
    assert not spaces.any()
    words = chosen.numel() / 2  # every other token of this text is a space
    assert 0.12 < chosen.sum() / words < 0.18
    assert 0.7 < (tokens[chosen] == task.tokenizer.mask_id).float().mean() < 0.9


def test_masks_are_a_pure_function_of_the_update_and_shared_out_by_processes(corpus):
    task = MaskedLanguageModelTask(_data(corpus), seed=3)
    again = MaskedLanguageModelTask(_data(corpus), seed=3, tokenizer=task.tokenizer)
    whole = task.micro_batches(7, batch_size=8, accumulate=1, rank=0, world_size=1)[0]
    same = again.micro_batches(7, batch_size=8, accumulate=1, rank=0, world_size=1)[0]
    assert all(torch.equal(whole[k], same[k]) for k in whole)
    parts = [
        task.micro_batches(7, batch_size=8, accumulate=2, rank=rank, world_size=2)
        for rank in range(2)
    ]
    for key in ("tokens", "labels"):
        joined = torch.cat([b[key] for rank in parts for b in rank])
        assert torch.equal(joined, whole[key])
    other = task.micro_batches(8, batch_size=8, accumulate=1, rank=0, world_size=1)[0]
    assert not torch.equal(other["labels"], whole["labels"])


def test_the_loss_is_the_cross_entropy_at_the_masked_positions_only(corpus):
    task = MaskedLanguageModelTask(_data(corpus), seed=0)
    model = _model(task).eval()
    batch = task.micro_batches(0, batch_size=4, accumulate=1, rank=0, world_size=1)[0]
    labels = batch["labels"]
    masked = labels != IGNORE_INDEX
    assert 0 < masked.sum() < masked.numel() / 4
    loss_sum, count = task.loss(model, batch, label_smoothing=0.0)
    with torch.no_grad():
        logits = model(batch["tokens"]).logits  # (B, T, V), every position
    expected = F.cross_entropy(logits[masked], labels[masked], reduction="sum")
    assert count == masked.sum()
    torch.testing.assert_close(loss_sum.detach(), expected, atol=1e-4, rtol=1e-5)
    # labels where nothing was hidden add nothing: a label at an unmasked position that
    # is ignored leaves the loss alone; the same label made real changes it
    position = tuple((~masked).nonzero()[0].tolist())
    changed = labels.clone()
    changed[position] = IGNORE_INDEX
    same_sum, _ = task.loss(model, {**batch, "labels": changed}, label_smoothing=0.0)
    assert same_sum.item() == pytest.approx(loss_sum.item(), abs=1e-5)
    changed[position] = batch["tokens"][position]
    other_sum, other_count = task.loss(model, {**batch, "labels": changed}, label_smoothing=0.0)
    assert other_count == count + 1 and other_sum.item() != pytest.approx(loss_sum.item())


def test_evaluation_scores_the_same_positions_every_time(corpus):
    task = MaskedLanguageModelTask(_data(corpus), seed=0)
    model = _model(task)
    first = task.evaluate(model, device=torch.device("cpu"), max_batches=None, batch_size=4)
    second = task.evaluate(model, device=torch.device("cpu"), max_batches=None, batch_size=7)
    assert first == pytest.approx(second)
    assert first["masked_tokens"] > 10
    assert set(first) == {"loss", "perplexity", "accuracy", "accuracy_top5", "masked_tokens"}
    assert 0 <= first["accuracy"] <= first["accuracy_top5"] <= 1
    again = MaskedLanguageModelTask(_data(corpus), seed=5, tokenizer=task.tokenizer)
    assert torch.equal(again.valid_labels, task.valid_labels)  # not the training seed's


def test_unigram_baselines_by_hand():
    class Table:
        unmaskable = (0, 1)

    counts = torch.tensor([0, 0, 5, 3, 2])  # ids 2, 3, 4 seen 5, 3, 2 times
    labels = torch.tensor([[2, 3, IGNORE_INDEX, 4], [2, IGNORE_INDEX, IGNORE_INDEX, 2]])
    result = unigram_baselines(counts, labels, table=Table())
    assert result["most_frequent"] == {"token_id": 2, "accuracy": 3 / 5}
    unigram = result["unigram"]
    assert unigram["accuracy"] == 3 / 5 and unigram["accuracy_top5"] == 1.0
    p = {2: 6 / 13, 3: 4 / 13, 4: 3 / 13}  # add-one smoothed over the 3 maskable ids
    nll = -sum(torch.log(torch.tensor(p[i])) for i in (2, 3, 4, 2, 2)) / 5
    assert unigram["perplexity"] == pytest.approx(torch.exp(nll).item())


def test_build_task_fills_the_special_ids_and_refuses_others(corpus):
    config = RunConfig(model=EncoderConfig(), data=_data(corpus), train=TrainConfig())
    task = build_task(config)
    assert task.vocab_sizes["mask_id"] == 1
    wrong = dataclasses.replace(config, model=EncoderConfig(mask_id=5))
    with pytest.raises(ValueError, match=r"model\.mask_id=5 is not the tokenizer's id 1"):
        build_task(wrong)


def test_whole_word_masking_is_a_data_option(corpus):
    task = MaskedLanguageModelTask(
        DataConfig(train=str(corpus), tokenizer="char", block_size=40, whole_word_mask=True),
        seed=0,
    )
    batch = task.micro_batches(0, batch_size=32, accumulate=1, rank=0, world_size=1)[0]
    chosen = batch["labels"] != IGNORE_INDEX
    originals = batch["tokens"].clone()
    originals[chosen] = batch["labels"][chosen]
    starts = task.table.word_starts(originals)
    inside = ~starts[:, 1:]  # (B, T - 1): token t + 1 continues the word of token t
    assert inside.any()
    assert torch.equal(chosen[:, 1:][inside], chosen[:, :-1][inside])
