"""The explorer in a real browser: headless Chromium from Debian (``apt-get install
chromium``), driven by Playwright, against the app served on 127.0.0.1 over tiny runs.
Load the page, switch layer and head, hover a token and read the highlighted weights
from the page, zoom from the model view, read the worked example, append a predicted
token, step a translation, show a ViT's attention, export a PNG; then open the exported
static page from ``file://`` with the network off and see it draw."""

from __future__ import annotations

import json
import shutil
import socket
import threading
import time
import urllib.request
from pathlib import Path

import pytest

pytest.importorskip("uvicorn", reason="needs the explore extra (make venv)")
sync_api = pytest.importorskip("playwright.sync_api", reason="needs playwright (make venv)")

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
if not Path(CHROMIUM).exists():
    pytest.skip("needs Debian's chromium (apt-get install chromium)", allow_module_level=True)

import uvicorn  # noqa: E402

from attnkit.explorer.app import create_app  # noqa: E402
from attnkit.explorer.export import write_page  # noqa: E402
from attnkit.explorer.runs import load_runs  # noqa: E402

TEXT = "ROMEO: But soft"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def served(tiny_runs):
    return load_runs([tiny_runs[name] for name in ("lm", "translator", "vit")])


@pytest.fixture(scope="module")
def url(served):
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(create_app(served), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}/"
    server.should_exit = True
    thread.join(10)
    sock.close()


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox"], headless=True
        )
        yield browser
        browser.close()


def ask(url, path, body):
    request = urllib.request.Request(
        url + path.lstrip("/"),
        data=json.dumps(body).encode(),
        headers={"content-type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def test_the_page_over_a_live_server(url, browser, tmp_path):
    page = browser.new_page(accept_downloads=True)
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(url)
    page.wait_for_selector("svg.head-view line", state="attached")
    page.fill("#text", TEXT)
    page.click("#go")
    page.wait_for_function(
        f"document.querySelectorAll('svg.head-view .tok.q').length === {len(TEXT)}"
    )

    # switch layer and head, hover a token: the weights shown are the model's
    page.select_option("#layer", "1")
    page.select_option("#head", "0")
    page.hover('svg.head-view .tok.q[data-query="6"]')
    shown = page.eval_on_selector_all(
        "svg.head-view .weight", "nodes => nodes.map(n => n.textContent)"
    )
    row = ask(url, "/api/attention", {"run": "lm", "text": TEXT})["stacks"]["decoder"]["maps"][1][
        0
    ][6]
    assert [float(s) for s in shown] == pytest.approx(row, abs=6e-4)
    assert float(shown[7]) == 0.0  # causal: key 7 comes after query 6
    assert "#" in page.url and "layer=1" in page.url and "head=0" in page.url  # shareable

    # model view: layers × heads; a click zooms into the matrix view of that map
    page.click('#tabs button[data-view="model"]')
    assert page.locator(".grid figure").count() == 2 * 2
    page.click('.grid figure[data-layer="0"][data-head="1"]')
    page.wait_for_selector("canvas.matrix")
    assert page.input_value("#layer") == "0" and page.input_value("#head") == "1"
    box = page.locator("canvas.matrix").bounding_box()
    page.mouse.move(box["x"] + box["width"] - 20, box["y"] + box["height"] - 20)
    assert "→" in page.text_content("#hover-value")

    # export the matrix view as PNG
    with page.expect_download() as download:
        page.click("#export-png")
    png = Path(download.value.path()).read_bytes()
    assert png.startswith(PNG_MAGIC) and len(png) > 2000

    # inside one head: the worked example agrees with the model
    page.click('#tabs button[data-view="worked"]')
    page.wait_for_selector("#worked-check")
    assert page.locator("table.worked tr[data-key]").count() == len(TEXT)

    # next token: click the likeliest and the text grows by it
    page.click('#tabs button[data-view="next"]')
    first = page.locator("ul.candidates button").first
    token = json.loads(first.text_content())
    first.click()
    page.wait_for_function(f"document.getElementById('text').value.length === {len(TEXT) + 1}")
    assert page.input_value("#text") == TEXT + token

    # a translator: step through the output, token by token
    page.select_option("#run", "translator")
    page.fill("#text", "abcd")
    page.click("#go")
    page.click('#tabs button[data-view="translate"]')
    page.wait_for_selector("#step-info")
    assert page.text_content("#step-info").startswith("step 0")
    page.click("#step-next")
    # the view is redrawn after each answer: the element may be missing for a moment
    page.wait_for_function(
        "(document.getElementById('step-info') || {textContent: ''})"
        ".textContent.startsWith('step 1')"
    )
    assert page.locator("#beam li").count() >= 1

    # a ViT: class-token attention per layer, and the rollout
    page.select_option("#run", "vit")
    page.wait_for_selector("#prediction")
    assert page.locator(".images canvas").count() == 2 + 1
    assert not errors, errors


def test_the_exported_page_opens_offline_from_disk(served, browser, tmp_path):
    path = write_page({"lm": served["lm"]}, TEXT, tmp_path / "page.html")
    context = browser.new_context(offline=True)
    page = context.new_page()
    asked = []
    page.on("request", lambda request: asked.append(request.url))
    page.goto(path.as_uri())
    page.wait_for_selector("svg.head-view line", state="attached")
    assert page.locator("svg.head-view .tok.q").count() == len(TEXT)
    page.click('#tabs button[data-view="worked"]')
    page.wait_for_selector("#worked-check")
    assert all(u.startswith(("file:", "data:")) for u in asked), asked
    context.close()
