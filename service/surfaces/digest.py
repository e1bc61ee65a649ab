"""`forkwise digest` as people read it: one Slack message per repository, or Markdown (the logic:
:mod:`forkwise.service.runs.digest`)."""

from __future__ import annotations

import json
from typing import Any

from forkwise.service.runs.digest import Digest, state_of
from forkwise.service.surfaces.slack import context, esc, header, link, section
from forkwise.service.verdicts.models import Report


def blocks(d: Digest, report: Report, public_url: str | None) -> list[dict[str, Any]]:
    out = [header(f"What changed in the forks of {d.repo}")]
    if d.baseline:
        n = len(state_of(report).forks)
        out.append(section(f"First digest for *{esc(d.repo)}*: {n} forks analysed; later digests report changes."))
    elif d.empty:
        out.append(section(f"No fork of *{esc(d.repo)}* changed since {d.since:%Y-%m-%d %H:%M} UTC."))
    for title, items in (
        ("Forks with new commits", d.new_commits),
        ("New forks worth a look", d.new_forks),
        ("Verdicts that changed", d.changed_verdicts),
    ):
        if items:
            out.append(
                section(
                    f"*{title}*\n"
                    + "\n".join(
                        f"• {link(c.url, c.fork)}: {esc(c.detail)}"
                        + (f"\n   _{esc(c.headline)}_" if c.headline else "")
                        for c in items
                    )
                )
            )
    if public_url:
        out.append(context(f"<{public_url.rstrip('/')}/{d.repo}|Full report>"))
    return out


def markdown(d: Digest) -> str:
    lines = [f"# What changed in the forks of {d.repo}"]
    if d.baseline:
        lines.append("First digest: baseline recorded.")
    for title, items in (("New commits", d.new_commits), ("New forks", d.new_forks), ("Changed", d.changed_verdicts)):
        lines += [f"- {title}: {c.fork}: {c.detail}" + (f" — {c.headline}" if c.headline else "") for c in items]
    return "\n".join(lines) + "\n"


def as_json(d: Digest) -> str:
    return json.dumps(d.model_dump(mode="json"), indent=2)
