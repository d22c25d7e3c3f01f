"""`meshc lsp`: the language server, over stdin and stdout.

It needs the `lsp` extra (`pip install 'meshc[lsp]'`: pygls and
lsprotocol), imported only here, when the server starts.
"""

from __future__ import annotations

import gc
import logging
import sys

import click


@click.command("lsp")
@click.option("--stdio", is_flag=True, help="Talk LSP over stdin and stdout (the default and only transport).")
@click.option("--log-level", type=click.Choice(["error", "warning", "info", "debug"]), default="warning",
              show_default=True, help="What the server logs to stderr, which editors show as its output.")
def command(stdio: bool, log_level: str) -> None:
    """Run the language server for .mesh files (editors start it; see
    docs/editors.md). Diagnostics are `meshc check`'s; the server also goes
    to definitions and references, explains codes and keywords on hover,
    completes, formats and offers quick fixes."""
    try:
        from meshc.lsp.server import start
    except ImportError as err:
        raise click.UsageError(
            f"meshc lsp needs the lsp extra ({err.name} is missing): pip install 'meshc[lsp]'") from None
    logging.basicConfig(level=log_level.upper(), format="meshc lsp: %(levelname)s %(name)s: %(message)s")
    # cli.main turns the cyclic collector off for short runs; a server lives
    # long, so it collects, but rarely: an analysis allocates hundreds of
    # thousands of objects, and the default thresholds would scan every
    # cached syntax tree several times per keystroke (12 % of the time).
    gc.enable()
    gc.set_threshold(50_000, 20, 20)
    # stdout carries the protocol alone: anything else printed goes to stderr.
    protocol = sys.stdout.buffer
    sys.stdout = sys.stderr
    start(sys.stdin.buffer, protocol)
