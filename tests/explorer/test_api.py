"""The explorer's JSON API with Starlette's test client, on a tiny run of every family:
each endpoint's answer checked against the model itself, and every kind of bad request
answered with the right status and a message naming the limit or the parameter."""

from __future__ import annotations

import base64
import io
import math
from concurrent.futures import ThreadPoolExecutor

import pytest
import torch

pytest.importorskip("starlette", reason="needs the explore extra (make venv)")
from starlette.testclient import TestClient

from attnkit.api import translate
from attnkit.explorer.app import MAX_BODY_BYTES, create_app
from attnkit.explorer.runs import load_runs
from attnkit.explorer.views import Limits
from attnkit.families.language_model import self_attention_maps

LM_TEXT = "ROMEO: But soft"


@pytest.fixture(scope="module")
def served(tiny_runs):
    return load_runs([tiny_runs[name] for name in tiny_runs])


@pytest.fixture(scope="module")
def client(served):
    return TestClient(create_app(served, limits=Limits(max_tokens=40, max_text_chars=300)))


def post(client, path, **body):
    return client.post(path, json=body)


def error(response, status, *fragments):
    assert response.status_code == status, response.text
    message = response.json()["error"]
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message, (fragment, message)


def test_runs_names_every_family_and_what_it_can_do(client):
    answer = client.get("/api/runs").json()
    runs = {run["id"]: run for run in answer["runs"]}
    assert list(runs) == ["lm", "mlm", "translator", "rnn", "vit", "captioner"]
    assert set(runs["lm"]["can"]) == {"text_attention", "next_token"}
    assert set(runs["mlm"]["can"]) == {"text_attention", "fill_mask"}
    assert "translate" in runs["translator"]["can"] and "translate" in runs["rnn"]["can"]
    assert {"classify", "image_attention", "samples"} <= set(runs["vit"]["can"])
    assert {"caption", "image_attention", "samples"} <= set(runs["captioner"]["can"])
    assert runs["lm"]["layers"] == 2 and runs["lm"]["heads"] == 2
    assert answer["limits"]["max_tokens"] == 40


def test_language_model_attention_is_the_models_own_and_causal(client, served):
    answer = post(client, "/api/attention", run="lm", text=LM_TEXT).json()
    stack = answer["stacks"]["decoder"]
    maps = torch.tensor(stack["maps"])  # (L, H, T, T)
    assert maps.shape == (2, 2, len(LM_TEXT), len(LM_TEXT))
    assert stack["queries"][:5] == ["R", "O", "M", "E", "O"]
    _, _, expected = self_attention_maps(served["lm"].run, LM_TEXT, stack="decoder")
    assert torch.allclose(maps, expected, atol=1e-4)
    assert torch.allclose(maps.sum(-1), torch.ones(2, 2, len(LM_TEXT)), atol=1e-3)
    assert maps.triu(1).abs().max() == 0  # no token looks ahead


def test_encoder_attention_looks_both_ways(client):
    stack = post(client, "/api/attention", run="mlm", text="the cat sat").json()["stacks"]
    maps = torch.tensor(stack["encoder"]["maps"])
    count = len(stack["encoder"]["queries"])
    assert count >= 3 and maps.shape == (2, 2, count, count) and maps.triu(1).sum() > 0


def test_translator_answers_encoder_decoder_and_cross_attention(client):
    answer = post(client, "/api/attention", run="translator", text="abc").json()
    assert set(answer["stacks"]) == {"encoder", "decoder", "cross"}
    cross = answer["stacks"]["cross"]
    assert cross["keys"] == ["a", "b", "c", "<eos>"]
    assert len(cross["queries"]) == len(answer["translation"]) + 1  # + <eos>
    assert torch.tensor(cross["maps"]).shape[:2] == (2, 4)
    rnn = post(client, "/api/attention", run="rnn", text="abc").json()["stacks"]
    assert list(rnn) == ["cross"]  # a recurrent decoder has no self-attention
    assert torch.tensor(rnn["cross"]["maps"]).shape[:2] == (1, 1)


@pytest.mark.parametrize(
    ("run", "text", "stack", "layer", "head", "query"),
    [
        ("lm", LM_TEXT, "decoder", 1, 1, 6),  # causal, rotary positions
        ("mlm", "the cat sat on the mat", "encoder", 0, 1, 2),
        ("translator", "abcd", "cross", 1, 3, 1),
        ("translator", "abcd", "decoder", 0, 2, 2),
    ],
)
def test_worked_example_recomputes_the_models_weights(client, run, text, stack, layer, head, query):
    answer = post(
        client, "/api/worked", run=run, text=text, stack=stack, layer=layer, head=head, query=query
    ).json()
    assert answer["max_abs_difference"] < 1e-5
    d = answer["head_dim"]
    assert answer["scale"] == pytest.approx(1 / math.sqrt(d), abs=1e-4)
    raw, scaled, weights = (torch.tensor(answer[k]) for k in ("raw", "scaled", "weights"))
    q, k, v = (torch.tensor(answer[name]) for name in ("q", "k", "v"))
    assert q.shape == (d,) and k.shape == v.shape == (len(answer["keys"]), d)
    assert torch.allclose(raw, k @ q, atol=2e-3)  # the numbers shown are rounded
    assert torch.allclose(scaled, raw / math.sqrt(d), atol=1e-3)
    assert weights.sum().item() == pytest.approx(1.0, abs=1e-3)
    assert torch.allclose(torch.tensor(answer["output"]), weights @ v, atol=2e-3)
    mask = torch.tensor(answer["mask"])
    assert (weights[~mask] == 0).all()
    if stack in ("decoder",):  # causal: only the keys up to the query are kept
        assert mask.tolist() == [j <= query for j in range(len(mask))]


