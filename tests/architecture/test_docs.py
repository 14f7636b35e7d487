"""The documentation a reader is pointed at exists and points at real things: every
"docs/curriculum.md, A9"-style citation names a section of docs/curriculum.md, every test,
demo and preset the curriculum names exists, and no comment cites a file outside the repository."""

from __future__ import annotations

import re
from pathlib import Path

from glassgpt.config import PRESETS
from glassgpt.demos import list_demos

ROOT = Path(__file__).resolve().parents[2]
CURRICULUM = ROOT / "docs" / "curriculum.md"
SOURCES = [
    *sorted((ROOT / "glassgpt").rglob("*.py")),
    *sorted((ROOT / "tests").rglob("*.py")),
    *sorted((ROOT / "benchmarks").rglob("*.py")),
    ROOT / "README.md",
]


def labels() -> set[str]:
    return set(re.findall(r'<a id="([a-c]\d)"></a>', CURRICULUM.read_text(encoding="utf-8")))


def test_the_curriculum_has_every_section():
    assert labels() == {
        *(f"a{i}" for i in range(1, 10)),
        *(f"b{i}" for i in range(1, 5)),
        *(f"c{i}" for i in range(1, 7)),
    }


def test_every_citation_names_a_section_that_exists():
    known, cited, bad = labels(), 0, []
    for path in SOURCES:
        text = path.read_text(encoding="utf-8")
        for match in re.finditer(r"docs/curriculum\.md(?:, ([A-Z]\d+)((?: and [A-Z]\d+)*)|#(\w+))", text):
            names = [match.group(1), *re.findall(r"[A-Z]\d+", match.group(2) or ""), match.group(3)]
            for name in filter(None, names):
                cited += 1
                if name.lower() not in known:
                    bad.append(f"{path.relative_to(ROOT)}: {name}")
    assert cited > 20 and not bad, bad


#: notes that live outside the repository (spelled in two halves so this file does not cite them)
OUTSIDE = ("SEE" + "DS", "DESI" + "GN.md")


def test_no_comment_cites_a_file_outside_the_repository():
    found = [
        f"{p.relative_to(ROOT)}:{n}"
        for p in SOURCES
        for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
        if any(name in line for name in OUTSIDE)
    ]
    assert not found, found


def test_what_the_curriculum_names_exists():
    text = CURRICULUM.read_text(encoding="utf-8")
    tests = re.findall(r"`(tests/[\w/]+\.py)(?:::(\w+))?`", text)
    assert len(tests) > 20
    for path, name in tests:
        file = ROOT / path
        assert file.is_file(), path
        if name:
            assert re.search(rf"^def {name}\(", file.read_text(encoding="utf-8"), re.M), f"{path}::{name}"
    for short in re.findall(r"`(test_\w+\.py)`", text):  # short names listed after a full tests/ path
        assert list((ROOT / "tests").rglob(short)), short
    demos = {name for name, _ in list_demos()}
    for demo in re.findall(r"`glassgpt demo ([a-z][\w-]*)", text):  # NAME in the intro is a placeholder
        assert demo in demos, demo
    for preset in re.findall(r"--preset (\w+)", text):
        assert preset in PRESETS, preset
    for bench in re.findall(r"`(benchmarks/\w+\.py)`", text):
        assert (ROOT / bench).is_file(), bench


def test_the_readme_starts_with_the_two_commands_and_ci_runs_the_second():
    """The README's first code block is exactly two commands: the main job (train, which ends
    with a sample) and the test suite; .ci/run runs the second one verbatim."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    first = re.search(r"```bash\n(.*?)```", text, re.S)
    assert first is not None and text.index("```bash") < text.index("\n## ")
    commands = [line for line in first.group(1).splitlines() if line.strip()]
    assert len(commands) == 2, commands
    assert "glassgpt train" in commands[0] and "pytest" in commands[1]
    assert commands[1] in (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
