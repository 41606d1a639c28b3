"""Production code never imports the sandbox, except the demo/sandbox commands, lazily."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PRODUCTION = ["bot", "handlers", "rules"]


def _imports(path: Path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node, node.module



def test_production_code_does_not_import_the_sandbox():
    offenders = []
    for package in PRODUCTION:
        for path in (ROOT / package).rglob("*.py"):
            source_tree = ast.parse(path.read_text(encoding="utf-8"))
            top_lines = {n.lineno for n in source_tree.body}
            for node, name in _imports(path):
                if name == "sandbox" or name.startswith("sandbox."):
                    rel = path.relative_to(ROOT).as_posix()
                    # Only the CLI may reach the sandbox, and only inside the demo/sandbox commands.
                    if rel != "bot/cli.py" or node.lineno in top_lines:
                        offenders.append(f"{rel}:{node.lineno} imports {name}")
    assert offenders == []


def test_design_card_layout_exists():
    for name in ["pyproject.toml", "bot", "handlers", "rules", "tests", "manifest.yml", "README.md", ".ci/run",
                 "bot/adapters/hubspot.py", "bot/adapters/quickbooks.py", "docs/scenario.schema.json"]:
        assert (ROOT / name).exists(), name