def test_worked_example_bad_choices(client):
    body = {"run": "lm", "text": LM_TEXT, "stack": "decoder", "head": 0, "query": 0}
    error(client.post("/api/worked", json={**body, "layer": 9}), 400, "layer=9", "2 layers")
    error(client.post("/api/worked", json={**body, "layer": 0, "query": 99}), 400, "query=99")
    error(client.post("/api/worked", json={**body, "layer": 0, "stack": "cross"}), 400, "decoder")
    error(client.post("/api/worked", json={**body, "layer": "x"}), 400, "layer='x'")
    rnn = {**body, "run": "rnn", "text": "abc", "stack": "cross", "layer": 0}
    error(client.post("/api/worked", json=rnn), 400, "recurrent")


def test_next_token_candidates_are_the_models_distribution(client, served):
    answer = post(client, "/api/next-token", run="lm", text="ROMEO: But sof", top_k=5).json()
    probs = [c["prob"] for c in answer["candidates"]]
    assert len(probs) == 5 and probs == sorted(probs, reverse=True)
    run = served["lm"].run
    with torch.no_grad():
        logits = run.model(torch.tensor([run.tokenizer.encode("ROMEO: But sof")])).logits
    best = logits[0, -1].softmax(-1).max().item()
    assert probs[0] == pytest.approx(best, abs=1e-5)
    error(post(client, "/api/next-token", run="lm", text="x", top_k=0), 400, "top_k=0")
    error(post(client, "/api/next-token", run="mlm", text="the", top_k=3), 400, "not a language")


def test_fill_mask_candidates_and_a_text_without_mask(client):
    answer = post(client, "/api/fill-mask", run="mlm", text="the [MASK] sat on the mat").json()
    (mask,) = answer["masks"]
    tokens = post(client, "/api/tokenize", run="mlm", text="the [MASK] sat on the mat").json()
    assert tokens["tokens"][mask["position"]] == "[MASK]" and len(mask["candidates"]) == 5
    probs = [c["prob"] for c in mask["candidates"]]
    assert probs == sorted(probs, reverse=True) and sum(probs) <= 1 + 1e-5
    error(post(client, "/api/fill-mask", run="mlm", text="the cat sat"), 400, "has no [MASK]")
    error(post(client, "/api/fill-mask", run="lm", text="ROMEO"), 400, "language model")


def test_translation_steps_make_the_greedy_translation(client, served):
    answer = post(client, "/api/translate", run="translator", text="abcd", beam=3).json()
    greedy = translate(served["translator"].run, ["abcd"], beam=1)[0][0]
    assert answer["translation"] == greedy
    steps = answer["steps"]
    assert "".join(s["token"] for s in steps if s["token"] != "<eos>") == greedy
    for step in steps:
        probs = [a["prob"] for a in step["alternatives"]]
        assert probs == sorted(probs, reverse=True) and step["prob"] == probs[0]
        cross = torch.tensor(step["cross"])  # (L, H, S)
        assert cross.shape == (2, 4, 5)
        assert torch.allclose(cross.sum(-1), torch.ones(2, 4), atol=1e-3)
    beam = translate(served["translator"].run, ["abcd"], beam=3, n_best=3)[0]
    assert [b["text"] for b in answer["beam"]] == beam
    assert all(b["score"] <= 0 for b in answer["beam"])
    rnn = post(client, "/api/translate", run="rnn", text="abc", beam=2).json()
    assert torch.tensor(rnn["steps"][0]["cross"]).shape == (1, 1, 4)
    error(post(client, "/api/translate", run="translator", text="ab", beam=99), 400, "beam=99")


