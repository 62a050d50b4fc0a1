"""Drawing: providers with unusable annotations, a missing key needed twice, optional edges."""

from __future__ import annotations

from typing import TYPE_CHECKING

from injectq_like import Container

if TYPE_CHECKING:

    class NotAtRuntime:
        pass


class Settings:
    pass


class Clock:
    pass


class Report:
    def __init__(self, clock: Clock | None, settings: Settings) -> None:
        self.clock = clock


class Audit:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings


class Broken:
    def __init__(self, value: NotAtRuntime) -> None:
        self.value = value


def build() -> Container:
    container = Container()
    container.register(Clock)
    container.register(Report)
    container.register(Audit)
    container.register(Broken)
    return container


def test_text_marks_unusable_providers_optional_edges_and_one_missing_node() -> None:
    """An unusable provider is drawn and marked, an optional edge labelled, a missing key drawn once per need."""
    assert build().graph("text") == (
        "Report (TRANSIENT, class)\n"
        "├── [optional] Clock (TRANSIENT, class)\n"
        "└── Settings (missing)\n"
        "Audit (TRANSIENT, class)\n"
        "└── Settings (missing)\n"
        "Broken (TRANSIENT, class, unusable annotations)\n"
    )


def test_mermaid_and_dot_style_unusable_and_missing_nodes() -> None:
    """Both formats style the unusable provider and share one node for the missing key."""
    mermaid = build().graph("mermaid").splitlines()
    assert '    n3["Broken<br/><small>TRANSIENT, class, unusable annotations</small>"]:::broken' in mermaid
    assert '    m0["Settings<br/><small>missing</small>"]:::missing' in mermaid
    assert [line for line in mermaid if "-->" in line] == [
        "    n1 -->|optional| n0",
        "    n1 --> m0",
        "    n2 --> m0",
    ]
    dot = build().graph("dot").splitlines()
    assert '    n3 [label="Broken\\nTRANSIENT, class, unusable annotations", color="orange"];' in dot
    assert [line for line in dot if " -> " in line] == [
        '    n1 -> n0 [label="optional"];',
        "    n1 -> m0;",
        "    n2 -> m0;",
    ]


class Database:
    pass


class FakeDatabase(Database):
    pass


class Service:
    def __init__(self, database: Database) -> None:
        self.database = database


def test_drawing_does_not_freeze_and_a_frozen_container_is_drawn_as_it_resolves() -> None:
    """Before the first resolution, drawing leaves the registry open; after it, an active override is drawn."""
    container = Container()
    container.register(Service)
    assert container.graph("text") == "Service (TRANSIENT, class)\n└── Database (missing)\n"
    container.register(Database)  # still open for registration
    container.validate()
    with container.override(Database, FakeDatabase):
        assert container.graph("text") == (
            "Service (TRANSIENT, class)\n└── Database = FakeDatabase (TRANSIENT, class)\n"
        )
    assert container.graph("text") == "Service (TRANSIENT, class)\n└── Database (TRANSIENT, class)\n"
