"""Import a Hugging Face model directory as an attnkit run directory.

``import_hf(DIR, out=RUN)`` reads a local checkpoint directory as ``transformers`` saves
it — ``config.json``, ``model.safetensors`` (never a pickle) and ``tokenizer.json`` or
``vocab.txt`` — and writes a run directory that every attnkit command takes: the config
(``config.json``), the tokenizer (``tokenizer.json``, kind ``hf``) and the weights as a
checkpoint at step 0. Nothing is downloaded.

``model_type = "bert"`` (BERT, MiniLM, …) becomes the encoder (with its masked-word head
when the checkpoint has one), ``"gpt2"`` the decoder-only language model. A
sentence-transformers directory (``modules.json``) also gives the pooling of its
sentence embeddings. A field or weight that attnkit cannot represent stops the import
with one line naming it; weights that serve nothing attnkit runs (BERT's pooler and
next-sentence head) are left out and listed.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torch import Tensor, nn

from attnkit.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from attnkit.data.hf_tokenizer import HFTokenizer
from attnkit.interop import bert, gpt2
from attnkit.interop.weights import read_safetensors
from attnkit.models import DecoderLM, EncoderMLM
from attnkit.training.checkpoint import save_checkpoint
from attnkit.training.rundir import RunDir

__all__ = ["IMPORTERS", "ImportedModel", "import_hf", "sentence_pooling"]


@dataclass(frozen=True)
class ImportedModel:
    """What :func:`import_hf` wrote.

    Attributes:
        run_dir: the new run directory.
        architecture: what the checkpoint was (``"BertForMaskedLM"``, ``"BertModel"``, ...).
        kind: the attnkit ``model.kind`` it became.
        parameters: number of parameters.
        mlm_head: the model can fill masks (``attnkit fill``).
        pooling: how sentence embeddings pool the states (encoders), else ``None``.
        left_out: weights of the checkpoint that were not imported, and why.
    """

    run_dir: Path
    architecture: str
    kind: str
    parameters: int
    mlm_head: bool = False
    pooling: str | None = None
    left_out: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Source:
    """A model directory's parts, read and checked."""

    root: Path
    hf: Mapping[str, Any]
    weights: Mapping[str, Tensor]
    tokenizer: HFTokenizer
    pooling: str

    def where(self, name: str = "config.json") -> str:
        return str(self.root / name)


def _import_bert(
    source: _Source,
) -> tuple[ModelConfig, nn.Module, dict[str, Tensor], list[str], str]:
    named = bert.canonical_names(source.weights)
    mlm_head = bert.has_mlm_head(named)
    config = bert.encoder_config_from_bert(
        source.hf,
        source=source.where(),
        mlm_head=mlm_head,
        tied=bert.ties_decoder(source.hf, named),
        mask_id=source.tokenizer.mask_id,
        pooling=source.pooling,
    )
    model = EncoderMLM(config)
    state, left_out = bert.encoder_state_from_bert(
        named, model, source=source.where("model.safetensors")
    )
    architecture = "BertForMaskedLM" if mlm_head else "BertModel"
    return config, model, state, left_out, architecture


def _import_gpt2(
    source: _Source,
) -> tuple[ModelConfig, nn.Module, dict[str, Tensor], list[str], str]:
    config = gpt2.decoder_config_from_gpt2(source.hf, source=source.where())
    model = DecoderLM(config)
    state = gpt2.decoder_state_from_gpt2(
        source.weights, model, source=source.where("model.safetensors")
    )
    return config, model, state, [], "GPT2LMHeadModel"


