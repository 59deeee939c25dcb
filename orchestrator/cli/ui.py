"""`spotwise ui --open | --print-url`: sign a browser into the web dashboard with a one-time link.

Why a link and not a token: the daemon gives the CLI a code that is valid for 60 s and works once
(orchestrator/ui/signin_codes.py), so the URL is safe to open, print, or paste into a browser on another machine;
the API token never appears in a URL, a history entry or a referrer.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from orchestrator.cli.client import CliError
from orchestrator.cli.console import make_console

console = make_console()


def signin_url() -> str:
    """Ask the daemon for a one-time sign-in code; the URL that uses it (public_url when the daemon has one)."""
    from orchestrator.cli import client  # orchestrator.cli imports this module while initialising

    api = client()
    data = api.post("/v1/ui/signin-codes")
    return str(data.get("url") or api.url + data["path"])


def ui(
    open_browser: Annotated[bool, typer.Option("--open", help="open the dashboard in this machine's browser "
                                               "(the default; prints the link when no browser can open)")] = False,
    print_url: Annotated[bool, typer.Option("--print-url", help="only print the one-time link (for a browser on "
                                            "another machine, or a headless one)")] = False,
) -> None:
    """Sign into the web dashboard with a one-time link: valid 60 s, works once, carries no API token."""
    if open_browser and print_url:
        raise CliError("give --open or --print-url, not both", exit_code=2)
    url = signin_url()
    if print_url or not sys.stdout.isatty():  # piped or captured: nobody is here to use a browser window
        print(url)
        return
    import webbrowser

    if webbrowser.open(url):
        console.print(f"opened the dashboard in your browser (the link works once, for 60 s):\n{url}")
    else:
        console.print(f"no browser could be opened here; open this link within 60 s (it works once):\n{url}")