def _png(side_w: int, side_h: int) -> str:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("L", (side_w, side_h), 128).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def test_image_attention_of_a_classifier_and_a_captioner(client):
    samples = client.get("/api/samples", params={"run": "vit"}).json()["samples"]
    assert len(samples) == 8 and samples[0]["image"].startswith("data:image/png;base64,")
    answer = post(client, "/api/image-attention", run="vit", image=samples[0]["image"]).json()
    assert answer["grid"] == [4, 4]
    attention = torch.tensor(answer["class_attention"])
    assert attention.shape == (2, 2, 16) and len(answer["rollout"]) == 16
    assert (
        sum(p["prob"] for p in answer["predictions"]) + 1e-9 >= 0.99
        or len(answer["predictions"]) == 5
    )
    # another size is resized to the model's, a colour image made grey
    assert post(client, "/api/image-attention", run="vit", image=_png(40, 30)).status_code == 200
    mosaic = client.get("/api/samples", params={"run": "captioner"}).json()["samples"][0]
    answer = post(client, "/api/image-attention", run="captioner", image=mosaic["image"]).json()
    cross = torch.tensor(answer["cross"])  # (L, H, W, P)
    assert answer["words"] == (answer["caption"].split() or ["<eos>"])
    assert cross.shape[:3] == (1, 2, len(answer["words"]))


def test_bad_images_are_refused_with_the_limit(client):
    error(post(client, "/api/image-attention", run="vit", image="not base64!"), 400, "PNG or JPEG")
    error(post(client, "/api/image-attention", run="vit", image=_png(2000, 10)), 400, "1024")
    big = base64.b64encode(b"\0" * 2_100_000).decode()
    error(post(client, "/api/image-attention", run="vit", image=big), 400, "max_image_bytes")
    error(post(client, "/api/image-attention", run="lm", image=_png(8, 8)), 400, "reads text")
    error(client.get("/api/samples", params={"run": "lm"}), 400, "reads no images")


@pytest.mark.parametrize(
    ("body", "status", "fragments"),
    [
        ({"run": "nope", "text": "a"}, 404, ("unknown run 'nope'", "lm, mlm")),
        ({"run": "../lm", "text": "a"}, 404, ("unknown run",)),
        ({"run": "/etc/passwd", "text": "a"}, 404, ("unknown run",)),
        ({"run": "lm", "text": ""}, 400, ("text is empty",)),
        ({"run": "lm", "text": 5}, 400, ("text must be a string",)),
        ({"run": "lm", "text": "R" * 301}, 400, ("301 characters", "300", "max_text_chars")),
        ({"run": "lm", "text": "R" * 41}, 400, ("41 tokens", "limit is 40", "max_tokens")),
        ({"run": "lm", "text": "ROMEO €"}, 400, ("unknown character '€'", "data.unk=true")),
        ({"run": "vit", "text": "a"}, 400, ("reads images",)),
    ],
)
def test_bad_text_requests(client, body, status, fragments):
    error(client.post("/api/attention", json=body), status, *fragments)


def test_bodies_paths_and_methods(client):
    error(client.post("/api/attention", content=b"{not json"), 400, "not JSON")
    error(client.post("/api/attention", content=b"[1]"), 400, "JSON object")
    big = b'{"run": "lm", "text": "' + b"a" * MAX_BODY_BYTES + b'"}'
    error(client.post("/api/attention", content=big), 413, str(MAX_BODY_BYTES))
    error(client.get("/api/..%2f..%2fetc%2fpasswd"), 404, "no such API path")
    for path in ("/static/..%2f..%2fapp.py", "/static/../app.py", "/static/%2fetc%2fpasswd"):
        response = client.get(path)
        assert response.status_code == 404 and "import" not in response.text, path
    assert client.get("/static/explorer.js").status_code == 200
    page = client.get("/").text
    assert "static/explorer.js" in page and "http" not in page.lower().replace("http-equiv", "")


def test_concurrent_requests_answer_as_sequential_ones(client):
    texts = ["ROMEO: But soft", "JULIET: O", "ROMEO", "O Romeo, Romeo"] * 4
    runs = ["lm", "mlm"] * 8
    texts = [t if r == "lm" else "the cat sat on the mat" for t, r in zip(texts, runs, strict=True)]

    def ask(pair):
        return post(client, "/api/attention", run=pair[0], text=pair[1]).json()

    pairs = list(zip(runs, texts, strict=True))
    sequential = [ask(p) for p in pairs]
    with ThreadPoolExecutor(8) as pool:
        concurrent = list(pool.map(ask, pairs))
    assert concurrent == sequential


def test_worked_examples_beside_other_requests_answer_as_alone(client):
    """The worked example watches a module with a hook: requests running beside it must
    neither disturb it nor be disturbed."""
    worked = {"run": "lm", "text": LM_TEXT, "stack": "decoder", "layer": 1, "head": 0}
    bodies = [("/api/worked", {**worked, "query": q}) for q in range(8)]
    bodies += [("/api/attention", {"run": "lm", "text": LM_TEXT[: 4 + q]}) for q in range(8)]

    def ask(item):
        return client.post(item[0], json=item[1]).json()

    alone = [ask(item) for item in bodies]
    with ThreadPoolExecutor(8) as pool:
        together = list(pool.map(ask, bodies[::2] + bodies[1::2]))
    assert together == alone[::2] + alone[1::2]
