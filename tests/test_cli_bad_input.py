"""Issue 20's bad arguments through the command line: each case the issue reports, reproduced,
ends with one line that says what to do — numbers that mean nothing, beams and lengths the
model or the memory cannot take, commands given a run of the wrong family, evaluation that
must say what it scored, batch translation past an unknown character, and the help text.

The runs here are written directly (random weights, no training): what is tested is what
the commands check before and around the model, not what a model learned."""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import time
from pathlib import Path

import pytest
import torch

from attnkit import api
from attnkit.cli import build_parser, main
from attnkit.cli.options import BEAM
from attnkit.config import (
    DataConfig,
    DecoderLMConfig,
    ImageCaptionerConfig,
    RNNSeq2SeqConfig,
    RunConfig,
    Seq2SeqConfig,
    VisionTransformerConfig,
    load_run_config,
)
from attnkit.data.images import write_png
from attnkit.data.tokenizers import CharTokenizer
from attnkit.models.registry import build_model
from attnkit.training.checkpoint import save_checkpoint
from attnkit.training.image_tasks import CLASSES_FILE, caption_tokenizer
from attnkit.training.rundir import RunDir

CONFIGS = Path(__file__).parents[1] / "configs"
TEXT = "ROMEO:\nBut soft, what light through yonder window breaks?\n\n" * 20
PAIRS = "abc\tcba\nhello\tolleh\nabcd\tdcba\n"
TRANSLATION_SPECIALS = ("<pad>", "<bos>", "<eos>")


def write_run(root: Path, config: RunConfig, tokenizer=None, classes=None) -> Path:
    """A run directory as training leaves it, with the model's random initial weights."""
    root.mkdir(parents=True)
    RunDir(root).write_config(config)
    if tokenizer is not None:
        tokenizer.save(root / "tokenizer.json")
    if classes is not None:
        payload = {"dataset": "mnist-5k", "classes": classes}
        (root / CLASSES_FILE).write_text(json.dumps(payload), encoding="utf-8")
    torch.manual_seed(0)
    save_checkpoint(root, step=1, model=build_model(config.model), optimizer=None, trainer_state={})
    return root


def language_model_run(root: Path, corpus: Path, **model) -> Path:
    tokenizer = CharTokenizer.train(TEXT)
    settings = {"d_model": 16, "num_heads": 2, "num_layers": 1, "max_len": 32, **model}
    config = RunConfig(
        model=DecoderLMConfig(vocab_size=tokenizer.vocab_size, **settings),
        data=DataConfig(train=str(corpus), block_size=16),
    )
    return write_run(root, config, tokenizer)


def translator_run(root: Path, kind: str = "seq2seq") -> Path:
    tokenizer = CharTokenizer.train("abcdefghijklmnopqrstuvwxyz ", specials=TRANSLATION_SPECIALS)
    vocab = {"src_vocab_size": tokenizer.vocab_size, "tgt_vocab_size": tokenizer.vocab_size}
    if kind == "seq2seq":
        model = Seq2SeqConfig(
            d_model=16, num_heads=2, num_encoder_layers=1, num_decoder_layers=1, **vocab
        )
    else:
        model = RNNSeq2SeqConfig(embed_dim=8, hidden_size=16, num_layers=1, cell="gru", **vocab)
    config = RunConfig(model=model, data=DataConfig(corpus="reverse", tokenizer="char"))
    return write_run(root, config, tokenizer)


def vit_run(root: Path) -> Path:
    model = VisionTransformerConfig(
        d_model=16, num_heads=2, num_layers=1, patch_size=7, num_classes=10
    )
    classes = [str(digit) for digit in range(10)]
    return write_run(
        root, RunConfig(model=model, data=DataConfig(corpus="mnist-5k")), None, classes
    )


def captioner_run(root: Path) -> Path:
    tokenizer = caption_tokenizer("digit-mosaics")
    model = ImageCaptionerConfig(
        d_model=16,
        num_heads=2,
        num_encoder_layers=1,
        num_decoder_layers=1,
        image_width=56,
        tgt_vocab_size=tokenizer.vocab_size,
    )
    config = RunConfig(model=model, data=DataConfig(corpus="digit-mosaics", mosaic_size=2))
    return write_run(root, config, tokenizer)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    corpus = root / "corpus.txt"
    corpus.write_text(TEXT, encoding="utf-8")
    image = root / "digit.png"
    write_png(image, torch.zeros(1, 28, 28, dtype=torch.uint8))
    return {
        "lm": language_model_run(root / "lm", corpus),
        "translator": translator_run(root / "translator"),
        "rnn": translator_run(root / "rnn", kind="rnn_seq2seq"),
        "vit": vit_run(root / "vit"),
        "captioner": captioner_run(root / "captioner"),
        "corpus": corpus,
        "image": image,
    }