# model_type of config.json → its importer
IMPORTERS: dict[str, Callable[[_Source], tuple]] = {"bert": _import_bert, "gpt2": _import_gpt2}


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(f"{path.parent} has no {path.name}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"{path} is not valid JSON: {error}") from None


def _read_weights(root: Path) -> dict[str, Tensor]:
    """The tensors of ``model.safetensors``, or of every shard its index lists."""
    index = root / "model.safetensors.index.json"
    if not (root / "model.safetensors").is_file() and index.is_file():
        shards = sorted(set(_read_json(index).get("weight_map", {}).values()))
        weights: dict[str, Tensor] = {}
        for shard in shards:
            weights.update(read_safetensors(root / shard))
        return weights
    return read_safetensors(root / "model.safetensors")


def sentence_pooling(root: Path) -> str:
    """The pooling of a sentence-transformers directory (``modules.json``, then the
    Pooling module's ``config.json``): ``"mean"`` or ``"cls"``; ``"mean"`` when the
    directory is not one.

    Raises:
        ValueError: a module or pooling mode attnkit does not have (named), e.g. a
            ``Dense`` projection after pooling, or max pooling.
    """
    modules_file = root / "modules.json"
    if not modules_file.is_file():
        return "mean"
    pooling = "mean"
    for module in _read_json(modules_file):
        kind = str(module.get("type", ""))
        name = kind.rsplit(".", 1)[-1]
        if name in ("Transformer", "Normalize"):
            continue
        if name != "Pooling":
            raise ValueError(
                f"{modules_file}: module {kind!r} cannot be represented: attnkit's sentence "
                f"embeddings are the encoder, a pooling and a normalisation"
            )
        pooling_file = root / module.get("path", "") / "config.json"
        modes = _read_json(pooling_file)
        chosen = [key for key, value in modes.items() if key.startswith("pooling_mode") and value]
        known = {"pooling_mode_mean_tokens": "mean", "pooling_mode_cls_token": "cls"}
        for key in chosen:
            if key not in known:
                raise ValueError(
                    f"{pooling_file}: {key}=true cannot be represented: attnkit pools by the "
                    f"mean of the tokens or the first ([CLS]) token"
                )
        if len(chosen) != 1:
            raise ValueError(f"{pooling_file}: attnkit pools one way, this sets {len(chosen)}")
        pooling = known[chosen[0]]
    return pooling


def import_hf(directory: str | Path, out: str | Path) -> ImportedModel:
    """Convert the Hugging Face model directory ``directory`` into the new attnkit run
    directory ``out``.

    Raises:
        OSError: a file is missing (named).
        ValueError: ``out`` already holds a run; a field, a weight or a module attnkit
            cannot represent (named); a file that is not what it should be.
    """
    root = Path(directory)
    if not root.is_dir():
        raise FileNotFoundError(f"no such model directory: {root}")
    target = RunDir(Path(out))
    if target.config.exists() or target.has_checkpoint():
        raise ValueError(f"{target.root} already holds a run: pass a new directory as out=")
    hf = _read_json(root / "config.json")
    if not isinstance(hf, dict):
        raise ValueError(f"{root / 'config.json'} is not a JSON object")
    model_type = hf.get("model_type")
    if model_type not in IMPORTERS:
        raise ValueError(
            f"{root / 'config.json'}: model_type={model_type!r} cannot be imported: attnkit "
            f"reads {' and '.join(repr(name) for name in IMPORTERS)} (BERT, MiniLM, GPT-2 …)"
        )
    source = _Source(
        root=root,
        hf=hf,
        weights=_read_weights(root),
        tokenizer=HFTokenizer.from_directory(root),
        pooling=sentence_pooling(root),
    )
    config, model, state, left_out, architecture = IMPORTERS[model_type](source)
    vocab_size = config.vocab_size
    if source.tokenizer.vocab_size > vocab_size:
        raise ValueError(
            f"{root}: the tokenizer has {source.tokenizer.vocab_size} tokens but "
            f"config.json's vocab_size is {vocab_size}"
        )
    model.load_state_dict(state, strict=True)
    model.eval()
    run_config = RunConfig(
        model=config,
        data=DataConfig(block_size=min(DataConfig().block_size, config.max_len)),
        train=TrainConfig(),
    )
    target.root.mkdir(parents=True, exist_ok=True)
    target.write_config(run_config)
    source.tokenizer.save(target.tokenizer)
    save_checkpoint(
        target.root,
        step=0,
        model=model,
        optimizer=None,
        trainer_state={
            "step": 0,
            "imported_from": str(root.resolve()),
            "architecture": architecture,
            "left_out": left_out,
        },
    )
    return ImportedModel(
        run_dir=target.root,
        architecture=architecture,
        kind=config.kind,
        parameters=sum(p.numel() for p in model.parameters()),
        mlm_head=bool(getattr(config, "mlm_head", False)),
        pooling=getattr(config, "pooling", None),
        left_out=left_out,
    )
