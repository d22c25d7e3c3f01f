"""The `meshc` command: a click group whose subcommands load on demand.

Each subcommand lives in meshc/commands/<name>.py and is imported only when
run, so `meshc check` does not pay for the backends' imports. Exit codes:
0 clean, 1 diagnostics (or a check that would change files), 2 usage, I/O
or internal error. No traceback reaches users unless `--debug` is given.
"""

from __future__ import annotations

import gc
import importlib
import os
import stat
import sys
import time
import traceback

import click

from meshc import __version__, streams

_COMMANDS = {
    "check": "Check policies and report diagnostics.",
    "fmt": "Format .mesh files in the canonical layout.",
    "render": "Render Istio manifests, one directory per cluster.",
    "namespaces": "List the namespaces each cluster needs.",
    "explain": "Explain a diagnostic code.",
    "promote": "Move a canary to its next step.",
    "rollback": "Move a canary back to its baseline.",
    "status": "Show every canary and its live split.",
    "gate": "Query Prometheus for a canary's health gates.",
    "graph": "Draw each service's routes, destinations and gateways.",
    "route": "Say where a request goes in each cluster, and why.",
    "test": "Run the policy tests (`test` blocks) against the rendered documents.",
    "diff": "Say what changes between two policies, in traffic terms.",
    "import": "Import existing Istio YAML as a .mesh policy, with a loss report.",
    "lsp": "Run the language server (needs the lsp extra).",
}


class _LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return [name for name in _COMMANDS if _module_exists(name)]

    def get_command(self, ctx: click.Context, name: str):
        if name not in _COMMANDS or not _module_exists(name):
            return None
        module = importlib.import_module(f"meshc.commands.{_module(name)}")
        return module.command

    def resolve_command(self, ctx: click.Context, args: list[str]):
        name = args[0] if args else ""
        if args and self.get_command(ctx, name) is None and not name.startswith("-"):
            from meshc.suggest import did_you_mean

            hint = did_you_mean(name, self.list_commands(ctx))
            ctx.fail(f"no such command `{name}`" + (f"; {hint}" if hint else "; `meshc --help` lists them"))
        return super().resolve_command(ctx, args)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, _COMMANDS[name]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


def _module(name: str) -> str:
    """The module of a command: `import` is a Python keyword, so `import_`."""
    return name + "_" if name == "import" else name


def _module_exists(name: str) -> bool:
    return os.path.exists(os.path.join(os.path.dirname(__file__), "commands", f"{_module(name)}.py"))


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="meshc")
@click.option("--debug", is_flag=True, help="Show tracebacks of internal errors.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Compile .mesh traffic policies to Istio manifests."""
    ctx.ensure_object(dict)["debug"] = debug


def main(argv: list[str] | None = None) -> None:
    """Run meshc and exit with its code; internal errors never show a
    traceback unless --debug is given."""
    args = sys.argv[1:] if argv is None else argv
    if argv is None:
        streams.guard()
    _never_fail_to_encode()
    # A compile allocates many small objects and frees nothing until it
    # exits; the cyclic collector would only rescan them (it cost a third of
    # the render time). The process is short-lived, so it goes without.
    gc.disable()
    try:
        code = _run(args)
        if argv is None:
            # Everything must be written before the exit code can say so.
            for stream in (sys.stdout, sys.stderr):
                stream.flush()
    except streams.StreamError as err:
        code = _stream_error(err)
    code = code if isinstance(code, int) else 0
    if argv is None:
        # Run as a program: everything is written, so skip the interpreter's
        # teardown, which frees every object of a large compile one by one.
        os._exit(code)
    sys.exit(code)


def _never_fail_to_encode() -> None:
    """Output that the terminal's encoding cannot carry (a `→` under
    LANG=C or a Latin-1 locale, a non-ASCII name in a policy) is escaped
    rather than ending the command with UnicodeEncodeError."""
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure") and getattr(stream, "errors", "") == "strict":
            stream.reconfigure(errors="backslashreplace")


def _run(args: list[str]):
    """The exit code of one command line; I/O errors on the standard
    streams propagate as StreamError."""
    try:
        return cli.main(args=args, prog_name="meshc", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except SystemExit as exc:
        # A command's sys.exit(N), returned so that main still skips the
        # interpreter's teardown (a second or more after a large import).
        if exc.code is None or isinstance(exc.code, int):
            return exc.code or 0
        click.echo(exc.code, err=True)
        return 1
    except click.ClickException as exc:
        exc.show()
        return 2 if exc.exit_code in (1, 2) else exc.exit_code
    except click.Abort:
        click.echo("Aborted.", err=True)
        return 2
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        return 130
    except streams.StreamError:
        raise
    except Exception as exc:  # noqa: BLE001 - the last line of defence
        return _internal_error(exc, "--debug" in args)


def _stream_error(err: streams.StreamError) -> int:
    """A closed or full stdout or stderr: say so on stderr when that still
    works (after what is pending there), exit 2, no crash file."""
    if err.name != "stderr":
        try:
            sys.stderr.flush()
        except streams.StreamError:
            return 2
        streams.say(f"error: {err}; the output is incomplete")
    return 2


def _internal_error(exc: BaseException, debug: bool) -> int:
    trace = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    path = _crash_file(f"meshc {__version__}\nargs: {sys.argv[1:]}\n\n{trace}")
    where = f" (details in {path})" if path else " (run again with --debug for details)"
    message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    click.echo(f"internal error: {message}; please report{where}", err=True)
    if debug:
        click.echo(trace, err=True)
    return 2


def _crash_file(text: str) -> str | None:
    """Save a crash report in meshc's per-user state directory
    ($XDG_STATE_HOME/meshc, or ~/.local/state/meshc), never in a directory
    others can write; None when there is no such directory to use."""
    base = os.environ.get("XDG_STATE_HOME", "")
    if not os.path.isabs(base):
        home = os.path.expanduser("~")
        if not os.path.isabs(home):
            return None
        base = os.path.join(home, ".local", "state")
    directory = os.path.join(base, "meshc")
    try:
        os.makedirs(directory, mode=0o700, exist_ok=True)
        st = os.lstat(directory)
        if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            return None
        path = os.path.join(directory, f"crash-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.txt")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        return path
    except OSError:
        return None