def run_cli(capsys, *argv):
    status = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def one_line_error(status, err, *fragments) -> str:
    assert status == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


# ------------------------------------------------------------------ 8. numbers that mean nothing


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["average", "RUN", "--last", "0", "--out", "NEW"], "--last: 0 is out of range"),
        (["average", "RUN", "--last", "-2", "--out", "NEW"], "--last: -2 is out of range"),
        (["generate", "RUN", "--max-new-tokens", "-1"], "--max-new-tokens: -1 is out of range"),
        (["generate", "RUN", "--max-new-tokens", "0"], "--max-new-tokens: 0 is out of range"),
        (["generate", "RUN", "--temperature", "-1"], "--temperature: -1 is out of range"),
        (["generate", "RUN", "--temperature", "nan"], "--temperature: nan is out of range"),
        (["generate", "RUN", "--top-k", "0"], "--top-k: 0 is out of range"),
        (["generate", "RUN", "--top-p", "0"], "--top-p: 0 is out of range: pass a number in"),
        (["generate", "RUN", "--top-p", "1.5"], "--top-p: 1.5 is out of range"),
        (["generate", "RUN", "--seed", "-1"], "--seed: -1 is out of range"),
        (["generate", "RUN", "--max-new-tokens", "ten"], "'ten' is not a whole number"),
        (["translate", "RUN", "x", "--max-len", "0"], "--max-len: 0 is out of range"),
        (["translate", "RUN", "x", "--max-new-tokens", "0"], "--max-new-tokens: 0 is out"),
        (["translate", "RUN", "x", "--beam", "0"], "--beam: 0 is out of range"),
        (["translate", "RUN", "x", "--n-best", "0"], "--n-best: 0 is out of range"),
        (["translate", "RUN", "x", "--length-penalty", "-1"], "--length-penalty: -1 is out"),
        (["translate", "RUN", "x", "--length-penalty", "inf"], "--length-penalty: inf is out"),
        (["evaluate", "RUN", "--beam", "-3"], "--beam: -3 is out of range"),
        (["caption", "RUN", "x.png", "--beam", "0"], "--beam: 0 is out of range"),
        (["classify", "RUN", "x.png", "--top-k", "0"], "--top-k: 0 is out of range"),
        (["vision-sample", "RUN", "--out", "NEW", "--count", "0"], "--count: 0 is out of range"),
        (["attention", "RUN", "--text", "a", "--out", "a.png", "--layer", "-1"], "--layer: -1"),
        (["attention", "RUN", "--text", "a", "--out", "a.png", "--head", "-1"], "--head: -1"),
        (["demo", "--steps", "0", "--out", "NEW"], "--steps: 0 is out of range"),
        (["demo", "--steps", "-5", "--out", "NEW"], "--steps: -5 is out of range"),
    ],
)
def test_numbers_that_mean_nothing_are_refused_in_one_line(capsys, tmp_path, argv, fragment):
    argv = [str(tmp_path / a) if a in ("RUN", "NEW") else a for a in argv]
    status, out, err = run_cli(capsys, *argv)
    line = one_line_error(status, err, fragment, f"attnkit {argv[0]} --help")
    assert "whole number" in line or "number" in line
    assert out == "" and not (tmp_path / "NEW").exists()  # refused before anything ran


def test_the_api_refuses_the_same_numbers_naming_its_parameters(runs, tmp_path):
    with pytest.raises(ValueError, match=r"last=0 means nothing here: pass a whole number >= 1"):
        api.average_checkpoints(runs["lm"], tmp_path / "avg", last=0)
    translator = api.load_run(runs["translator"])
    with pytest.raises(ValueError, match=r"max_new_tokens=0 means nothing"):
        api.translate(translator, ["abc"], max_new_tokens=0)
    with pytest.raises(ValueError, match=r"max_new_tokens=0 means nothing"):
        api.translate(translator, ["abc"], max_len=0)  # the old name, checked alike
    with pytest.raises(ValueError, match=r"length_penalty=-0.5: pass a number >= 0"):
        api.translate(translator, ["abc"], length_penalty=-0.5)
    with pytest.raises(ValueError, match=r"max_new_tokens=-1: pass a whole number >= 0"):
        api.generate(api.load_run(runs["lm"]), "ROMEO", max_new_tokens=-1)
    with pytest.raises(ValueError, match=r"count=0 means nothing"):
        api.write_vision_samples(runs["vit"], tmp_path / "s", count=0)


