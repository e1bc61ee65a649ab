"""The web page in a real browser: Debian's Chromium driven by Playwright, against the app over real HTTP.

Screenshots (desktop and phone width) are saved to ``artifacts/screenshots/`` as test artifacts.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from forkwise.evals.github_stub import GitHubStub
from forkwise.service.runs.usecases import load
from forkwise.service.settings import Settings
from tests.conftest import Server, demo_store
from tests.conftest import build as build_spec

pytestmark = pytest.mark.slow  # the real local model / Chromium

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = Path(__file__).resolve().parent.parent / "artifacts" / "screenshots"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Settings, GitHubStub]]:
    root = tmp_path_factory.mktemp("web")
    extra = build_spec(
        {
            "name": "webjob",
            "upstream": {"name": "neo/lib", "preset": "small"},
            "forks": [
                {"name": "amy/lib", "base": "up:6", "commits": [{"message": "ROCm", "files": {"r.py": "r\n"}}]},
                {"name": "bo/lib", "base": "up:2"},
            ],
        },
        root / "extra",
    )
    with GitHubStub() as gh:
        gh.add_network(extra)
        # the stub's file:// clone URLs stand in for github.com: the operator trusts them explicitly
        _net, _report, settings, _stats = demo_store(root, github_api_url=gh.url, trusted_sources=extra.root.as_uri())
        with Server(settings) as client:
            yield str(client.base_url).rstrip("/"), settings, gh


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield b
        b.close()


def offline_page(browser: Browser, base: str, **kw) -> tuple[Page, list[str]]:
    page = browser.new_page(**kw)
    outside: list[str] = []
    page.on("request", lambda r: None if r.url.startswith(base) or r.url.startswith("data:") else outside.append(r.url))
    return page, outside


def behind_column(page: Page) -> list[int]:
    vals = page.locator("#forks-table tbody tr:not([hidden])").evaluate_all("rows => rows.map(r => r.dataset.behind)")
    return [int(v) for v in vals]


def test_sort_select_fork_compare_and_open_evidence(site, browser: Browser) -> None:
    base, _settings, _gh = site
    SHOTS.mkdir(parents=True, exist_ok=True)
    page, outside = offline_page(browser, base, viewport={"width": 1366, "height": 900})
    page.goto(f"{base}/acme/trainer")
    expect(page.locator("#coverage")).to_contain_text("Coverage: 12 forks listed")
    marker = page.evaluate("window.forkwiseLoaded")
    # sort by "behind": descending first, then ascending
    page.get_by_role("button", name="Behind").click()
    vals = [v for v in behind_column(page) if v >= 0]
    assert vals == sorted(vals, reverse=True) and vals[0] > vals[-1]
    expect(page.locator("th", has_text="Behind")).to_have_attribute("aria-sort", "descending")
    page.get_by_role("button", name="Behind").click()
    vals = [v for v in behind_column(page) if v >= 0]
    assert vals == sorted(vals)
    # filter: recommendation = fork
    page.select_option("select[name=recommendation]", "fork")
    visible = page.locator("#forks-table tbody tr:not([hidden])").evaluate_all("rs => rs.map(r => r.dataset.name)")
    assert visible == ["carol/trainer"]
    expect(page.locator("#shown-count")).to_have_text("1 of 12 forks shown")
    page.select_option("select[name=recommendation]", "")
    # select a fork: the panel loads in place, the URL changes, no reload
    page.locator("#forks-table a[data-fork='habana-ai/trainer']").click()
    panel = page.locator("#panel")
    expect(panel).to_contain_text("fork-for-niche")
    expect(panel).to_contain_text("Choose this fork if…")
    expect(panel.locator(".evidence li").first).to_be_visible()
    assert page.url == f"{base}/acme/trainer/forks/habana-ai/trainer"
    assert page.evaluate("window.forkwiseLoaded") == marker  # same document: no reload
    assert panel.locator(".bars[role=img]").count() == 2  # by folder and by kind
    # open a citation: the cited evidence is highlighted and focused
    link = panel.locator("a.ev-link").first
    eid = link.get_attribute("data-evidence")
    link.click()
    item = page.locator(f"li[id='ev-{eid.replace(':', '-')}']")
    expect(item).to_have_class(re.compile(r"\bhl\b"))
    page.screenshot(path=str(SHOTS / "repo-desktop.png"), full_page=True)
    # two forks side by side
    page.locator("input.cmp[value='habana-ai/trainer']").check()
    page.locator("input.cmp[value='bigco/trainer']").check()
    page.get_by_role("button", name="Compare selected").click()
    expect(page.locator("#panel .fork-view")).to_have_count(2)
    assert page.url.startswith(f"{base}/acme/trainer/compare?a=")  # in table order
    assert {"a=habana-ai%2Ftrainer", "b=bigco%2Ftrainer"} <= set(re.split(r"[?&]", page.url)) or {
        "a=bigco%2Ftrainer",
        "b=habana-ai%2Ftrainer",
    } <= set(re.split(r"[?&]", page.url))
    page.go_back()
    expect(page.locator("#panel .fork-view")).to_have_count(1)
    assert outside == []  # every asset came from forkwise itself
    page.close()


def test_fork_url_works_without_javascript(site, browser: Browser) -> None:
    base, _s, _g = site
    ctx = browser.new_context(java_script_enabled=False)
    page = ctx.new_page()
    page.goto(f"{base}/acme/trainer/forks/carol/trainer")
    expect(page.locator("#panel")).to_contain_text("patch-fork")
    expect(page.locator("#panel")).to_contain_text("Choose this fork if…")
    page.fill("#chat-q", "does it fix the XSS in the report?")
    page.get_by_role("button", name="Ask").click()  # a plain GET form: the server renders the answer
    assert page.url.startswith(f"{base}/acme/trainer/forks/carol/trainer?q=")  # scoped to the fork shown
    expect(page.locator("#chat-answer .answer-text")).to_contain_text("carol/trainer")
    expect(page.locator("#chat-answer .citations a").first).to_contain_text("[1] carol/trainer")
    ctx.close()


def test_chat_streams_an_answer_with_a_citation_that_opens_the_evidence(site, browser: Browser) -> None:
    base, _s, _g = site
    page, outside = offline_page(browser, base, viewport={"width": 1366, "height": 900})
    page.goto(f"{base}/acme/trainer")
    page.fill("#chat-q", "which fork adds Gaudi support?")
    page.get_by_role("button", name="Ask").click()
    answer = page.locator("#chat-answer")
    expect(answer.locator(".answer-text")).to_contain_text("habana-ai/trainer")
    expect(answer).not_to_have_attribute("aria-busy", "true")
    first = answer.locator(".citations a").first
    expect(first).to_contain_text("[1] habana-ai/trainer")
    first.click()
    expect(page.locator("#panel")).to_contain_text("fork-for-niche")
    assert page.url.startswith(f"{base}/acme/trainer/forks/habana-ai/trainer")
    expect(page.locator("#panel .evidence li.hl")).to_have_count(1)
    assert outside == []
    page.close()


def test_phone_width_layout(site, browser: Browser) -> None:
    base, _s, _g = site
    page, _ = offline_page(browser, base, viewport={"width": 390, "height": 844}, is_mobile=True)
    page.goto(f"{base}/acme/trainer/forks/habana-ai/trainer")
    left = page.locator(".left").bounding_box()
    right = page.locator(".right").bounding_box()
    assert left and right and right["y"] > left["y"] + left["height"] - 1  # one column: panel below the list
    assert page.evaluate("document.documentElement.scrollWidth") <= 390 + 1  # no sideways scrolling
    page.screenshot(path=str(SHOTS / "repo-phone.png"), full_page=True)
    page.close()


@pytest.mark.parametrize(("width", "height", "name"), [(1366, 900, "laptop"), (390, 844, "phone")])
def test_every_fork_row_carries_its_one_line_verdict(
    site, browser: Browser, width: int, height: int, name: str
) -> None:
    base, settings, _g = site
    report = load(settings, "acme/trainer")
    want = {f.name: f.verdict.headline for f in report.forks if f.verdict}
    page, outside = offline_page(browser, base, viewport={"width": width, "height": height}, is_mobile=width < 500)
    page.goto(f"{base}/acme/trainer")
    rows = page.locator("#forks-table tbody tr")
    shown = {}
    for i in range(rows.count()):
        row = rows.nth(i)
        line = row.locator(".headline")
        if line.count():
            expect(line).to_be_visible()
            shown[row.get_attribute("data-name")] = line.inner_text()
    assert shown == want and len(want) == 11
    # the compare picker's checkboxes are described by the same line (screen readers read it with the name)
    box = page.locator("input.cmp[value='habana-ai/trainer']")
    assert page.locator("#" + box.get_attribute("aria-describedby")).inner_text() == want["habana-ai/trainer"]
    if width < 500:  # scannable on a phone: the secondary columns go, nothing scrolls sideways
        expect(page.locator("#forks-table th", has_text="Stars")).to_be_hidden()
        wrap = page.locator(".table-wrap")
        assert wrap.evaluate("w => w.scrollWidth <= w.clientWidth + 1")
        assert page.evaluate("document.documentElement.scrollWidth") <= width + 1
    page.screenshot(path=str(SHOTS / f"forks-headlines-{name}.png"), full_page=True)
    assert outside == []
    page.close()


def test_add_repository_and_watch_the_job_reach_done(site, browser: Browser) -> None:
    base, _s, _g = site
    page, outside = offline_page(browser, base, viewport={"width": 1280, "height": 800})
    page.goto(base + "/")
    expect(page.locator("#repo-list")).to_contain_text("acme/trainer")
    page.fill("#repo-search", "nothing-like-this")
    expect(page.locator("#repo-list li").first).to_be_hidden()
    page.fill("#repo-search", "")
    page.fill("#add-repo", "neo/lib")
    page.get_by_role("button", name="Summarize").click()
    job = page.locator("#job")
    expect(job.locator("progress[data-stage=resolve]")).to_be_attached()
    expect(job.locator(".status")).to_have_text("done", timeout=120_000)
    for stage in ("discover", "resolve", "fetch", "analyse", "index"):
        bar = job.locator(f"progress[data-stage={stage}]")
        assert bar.evaluate("p => p.value === p.max"), stage
    page.screenshot(path=str(SHOTS / "job-desktop.png"))
    job.locator("a.open-report").click()
    expect(page.locator("#coverage")).to_contain_text("2 forks listed; 1 prefiltered")
    assert outside == []
    page.close()


def test_at_1280_the_list_uses_the_width_until_a_fork_is_chosen(site, browser: Browser) -> None:
    """Issue 23, point 5: every column of the list in view at 1280 px; a chosen fork takes half the width and the
    list keeps Recommendation in view; "All forks" gives the width back; compare charts keep readable text; README
    changes rendered as Markdown, safely; the chat's example question comes from this repository's forks."""
    base, settings, _g = site
    SHOTS.mkdir(parents=True, exist_ok=True)
    page, outside = offline_page(browser, base, viewport={"width": 1280, "height": 800})
    page.goto(f"{base}/acme/trainer")

    def columns_in_view(names: list[str]) -> None:
        right = page.locator(".table-wrap").evaluate("w => w.getBoundingClientRect().right")
        assert page.locator(".table-wrap").evaluate("w => w.scrollWidth <= w.clientWidth + 1")
        for name in names:
            box = page.locator("#forks-table thead th", has_text=name).bounding_box()
            assert box is not None and box["width"] > 20, name
            assert box["x"] >= 0 and box["x"] + box["width"] <= min(right, 1280) + 1, (name, box, right)

    all_cols = ["Fork", "Ahead", "Behind", "Last commit", "Stars", "Archetype", "Recommendation"]
    columns_in_view(all_cols)
    assert page.locator(".table-wrap").bounding_box()["width"] > 850  # not squeezed into half the page
    expect(page.locator("#panel")).to_be_hidden()  # nothing chosen: no empty panel beside the list
    expect(page.locator("#chat-q")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 1281
    page.screenshot(path=str(SHOTS / "repo-1280.png"))
    from forkwise.service.surfaces.web import chat_placeholder

    report = load(settings, "acme/trainer")
    assert page.locator("#chat-q").get_attribute("placeholder") == chat_placeholder(report)
    # the report's one ranking: carol's fork to use first (no term), then bigco and habana-ai (both for a niche,
    # 5 commits upstream lacks; by name): bigco's FP8 is the first named thing
    assert [j.name for j in report.ranked()][:4] == [
        "carol/trainer", "bigco/trainer", "habana-ai/trainer", "frank/trainer-lite"
    ]  # fmt: skip
    assert chat_placeholder(report) == "Which fork supports FP8?"
    rows = page.locator("#forks-table tbody tr").evaluate_all("rs => rs.map(r => r.dataset.name)")
    assert rows[:4] == [j.name for j in report.ranked()][:4]  # the table opens in that ranking
    # choose a fork: the panel takes its half; the list drops the columns the panel shows
    page.locator("#forks-table a[data-fork='habana-ai/trainer']").click()
    expect(page.locator("#panel")).to_contain_text("Choose this fork if…")
    columns_in_view(["Fork", "Ahead", "Behind", "Recommendation"])
    expect(page.locator("#forks-table th", has_text="Stars")).to_be_hidden()
    page.screenshot(path=str(SHOTS / "repo-1280-chosen.png"))
    # README changes as Markdown: the alert's label and the emphasis rendered, nothing raw, nothing unsafe
    md = page.locator("#panel .readme .md").last
    expect(md.locator("blockquote strong").first).to_have_text("Note:")
    expect(md.locator("strong", has_text="Habana SynapseAI")).to_have_count(1)
    assert "[!NOTE]" not in md.inner_text() and "**" not in md.inner_text()
    # back to all forks: the width again
    page.get_by_role("link", name="← All forks").click()
    expect(page.locator("#panel")).to_be_hidden()
    assert page.url == f"{base}/acme/trainer"
    columns_in_view(all_cols)
    # compare: the charts' text keeps its size in the narrower columns
    page.locator("input.cmp[value='habana-ai/trainer']").check()
    page.locator("input.cmp[value='bigco/trainer']").check()
    page.get_by_role("button", name="Compare selected").click()
    expect(page.locator("#panel .fork-view")).to_have_count(2)
    label = page.locator("#panel .bar-label").first
    assert float(label.evaluate("e => parseFloat(getComputedStyle(e).fontSize)")) >= 12
    assert page.locator("#panel .bars").first.bounding_box()["width"] >= 250
    page.locator("#panel .charts").first.screenshot(path=str(SHOTS / "compare-charts-1280.png"))
    assert outside == []
    page.close()


def test_readme_markdown_is_rendered_safely() -> None:
    from forkwise.service.verdicts.prompts import markdown_block

    html = str(markdown_block(
        "Run **this**.\n\n> [!WARNING]\n> Slow.\n\n```sh\nmake\n```\n\n<script>alert(1)</script> "
        "![x](http://tracker.example/p.png) [bad](javascript:alert(1)) [ok](https://example.org)"
    ))  # fmt: skip
    assert "<strong>this</strong>" in html and "<strong>Warning:</strong>" in html
    assert "<pre><code>make\n</code></pre>" in html
    assert "<script>" not in html and "&lt;script&gt;" in html  # shown as text, never run
    assert "<img" not in html and "tracker.example" not in html and 'href="javascript' not in html
    assert '<a href="https://example.org" rel="nofollow noopener">ok</a>' in html
