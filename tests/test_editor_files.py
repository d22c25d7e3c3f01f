"""Files generated for editors stay in step with their sources:

- meshc/lsp/keyword_help.json, the keyword help `meshc lsp` shows on hover,
  extracted from docs/language.md;
- editors/vscode/syntaxes/mesh.tmLanguage.json, the VS Code grammar, its
  keywords and values read from the parser;
- editors/vscode/test/*.mesh.test, the examples with an assertion for every
  token, as meshc's own lexer reads it (tests/test_vscode.py runs them; not
  named .mesh, so that `meshc fmt` never moves their assertion lines);

`pytest --update-golden` regenerates them.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

from helpers import ROOT

from meshc.lsp import vocabulary

LANGUAGE_DOC = ROOT / "docs" / "language.md"
KEYWORD_HELP = ROOT / "meshc" / "lsp" / "keyword_help.json"


# ------------------------------------------------------------ keyword help
def _blocks(text: str) -> list[tuple[str, str, list[str]]]:
    """docs/language.md as (section heading, kind, lines) blocks, where kind
    is `table`, `code`, `yaml` or `para`."""
    out, section, lines, i = [], "", text.splitlines(), 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("#"):
            section = line.lstrip("#").strip()
            i += 1
        elif line.startswith("```"):
            end = lines.index("```", i + 1)
            out.append((section, "yaml" if line[3:].strip() == "yaml" else "code", lines[i + 1:end]))
            i = end + 1
        elif line.startswith("|") or line.strip():
            table = line.startswith("|")
            j = i
            while j < len(lines) and lines[j].strip() and lines[j].startswith("|") == table \
                    and not lines[j].startswith(("#", "```")):
                j += 1
            out.append((section, "table" if table else "para", lines[i:j]))
            i = j
        else:
            i += 1
    return out


def _cells(row: str) -> list[str]:
    return [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", row.strip().strip("|"))]


def _starts_with(code: str, keyword: str) -> bool:
    return re.match(re.escape(keyword) + r"(?![a-z0-9-])", code.strip()) is not None


def _about(section: str, keyword: str) -> bool:
    """A section about the keyword: its heading names the construct
    ("Routes", "Fleet", "External services", not "Route options") or
    shows the keyword ("Matching (`when`)", "`defaults { POLICY... }`")."""
    words = section.lower().split() or [""]
    names = words[0] == keyword + "s" or (words[0] == keyword and words[1:] in ([], ["services"]))
    return names or f"`{keyword}`" in section or section.startswith(f"`{keyword} ")


def _help_for(blocks, keyword: str) -> list[tuple[str, str]]:
    """(section, markdown) entries that explain `keyword`: the introduction
    of a section about it, table rows and paragraphs that start with it,
    examples that start with it and the paragraph explaining them; else
    commented example lines (`max-connections 100  # connectionPool...`)."""
    found: list[tuple[str, str]] = []
    intro_done = set()
    for n, (section, kind, lines) in enumerate(blocks):
        about = _about(section, keyword)
        if about and section not in intro_done:
            intro_done.add(section)
            intro = []
            for _, k, body in (b for b in blocks[n:] if b[0] == section):
                if k == "code":
                    intro.append("```mesh\n" + "\n".join(body) + "\n```")
                elif k == "para":
                    intro.append(" ".join(body))
                    break
            found.append((section, "\n\n".join(intro)))
        if kind == "table":
            head = _cells(lines[0])
            for row in lines[2:]:
                cells = _cells(row)
                if any(_starts_with(code, keyword) for code in re.findall(r"`([^`]+)`", cells[0])):
                    label = "" if head[1] == "meaning" else f"{head[1]}: "
                    found.append((section, f"{cells[0]} — {label}{cells[1]}"))
        elif kind == "para" and re.match(r"`([^`]+)`", lines[0]) and _starts_with(lines[0][1:], keyword):
            found.append((section, " ".join(lines)))
        elif kind == "code" and about and lines and _starts_with(lines[0], keyword) and n + 1 < len(blocks):
            after = blocks[n + 1]
            if after[1] == "para" and after[0] == section:
                found.append((section, "```mesh\n" + "\n".join(lines) + "\n```\n\n" + " ".join(after[2])))
    if not found:
        for section, kind, lines in blocks:
            for line in lines if kind == "code" else ():
                m = re.match(r"\s*(" + re.escape(keyword) + r"(?![a-z0-9-])[^#]*?)\s+#\s*(.+)", line)
                if m:
                    found.append((section, f"`{m.group(1)}` — {m.group(2)}"))
    return list(dict.fromkeys(found))


def keyword_help_text() -> str:
    blocks = _blocks(LANGUAGE_DOC.read_text(encoding="utf-8"))
    out = {}
    for keyword in sorted(set(vocabulary.keywords().values())):
        entries = _help_for(blocks, keyword)
        if entries:
            sections = ", ".join(f"“{s}”" for s in dict.fromkeys(section for section, _ in entries))
            out[keyword] = f"**`{keyword}`** (docs/language.md: {sections})\n\n" + \
                "\n\n".join(text for _, text in entries)
    return json.dumps(out, indent=1, ensure_ascii=False, sort_keys=True) + "\n"


def test_keyword_help_is_current(golden):
    golden.check(KEYWORD_HELP, keyword_help_text())


def test_statement_keywords_have_help():
    help = json.loads(KEYWORD_HELP.read_text(encoding="utf-8"))
    for keyword in ("fleet", "namespace", "service", "route", "when", "to", "canary", "blue-green", "mirror",
                    "gateway", "expose", "external", "mtls", "allow", "defaults", "timeout", "retry", "fault",
                    "circuit-breaker", "lb", "tls", "failover", "distribute", "on", "in", "subset", "subsets",
                    "port", "header", "cookie", "path", "method", "query", "source", "eject", "max-connections"):
        assert keyword in help, keyword


# --------------------------------------------------------- TextMate grammar
VSCODE = ROOT / "editors" / "vscode"
TM_GRAMMAR = VSCODE / "syntaxes" / "mesh.tmLanguage.json"
GRAMMAR_TESTS = VSCODE / "test"

# Declarations: the keyword, then the name it declares and that name's scope.
DECLARATIONS = {
    "fleet": "entity.name.section.fleet.mesh",
    "cluster": "entity.name.section.cluster.mesh",
    "namespace": "entity.name.namespace.mesh",
    "service": "entity.name.type.service.mesh",
    "gateway": "entity.name.type.gateway.mesh",
    "route": "entity.name.function.route.mesh",
    "subset": "entity.name.tag.subset.mesh",
}
# Keywords followed by the name of a header, cookie or query parameter.
KEYED = ("header", "cookie", "query")
# Keywords that take `= VALUE` themselves, so are not label keys (`path = "/x"`).
NOT_LABELS = ("path", "method")
_EDGE_BEFORE, _EDGE_AFTER = r"(?<![A-Za-z0-9_-])", r"(?![A-Za-z0-9_-])"
_NAME = r"[A-Za-z_][A-Za-z0-9_-]*"
_LABEL_KEY = r"[A-Za-z0-9][A-Za-z0-9_./-]*"


def _words(words) -> str:
    return "|".join(re.escape(w) for w in sorted(set(words), key=lambda w: (-len(w), w)))


def _declaration(keyword: str, scope: str) -> dict:
    # Every declaration but `cluster` opens a block on its line; `service X`
    # without one is a destination, `subset X` a service's subset.
    block = "" if keyword == "cluster" else r"(?=\s*(?:global\s*)?\{)"
    return {"match": f"{_EDGE_BEFORE}({keyword})\\s+({_NAME}){block}",
            "captures": {"1": {"name": "keyword.other.mesh"}, "2": {"name": scope}}}


def tm_grammar_text() -> str:
    """The TextMate grammar, its word lists read from the parser (vocabulary.py)."""
    keywords = set(vocabulary.keywords().values())
    values = {v for vs in vocabulary.values().values() for v in vs}
    protocols = vocabulary.values()["PROTOCOL"]
    grammar = {
        "$schema": "https://raw.githubusercontent.com/martinring/tmlanguage/master/tmlanguage.json",
        "name": "mesh",
        "scopeName": "source.mesh",
        "fileTypes": ["mesh"],
        "comment": "Generated from meshc's grammar by tests/test_editor_files.py (pytest --update-golden).",
        "patterns": [{"include": f"#{name}"} for name in (
            "comment", "string", "expected-route", "declaration", "port", "keyed", "subsets", "priority", "label",
            "number", "host", "keyword", "value", "method", "operator", "punctuation")],
        "repository": {
            "comment": {"match": "(#).*$", "name": "comment.line.number-sign.mesh",
                        "captures": {"1": {"name": "punctuation.definition.comment.mesh"}}},
            "string": {"begin": '"', "end": '"|$', "name": "string.quoted.double.mesh",
                       "beginCaptures": {"0": {"name": "punctuation.definition.string.begin.mesh"}},
                       "endCaptures": {"0": {"name": "punctuation.definition.string.end.mesh"}},
                       "patterns": [{"match": r'\\["\\]', "name": "constant.character.escape.mesh"}]},
            "declaration": {"patterns": [_declaration(k, s) for k, s in DECLARATIONS.items()]},
            # a test's `expect route NAME` names a route (that may be spelt like a keyword)
            "expected-route": {"match": f"{_EDGE_BEFORE}(expect)\\s+(route)\\s+({_NAME})",
                               "captures": {"1": {"name": "keyword.other.mesh"}, "2": {"name": "keyword.other.mesh"},
                                            "3": {"name": DECLARATIONS["route"]}}},
            "port": {"match": f"{_EDGE_BEFORE}(port)\\s+([0-9]+)\\s+({_words(protocols)}){_EDGE_AFTER}",
                     "captures": {"1": {"name": "keyword.other.mesh"}, "2": {"name": "constant.numeric.mesh"},
                                  "3": {"name": "constant.language.mesh"}}},
            "keyed": {"match": f"{_EDGE_BEFORE}({_words(KEYED)})\\s+({_NAME})",
                      "captures": {"1": {"name": "keyword.other.mesh"}, "2": {"name": "variable.other.key.mesh"}}},
            "subsets": {"match": f"{_EDGE_BEFORE}(subsets)\\s+(by)\\s+({_LABEL_KEY})",
                        "captures": {"1": {"name": "keyword.other.mesh"}, "2": {"name": "keyword.other.mesh"},
                                     "3": {"name": "variable.other.label.mesh"}}},
            # `failover priority KEY[=VALUE]...`: label keys to the end of the line,
            # even those spelt like keywords (`region`, `network`).
            "priority": {"begin": f"{_EDGE_BEFORE}(failover)\\s+(priority){_EDGE_AFTER}", "end": "(?=#)|$",
                         "beginCaptures": {"1": {"name": "keyword.other.mesh"}, "2": {"name": "keyword.other.mesh"}},
                         "patterns": [{"include": "#string"}, {"match": f"(?<![A-Za-z0-9_./-]){_LABEL_KEY}",
                                                               "name": "variable.other.label.mesh"},
                                      {"include": "#operator"}]},
            "label": {"match": f"(?<![A-Za-z0-9_./-])(?!(?:{_words(NOT_LABELS)}){_EDGE_AFTER})({_LABEL_KEY})"
                               r'\s*(?==[^=])',
                      "captures": {"1": {"name": "variable.other.label.mesh"}}},
            "number": {"match": r"(?<![A-Za-z0-9_.-])[0-9]+(?:\.[0-9]+)?(?:ms|s|m|h|%)?(?![A-Za-z0-9_.%-])",
                       "name": "constant.numeric.mesh"},
            "host": {"match": r"(?<![A-Za-z0-9_.*-])(?:\*\.)?[A-Za-z0-9_][A-Za-z0-9_-]*(?:\.[A-Za-z0-9_][A-Za-z0-9_-]*)+"
                              r"(?![A-Za-z0-9_.-])",
                     "name": "string.unquoted.host.mesh"},
            "keyword": {"match": f"{_EDGE_BEFORE}(?:{_words(keywords)}){_EDGE_AFTER}", "name": "keyword.other.mesh"},
            "value": {"match": f"{_EDGE_BEFORE}(?:{_words(values - keywords)}){_EDGE_AFTER}",
                      "name": "constant.language.mesh"},
            "method": {"match": f"{_EDGE_BEFORE}[A-Z]+{_EDGE_AFTER}", "name": "constant.language.method.mesh"},
            "operator": {"match": r"->|\^=|>=|<=|=|~", "name": "keyword.operator.mesh"},
            "punctuation": {"patterns": [
                {"match": r"\{", "name": "punctuation.section.block.begin.mesh"},
                {"match": r"\}", "name": "punctuation.section.block.end.mesh"},
                {"match": ",", "name": "punctuation.separator.mesh"},
            ]},
        },
    }
    return json.dumps(grammar, indent=2, ensure_ascii=False) + "\n"


def test_textmate_grammar_is_current(golden):
    golden.check(TM_GRAMMAR, tm_grammar_text())


# ------------------------------------------------------ grammar test files
def _tokens(text: str):
    """The tokens meshc's own lexer reads (comments included), in order."""
    from lark import Token

    interactive = vocabulary.lark().parse_interactive(text)
    conf = copy.copy(interactive.parser_state.parse_conf)
    conf.callbacks = {}  # only the tokens matter: no syntax nodes
    interactive.parser_state.parse_conf = conf
    tokens = list(interactive.iter_parse())
    for m in re.finditer(r'"(?:[^"\\\n]|\\.)*"|(#[^\n]*)', text):
        if m.group(1):
            line = text.count("\n", 0, m.start()) + 1
            column = m.start() - (text.rfind("\n", 0, m.start()) + 1) + 1
            tokens.append(Token("COMMENT", m.group(1), m.start(), line, column))
    return sorted(tokens, key=lambda t: t.start_pos)


