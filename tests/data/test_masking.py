"""BERT's masking for masked-language models: its statistics, what is never masked,
whole-word masking, and how "[MASK]" written in a text reaches the model."""

from __future__ import annotations

import pytest
import torch

from attnkit.data.masking import TokenTable, mask_tokens
from attnkit.data.tokenizers import (
    MASK,
    BPETokenizer,
    CharTokenizer,
    WordTokenizer,
    load_tokenizer,
    train_tokenizer,
)

TEXT = (
    "In the beginning God created the heavens and the earth. The earth was formless and "
    "empty. Darkness was on the surface of the deep and God's Spirit was hovering over the "
    "surface of the waters.\n"
) * 20
SPECIALS = ("<pad>", MASK)


@pytest.fixture(scope="module", params=["word", "bpe", "char"])
def tokenizer(request):
    return train_tokenizer(request.param, TEXT, vocab_size=300, specials=SPECIALS)


# ------------------------------------------------------------------ [MASK] in a text


def test_word_tokenizer_reads_a_written_mask_as_the_mask_id():
    tok = WordTokenizer.train(TEXT, specials=SPECIALS)
    ids = tok.encode("the [MASK] of the [MASK].")
    assert tok.mask_id == 1
    assert [tok.decode([i], skip_special=False) for i in ids] == [
        "the", " ", MASK, " ", "of", " ", "the", " ", MASK, ".",
    ]  # fmt: skip


def test_bpe_mask_takes_the_space_before_it_like_the_word_it_hides():
    tok = BPETokenizer.train(TEXT, vocab_size=300, specials=SPECIALS)
    ids = tok.encode("the [MASK] of the earth")
    assert ids == [*tok.encode("the"), tok.mask_id, *tok.encode(" of the earth")]
    # In training the hidden token is a word with its space: " earth" is one token.
    assert len(tok.encode(" earth")) == 1
    assert tok.encode("[MASK]") == [tok.mask_id]
    assert tok.encode("a[MASK]b") == [*tok.encode("a"), tok.mask_id, *tok.encode("b")]


def test_char_tokenizer_reads_a_written_mask_as_the_mask_id():
    tok = CharTokenizer.train(TEXT, specials=SPECIALS)
    assert tok.encode("a[MASK]d") == [tok.encode("a")[0], tok.mask_id, tok.encode("d")[0]]


def test_without_the_mask_special_the_literal_is_ordinary_text():
    tok = WordTokenizer.train(TEXT + " [MASK]", specials=("<pad>",))
    assert tok.mask_id is None
    assert tok.decode(tok.encode("the [MASK]")) == "the [MASK]"


@pytest.mark.parametrize("kind", ["word", "bpe"])  # a char vocabulary has no "<"
def test_other_specials_written_in_a_text_stay_text(kind):
    tokenizer = train_tokenizer(kind, TEXT, vocab_size=300, specials=SPECIALS)
    ids = tokenizer.encode("<pad> [MASK]")
    assert ids.count(tokenizer.mask_id) == 1
    assert tokenizer.pad_id not in ids


def test_the_mask_id_survives_save_and_load(tokenizer, tmp_path):
    tokenizer.save(tmp_path / "tokenizer.json")
    loaded = load_tokenizer(tmp_path / "tokenizer.json")
    assert loaded.mask_id == tokenizer.mask_id == 1
    text = "the [MASK] of the deep"
    assert loaded.encode(text) == tokenizer.encode(text)


# ------------------------------------------------------------------ what is never masked


def test_the_table_never_masks_specials_unknown_nor_whitespace(tokenizer):
    table = TokenTable.of(tokenizer)
    assert {tokenizer.pad_id, tokenizer.mask_id} <= set(table.unmaskable)
    specials = {tokenizer.pad_id, tokenizer.mask_id, tokenizer.unk_id}
    for token_id in range(tokenizer.vocab_size):
        text = tokenizer.decode([token_id])
        never = token_id in specials or not text.strip()
        assert (token_id in table.unmaskable) == never, (token_id, text)


def test_all_maskable_tokens_and_only_they_are_chosen_at_probability_one(tokenizer):
    table = TokenTable.of(tokenizer)
    tokens = torch.tensor([tokenizer.encode(TEXT[:300])])
    tokens[0, -5:] = tokenizer.pad_id  # padding at the end
    _, labels = mask_tokens(
        tokens,
        mask_id=tokenizer.mask_id,
        vocab_size=tokenizer.vocab_size,
        mask_prob=1.0,
        special_ids=table.unmaskable,
    )
    blank = torch.tensor([not tokenizer.decode([i]).strip() for i in tokens[0].tolist()])
    assert torch.equal(labels[0] != -100, ~blank)
    assert (labels[0, -5:] == -100).all()


