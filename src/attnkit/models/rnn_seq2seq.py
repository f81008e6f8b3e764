"""Recurrent encoder–decoders: the models Transformers replaced.

    source ─► src_embedding ─► encoder (RNN | LSTM | GRU) ──► memory (B, S, H) ──┐ keys, values
                                    │ final state                              │
                                    ▼                                          ▼
    target ─► tgt_embedding ─► decoder (same cell, one step at a time) ◄──► attention
                                    └──► combine: h̃ = tanh(W [context; state]) ─► output_proj

``config.attention`` picks how the decoder sees the source:

* ``none`` (Sutskever et al. 2014, Cho et al. 2014): the decoder starts from the
  encoder's final state and sees nothing else. The whole sentence must pass through one
  fixed-size vector — the bottleneck that attention removed.
* ``bahdanau`` (Bahdanau et al. 2015): before step t the previous state ``s_{t-1}``
  queries every encoder state (additive score); the context ``c_t`` joins the step's
  input, ``s_t = cell([y_{t-1}; c_t], s_{t-1})``.
* ``luong`` (Luong et al. 2015): the new state ``s_t = cell([y_{t-1}; h̃_{t-1}], s_{t-1})``
  queries (``dot``, ``general``, …); ``h̃_t = tanh(W [c_t; s_t])`` predicts the word and
  is fed to the next step (input feeding).

A bidirectional encoder gives each direction ``H / 2`` units, so memory and final states
are ``H`` wide and the decoder starts from both directions' last states, layer by layer.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from attnkit.config import RNNSeq2SeqConfig
from attnkit.nn import (
    Attention,
    AttentionMaps,
    EncoderOutput,
    ModelOutput,
    RecurrentCache,
    check_tokens,
)

__all__ = ["RNNSeq2Seq"]

CELLS = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}
INIT_RANGE = 0.1  # uniform(-0.1, 0.1) for every weight, as in Luong et al. 2015

State = tuple[Tensor, ...]  # (h,) or (h, c), each (L, B, H) as torch.nn.RNN keeps it


class RNNSeq2Seq(nn.Module):
    """Recurrent encoder–decoder built from a :class:`~attnkit.config.RNNSeq2SeqConfig`,
    with the interface of :class:`~attnkit.models.seq2seq.Transformer` (same trainer,
    decoding, evaluation and plots).

    Source padding is found from ``pad_id`` and must be on the right (the encoder packs
    the sequences, so padding never enters the recurrence). Target padding needs no mask
    under teacher forcing; ``tgt_padding_mask`` (left-padded targets) freezes the state
    over padded steps.

    Shape:
        src ``(B, S)`` long; tgt ``(B, T)`` long (decoder input, starting with BOS);
        labels ``(B, T)`` long (``-100`` = ignore) → ``ModelOutput.logits`` ``(B, T, V)``;
        ``attentions.cross`` holds one ``(B, 1, T, S)`` map (none without attention).

    Example:
        >>> config = RNNSeq2SeqConfig(src_vocab_size=50, tgt_vocab_size=60, cell="gru")
        >>> model = RNNSeq2Seq(config)
        >>> src, tgt = torch.randint(1, 50, (2, 7)), torch.randint(1, 60, (2, 5))
        >>> model(src, tgt).logits.shape
        torch.Size([2, 5, 60])
    """

    def __init__(self, config: RNNSeq2SeqConfig):
        super().__init__()
        config.require_vocab()
        self.config = config
        hidden, embed, layers = config.hidden_size, config.embed_dim, config.num_layers
        cell = CELLS[config.cell]
        between_layers = config.dropout if layers > 1 else 0.0
        directions = 2 if config.bidirectional else 1
        self.src_embedding = nn.Embedding(config.src_vocab_size, embed, padding_idx=config.pad_id)
        self.tgt_embedding = (
            self.src_embedding
            if config.share_embeddings
            else nn.Embedding(config.tgt_vocab_size, embed, padding_idx=config.pad_id)
        )
        self.dropout = nn.Dropout(config.dropout)
        stack = {"num_layers": layers, "batch_first": True, "dropout": between_layers}
        self.encoder = cell(
            embed, hidden // directions, bidirectional=config.bidirectional, **stack
        )
        # Bahdanau feeds the context, Luong (input feeding) the previous h̃: both H wide.
        self.feeds_back = config.attention == "bahdanau" or (
            config.attention == "luong" and config.input_feeding
        )
        self.decoder = cell(embed + (hidden if self.feeds_back else 0), hidden, **stack)
        self.attention = self.combine = None
        if config.attention != "none":
            self.attention = Attention(config.score_name, query_dim=hidden)
            self.combine = nn.Linear(2 * hidden, hidden, bias=False)
        self.output_proj = nn.Linear(hidden, config.tgt_vocab_size)
        for param in self.parameters():
            nn.init.uniform_(param, -INIT_RANGE, INIT_RANGE)
        with torch.no_grad():
            self.src_embedding.weight[config.pad_id].zero_()
            self.tgt_embedding.weight[config.pad_id].zero_()
        if config.tie_embeddings:
            self.output_proj.weight = self.tgt_embedding.weight

    # ------------------------------------------------------------------ encoder

    def encode(
        self,
        src: Tensor,
        *,
        src_padding_mask: Tensor | None = None,
        need_weights: bool = False,
    ) -> EncoderOutput:
        """Read the source once: every state (the memory) and the final state.

        Shape:
            src ``(B, S)`` → ``EncoderOutput.memory`` ``(B, S, H)``, ``state`` parts
            ``(B, L, H)``.
        """
        check_tokens(src, self.config.src_vocab_size, "src")
        if src_padding_mask is None:
            src_padding_mask = src != self.config.pad_id
        lengths = src_padding_mask.sum(dim=1)  # (B,)
        if bool((lengths == 0).any()):
            raise ValueError("a source row is all padding; give every row at least one token")
        steps = torch.arange(src.shape[1], device=src.device)
        if not torch.equal(src_padding_mask, steps < lengths.unsqueeze(1)):
            raise ValueError(
                "src_padding_mask must mark a prefix of each row: recurrent encoders need "
                "right padding (real tokens first)"
            )
        x = self.dropout(self.src_embedding(src))  # (B, S, E)
        packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        out, final = self.encoder(packed)
        memory, _ = pad_packed_sequence(out, batch_first=True, total_length=src.shape[1])
        layers, directions = self.config.num_layers, 2 if self.config.bidirectional else 1
        state = []
        for part in final if isinstance(final, tuple) else (final,):
            # (L·dirs, B, H/dirs) -> (L, dirs, B, H/dirs) -> (B, L, dirs·H/dirs) = (B, L, H)
            part = part.view(layers, directions, *part.shape[1:]).permute(2, 0, 1, 3)
            state.append(part.reshape(part.shape[0], layers, -1))
        return EncoderOutput(memory, src_padding_mask, [], tuple(state))

    # ------------------------------------------------------------------ decoder

    def decode(
        self,
        tgt: Tensor,
        encoded: EncoderOutput,
        *,
        tgt_padding_mask: Tensor | None = None,
        cache: RecurrentCache | None = None,
        need_weights: bool = False,
        labels: Tensor | None = None,
        label_smoothing: float = 0.0,
    ) -> ModelOutput:
        """Run the decoder over ``tgt``, starting from the encoder's final state (or
        from ``cache``, which it then updates).

        Shape:
            tgt ``(B, T)``; tgt_padding_mask ``(B, T)`` bool for these ``T`` tokens →
            ``ModelOutput.logits`` ``(B, T, V)``, ``hidden`` ``(B, T, H)``.
        """
        check_tokens(tgt, self.config.tgt_vocab_size, "tgt")
        if tgt_padding_mask is not None and (
            tgt_padding_mask.shape != tgt.shape or tgt_padding_mask.dtype != torch.bool
        ):
            raise ValueError(
                f"tgt_padding_mask must be a bool tensor of tgt's shape {tuple(tgt.shape)}, "
                f"got {tgt_padding_mask.dtype} {tuple(tgt_padding_mask.shape)}"
            )
        state, feed = self._start(encoded, cache, tgt.shape[0])
        y = self.dropout(self.tgt_embedding(tgt))  # (B, T, E)
        if self.feeds_back or tgt_padding_mask is not None:
            hidden, weights, state, feed = self._run_steps(
                y, encoded, state, feed, tgt_padding_mask
            )
        else:  # no step depends on attention: the recurrence runs in one call
            out, final = self.decoder(y, _to_torch(state))
            state = _from_torch(final)
            hidden, weights = self._attend(out, encoded)
        if cache is not None:
            cache.state, cache.feed, cache.length = state, feed, cache.length + tgt.shape[1]
        maps = AttentionMaps()
        if need_weights and weights is not None:
            maps.cross = [weights.unsqueeze(1)]  # (B, 1, T, S): one "layer", one "head"
        return ModelOutput.from_hidden(
            self.dropout(hidden),  # (B, T, H) -> logits (B, T, V) through output_proj
            self.output_proj,
            labels=labels,
            label_smoothing=label_smoothing,
            attentions=maps,
            cache=cache,
        )

    def _start(
        self, encoded: EncoderOutput, cache: RecurrentCache | None, batch: int
    ) -> tuple[State, Tensor | None]:
        """The state to continue from: the cache's, or else the encoder's final state."""
        if cache is not None and cache.state is not None:
            return cache.state, cache.feed
        if not encoded.state:
            raise ValueError("encoded has no recurrent state; encode the source with this model")
        state = tuple(part.transpose(0, 1).contiguous() for part in encoded.state)  # (L, B, H)
        feed = None
        if self.config.attention == "luong" and self.config.input_feeding:
            feed = encoded.memory.new_zeros(batch, self.config.hidden_size)  # h̃_0 = 0
        return state, feed

    def _attend(self, out: Tensor, encoded: EncoderOutput) -> tuple[Tensor, Tensor | None]:
        """Luong: the new states query the memory; ``h̃ = tanh(W [c; s])``.

        Shape:
            out ``(B, T, H)`` → h̃ ``(B, T, H)``, weights ``(B, T, S)`` (``None`` without
            attention, where ``h̃ = s``).
        """
        if self.attention is None:
            return out, None
        att = self.attention(out, encoded.memory, key_padding_mask=encoded.padding_mask)
        return self._combine(att.output, out), att.weights

    def _combine(self, context: Tensor, out: Tensor) -> Tensor:
        return torch.tanh(self.combine(torch.cat([context, out], dim=-1)))  # (B, T, H)

    def _run_steps(
        self,
        y: Tensor,
        encoded: EncoderOutput,
        state: State,
        feed: Tensor | None,
        step_mask: Tensor | None,
    ) -> tuple[Tensor, Tensor | None, State, Tensor | None]:
        """The decoder one step at a time (each step needs the previous one's output).

        Shape:
            y ``(B, T, E)``; step_mask ``(B, T)`` bool (``False`` keeps the state) →
            h̃ ``(B, T, H)``, weights ``(B, T, S)`` or ``None``.
        """
        outputs, weights = [], []
        for t in range(y.shape[1]):
            x, context = y[:, t : t + 1], None  # (B, 1, E)
            if self.config.attention == "bahdanau":  # s_{t-1} (top layer) asks first
                att = self.attention(
                    state[0][-1], encoded.memory, key_padding_mask=encoded.padding_mask
                )
                context = att.output.unsqueeze(1)  # (B, 1, H)
                weights.append(att.weights)  # (B, S)
                x = torch.cat([x, context], dim=-1)
            elif feed is not None:
                x = torch.cat([x, feed.unsqueeze(1)], dim=-1)  # input feeding
            out, final = self.decoder(x, _to_torch(state))  # out (B, 1, H)
            if context is not None:
                hidden = self._combine(context, out)
            else:
                hidden, step_weights = self._attend(out, encoded)
                if step_weights is not None:
                    weights.append(step_weights[:, 0])
            new_state, new_feed = _from_torch(final), hidden[:, 0] if feed is not None else None
            if step_mask is not None:  # padded steps leave the state as it was
                keep = step_mask[:, t]  # (B,)
                new_state = tuple(
                    torch.where(keep[None, :, None], new, old)
                    for new, old in zip(new_state, state, strict=True)
                )
                if feed is not None:
                    new_feed = torch.where(keep[:, None], new_feed, feed)
            state, feed = new_state, new_feed
            outputs.append(hidden)
        stacked = torch.stack(weights, dim=1) if weights else None  # (B, T, S)
        return torch.cat(outputs, dim=1), stacked, state, feed

    # ------------------------------------------------------------------ interface

    def forward(
        self,
        src: Tensor,
        tgt: Tensor,
        *,
        labels: Tensor | None = None,
        src_padding_mask: Tensor | None = None,
        tgt_padding_mask: Tensor | None = None,
        need_weights: bool = False,
        label_smoothing: float = 0.0,
    ) -> ModelOutput:
        """Teacher-forced forward pass: encode ``src``, decode ``tgt``."""
        encoded = self.encode(src, src_padding_mask=src_padding_mask, need_weights=need_weights)
        return self.decode(
            tgt,
            encoded,
            labels=labels,
            label_smoothing=label_smoothing,
            tgt_padding_mask=tgt_padding_mask,
            need_weights=need_weights,
        )

    def new_cache(self) -> RecurrentCache:
        """An empty decoder cache (filled from the encoder's final state on first use)."""
        return RecurrentCache()

    def decode_step(
        self,
        tgt: Tensor,
        encoded: EncoderOutput,
        cache: RecurrentCache,
        *,
        tgt_padding_mask: Tensor | None = None,
    ) -> Tensor:
        """Logits for the newest target tokens; updates ``cache``.

        Shape:
            tgt ``(B, T_new)`` → ``(B, T_new, V)``.
        """
        return self.decode(tgt, encoded, tgt_padding_mask=tgt_padding_mask, cache=cache).logits


def _to_torch(state: State) -> Tensor | tuple[Tensor, Tensor]:
    """The form ``torch.nn.RNN``/``GRU`` (a tensor) or ``LSTM`` (``(h, c)``) expects."""
    return state if len(state) == 2 else state[0]


def _from_torch(state: Tensor | tuple[Tensor, ...]) -> State:
    return state if isinstance(state, tuple) else (state,)
