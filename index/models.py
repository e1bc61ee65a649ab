"""Facts about a fork, as read from git. Plain, immutable values.

Identity: a commit is its full SHA; a file change is its path (the new path for a rename); a README section
is its heading text. Every value here comes from one git plumbing call and is never recomputed elsewhere.
Every fact can be cited as evidence by an ID (``commit:<sha>``, ``file:<path>``, ``readme:<section>``,
``fact:<name>``); :mod:`index.evidence` builds the catalogue those IDs resolve against.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from forkwise.index.sources import NoCredentials
from forkwise.index.terms import TermScore

FileKind = Literal["source", "tests", "docs", "ci", "build", "vendored", "binary", "other"]
ChangeStatus = Literal["added", "modified", "deleted", "renamed", "copied", "type-changed"]


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class CommitFact(Frozen):
    sha: str
    subject: str
    author: str
    date: datetime = Field(description="Committer date.")
    files: list[str] = Field(default_factory=list)
    is_merge: bool = False
    upstream_equivalent: bool = Field(
        default=False, description="Its patch already exists upstream (git cherry-mark / patch-id)."
    )
    security: bool = Field(default=False, description="A security fix on strong evidence (see security_evidence).")
    security_evidence: str | None = Field(
        default=None,
        description="Why it is a security fix: the advisory ids its message names (CVE, GHSA, PYSEC, RUSTSEC, "
        "GO-, OSV), or an advisory database record.",
    )
    counterpart: Literal["holds", "lacks", "unknown"] | None = Field(
        default=None,
        description="Whether the other side (upstream, for a fork's commit; the fork, for upstream's) holds this "
        "commit's change, judged by the content of its files; checked for security fixes and a small fork's commits.",
    )
    landed_as: str | None = Field(default=None, description="The other side's commit with the same change, if found.")
    parents: list[str] = Field(default_factory=list)
    patch: str | None = Field(
        default=None,
        description="What its patch changes (files, and the lines added and removed per file, whitespace-normalised), "
        "hashed: two commits with the same value made the same change, whatever their SHAs. None for a merge, or a "
        "patch of trivial lines only.",
    )


class FileChange(Frozen):
    path: str
    old_path: str | None = None
    status: ChangeStatus
    added: int | None = Field(description="Lines added; None for binary files.")
    deleted: int | None
    binary: bool = False
    size: int | None = Field(default=None, description="Blob size in bytes on the fork (None if deleted).")
    blob: str | None = Field(default=None, description="The file's blob id on the fork (None if deleted).")
    kind: FileKind
    top: str = Field(description="Top-level folder, or '.' for files at the root.")
    copied: bool = Field(
        default=False,
        description="The fork's version is one upstream has had at this path (or upstream deleted it too): "
        "copied or ported from upstream, not the fork's own work.",
    )


class GroupStat(Frozen):
    files: int = 0
    added: int = 0
    deleted: int = 0


class ReadmeSection(Frozen):
    heading: str
    change: Literal["added", "removed", "changed"]
    excerpt: str = Field(description="First lines of the fork's text (or upstream's, if removed). Untrusted.")
    markdown: str = Field(default="", description="The same first lines as written (Markdown, line breaks kept).")


class ReadmeDiff(Frozen):
    path: str | None
    changed: bool
    title_before: str | None = None
    title_after: str | None = None
    sections: list[ReadmeSection] = Field(default_factory=list)
    added_text: str = Field(default="", description="Lines the fork added, capped. Untrusted repository text.")


class LicenseInfo(Frozen):
    path: str | None = Field(description="The licence file, or the manifest whose metadata names the licence.")
    spdx: str | None = Field(description="SPDX id by text comparison or metadata; 'unknown' when neither tells.")


NO_LICENSE = LicenseInfo(path=None, spdx=None)


class LicenseChange(Frozen):
    changed: bool = Field(description="Both sides' licences are known and differ (a renamed file is no change).")
    before: LicenseInfo
    after: LicenseInfo


class PackageInfo(Frozen):
    manifest: str
    name: str | None
    version: str | None
    description: str | None = Field(default=None, description="The manifest's own description or summary. Untrusted.")
    license: str | None = Field(
        default=None, description="The licence its metadata names, as an SPDX id (None when it names none precisely)."
    )


class PackageChange(Frozen):
    manifest: str
    before: PackageInfo | None
    after: PackageInfo | None
    name_changed: bool
    version_changed: bool


class Statement(Frozen):
    """One sentence in which a fork says what it is or adds, quoted from a file it changed. Untrusted text."""

    kind: Literal["readme", "notes", "changelog", "package", "forge", "commit", "branch"]
    text: str
    evidence: str = Field(description="The evidence ID the sentence comes from (readme:…, file:…, fact:…, commit:…).")
    source: str = Field(description='Where it was said, for a person: "its README", "FORK.md", "commit 216264f".')


class BranchFact(Frozen):
    name: str
    head: str
    ahead: int
    last_commit_date: datetime


class UpstreamGain(Frozen):
    commits: int
    first_date: datetime | None
    last_date: datetime | None
    notable: list[CommitFact] = Field(default_factory=list, description="Security and fix commits, newest first.")


class FirstConflict(Frozen):
    sha: str = Field(description="The fork's commit that does not apply onto upstream as it is.")
    subject: str = ""
    paths: list[str] = Field(description="Where it conflicts, sorted.")


class PortPlan(Frozen):
    applied: int = Field(description="Own commits that apply onto upstream's head in order, before the first conflict.")
    total: int = Field(description="Own commits to port: no merges, none whose patch upstream already has.")
    first_conflict: FirstConflict | None = None
    ref: str | None = Field(
        default=None,
        description="Where `forkwise port` keeps the replayed commits in the mirror (it writes them, then pushes).",
    )
    limited: bool = Field(default=False, description="Stopped after PORT_LIMIT (300) commits without a conflict.")


class MergeFacts(Frozen):
    onto: str = Field(description="Upstream's head the fork was merged onto.")
    clean: bool
    conflicts: list[str] = Field(default=[], description="Conflicted paths, sorted.")
    conflict_kinds: dict[str, str] = Field(default={}, description="Path → content, rename/delete, modify/delete …")
    port: PortPlan | None = None


class ForkFacts(Frozen):
    """Everything forkwise knows about one fork's branch against upstream's ref.

    The fields describing the fork's own work default to "none": a fork with no merge base, or no commits of its
    own, leaves them out.
    """

    upstream_ref: str
    upstream_head: str
    ref: str = Field(description="The fork ref compared (full name).")
    default_branch: str | None
    head: str
    shared_history: bool
    ahead: int
    behind: int
    merge_base: str | None
    merge_base_date: datetime | None
    merge_base_describe: str | None = Field(default=None, description="Nearest upstream tag, as `git describe`.")
    last_commit_date: datetime
    upstream_last_commit_date: datetime
    upstream_describe: str | None = Field(default=None, description="Upstream's head as `git describe --tags`.")
    own_commits: list[CommitFact] = Field(default=[], description="Commits on the fork not in upstream, newest first.")
    unique_commits: int = Field(default=0, description="Own non-merge commits whose patch is not upstream.")
    upstream_equivalent_commits: int = Field(default=0, description="Own commits whose patch already exists upstream.")
    merge_commits: int = 0
    upstream_merges: int = Field(default=0, description="Merge commits that brought upstream commits into the fork.")
    files: list[FileChange] = Field(default=[], description="Every file change from the merge base, copied included.")
    copied_files: int = Field(default=0, description="Changes identical to an upstream version (copied, not own).")
    copied_lines_added: int = 0
    copied_lines_deleted: int = 0
    by_folder: dict[str, GroupStat] = Field(default={}, description="Own (not copied) changes by top folder.")
    by_kind: dict[str, GroupStat] = {}
    lines_added: int = Field(default=0, description="Lines added by the fork's own (not copied) changes.")
    lines_deleted: int = Field(default=0, description="Lines deleted by the fork's own (not copied) changes.")
    files_added: int = 0
    files_modified: int = 0
    files_deleted: int = 0
    files_renamed: int = 0
    base_tree_files: int = Field(default=0, description="Files in the merge base's tree.")
    deleted_share: float = Field(default=0.0, description="Share of the merge base's files the fork deleted, 0..1.")
    touched_share: float = Field(default=0.0, description="Share of the base files modified, deleted or renamed.")
    largest_binary: FileChange | None = None
    readme: ReadmeDiff = ReadmeDiff(path=None, changed=False)
    license: LicenseChange = LicenseChange(changed=False, before=NO_LICENSE, after=NO_LICENSE)
    packages: list[PackageChange] = []
    other_branches: list[BranchFact] = []
    upstream_gain: UpstreamGain = UpstreamGain(commits=0, first_date=None, last_date=None)
    terms: list[TermScore] = Field(default=[], description="Terms distinctive of the fork's own changes, best first.")
    statements: list[Statement] = Field(
        default=[],
        description="What the fork says about itself in files it changed (README, notes, package), in order.",
    )
    merge: MergeFacts | None = Field(
        default=None, description="Its head merged onto upstream's in memory, and the port plan of its own commits."
    )
    merge_note: str | None = Field(default=None, description="Why there are no merge facts, when there is a reason.")


class UpstreamFacts(Frozen):
    name: str
    url: NoCredentials
    ref: str
    head: str
    default_branch: str | None
    last_commit_date: datetime
    readme_path: str | None
    readme_title: str | None
    readme_lead: str = Field(description="First descriptive paragraph of the README, plain text. Untrusted.")
    readme_lead_markdown: str = Field(default="", description="The same paragraph as Markdown. Untrusted.")
    successors: list[str] = Field(
        default=[], description="README sentences that point to where the project went (moved to, use X instead)."
    )
    head_describe: str | None = Field(default=None, description="`git describe --tags` of the compared head.")
    commits_30d: int
    commits_90d: int
    commits_365d: int
    tags: list[tuple[str, datetime]] = Field(description="Newest tags first, with their commit dates.")
    files: int