def _expected_scope(tokens, i: int) -> str:
    """The scope the TextMate grammar must give token i: read from the
    parser's token types (and, for names, the token before), an
    independent reading of the same text. `- X` means "not X"."""
    tok = tokens[i]
    before = tokens[i - 1].type if i else None
    after = tokens[i + 1].type if i + 1 < len(tokens) else None
    keywords, values = vocabulary.keywords(), vocabulary.values()
    if tok.type == "COMMENT":
        return "comment.line.number-sign.mesh"
    if tok.type == "STRING":
        return "string.quoted.double.mesh"
    if tok.type in ("INT", "PERCENT", "DURATION", "VERSION"):
        return "constant.numeric.mesh"
    if tok.type in keywords:
        return "keyword.other.mesh"
    if tok.type in values:
        return "constant.language.mesh"
    if tok.type == "METHOD":
        return "constant.language.method.mesh"
    if tok.type == "LABEL_KEY":
        return "variable.other.label.mesh"
    if tok.type in ("HOSTNAME", "ADDRESS") and "." in tok:
        return "string.unquoted.host.mesh"
    if tok.type == "NAME" and before == "ROUTE" and i > 1 and tokens[i - 2].type == "EXPECT":
        return DECLARATIONS["route"]
    if tok.type == "NAME" and before in ("HEADER", "COOKIE", "QUERY"):
        return "variable.other.key.mesh"
    if tok.type == "NAME" and before and keywords.get(before) in DECLARATIONS and \
            (before == "CLUSTER" or after in ("LBRACE", "GLOBAL")):
        return DECLARATIONS[keywords[before]]
    punctuation = {"LBRACE": "punctuation.section.block.begin.mesh", "RBRACE": "punctuation.section.block.end.mesh",
                   "COMMA": "punctuation.separator.mesh"}
    if tok.type in punctuation:
        return punctuation[tok.type]
    if tok.type in vocabulary.punctuation() or tok.type == "STRING_OP":
        return "keyword.operator.mesh"
    return "- keyword.other.mesh constant.language.mesh"


