"""The Slack bot: `/forkwise` and @mentions, answered from the same store, verdicts and chat chain as the API.

Bolt for Python, mounted in the FastAPI service at ``POST /slack/events`` (one process, one store). Bolt verifies
every request's signature and timestamp (stale → 401) before anything reads the body. Slash commands are
acknowledged at once and answered through ``response_url``; mentions are answered in their thread with
``chat.postMessage``. Events API retries are de-duplicated by ``event_id``. Long answers are split within Slack's
limits (50 blocks a message, 3,000 characters a section).

A signature proves a request came from Slack, not who pressed a button: reading (summaries, verdicts, answers) is
open to the workspace, but starting an index job is allowed only to the teams and users the operator lists in
``FORKWISE_SLACK_ALLOWED`` (none by default: the bot then only reads), under the same per-client job rate limit as
the API. Everything interpolated into mrkdwn is escaped, and links are http(s) only with their URL escaped.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import OrderedDict
from typing import Any
from urllib.parse import parse_qs, quote

from pydantic import BaseModel, ConfigDict, Field
from slack_bolt import App
from slack_bolt.authorization import AuthorizeResult
from slack_sdk import WebClient

from forkwise.index.names import full_names_in, http_link, is_full_name
from forkwise.index.sources import SourceError
from forkwise.service.runs.jobs import Job, Jobs, JobsBusy
from forkwise.service.runs.usecases import NotSummarized, answer, find_forks, load, start_job
from forkwise.service.settings import Settings
from forkwise.service.surfaces.guard import RateLimited, RateLimits
from forkwise.service.verdicts.chat import ChatAnswer, ChatService
from forkwise.service.verdicts.models import ForkReport, Report
from forkwise.service.verdicts.prompts import load_toml, text_env

log = logging.getLogger("forkwise.slack")

MAX_COMMAND = 2000  # characters of a slash command's text

MAX_BLOCKS = 50
MAX_SECTION = 3000
MAX_TEXT = 3000
USAGE = (
    "`/forkwise owner/repo` the top forks · `/forkwise owner/repo fork-owner` one fork's verdict · "
    "`/forkwise ask owner/repo <question>` a cited answer · `/forkwise help`"
)


def esc(text: object) -> str:
    """Slack mrkdwn control characters escaped (repository text is untrusted)."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": _cut(text, MAX_SECTION)}}


def context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": _cut(text, MAX_SECTION)}]}


def header(text: str) -> dict[str, Any]:
    return {"type": "header", "text": {"type": "plain_text", "text": _cut(text, 150)}}


def link(url: str | None, label: str) -> str:
    """``<url|label>`` for an http(s) URL (its ``&`` escaped; :func:`http_link` refuses ``<``, ``>``, ``|`` and
    spaces), else the label alone; the label escaped either way."""
    safe = http_link(url)
    return f"<{safe.replace('&', '&amp;')}|{esc(label)}>" if safe else esc(label)


def page_url(public_url: str | None, *names: str) -> str | None:
    """A link into this service's web page for repository names (each checked, %-encoded), or None."""
    if not public_url or not all(is_full_name(n) for n in names):
        return None
    return public_url.rstrip("/") + "/" + "/forks/".join(quote(n, safe="/") for n in names)


