"""The screenshots of docs/explorer.md, taken in headless Chromium (Debian's, driven by
Playwright) from real runs served by ``attnkit explore``'s app on 127.0.0.1::

    docs/figures/explorer_head.png        head view of the Shakespeare language model
    docs/figures/explorer_model.png       model view (layers × heads) of MiniLM
    docs/figures/explorer_worked.png      inside one head: the worked example
    docs/figures/explorer_next.png        next-token candidates
    docs/figures/explorer_translate.png   a translation, step by step
    docs/figures/explorer_image.png       a ViT's class-token attention and rollout
    docs/figures/explorer_compare.png     two runs side by side

Run it from the repository root (the runs are arguments; see docs/explorer.md):
    .venv/bin/python docs/explorer_screenshots.py --lm runs/shakespeare_short \
        --other-lm runs/rope --encoder runs/minilm --translator runs/bible_es_en \
        --vit runs/mnist_vit
"""

from __future__ import annotations

import argparse
import socket
import threading
import time
from pathlib import Path

import uvicorn
from playwright.sync_api import sync_playwright

from attnkit.explorer.app import create_app
from attnkit.explorer.runs import load_runs

FIGURES = Path(__file__).parent / "figures"


def main() -> None:
    parser = argparse.ArgumentParser()
    for name in ("lm", "other-lm", "encoder", "translator", "vit"):
        parser.add_argument(f"--{name}", required=True)
    parser.add_argument("--translator-text", default="Y dijo Dios: Sea la luz; y fue la luz.")
    args = parser.parse_args()
    paths = [args.lm, args.other_lm, args.encoder, args.translator, args.vit]
    runs = load_runs(paths)
    ids = list(runs)
    lm, other, encoder, translator, vit = ids
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(create_app(runs), log_level="warning"))
    threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    url = f"http://127.0.0.1:{sock.getsockname()[1]}/"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=["--no-sandbox"], headless=True
        )
        page = browser.new_page(viewport={"width": 1280, "height": 860})

        def shot(name: str) -> None:
            time.sleep(0.3)
            page.screenshot(path=str(FIGURES / f"explorer_{name}.png"), full_page=False)
            print(f"docs/figures/explorer_{name}.png")

        def open_run(run_id: str, text: str, view: str) -> None:
            page.goto(f"{url}#run={run_id}&view={view}")
            page.wait_for_selector("#run option", state="attached")
            page.fill("#text", text)
            page.click("#go")
            page.wait_for_function("document.body.dataset.ready")

        open_run(lm, "ROMEO: But soft, what light", "head")
        page.select_option("#layer", "3")
        page.hover('svg.head-view .tok.q[data-query="24"]')
        shot("head")
        page.select_option("#head", "1")
        page.click('#tabs button[data-view="worked"]')
        page.wait_for_selector("#worked-check")
        shot("worked")
        page.click('#tabs button[data-view="next"]')
        page.wait_for_selector("ul.candidates button")
        shot("next")
        page.select_option("#compare", other)
        page.click('#tabs button[data-view="matrix"]')
        page.wait_for_selector("#view-b canvas.matrix")
        shot("compare")
        page.select_option("#compare", "")
        open_run(encoder, "And God saw the light, that it was good.", "model")
        page.wait_for_selector(".grid figure")
        shot("model")
        open_run(translator, args.translator_text, "translate")
        page.click('#tabs button[data-view="translate"]')
        page.wait_for_selector("#step-info")
        for _ in range(5):
            page.click("#step-next")
        time.sleep(0.5)
        shot("translate")
        page.goto(f"{url}#run={vit}&view=image")
        page.wait_for_selector("#prediction")
        shot("image")
        browser.close()
    server.should_exit = True


if __name__ == "__main__":
    main()
