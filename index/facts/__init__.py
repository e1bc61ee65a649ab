"""Facts about upstream and each fork, read from the mirror with a few git calls per fork.

Once per upstream (:func:`upstream_facts`, :func:`_scan_history`): one ``log --raw --diff-merges=first-parent`` of
every upstream commit (the file versions it has had, dates, subjects, security fixes), plus ``ls-tree``,
``describe`` and ``for-each-ref`` for its tags.

Per fork (:func:`fork_facts`): one ``rev-list --left-right --boundary`` walk (what upstream gained, the fork's own
commit ids and the merge base; ``merge-base`` only when the walk leaves it ambiguous); one ``log --raw -p -U0`` of the
fork's own commits (messages, files and the added/removed lines the terms, the presence checks and the patch
comparison all read); one ``diff -z --raw --numstat -M`` from the merge base (every file change and line count); the
patches of the upstream commits that touch the same files, in one ``log --no-walk -p -U0`` (``index/presence.py``;
``log --cherry-mark`` when there are very many); blob reads through a persistent ``cat-file`` process; and, with
merge facts on, ``merge-tree`` and the replay of its commits (``index/merge.py``). Nothing is computed twice.
"""

from typing import TYPE_CHECKING, Any

from forkwise.index.facts.common import UPSTREAM_REF
from forkwise.index.facts.upstream import UpstreamContext, UpstreamHistory, upstream_facts

if TYPE_CHECKING:
    from forkwise.index.facts.fork import CHERRY_CANDIDATES, fork_facts

__all__ = ["CHERRY_CANDIDATES", "UPSTREAM_REF", "UpstreamContext", "UpstreamHistory", "fork_facts", "upstream_facts"]


def __getattr__(name: str) -> Any:
    """The per-fork analysis (and the diff, merge and term machinery it imports) loads when a fork is analysed: a
    warm run, every fork's facts stored, never needs it."""
    if name in ("CHERRY_CANDIDATES", "fork_facts"):
        from forkwise.index.facts import fork

        return getattr(fork, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