# ------------------------------------------------------------------ 4. bounded by model and memory


def test_evaluate_with_a_beam_wider_than_the_vocabulary_ends_at_once(runs, capsys, tmp_path):
    data = tmp_path / "pairs.tsv"
    data.write_text(PAIRS, encoding="utf-8")
    start = time.perf_counter()
    status, out, err = run_cli(capsys, "evaluate", runs["translator"], "--beam", "10000")
    seconds = time.perf_counter() - start
    vocab = api.load_run(runs["translator"]).tokenizer.vocab_size
    one_line_error(
        status,
        err,
        f"--beam 10000 is wider than the model's vocabulary ({vocab} tokens)",
        f"pass --beam {vocab} or less",
    )
    assert out == "" and seconds < 10  # refused before decoding (it once grew to 24 GB)
    status, _, err = run_cli(capsys, "caption", runs["captioner"], runs["image"], "--beam", "500")
    one_line_error(status, err, "--beam 500 is wider than the model's vocabulary")


def test_n_best_above_the_beam_names_both_options(runs, capsys):
    status, _, err = run_cli(
        capsys, "translate", runs["translator"], "abc", "--beam", "2", "--n-best", "3"
    )
    one_line_error(status, err, "--n-best 3 is more than --beam 2: pass --beam 3 or more")


def test_a_beam_that_does_not_fit_in_memory_is_refused_with_what_would(runs, capsys, monkeypatch):
    # a machine with 2 MiB to spare for decoding: 20 beams of a 30-token vocabulary do not fit
    monkeypatch.setenv("ATTNKIT_DECODING_MEMORY", str(2 * 1024**2))
    status, _, err = run_cli(
        capsys, "translate", runs["translator"], "abc", "--beam", "20", "--max-new-tokens", "5000"
    )
    line = one_line_error(status, err, "--beam 20, --max-new-tokens 5000 needs ~", "the 2 MiB")
    # what the message proposes works
    limit = int(re.search(r"--max-new-tokens (\d+) or less", line).group(1))
    assert 0 < limit < 5000
    status, out, err = run_cli(
        capsys, "translate", runs["translator"], "abc", "--beam", "20", "--max-new-tokens", limit
    )
    assert status == 0 and len(out.splitlines()) == 1, err


def test_generate_bounds_the_cache_of_positions_without_a_limit(runs, capsys, tmp_path):
    rope = language_model_run(tmp_path / "rope", runs["corpus"], positional="rope")
    status, out, err = run_cli(capsys, "generate", rope, "--max-new-tokens", "10000000000")
    line = one_line_error(status, err, "--max-new-tokens 10000000000 needs ~", "GiB")
    assert out == ""  # nothing printed, not even the prompt
    limit = int(line.split("--max-new-tokens ")[-1].split()[0])
    assert 1000 < limit < 10_000_000_000


def test_batches_shrink_to_fit_memory_and_translate_the_same(runs, monkeypatch):
    from attnkit.decoding.bounds import RowCost
    from attnkit.evaluation.translation import translate_sentences
    from attnkit.families.base import decoding_cost

    run = api.load_run(runs["translator"])
    sentences = ["abc", "hello", "abcd", "xyz", "a b c"]
    common = {
        "source_tokenizer": run.source_tokenizer,
        "target_tokenizer": run.tokenizer,
        "beam": 3,
        "max_len": 12,
    }
    whole = translate_sentences(run.model, sentences, **common)
    cost = decoding_cost(run)
    assert cost == RowCost(run.tokenizer.vocab_size, 2 * 1 * 16)
    # room for two sentences of three beams at a time
    budget = 2 * 3 * cost.bytes(12)
    seen = []
    monkeypatch.setenv("ATTNKIT_DECODING_MEMORY", str(budget))
    shrunk = translate_sentences(
        run.model,
        sentences,
        **common,
        cost=cost,
        progress=lambda done, total: seen.append((done, total)),
    )
    assert shrunk == whole
    assert seen == [(2, 5), (4, 5), (5, 5)]  # batches of two sentences


