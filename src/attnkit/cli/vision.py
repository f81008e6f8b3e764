"""Commands for trained image models: ``classify``, ``caption`` and ``vision-sample`` (held-out
images to try them on)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from attnkit.cli.options import (
    add_beam_options,
    add_checkpoint_option,
    add_engine_option,
    add_images,
    add_run_dir,
    add_split_option,
)
from attnkit.cli.parsing import positive_int
from attnkit.cli.status import EXIT_OK

if TYPE_CHECKING:
    from attnkit.cli.options import Commands


def _cmd_classify(args: argparse.Namespace) -> int:
    from attnkit.api import classify, load_run

    run = load_run(args.run_dir, checkpoint=args.checkpoint)
    for image in args.images:
        ranked = classify(run, image, top_k=args.top_k, engine=args.engine)
        best, others = ranked[0], ranked[1:]
        extra = "".join(f"  {name} {p:.1%}" for name, p in others)
        print(f"{image}: {best[0]} {best[1]:.1%}" + (f"   (then:{extra})" if extra else ""))
    return EXIT_OK


def add_classify(commands: Commands) -> None:
    classify = commands.add_parser("classify", help="classify images with a trained ViT")
    add_run_dir(classify)
    add_images(classify)
    # not generate's --top-k: here K only limits how many classes are printed
    classify.add_argument(
        "--top-k", type=positive_int, default=3, metavar="K", help="classes shown per image"
    )
    add_engine_option(classify, ("pytorch", "onnx"))
    add_checkpoint_option(classify)
    classify.set_defaults(func=_cmd_classify)


def _cmd_caption(args: argparse.Namespace) -> int:
    from attnkit.api import caption, load_run

    run = load_run(args.run_dir, checkpoint=args.checkpoint)
    for image in args.images:
        text = caption(run, image, beam=args.beam, length_penalty=args.length_penalty)
        print(f"{image}\t{text}" if len(args.images) > 1 else text)
    return EXIT_OK


def add_caption(commands: Commands) -> None:
    caption = commands.add_parser("caption", help="caption images with a trained captioner")
    add_run_dir(caption)
    add_images(caption)
    add_beam_options(caption)
    add_checkpoint_option(caption)
    caption.set_defaults(func=_cmd_caption)


def _cmd_vision_sample(args: argparse.Namespace) -> int:
    from attnkit.api import write_vision_samples

    paths = write_vision_samples(
        args.run_dir, args.out, count=args.count, split=args.split, checkpoint=args.checkpoint
    )
    print(f"wrote {len(paths)} held-out image(s) to {args.out}:")
    for path in paths:
        print(f"  {path}")
    return EXIT_OK


def add_vision_sample(commands: Commands) -> None:
    sample = commands.add_parser(
        "vision-sample", help="write held-out images of an image run as PNG files, to try"
    )
    add_run_dir(sample)
    sample.add_argument(
        "--out", required=True, metavar="DIR", help="the folder to write the PNG files into"
    )
    sample.add_argument(
        "--count", type=positive_int, default=8, metavar="N", help="images (default 8)"
    )
    add_split_option(sample, default="test")
    add_checkpoint_option(sample)
    sample.set_defaults(func=_cmd_vision_sample)