def split_messages(blocks: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Blocks in messages of at most 50; long sections split at line breaks into several sections."""
    flat: list[dict[str, Any]] = []
    for b in blocks:
        text = b.get("text", {}).get("text", "") if b["type"] == "section" else ""
        if len(text) <= MAX_SECTION - 100:
            flat.append(b)
            continue
        part = ""
        for line in text.splitlines(keepends=True):
            if len(part) + len(line) > MAX_SECTION - 100 and part:
                flat.append(section(part))
                part = ""
            part += line
        if part:
            flat.append(section(part))
    return [flat[i : i + MAX_BLOCKS] for i in range(0, len(flat), MAX_BLOCKS)] or [[]]


def fallback_text(blocks: list[dict[str, Any]]) -> str:
    parts = []
    for b in blocks:  # the message's top-level text is mrkdwn: a header's plain text is escaped to join it
        if b["type"] == "section":
            parts.append(b["text"]["text"])
        elif b["type"] == "header":
            parts.append(esc(b["text"]["text"]))
    return _cut("\n".join(parts), MAX_TEXT)


def _coverage_line(report: Report) -> str:
    return text_env().get_template("coverage.j2").render(r=report).strip()


def top_forks(report: Report, n: int = 8) -> list[ForkReport]:
    """The first ``n`` forks of the report's one ranking (:meth:`Report.ranked`)."""
    return [j.report for j in report.ranked()[:n]]


def summary_blocks(report: Report, public_url: str | None, n: int = 8) -> list[dict[str, Any]]:
    u = report.upstream
    blocks = [
        header(f"Forks of {u.name}"),
        section(
            f"*{link(u.web_url, u.name)}* `{esc(u.ref.removeprefix('refs/heads/'))}` at `{u.head[:7]}`, last commit "
            f"{u.last_commit_date.date().isoformat()}; {u.commits_90d} commits in 90 days.\n"
            + esc(_coverage_line(report))
        ),
        {"type": "divider"},
    ]
    for f in top_forks(report, n):
        v, facts = f.verdict, f.facts
        assert v and facts
        sections = (("Choose this fork if", v.choose_fork_if), ("Choose upstream if", v.choose_upstream_if))
        prefix, claims = next(((p, c) for p, c in (*sections, ("Note", v.risks)) if c), ("Note", []))
        line = claims[0].text if claims else v.summary
        blocks.append(
            section(
                f"*{link(f.web_url, f.name)}* · *{esc(v.use)}* · {f.archetype} · "
                f"{facts.ahead} ahead / {facts.behind} behind\n_{esc(v.headline)}_\n{prefix}: {esc(line)}"
            )
        )
    if report.shared:
        blocks.append(
            section(
                "*Changes several forks carry, which upstream lacks*\n"
                + "\n".join(f"• {esc(s.sentence)}" for s in report.shared[:3])
            )
        )
    full_url = page_url(public_url, u.name)
    full = f"{link(full_url, 'Full report')} · " if full_url else ""
    blocks.append(context(f"{full}facts as of {report.as_of.date()}"))
    return blocks


def fork_blocks(report: Report, f: ForkReport, public_url: str | None) -> list[dict[str, Any]]:
    v, facts = f.verdict, f.facts
    if v is None or facts is None:
        return [section(f"*{esc(f.name)}* was not analysed: {esc(f.error or f.skipped or 'no facts')}")]
    ev = {e.id: e for e in f.evidence}

    def claims(title: str, items: list) -> list[dict[str, Any]]:
        if not items:
            return []
        lines = []
        for c in items:
            refs = " ".join(link(ev[e].url if e in ev else None, e.split(":", 1)[0] + ":" + e.split(":", 1)[1][:12])
                            for e in c.evidence[:3])  # fmt: skip
            lines.append(f"• {esc(c.text)} ({refs})")
        return [section(f"*{title}*\n" + "\n".join(lines))]

    blocks = [
        header(f"{f.name} vs {report.upstream.name}"),
        section(
            f"*{esc(v.use)}* · {f.archetype} · confidence {v.confidence} · "
            f"{esc(v.breakdown.text) if v.breakdown else f'{facts.ahead} ahead'} / {facts.behind} behind · "
            f"last commit {facts.last_commit_date.date()}\n{esc(v.summary)}"
        ),
        *claims("Choose this fork if…", v.choose_fork_if),
        *claims("Choose upstream if…", v.choose_upstream_if),
        *claims("Risks", v.risks),
    ]
    if v.fallback_reason:
        blocks.append(context(f"Written by the facts writer because the {esc(v.fallback_reason)}"))
    cited = [ev[e] for e in v.evidence if e in ev][:10]
    if cited:
        blocks.append(context("Evidence: " + " · ".join(link(e.url, e.label) for e in cited)))
    # FORKWISE_PUBLIC_URL (or the address `serve` listens on): never a guess others cannot open; names checked
    if opened := page_url(public_url, report.upstream.name, f.name):
        blocks.append(context(link(opened, "Open in forkwise")))
    return blocks


def answer_blocks(ans: ChatAnswer) -> list[dict[str, Any]]:
    blocks = [section(esc(ans.answer))]
    for c in ans.citations:
        where = " ".join(x for x in (f"`{esc(c.path)}`" if c.path else "", f"`{c.sha[:7]}`" if c.sha else "") if x)
        first = c.snippet.splitlines()[0] if c.snippet else ""
        blocks.append(context(f"[{c.n}] {link(c.url, c.fork)} {where} {esc(_cut(first, 200))}"))
    if ans.note:
        blocks.append(context(esc(ans.note)))
    return blocks


def not_summarized_blocks(repo: str, can_index: bool = True) -> list[dict[str, Any]]:
    if not can_index:
        return [
            section(
                f"*{esc(repo)}* has not been summarized yet. This bot only reads here; ask whoever runs forkwise to "
                f"index it (`forkwise summarize {esc(repo)}`)."
            )
        ]
    return [
        section(f"*{esc(repo)}* has not been summarized yet. Index it now? It lists the forks and compares each one."),
        {
            "type": "actions",
            "elements": [
                {
                    "type": "button",
                    "text": {"type": "plain_text", "text": f"Index {_cut(repo, 60)}"},
                    "action_id": "forkwise_index",
                    "value": repo,
                    "style": "primary",
                }
            ],
        },
    ]


def help_blocks(extra: str | None = None) -> list[dict[str, Any]]:
    spec = load_toml("slack.toml")
    blocks = [section(spec["help"].strip())]
    if extra:
        blocks.insert(0, section(f":warning: {esc(extra)}"))
    return blocks


class Command(BaseModel):
    kind: str  # help, summary, fork, ask, error
    repo: str | None = None
    fork: str | None = None
    question: str | None = None
    error: str | None = None


def parse_command(text: str) -> Command:
    words = text.split()
    if not words or words[0].lower() == "help":
        return Command(kind="help")
    if words[0].lower() == "ask":
        if len(words) < 3 or not is_full_name(words[1]):
            return Command(kind="error", error="usage: /forkwise ask owner/repo <question>")
        return Command(kind="ask", repo=words[1], question=" ".join(words[2:]))
    if not is_full_name(words[0]):
        return Command(kind="error", error=f"{_cut(words[0], 80)!r} is not an owner/repo")
    if len(words) == 1:
        return Command(kind="summary", repo=words[0])
    if len(words) == 2:
        return Command(kind="fork", repo=words[0], fork=words[1])
    return Command(kind="error", error="too many words; to ask a question use /forkwise ask owner/repo <question>")


class _Seen:
    """event_ids answered recently (Slack retries after 0 s, 1 min and 5 min). With ``FORKWISE_BROKER_URL`` (several
    servers behind one Slack app: a retry may reach another server) the ids are claimed in that Redis, so exactly
    one server answers; if Redis cannot be reached, this server's own memory decides."""

    def __init__(self, ttl: float = 3600.0, size: int = 10_000, redis_url: str | None = None):
        self.ttl, self.size = ttl, size
        self._d: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()
        self._redis = None
        if redis_url:
            import redis

            self._redis = redis.Redis.from_url(redis_url, socket_timeout=2, socket_connect_timeout=2)

    def first_time(self, key: str) -> bool:
        if self._redis is not None:
            import redis

            try:
                return bool(self._redis.set(f"forkwise:slack:event:{key}", 1, nx=True, ex=int(self.ttl)))
            except redis.RedisError:
                log.warning("Slack event de-duplication: Redis unreachable, this server's memory decides")
        now = time.monotonic()
        with self._lock:
            while self._d and (len(self._d) > self.size or next(iter(self._d.values())) < now - self.ttl):
                self._d.popitem(last=False)
            if key in self._d:
                return False
            self._d[key] = now
            return True


class SlackAllowed:
    """Who may start work from Slack: ``FORKWISE_SLACK_ALLOWED`` lists team ids (``T…``, everyone in that
    workspace), user ids (``U…``/``W…``) or ``TEAM:USER`` pairs; ``*`` allows every signed request. Empty: nobody."""

    def __init__(self, spec: str):
        self.entries = {e.strip() for e in spec.split(",") if e.strip()}

    @property
    def anyone(self) -> bool:
        return bool(self.entries)

    def allows(self, team: str | None, user: str | None) -> bool:
        e = self.entries
        return "*" in e or (team or "-") in e or (user or "-") in e or f"{team}:{user}" in e


class SlackBot:
    """The bot's listeners: ``/forkwise`` (a summary, one fork's verdict, a cited answer), the "Index it" button
    (starts a job when ``FORKWISE_SLACK_ALLOWED`` lets the user) and mentions (a cited answer in the thread). Bolt
    calls the bound methods with the arguments they name (:func:`create_slack_app` registers them)."""

    def __init__(self, settings: Settings, chat: ChatService, jobs: Jobs, limits: RateLimits, client: WebClient):
        self.settings, self.chat, self.jobs, self.limits, self.client = settings, chat, jobs, limits, client
        self.allowed = SlackAllowed(settings.slack_allowed)
        self.seen = _Seen(redis_url=settings.broker_url)
        self.public = settings.public_url

    def post(self, channel: str, thread_ts: str | None, blocks: list[dict[str, Any]]) -> None:
        for part in split_messages(blocks):
            self.client.chat_postMessage(channel=channel, thread_ts=thread_ts, blocks=part, text=fallback_text(part))

    @staticmethod
    def reply(respond: Any, blocks: list[dict[str, Any]], in_channel: bool = True) -> None:
        for part in split_messages(blocks)[:5]:  # a response_url takes at most 5 replies
            respond(
                blocks=part,
                text=fallback_text(part),
                response_type="in_channel" if in_channel else "ephemeral",
                replace_original=False,
            )

    def answer_command(self, cmd: Command) -> list[dict[str, Any]]:
        assert cmd.repo
        try:
            report = load(self.settings, cmd.repo)
        except NotSummarized:
            return not_summarized_blocks(cmd.repo, self.allowed.anyone)
        if cmd.kind == "summary":
            return summary_blocks(report, self.public)
        if cmd.kind == "fork":
            hits = find_forks(report, cmd.fork or "")
            if not hits:
                names = ", ".join(f.name for f in top_forks(report, 5))
                return [section(f"No fork of {esc(cmd.repo)} by *{esc(cmd.fork)}*. Some forks: {esc(names)}")]
            if len(hits) > 1:
                return [section("Several forks match: " + ", ".join(esc(f.name) for f in hits))]
            return fork_blocks(report, hits[0], self.public)
        return answer_blocks(answer(self.chat, cmd.repo, cmd.question or ""))

    def command(self, ack: Any, command: dict[str, Any], respond: Any) -> None:
        """``/forkwise …``: acknowledged within 3 s, answered through ``respond``."""
        cmd = parse_command(command.get("text", ""))
        if cmd.kind == "help":
            ack(blocks=help_blocks(), text="forkwise help")
            return
        if cmd.kind == "error":
            ack(blocks=help_blocks(cmd.error), text=cmd.error or "")
            return
        ack(text=f"forkwise is looking at {cmd.repo}…")  # within 3 s; the work follows
        try:
            blocks = self.answer_command(cmd)
        except Exception as exc:  # say what failed rather than go quiet
            blocks = [section(f":x: forkwise failed: {esc(type(exc).__name__)}: {esc(str(exc)[:300])}")]
        self.reply(respond, blocks)

    def index_button(self, ack: Any, body: dict[str, Any], action: dict[str, Any], respond: Any) -> None:
        """ "Index it": a job for the repository, its result posted in the thread when it finishes."""
        ack()
        repo = str(action.get("value", ""))

        def refuse(why: str) -> None:
            respond(text=why, response_type="ephemeral", replace_original=False)

        if not is_full_name(repo):
            refuse("That is not an owner/repo.")
            return
        team = (body.get("team") or {}).get("id") or body.get("user", {}).get("team_id")
        user = (body.get("user") or {}).get("id")
        if not self.allowed.allows(team, user):
            log.warning("Slack: %s/%s may not start jobs (FORKWISE_SLACK_ALLOWED)", team, user)
            refuse(
                f"Not indexing {repo}: starting jobs from Slack is not allowed for you here "
                "(the operator lists who may in FORKWISE_SLACK_ALLOWED)."
            )
            return
        try:
            self.limits.hit("job", f"slack:{team}:{user}")
        except RateLimited as exc:
            refuse(f"Not indexing {repo}: {exc}")
            return
        channel = body.get("channel", {}).get("id") or body.get("container", {}).get("channel_id")
        thread = body.get("container", {}).get("message_ts") or body.get("message", {}).get("ts")

        def done(job: Job) -> None:
            if job.status == "done":
                blocks = summary_blocks(load(self.settings, repo), self.public)
            else:
                blocks = [section(f":x: indexing {esc(repo)} failed: {esc('; '.join(job.errors)[:1000])}")]
            if channel:
                self.post(channel, thread, blocks)

        try:
            job = start_job(self.jobs, repo, on_done=done)
        except (SourceError, JobsBusy) as exc:  # a policy refusal or a full queue: nothing started
            refuse(f"Not indexing {repo}: {exc}")
            return
        respond(
            text=f"Indexing {repo} (job {job.id}); I'll post the result in this thread.",
            response_type="in_channel",
            replace_original=False,
            thread_ts=thread,
        )

    def mention(self, event: dict[str, Any], body: dict[str, Any]) -> None:
        """``@forkwise which fork of owner/repo …``: a cited answer in the thread (each event answered once)."""
        if not self.seen.first_time(str(body.get("event_id") or event.get("client_msg_id") or event.get("ts"))):
            return  # a retry of an event we already answered
        text = re.sub(r"<@[A-Z0-9]+>", " ", event.get("text", "")).strip()
        channel, thread = event["channel"], event.get("thread_ts") or event["ts"]
        repos = full_names_in(text)
        if not repos:
            self.post(channel, thread, help_blocks("Name a repository as owner/repo, e.g. which fork of owner/repo …"))
            return
        repo = repos[0]
        try:
            self.post(channel, thread, answer_blocks(answer(self.chat, repo, text)))
        except NotSummarized:
            self.post(channel, thread, not_summarized_blocks(repo, self.allowed.anyone))
        except Exception as exc:
            failed = f":x: forkwise failed: {esc(type(exc).__name__)}: {esc(str(exc)[:300])}"
            self.post(channel, thread, [section(failed)])


def create_slack_app(settings: Settings, chat: ChatService, jobs: Jobs, limits: RateLimits | None = None) -> App:
    """The Bolt app: one workspace and one bot token (no ``auth.test`` round trip per request), the
    :class:`SlackBot`'s listeners registered on it."""
    token = settings.slack_bot_token or ""
    client = WebClient(token=token, base_url=settings.slack_api_url.rstrip("/") + "/")

    def authorize(enterprise_id: str | None = None, team_id: str | None = None, **_: Any) -> AuthorizeResult:
        return AuthorizeResult(enterprise_id=enterprise_id, team_id=team_id, bot_token=token, bot_user_id="UFORKWISE")

    app = App(
        signing_secret=settings.slack_signing_secret,
        client=client,
        authorize=authorize,
        token_verification_enabled=False,
        process_before_response=False,
        ssl_check_enabled=True,
        url_verification_enabled=True,
    )
    bot = SlackBot(settings, chat, jobs, limits or RateLimits(settings), client)
    app.command("/forkwise")(bot.command)
    app.action("forkwise_index")(bot.index_button)
    app.event("app_mention")(bot.mention)
    return app


class _Obj(BaseModel):
    model_config = ConfigDict(extra="allow")


class _Action(_Obj):
    action_id: str = ""
    value: str | None = None


class _Interaction(_Obj):
    type: str
    actions: list[_Action] = Field(default_factory=list, max_length=25)
    team: _Obj | None = None
    user: _Obj | None = None
    channel: _Obj | None = None
    container: _Obj | None = None
    message: _Obj | None = None


class _Event(_Obj):
    type: str


class _Callback(_Obj):
    type: str
    event: _Event | None = None
    challenge: str | None = None


def envelope_problem(body: bytes, content_type: str) -> str | None:
    """Why ``body`` is not a request Slack sends (an interaction, a slash command, an event), or None.

    Checked before Bolt sees it: Bolt answers a malformed but correctly signed body with an internal error.
    """
    try:
        text = body.decode("utf-8")
        if content_type.startswith("application/x-www-form-urlencoded"):
            form = parse_qs(text, keep_blank_values=True, strict_parsing=bool(text))
            if "payload" in form:
                _Interaction.model_validate_json(form["payload"][0])
            elif "command" not in form:
                return "a form without payload or command"
            elif len(form.get("text", [""])[0]) > MAX_COMMAND:
                return f"command text longer than {MAX_COMMAND} characters"
        elif content_type.startswith("application/json"):
            _Callback.model_validate_json(text)
        else:
            return f"unexpected content type {content_type[:60]!r}"
    except (UnicodeDecodeError, ValueError) as exc:  # pydantic's ValidationError is a ValueError
        return f"malformed Slack request: {str(exc).splitlines()[0][:200]}"
    return None
