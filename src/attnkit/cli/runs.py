"""Commands that make a run directory or look at one as a whole: ``train``, ``evaluate``,
``average``, ``attention``, ``plot`` and ``info``."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

from attnkit.cli.options import (
    add_beam_options,
    add_int8_option,
    add_run_dir,
    add_split_option,
)
from attnkit.cli.progress import Progress
from attnkit.cli.status import EXIT_INTERRUPTED, EXIT_OK

if TYPE_CHECKING:
    from attnkit.cli.options import Commands


def _cmd_train(args: argparse.Namespace) -> int:
    from attnkit.api import train
    from attnkit.config import load_run_config

    config = load_run_config(args.config, args.set)
    out = Path(args.out) if args.out else Path("runs") / Path(args.config).stem
    rank = int(os.environ.get("RANK", "0"))
    progress = Progress(
        config.train.steps,
        enabled=rank == 0 and not args.quiet,
        budget_minutes=config.train.max_minutes,
    )
    callbacks = [progress] if rank == 0 else []
    state = train(config, out, resume=args.resume, callbacks=callbacks)
    if rank == 0:
        best = f"best val loss {state.best_loss:.4f} at step {state.best_step}"
        if state.stop_reason.startswith("interrupted"):
            print(
                f"{state.stop_reason} at step {state.step}; checkpoint saved in {out}. "
                f"Continue with: attnkit train {args.config} --out {out} --resume"
            )
            return EXIT_INTERRUPTED
        print(
            f"{state.stop_reason} at step {state.step} in {state.seconds:.0f} s; {best}; run: {out}"
        )
    return EXIT_OK


def add_train(commands: Commands) -> None:
    train = commands.add_parser("train", help="train a model from a TOML recipe")
    train.add_argument("config", metavar="CONFIG.toml", help="the recipe (see configs/)")
    train.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a setting, e.g. --set train.lr=3e-4 (repeatable)",
    )
    train.add_argument(
        "--out", metavar="RUN_DIR", help="run directory (default: runs/<config name>)"
    )
    train.add_argument(
        "--resume",
        action="store_true",
        help="continue the run in RUN_DIR from its latest checkpoint",
    )
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.set_defaults(func=_cmd_train)


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from attnkit.api import evaluate

    result = evaluate(
        args.run_dir,
        data=args.data,
        split=args.split,
        beam=args.beam,
        length_penalty=args.length_penalty,
        int8=args.int8,
    )
    print(json.dumps(result, indent=2))
    return EXIT_OK


def add_evaluate(commands: Commands) -> None:
    evaluate = commands.add_parser(
        "evaluate", help="score a run (JSON): perplexity, BLEU, accuracy, caption accuracy"
    )
    add_run_dir(evaluate)
    evaluate.add_argument(
        "--data",
        metavar="FILE",
        help="a UTF-8 text file (language models), a TSV file of source/target pairs "
        "(translators) or a folder of class sub-folders (image classifiers); default: the "
        "run's own held-out split",
    )
    add_split_option(evaluate, default="valid", prefix="translators: ")
    add_beam_options(evaluate, beam=1, prefix="translators: ")
    add_int8_option(evaluate)
    evaluate.set_defaults(func=_cmd_evaluate)


def _cmd_average(args: argparse.Namespace) -> int:
    from attnkit.api import average_checkpoints

    path = average_checkpoints(args.run_dir, args.out, last=args.last)
    print(f"averaged the last {args.last} checkpoints of {args.run_dir} into {path}")
    return EXIT_OK


def add_average(commands: Commands) -> None:
    average = commands.add_parser(
        "average", help="average a run's last checkpoints into a new run directory"
    )
    add_run_dir(average)
    average.add_argument("--last", type=int, default=5, metavar="K")
    average.add_argument("--out", required=True, metavar="NEW_RUN_DIR")
    average.set_defaults(func=_cmd_average)


def _cmd_attention(args: argparse.Namespace) -> int:
    from attnkit.api import plot_image_attention, plot_run_attention

    if (args.text is None) == (args.image is None):
        raise ValueError("give --text (text models) or --image (image models), not both")
    if args.image is not None:
        path = plot_image_attention(
            args.run_dir, args.image, args.out, layer=args.layer, head=args.head
        )
    else:
        path = plot_run_attention(
            args.run_dir, args.text, args.out, layer=args.layer, head=args.head
        )
    print(f"figure: {path}")
    return EXIT_OK


def add_attention(commands: Commands) -> None:
    attention = commands.add_parser(
        "attention", help="draw a trained model's attention over a text or an image"
    )
    add_run_dir(attention)
    attention.add_argument("--text", help="the text to look at (text models)")
    attention.add_argument(
        "--image",
        metavar="IMAGE.png",
        help="the picture to look at (image models): a captioner's attention per word, "
        "a classifier's class-token attention per layer and its rollout",
    )
    attention.add_argument("--out", required=True, metavar="FILE.png")
    attention.add_argument("--layer", type=int, metavar="L", help="only this layer (from 0)")
    attention.add_argument("--head", type=int, metavar="H", help="only this head (from 0)")
    attention.set_defaults(func=_cmd_attention)


def _cmd_plot(args: argparse.Namespace) -> int:
    from attnkit.training.rundir import RunDir
    from attnkit.viz import plot_loss_curve

    paths = RunDir(Path(args.run_dir))
    if not paths.metrics.is_file():
        raise ValueError(f"{args.run_dir} has no metrics.jsonl: is it a training run?")
    out = Path(args.out) if args.out else paths.loss_curve
    print(f"figure: {plot_loss_curve(paths.metrics, out, title=paths.root.name)}")
    return EXIT_OK


def add_plot(commands: Commands) -> None:
    plot = commands.add_parser("plot", help="draw a run's loss curve")
    add_run_dir(plot)
    plot.add_argument("--out", metavar="FILE.png", help="default: RUN_DIR/loss.png")
    plot.set_defaults(func=_cmd_plot)


def _cmd_info(args: argparse.Namespace) -> int:
    if args.run_dir:
        from attnkit.api import run_info

        print(json.dumps(run_info(args.run_dir), indent=2))
        return EXIT_OK
    from attnkit.runtime import describe_environment

    info = describe_environment()
    width = max(len(key) for key in info)
    for key, value in info.items():
        print(f"{key:<{width}}  {value}")
    return EXIT_OK


def add_info(commands: Commands) -> None:
    info = commands.add_parser(
        "info", help="a run's config and state (JSON), or without RUN_DIR the environment"
    )
    add_run_dir(info, optional=True)
    info.set_defaults(func=_cmd_info)
