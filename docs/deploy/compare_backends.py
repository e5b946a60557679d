"""Do both search backends give the same answers? One store, filled once (embedded once), asked twice.

The corpus goes into a fresh store through the embedded backend; a second knowledge base over the same
store searches a Milvus collection instead (filled by ``sync`` from the stored vectors, never
re-embedded). Every question is asked of both, with the same reader and answer model; the script prints
how many answers are the same, each backend's answer rate and correct rate, and each one's latency.
docs/deploy.md, *Search backends*, quotes its output.

    python docs/deploy/compare_backends.py eval/questions/seed.jsonl --corpus corpus --milvus-uri http://127.0.0.1:19530
    python docs/deploy/compare_backends.py ../shared/bench/xquad-vi-dev/questions.jsonl \
        --corpus ../shared/bench/xquad-vi-dev/corpus.jsonl --milvus-uri http://127.0.0.1:19530
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

from app.answer.model import AnswerModel
from app.assistant import Assistant
from app.embedding import create_embedder
from app.evaluation.corpus import load_corpus
from app.evaluation.dataset import load_questions
from app.evaluation.outcomes import Outcome, classify
from app.settings import Settings
from app.store import SqlDocumentStore


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("questions", type=Path)
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--milvus-uri", required=True)
    args = parser.parse_args()
    questions = load_questions(args.questions)
    data_dir = Path(tempfile.mkdtemp(prefix="troly-compare-"))
    settings = Settings(_env_file=None, data_dir=data_dir, search_backend="embedded")  # type: ignore[call-arg]
    embedder = create_embedder(settings)
    store = SqlDocumentStore.open(settings.db_url)
    embedded = Assistant(store, embedder, AnswerModel.load(), settings)
    load_corpus(embedded, args.corpus)
    collection = f"troly_compare_{uuid.uuid4().hex[:8]}"
    milvus_settings = settings.model_copy(
        update={"search_backend": "milvus", "milvus_uri": args.milvus_uri, "milvus_collection": collection}
    )
    milvus = Assistant(store, embedder, AnswerModel.load(), milvus_settings)

    outcomes: dict[str, Counter[Outcome]] = {"embedded": Counter(), "milvus": Counter()}
    latency: dict[str, list[float]] = {"embedded": [], "milvus": []}
    same = 0
    differ = []
    for q in questions:
        answers = {}
        for name, assistant in (("embedded", embedded), ("milvus", milvus)):
            t = time.perf_counter()
            answers[name] = assistant.ask(q.question, q.unit).answer
            latency[name].append(time.perf_counter() - t)
            outcomes[name][classify(q, answers[name])] += 1
        if answers["embedded"] == answers["milvus"]:
            same += 1
        else:
            differ.append({"id": q.id, "embedded": answers["embedded"], "milvus": answers["milvus"]})
    n = len(questions)

    def figures(name: str) -> dict[str, object]:
        counted = outcomes[name]
        answered = counted[Outcome.CORRECT] + counted[Outcome.WRONG] + counted[Outcome.FALSE_ANSWER]
        ordered = sorted(latency[name])
        return {
            "answer_rate": round(answered / n, 4),
            "correct_rate": round(counted[Outcome.CORRECT] / n, 4),
            "outcomes": {o.value: counted[o] for o in Outcome},
            "ask_p50_ms": round(statistics.median(ordered) * 1000, 1),
            "ask_p95_ms": round(ordered[int(0.95 * (n - 1))] * 1000, 1),
        }

    report = {
        "questions": n,
        "passages": embedded.passage_count(),
        "same_answer": same,
        "same_answer_share": round(same / n, 4),
        "embedded": figures("embedded"),
        "milvus": figures("milvus"),
        "differences": differ,
    }
    print(json.dumps(report, indent=2, ensure_ascii=False))
    milvus.close()
    store.close()
    shutil.rmtree(data_dir, ignore_errors=True)  # the collection stays on the server: drop it by hand


if __name__ == "__main__":
    main()
