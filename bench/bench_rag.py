"""Index, chat and verdict figures on the demo network (12 forks), each against a baseline measured in the same run.

* indexing: chunks/s through forkwise (chunking from git + MiniLM embeddings + chromadb writes) against raw
  onnxruntime embedding the very same chunk texts (target ratio ≥ 0.9 on the embedding-bound part);
* chat latency p50/p95: retrieval-only answers, and with the local model (Qwen2.5-Coder-0.5B, in-process);
* verdict time per fork: the facts writer against the local LLM writer.

Usage: python bench/bench_rag.py [--questions 20] [--llm-forks 3] [--llm-questions 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import QUESTIONS, pct
from forkwise.evals.builder import build_network
from forkwise.evals.demo import DEMO_SPEC, load_spec
from forkwise.index.embeddings import MiniLMEmbeddings, runtime
from forkwise.index.vector import VectorIndex
from forkwise.service.runs.engine import RunRequest, run
from forkwise.service.runs.vectors import retriever, sync_vectors
from forkwise.service.settings import Settings, WriterName
from forkwise.service.verdicts.chat import ChatRequest, ChatService
from forkwise.service.verdicts.llm import local_llm
from forkwise.service.verdicts.llm_writer import LLMWriter
from forkwise.service.verdicts.report import stored_input
from forkwise.service.verdicts.writer import FactsWriter


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--questions", type=int, default=24)
    ap.add_argument("--llm-forks", type=int, default=3)
    ap.add_argument("--llm-questions", type=int, default=3)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        net = build_network(load_spec(DEMO_SPEC), root / "net")
        settings = Settings(home=root / "home", workers=2)
        up, forks = net.inputs()
        runtime(2)  # load the model once, outside both timings
        report, _ = run(RunRequest(upstream=up, forks=forks, as_of=net.as_of, index=False), settings)

        vi = VectorIndex(settings, report.upstream.name)
        t = time.perf_counter()
        stats = sync_vectors(report, settings, vi)
        t_index = time.perf_counter() - t
        texts = vi.collection.get(include=["documents"])["documents"]
        emb = MiniLMEmbeddings(threads=2)
        t = time.perf_counter()
        emb.embed_documents(texts)
        t_raw = time.perf_counter() - t
        rt = runtime(2)
        t = time.perf_counter()
        for i in range(0, len(texts), 32):
            rt.encode(texts[i : i + 32])  # raw onnxruntime, input order, same batch size
        t_ort = time.perf_counter() - t
        print(f"indexing: {stats.chunks} chunks in {t_index:.2f}s = {stats.chunks / t_index:.1f} chunks/s (end to end)")
        print(f"raw onnxruntime on the same chunks: {len(texts) / t_ort:.1f} chunks/s; forkwise embedder "
              f"{len(texts) / t_raw:.1f} chunks/s -> ratio {t_ort / t_raw:.2f} (target >= 0.9); "
              f"end to end vs raw: {t_ort / t_index:.2f}")  # fmt: skip

        chat = ChatService(settings)
        lat = []
        for i in range(a.questions):
            q = QUESTIONS[i % len(QUESTIONS)]
            t = time.perf_counter()
            chat.answer(report, ChatRequest(upstream=report.upstream.name, question=q), vi)
            lat.append(time.perf_counter() - t)
        print(f"chat retrieval-only: p50 {pct(lat, 0.5) * 1000:.0f} ms, p95 {pct(lat, 0.95) * 1000:.0f} ms "
              f"over {len(lat)} questions")  # fmt: skip

        model = local_llm(settings)
        llm_chat = ChatService(settings, model)
        lat = []
        for q in QUESTIONS[: a.llm_questions]:
            t = time.perf_counter()
            llm_chat.answer(report, ChatRequest(upstream=report.upstream.name, question=q), vi)
            lat.append(time.perf_counter() - t)
        print(f"chat with the local model: p50 {pct(lat, 0.5):.1f} s, p95 {pct(lat, 0.95):.1f} s "
              f"over {len(lat)} questions")  # fmt: skip

        inputs = [inp for f in report.forks if (inp := stored_input(report, f)) is not None]
        t = time.perf_counter()
        for inp in inputs:
            FactsWriter().write(inp)
        facts_ms = (time.perf_counter() - t) / len(inputs) * 1000
        writer = LLMWriter(model, WriterName.local, retriever(settings, report.upstream.name))
        times, fallbacks = [], 0
        for inp in inputs[: a.llm_forks]:
            t = time.perf_counter()
            v = writer.write(inp)
            times.append(time.perf_counter() - t)
            fallbacks += v.fallback_reason is not None
        print(f"verdict per fork: facts writer {facts_ms:.1f} ms; local LLM writer "
              f"{statistics.mean(times):.1f} s (mean of {len(times)}, {fallbacks} fell back to facts) "
              f"-> ratio {statistics.mean(times) * 1000 / facts_ms:.0f}x")  # fmt: skip


if __name__ == "__main__":
    main()
