"""Options shared by several subcommands."""

from __future__ import annotations

import functools
import os
import sys
from typing import Any, Optional, TextIO

import click

from meshc.config import OUTPUT_FORMATS, ConfigError, Overrides, Patterns, ignorable_codes

output_format = click.option(
    "--output-format",
    type=click.Choice(OUTPUT_FORMATS),
    default=None,
    help="How to print diagnostics  [default: full, or the configuration's]",
)
color = click.option(
    "--color",
    type=click.Choice(["auto", "always", "never"]),
    default="auto",
    show_default=True,
    help="Colour diagnostics (auto: on a terminal, or when FORCE_COLOR or CLICOLOR_FORCE is set, unless NO_COLOR is).",
)


def _istio_version_choices():
    from meshc.language.values import ISTIO_VERSIONS

    return ISTIO_VERSIONS


istio_version = click.option(
    "--istio-version",
    type=click.Choice(_istio_version_choices()),
    default=None,
    help="Istio release of clusters that do not say `istio` in the fleet  [default: the newest, or the configuration's]",
)


def use_color(choice: str, stream: Optional[TextIO] = None) -> bool:
    """Whether to colour what goes to `stream` (stdout by default): `always`
    and `never` decide; otherwise FORCE_COLOR or CLICOLOR_FORCE (set and
    not 0) turn colour on, NO_COLOR off, and a terminal on."""
    if choice in ("always", "never"):
        return choice == "always"
    if any(os.environ.get(name, "") not in ("", "0") for name in ("FORCE_COLOR", "CLICOLOR_FORCE")):
        return True
    if os.environ.get("NO_COLOR"):
        return False
    stream = stream or sys.stdout
    return hasattr(stream, "isatty") and stream.isatty()


def verbosity(command):
    """-q/--quiet and -v/--verbose, as `verbosity`: -1, 0 or 1."""
    command = click.option("-v", "--verbose", "verbose", is_flag=True,
                           help="Also say which configuration and files are used, and which are skipped.")(command)
    command = click.option("-q", "--quiet", "quiet", is_flag=True,
                           help="Print diagnostics and errors only: no summary or progress on stderr.")(command)

    @functools.wraps(command)
    def wrapper(*args, quiet: bool, verbose: bool, **kwargs):
        if quiet and verbose:
            raise click.UsageError("--quiet and --verbose do not combine")
        return command(*args, verbosity=-1 if quiet else int(verbose), **kwargs)

    return wrapper


def _patterns(ctx, param, values) -> Optional[tuple[Patterns, ...]]:
    if not values:
        return None
    listed = tuple(p.strip() for value in values for p in value.split(",") if p.strip())
    return (Patterns(os.getcwd(), listed),)


def _codes(ctx, param, values) -> Optional[tuple[str, ...]]:
    if not values:
        return None
    try:
        return ignorable_codes([c.strip() for v in values for c in v.split(",") if c.strip()], "--ignore")
    except ConfigError as err:
        raise click.BadParameter(str(err).removeprefix("--ignore: ")) from None


def file_selection(command):
    """--config, --isolated and the file selection options; the command gets
    them as one `overrides` (config.Overrides), with any of `settings_options`
    it declares (istio_version, strict, output_format, ignore) folded in."""
    options = [
        click.option("--config", "config_file", type=click.Path(dir_okay=False), metavar="FILE",
                     help="Use this configuration file for every policy instead of searching for one."),
        click.option("--isolated", is_flag=True, help="Ignore configuration files."),
        click.option("--exclude", multiple=True, callback=_patterns, metavar="PATTERNS",
                     help="Paths to skip (gitignore syntax, comma-separated), instead of the configuration's `exclude`."),
        click.option("--extend-exclude", multiple=True, callback=_patterns, metavar="PATTERNS",
                     help="Paths to skip in addition to `exclude`."),
        click.option("--respect-gitignore/--no-respect-gitignore", default=None,
                     help="Skip files git ignores  [default: respect]"),
        click.option("--force-exclude/--no-force-exclude", default=None,
                     help="Apply the exclusions to paths named on the command line too (for pre-commit)."),
    ]

    @functools.wraps(command)
    def wrapper(*args, config_file, isolated, exclude, extend_exclude, respect_gitignore, force_exclude, **kwargs):
        if config_file and isolated:
            raise click.UsageError("--config and --isolated do not combine")
        given: dict[str, Any] = {
            "exclude": exclude, "extend_exclude": extend_exclude,
            "respect_gitignore": respect_gitignore, "force_exclude": force_exclude,
        }
        for name in ("istio_version", "strict", "output_format", "ignore"):
            if name in kwargs:
                given[name] = kwargs[name]
        values = {k: v for k, v in given.items() if v is not None}
        return command(*args, overrides=Overrides(config_file, isolated, values), **kwargs)

    for option in reversed(options):
        wrapper = option(wrapper)
    return wrapper


ignore = click.option("--ignore", multiple=True, callback=_codes, metavar="CODES",
                      help="Warnings to silence (codes or names, comma-separated), added to the configuration's.")
strict = click.option("--strict/--no-strict", default=None, help="Exit 1 on warnings too  [default: no, or the configuration's]")


class ConfigProblem(click.ClickException):
    """A configuration that cannot be used: exit 2, like a usage error."""

    exit_code = 2


def settings_or_exit(call):
    """Run `call()`, turning a configuration error into exit 2 with its message."""
    try:
        return call()
    except ConfigError as err:
        raise ConfigProblem(str(err)) from None


def one_policy(paths, overrides):
    """The one policy PATHS name (inputs.Policy), read and compiled; a usage
    error when they name none or several (render, namespaces, graph)."""
    from meshc.inputs import read
    from meshc.selection import InputError

    try:
        inputs = settings_or_exit(lambda: read(paths, overrides))
    except InputError as err:
        raise click.UsageError(str(err)) from None
    if len(inputs.policies) != 1:
        what = "no .mesh files" if not inputs.policies else f"{len(inputs.policies)} policies"
        raise click.UsageError(f"this takes one policy (one directory of .mesh files); these paths hold {what}")
    return inputs.policies[0]


def format_for(fmt: Optional[str], path: str) -> str:
    """The diagnostics format for a command on one file: the option's, or
    the configuration's for that file's directory."""
    if fmt is not None:
        return fmt
    return settings_or_exit(lambda: Overrides().settings_for(os.path.dirname(path) or ".")).output_format
