"""``forkwise demo``: build the example network (real git repositories, no network) and summarize it."""

from __future__ import annotations

from pathlib import Path

import yaml

from evals.builder import NetworkSpec, build_network
from index.network import Progress, no_progress
from index.settings import Settings
from service.models import Report
from service.pipeline import run
from service.report import write_report

DEMO_SPEC = Path(__file__).resolve().parent.parent / "evals" / "cases" / "demo.yaml"


def load_spec(path: Path) -> NetworkSpec:
    return NetworkSpec.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))


def run_demo(root: Path, settings: Settings, progress: Progress = no_progress) -> tuple[Report, list[Path]]:
    """Build the demo network under ``root``, summarize it, write md/html/json reports; return them."""
    net = build_network(load_spec(DEMO_SPEC), root / "network")
    (root / "forks.toml").write_text(net.forks_toml())
    upstream, forks = net.inputs()
    report, _stats = run(upstream, forks, settings, progress=progress, as_of=net.as_of)
    paths = [write_report(report, fmt, root / "reports" / f"report.{fmt}") for fmt in ("md", "html", "json")]
    return report, paths
