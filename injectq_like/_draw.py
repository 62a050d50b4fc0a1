"""Drawing the dependency graph: Mermaid, Graphviz DOT, and a text tree for terminals.

Drawing never raises for a broken graph: a missing provider is drawn as a
node marked ``missing``, a provider whose annotations cannot be read as one
marked ``unusable annotations``, and a cycle is drawn as the edges it has.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final

from ._graph import Edge, Graph
from ._keys import base_of, describe
from ._providers import Kind, Provider
from ._signature import DepKind, callable_name
from .exceptions import AnnotationError

__all__ = ["FORMATS", "draw"]

FORMATS: Final = ("mermaid", "dot", "text")


@dataclass(frozen=True, slots=True)
class _Node:
    ident: str
    title: str  # the key
    detail: str  # lifetime and how it is made, or "missing"
    missing: bool = False
    broken: bool = False


@dataclass(frozen=True, slots=True)
class _Arrow:
    source: str
    target: str
    label: str  # "", "list", "lazy", "optional"


class _Picture:
    """Nodes and arrows of a graph, in registration order."""

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.nodes: dict[str, _Node] = {}
        self.arrows: list[_Arrow] = []
        self.children: dict[str, list[tuple[str, str]]] = {}
        idents = {id(p): f"n{n}" for n, p in enumerate(graph.providers)}
        for provider in graph.providers:
            ident = idents[id(provider)]
            self.nodes[ident] = _Node(ident, _title(provider), _detail(provider))
            self.children[ident] = []
        missing: dict[Any, str] = {}
        for provider in graph.providers:
            source = idents[id(provider)]
            try:
                edges = graph.edges(provider)
            except AnnotationError:
                node = self.nodes[source]
                self.nodes[source] = _Node(source, node.title, f"{node.detail}, unusable annotations", broken=True)
                continue
            for edge in edges:
                label = _label(edge)
                if edge.missing:
                    key = edge.dependency.key
                    target = missing.get(key)
                    if target is None:
                        target = missing[key] = f"m{len(missing)}"
                        self.nodes[target] = _Node(target, describe(key), "missing", missing=True)
                        self.children[target] = []
                    self._arrow(source, target, label)
                for provider_target in edge.targets:
                    self._arrow(source, idents[id(provider_target)], label)

    def _arrow(self, source: str, target: str, label: str) -> None:
        self.arrows.append(_Arrow(source, target, label))
        self.children[source].append((target, label))

    def roots(self) -> list[str]:
        """Nodes nothing depends on (or, for a graph that is all cycle, the first node)."""
        depended = {arrow.target for arrow in self.arrows}
        found = [ident for ident, node in self.nodes.items() if ident not in depended and not node.missing]
        if found or not self.nodes:
            return found
        return [next(iter(self.nodes))]


def _title(provider: Provider) -> str:
    title = describe(provider.key)
    if provider.kind is Kind.CLASS and provider.target is not None:
        implementation = callable_name(provider.target)
        if implementation != describe(base_of(provider.key)):
            title = f"{title} = {implementation}"
    return title


def _detail(provider: Provider) -> str:
    how = {Kind.CLASS: "class", Kind.INSTANCE: "instance", Kind.CONTEXT: "context value"}.get(provider.kind)
    if how is None:  # a factory: say which
        how = provider.describe()
    flags = [f for f, on in (("multi", provider.multi), ("autouse", provider.autouse), ("enter", provider.enter)) if on]
    return ", ".join([provider.scope.name, how, *flags])


def _label(edge: Edge) -> str:
    kind = edge.dependency.kind
    if kind is DepKind.LIST:
        return "list"
    if kind is DepKind.LAZY:
        return "lazy"
    if kind is DepKind.OPTIONAL or edge.use_default:
        return "optional"
    return ""


def draw(graph: Graph, form: str) -> str:
    """The graph drawn as ``"mermaid"``, ``"dot"`` or ``"text"``."""
    picture = _Picture(graph)
    if form == "mermaid":
        return "\n".join(_mermaid(picture)) + "\n"
    if form == "dot":
        return "\n".join(_dot(picture)) + "\n"
    if form == "text":
        return "\n".join(_text(picture)) + "\n"
    msg = f"unknown graph format {form!r}: use one of {', '.join(FORMATS)}"
    raise ValueError(msg)


def _quoted(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', "'")


def _mermaid(picture: _Picture) -> Iterator[str]:
    yield "graph TD"
    for node in picture.nodes.values():
        label = f"{_quoted(node.title)}<br/><small>{_quoted(node.detail)}</small>"
        style = ":::missing" if node.missing else ":::broken" if node.broken else ""
        yield f'    {node.ident}["{label}"]{style}'
    for arrow in picture.arrows:
        if arrow.label:
            yield f"    {arrow.source} -->|{arrow.label}| {arrow.target}"
        else:
            yield f"    {arrow.source} --> {arrow.target}"
    yield "    classDef missing stroke:#c00,stroke-dasharray:4 3,color:#c00"
    yield "    classDef broken stroke:#c60,color:#c60"


def _dot(picture: _Picture) -> Iterator[str]:
    yield "digraph injectq_like {"
    yield "    rankdir=LR;"
    yield '    node [shape=box, style=rounded, fontname="Helvetica"];'
    for node in picture.nodes.values():
        extra = ', style="dashed", color="red", fontcolor="red"' if node.missing else ""
        if node.broken:
            extra = ', color="orange"'
        yield f'    {node.ident} [label="{_quoted(node.title)}\\n{_quoted(node.detail)}"{extra}];'
    for arrow in picture.arrows:
        label = f' [label="{arrow.label}"]' if arrow.label else ""
        yield f"    {arrow.source} -> {arrow.target}{label};"
    yield "}"


def _text(picture: _Picture) -> Iterator[str]:
    shown: set[str] = set()

    def lines(ident: str, prefix: str, *, last: bool, label: str, top: bool, stack: tuple[str, ...]) -> Iterator[str]:
        node = picture.nodes[ident]
        branch = "" if top else ("└── " if last else "├── ")
        tag = f"[{label}] " if label else ""
        text = f"{prefix}{branch}{tag}{node.title} ({node.detail})"
        children = picture.children[ident]
        if ident in stack:
            yield f"{text} ↻ cycle"
            return
        if ident in shown and children:
            yield f"{text} (dependencies shown above)"
            return
        yield text
        shown.add(ident)
        inner = prefix if top else prefix + ("    " if last else "│   ")
        for n, (child, child_label) in enumerate(children):
            yield from lines(
                child, inner, last=n == len(children) - 1, label=child_label, top=False, stack=(*stack, ident)
            )

    for root in picture.roots():
        yield from lines(root, "", last=True, label="", top=True, stack=())
    for ident in picture.nodes:  # what only cycles reach
        if ident not in shown and not picture.nodes[ident].missing:
            yield from lines(ident, "", last=True, label="", top=True, stack=())
