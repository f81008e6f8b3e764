"""Commands that make a run directory or look at one as a whole: ``train``, ``evaluate``,
``average``, ``attention``, ``plot`` and ``info``."""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from attnkit.cli.options import (
    add_beam_options,
    add_checkpoint_option,
    add_engine_option,
    add_int8_option,
    add_run_dir,
    add_split_option,
)
from attnkit.cli.parsing import non_negative_int, positive_int
from attnkit.cli.progress import CountProgress, Progress
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
    state = train(
        config,
        out,
        resume=args.resume,
        allow_data_change=args.allow_data_change,
        callbacks=callbacks,
    )
    if rank == 0:
        if state.stop_reason.startswith("interrupted"):
            # the same recipe and settings, so that the resumed run accepts them
            sets = [part for setting in args.set for part in ("--set", setting)]
            again = shlex.join(["attnkit", "train", args.config, "--out", str(out), *sets])
            print(
                f"{state.stop_reason} at step {state.step}; checkpoint saved in {out}. "
                f"Continue with: {again} --resume"
            )
            return EXIT_INTERRUPTED
        if state.best_loss is None:  # stopped before its first evaluation
            best = "no evaluation yet"
        else:
            best = f"best val loss {state.best_loss:.4f} at step {state.best_step}"
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
        help="continue the run in RUN_DIR where it stopped (crash, Ctrl-C, kill): from its "
        "latest checkpoint, or from the newest intact one when the latest is damaged",
    )
    train.add_argument(
        "--allow-data-change",
        action="store_true",
        help="with --resume: go on although the data files changed since the checkpoint "
        "(or --set names other ones); without it such a resume is refused",
    )
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.set_defaults(func=_cmd_train)


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from attnkit.api import evaluate

    with CountProgress("evaluating", enabled=sys.stderr.isatty()) as progress:
        result = evaluate(
            args.run_dir,
            data=args.data,
            split=args.split,
            beam=args.beam,
            length_penalty=args.length_penalty,
            int8=args.int8,
            checkpoint=args.checkpoint,
            out=args.out,
            progress=progress,
            engine=args.engine,
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
    add_split_option(
        evaluate,
        default="valid",
        prefix="without --data: the run's held-out data (a language model has test text only "
        "when its recipe set data.test); ",
    )
    add_beam_options(evaluate, prefix="translators and captioners: ")
    add_int8_option(evaluate)
    add_engine_option(evaluate, ("pytorch", "ctranslate2", "onnx"))
    add_checkpoint_option(evaluate)
    evaluate.add_argument(
        "--out",
        metavar="DIR",
        help="where the hypotheses, references and figures go (default: RUN_DIR/eval/; when "
        "it cannot be written, the scores are still printed)",
    )
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
    average.add_argument(
        "--last",
        type=positive_int,
        default=5,
        metavar="K",
        help="average the K most recent checkpoints kept (train.keep_last sets how many are kept)",
    )
    average.add_argument(
        "--out",
        required=True,
        metavar="NEW_RUN_DIR",
        help="a new run directory for the averaged model (it translates and evaluates like "
        "any run)",
    )
    average.set_defaults(func=_cmd_average)


def _cmd_attention(args: argparse.Namespace) -> int:
    from attnkit.api import plot_image_attention, plot_run_attention

    if args.text is not None and args.image is not None:
        raise ValueError("give --text (text models) or --image (image models), not both")
    if args.text is None and args.image is None:
        raise ValueError("give --text TEXT (text models) or --image IMAGE.png (image models)")
    if args.image is not None:
        path = plot_image_attention(
            args.run_dir,
            args.image,
            args.out,
            layer=args.layer,
            head=args.head,
            checkpoint=args.checkpoint,
        )
    else:
        path = plot_run_attention(
            args.run_dir,
            args.text,
            args.out,
            layer=args.layer,
            head=args.head,
            checkpoint=args.checkpoint,
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
    attention.add_argument(
        "--out",
        required=True,
        metavar="FILE.png",
        help="the figure to write (.png or .svg); translators also write FILE-cross.png and "
        "the self-attention grids beside it",
    )
    attention.add_argument(
        "--layer", type=non_negative_int, metavar="L", help="only this layer (from 0)"
    )
    attention.add_argument(
        "--head", type=non_negative_int, metavar="H", help="only this head (from 0)"
    )
    add_checkpoint_option(attention)
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

        print(json.dumps(run_info(args.run_dir, checkpoint=args.checkpoint), indent=2))
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
    add_checkpoint_option(info, default="latest")
    info.set_defaults(func=_cmd_info)
