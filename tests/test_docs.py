"""The documentation's code examples run, and print what the documentation says they print.

Conventions for writing docs/*.md (and README.md):

* A block fenced as ```` ```python ```` (a ``title="..."`` may follow) is a
  complete program: it is written to ``app.py`` in a fresh temporary
  directory and run with ``runpy.run_path(..., run_name="__main__")``, so
  each block gets a module namespace of its own. Its ``assert`` statements
  check the claims the text makes.
* A block fenced as ```` ```text title="Output" ```` directly after a
  ``python`` block (blank lines between them are allowed) is that program's
  exact standard output, and is compared with it.
* A ``python`` block right under the line ``<!-- run alone -->`` is run in a
  process of its own (``python app.py``), for a claim about the whole process
  that other examples and tests, run in this one, could disturb (what the
  garbage collector finds, say).
* Fragments are fenced as ```` ```py ````: they are not run, only compiled
  (top-level ``await`` allowed) so that a typo cannot slip through.
  ```` ```pycon ```` and other languages are left alone.
"""

from __future__ import annotations

import ast
import contextlib
import io
import re
import runpy
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [*sorted((ROOT / "docs").glob("*.md")), ROOT / "README.md"]

# Fewer runnable examples than this means the collection broke, not that the docs shrank.
MINIMUM_EXAMPLES = 30

_OPENING = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^`]*)$")
_OUTPUT_TITLE = re.compile(r"""\btitle=["']Output["']""")


@dataclass(frozen=True, slots=True)
class Fence:
    """One fenced code block of a page."""

    page: str  # the page's file name
    line: int  # 1-based line of the opening fence
    end: int  # 1-based line of the closing fence
    language: str  # the first word of the info string: "python", "py", "text", ...
    info: str  # the whole info string
    code: str  # the content, with the fence's indentation removed
    alone: bool = False  # under a `<!-- run alone -->` line: run in a process of its own

    @property
    def name(self) -> str:
        return f"{self.page}:{self.line}"

    @property
    def is_output(self) -> bool:
        return self.language == "text" and _OUTPUT_TITLE.search(self.info) is not None


@dataclass(frozen=True, slots=True)
class Example:
    """A runnable ``python`` block and, if the page shows it, its expected output."""

    fence: Fence
    output: str | None


def read_fences(path: Path) -> list[Fence]:
    """Every fenced code block of a Markdown file, in order."""
    lines = path.read_text(encoding="utf-8").splitlines()
    fences: list[Fence] = []
    number = 0
    while number < len(lines):
        opening = _OPENING.match(lines[number])
        number += 1
        if opening is None:
            continue
        indent, marker, info = opening["indent"], opening["fence"], opening["info"].strip()
        closing = re.compile(rf"^[ \t]*{re.escape(marker[0])}{{{len(marker)},}}[ \t]*$")
        start = number
        while number < len(lines) and closing.match(lines[number]) is None:
            number += 1
        if number == len(lines):
            pytest.fail(f"{path.name}:{start}: the code fence opened here is never closed")
        body = [line.removeprefix(indent) for line in lines[start:number]]
        fences.append(
            Fence(
                page=path.name,
                line=start,
                end=number + 1,
                language=info.split(maxsplit=1)[0] if info else "",
                info=info,
                code="\n".join(body) + "\n",
                alone=start >= 2 and lines[start - 2].strip() == "<!-- run alone -->",
            )
        )
        number += 1
    return fences


def _adjacent(lines: list[str], before: Fence, after: Fence) -> bool:
    """Whether only blank lines separate two fences."""
    return all(not line.strip() for line in lines[before.end : after.line - 1])


def collect() -> tuple[list[Example], list[Fence], list[Fence]]:
    """(runnable examples, ``py`` fragments, ``Output`` blocks that follow no example)."""
    examples: list[Example] = []
    fragments: list[Fence] = []
    orphans: list[Fence] = []
    for path in PAGES:
        if not path.exists():
            continue
        lines = path.read_text(encoding="utf-8").splitlines()
        fences = read_fences(path)
        claimed: set[int] = set()
        for index, fence in enumerate(fences):
            if fence.language == "py":
                fragments.append(fence)
            if fence.language != "python":
                continue
            following = fences[index + 1] if index + 1 < len(fences) else None
            output = None
            if following is not None and following.is_output and _adjacent(lines, fence, following):
                output = following.code
                claimed.add(index + 1)
            examples.append(Example(fence, output))
        orphans.extend(f for i, f in enumerate(fences) if f.is_output and i not in claimed)
    return examples, fragments, orphans


EXAMPLES, FRAGMENTS, ORPHANS = collect()


def _params(items: list[Any], names: list[str]) -> list[Any]:
    return [pytest.param(item, id=name) for item, name in zip(items, names, strict=True)]


def test_the_examples_were_found() -> None:
    """The collection found the documentation's examples, on every page."""
    assert len(EXAMPLES) >= MINIMUM_EXAMPLES, [e.fence.name for e in EXAMPLES]
    assert [e.fence.page for e in EXAMPLES if e.fence.alone] == ["performance.md"]
    pages_with_examples = {example.fence.page for example in EXAMPLES}
    for page in sorted((ROOT / "docs").glob("*.md")):
        assert page.name in pages_with_examples, f"{page.name} has no runnable example"


def test_every_output_block_belongs_to_an_example() -> None:
    """An ``Output`` block that follows no ``python`` block would be a claim nothing checks."""
    assert not ORPHANS, [fence.name for fence in ORPHANS]


@pytest.mark.parametrize("example", _params(EXAMPLES, [e.fence.name for e in EXAMPLES]))
def test_example(example: Example, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The example runs to the end, and prints exactly its ``Output`` block if it has one."""
    script = tmp_path / "app.py"
    script.write_text(example.fence.code, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    if example.fence.alone:
        ran = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, check=False, timeout=120)
        assert ran.returncode == 0, ran.stderr
        output = ran.stdout
    else:
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            runpy.run_path(str(script), run_name="__main__")
        output = printed.getvalue()
    if example.output is not None:
        assert output == example.output


@pytest.mark.parametrize("fragment", _params(FRAGMENTS, [f.name for f in FRAGMENTS]))
def test_fragment_compiles(fragment: Fence) -> None:
    """A ``py`` fragment is not run, but it is valid Python (top-level ``await`` allowed)."""
    compile(fragment.code, fragment.name, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT, dont_inherit=True)
