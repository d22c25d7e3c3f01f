"""The grammar's LALR tables, shipped in the package.

Building the tables from `grammar/mesh.lark` takes longer than all the rest
of a small `meshc check`, so they are generated once and kept next to the
grammar as `grammar/mesh.tables.json` (`pytest --update-golden` rewrites it;
a test fails when it is stale). JSON, not a pickle: loading it can build
nothing but lists, dicts, strings and numbers, and meshc never reads parser
state from anywhere but its own package, so no other user can plant one
(Lark's `cache=True` unpickled a predictable file in the temp directory).
Nothing is written at run time.

The file records the grammar's hash and the Lark version it was made with.
When either differs (a grammar edited without regenerating, another Lark
installed), the tables are built in memory from the grammar instead:
slower, never wrong.
"""

from __future__ import annotations

import functools
import hashlib
import json
from importlib import resources

import lark
from lark import Lark, Transformer
from lark.grammar import Rule
from lark.lexer import TerminalDef

OPTIONS = dict(parser="lalr", lexer="contextual", maybe_placeholders=True, keep_all_tokens=True)
TABLES = "mesh.tables.json"


@functools.cache
def grammar_text() -> str:
    return resources.files("meshc.grammar").joinpath("mesh.lark").read_text(encoding="utf-8")


def generate(grammar: str) -> str:
    """The tables file for `grammar`, built with the installed Lark."""
    data, memo = Lark(grammar, **OPTIONS).memo_serialize([TerminalDef, Rule])
    stamp = {"grammar_sha256": _digest(grammar), "lark": lark.__version__}
    # One key per line: the stamp stays readable at the top of the file.
    return "{\n" + ",\n".join(
        f"{json.dumps(key)}: {json.dumps(value, sort_keys=True, separators=(',', ':'))}"
        for key, value in (*stamp.items(), ("data", data), ("memo", memo))
    ) + "\n}\n"


def load(grammar: str, transformer: Transformer) -> Lark:
    """The parser for `grammar`, from the shipped tables when they match it."""
    try:
        text = resources.files("meshc.grammar").joinpath(TABLES).read_text(encoding="utf-8")
        tables = json.loads(text)
    except (OSError, ValueError):
        tables = None
    if tables is None or tables.get("grammar_sha256") != _digest(grammar) or tables.get("lark") != lark.__version__:
        return Lark(grammar, transformer=transformer, **OPTIONS)
    # JSON keeps only string keys; Lark keys its parse table's states, their
    # actions' tokens and its memo by integers. (A Lark whose layout differs
    # has another version, and never gets here.)
    table = tables["data"]["parser"]["parser"]
    table["tokens"] = {int(k): v for k, v in table["tokens"].items()}
    table["states"] = {int(k): {int(t): a for t, a in actions.items()} for k, actions in table["states"].items()}
    memo = {int(k): v for k, v in tables["memo"].items()}
    # Lark's own loader for serialised tables, as its standalone parsers use.
    return Lark._load_from_dict(tables["data"], memo, transformer=transformer)


def _digest(grammar: str) -> str:
    return hashlib.sha256(grammar.encode("utf-8")).hexdigest()
