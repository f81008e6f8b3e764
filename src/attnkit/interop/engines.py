"""Running a run's model on an inference engine instead of PyTorch.

attnkit's tokenizers do the text; the engine does the arithmetic:

- ``ctranslate2``: translators decode through ``ctranslate2.Translator``, language
  models through ``ctranslate2.Generator`` (:func:`ct2_translate`, :func:`ct2_generate`,
  :func:`engine_evaluate`); the run is converted on first use
  (:mod:`~attnkit.interop.ctranslate2`) and kept loaded for the process.
- ``onnx``: image classifiers run through ``onnxruntime`` (:func:`onnx_classify`); the
  run is exported with :mod:`~attnkit.interop.onnx` on first use.

Both engines use as many threads as PyTorch does (``torch.get_num_threads()``), so a
comparison between them is fair. Greedy decoding gives attnkit's own tokens; beam
search differs in one respect: CTranslate2 divides a hypothesis' log-probability by
``length ** length_penalty`` where attnkit uses GNMT's ``((5 + length) / 6) ** α``
(the same ranking when ``length_penalty=0``).
"""

from __future__ import annotations

import tempfile
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from attnkit.decoding.logits import check_sampling_args
from attnkit.decoding.window import windowed_text
from attnkit.evaluation.translation import corpus_scores
from attnkit.interop.ctranslate2 import export_ctranslate2, import_engine, vocabulary
from attnkit.training.rundir import LoadedRun

__all__ = [
    "ENGINES",
    "Ct2Model",
    "Hypothesis",
    "engine_evaluate",
    "ct2_generate",
    "ct2_model",
    "ct2_translate",
    "ct2_translate_ids",
    "onnx_classify",
]

ENGINES = ("pytorch", "ctranslate2", "onnx")
BATCH_SIZE = 32  # sentences per engine call, sorted by length (as attnkit's own decoding)


@dataclass
class Ct2Model:
    """A loaded CTranslate2 model and the vocabularies that map attnkit's ids to its
    token strings."""

    engine: Any  # ctranslate2.Translator or ctranslate2.Generator
    source_words: list[str]
    target_words: list[str]

    def __post_init__(self) -> None:
        self.target_ids = {word: index for index, word in enumerate(self.target_words)}


@dataclass(frozen=True)
class Hypothesis:
    """One decoded sequence: token ids (without BOS and EOS) and the engine's score."""

    ids: list[int]
    score: float


_LOADED: dict[tuple[int, str], tuple[torch.nn.Module, Any]] = {}


def _threads() -> int:
    return max(1, torch.get_num_threads())


def _cached(run: LoadedRun, key: str, load: Callable[[], Any]) -> Any:
    """One engine model per run model and setting for the life of the process (a
    conversion takes a second; a loop of ``translate`` calls should not repeat it)."""
    slot = (id(run.model), key)
    held = _LOADED.get(slot)
    if held is None or held[0] is not run.model:
        if len(_LOADED) >= 4:
            _LOADED.pop(next(iter(_LOADED)))
        held = (run.model, load())
        _LOADED[slot] = held
    return held[1]


def _check_convertible(run: LoadedRun) -> None:
    if not isinstance(run.model, torch.nn.Module) or any(
        "quantized" in type(module).__module__ or "Int8" in type(module).__name__
        for module in run.model.modules()
    ):
        raise ValueError(
            "the run was loaded with int8=True: load it in float32 and pass quantization="
            "'int8' to have the engine quantize it"
        )


def ct2_model(run: LoadedRun, *, quantization: str | None = None) -> Ct2Model:
    """The run's model converted to CTranslate2 and loaded (``quantization``: the
    engine's compute type, e.g. ``"int8"``; default float32), with its vocabularies.

    Raises:
        ValueError: a family or setting CTranslate2 cannot express (named).
        OSError: ``ctranslate2`` is not installed (names the extra).
    """
    ctranslate2 = import_engine("ctranslate2")
    _check_convertible(run)
    compute_type = quantization or "float32"

    def load() -> Ct2Model:
        with tempfile.TemporaryDirectory(prefix="attnkit-ct2-") as folder:
            exported = export_ctranslate2(run, Path(folder) / "model")
            kind = (
                ctranslate2.Generator
                if exported.architecture.endswith("Generator")
                else ctranslate2.Translator
            )
            # The engine reads every file while loading; the folder may go afterwards.
            engine = kind(
                str(exported.directory),
                device="cpu",
                compute_type=compute_type,
                inter_threads=1,
                intra_threads=_threads(),
            )
        source = run.source_tokenizer or run.tokenizer
        return Ct2Model(engine, vocabulary(source), vocabulary(run.tokenizer))

    return _cached(run, f"ct2:{compute_type}:{_threads()}", load)


