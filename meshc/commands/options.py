"""Options shared by several subcommands."""

from __future__ import annotations

import os
import sys

import click

from meshc.diagnostics.report import FORMATS
from meshc.language.values import ISTIO_VERSIONS

output_format = click.option(
    "--output-format",
    type=click.Choice(FORMATS),
    default="full",
    show_default=True,
    help="How to print diagnostics.",
)
color = click.option(
    "--color",
    type=click.Choice(["auto", "always", "never"]),
    default="auto",
    show_default=True,
    help="Colour diagnostics (auto: only on a terminal).",
)

istio_version = click.option(
    "--istio-version",
    type=click.Choice(ISTIO_VERSIONS),
    default=ISTIO_VERSIONS[-1],
    show_default=True,
    help="Istio release of clusters that do not say `istio` in the fleet.",
)


def use_color(choice: str) -> bool:
    if choice == "always":
        return True
    if choice == "never" or os.environ.get("NO_COLOR"):
        return False
    return sys.stdout.isatty()
