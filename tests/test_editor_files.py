"""Files generated for editors stay in step with their sources:

- meshc/lsp/keyword_help.json, the keyword help `meshc lsp` shows on hover,
  extracted from docs/language.md;

`pytest --update-golden` regenerates them.
"""

from __future__ import annotations

import json
import re

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