def ct2_translate_ids(
    model: Ct2Model,
    sources: Sequence[Sequence[int]],
    *,
    eos_id: int,
    pad_id: int | None,
    beam: int = 1,
    length_penalty: float = 0.0,
    n_best: int = 1,
    max_len: int = 256,
    temperature: float = 0.0,
    top_k: int | None = None,
    top_p: float | None = None,
) -> list[list[Hypothesis]]:
    """Decode a batch of source id lists (EOS appended here, as attnkit's models were
    trained) with a CTranslate2 translator: the ``n_best`` hypotheses of each, best
    first, with their scores (summed log-probabilities, divided by
    ``length ** length_penalty``). ``max_len`` counts generated tokens, EOS included;
    ``pad_id`` is never generated (as in attnkit's decoding).
    """
    words = model.source_words
    batch = [[words[i] for i in ids] + [words[eos_id]] for ids in sources]
    options: dict[str, Any] = {}
    if temperature > 0:
        options.update(
            sampling_temperature=temperature,
            sampling_topk=top_k or 0,  # 0 = the whole vocabulary
            sampling_topp=1.0 if top_p is None else top_p,
        )
    if pad_id is not None and pad_id != eos_id:
        options["suppress_sequences"] = [[model.target_words[pad_id]]]
    results = model.engine.translate_batch(
        batch,
        beam_size=beam,
        length_penalty=length_penalty,
        num_hypotheses=n_best,
        # CTranslate2 counts decoded tokens without the EOS; attnkit with it.
        max_decoding_length=max_len,
        min_decoding_length=0,
        max_input_length=0,
        return_scores=True,
        **options,
    )
    ids = model.target_ids
    return [
        [
            Hypothesis([ids[word] for word in tokens], float(score))
            for tokens, score in zip(result.hypotheses, result.scores, strict=True)
        ]
        for result in results
    ]


