"""Every model kind has a run family; the families, the API and the CLI agree on which
functions fit which runs; a run handed to the wrong function says what to use."""

from __future__ import annotations

import inspect
from pathlib import Path
from types import SimpleNamespace

import pytest

from attnkit import api
from attnkit.cli import main
from attnkit.cli.wording import COMMAND_OF
from attnkit.families import FAMILIES, OPERATIONS, family_for, fits
from attnkit.families.base import Family, Translates
from attnkit.models.registry import MODELS


def test_every_model_kind_has_a_family():
    assert set(FAMILIES) == set(MODELS)
    for family in FAMILIES.values():
        assert isinstance(family, Family) and family.noun


@pytest.mark.parametrize("name", OPERATIONS)
def test_every_operation_is_an_api_function_with_a_command(name, capsys):
    assert name in api.__all__
    command = COMMAND_OF[name].split()[1:]  # e.g. ["attention", "--text"]
    assert main([command[0], "--help"]) == 0
    assert all(option in capsys.readouterr().out for option in command[1:])


@pytest.mark.parametrize("kind", sorted(FAMILIES))
def test_a_family_implements_each_operation_it_fits_with_its_signature(kind):
    family = FAMILIES[kind]
    assert fits(family), f"{kind}: no API function takes its runs"
    for name in fits(family):
        protocol = OPERATIONS[name]
        for member in (m for m in vars(protocol) if not m.startswith("_")):
            wanted = inspect.signature(getattr(protocol, member))
            got = inspect.signature(getattr(type(family), member))
            assert list(got.parameters) == list(wanted.parameters), (kind, member)


def test_a_run_of_the_wrong_family_names_what_it_holds_and_what_fits():
    run = SimpleNamespace(
        config=SimpleNamespace(model=SimpleNamespace(kind="vit")),
        run_dir=SimpleNamespace(root=Path("runs/v")),
    )
    with pytest.raises(ValueError) as error:
        family_for(run, Translates, needs="a translator")
    assert str(error.value) == (
        "runs/v holds an image classifier, not a translator: use classify(), evaluate(), "
        "plot_image_attention() or write_vision_samples()"
    )
    run.config.model.kind = "encoder"
    with pytest.raises(
        ValueError,
        match=r"so sentences= does not apply: use fill_mask\(\), embed\(\), evaluate\(\) or "
        r"plot_run_attention\(\)$",
    ):
        family_for(run, Translates, needs="a translator", parameter="sentences")


def test_an_encoder_run_draws_its_self_attention_and_describes_itself(tmp_path):
    """A run directory written by hand (no training): the family reads it like any run."""
    from attnkit.config import DataConfig, EncoderConfig, RunConfig
    from attnkit.data.tokenizers import CharTokenizer
    from attnkit.models.registry import build_model
    from attnkit.training.checkpoint import save_checkpoint
    from attnkit.training.rundir import RunDir

    text = tmp_path / "hello.txt"
    text.write_text("hello world\n" * 30, encoding="utf-8")
    tokenizer = CharTokenizer.train("hello world\n", specials=("<pad>", "[MASK]"))
    config = RunConfig(
        model=EncoderConfig(
            vocab_size=tokenizer.vocab_size, d_model=16, num_heads=2, num_layers=2, mask_id=1
        ),
        data=DataConfig(train=str(text), block_size=16),
    )
    root = tmp_path / "encoder"
    root.mkdir()
    RunDir(root).write_config(config)
    tokenizer.save(root / "tokenizer.json")
    save_checkpoint(root, step=0, model=build_model(config.model), optimizer=None, trainer_state={})
    out = api.plot_run_attention(root, "hello", tmp_path / "enc.png", layer=1)
    assert out.read_bytes().startswith(b"\x89PNG")
    info = api.run_info(root)
    assert info["family"] == "masked-language-model encoder"
    assert api.evaluate(root)["masked_tokens"] > 0
    filled = api.fill_mask(root, "hel[MASK]o", top_k=2)
    assert [mask.position for mask in filled] == [3] and len(filled[0].candidates) == 2
    with pytest.raises(ValueError, match=r"not a language model: use fill_mask\(\)"):
        list(api.generate(api.load_run(root), "hello"))
