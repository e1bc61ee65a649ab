"""``forkwise demo``: build the example network (real git repositories, no network) and summarize it."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import yaml

from forkwise.evals.builder import NetworkSpec, build_network
from forkwise.index.network import Progress, no_progress
from forkwise.service.runs.usecases import SummarizeRequest, summarize
from forkwise.service.settings import Settings
from forkwise.service.verdicts.models import Report
from forkwise.service.verdicts.report import write_report

DEMO_SPEC = Path(str(resources.files("forkwise.evals"))) / "demo.yaml"
"""The demo network; it doubles as an eval case (``forkwise eval`` scores it with the cases in ``evals/cases``)."""


def load_spec(path: Path) -> NetworkSpec:
    return NetworkSpec.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))


def run_demo(root: Path, settings: Settings, progress: Progress = no_progress) -> tuple[Report, list[Path], str | None]:
    """Build the demo network under ``root``, summarize it, write md/html/json reports; return them and, when
    indexing failed, why."""
    net = build_network(load_spec(DEMO_SPEC), root / "network")
    (root / "forks.toml").write_text(net.forks_toml())
    upstream, forks = net.inputs()
    req = SummarizeRequest(upstream=upstream, forks=forks, discover=False, as_of=net.as_of)
    result = summarize(req, settings, progress)
    report = result.report
    paths = [write_report(report, fmt, root / "reports" / f"report.{fmt}") for fmt in ("md", "html", "json")]
    return report, paths, result.vectors.error if result.vectors else None