# ------------------------------------------------------------------ 5. the run's family first


WRONG_FAMILY = [
    ("lm", ["translate", "RUN", "hello"], "not a translator: use `attnkit generate`"),
    ("lm", ["classify", "RUN", "IMAGE"], "not an image classifier: use `attnkit generate`"),
    ("lm", ["caption", "RUN", "IMAGE"], "not a captioner: use `attnkit generate`"),
    ("lm", ["attention", "RUN", "--image", "IMAGE", "--out", "a.png"], "--image does not apply"),
    ("lm", ["vision-sample", "RUN", "--out", "samples"], "not an image model: use `attnkit gen"),
    ("translator", ["generate", "RUN"], "not a language model: use `attnkit translate`"),
    ("translator", ["generate", "RUN", "--int8"], "not a language model: use `attnkit translate`"),
    ("translator", ["classify", "RUN", "IMAGE"], "not an image classifier: use `attnkit transl"),
    ("rnn", ["generate", "RUN"], "holds a translator, not a language model: use `attnkit trans"),
    ("rnn", ["caption", "RUN", "IMAGE"], "not a captioner: use `attnkit translate`"),
    ("vit", ["generate", "RUN"], "holds an image classifier, not a language model: use `attnkit c"),
    ("vit", ["generate", "RUN", "--int8"], "not a language model: use `attnkit classify`"),
    ("vit", ["translate", "RUN", "hello"], "not a translator: use `attnkit classify`"),
    ("vit", ["caption", "RUN", "IMAGE"], "not a captioner: use `attnkit classify`"),
    ("vit", ["attention", "RUN", "--text", "hi", "--out", "a.png"], "--text does not apply: use"),
    ("captioner", ["generate", "RUN"], "holds a captioner, not a language model: use `attnkit cap"),
    ("captioner", ["translate", "RUN", "hi"], "not a translator: use `attnkit caption`"),
    ("captioner", ["classify", "RUN", "IMAGE"], "not an image classifier: use `attnkit caption`"),
    ("captioner", ["attention", "RUN", "--text", "hi", "--out", "a.png"], "--text does not apply"),
]


@pytest.mark.parametrize(
    ("kind", "argv", "fragment"),
    WRONG_FAMILY,
    ids=[f"{kind}-{argv[0]}-{i}" for i, (kind, argv, _) in enumerate(WRONG_FAMILY)],
)
def test_a_command_on_a_run_of_the_wrong_family_says_which_fits(
    runs, capsys, tmp_path, kind, argv, fragment
):
    names = {"RUN": runs[kind], "IMAGE": runs["image"]}
    argv = [str(names.get(a, tmp_path / a if a.endswith((".png", "samples")) else a)) for a in argv]
    status, out, err = run_cli(capsys, *argv)
    one_line_error(status, err, fragment)
    assert out == ""  # generate printed no prompt before the refusal
    assert not (tmp_path / "a.png").exists() and not (tmp_path / "samples").exists()


# ------------------------------------------------------------------ 7. the recipes' generate


@pytest.mark.parametrize(
    "recipe",
    sorted(
        p.relative_to(CONFIGS).as_posix()
        for p in CONFIGS.glob("**/*.toml")
        if 'kind = "decoder_lm"' in p.read_text(encoding="utf-8")
    ),
)
def test_each_language_model_recipes_generate_works_with_the_defaults(recipe, capsys, tmp_path):
    """The recipe's positions and context as shipped (the model made small to be quick):
    `attnkit generate RUN` with every default writes 500 characters past the prompt."""
    config = load_run_config(CONFIGS / recipe)
    tokenizer = CharTokenizer.train(TEXT)
    small = {"d_model": 16, "num_heads": 2, "num_layers": 1, "vocab_size": tokenizer.vocab_size}
    config = dataclasses.replace(config, model=dataclasses.replace(config.model, **small))
    run = write_run(tmp_path / "run", config, tokenizer)
    status, out, err = run_cli(capsys, "generate", run, "--seed", "1")
    assert status == 0, err
    assert config.model.max_len < 500 and len(out) == len("\n") + 500 + 1
    status, _, err = run_cli(capsys, "generate", run, "--no-sliding-window")
    one_line_error(status, err, f"model.max_len={config.model.max_len}", "--sliding-window")


