"""What a lab experiment reports: a :class:`Verdict`, written as ``verdict.md`` and
``verdict.json`` beside the experiment's figure, and an index that collects several.

A verdict states the claim as the notes make it, the rule that decides it (declared in
the claim's module before the run, see :mod:`attnkit.lab.verdicts`), what was measured
(every seed's number, the interval, a table and a short summary), how each arm was
trained (learning-rate sweep, steps, wall time, parameters), and the outcome: ``holds``
is ``True`` (supported), ``False`` (not supported) or ``None`` (could not decide: the
experiment could not test the claim) — the lab says so rather than rounding a weak
result up.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "Verdict",
    "judged_verdict",
    "read_verdict",
    "verdict_markdown",
    "write_index",
    "write_verdict",
]

VERDICT_MD, VERDICT_JSON = "verdict.md", "verdict.json"
METHOD = [
    "Each claim of the notes, measured. Every verdict follows a rule declared in the "
    "claim's module before the run (`attnkit.lab.verdicts.Rule`): the quantity, the arms, "
    "the seeds (at least five for anything trained, ten where an arm's seeds spread) and "
    "the decision — *supported* when the whole 95 % bootstrap interval (seeded, seeds "
    "resampled within each arm) of the difference of the arm means lies above the "
    "threshold, *not supported* otherwise, *could not decide* when an arm the comparison "
    "needs learned the task at no learning rate tried. Each arm trains at its own learning "
    "rate from a small sweep on validation data (on a seed never measured), to the same "
    "steps; rates, steps, wall time and parameter counts are listed under every verdict, "
    "every seed's number is printed and drawn (strip plot), and each section ends with "
    "the published result the claim echoes and where this small-scale result agrees "
    "with it or not. (Where the learning rate is the experiment's variable — "
    "`layernorm` — or the measurement is a timing — `parallel` — no rate is tuned.)",
    "",
    "Regenerate with `attnkit lab all --out docs/lab --index docs/lab.md` (each claim "
    "≤ 10 minutes on 2 CPU cores; `--device auto` trains on a GPU when there is one); "
    "after re-running one claim with `attnkit lab NAME --out docs/lab/NAME`, rewrite "
    "this page with `attnkit lab all --out docs/lab --index docs/lab.md --index-only`. "
    "`attnkit lab NAME --quick` runs one in seconds with two seeds — a smoke test, not a "
    "verdict.",
]


@dataclass
class Verdict:
    """The outcome of one experiment.

    Attributes:
        name: the claim's command name (``scaling``, ``long-range`` …).
        title: a one-line title.
        claim: the claim as the notes state it.
        holds: ``True`` (supported), ``False`` (not supported) or ``None`` (could
            not decide).
        summary: markdown with the measured numbers that decide it.
        columns: table header.
        rows: table rows (numbers or short labels), one per condition.
        figure: file name of the PNG the experiment saved in its output directory.
        seconds: wall time of the run (set by :func:`~attnkit.lab.run_claim`).
        quick: whether this was the reduced ``--quick`` run.
        seed: the seed it ran with.
        rules: the decisions of the claim's rules
            (:meth:`~attnkit.lab.verdicts.Decision.as_dict`: rule, interval, per-seed values).
        arms: how each arm was trained (:meth:`~attnkit.lab.verdicts.ArmReport.as_dict`).
        published: the published result the claim echoes, and how this one compares.
        machine: the processor and cores it ran on (set by :func:`~attnkit.lab.run_claim`).
        agreement: where this result agrees with the published one and where not (the
            claim module's ``AGREEMENT`` for this outcome).
    """

    name: str
    title: str
    claim: str
    holds: bool | None
    summary: str
    columns: list[str] = field(default_factory=list)
    rows: list[list[Any]] = field(default_factory=list)
    figure: str = ""
    seconds: float = 0.0
    quick: bool = False
    seed: int = 0
    rules: list[dict[str, Any]] = field(default_factory=list)
    arms: list[dict[str, Any]] = field(default_factory=list)
    published: str = ""
    machine: str = ""
    agreement: str = ""

    @property
    def outcome(self) -> str:
        """``supported``, ``not supported`` or ``could not decide``."""
        return {True: "supported", False: "not supported", None: "could not decide"}[self.holds]


def judged_verdict(
    name: str,
    title: str,
    claim: str,
    judged: tuple[bool | None, str, list[str], list[list[Any]]],
    figure: Path,
) -> Verdict:
    """A :class:`Verdict` from a claim's ``judge()`` result ``(holds, summary, columns,
    rows)`` and the figure it saved."""
    holds, summary, columns, rows = judged
    return Verdict(
        name=name,
        title=title,
        claim=claim,
        holds=holds,
        summary=summary,
        columns=columns,
        rows=rows,
        figure=figure.name,
    )


def _cell(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if math.isnan(value):
            return "–"
        magnitude = abs(value)
        if magnitude != 0 and (magnitude >= 1e5 or magnitude < 1e-3):
            return f"{value:.3g}"
        return f"{value:.4g}" if magnitude < 10 else f"{value:,.1f}"
    return str(value)


def _number(value: Any) -> str:
    return _cell(float(value)) if isinstance(value, int | float) else str(value)


def _rules_markdown(rules: list[dict[str, Any]]) -> list[str]:
    """Each rule as declared, its interval and outcome, and every seed's value."""
    lines = []
    for rule in rules:
        lines += [
            f"**Rule** (declared before the run): {rule['rule']}",
            "",
            f"**Result: {rule['outcome']}** — {rule['reason']}.",
            "",
        ]
        lines += [
            f"- {arm} ({len(values)} seeds): " + ", ".join(_number(v) for v in values)
            for arm, values in rule["values"].items()
        ]
        lines.append("")
    return lines


