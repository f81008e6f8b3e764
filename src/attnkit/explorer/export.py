"""One self-contained HTML file of the explorer: the page, its script and style inline,
and the answers of every request its views make for one text, so that it opens from
disk with no server and no network (``attnkit explore RUN --export page.html --text ...``).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

from attnkit.explorer import views
from attnkit.explorer.app import STATIC
from attnkit.explorer.runs import ServedRun
from attnkit.explorer.views import Limits

__all__ = ["request_key", "write_page"]

CSS_LINK = '<link rel="stylesheet" href="static/explorer.css">'
JS_TAG = '<script src="static/explorer.js"></script>'
DATA_SLOT = "<!--attnkit-data-->"


def request_key(path: str, body: dict[str, Any]) -> str:
    """The key an answer is stored under: the API path and its body as canonical JSON
    (the page's script builds the same key, ``requestKey`` in explorer.js)."""
    return path + "|" + json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _answers(served: ServedRun, text: str, limits: Limits) -> dict[str, Any]:
    """What the page asks about ``text`` for one run, answered now."""
    run, run_id = served.run, served.id
    can = views.run_summary(run_id, run)["can"]
    answers: dict[str, Any] = {}

    def store(path: str, body: dict[str, Any], answer: dict[str, Any]) -> None:
        answers[request_key(path, {"run": run_id, **body})] = {"run": run_id, **answer}

    if "text_attention" in can:
        attention = views.text_attention(run, text, limits)
        store("/api/attention", {"text": text}, attention)
        if run.config.model.kind != "rnn_seq2seq":
            for stack, payload in attention["stacks"].items():
                query = len(payload["queries"]) - 1  # the page opens on the last token
                for layer in range(len(payload["maps"])):
                    for head in range(len(payload["maps"][layer])):
                        body = {"text": text, "stack": stack, "layer": layer}
                        body |= {"head": head, "query": query}
                        store(
                            "/api/worked",
                            body,
                            views.worked_example(run, limits=limits, **body),
                        )
    if "next_token" in can:
        store(
            "/api/next-token",
            {"text": text, "top_k": 10},
            views.next_token(run, text, top_k=10, limits=limits),
        )
    if "fill_mask" in can and "[MASK]" in text:
        store(
            "/api/fill-mask",
            {"text": text, "top_k": 5},
            views.masked_candidates(run, text, top_k=5, limits=limits),
        )
    if "translate" in can:
        store(
            "/api/translate",
            {"text": text, "beam": 4, "top_k": 5},
            views.translate_steps(run, text, beam=4, top_k=5, limits=limits),
        )
    if "samples" in can:
        samples = views.samples(run)
        answers[f"/api/samples?run={run_id}|"] = {"run": run_id, **samples}
        if samples["samples"] and "image_attention" in can:
            image = samples["samples"][0]["image"]
            picture = views.decode_image(image, limits)
            store("/api/image-attention", {"image": image}, views.image_attention(run, picture))
    return answers


def write_page(
    runs: dict[str, ServedRun], text: str, path: str | Path, *, limits: Limits | None = None
) -> Path:
    """Write the explorer over ``runs`` showing ``text`` into the HTML file ``path``."""
    limits = limits or Limits()
    path = Path(path)
    data: dict[str, Any] = {
        "text": text,
        "runs": {"runs": [views.run_summary(i, s.run) for i, s in runs.items()]},
        "responses": {},
    }
    data["runs"]["limits"] = limits.__dict__
    refused = {}
    for run_id, served in runs.items():
        try:
            data["responses"].update(_answers(served, text, limits))
        except ValueError as exc:
            refused[run_id] = str(exc)
    if len(refused) == len(runs):
        raise ValueError(next(iter(refused.values())))
    for run_id, why in refused.items():  # the page still shows the other runs
        warnings.warn(f"{run_id} is left out of the page: {why}", stacklevel=2)
    # "</" would end the script element early; JSON allows it escaped.
    blob = json.dumps(data, ensure_ascii=False, separators=(",", ":")).replace("</", "<\\/")
    page = (STATIC / "index.html").read_text(encoding="utf-8")
    css = (STATIC / "explorer.css").read_text(encoding="utf-8")
    js = (STATIC / "explorer.js").read_text(encoding="utf-8").replace("</script", "<\\/script")
    page = page.replace(CSS_LINK, f"<style>\n{css}\n</style>")
    page = page.replace(
        DATA_SLOT, f'<script id="attnkit-data" type="application/json">{blob}</script>'
    )
    page = page.replace(JS_TAG, f"<script>\n{js}\n</script>")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path
