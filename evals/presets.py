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
                "LICENSE": {"license": "MIT"},
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


def _large() -> dict[str, Any]:
    """A realistic-size upstream, ``acme/turbine`` (a training library): about 200 files and 8,000 lines of
    code-like text over a shared vocabulary, and 70 commits with the subjects real projects have (fixes, tests,
    docs, CI, version bumps, PR numbers), the last one 30 days ago."""
    import random

    modules = {
        "turbine/ops": "adam lamb softmax layer_norm gelu matmul transformer quantizer fused_bias rotary",
        "turbine/runtime": "engine config utils lr_schedules dataloader state_dict bf16_optimizer fp16_optimizer "
        "swap_tensor activation_checkpointing hybrid_engine weight_quantizer",
        "turbine/runtime/zero": "stage1 stage2 stage3 partition_parameters offload_config linear tiling "
        "contiguous_memory",
        "turbine/runtime/pipe": "engine module schedule topology p2p",
        "turbine/comm": "comm backend torch utils reduce_op",
        "turbine/accelerator": "abstract_accelerator cuda_accelerator cpu_accelerator real_accelerator",
        "turbine/checkpoint": "universal zero_to_fp32 reshape constants utils",
        "turbine/profiling": "flops_profiler config timer",
        "turbine/inference": "engine config kernels model_implementations quantization",
        "turbine/launcher": "launch runner multinode_runner constants",
        "op_builder": "builder fused_adam cpu_adam transformer quantizer all_ops",
    }
    files: dict[str, Any] = {
        "README.md": "# Turbine\n\nTurbine is a deep learning optimization library for distributed training and "
        "inference.\n\n## Installation\n\npip install turbine\n\n## Getting started\n\nSee docs/.\n\n"
        "## Features\n\nZeRO stages 1-3, pipeline parallelism, mixed precision, fused optimizers.\n",
        "LICENSE": {"license": "Apache-2.0"},
        "setup.py": "from setuptools import setup\nsetup(name='turbine', version=open('version.txt').read())\n",
        "version.txt": "0.9.0\n",
        "requirements/requirements.txt": "numpy\npackaging\npsutil\npydantic\ntorch\ntqdm\n",
        ".github/workflows/unit.yml": "name: unit\non: [push, pull_request]\njobs:\n  test:\n    runs-on: ubuntu\n",
        ".github/workflows/nightly.yml": "name: nightly\non: schedule\n",
        ".github/workflows/formatting.yml": "name: formatting\non: [pull_request]\n",
    }
    paths: list[str] = []
    for folder, names in modules.items():
        for name in names.split():
            path = f"{folder}/{name}.py"
            files[path] = {"lines": 40, "code": [], "seed": path}
            paths.append(path)
            test = f"tests/unit/{folder.split('/')[-1]}/test_{name}.py"
            files[test] = {"lines": 25, "code": ["test", "assert", "fixture"], "seed": test}
            files[test.replace("/test_", "/test_more_")] = {"lines": 20, "code": ["test", "mock"], "seed": test + "2"}
    for name in "adam lamb softmax layer_norm gelu quantizer".split():
        files[f"turbine/ops/csrc/{name}.cpp"] = {"lines": 30, "code": ["cuda", "kernel"], "seed": name + ".cpp"}
    for page in "getting-started config-json training inference features install zero pipeline".split():
        files[f"docs/_pages/{page}.md"] = f"# {page.replace('-', ' ').title()}\n\nHow to use {page} with Turbine.\n"
    for ex in "train_bert train_gpt inference_llama".split():
        files[f"examples/{ex}.py"] = {"lines": 30, "code": [], "seed": ex}
    rnd = random.Random(42)
    subjects = [
        "Fix typo in {doc} docs (#{pr})",
        "Add unit test for {mod} (#{pr})",
        "Refactor {mod} (#{pr})",
        "Improve {mod} performance (#{pr})",
        "Fix {mod} when world size is 1 (#{pr})",
        "Update nightly workflow",
        "Support bf16 in {mod} (#{pr})",
        "Remove unused imports in {mod}",
        "Fix flaky test in {mod} (#{pr})",
    ]
    commits: list[dict[str, Any]] = [{"message": "Initial import", "days_ago": 700, "tag": "v0.9.0", "files": files}]
    n = 70
    for i in range(1, n):
        path = rnd.choice(paths)
        mod = path.rsplit("/", 1)[-1].removesuffix(".py")
        subject = rnd.choice(subjects).format(mod=mod, doc=rnd.choice(["config", "zero", "install"]), pr=100 + i * 7)
        change: dict[str, Any] = {path: {"lines": 40 + i % 9, "code": [], "seed": f"{path}@{i}"}}
        if i == 33:
            subject, change = (
                "Document Gaudi install (#331)",
                {"docs/_pages/install.md": "# Install\n\npip install turbine\n\nOn Gaudi, use the vendor image.\n"},
            )
        if i % 20 == 0:
            version = f"0.{9 + i // 20}.0"
            subject, change = f"Release {version}", {"version.txt": f"{version}\n"}
        commit: dict[str, Any] = {"message": subject, "days_ago": 700 - i * 9.5, "files": change}
        if i % 20 == 0:
            commit["tag"] = f"v{version}"
        commits.append(commit)
    return {"name": "acme/turbine", "commits": commits}


PRESETS = {"small": SMALL, "large": _large()}


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
