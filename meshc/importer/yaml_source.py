"""YAML files as plain data, with the position of every key and value.

Kubernetes reads manifests with go-yaml (YAML 1.1 scalars, duplicate keys
rejected); PyYAML's composer follows the same YAML 1.1 rules and, with
libyaml, composes a file's nodes in C, each with its line and column. The
nodes are turned into plain data here in one pass (ruamel's loaders are ten
to twenty times slower on thousands of documents) and dropped: the
position of a field is looked up only when a diagnostic needs it, in the
nodes of its file composed again then (kept, they would hold most of an
import's memory for the few files a report names).

Identical texts (the same manifest in several clusters' directories) are
parsed once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional, Sequence, Union

import yaml
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from meshc.language.source import SourceFile, Span

_Base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when the wheel has it


class _Loader(_Base):  # type: ignore[misc, valid-type]
    """The safe loader with its implicit tag resolution cached per scalar
    text (manifests repeat the same keys and values thousands of times) and
    without path resolvers (none is registered)."""

    _tags: dict[tuple[str, bool], str] = {}

    def resolve(self, kind, value, implicit):
        if kind is ScalarNode:
            key = (value, implicit[0])
            tag = self._tags.get(key)
            if tag is None:
                tag = self._tags[key] = _Base.resolve(self, kind, value, implicit)
            return tag
        return _Base.resolve(self, kind, value, implicit)

    def descend_resolver(self, current_node, current_index):
        pass

    def ascend_resolver(self):
        pass


_SCALARS = SafeConstructor()
_STR = "tag:yaml.org,2002:str"
_MERGE = "tag:yaml.org,2002:merge"
# Tags whose text Kubernetes keeps as a string: go-yaml decodes a timestamp
# into an `interface{}` as the text it was written with.
_AS_TEXT = frozenset({_STR, "tag:yaml.org,2002:timestamp"})
_CONSTRUCT = {
    "tag:yaml.org,2002:int": _SCALARS.construct_yaml_int,
    "tag:yaml.org,2002:float": _SCALARS.construct_yaml_float,
    "tag:yaml.org,2002:bool": _SCALARS.construct_yaml_bool,
    "tag:yaml.org,2002:null": _SCALARS.construct_yaml_null,
}

Path = tuple[Union[str, int], ...]


class YamlError(Exception):
    """A file that is not valid YAML, or holds what Kubernetes refuses to
    read (a key set twice): unreadable input, with where."""

    def __init__(self, message: str, span: Span):
        super().__init__(message)
        self.message = message
        self.span = span


@dataclass(frozen=True)
class Document:
    """One document of a YAML stream (`index` among its non-empty ones) and its data."""

    source: SourceFile
    index: int
    data: Any

    @property
    def node(self) -> Node:
        """The node the data came from (the file is composed again on first use)."""
        nodes = _NODES.get(self.source.text)
        if nodes is None:
            nodes = _NODES[self.source.text] = [node for _, node in _parse(self.source)]
        return nodes[self.index]

    def span(self, path: Path = ()) -> Span:
        """Where the field at `path` (keys and list indices from the
        document's root) is written: the key of a mapping entry, the item of
        a list; the nearest existing ancestor when the path goes further
        than the text."""
        node, key = self.node, None
        for step in path:
            found = _child(node, step)
            if found is None:
                break
            key, node = found
        return _span(self.source, key if key is not None else node)

    def value_span(self, path: Path) -> Span:
        """Where the value at `path` is written: the key's span when it is
        absent, or a block of several lines (a mapping or list)."""
        node = self.node
        for step in path:
            found = _child(node, step)
            if found is None:
                return self.span(path)
            node = found[1]
        if not isinstance(node, ScalarNode) and node.end_mark.line > node.start_mark.line:
            return self.span(path)
        return _span(self.source, node)


_PARSED: dict[str, list[Any]] = {}
_NODES: dict[str, list[Node]] = {}


def read_documents(source: SourceFile) -> list[Document]:
    """Every document of a YAML stream; YamlError when it cannot be read."""
    parsed = _PARSED.get(source.text)
    if parsed is None:
        parsed = _PARSED[source.text] = [data for data, _ in _parse(source)]
    return [Document(source, i, data) for i, data in enumerate(parsed)]


def _parse(source: SourceFile) -> list[tuple[Any, Node]]:
    out = []
    try:
        for node in yaml.compose_all(source.text, Loader=_Loader):
            data = None if node is None else _data(node, source, {})
            if data is not None:  # an empty document (`---` at the end of a stream)
                out.append((data, node))
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        where = _mark_span(source, mark) if mark is not None else source.span_at(0)
        raise YamlError(f"not valid YAML: {err.problem or err.context}", where) from None
    except yaml.YAMLError as err:
        raise YamlError(f"not valid YAML: {err}", source.span_at(0)) from None
    return out


def _data(node: Node, source: SourceFile, memo: dict[int, Any]) -> Any:
    """Plain data from a node (aliases share their anchor's value)."""
    seen = memo.get(id(node))
    if seen is not None:
        return seen
    if isinstance(node, ScalarNode):
        if node.tag in _AS_TEXT:
            return node.value
        construct = _CONSTRUCT.get(node.tag)
        try:
            return construct(node) if construct is not None else node.value
        except (ConstructorError, ValueError) as err:
            raise YamlError(f"cannot read the value `{node.value}`: {err}", _span(source, node)) from None
    if isinstance(node, SequenceNode):
        items: list = []
        memo[id(node)] = items
        items.extend(_data(item, source, memo) for item in node.value)
        return items
    if isinstance(node, MappingNode):
        mapping: dict = {}
        memo[id(node)] = mapping
        merged: dict = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:
                for part in _merged(value_node, source, memo):
                    for k, v in part.items():
                        merged.setdefault(k, v)
                continue
            if not isinstance(key_node, ScalarNode):
                raise YamlError("a mapping key that is not a scalar", _span(source, key_node))
            key = key_node.value
            if key in mapping:
                raise YamlError(f"the key `{key}` is set twice in one mapping (Kubernetes refuses the document)",
                                _span(source, key_node))
            mapping[key] = _data(value_node, source, memo)
        for k, v in merged.items():
            mapping.setdefault(k, v)
        return mapping
    raise YamlError(f"an unexpected YAML node {type(node).__name__}", _span(source, node))


def _merged(node: Node, source: SourceFile, memo: dict[int, Any]) -> list[dict]:
    """The mappings a `<<` merge key brings in, first one winning."""
    values = [node] if isinstance(node, MappingNode) else list(node.value) if isinstance(node, SequenceNode) else []
    out = [_data(v, source, memo) for v in values]
    if not out or not all(isinstance(v, dict) for v in out):
        raise YamlError("a `<<` merge key needs a mapping or a list of mappings", _span(source, node))
    return out


def _child(node: Node, step: Union[str, int]) -> Optional[tuple[Optional[Node], Node]]:
    """(key node, value node) of a mapping entry, (None, item) of a list item."""
    if isinstance(node, MappingNode) and isinstance(step, str):
        for key_node, value_node in node.value:
            if isinstance(key_node, ScalarNode) and key_node.value == step:
                return key_node, value_node
        return None
    if isinstance(node, SequenceNode) and isinstance(step, int) and 0 <= step < len(node.value):
        return None, node.value[step]
    return None


def _mark_span(source: SourceFile, mark) -> Span:
    return source.span_at(source.offset(mark.line + 1, mark.column + 1), 1)


def _span(source: SourceFile, node: Node) -> Span:
    """A node's extent on its first line (a block value runs over several)."""
    start = source.offset(node.start_mark.line + 1, node.start_mark.column + 1)
    if node.end_mark.line == node.start_mark.line:
        end = source.offset(node.end_mark.line + 1, node.end_mark.column + 1)
    else:
        end = source.offset(node.start_mark.line + 1, 10**9)
    return source.span_at(start, max(1, end - start))


def describe(path: Sequence[Union[str, int]]) -> str:
    """`spec.http[1].fault.delay`: a field path as users read it."""
    out = ""
    for step in path:
        out += f"[{step}]" if isinstance(step, int) else (f".{step}" if out else step)
    return out
