"""Commands that bring pretrained models in and out, and use them: ``import-hf``,
``export`` and ``embed``."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING

from attnkit.cli.options import add_run_dir
from attnkit.cli.parsing import positive_int
from attnkit.cli.status import EXIT_OK

if TYPE_CHECKING:
    from attnkit.cli.options import Commands

# attnkit.interop.hf_export.FORMATS, not imported: that would load torch (a test keeps
# the two equal)
EXPORT_FORMATS = ("hf", "ctranslate2", "onnx")
# attnkit.interop.ctranslate2.QUANTIZATIONS, not imported for the same reason
QUANTIZATIONS = (
    "int8",
    "int8_float32",
    "int8_float16",
    "int8_bfloat16",
    "int16",
    "float16",
    "bfloat16",
    "float32",
)


def _cmd_import_hf(args: argparse.Namespace) -> int:
    from attnkit.interop import import_hf

    imported = import_hf(args.model_dir, args.out)
    uses = ["attnkit info", "attnkit attention"]
    uses.append("attnkit fill" if imported.mlm_head else "")
    uses.append("attnkit embed" if imported.pooling else "attnkit generate")
    print(
        f"imported {imported.architecture} ({imported.parameters / 1e6:.1f} M parameters) "
        f"from {args.model_dir} as a run of kind {imported.kind!r}: {imported.run_dir}"
    )
    if imported.pooling:
        print(f"sentence embeddings: {imported.pooling} pooling")
    for what in imported.left_out:
        print(f"left out: {what}")
    print(f"use it with: {', '.join(use for use in uses if use)}")
    return EXIT_OK


def add_import_hf(commands: Commands) -> None:
    parser = commands.add_parser(
        "import-hf",
        help="turn a local Hugging Face model directory (BERT-family, GPT-2) into a run",
        description="Convert a transformers model directory (config.json, model.safetensors, "
        "tokenizer.json or vocab.txt; e.g. a sentence-transformers model) into an attnkit "
        "run directory that every command takes. Nothing is downloaded.",
    )
    parser.add_argument("model_dir", metavar="MODEL_DIR", help="the Hugging Face model directory")
    parser.add_argument("--out", required=True, metavar="RUN_DIR", help="the new run directory")
    parser.set_defaults(func=_cmd_import_hf)


def _cmd_export_engine(args: argparse.Namespace) -> int:
    if args.format == "onnx":
        from attnkit.interop.onnx import export_onnx

        if args.quantization is not None:
            raise ValueError("--quantization applies to --format ctranslate2")
        exported = export_onnx(args.run_dir, args.out)
    else:
        from attnkit.interop.ctranslate2 import export_ctranslate2

        exported = export_ctranslate2(args.run_dir, args.out, quantization=args.quantization)
    print(f"exported {args.run_dir} for {exported.architecture} to {exported.directory}")
    print(f"files: {', '.join(exported.files)}")
    print("run it with: attnkit's --engine option, or the engine itself (docs/deploy.md)")
    return EXIT_OK


def _cmd_export(args: argparse.Namespace) -> int:
    from attnkit.interop import export_hf

    if args.format != "hf":
        return _cmd_export_engine(args)
    if args.quantization is not None:
        raise ValueError("--quantization applies to --format ctranslate2")
    exported = export_hf(args.run_dir, args.out)
    print(f"exported {args.run_dir} as {exported.architecture} to {exported.directory}")
    print(f"files: {', '.join(exported.files)}")
    print(
        f"load it with: transformers.{exported.auto_class}.from_pretrained"
        f"({str(exported.directory)!r}) and transformers.AutoTokenizer.from_pretrained"
        f"({str(exported.directory)!r})"
    )
    return EXIT_OK


def add_export(commands: Commands) -> None:
    parser = commands.add_parser(
        "export",
        help="write a run for Hugging Face (GPT-2, BERT), CTranslate2 or ONNX Runtime",
        description="Write a run's best model as a directory that transformers loads with "
        "from_pretrained and no custom code: a decoder-only language model as "
        "GPT2LMHeadModel, an encoder as BertForMaskedLM (BertModel without a masked-word "
        "head), with its tokenizer. --format ctranslate2 writes a translator or language "
        "model for CTranslate2 (--quantization int8 stores int8 weights); --format onnx "
        "writes a ViT classifier, MLM encoder or decoder LM (no cache) as model.onnx. A "
        "variant the target cannot express is refused.",
    )
    add_run_dir(parser)
    parser.add_argument("--format", choices=EXPORT_FORMATS, default="hf", help="the target format")
    parser.add_argument(
        "--quantization",
        choices=QUANTIZATIONS,
        help="ctranslate2: the weight type written (default float32)",
    )
    parser.add_argument("--out", required=True, metavar="DIR", help="a new (or empty) directory")
    parser.set_defaults(func=_cmd_export)


def _texts(args: argparse.Namespace) -> list[str]:
    if args.text:
        return list(args.text)
    return [line.rstrip("\r\n") for line in sys.stdin if line.strip()]


def _cmd_embed(args: argparse.Namespace) -> int:
    from attnkit.api import embed

    texts = _texts(args)
    vectors = embed(args.run_dir, texts, normalize=args.normalize, batch_size=args.batch_size)
    if not args.similarity:
        for text, vector in zip(texts, vectors.tolist(), strict=True):
            print(json.dumps({"text": text, "embedding": [round(x, 6) for x in vector]}))
        return EXIT_OK
    unit = vectors / vectors.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    similarity = (unit @ unit.T).tolist()  # (N, N) cosine similarities
    for index, text in enumerate(texts):
        print(f"[{index}] {text}")
    print("cosine similarity:")
    print("     " + "".join(f"{f'[{j}]':>7}" for j in range(len(texts))))
    for i, row in enumerate(similarity):
        print(f"{f'[{i}]':<5}" + "".join(f"{value:7.3f}" for value in row))
    return EXIT_OK


def add_embed(commands: Commands) -> None:
    parser = commands.add_parser(
        "embed",
        help="sentence embeddings of the arguments, or of each line of stdin, by an encoder",
        description="Print one vector per text (a JSON line each), the encoder's final "
        "states pooled as its run says (mean or [CLS]) and scaled to unit length; with "
        "--similarity, the cosine similarity of every pair instead.",
    )
    add_run_dir(parser)
    parser.add_argument("text", nargs="*", metavar="TEXT", help="a text (default: stdin lines)")
    parser.add_argument(
        "--similarity", action="store_true", help="print the cosine similarity of every pair"
    )
    parser.add_argument(
        "--normalize",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="scale each vector to unit length",
    )
    parser.add_argument(
        "--batch-size", type=positive_int, default=32, metavar="N", help="texts per forward pass"
    )
    parser.set_defaults(func=_cmd_embed)
