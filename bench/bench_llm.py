"""The LLM writer on the whole eval case set (the full run is a benchmark; CI gates on `forkwise eval --writer local
--subset`): the figures issue "LLM writer and chat that help even with the small local model" asks for, against
the facts writer measured in the same run on the same cases.

Prints, for the local model (Qwen2.5-Coder-0.5B, in-process, 2 threads): must_mention recall, contradictions,
false claims, injected claims, fallback rate (fields that fell back / fields asked) and why, seconds per verdict
(model calls included) and its ratio to the facts writer's; for chat, how many model answers passed the checks
and whether the fork they name first is the labelled one. With --thresholds it exits 1 when the figures miss
evals/llm.toml's bounds, its speed bound (seconds per verdict, which the eval does not gate on) included.

Usage: python bench/bench_llm.py [--cases N] [--subset] [--thresholds] [--json out.json]
"""

from __future__ import annotations

import argparse
import sys
import time
import tomllib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from forkwise.evals.scorer import LLM_BOUNDS, case_paths, chat_only, check, run_eval, subset_paths
from forkwise.service.settings import Settings, get_settings
from forkwise.service.verdicts.llm import local_llm
from forkwise.service.verdicts.llm_writer import LLMWriter
from forkwise.service.verdicts.writer import FactsWriter


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument(
        "--cases", type=int, default=0,
        help="only the first N cases (0: all, the demo included); with --subset, plus one of its chat cases",
    )  # fmt: skip
    ap.add_argument("--subset", action="store_true", help="the CI subset of evals/llm.toml")
    ap.add_argument("--thresholds", action="store_true", help="exit 1 when evals/llm.toml's bounds are missed")
    ap.add_argument("--json", type=Path, default=None)
    a = ap.parse_args()
    paths = subset_paths(case_paths()) if a.subset else case_paths()
    chat_cases = chat_only() if a.subset else set()
    if a.cases:  # the first N cases the writer is held to, and (with --subset) one of the chat cases
        writer_paths = [p for p in paths if p.stem not in chat_cases][: a.cases]
        paths = writer_paths + [p for p in paths if p.stem in chat_cases][:1]
    settings: Settings = get_settings()
    model = local_llm(settings)

    t = time.perf_counter()
    facts = run_eval(paths, FactsWriter(), LLM_BOUNDS)
    facts_s = time.perf_counter() - t
    t = time.perf_counter()
    llm = run_eval(paths, LLMWriter(model, "local"), LLM_BOUNDS, model=model, chat_cases=chat_cases)
    llm_s = time.perf_counter() - t

    m, f = llm.metrics, facts.metrics
    per_fork_facts = facts_s / max(1, f.forks)
    print(f"cases {m.cases}, forks {m.forks}, chat questions {m.chat_questions}")
    reasons = ", ".join(f"{k} {n}" for k, n in sorted(m.fallback_reasons.items())) or "none"
    print(
        f"local writer: {m.writer_verdicts} verdicts, {m.fields_asked} fields asked, {m.fields_fallback} fell back "
        f"(rate {m.fallback_rate:.3f}; {reasons})"
    )
    print(
        f"must_mention recall {m.must_mention_recall:.3f} (facts {f.must_mention_recall:.3f}); contradictions "
        f"{m.contradictions}; false claims {m.false_claims}; injected claims {m.injected_claims}"
    )
    print(
        f"seconds per verdict: local {m.seconds_per_verdict:.2f} s (writer only); whole case per fork: local "
        f"{llm_s / max(1, m.forks):.2f} s vs facts {per_fork_facts:.2f} s, ratio {llm_s / max(facts_s, 1e-9):.1f}x"
    )
    print(
        f"chat: {m.chat_model_answers} of {m.chat_model_questions} model answers passed the checks (accepted "
        f"{m.chat_accepted:.3f}; {m.chat_questions - m.chat_model_questions} more answered from git); first citation "
        f"hit@1 {m.chat_hit_at_1:.3f} (retrieval alone, same run: {m.chat_retrieval_hit_at_1:.3f}); fork named "
        f"first is the labelled one in {m.chat_named_hit_at_1:.3f}"
    )
    if a.json:
        a.json.write_text(llm.model_dump_json(indent=2))
    bounds = tomllib.loads(LLM_BOUNDS.read_text())
    missed = check(m, bounds["thresholds"] | bounds["speed"])
    verdict = "all met" if not missed else "missed: " + "; ".join(missed)
    print(f"bounds (evals/llm.toml, the speed one included): {verdict}")
    if a.thresholds and missed:
        sys.exit(1)


if __name__ == "__main__":
    main()
