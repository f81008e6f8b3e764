"""Configs to and from plain dicts and TOML: recipes, ``--set`` overrides, saved configs.

Unknown sections and keys are errors that suggest the closest known name.
"""

from __future__ import annotations

import difflib
import tomllib
from collections.abc import Sequence
from dataclasses import MISSING, asdict, fields
from pathlib import Path
from typing import Any

from attnkit.config.checks import ConfigError
from attnkit.config.models import MODEL_CONFIGS
from attnkit.config.runs import DataConfig, RunConfig, TrainConfig


def config_from_dict(cls: type, values: dict[str, Any], *, section: str | None = None):
    """Build the dataclass ``cls`` from a plain dict, rejecting unknown keys.

    An unknown key raises a :class:`ConfigError` that suggests the closest known key.
    """
    section = section or getattr(cls, "section", cls.__name__)
    known = {f.name: f for f in fields(cls)}
    for key in values:
        if key not in known:
            close = difflib.get_close_matches(key, list(known), n=1)
            hint = f"; did you mean {section}.{close[0]}?" if close else ""
            raise ConfigError(f"unknown key {section}.{key}{hint}")
    missing = [
        name
        for name, f in known.items()
        if f.default is MISSING and f.default_factory is MISSING and name not in values
    ]
    if missing:
        raise ConfigError(f"missing required key {section}.{missing[0]}")
    return cls(**values)


def config_to_dict(config: Any) -> dict[str, Any]:
    """Plain-dict form of a config (JSON/TOML-ready), with its ``kind`` when it has one."""
    values = asdict(config)
    kind = getattr(config, "kind", "")
    return {"kind": kind, **values} if kind else values


def parse_override(text: str) -> tuple[str, str, Any]:
    """Split ``section.key=value`` into its parts; the value is read as TOML when it
    parses (``3e-4``, ``true``, ``"x"``, ``[1, 2]``) and kept as a plain string otherwise
    (so ``data.train=notes/my file.txt`` needs no quotes)."""
    if "=" not in text or "." not in text.split("=", 1)[0]:
        raise ConfigError(f"--set {text!r}: expected section.key=value, e.g. train.lr=3e-4")
    dotted, raw = text.split("=", 1)
    section, key = dotted.strip().split(".", 1)
    try:
        value = tomllib.loads(f"value = {raw.strip()}")["value"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()
    return section, key, value


def run_config_from_dict(values: dict[str, Any]) -> RunConfig:
    """Build and check a :class:`RunConfig` from nested dicts (a parsed TOML file).

    Unknown sections and keys are errors that suggest the closest known name; the model
    family is picked by ``model.kind``.
    """
    sections = {"model", "data", "train"}
    for name in values:
        if name not in sections:
            close = difflib.get_close_matches(name, sorted(sections), n=1)
            hint = f"; did you mean [{close[0]}]?" if close else ""
            raise ConfigError(f"unknown section [{name}]{hint}")
    model = dict(values.get("model", {}))
    kind = model.pop("kind", "decoder_lm")
    if kind not in MODEL_CONFIGS:
        raise ConfigError(
            f"model.kind={kind!r} is not allowed; choose one of {', '.join(MODEL_CONFIGS)}"
        )
    return RunConfig(
        model=config_from_dict(MODEL_CONFIGS[kind], model),
        data=config_from_dict(DataConfig, dict(values.get("data", {}))),
        train=config_from_dict(TrainConfig, dict(values.get("train", {}))),
    )


def load_run_config(path: str | Path, overrides: Sequence[str] = ()) -> RunConfig:
    """Read a TOML recipe, apply ``--set section.key=value`` overrides, and check it.

    Raises:
        FileNotFoundError: the file does not exist.
        ConfigError: invalid TOML, an unknown key, or a bad value (naming the key).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such config file: {path}")
    try:
        values = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None
    for text in overrides:
        section, key, value = parse_override(text)
        values.setdefault(section, {})[key] = value
    return run_config_from_dict(values)


def run_config_to_dict(config: RunConfig) -> dict[str, Any]:
    """Nested plain dicts (JSON/TOML-ready) of a run config, ``model.kind`` included."""
    return {
        "model": config_to_dict(config.model),
        "data": config_to_dict(config.data),
        "train": config_to_dict(config.train),
    }
