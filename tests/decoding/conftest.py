"""Shared set-up for the decoding tests: tiny models run fastest on one thread."""

import pytest
import torch

from attnkit import Seq2SeqConfig, Transformer

PAD = 0
SRC_VOCAB, TGT_VOCAB = 17, 9


@pytest.fixture(autouse=True)
def _single_thread():
    """Tiny matmuls gain nothing from threads and lose a lot on a busy 2-core machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def tiny_transformer(positional: str = "sinusoidal") -> Transformer:
    """Random tiny encoder–decoder; init_std=0.2 gives peaked but varied outputs, a mix of
    EOS-ended and cut-off hypotheses at this vocabulary size."""
    torch.manual_seed(0)
    config = Seq2SeqConfig(
        src_vocab_size=SRC_VOCAB,
        tgt_vocab_size=TGT_VOCAB,
        d_model=32,
        num_heads=4,
        num_encoder_layers=2,
        num_decoder_layers=2,
        dropout=0.0,
        init_std=0.2,
        positional=positional,
        pad_id=PAD,
        max_len=32,
        tie_embeddings=False,
    )
    return Transformer(config).eval()
