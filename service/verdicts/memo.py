"""Verdicts remembered across runs. The facts writer is a function of its input (:class:`WriterInput`: the fork's
facts, its classification, the evidence catalogue, the date), the prompt files and forkwise's code; a warm run
whose forks and upstream did not move therefore reads each verdict back instead of writing it again: no template is
rendered, and neither Jinja nor the phrase rules are loaded (a third of a warm ``summarize``).

One file per upstream (``verdicts.json`` beside the facts cache), holding the verdicts of the last run that wrote
it, each under the sha256 of its input; the file is valid for one state of the code and prompt files
(:func:`code_stamp`). Only the facts writer is remembered: an LLM's answer is not a function of its input."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import threading
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from forkwise.service.settings import WriterName
from forkwise.service.verdicts.models import Verdict, Writer, WriterInput
from forkwise.service.verdicts.prompts import prompts_dir

CODE_ROOT = Path(__file__).resolve().parents[2]
"""The forkwise package (``index/``, ``service/`` and the rest)."""


@lru_cache(maxsize=1)
def code_stamp() -> str:
    """forkwise's code and prompt files as they are on disk: every file's path, size and modification time (what
    Python's own bytecode cache checks), hashed. Editing any of them, or installing another version, changes it."""
    h = hashlib.sha256()
    for top in (CODE_ROOT / "index", CODE_ROOT / "service", prompts_dir()):
        for dirpath, dirnames, filenames in os.walk(top):
            dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
            for name in sorted(filenames):
                if name.endswith((".py", ".toml", ".j2")):
                    path = os.path.join(dirpath, name)
                    st = os.stat(path)
                    h.update(f"{path}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def input_key(inp: WriterInput) -> str:
    """The sha256 of a writer input as canonical JSON: its date as the days a verdict reads (:meth:`WriterInput.days`:
    a verdict written this morning is this evening's too), its one set sorted (a set's order changes per process)."""
    data = inp.model_dump(mode="json", exclude={"as_of"})
    data["days"] = inp.days()
    data["line_commits"] = sorted(data["line_commits"])
    return hashlib.sha256(json.dumps(data, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


class RememberedWriter:
    """The facts writer, remembered in ``path``: a verdict written before for exactly this input (and this code)
    is read back; any other is written (the facts writer loaded then) and remembered. :meth:`save` keeps the
    verdicts this run used, so the file holds one run's worth."""

    name = WriterName.facts

    def __init__(self, path: Path, writer: Writer | None = None):
        self.path = path
        self._writer = writer
        self._known = self._load()
        self._used: dict[str, Any] = {}
        self.remembered = 0

    def _load(self) -> dict[str, Any]:
        with contextlib.suppress(OSError, ValueError, TypeError, AttributeError):
            data = json.loads(self.path.read_bytes())
            verdicts = data.get("verdicts")
            if data.get("stamp") == code_stamp() and isinstance(verdicts, dict):
                return verdicts
        return {}

    def write(self, inp: WriterInput) -> Verdict:
        key = input_key(inp)
        known = self._known.get(key)
        if known is not None:
            with contextlib.suppress(ValidationError):
                verdict = Verdict.model_validate(known)
                self._used[key] = known
                self.remembered += 1
                return verdict
        if self._writer is None:
            from forkwise.service.verdicts.writer import FactsWriter

            self._writer = FactsWriter()
        verdict = self._writer.write(inp)
        self._used[key] = verdict.model_dump(mode="json")
        return verdict

    def save(self) -> None:
        """Write the verdicts this run used, unless they are what the file holds; a failure loses only the memo."""
        if self._used == self._known:
            return
        with contextlib.suppress(OSError):
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
            tmp.write_text(json.dumps({"stamp": code_stamp(), "verdicts": self._used}, ensure_ascii=False))
            tmp.replace(self.path)