def grammar_test_text(example: Path) -> str:
    """An example with an assertion line under each of its lines for every
    token on it, for vscode-tmgrammar-test."""
    text = example.read_text(encoding="utf-8")
    tokens = _tokens(text)
    by_line: dict[int, list[str]] = {}
    for i, tok in enumerate(tokens):
        column, length = tok.column - 1, len(tok)
        scope = _expected_scope(tokens, i)
        mark = f"# <{'-' * length}" if column == 0 else "#" + " " * (column - 1) + "^" * length
        by_line.setdefault(tok.line, []).append(f"{mark} {scope}")
    out = [f'# SYNTAX TEST "source.mesh" "{example.name}"']
    for number, line in enumerate(text.split("\n")[:-1], start=1):
        out.append(line)
        out += by_line.get(number, [])
    return "\n".join(out) + "\n"


EXAMPLES = sorted((ROOT / "examples").glob("*.mesh"))


def test_grammar_tests_are_current(golden):
    """One test file per example, its assertions read from meshc's lexer."""
    golden.check_tree(GRAMMAR_TESTS, {f"{e.name}.test": grammar_test_text(e) for e in EXAMPLES})


def test_grammar_tests_hold_the_examples_unchanged():
    for example in EXAMPLES:
        kept = [line for line in (GRAMMAR_TESTS / f"{example.name}.test").read_text(encoding="utf-8").split("\n")
                if not re.match(r"#\s*(\^|<-)|# SYNTAX TEST", line)]
        assert "\n".join(kept) == example.read_text(encoding="utf-8")
