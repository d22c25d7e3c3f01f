"""The grammar's LALR tables, shipped in the package.

Building the tables from `grammar/mesh.lark` takes longer than all the rest
of a small `meshc check`, so they are generated once and kept next to the
grammar as `grammar/mesh.tables.json` (`pytest --update-golden` rewrites it;
a test fails when it is stale). JSON, not a pickle: loading it can build
nothing but lists, dicts, strings and numbers, and meshc never reads parser
state from anywhere but its own package, so no other user can plant one
(Lark's `cache=True` unpickled a predictable file in the temp directory).
Nothing is written at run time.

Valid texts are parsed without Lark, by lalr.py, from tables of its own
(`grammar/mesh.lalr.json`) that `generate_driver` takes from a Lark parser
built from the grammar; Lark's tables serve syntax errors and the language
server. Lark is imported only when they are used.

The file records the grammar's hash and the Lark version it was made with.
When either differs (a grammar edited without regenerating, another Lark
installed), the tables are built in memory from the grammar instead:
slower, never wrong.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lark import Lark, Transformer

OPTIONS = dict(parser="lalr", lexer="contextual", maybe_placeholders=True, keep_all_tokens=True)
TABLES = "mesh.tables.json"


@functools.cache
def grammar_text() -> str:
    return package_text("mesh.lark")


def package_text(name: str) -> str:
    """A file of the grammar's package, read beside the package's module
    when that is a directory on disk (importlib.resources, whose imports
    cost more than the read in a small `check`, otherwise)."""
    from meshc import grammar

    path = os.path.join(os.path.dirname(grammar.__file__ or ""), name)
    if grammar.__file__ and os.path.isfile(path):
        with open(path, encoding="utf-8") as f:
            return f.read()
    from importlib import resources

    return resources.files("meshc.grammar").joinpath(name).read_text(encoding="utf-8")


@functools.cache
def grammar_digest() -> str:
    return digest(grammar_text())


def generate(grammar: str) -> str:
    """The tables file for `grammar`, built with the installed Lark."""
    import lark
    from lark.grammar import Rule
    from lark.lexer import TerminalDef

    data, memo = lark.Lark(grammar, **OPTIONS).memo_serialize([TerminalDef, Rule])
    stamp = {"grammar_sha256": digest(grammar), "lark": lark.__version__}
    return _json_lines((*stamp.items(), ("data", data), ("memo", memo)))


def _json_lines(items) -> str:
    # One key per line: the stamp stays readable at the top of the file.
    return "{\n" + ",\n".join(
        f"{json.dumps(key)}: {json.dumps(value, sort_keys=True, separators=(',', ':'))}" for key, value in items
    ) + "\n}\n"


def generate_driver(grammar: str) -> str:
    """lalr.py's tables for `grammar`, read off a Lark parser built from it:
    the parse table, each state's lexer as Lark's contextual lexer builds it
    (the terminals in the order its scanner tries them, and the keywords it
    retypes from a name that matched one: Lark's `_create_unless`), and each
    rule's child shaping (Lark's `maybe_create_child_filter` with all tokens
    kept and placeholders)."""
    import lark

    parser = lark.Lark(grammar, **OPTIONS)
    table = parser.parser.parser.parser.parse_table
    contextual = parser.parser.lexer
    assert sorted(table.states) == list(range(len(table.states))), "states are numbered 0..n-1"
    lexers: list = []
    lexer_index: dict[int, int] = {}
    rules: list = []
    rule_index: dict = {}
    states = []
    for state in range(len(table.states)):
        basic = contextual.lexers[state]
        if id(basic) not in lexer_index:
            lexer_index[id(basic)] = len(lexers)
            scanner = basic.scanner  # builds the scanner and the retyping callbacks
            unless = {name: {t.pattern.value: t.name for t in callback.scanner.terminals}
                      for name, callback in sorted(basic.callback.items())}
            lexers.append([[t.name for t in scanner.terminals if t.name not in basic.ignore_types], unless])
        actions = {}
        for symbol, (action, arg) in sorted(table.states[state].items()):
            symbol = "_END" if symbol == "$END" else symbol  # lalr.END: a regex group's name
            if action.name == "Shift":
                actions[symbol] = arg
            else:
                if arg not in rule_index:
                    rule_index[arg] = len(rules)
                    rules.append(_rule(arg))
                actions[symbol] = ~rule_index[arg]
        states.append([lexer_index[id(basic)], actions])
    terminals = {t.name: t.pattern.to_regexp() for t in parser.terminals}
    assert "_END" not in terminals
    ignore = sorted(parser.ignore_tokens)
    newline = sorted(name for name in terminals if name not in ignore and _may_hold_newline(terminals[name]))
    return _json_lines((
        ("grammar_sha256", digest(grammar)), ("lark", lark.__version__),
        ("start", table.start_states["start"]), ("end", table.end_states["start"]),
        ("ignore", ignore), ("anonymous", sorted(anonymous_terminals(grammar, parser.terminals))),
        ("newline", newline), ("terminals", terminals), ("lexers", lexers), ("rules", rules), ("states", states),
    ))


def _rule(rule) -> list:
    """[callback, origin, size, plan, tail]: the plan says per symbol of the
    expansion whether it is an inlined rule whose children take its place
    and how many Nones (absent optionals) come before it; tail, how many
    come after the last. No plan: the children are passed as they are."""
    callback = rule.alias or rule.options.template_source or rule.origin.name
    assert callback.startswith("_") == rule.origin.name.startswith("_"), rule
    assert not rule.options.expand1, f"`?{rule.origin.name}` is not supported by lalr.py"
    empty = rule.options.empty_indices
    if empty:
        ones = "".join(str(int(b)) for b in empty).split("0")
        nones = [len(run) for run in ones]
    else:
        nones = [0] * (len(rule.expansion) + 1)
    expand = [not sym.is_term and sym.name.startswith("_") for sym in rule.expansion]
    plan = None
    if empty or any(expand):
        plan = [[int(e), n] for e, n in zip(expand, nones)]
    return [callback, rule.origin.name, len(rule.expansion), plan, nones[-1] if plan else 0]


def _may_hold_newline(regexp: str) -> bool:
    """Lark's test (lexer._regexp_has_newline) for terminals whose tokens
    move the line count."""
    return "\n" in regexp or "\\n" in regexp or "\\s" in regexp or "[^" in regexp or ("(?s" in regexp and "." in regexp)


def anonymous_terminals(grammar: str, terminals) -> frozenset:
    """Terminals that stand for keywords and punctuation: those the grammar
    does not name itself."""
    named = set(re.findall(r"^([A-Z_]+)(?:\.\d+)?\s*:", grammar, re.M))
    return frozenset(t.name for t in terminals if t.name not in named)


def load(grammar: str, transformer: Transformer) -> Lark:
    """The parser for `grammar`, from the shipped tables when they match it."""
    import lark

    try:
        text = package_text(TABLES)
        tables = json.loads(text)
    except (OSError, ValueError):
        tables = None
    if tables is None or tables.get("grammar_sha256") != digest(grammar) or tables.get("lark") != lark.__version__:
        return lark.Lark(grammar, transformer=transformer, **OPTIONS)
    # JSON keeps only string keys; Lark keys its parse table's states, their
    # actions' tokens and its memo by integers. (A Lark whose layout differs
    # has another version, and never gets here.)
    table = tables["data"]["parser"]["parser"]
    table["tokens"] = {int(k): v for k, v in table["tokens"].items()}
    table["states"] = {int(k): {int(t): a for t, a in actions.items()} for k, actions in table["states"].items()}
    memo = {int(k): v for k, v in tables["memo"].items()}
    # Lark's own loader for serialised tables, as its standalone parsers use.
    return lark.Lark._load_from_dict(tables["data"], memo, transformer=transformer)


def digest(grammar: str) -> str:
    return hashlib.sha256(grammar.encode("utf-8")).hexdigest()
