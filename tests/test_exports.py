"""The top-level namespace: every advertised name resolves to the real object."""

from __future__ import annotations

import importlib

import attnkit


def test_every_exported_name_resolves_to_its_module_object():
    for name in attnkit.__all__:
        value = getattr(attnkit, name)
        if name == "__version__":
            continue
        module = importlib.import_module(attnkit._EXPORTS[name])
        assert value is getattr(module, name), name


def test_vision_models_and_commands_are_exported():
    for name in ("VisionTransformer", "ImageCaptioner", "classify", "caption", "translate"):
        assert name in attnkit.__all__
