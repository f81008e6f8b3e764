"""Command-line interface: ``attnkit <command>``. The only module of attnkit that prints.

Errors a user can cause (a bad path, a bad value) end with one ``error: ...`` line on
stderr and exit status 2, never a traceback (set ``ATTNKIT_DEBUG=1`` to see one); Ctrl-C
ends with status 130.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from attnkit import __version__

if TYPE_CHECKING:  # the CLI imports torch only when a command needs it
    import torch

__all__ = ["main"]

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

DEMO_FIGURES = (
    "attention_worked_example.png",
    "translation_cross_attention.png",
    "translation_cross_attention_heads.png",
)


def _fmt_vector(vector: torch.Tensor, digits: int = 0) -> str:
    return "[" + ", ".join(f"{float(x):.{digits}f}" for x in vector) + "]"


def _fmt_per_word(words: Sequence[str], vector: torch.Tensor, digits: int = 4) -> str:
    pairs = zip(words, vector, strict=True)
    return "  ".join(f"{word}={float(x):.{digits}f}" for word, x in pairs)


def _cmd_demo(args: argparse.Namespace) -> int:
    from attnkit.demos import train_phrase_translator, worked_example
    from attnkit.viz import plot_attention, plot_attention_heads

    out_dir = Path(args.out)
    if out_dir.exists() and not out_dir.is_dir():
        raise ValueError(f"--out {str(out_dir)!r} exists and is not a folder")

    ex = worked_example()
    words, word = ex.words, ex.words[ex.query_index]
    d_k = ex.keys.shape[-1]
    print(f"1. Attention as a soft key-value lookup (d_k = {d_k})")
    for w, k, v in zip(words, ex.keys, ex.values, strict=True):
        print(f"  {w:<5} key={_fmt_vector(k)}  value={_fmt_vector(v)}")
    print(f"  query = key of '{word}' = {_fmt_vector(ex.query)}")
    print(f"  raw scores    q.k           {_fmt_per_word(words, ex.raw_scores)}")
    print(f"  scaled scores q.k/sqrt({d_k})   {_fmt_per_word(words, ex.scaled_scores)}")
    print(f"  softmax weights             {_fmt_per_word(words, ex.weights)}")
    print(f"  output  sum_i w_i v_i = {_fmt_vector(ex.output, 4)}")
    print(f"  value of '{word}'       = {_fmt_vector(ex.values[ex.query_index], 4)}")
    figure = plot_attention(
        ex.self_lookup,
        x_labels=list(words),
        y_labels=list(words),
        title="softmax(q·kᵀ/√3): each word queries with its own key",
        path=out_dir / DEMO_FIGURES[0],
    )
    print(f"  figure: {figure}")

    print("\n2. An encoder-decoder Transformer learns Spanish -> English noun phrases")
    translator = train_phrase_translator(steps=args.steps, seed=args.seed)
    losses = translator.losses
    print(
        f"  trained {len(losses)} steps on {len(translator.train_pairs)} phrases in "
        f"{translator.seconds:.1f} s: loss {losses[0]:.3f} -> {losses[-1]:.3f}"
    )
    hypotheses = translator.translate([p.source for p in translator.test_pairs])
    correct = 0
    print("  held-out phrases (never seen in training), greedy decoding:")
    for pair, hypothesis in zip(translator.test_pairs, hypotheses, strict=True):
        ok = hypothesis == pair.target
        correct += ok
        print(
            f"    {pair.source:<22} -> {hypothesis:<20} {'ok' if ok else 'expected ' + pair.target}"
        )
    print(f"  exact: {correct}/{len(hypotheses)}")

    source, target = "la casa roja", translator.translate(["la casa roja"])[0]
    maps = translator.cross_attention(source, target)  # (L, H, T, S)
    x_labels = [*source.split(), "<eos>"]
    # Row t is the decoder step that *produces* word t (its input is the word before).
    y_labels = [*target.split(), "<eos>"]
    figure = plot_attention(
        maps[-1].mean(0),
        x_labels=x_labels,
        y_labels=y_labels,
        x_title="source word (key)",
        y_title="output word being produced (query)",
        title=f"cross-attention, last layer (mean of heads): {source} -> {target}",
        path=out_dir / DEMO_FIGURES[1],
    )
    print(f"  figure: {figure}")
    figure = plot_attention_heads(
        maps,
        x_labels=x_labels,
        y_labels=y_labels,
        title=f"cross-attention per layer and head: {source} -> {target}",
        path=out_dir / DEMO_FIGURES[2],
    )
    print(f"  figure: {figure}")
    return EXIT_OK


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


class _Progress:
    """Draws training progress from the trainer's events: a tqdm bar with step, loss,
    tokens/s and ETA, and one line per evaluation and per message. With a time budget
    the bar counts minutes instead of steps."""

    def __init__(self, total: int, enabled: bool, budget_minutes: float = 0.0):
        self.total, self.enabled, self.budget = total, enabled, budget_minutes
        self.bar = None

    def _position(self, state) -> float:
        return round(state.seconds / 60, 1) if self.budget else state.step

    def __call__(self, event) -> None:
        from tqdm import tqdm

        data = event.data
        if event.kind == "start":
            if self.enabled:
                self.bar = tqdm(
                    total=self.budget or self.total,
                    initial=self._position(event.state),
                    unit="min" if self.budget else "step",
                    dynamic_ncols=True,
                    file=sys.stderr,
                )
            self._line(
                f"training {data['params'] / 1e6:.2f}M parameters on {data['device']} "
                f"({data['precision']}, {data['world_size']} process(es)), "
                f"vocabulary {data['vocab_size']}"
            )
            if data.get("data"):
                counts = ", ".join(f"{k} {v}" for k, v in data["data"].items())
                self._line(f"data: {counts}")
        elif event.kind == "log":
            if self.bar is not None:
                self.bar.update(self._position(event.state) - self.bar.n)
                self.bar.set_postfix(
                    step=data["step"],
                    loss=f"{data['loss']:.3f}",
                    lr=f"{data['lr']:.2e}",
                    tok_s=f"{data['tokens_per_s']:.0f}",
                )
        elif event.kind == "eval":
            bpc = data.get("val_bits_per_char")
            extra = f", {bpc:.3f} bits/char" if bpc is not None else ""
            for key in ("accuracy", "word_accuracy"):  # image classifiers, captioners
                if data.get(f"val_{key}") is not None:
                    extra += f", {key.replace('_', ' ')} {data[f'val_{key}']:.2%}"
            self._line(
                f"step {data['step']}: val loss {data['val_loss']:.4f}{extra}"
                f"{' (best)' if data.get('best') else ''}"
            )
        elif event.kind == "skip":
            self._line(f"step {data['step']}: non-finite loss/gradient, update skipped")
        elif event.kind == "message":
            self._line(data["text"])
        elif event.kind == "end" and self.bar is not None:
            self.bar.update(self._position(event.state) - self.bar.n)
            self.bar.close()

    def _line(self, text: str) -> None:
        if self.bar is not None:
            self.bar.write(text, file=sys.stderr)
        else:
            print(text, file=sys.stderr)


def _cmd_train(args: argparse.Namespace) -> int:
    from attnkit.api import train
    from attnkit.config import load_run_config

    config = load_run_config(args.config, args.set)
    out = Path(args.out) if args.out else Path("runs") / Path(args.config).stem
    rank = int(os.environ.get("RANK", "0"))
    progress = _Progress(
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


def _cmd_generate(args: argparse.Namespace) -> int:
    from attnkit.api import generate, load_run

    run = load_run(args.run_dir, int8=args.int8)
    sys.stdout.write(args.prompt)
    for piece in generate(
        run,
        args.prompt,
        max_new_tokens=args.max_new_tokens,
        temperature=args.temperature,
        top_k=args.top_k,
        top_p=args.top_p,
        seed=args.seed,
        sliding_window=args.sliding_window,
    ):
        sys.stdout.write(piece)
        sys.stdout.flush()
    sys.stdout.write("\n")
    return EXIT_OK


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


def _cmd_translate(args: argparse.Namespace) -> int:
    from attnkit.api import load_run, translate

    run = load_run(args.run_dir, int8=args.int8)
    lines = args.text if args.text else sys.stdin.read().splitlines()
    results = translate(
        run,
        lines,
        beam=args.beam,
        length_penalty=args.length_penalty,
        n_best=args.n_best,
        max_len=args.max_len,
    )
    for hypotheses in results:
        print("\t".join(hypotheses) if args.n_best > 1 else hypotheses[0])
    return EXIT_OK


def _cmd_average(args: argparse.Namespace) -> int:
    from attnkit.api import average_checkpoints

    path = average_checkpoints(args.run_dir, args.out, last=args.last)
    print(f"averaged the last {args.last} checkpoints of {args.run_dir} into {path}")
    return EXIT_OK


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


def _cmd_classify(args: argparse.Namespace) -> int:
    from attnkit.api import classify, load_run

    run = load_run(args.run_dir)
    for image in args.images:
        ranked = classify(run, image, top_k=args.top_k)
        best, others = ranked[0], ranked[1:]
        extra = "".join(f"  {name} {p:.1%}" for name, p in others)
        print(f"{image}: {best[0]} {best[1]:.1%}" + (f"   (then:{extra})" if extra else ""))
    return EXIT_OK


def _cmd_caption(args: argparse.Namespace) -> int:
    from attnkit.api import caption, load_run

    run = load_run(args.run_dir)
    for image in args.images:
        text = caption(run, image, beam=args.beam, length_penalty=args.length_penalty)
        print(f"{image}\t{text}" if len(args.images) > 1 else text)
    return EXIT_OK


def _cmd_vision_sample(args: argparse.Namespace) -> int:
    from attnkit.api import write_vision_samples

    paths = write_vision_samples(args.run_dir, args.out, count=args.count, split=args.split)
    print(f"wrote {len(paths)} held-out image(s) to {args.out}:")
    for path in paths:
        print(f"  {path}")
    return EXIT_OK


def _cmd_plot(args: argparse.Namespace) -> int:
    from attnkit.training.rundir import RunDir
    from attnkit.viz import plot_loss_curve

    paths = RunDir(Path(args.run_dir))
    if not paths.metrics.is_file():
        raise ValueError(f"{args.run_dir} has no metrics.jsonl: is it a training run?")
    out = Path(args.out) if args.out else paths.loss_curve
    print(f"figure: {plot_loss_curve(paths.metrics, out, title=paths.root.name)}")
    return EXIT_OK


def _cmd_lab(args: argparse.Namespace) -> int:
    from attnkit.lab import CLAIMS, run_claim, write_index

    if args.list or args.claim is None:
        width = max(map(len, CLAIMS))
        for name, description in CLAIMS.items():
            print(f"{name:{width}s}  {description}")
        if args.claim is None and not args.list:
            print("run one with: attnkit lab NAME [--quick] [--out DIR]   (or: attnkit lab all)")
        return EXIT_OK
    names = list(CLAIMS) if args.claim == "all" else [args.claim]
    if args.claim != "all" and args.claim not in CLAIMS:
        raise ValueError(f"unknown lab claim {args.claim!r}; choose one of: {', '.join(CLAIMS)}")
    root = Path(args.out) if args.out else Path("runs/lab")
    failed = []
    for name in names:
        out = root / name if args.claim == "all" or not args.out else root
        print(f"== {name}: {CLAIMS[name]}", flush=True)
        if args.claim != "all":
            verdict = run_claim(name, out=out, quick=args.quick, seed=args.seed)
        else:  # one broken experiment must not cost the others' results
            try:
                verdict = run_claim(name, out=out, quick=args.quick, seed=args.seed)
            except (ValueError, RuntimeError, OSError) as exc:
                print(f"   error: {str(exc).splitlines()[0]}", file=sys.stderr)
                failed.append(name)
                continue
        print(f"   {verdict.outcome} ({verdict.seconds:.0f} s): {out / 'verdict.md'}")
    if args.claim == "all":
        index = Path(args.index) if args.index else None
        print(f"index: {write_index(root, names, index=index)}")
    if failed:
        raise RuntimeError(f"{len(failed)} experiment(s) failed: {', '.join(failed)}")
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with one sub-parser per command."""
    parser = argparse.ArgumentParser(
        prog="attnkit",
        description="attnkit: Transformer networks on PyTorch, built to be read and run.",
    )
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

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

    generate = commands.add_parser("generate", help="continue a prompt with a trained LM")
    generate.add_argument("run_dir", metavar="RUN_DIR")
    generate.add_argument("--prompt", default="\n", help="text to continue (default: a newline)")
    generate.add_argument("--max-new-tokens", type=int, default=500, metavar="N")
    generate.add_argument(
        "--temperature",
        type=float,
        default=0.8,
        metavar="T",
        help="0 = greedy; higher = more varied (default 0.8)",
    )
    generate.add_argument("--top-k", type=int, metavar="K", help="sample from the K likeliest")
    generate.add_argument("--top-p", type=float, metavar="P", help="nucleus sampling")
    generate.add_argument("--seed", type=int, metavar="S", help="seed for reproducible samples")
    generate.add_argument(
        "--sliding-window",
        action="store_true",
        help="with learned positions, go past max_len by continuing from the last max_len/2 tokens",
    )
    generate.add_argument(
        "--int8",
        action="store_true",
        help="quantize the linear layers to int8 (CPU): faster, slightly less accurate",
    )
    generate.set_defaults(func=_cmd_generate)

    evaluate = commands.add_parser(
        "evaluate", help="score a run (JSON): perplexity, BLEU, accuracy, caption accuracy"
    )
    evaluate.add_argument("run_dir", metavar="RUN_DIR")
    evaluate.add_argument(
        "--data",
        metavar="FILE",
        help="a UTF-8 text file (language models), a TSV file of source/target pairs "
        "(translators) or a folder of class sub-folders (image classifiers); default: the "
        "run's own held-out split",
    )
    evaluate.add_argument(
        "--split",
        default="valid",
        choices=("valid", "test"),
        help="translators: which held-out split (default valid)",
    )
    evaluate.add_argument(
        "--beam",
        type=int,
        default=1,
        metavar="N",
        help="translators: beam size (default 1 = greedy)",
    )
    evaluate.add_argument(
        "--length-penalty",
        type=float,
        default=0.6,
        metavar="A",
        help="translators: GNMT length penalty alpha (default 0.6)",
    )
    evaluate.add_argument(
        "--int8",
        action="store_true",
        help="quantize the linear layers to int8 (CPU): faster, slightly less accurate",
    )
    evaluate.set_defaults(func=_cmd_evaluate)

    translate = commands.add_parser(
        "translate", help="translate the arguments, or each line of stdin"
    )
    translate.add_argument("run_dir", metavar="RUN_DIR")
    translate.add_argument("text", nargs="*", metavar="TEXT")
    translate.add_argument("--beam", type=int, default=4, metavar="N", help="beam size (4)")
    translate.add_argument("--length-penalty", type=float, default=0.6, metavar="A")
    translate.add_argument(
        "--n-best",
        type=int,
        default=1,
        metavar="K",
        help="print the K best translations, tab-separated",
    )
    translate.add_argument("--max-len", type=int, metavar="N", help="longest output in tokens")
    translate.add_argument(
        "--int8",
        action="store_true",
        help="quantize the linear layers to int8 (CPU): faster, slightly less accurate",
    )
    translate.set_defaults(func=_cmd_translate)

    average = commands.add_parser(
        "average", help="average a run's last checkpoints into a new run directory"
    )
    average.add_argument("run_dir", metavar="RUN_DIR")
    average.add_argument("--last", type=int, default=5, metavar="K")
    average.add_argument("--out", required=True, metavar="NEW_RUN_DIR")
    average.set_defaults(func=_cmd_average)

    attention = commands.add_parser(
        "attention", help="draw a trained model's attention over a text or an image"
    )
    attention.add_argument("run_dir", metavar="RUN_DIR")
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

    classify = commands.add_parser("classify", help="classify images with a trained ViT")
    classify.add_argument("run_dir", metavar="RUN_DIR")
    classify.add_argument("images", nargs="+", metavar="IMAGE.png")
    classify.add_argument("--top-k", type=int, default=3, metavar="K", help="classes shown (3)")
    classify.set_defaults(func=_cmd_classify)

    caption = commands.add_parser("caption", help="caption images with a trained captioner")
    caption.add_argument("run_dir", metavar="RUN_DIR")
    caption.add_argument("images", nargs="+", metavar="IMAGE.png")
    caption.add_argument("--beam", type=int, default=1, metavar="N", help="beam size (1 = greedy)")
    caption.add_argument("--length-penalty", type=float, default=0.6, metavar="A")
    caption.set_defaults(func=_cmd_caption)

    sample = commands.add_parser(
        "vision-sample", help="write held-out images of an image run as PNG files, to try"
    )
    sample.add_argument("run_dir", metavar="RUN_DIR")
    sample.add_argument("--out", required=True, metavar="DIR")
    sample.add_argument("--count", type=int, default=8, metavar="N", help="images (default 8)")
    sample.add_argument("--split", default="test", choices=("valid", "test"))
    sample.set_defaults(func=_cmd_vision_sample)

    lab = commands.add_parser(
        "lab", help="run an experiment that tests a claim of the notes (figure + verdict)"
    )
    lab.add_argument("claim", nargs="?", metavar="CLAIM", help="a claim name, or 'all'")
    lab.add_argument("--list", action="store_true", help="list the claims")
    lab.add_argument("--quick", action="store_true", help="a reduced run (under a minute)")
    lab.add_argument(
        "--out", metavar="DIR", help="output folder (default: runs/lab/CLAIM, or runs/lab)"
    )
    lab.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    lab.add_argument(
        "--index",
        metavar="FILE.md",
        help="with 'all': where to write the index (default: DIR/README.md)",
    )
    lab.set_defaults(func=_cmd_lab)

    plot = commands.add_parser("plot", help="draw a run's loss curve")
    plot.add_argument("run_dir", metavar="RUN_DIR")
    plot.add_argument("--out", metavar="FILE.png", help="default: RUN_DIR/loss.png")
    plot.set_defaults(func=_cmd_plot)

    info = commands.add_parser(
        "info", help="a run's config and state (JSON), or without RUN_DIR the environment"
    )
    info.add_argument("run_dir", nargs="?", metavar="RUN_DIR")
    info.set_defaults(func=_cmd_info)

    demo = commands.add_parser(
        "demo", help="the attention worked example: printed numbers and a heatmap"
    )
    demo.add_argument(
        "--out",
        default="runs/demo",
        metavar="DIR",
        help="folder for the figure (default: runs/demo)",
    )
    demo.add_argument("--steps", type=int, default=400, help="training steps (default: 400)")
    demo.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    demo.set_defaults(func=_cmd_demo)
    return parser


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Warnings reach the user as one line, without the source location."""
    print(f"warning: {message}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI with ``argv`` (default: ``sys.argv[1:]``) and return the exit status."""
    warnings.showwarning = _show_warning
    parser = build_parser()
    try:
        args, extra = parser.parse_known_args(argv)
        # `translate RUN --beam 5 TEXT ...`: argparse leaves texts after options over
        if extra and args.command == "translate" and not any(e.startswith("-") for e in extra):
            args.text = [*args.text, *extra]
        elif extra:
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
    except SystemExit as exc:  # --help (0) or a usage error (2, message already printed)
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    if args.version:
        print(f"attnkit {__version__}")
        return EXIT_OK
    func: Callable[[argparse.Namespace], int] | None = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return EXIT_USAGE
    try:
        return func(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except (ValueError, OSError, RuntimeError, KeyError) as exc:
        if os.environ.get("ATTNKIT_DEBUG"):
            raise  # a full traceback, for bug reports
        message = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)
        print(
            f"error: {message.splitlines()[0] if message else type(exc).__name__}", file=sys.stderr
        )
        return EXIT_USAGE
