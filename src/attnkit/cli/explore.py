"""The attention explorer: ``explore`` (a local web page over one or more runs, or one
self-contained HTML file with ``--export``)."""

from __future__ import annotations

import argparse
import socket
import sys
import webbrowser
from pathlib import Path
from typing import TYPE_CHECKING

from attnkit.cli.options import add_checkpoint_option
from attnkit.cli.parsing import positive_int
from attnkit.cli.status import EXIT_OK

if TYPE_CHECKING:
    from attnkit.cli.options import Commands

EXTRA = "pip install 'attnkit[explore]'"


def _cmd_explore(args: argparse.Namespace) -> int:
    for path in args.run_dirs:
        if Path(path).is_file():
            raise ValueError(
                f"{path} is a file, not a run directory: give the folder `attnkit "
                f"train --out` wrote"
            )
    if args.export and not args.text:
        raise ValueError("--export writes the views of one text: pass --text TEXT too")
    from attnkit.explorer.runs import load_runs
    from attnkit.explorer.views import Limits

    runs = load_runs(args.run_dirs, checkpoint=args.checkpoint)
    limits = Limits(max_tokens=args.max_tokens)
    if args.export:
        from attnkit.explorer.export import write_page

        path = write_page(runs, args.text, args.export, limits=limits)
        print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB): open it in a browser, offline")
        return EXIT_OK
    try:
        import uvicorn

        from attnkit.explorer.app import create_app
    except ImportError as exc:
        raise ValueError(f"the explorer needs {exc.name}: {EXTRA}") from None
    app = create_app(runs, limits=limits)
    # Bound here, before serving, so the URL printed is the real one (also with --port 0).
    family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((args.host, args.port))
        sock.listen(128)  # connections wait in the backlog until the server accepts them
    except OSError as exc:
        sock.close()
        raise OSError(
            f"cannot listen on {args.host}:{args.port} ({exc.strerror or exc}): pass another "
            f"--port (0 = any free one)"
        ) from None
    port = sock.getsockname()[1]
    shown = f"[{args.host}]" if ":" in args.host else args.host
    url = f"http://{shown}:{port}/"
    print(f"attnkit explorer: {', '.join(runs)} at {url}  (Ctrl-C stops)", flush=True)
    if args.open:
        webbrowser.open(url)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:  # uvicorn shut down cleanly, then passed the Ctrl-C on
        pass
    finally:
        sock.close()
    print("explorer stopped", file=sys.stderr)
    return EXIT_OK


def add_explore(commands: Commands) -> None:
    explore = commands.add_parser(
        "explore",
        help="explore the attention of runs interactively in the browser (offline)",
        description="Serve a local web page over the runs named (language models, "
        "translators, masked-language models, imported models, image classifiers, "
        "captioners): head, model and matrix views, one head's worked example, next-token "
        "and fill-mask candidates, translation steps, image attention and rollout, two runs "
        "side by side. Only these runs can be reached; it binds 127.0.0.1 unless --host. "
        "With --export PAGE.html --text TEXT it writes one self-contained HTML file instead.",
    )
    explore.add_argument(
        "run_dirs", nargs="+", metavar="RUN_DIR", help="run directories (what `train --out` wrote)"
    )
    explore.add_argument("--host", default="127.0.0.1", help="address to listen on")
    explore.add_argument("--port", type=int, default=8000, help="port (0 = any free one)")
    explore.add_argument("--open", action="store_true", help="open the page in a web browser")
    explore.add_argument(
        "--max-tokens", type=positive_int, default=256, metavar="N", help="longest input, in tokens"
    )
    explore.add_argument(
        "--export", type=Path, metavar="PAGE.html", help="write one self-contained HTML file"
    )
    explore.add_argument("--text", help="the text the exported page shows (with --export)")
    add_checkpoint_option(explore)
    explore.set_defaults(func=_cmd_explore)
