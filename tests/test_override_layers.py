"""Override layers: what counts as built from the overridden key (collections, shared paths,
lazy edges), and providers with unusable annotations on the side.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from injectq_like import Container, Lazy, Scope

if TYPE_CHECKING:

    class NotAtRuntime:
        pass


class Database:
    pass


class FakeDatabase(Database):
    pass


class Exporter:
    pass


class CsvExporter(Exporter):
    def __init__(self, database: Database) -> None:
        self.database = database


class JsonExporter(Exporter):
    pass


class Report:
    """Needs the database directly and through the CSV exporter."""

    def __init__(self, database: Database, exporters: list[Exporter]) -> None:
        self.database = database
        self.exporters = exporters


class Later:
    def __init__(self, database: Lazy[Database]) -> None:
        self.database = database


class Broken:
    def __init__(self, value: NotAtRuntime) -> None:
        self.value = value


@pytest.mark.anyio
async def test_an_override_reaches_collections_shared_paths_and_lazy_handles() -> None:
    """Overriding the database rebuilds the collection member and the report that need it; a lazy handle
    resolves in the layer active when it is awaited; an unusable provider elsewhere is left alone.
    """
    container = Container()
    container.register(Database, scope=Scope.APP)
    container.register(Exporter, CsvExporter, multi=True)
    container.register(Exporter, JsonExporter, multi=True)
    container.register(Report, scope=Scope.APP)
    container.register(Later)
    container.register(Broken)

    original = await container.resolve(Report)
    assert type(original.database) is Database
    with container.override(Database, FakeDatabase):
        report = await container.resolve(Report)
        assert report is not original
        assert type(report.database) is FakeDatabase
        csv, json = report.exporters
        assert isinstance(csv, CsvExporter)
        assert csv.database is report.database
        assert type(json) is JsonExporter
        later = await container.resolve(Later)
        assert await later.database() is report.database
    assert await container.resolve(Report) is original
    later = await container.resolve(Later)
    assert await later.database() is original.database
