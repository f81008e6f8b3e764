"""Pretrained models in and out, in Hugging Face format.

- :mod:`~attnkit.interop.hf_import`: :func:`import_hf` turns a local ``transformers``
  model directory (BERT-family or GPT-2) into an attnkit run directory.
- :mod:`~attnkit.interop.hf_export`: :func:`export_hf` writes a run as a directory that
  ``transformers`` loads with ``from_pretrained`` (GPT-2 or BERT).
- :mod:`~attnkit.interop.bert`, :mod:`~attnkit.interop.gpt2`: which config field and
  which weight is which, both ways.
- :mod:`~attnkit.interop.variants`: which attnkit settings a target can express.
- :mod:`~attnkit.interop.hf_tokenizers`: attnkit's tokenizers as ``tokenizer.json``.
- :mod:`~attnkit.interop.weights`: layouts shared by the converters.
- :mod:`~attnkit.interop.ctranslate2`, :mod:`~attnkit.interop.onnx`: export for the
  inference engines CTranslate2 and ONNX Runtime (the ``attnkit[engines]`` extra);
  :mod:`~attnkit.interop.engines` runs a run's model on them (``engine=`` in the API).

Neither direction needs ``transformers`` itself: the files are safetensors and JSON,
read and written with ``safetensors`` and ``tokenizers``. The tests check the results
against ``transformers``' own models.
"""

from attnkit.interop.hf_export import ExportedModel, export_hf
from attnkit.interop.hf_import import ImportedModel, import_hf

__all__ = ["ExportedModel", "ImportedModel", "export_hf", "import_hf"]