def ct2_translate(
    run: LoadedRun,
    sentences: Sequence[str],
    *,
    beam: int,
    length_penalty: float,
    n_best: int,
    max_new_tokens: int | None,
    quantization: str | None = None,
    temperature: float = 0.0,
    top_k: int | None = None,
    top_p: float | None = None,
    seed: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[list[str]]:
    """:func:`attnkit.api.translate` with CTranslate2 doing the decoding.

    Sentences go in batches of similar length, and each translation ends at EOS or
    after ``max_new_tokens`` (default: 1.5 × the longest source of its batch + 10,
    as attnkit's own decoding); ``temperature > 0`` samples (``top_k``, ``top_p``,
    ``seed`` as in :func:`attnkit.api.generate`).
    """
    check_sampling_args(temperature, top_k, top_p)
    if n_best > beam:
        raise ValueError(f"n_best={n_best} is more than beam={beam}: pass n_best <= beam")
    model = ct2_model(run, quantization=quantization)
    if seed is not None:
        import_engine("ctranslate2").set_random_seed(seed)
    source_tok, target_tok = run.source_tokenizer or run.tokenizer, run.tokenizer
    config = run.config.model
    learned = config.positional == "learned"
    if learned:
        max_new_tokens = min(max_new_tokens or config.max_len, config.max_len)
    encoded: list[list[int]] = []
    unreadable: list[int] = []
    for index, sentence in enumerate(sentences):
        try:
            ids = source_tok.encode(sentence) if sentence.strip() else []
        except ValueError:
            unreadable.append(index)
            ids = []
        if learned and len(ids) + 1 > config.max_len:
            ids = ids[: config.max_len - 1]
        encoded.append(ids)
    if unreadable:
        if len(unreadable) == sum(1 for s in sentences if s.strip()):
            source_tok.encode(sentences[unreadable[0]])  # raises the tokenizer's own message
        warnings.warn(
            f"{len(unreadable)} of {len(sentences)} lines not translated (left empty): "
            f"line(s) {', '.join(str(i + 1) for i in unreadable[:20])}",
            stacklevel=2,
        )
    results: list[list[str]] = [[""] * n_best for _ in sentences]
    order = sorted((i for i, ids in enumerate(encoded) if ids), key=lambda i: len(encoded[i]))
    done = 0
    for start in range(0, len(order), BATCH_SIZE):
        rows = order[start : start + BATCH_SIZE]
        width = max(len(encoded[i]) for i in rows) + 1
        decoded = ct2_translate_ids(
            model,
            [encoded[i] for i in rows],
            eos_id=target_tok.eos_id,
            pad_id=target_tok.pad_id,
            beam=beam,
            length_penalty=length_penalty,
            n_best=n_best,
            max_len=max_new_tokens or int(1.5 * width) + 10,
            temperature=temperature,
            top_k=top_k,
            top_p=top_p,
        )
        for i, hypotheses in zip(rows, decoded, strict=True):
            texts = [target_tok.decode(h.ids) for h in hypotheses]
            results[i] = texts + [""] * (n_best - len(texts))
        done += len(rows)
        if progress is not None:
            progress(done, len(order))
    return results


def engine_evaluate(
    run: LoadedRun,
    engine: str,
    *,
    data: str | Path | None,
    split: str,
    beam: int,
    length_penalty: float,
    quantization: str | None,
    out: Path,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """:func:`attnkit.api.evaluate` on an engine: BLEU and chrF of a translator decoded
    by CTranslate2 (hypotheses written to ``out``), or the accuracy of an image
    classifier run by ONNX Runtime, on the ``split`` or on ``data``."""
    kind = run.config.model.kind
    wanted = {"ctranslate2": ("seq2seq", "a translator"), "onnx": ("vit", "an image classifier")}
    if kind != wanted[engine][0]:
        raise ValueError(
            f"engine={engine!r} evaluates {wanted[engine][1]} (model.kind={wanted[engine][0]!r})"
            f", but {run.run_dir.root} holds a {kind!r} model: pass engine='pytorch'"
        )
    if engine == "onnx":
        return _onnx_accuracy(run, data=data, split=split, progress=progress)
    from attnkit.data.parallel import read_parallel_file
    from attnkit.families.base import write_outputs
    from attnkit.training.tasks import load_pairs

    if data is not None:
        pairs, _ = read_parallel_file(data, max_chars=run.config.data.max_chars)
        name = Path(data).stem
    else:
        _, valid, test, _ = load_pairs(run.config.data)
        pairs, name = (valid if split == "valid" else test), split
    if not pairs:
        raise ValueError(f"no {split} pairs to score: pass data= a TSV file of pairs")
    sources, references = [s for s, _ in pairs], [t for _, t in pairs]
    start = time.perf_counter()
    translated = ct2_translate(
        run,
        sources,
        beam=beam,
        length_penalty=length_penalty,
        n_best=1,
        max_new_tokens=None,
        quantization=quantization,
        progress=progress,
    )
    seconds = time.perf_counter() - start
    hypotheses = [best[0] for best in translated]
    stem = f"{name}.beam{beam}.ctranslate2" + (f".{quantization}" if quantization else "")
    written = write_outputs(out, {f"{stem}.hyp": "\n".join(hypotheses) + "\n"})
    tokenize = "char" if run.tokenizer.kind == "char" else "13a"
    return {
        "data": str(data) if data is not None else f"{split} split",
        "beam": beam,
        **corpus_scores(hypotheses, references, tokenize=tokenize),
        "seconds": round(seconds, 1),
        **({"hypotheses": written[f"{stem}.hyp"]} if written else {}),
    }


def _onnx_accuracy(
    run: LoadedRun,
    *,
    data: str | Path | None,
    split: str,
    progress: Callable[[int, int], None] | None,
) -> dict[str, Any]:
    from attnkit.data.images import read_image_folder
    from attnkit.evaluation.images import classification_scores
    from attnkit.families import family_of

    config, start = run.config.model, time.perf_counter()
    if data is not None:
        size = (config.image_height, config.image_width)
        images = read_image_folder(
            data, size=size, channels=config.channels, classes=tuple(run.classes)
        )
        pictures, labels = images.images, images.labels
    else:
        pictures, names = family_of(run).held_out_images(run, split)
        labels = torch.tensor([run.classes.index(n) for n in names])
    chunks = []
    for i in range(0, len(pictures), 256):
        chunks.append(onnx_classify(run, pictures[i : i + 256]))
        if progress is not None:
            progress(min(i + 256, len(pictures)), len(pictures))
    return {
        "data": str(data) if data is not None else f"{split} split",
        **classification_scores(torch.cat(chunks), labels, run.classes),
        "seconds": round(time.perf_counter() - start, 1),
    }


def ct2_generate(
    run: LoadedRun,
    ids: list[int],
    *,
    max_new_tokens: int,
    temperature: float,
    top_k: int | None,
    top_p: float | None,
    seed: int | None,
    sliding_window: bool,
    quantization: str | None = None,
) -> Iterator[str]:
    """Continue the prompt ``ids`` with CTranslate2's generator: the text pieces as they
    come (arguments checked by the caller, as :func:`attnkit.api.generate` does).

    With learned positions the engine reads at most ``model.max_len`` tokens: with
    ``sliding_window`` each chunk starts afresh from the last ``max_len // 2`` tokens,
    as attnkit's own generation does.
    """
    model = ct2_model(run, quantization=quantization)
    if seed is not None:
        import_engine("ctranslate2").set_random_seed(seed)
    config = run.config.model
    max_len = config.max_len if config.positional == "learned" else None
    if max_len is not None and not sliding_window and len(ids) + max_new_tokens > max_len:
        raise ValueError(
            f"prompt ({len(ids)} tokens) + max_new_tokens={max_new_tokens} exceeds "
            f"model.max_len={max_len} (learned positions): ask for fewer tokens, or pass "
            f"sliding_window=True to continue from the last {max_len // 2} tokens"
        )
    return _ct2_stream(run, model, ids, max_new_tokens, temperature, top_k, top_p, max_len=max_len)


def _ct2_stream(
    run: LoadedRun,
    model: Ct2Model,
    ids: list[int],
    max_new_tokens: int,
    temperature: float,
    top_k: int | None,
    top_p: float | None,
    *,
    max_len: int | None,
) -> Iterator[str]:
    words = model.target_words
    sampling = (
        {"sampling_topk": 1}
        if temperature == 0
        else {
            "sampling_temperature": temperature,
            "sampling_topk": top_k or 0,
            "sampling_topp": 1.0 if top_p is None else top_p,
        }
    )

    def produce(context: list[int], chunk: int) -> Iterator[int]:
        steps = model.engine.generate_tokens(
            [words[i] for i in context],
            max_length=chunk,
            end_token=[],  # a language model writes on past EOS, as attnkit's generation
            **sampling,
        )
        return (step.token_id for step in steps)

    yield from windowed_text(
        ids,
        max_new_tokens=max_new_tokens,
        max_len=max_len,
        produce=produce,
        decode=run.tokenizer.decode,
    )


def onnx_classify(run: LoadedRun, images: torch.Tensor) -> torch.Tensor:
    """Class probabilities of ``uint8`` images from the run's classifier exported to
    ONNX and run by ``onnxruntime`` (exported on first use, kept loaded).

    Shape:
        images ``(N, C, H, W)`` uint8 → ``(N, num_classes)`` float.
    """
    from attnkit.data.images import normalize_images
    from attnkit.interop.onnx import onnx_session

    _check_convertible(run)
    session = _cached(run, f"onnx:{_threads()}", lambda: onnx_session(run, threads=_threads()))
    inputs = normalize_images(images).float().numpy()
    (logits,) = session.run(None, {session.get_inputs()[0].name: inputs})
    return torch.from_numpy(logits).float().softmax(-1)
