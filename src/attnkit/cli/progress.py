"""Progress bars on stderr: training (``attnkit train``, drawn from the trainer's events)
and work counted in items (``attnkit evaluate``)."""

from __future__ import annotations

import sys


class Progress:
    """Draws training progress from the trainer's events: a tqdm bar with step, loss,
    tokens/s and ETA, and one line per evaluation and per message. With a time budget
    the bar counts minutes instead of steps."""

    def __init__(self, total: int, enabled: bool, budget_minutes: float = 0.0):
        self.total, self.enabled, self.budget = total, enabled, budget_minutes
        self.bar = None

    def _position(self, state) -> float:
        return round(state.seconds / 60, 1) if self.budget else state.step

    def __call__(self, event) -> None:
        from tqdm import tqdm

        data = event.data
        if event.kind == "start":
            if self.enabled:
                self.bar = tqdm(
                    total=self.budget or self.total,
                    initial=self._position(event.state),
                    unit="min" if self.budget else "step",
                    dynamic_ncols=True,
                    file=sys.stderr,
                )
            self._line(
                f"training {data['params'] / 1e6:.2f}M parameters on {data['device']} "
                f"({data['precision']}, {data['world_size']} process(es)), "
                f"vocabulary {data['vocab_size']}"
            )
            if data.get("data"):
                counts = ", ".join(f"{k} {v}" for k, v in data["data"].items())
                self._line(f"data: {counts}")
        elif event.kind == "log":
            if self.bar is not None:
                self.bar.update(self._position(event.state) - self.bar.n)
                self.bar.set_postfix(
                    step=data["step"],
                    loss=f"{data['loss']:.3f}",
                    lr=f"{data['lr']:.2e}",
                    tok_s=f"{data['tokens_per_s']:.0f}",
                )
        elif event.kind == "eval":
            bpc = data.get("val_bits_per_char")
            extra = f", {bpc:.3f} bits/char" if bpc is not None else ""
            for key in ("accuracy", "word_accuracy"):  # image classifiers, captioners
                if data.get(f"val_{key}") is not None:
                    extra += f", {key.replace('_', ' ')} {data[f'val_{key}']:.2%}"
            self._line(
                f"step {data['step']}: val loss {data['val_loss']:.4f}{extra}"
                f"{' (best)' if data.get('best') else ''}"
            )
        elif event.kind == "skip":
            self._line(f"step {data['step']}: non-finite loss/gradient, update skipped")
        elif event.kind == "message":
            self._line(data["text"])
        elif event.kind == "end" and self.bar is not None:
            self.bar.update(self._position(event.state) - self.bar.n)
            self.bar.close()

    def _line(self, text: str) -> None:
        if self.bar is not None:
            self.bar.write(text, file=sys.stderr)
        else:
            print(text, file=sys.stderr)


class CountProgress:
    """A tqdm bar on stderr for work counted in items (``attnkit evaluate``: sentences,
    images, batches of text), fed ``(done, total)`` by the library's ``progress=``
    callbacks. Disabled, it draws nothing (so logs and pipes stay clean)."""

    def __init__(self, description: str, *, enabled: bool):
        self.description, self.enabled = description, enabled
        self.bar = None

    def __enter__(self) -> CountProgress | None:
        return self if self.enabled else None

    def __call__(self, done: int, total: int) -> None:
        from tqdm import tqdm

        if self.bar is None or self.bar.total != total:  # a new stage of the work
            self.close()
            self.bar = tqdm(total=total, desc=self.description, file=sys.stderr)
        self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def __exit__(self, *exc_info) -> None:
        self.close()
