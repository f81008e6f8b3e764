"""The demonstrations of ``attnkit demo``.

* :func:`worked_example` — the lecture notes' worked example of attention as a soft
  key–value lookup;
* :func:`train_phrase_translator` — a small encoder–decoder Transformer that learns
  "la casa roja" → "the red house" in seconds, whose encoder–decoder attention shows
  the word reordering.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import torch
from torch import Tensor

from attnkit.config import Seq2SeqConfig
from attnkit.data.phrases import PhrasePair, Vocabulary, make_phrase_pairs
from attnkit.decoding.greedy import greedy_translate
from attnkit.models.seq2seq import EncoderDecoder
from attnkit.nn.attention import Attention

__all__ = ["PhraseTranslator", "WorkedExample", "train_phrase_translator", "worked_example"]


@dataclass
class WorkedExample:
    """The lecture notes' worked example of attention as a soft key–value lookup."""

    words: tuple[str, ...]
    keys: Tensor  # (N, d_k)
    values: Tensor  # (N, d_v)
    query_index: int
    query: Tensor  # (d_k,)
    raw_scores: Tensor  # (N,) qᵀk
    scaled_scores: Tensor  # (N,) qᵀk / √d_k
    weights: Tensor  # (N,) softmax of the scaled scores
    output: Tensor  # (d_v,) Σ weights · values
    self_lookup: Tensor  # (N, N) every word querying with its own key


def worked_example() -> WorkedExample:
    """Three words with keys in d_k = 3 and a query equal to the key of "casa": scaled
    dot-product attention returns almost exactly the value of "casa"."""
    words = ("la", "casa", "roja")
    keys = torch.tensor([[2.0, 1.0, 0.0], [0.0, 4.0, 0.0], [0.0, 1.0, 2.0]])  # (N=3, d_k=3)
    values = torch.tensor([[1.0, 2.0, 0.0, 0.0], [0.0, 0.0, 5.0, 1.0], [3.0, 0.0, 0.0, 4.0]])
    query_index = 1
    query = keys[query_index]
    attention = Attention("scaled_dot", query_dim=keys.shape[-1])
    lookup = attention(query.unsqueeze(0), keys.unsqueeze(0), values.unsqueeze(0))
    everyone = attention(keys.unsqueeze(0), keys.unsqueeze(0), values.unsqueeze(0))
    raw = keys @ query  # (N, d_k) @ (d_k,) -> (N,)
    return WorkedExample(
        words=words,
        keys=keys,
        values=values,
        query_index=query_index,
        query=query,
        raw_scores=raw,
        scaled_scores=raw / math.sqrt(keys.shape[-1]),
        weights=lookup.weights[0],
        output=lookup.output[0],
        self_lookup=everyone.weights[0],
    )


@dataclass
class PhraseTranslator:
    """A trained phrase translator with its vocabularies and training record."""

    model: EncoderDecoder
    source_vocab: Vocabulary
    target_vocab: Vocabulary
    train_pairs: list[PhrasePair]
    test_pairs: list[PhrasePair]
    losses: list[float] = field(default_factory=list)
    seconds: float = 0.0

    def _batch(self, sentences: list[str], vocab: Vocabulary, *, bos: bool, eos: bool) -> Tensor:
        rows = [[vocab.bos_id] * bos + vocab.encode(s) + [vocab.eos_id] * eos for s in sentences]
        width = max(map(len, rows))
        return torch.tensor([r + [vocab.pad_id] * (width - len(r)) for r in rows])

    def translate(self, sentences: list[str]) -> list[str]:
        """Greedy translations of Spanish phrases."""
        self.model.eval()
        src = self._batch(sentences, self.source_vocab, bos=False, eos=True)
        ids = greedy_translate(
            self.model, src, bos_id=Vocabulary.bos_id, eos_id=Vocabulary.eos_id, max_len=8
        )
        return [self.target_vocab.decode(row.tolist()) for row in ids]

    def cross_attention(self, source: str, target: str) -> Tensor:
        """Encoder–decoder attention while producing ``target`` from ``source``.

        Row ``t`` is the decoder step whose input is ``<bos> target[:t]``, i.e. the step
        that produces target word ``t`` (the last row produces ``<eos>``).

        Shape:
            ``(L, H, T+1, S+1)``: layers, heads, output words (+EOS), source words (+EOS).
        """
        self.model.eval()
        src = self._batch([source], self.source_vocab, bos=False, eos=True)
        tgt = self._batch([target], self.target_vocab, bos=True, eos=False)
        with torch.no_grad():
            out = self.model(src, tgt, need_weights=True)
        return out.attentions.stacked("cross")[:, 0]  # (L, H, T, S)

    def accuracy(self, pairs: list[PhrasePair]) -> float:
        """Fraction of ``pairs`` translated exactly."""
        hypotheses = self.translate([p.source for p in pairs])
        return sum(h == p.target for h, p in zip(hypotheses, pairs, strict=True)) / len(pairs)


def train_phrase_translator(*, steps: int = 400, seed: int = 0) -> PhraseTranslator:
    """Train a 2+2-layer Transformer (d_model 64) on the phrase corpus, full batch, Adam.

    Takes a few seconds on a laptop CPU.
    """
    torch.manual_seed(seed)
    train, test = make_phrase_pairs(seed=seed)
    everything = train + test
    source_vocab = Vocabulary([p.source for p in everything])
    target_vocab = Vocabulary([p.target for p in everything])
    config = Seq2SeqConfig(
        src_vocab_size=len(source_vocab),
        tgt_vocab_size=len(target_vocab),
        d_model=64,
        num_heads=4,
        num_encoder_layers=2,
        num_decoder_layers=2,
        d_ff=128,
        dropout=0.1,
        max_len=16,
    )
    translator = PhraseTranslator(EncoderDecoder(config), source_vocab, target_vocab, train, test)
    src = translator._batch([p.source for p in train], source_vocab, bos=False, eos=True)
    tgt = translator._batch([p.target for p in train], target_vocab, bos=True, eos=True)
    tgt_in, labels = tgt[:, :-1], tgt[:, 1:].masked_fill(tgt[:, 1:] == Vocabulary.pad_id, -100)
    optimizer = torch.optim.Adam(translator.model.parameters(), lr=1e-3)
    start = time.perf_counter()
    translator.model.train()
    for _ in range(steps):
        loss = translator.model(src, tgt_in, labels=labels).loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        translator.losses.append(loss.item())
    translator.seconds = time.perf_counter() - start
    return translator