def test_bert_proportions_on_a_large_sample():
    vocab, specials = 50, (0, 1, 2, 3)
    tokens = torch.randint(0, vocab, (400, 500), generator=torch.Generator().manual_seed(0))
    inputs, labels = mask_tokens(
        tokens,
        mask_id=1,
        vocab_size=vocab,
        special_ids=specials,
        generator=torch.Generator().manual_seed(1),
    )
    special = torch.isin(tokens, torch.tensor(specials))
    chosen = labels != -100
    assert not (chosen & special).any()
    assert torch.equal(inputs[~chosen], tokens[~chosen])
    assert abs(chosen[~special].float().mean().item() - 0.15) < 0.005
    n = chosen.sum().item()
    as_mask = (inputs[chosen] == 1).sum().item() / n
    random = inputs[chosen] != tokens[chosen]
    random &= inputs[chosen] != 1
    as_random = random.sum().item() / n
    assert abs(as_mask - 0.8) < 0.01
    # a random draw equals the original 1 time in 46 (the ordinary ids): 10 % × 45/46
    assert abs(as_random - 0.1 * 45 / 46) < 0.01
    # a random replacement is never a special token (no "<pad>" inside a sentence)
    assert not torch.isin(inputs[chosen & (inputs != 1)], torch.tensor(specials)).any()


def test_evaluation_masking_hides_every_chosen_token():
    tokens = torch.randint(2, 30, (50, 40), generator=torch.Generator().manual_seed(0))
    inputs, labels = mask_tokens(
        tokens, mask_id=1, vocab_size=30, mask_fraction=1.0, random_fraction=0.0
    )
    chosen = labels != -100
    assert chosen.any() and (inputs[chosen] == 1).all()


# ------------------------------------------------------------------ whole words


def test_word_starts_join_pieces_of_a_word_and_nothing_else():
    tok = CharTokenizer.train("ab cd, e", specials=SPECIALS)
    table = TokenTable.of(tok)
    tokens = torch.tensor([tok.encode("ab cd, e")])
    starts = table.word_starts(tokens)[0].tolist()
    #            a     b      ' '   c     d      ,     ' '   e
    assert starts == [True, False, True, True, False, True, True, True]


def test_whole_word_masking_masks_all_pieces_of_each_chosen_word():
    tok = CharTokenizer.train(TEXT, specials=SPECIALS)
    table = TokenTable.of(tok)
    tokens = torch.tensor([tok.encode(TEXT[i : i + 200]) for i in range(0, len(TEXT) - 200, 200)])
    starts = table.word_starts(tokens)
    _, labels = mask_tokens(
        tokens,
        mask_id=tok.mask_id,
        vocab_size=tok.vocab_size,
        special_ids=table.unmaskable,
        word_starts=starts,
        generator=torch.Generator().manual_seed(3),
    )
    chosen = labels != -100
    words_chosen = words = 0
    for row in range(len(tokens)):
        text = tok.decode(tokens[row])
        word: list[int] = []
        for t in [*range(tokens.shape[1]), None]:
            if t is None or starts[row, t]:
                if word and text[word[0]].isalnum():
                    flags = {bool(chosen[row, i]) for i in word}
                    assert len(flags) == 1, (text[word[0] : word[-1] + 1], flags)
                    words += 1
                    words_chosen += flags.pop()
                word = []
            if t is not None:
                word.append(t)
    assert words > 300
    assert 0.09 < words_chosen / words < 0.21
    # characters, not whole words, when whole-word masking is off
    _, labels = mask_tokens(
        tokens, mask_id=tok.mask_id, vocab_size=tok.vocab_size, special_ids=table.unmaskable
    )
    partly = (labels != -100)[:, 1:] & (labels == -100)[:, :-1] & ~starts[:, 1:]
    assert partly.any()


def test_bpe_word_starts_group_the_pieces_into_words():
    tok = BPETokenizer.train(TEXT, vocab_size=270, specials=SPECIALS)  # few merges
    table = TokenTable.of(tok)
    ids = tok.encode(" hovering over the waters")
    assert len(ids) > 8  # words cut into several pieces
    starts = table.word_starts(torch.tensor([ids]))[0].tolist()
    groups: list[str] = []
    for token_id, start in zip(ids, starts, strict=True):
        if start:
            groups.append("")
        groups[-1] += tok.decode([token_id])
    assert [g.strip() for g in groups if g.strip()] == ["hovering", "over", "the", "waters"]
