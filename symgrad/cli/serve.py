"""``symgrad serve TEMPLATE [--port 8000] [--host 127.0.0.1]``: the practice page of an
exercise template, a small local web app (needs ``pip install 'symgrad[serve]'``)."""

from __future__ import annotations

import argparse

from ..errors import ArgumentError

_DEFAULT_HOST = "127.0.0.1"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "serve", help="run a practice page for an exercise template in the browser",
        description="Serve a practice page: each visit draws a variant of the exercise "
                    "template; the student types answers (numbers, or an expression as "
                    "text or LaTeX with a live preview), sees right or wrong with the "
                    "diagnosis, and can open the worked solution. Needs the serve extra: "
                    "pip install 'symgrad[serve]'.")
    p.add_argument("template", help="an exercise template, for example "
                                    "derivations/two_neuron_exercise.toml")
    p.add_argument("--port", type=int, default=8000, help="the port (default: 8000)")
    p.add_argument("--host", default=_DEFAULT_HOST,
                   help=f"the address to listen on (default: {_DEFAULT_HOST}, this machine "
                        "only; another address lets other machines in)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from ..exercises import load_template
    from ..serve import Server, create_app
    from ..serve.app import LOOPBACK

    if not 0 <= args.port <= 65535:
        raise ArgumentError(f"--port: {args.port} is not a port (0 to 65535)")
    template = load_template(args.template)
    local = args.host in LOOPBACK
    hosts = LOOPBACK if local else ("*",)  # another address: any host name may reach it
    server = Server(create_app(template, hosts=hosts), args.host, args.port)
    print(f"serving the practice page of {args.template} at {server.url} "
          f"({'this machine only' if local else 'open to the network'}; Ctrl+C stops)",
          flush=True)
    server.run()
    return 0
