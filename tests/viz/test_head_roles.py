"""The head-role measure (Clark et al. 2019) on attention whose roles are known: a head
that looks only at the previous token scores 1 on "previous" and 0 elsewhere, uniform
attention scores the uniform baseline, and so on."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from attnkit.viz.head_roles import ROLES, measure_head_roles, plot_head_roles, role_masks

# [CLS] play ##ing the lord [SEP]: word ids as a WordPiece tokenizer gives them
WORDS = [None, 0, 0, 1, 2, None]
CLS, SEP = 1, 2
IDS = [CLS, 10, 11, 12, 13, SEP]


class Tokenizer:
    cls_id, sep_id = CLS, SEP

    def encode_words(self, text):
        return IDS, WORDS


class Model:
    """Four heads with scripted attention: previous token, next token, [SEP], uniform."""

    def __call__(self, tokens, *, padding_mask, need_weights):
        batch, length = tokens.shape
        heads = torch.zeros(4, length, length)
        for i in range(length):
            heads[0, i, max(i - 1, 0)] = 1
            heads[1, i, min(i + 1, length - 1)] = 1
            heads[2, i, length - 1] = 1
        heads[3] = 1 / length
        maps = heads.expand(batch, -1, -1, -1)  # (B, H, T, T)
        return SimpleNamespace(attentions=SimpleNamespace(encoder=[maps]))


def test_role_masks_pick_the_right_keys_and_queries():
    masks = role_masks(WORDS, cls=[i == CLS for i in IDS], sep=[i == SEP for i in IDS])
    targets, queries = masks["same word"]
    assert queries.tolist() == [False, True, True, False, False, False]  # play, ##ing
    assert targets[1].tolist() == [False, False, True, False, False, False]
    assert masks["previous"][1].tolist() == [False, True, True, True, True, False]
    assert masks["next"][0][4].tolist() == [False, False, False, False, False, True]
    assert masks["[SEP]"][0][:, 5].all() and not masks["[SEP]"][0][:, :5].any()


def test_scripted_heads_score_their_roles():
    roles = measure_head_roles(Model(), Tokenizer(), ["a sentence"] * 3)
    assert roles.sentences == 3 and set(roles.mean) == set(ROLES)
    mean = {role: values[0].tolist() for role, values in roles.mean.items()}  # layer 0
    assert mean["previous"][0] == 1 and mean["next"][1] == 1 and mean["[SEP]"][2] == 1
    assert mean["previous"][1] == 0 and mean["self"][0] == 0
    # uniform attention gives the baseline: 1/6 per single target, 1/6 to the other piece
    for role in ROLES:
        assert mean[role][3] == pytest.approx(roles.uniform[role])
    assert roles.uniform["previous"] == pytest.approx(1 / 6)
    assert roles.uniform["same word"] == pytest.approx(1 / 6)
    assert roles.queries["same word"] == 2 * 3 and roles.queries["self"] == 4 * 3
    assert roles.top("previous", k=1) == [(0, 0, 1.0)]


def test_the_figure_and_the_errors(tmp_path):
    roles = measure_head_roles(Model(), Tokenizer(), ["x"], max_len=10)
    path = plot_head_roles(roles, tmp_path / "roles.png")
    assert path.read_bytes().startswith(b"\x89PNG")
    with pytest.raises(ValueError, match="no sentence to measure"):
        measure_head_roles(Model(), Tokenizer(), ["x"], max_len=3)


def test_padded_batches_measure_what_one_sentence_at_a_time_does():
    from attnkit.config import EncoderConfig
    from attnkit.data.hf_tokenizer import HFTokenizer
    from attnkit.models import EncoderMLM

    words = [
        "god",
        "saw",
        "the",
        "light",
        "was",
        "good",
        "and",
        "said",
        "unto",
        "moses",
        "##s",
        "##ing",
    ]
    tokenizer = HFTokenizer.from_vocab(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words])
    sentences = ["God saw the light", "and god said unto moses", "goods", "the light was good"]
    torch.manual_seed(0)
    model = EncoderMLM(
        EncoderConfig(
            vocab_size=tokenizer.vocab_size, d_model=16, num_heads=2, num_layers=2, init_std=0.5
        )
    ).eval()
    alone = measure_head_roles(model, tokenizer, sentences, batch_size=1)
    batched = measure_head_roles(model, tokenizer, sentences, batch_size=4)
    assert alone.queries == batched.queries and batched.sentences == len(sentences)
    for role in ROLES:
        assert torch.allclose(alone.mean[role], batched.mean[role], atol=1e-6), role