def _arms_markdown(arms: list[dict[str, Any]]) -> list[str]:
    """How each arm was trained: the fairness record."""
    lines = [
        "| arm | parameters | learning rates tried (validation score) | chosen lr | "
        "steps | wall time per seed (s) |",
        "|---|---|---|---|---|---|",
    ]
    for arm in arms:
        tried = ", ".join(f"{lr:g} ({_number(score)})" for lr, score in arm["rates"]) or "–"
        chosen = f"{arm['lr']:g}" if arm["lr"] else "set by the design"
        if not arm.get("learned", True):
            chosen += " (learned at no rate)"
        lines.append(
            f"| {arm['name']} | {arm['params']:,} | {tried} | {chosen} | {arm['steps']} | "
            f"{_number(arm['seconds'])} |"
        )
    return [*lines, ""]


def verdict_markdown(verdict: Verdict, *, figure_prefix: str = "", level: int = 1) -> str:
    """The verdict as markdown: title, claim, outcome, rules with their intervals and
    per-seed values, summary, the arms' training record, table, figure, and the
    published result it echoes."""
    mode = "quick run" if verdict.quick else "full run"
    lines = [
        f"{'#' * level} `{verdict.name}` — {verdict.title}",
        "",
        f"> {verdict.claim}",
        "",
        f"**Verdict: {verdict.outcome}.** ({mode}, seed {verdict.seed}, "
        f"{verdict.seconds:.0f} s on {verdict.machine or 'this machine'})",
        "",
    ]
    lines += _rules_markdown(verdict.rules)
    lines += [verdict.summary.strip(), ""]
    if verdict.arms:
        lines += _arms_markdown(verdict.arms)
    if verdict.columns:
        lines.append("| " + " | ".join(verdict.columns) + " |")
        lines.append("|" + "---|" * len(verdict.columns))
        lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in verdict.rows]
        lines.append("")
    if verdict.figure:
        lines += [f"![{verdict.name}]({figure_prefix}{verdict.figure})", ""]
    if verdict.published:
        lines += [f"**Published result.** {verdict.published.strip()}", ""]
    if verdict.agreement:
        lines += [f"**This result against it.** {verdict.agreement.strip()}", ""]
    return "\n".join(lines)


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    return value


def write_verdict(verdict: Verdict, out: Path) -> None:
    """Write ``verdict.md`` and ``verdict.json`` into ``out`` (the figure is already
    there: the experiment saved it)."""
    out.mkdir(parents=True, exist_ok=True)
    data = {key: _json_safe(value) for key, value in dataclasses.asdict(verdict).items()}
    (out / VERDICT_JSON).write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n")
    (out / VERDICT_MD).write_text(verdict_markdown(verdict))


def read_verdict(out: Path) -> Verdict:
    """Read a verdict written by :func:`write_verdict`."""
    data = json.loads((out / VERDICT_JSON).read_text())
    return Verdict(**data)


def write_index(
    out: Path,
    names: list[str],
    *,
    index: Path | None = None,
    title: str = "The lab",
    annotate: Callable[[Verdict], Verdict] | None = None,
) -> Path:
    """Collect the verdicts in ``out/<name>/`` into one markdown file (default
    ``out/README.md``): a summary table, then every verdict with its figure, linked
    relative to the index. ``annotate`` may update a verdict's prose (not its numbers)
    before it is written. Returns the index path."""
    index = out / "README.md" if index is None else index
    link_root = Path(os.path.relpath(out, index.parent))
    verdicts = [read_verdict(out / name) for name in names if (out / name / VERDICT_JSON).exists()]
    if annotate is not None:
        verdicts = [annotate(v) for v in verdicts]
    lines = [
        f"# {title}",
        "",
        *METHOD,
        "",
        "| claim | verdict | seconds |",
        "|---|---|---|",
    ]
    lines += [
        f"| [`{v.name}`](#{v.name}) {v.title} | {v.outcome} | {v.seconds:.0f} |" for v in verdicts
    ]
    total = sum(v.seconds for v in verdicts)
    machines = sorted({v.machine for v in verdicts if v.machine})
    lines += [
        f"| **all {len(verdicts)}** | | **{total:.0f}** ({total / 60:.0f} min) |",
        "",
        f"Measured on: {'; '.join(machines) or 'not recorded'}.",
    ]
    lines.append("")
    for verdict in verdicts:
        lines.append(f'<a id="{verdict.name}"></a>')
        lines.append("")
        prefix = (link_root / verdict.name).as_posix() + "/"
        lines.append(verdict_markdown(verdict, figure_prefix=prefix.removeprefix("./"), level=2))
    index.write_text("\n".join(lines))
    return index