def _commands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    return next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices


@pytest.mark.parametrize("command", sorted(_commands()))
def test_help_explains_every_argument_and_shows_every_default(command, capsys):
    parser = _commands()[command]
    assert main([command, "--help"]) == 0
    shown = " ".join(capsys.readouterr().out.split())  # argparse wraps lines
    for action in parser._actions:
        if action.help is argparse.SUPPRESS or isinstance(action, argparse._HelpAction):
            continue
        name = action.option_strings[-1] if action.option_strings else action.metavar
        assert action.help, f"{command} {name} has no help text"
        if action.default not in (None, False, [], argparse.SUPPRESS) and action.option_strings:
            assert "default" in action.help or f"(default: {action.default})" in shown, (
                f"{command} {name} hides its default {action.default!r}"
            )


# ------------------------------------------------------------------ 9. what evaluation scores


def test_evaluate_reports_the_lines_it_drops(runs, capsys, tmp_path):
    mixed = tmp_path / "mixed.tsv"
    lines = [
        f"{w}\t{w[::-1]}" if i % 5 else f"{w} without a tab"
        for i, w in enumerate(["abc", "hello", "abcd", "xyz", "cab"] * 6)
    ]
    mixed.write_text("\n".join(lines) + "\n\n", encoding="utf-8")
    status, out, err = run_cli(
        capsys, "evaluate", runs["translator"], "--data", mixed, "--beam", "1", "--out", tmp_path
    )
    assert status == 0, err
    result = json.loads(out)
    assert result["dropped_lines"] == {"empty": 1, "malformed": 6}
    assert result["sentences"] == 24
    assert f"warning: {mixed}: 7 of 31 lines dropped (1 empty, 6 malformed)" in err


def test_a_language_models_test_split_is_scored_or_refused_never_swapped(runs, capsys, tmp_path):
    status, out, err = run_cli(capsys, "evaluate", runs["lm"], "--split", "test")
    one_line_error(status, err, "--split 'test': this run has no test text", "--split 'valid'")
    assert out == ""
    held_out = tmp_path / "test.txt"
    held_out.write_text("But soft, what light?\n" * 10, encoding="utf-8")
    config = api.load_run(runs["lm"]).config
    with_test = dataclasses.replace(
        config, data=dataclasses.replace(config.data, test=str(held_out))
    )
    run = write_run(tmp_path / "lm", with_test, CharTokenizer.train(TEXT))
    status, out, err = run_cli(capsys, "evaluate", run, "--split", "test")
    assert status == 0, err
    result = json.loads(out)
    assert result["data"].startswith("test split") and result["chars"] == len(held_out.read_text())
    valid = json.loads(run_cli(capsys, "evaluate", run)[1])
    assert valid["data"] == "validation split" and valid["chars"] != result["chars"]


def test_evaluate_prints_scores_where_it_cannot_write(runs, capsys, tmp_path):
    data = tmp_path / "pairs.tsv"
    data.write_text(PAIRS, encoding="utf-8")
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the folder would go")  # so no folder can be made there
    status, out, err = run_cli(
        capsys, "evaluate", runs["translator"], "--data", data, "--out", blocked / "eval"
    )
    assert status == 0, err
    result = json.loads(out)
    assert 0 <= result["bleu"] <= 100 and "hypotheses" not in result
    assert "warning: cannot write into" in err and "pass --out a writable folder" in err
    status, out, err = run_cli(
        capsys, "evaluate", runs["translator"], "--data", data, "--out", tmp_path / "kept"
    )
    hypotheses = Path(json.loads(out)["hypotheses"])
    assert status == 0 and hypotheses.parent == tmp_path / "kept"
    assert len(hypotheses.read_text(encoding="utf-8").splitlines()) == 3


# ------------------------------------------------------------------ 10. the smaller points


def test_batch_translation_goes_past_an_unknown_character_and_names_its_line(
    runs, capsys, monkeypatch
):
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO("abc\nhé llo\n\ncba\n"))
    status, out, err = run_cli(capsys, "translate", runs["translator"], "--beam", "1")
    assert status == 0, err
    lines = out.split("\n")
    assert len(lines) == 5 and lines[1] == "" and lines[2] == ""  # alignment kept
    assert "warning: 1 of 4 lines not translated (left empty): line(s) 2; line 2: " in err
    assert "'é'" in err and "retrain the run with data.unk=true" in err and "unk=True" not in err
    status, _, err = run_cli(capsys, "translate", runs["translator"], "hé")
    one_line_error(status, err, "unknown character 'é'", "data.unk=true")
    assert "unk=True" not in err


