"""Reading the exporter's own YAML files (the config and the web config).

One document of plain data (PyYAML's safe types), duplicate keys refused, nesting and alias
expansion bounded, and errors of one line that never quote the file: a misplaced password or
bcrypt hash must not end up in a terminal or a log.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

__all__ = ["MAX_DEPTH", "YAMLFileError", "read_yaml", "shown_key"]

# Real configs nest six or seven levels; PyYAML composes recursively and would hit Python's
# recursion limit (a RecursionError, not a config error) a few hundred levels down.
MAX_DEPTH = 64
# Aliases let a few lines stand for an exponential number of values ("billion laughs"), which
# the loader would then expand, copy and validate one by one. Merging a shared `defaults`
# anchor into every target grows a file a few times; more than this is an attack or a mistake.
_ALIAS_GROWTH = 10
_ALIAS_SLACK = 10_000

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class YAMLFileError(Exception):
    """The file is not usable YAML; the message is one line, starting with the file's path."""


def shown_key(key: object) -> str:
    """A mapping key as it may be printed in an error: a key that is neither short nor an
    identifier could be a secret written in the wrong place, and is not shown."""
    text = str(key)
    if (len(text) <= 4 and text.isprintable()) or _IDENTIFIER.fullmatch(text):
        return text
    return "<key not shown>"


class _Loader(yaml.SafeLoader):
    """A safe loader that rejects duplicate keys (PyYAML would silently let the last one win)
    and nesting deeper than MAX_DEPTH."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        """Compose one node, refusing to go deeper than MAX_DEPTH."""
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
                raise yaml.composer.ComposerError(
                    None, None, f"nested deeper than {MAX_DEPTH} levels", mark
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        """Construct one value; a value its explicit tag cannot read (`!!int hunter2`) is a
        ConstructorError at its line, not PyYAML's ValueError, which quotes the value."""
        try:
            return super().construct_object(node, deep)
        except (ValueError, TypeError, KeyError, AttributeError, OverflowError):
            tag = node.tag.removeprefix("tag:yaml.org,2002:")
            shown = f"!!{tag}" if tag != node.tag and _IDENTIFIER.fullmatch(tag) else "its tag"
            message = f"the value cannot be read as {shown} (not shown)"
            raise yaml.constructor.ConstructorError(None, None, message, node.start_mark) from None

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        """Construct a mapping, refusing a key given twice."""
        seen = set()
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag.endswith(":merge"):
                continue
            key = self.construct_object(key_node)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key '{shown_key(key)}'", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep)


def _measure(
    node: yaml.Node, depth: int, known: dict[int, tuple[int, int]], open_nodes: set[int]
) -> tuple[int, int]:
    """How many nodes `node` stands for once every alias is replaced by a copy, and how deep
    they nest: a chain of aliases nests deeper than the text does."""
    if id(node) in known:
        size, height = known[id(node)]
    else:
        if id(node) in open_nodes:
            raise YAMLFileError("an alias refers to a value that contains it")
        open_nodes.add(id(node))
        children: list[yaml.Node] = []
        if isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        elif isinstance(node, yaml.MappingNode):
            children = [part for pair in node.value for part in pair]
        size, height = 1, 1
        for child in children:
            child_size, child_height = _measure(child, depth + 1, known, open_nodes)
            size, height = size + child_size, max(height, child_height + 1)
        open_nodes.discard(id(node))
        known[id(node)] = size, height
    if depth + height - 1 > MAX_DEPTH:
        raise YAMLFileError(f"aliases nest values deeper than {MAX_DEPTH} levels")
    return size, height


# PyYAML quotes a tag or alias it cannot resolve, and an unquoted password that starts with
# ! or * is read as one: such a name must not be printed.
_YAML_NAME = re.compile(r"\b(tag|alias|tag handle) '[^']*'")


def _check_expansion(root: yaml.Node) -> None:
    known: dict[int, tuple[int, int]] = {}
    expanded, _ = _measure(root, 1, known, set())
    limit = _ALIAS_GROWTH * len(known) + _ALIAS_SLACK
    if expanded > limit:
        raise YAMLFileError(
            f"aliases expand the document to more than {limit} values (an alias bomb?)"
        )


def read_yaml(path: Path) -> Any:
    """Read `path` as one YAML document; raise :class:`YAMLFileError` when that fails.

    ``None`` for an empty file. The message says where (line and column) and what, never
    the text found there.
    """
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as error:
        raise YAMLFileError(f"{path}: cannot read: {error.strerror or error}") from None
    except UnicodeDecodeError:
        raise YAMLFileError(f"{path}: not UTF-8 text") from None
    try:
        loader = _Loader(text)
    except yaml.YAMLError as error:  # the reader refuses control characters before parsing
        raise YAMLFileError(f"{path}: {' '.join(str(error).split())}") from None
    try:
        root = loader.get_single_node()
        if root is None:
            return None
        _check_expansion(root)
        return loader.construct_document(root)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = "" if mark is None else f" line {mark.line + 1} column {mark.column + 1}:"
        message = error.problem or error.context or "not valid YAML"
        message = _YAML_NAME.sub(r"\1 (not shown: quote a value that starts with ! or *)", message)
        raise YAMLFileError(f"{path}:{where} {message}") from None
    except YAMLFileError as error:
        raise YAMLFileError(f"{path}: {error}") from None
    except yaml.YAMLError:
        raise YAMLFileError(f"{path}: not valid YAML") from None
    finally:
        loader.dispose()
