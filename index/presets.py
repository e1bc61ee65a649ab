"""A standard small upstream that cases can start from (``upstream: {preset: small, ...}``)."""

from __future__ import annotations

from typing import Any

SMALL: dict[str, Any] = {
    "name": "acme/engine",
    "commits": [
        {
            "message": "Initial import",
            "days_ago": 400,
            "tag": "v0.1.0",
            "files": {
                "README.md": "# engine\n\nA tiny numerical engine.\n\n## Install\n\npip install engine\n\n"
                "## Usage\n\nimport engine\n",
                "LICENSE": "MIT License\n\nPermission is hereby granted, free of charge, to any person\n",
                "pyproject.toml": '[project]\nname = "engine"\nversion = "0.1.0"\n',
                "engine/__init__.py": "from engine.core import run\n",
                "engine/core.py": {"lines": 120, "prefix": "core"},
                "engine/ops.py": {"lines": 90, "prefix": "ops"},
                "engine/io.py": {"lines": 60, "prefix": "io"},
                "engine/backends/__init__.py": "BACKENDS = ['cpu']\n",
                "engine/backends/cpu.py": {"lines": 70, "prefix": "cpu"},
                "tests/test_core.py": {"lines": 40, "prefix": "t"},
                "docs/index.md": "# engine docs\n",
                ".github/workflows/ci.yml": "on: [push]\n",
            },
        },
        {"message": "Vectorise ops", "days_ago": 360, "files": {"engine/ops.py": {"lines": 95, "prefix": "ops2"}}},
        {"message": "Add CSV reader", "days_ago": 300, "files": {"engine/io.py": {"lines": 70, "prefix": "io2"}}},
        {
            "message": "Release 1.0",
            "days_ago": 250,
            "tag": "v1.0.0",
            "files": {"pyproject.toml": '[project]\nname = "engine"\nversion = "1.0.0"\n'},
        },
        {
            "message": "Faster core loop",
            "days_ago": 180,
            "files": {"engine/core.py": {"lines": 125, "prefix": "core2"}},
        },
        {
            "message": "Add parquet support",
            "days_ago": 120,
            "files": {"engine/parquet.py": {"lines": 50, "prefix": "pq"}},
        },
        {
            "message": "Release 1.1",
            "days_ago": 60,
            "tag": "v1.1.0",
            "files": {"pyproject.toml": '[project]\nname = "engine"\nversion = "1.1.0"\n'},
        },
        {"message": "Document the io module", "days_ago": 20, "files": {"docs/io.md": "# io\n\nReaders.\n"}},
    ],
}

PRESETS = {"small": SMALL}


def expand(data: dict[str, Any]) -> dict[str, Any]:
    """Replace ``upstream: {preset: NAME, extra: [...], name: ...}`` by the preset's history plus extras."""
    up = data.get("upstream", {})
    if "preset" not in up:
        return data
    base = PRESETS[up["preset"]]
    commits = [dict(c) for c in base["commits"]] + list(up.get("extra", []))
    shift = up.get("shift_days", 0)
    if shift:
        for c in commits[: len(base["commits"])]:
            c["days_ago"] = c["days_ago"] + shift
    return {**data, "upstream": {"name": up.get("name", base["name"]), "commits": commits}}