def test_character_runs_get_character_level_bleu_labelled_so():
    from attnkit.evaluation.translation import corpus_scores

    references = ["abcdefgh", "ijklmnop", "qrstuvwx"]
    hypotheses = ["abcdefgx", "ijklmnop", "qrstuvwy"]
    words = corpus_scores(hypotheses, references)
    chars = corpus_scores(hypotheses, references, tokenize="char")
    assert words["bleu"] < 40 and chars["bleu"] > 70  # one word wrong vs one character wrong
    assert chars["bleu_tokenize"] == "char" and "tok:char" in chars["bleu_signature"]
    assert words["bleu_tokenize"] == "13a" and words["chrf"] == chars["chrf"]


def test_a_translator_with_a_character_vocabulary_is_scored_with_character_bleu(
    runs, capsys, tmp_path
):
    data = tmp_path / "pairs.tsv"
    data.write_text(PAIRS, encoding="utf-8")
    status, out, err = run_cli(capsys, "evaluate", runs["rnn"], "--data", data, "--out", tmp_path)
    assert status == 0, err
    assert json.loads(out)["bleu_tokenize"] == "char"


def test_messages_say_what_happened(runs, capsys, tmp_path):
    status, _, err = run_cli(capsys, "attention", runs["lm"], "--out", tmp_path / "a.png")
    line = one_line_error(status, err, "give --text TEXT (text models) or --image IMAGE.png")
    assert "not both" not in line
    status, _, err = run_cli(
        capsys, "attention", runs["lm"], "--text", "a", "--image", "b.png", "--out", "a.png"
    )
    one_line_error(status, err, "not both")
    status, _, err = run_cli(capsys, "generate", runs["corpus"])
    line = one_line_error(status, err, "is a file, not a run directory")
    assert "no such" not in line
    with pytest.raises(RuntimeError, match="is a file, not a run directory"):
        api.load_run(runs["corpus"])
    status, _, err = run_cli(capsys, "generate", runs["lm"], "--prompt", "ROMEO€")
    one_line_error(status, err, "prompt: unknown character '€'", "data.unk=true")


def test_one_name_and_one_default_across_commands(runs, capsys):
    assert BEAM == api.BEAM
    for command in ("translate", "evaluate", "caption"):
        beam = next(a for a in _commands()[command]._actions if a.dest == "beam")
        assert beam.default == api.BEAM, command
    args = ("translate", runs["translator"], "abc", "hello", "--beam", "1")
    status, new, err = run_cli(capsys, *args, "--max-new-tokens", "3")
    assert status == 0, err
    status, old, err = run_cli(capsys, *args, "--max-len", "3")
    assert status == 0 and old == new and len(new.splitlines()) == 2, err
    assert all(len(line) <= 3 for line in new.splitlines())  # three characters at most
    main(["translate", "--help"])
    shown = capsys.readouterr().out
    assert "--max-new-tokens" in shown and "--max-len" not in shown  # the old name is hidden


def test_a_long_evaluate_shows_a_progress_bar_on_a_terminal(runs, capsys, monkeypatch, tmp_path):
    data = tmp_path / "pairs.tsv"
    data.write_text(PAIRS * 20, encoding="utf-8")
    args = ("evaluate", runs["translator"], "--data", data, "--beam", "1", "--out", tmp_path)
    status, out, err = run_cli(capsys, *args)
    assert status == 0 and "evaluating" not in err  # not a terminal: no bar in logs
    monkeypatch.setattr("sys.stderr.isatty", lambda: True)
    status, out, err = run_cli(capsys, *args)
    assert status == 0 and "evaluating" in err and "60/60" in err
    assert json.loads(out)["sentences"] == 60  # stdout keeps the JSON alone


def test_evaluate_tells_its_progress_to_the_caller(runs):
    seen = []
    result = api.evaluate(runs["lm"], progress=lambda done, total: seen.append((done, total)))
    total = seen[-1][1]
    assert seen == [(n, total) for n in range(1, total + 1)]
    assert result["tokens"] > 0
