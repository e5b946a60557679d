"""Who may do what, over real HTTP: admin, maintainer of one unit, reader, no key, revoked and malformed keys.

No key → 401; an unknown or revoked key → 401; a malformed Authorization header → 401; a valid key without
the right → 403. A refused request changes nothing: not the units, documents, keys, nor the audit log.
Keys are shown once, never listed with their material or hash, and revoking one takes effect at once.
The ``troly keys`` commands work on the same data directory as a running server.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner, Result
from troly_testkit import assert_error, bearer, create_unit, document, documents

from app.cli import main

ADMIN = bearer("test-admin-key")
UNIT_A, UNIT_B = "a", "b"
KEY_FIELDS = {"id", "role", "units", "created_at", "revoked_at"}


def _doc(topic: str, figure: str) -> dict[str, str]:
    return {
        "title": f"Báo cáo {topic}",
        "text": f"Trong quý II năm 2024, {topic} đã hoàn thành {figure} hồ sơ trực tuyến cho người dân.",
    }


@dataclass
class World:
    """The auth server and what the matrix needs on it: two units with a document each, and keys."""

    url: str
    data_dir: Path
    client: httpx.Client
    keys: dict[str, dict[str, Any]]  # name -> the POST /v1/keys body (id, key, role, units)
    doc_a: str
    doc_b: str

    def key(self, name: str) -> str:
        key: str = self.keys[name]["key"]
        return key


def _create_key(client: httpx.Client, role: str, units: list[str] | None = None) -> dict[str, Any]:
    response = client.post("/v1/keys", json={"role": role, "units": units or []}, headers=ADMIN)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.fixture(scope="module")
def world(
    tmp_path_factory: pytest.TempPathFactory, start_server: Callable[..., AbstractContextManager[Any]]
) -> Iterator[World]:
    data_dir = tmp_path_factory.mktemp("auth-data")
    with (
        start_server(data_dir, require_read_key=False) as served,
        httpx.Client(base_url=served.url, timeout=60) as client,
    ):
        create_unit(client, ADMIN, UNIT_A, "Đơn vị A")
        create_unit(client, ADMIN, UNIT_B, "Đơn vị B")
        doc_a = client.post(f"/v1/units/{UNIT_A}/documents", json=_doc("Phòng Một cửa A", "1.111"), headers=ADMIN)
        doc_b = client.post(f"/v1/units/{UNIT_B}/documents", json=_doc("Phòng Một cửa B", "2.222"), headers=ADMIN)
        assert doc_a.status_code == 201 and doc_b.status_code == 201, (doc_a.text, doc_b.text)
        keys = {
            "maintainer": _create_key(client, "maintainer", [UNIT_A]),
            "reader": _create_key(client, "reader"),
            "revoked": _create_key(client, "maintainer", [UNIT_A, UNIT_B]),
            "victim": _create_key(client, "reader"),  # the key refused callers try to revoke
        }
        assert client.delete(f"/v1/keys/{keys['revoked']['id']}", headers=ADMIN).status_code == 204
        yield World(served.url, data_dir, client, keys, doc_a.json()["document_id"], doc_b.json()["document_id"])


# -- the refusals: every caller without the right, on every protected request ----------------------
def _callers(w: World) -> dict[str, dict[str, str]]:
    return {
        "no key": {},
        "unknown key": bearer("troly_khong-phai-khoa-that"),
        "revoked key": bearer(w.key("revoked")),
        "basic scheme": {"Authorization": "Basic YWRtaW46dGVzdC1hZG1pbi1rZXk="},
        "bearer without key": {"Authorization": "Bearer"},
        "key without scheme": {"Authorization": w.key("maintainer")},
        "reader": bearer(w.key("reader")),
        "maintainer of a": bearer(w.key("maintainer")),
    }


def _requests(w: World) -> dict[str, tuple[str, str, dict[str, Any]]]:
    new_doc = {"json": _doc("Phòng Hành chính", "3.333")}
    return {
        "create unit": ("POST", "/v1/units", {"json": {"id": "don-vi-moi", "name": "Đơn vị mới"}}),
        "add document to a": ("POST", f"/v1/units/{UNIT_A}/documents", new_doc),
        "replace document of a": ("PUT", f"/v1/units/{UNIT_A}/documents/{w.doc_a}", new_doc),
        "delete document of a": ("DELETE", f"/v1/units/{UNIT_A}/documents/{w.doc_a}", {}),
        "add document to b": ("POST", f"/v1/units/{UNIT_B}/documents", new_doc),
        "replace document of b": ("PUT", f"/v1/units/{UNIT_B}/documents/{w.doc_b}", new_doc),
        "delete document of b": ("DELETE", f"/v1/units/{UNIT_B}/documents/{w.doc_b}", {}),
        "upload document to b": (
            "POST",
            f"/v1/units/{UNIT_B}/documents",
            {"files": {"file": ("moi.txt", "Văn bản mới tải lên.".encode(), "text/plain")}},
        ),
        "create key": ("POST", "/v1/keys", {"json": {"role": "admin"}}),
        "list keys": ("GET", "/v1/keys", {}),
        "revoke key": ("DELETE", f"/v1/keys/{w.keys['victim']['id']}", {}),
        "read audit": ("GET", "/v1/audit", {}),
    }


UNAUTHENTICATED = ["no key", "unknown key", "revoked key", "basic scheme", "bearer without key", "key without scheme"]
REQUESTS = [
    "create unit",
    "add document to a",
    "replace document of a",
    "delete document of a",
    "add document to b",
    "replace document of b",
    "delete document of b",
    "upload document to b",
    "create key",
    "list keys",
    "revoke key",
    "read audit",
]
# (caller, request, expected status): everything a caller may not do.
REFUSALS = (
    [(caller, request, 401) for caller in UNAUTHENTICATED for request in REQUESTS]
    + [("reader", request, 403) for request in REQUESTS]
    + [("maintainer of a", request, 403) for request in REQUESTS if not request.endswith(" a")]
)


def _snapshot(w: World) -> dict[str, Any]:
    """Everything a refused request could have changed, read with the admin key."""
    c = w.client
    keys = c.get("/v1/keys", headers=ADMIN)
    audit = c.get("/v1/audit", params={"limit": 10000}, headers=ADMIN)
    assert keys.status_code == 200 and audit.status_code == 200
    return {
        "units": c.get("/v1/units").json(),
        "documents": {
            u: [(d["id"], document(c, u, d["id"])["content_hash"]) for d in documents(c, u)] for u in (UNIT_A, UNIT_B)
        },
        "keys": keys.json(),
        "audit": audit.json(),
    }


@pytest.mark.parametrize(("caller", "request_name", "status"), REFUSALS)
def test_refused_requests_change_nothing(world: World, caller: str, request_name: str, status: int) -> None:
    method, url, kwargs = _requests(world)[request_name]
    before = _snapshot(world)
    response = world.client.request(method, url, headers=_callers(world)[caller], **kwargs)
    assert_error(response, status, "unauthorized" if status == 401 else "forbidden")
    assert _snapshot(world) == before
    # The refused revocation left the victim's key working.
    assert world.client.get("/v1/units", headers=bearer(world.key("victim"))).status_code == 200


@pytest.mark.parametrize("caller", UNAUTHENTICATED[1:])
def test_asking_with_a_bad_key_is_401_even_when_asking_is_open(world: World, caller: str) -> None:
    response = world.client.post(
        "/v1/ask", json={"question": "Ai phụ trách hồ sơ trực tuyến?", "unit": UNIT_A}, headers=_callers(world)[caller]
    )
    assert_error(response, 401, "unauthorized")


@pytest.mark.parametrize("caller", ["no key", "reader", "maintainer of a"])
def test_asking_is_open_by_default(world: World, caller: str) -> None:
    response = world.client.post(
        "/v1/ask",
        json={"question": "Phòng Một cửa A đã hoàn thành bao nhiêu hồ sơ trực tuyến?", "unit": UNIT_A},
        headers=_callers(world)[caller],
    )
    assert response.status_code == 200, response.text
    assert any(c["document_id"] == world.doc_a for c in response.json()["citations"])


# -- what each role may do --------------------------------------------------------------------------
def _audit(w: World, unit: str | None = None) -> list[dict[str, Any]]:
    params: dict[str, Any] = {"limit": 10000, **({"unit": unit} if unit else {})}
    response = w.client.get("/v1/audit", params=params, headers=ADMIN)
    assert response.status_code == 200, response.text
    entries: list[dict[str, Any]] = response.json()
    return entries


def _write_cycle(w: World, unit: str, headers: dict[str, str], topic: str) -> str:
    """Adds, replaces and deletes a document of ``unit``; checks each status and effect; returns the id."""
    c = w.client
    added = c.post(f"/v1/units/{unit}/documents", json=_doc(topic, "4.444"), headers=headers)
    assert added.status_code == 201, added.text
    document_id: str = added.json()["document_id"]
    assert "4.444" in document(c, unit, document_id)["text"]
    replaced = c.put(f"/v1/units/{unit}/documents/{document_id}", json=_doc(topic, "5.555"), headers=headers)
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["document_id"] == document_id
    text = document(c, unit, document_id)["text"]
    assert "5.555" in text and "4.444" not in text
    deleted = c.delete(f"/v1/units/{unit}/documents/{document_id}", headers=headers)
    assert deleted.status_code == 204, deleted.text
    assert_error(c.get(f"/v1/units/{unit}/documents/{document_id}"), 404, "document_not_found")
    return document_id


def test_maintainer_writes_its_own_unit_and_every_write_is_audited(world: World) -> None:
    key = world.keys["maintainer"]
    started = datetime.now(UTC)
    document_id = _write_cycle(world, UNIT_A, bearer(key["key"]), "Phòng Kế hoạch A")
    mine = [e for e in _audit(world, UNIT_A) if e["target"] == document_id]
    assert [e["action"] for e in mine] == ["document.delete", "document.replace", "document.add"]  # newest first
    for entry in mine:
        assert entry["key_id"] == key["id"]
        assert entry["unit"] == UNIT_A
        at = datetime.fromisoformat(entry["at"])
        assert started - timedelta(minutes=5) <= at <= datetime.now(UTC) + timedelta(minutes=5)
    assert mine[0]["seq"] > mine[1]["seq"] > mine[2]["seq"]
    assert mine[2]["detail"]["title"] == "Báo cáo Phòng Kế hoạch A"
    assert isinstance(mine[2]["detail"]["passages"], int) and mine[2]["detail"]["passages"] >= 1
    raw = json.dumps(_audit(world))
    assert key["key"] not in raw and hashlib.sha256(key["key"].encode()).hexdigest() not in raw
    assert "test-admin-key" not in raw


def test_admin_writes_every_unit(world: World) -> None:
    for unit in (UNIT_A, UNIT_B):
        document_id = _write_cycle(world, unit, ADMIN, f"Văn phòng {unit.upper()}")
        actions = [(e["action"], e["key_id"]) for e in _audit(world, unit) if e["target"] == document_id]
        assert actions == [
            ("document.delete", "env-admin"),
            ("document.replace", "env-admin"),
            ("document.add", "env-admin"),
        ]


def test_admin_manages_units_keys_and_reads_the_audit(world: World) -> None:
    c = world.client
    response = c.post("/v1/units", json={"id": "don-vi-cua-admin", "name": "Đơn vị của admin"}, headers=ADMIN)
    assert response.status_code == 201, response.text
    created = _create_key(c, "admin")
    assert created["role"] == "admin" and created["units"] == []
    assert re.fullmatch(r"troly_[A-Za-z0-9_-]{20,}", created["key"])
    # A created admin key is as good as the configured one, and its writes carry its own id.
    second = c.post(
        "/v1/units", json={"id": "don-vi-cua-khoa", "name": "Đơn vị của khóa"}, headers=bearer(created["key"])
    )
    assert second.status_code == 201, second.text
    entry = next(e for e in _audit(world) if e["action"] == "unit.create" and e["target"] == "don-vi-cua-khoa")
    assert entry["key_id"] == created["id"] and entry["unit"] == "don-vi-cua-khoa"
    entry = next(e for e in _audit(world) if e["action"] == "unit.create" and e["target"] == "don-vi-cua-admin")
    assert entry["key_id"] == "env-admin"
    entry = next(e for e in _audit(world) if e["action"] == "key.create" and e["target"] == created["id"])
    assert entry["key_id"] == "env-admin" and entry["unit"] is None and entry["detail"]["role"] == "admin"
    # The audit log can be filtered by unit.
    assert {e["unit"] for e in _audit(world, UNIT_B)} == {UNIT_B}


def test_keys_are_shown_once_and_never_listed(world: World) -> None:
    c = world.client
    created = _create_key(c, "maintainer", [UNIT_A, UNIT_B])
    assert set(created) == {"id", "key", "role", "units"}
    assert created["units"] == [UNIT_A, UNIT_B]
    listed = c.get("/v1/keys", headers=ADMIN)
    assert listed.status_code == 200
    rows = listed.json()
    assert all(set(row) == KEY_FIELDS for row in rows)
    mine = [row for row in rows if row["id"] == created["id"]]
    assert mine == [
        {
            "id": created["id"],
            "role": "maintainer",
            "units": [UNIT_A, UNIT_B],
            "created_at": mine[0]["created_at"],
            "revoked_at": None,
        }
    ]
    # No key and no hash of any key in the list (nor in the audit log).
    for text in (listed.text, json.dumps(_audit(world))):
        for info in [*world.keys.values(), created]:
            assert info["key"] not in text
            assert hashlib.sha256(info["key"].encode()).hexdigest() not in text
        assert not re.search(r"\b[0-9a-f]{64}\b", text)


def test_revoking_a_key_takes_effect_at_once(world: World) -> None:
    c = world.client
    created = _create_key(c, "maintainer", [UNIT_A])
    headers = bearer(created["key"])
    assert c.get(f"/v1/units/{UNIT_A}/documents", headers=headers).status_code == 200
    revoked = c.delete(f"/v1/keys/{created['id']}", headers=ADMIN)
    assert revoked.status_code == 204 and revoked.content == b""
    before = documents(c, UNIT_A)
    assert_error(c.post(f"/v1/units/{UNIT_A}/documents", json=_doc("Phòng Thu hồi", "6.666"), headers=headers), 401)
    assert_error(c.post("/v1/ask", json={"question": "Có bao nhiêu hồ sơ?"}, headers=headers), 401)
    assert documents(c, UNIT_A) == before
    row = next(r for r in c.get("/v1/keys", headers=ADMIN).json() if r["id"] == created["id"])
    assert row["revoked_at"] is not None
    entry = next(e for e in _audit(world) if e["action"] == "key.revoke" and e["target"] == created["id"])
    assert entry["key_id"] == "env-admin"
    assert_error(c.delete("/v1/keys/khong-co-khoa-nay", headers=ADMIN), 404)


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"role": "maintainer"}, 422),
        ({"role": "maintainer", "units": ["khong-ton-tai"]}, 404),
        ({"role": "chu-tich"}, 422),
        ({"role": "maintainer", "units": ["Không Slug"]}, 404),
    ],
)
def test_bad_key_requests_are_refused_and_create_nothing(world: World, body: dict[str, Any], status: int) -> None:
    before = world.client.get("/v1/keys", headers=ADMIN).json()
    assert_error(world.client.post("/v1/keys", json=body, headers=ADMIN), status)
    assert world.client.get("/v1/keys", headers=ADMIN).json() == before


# -- a service that requires a key to read ------------------------------------------------------------
@pytest.fixture(scope="module")
def closed(
    tmp_path_factory: pytest.TempPathFactory, start_server: Callable[..., AbstractContextManager[Any]]
) -> Iterator[httpx.Client]:
    with (
        start_server(tmp_path_factory.mktemp("closed-data"), require_read_key=True) as served,
        httpx.Client(base_url=served.url, timeout=60) as client,
    ):
        yield client


def test_a_closed_service_needs_a_key_to_ask(closed: httpx.Client) -> None:
    question = {"question": "Trợ lý ảo trả lời được bao nhiêu phần trăm câu hỏi?"}
    assert_error(closed.post("/v1/ask", json=question), 401, "unauthorized")
    assert_error(closed.get("/v1/units"), 401, "unauthorized")
    assert_error(closed.get("/v1/stats"), 401, "unauthorized")
    assert_error(closed.post("/v1/ask", json=question, headers=bearer("troly_sai")), 401, "unauthorized")
    reader = _create_key(closed, "reader")
    response = closed.post("/v1/ask", json=question, headers=bearer(reader["key"]))
    assert response.status_code == 200, response.text
    assert set(response.json()) == {
        *("id", "answer", "abstained", "confidence", "citations"),
        *("reader", "reader_fallback", "rewritten_question"),
    }
    assert closed.get("/v1/units", headers=bearer(reader["key"])).status_code == 200
    # A reader may read but still not write.
    assert_error(closed.post("/v1/units", json={"id": "x", "name": "X"}, headers=bearer(reader["key"])), 403)
    assert closed.delete(f"/v1/keys/{reader['id']}", headers=ADMIN).status_code == 204
    assert_error(closed.post("/v1/ask", json=question, headers=bearer(reader["key"])), 401, "unauthorized")


# -- the keys commands, on the data directory of a running server ------------------------------------------
@pytest.fixture()
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no stray .env file is read (TROLY_* variables are cleared for the session)


def troly(data_dir: Path, *args: str) -> Result:
    """The keys commands load no model: a plain CliRunner is enough."""
    return CliRunner().invoke(main, ["--data-dir", str(data_dir), *args], catch_exceptions=False)


def test_keys_cli_against_a_running_server(world: World, cli_env: None) -> None:
    c = world.client
    created = troly(world.data_dir, "keys", "create", "--role", "maintainer", "--unit", UNIT_A)
    assert created.exit_code == 0, created.output
    fields = dict(line.split(None, 1) for line in created.stdout.splitlines())
    assert fields["role"] == "maintainer" and fields["units"] == UNIT_A
    key_id, key = fields["id"], fields["key"]
    assert key.startswith("troly_")
    assert "shown only now" in created.stderr

    # The printed key works over HTTP at once: it may write unit a and nothing else.
    headers = bearer(key)
    added = c.post(f"/v1/units/{UNIT_A}/documents", json=_doc("Phòng Dòng lệnh", "7.777"), headers=headers)
    assert added.status_code == 201, added.text
    assert_error(
        c.post(f"/v1/units/{UNIT_B}/documents", json=_doc("Phòng Dòng lệnh", "7.777"), headers=headers),
        403,
        "forbidden",
    )
    assert_error(c.get("/v1/keys", headers=headers), 403)
    entry = next(e for e in _audit(world, UNIT_A) if e["target"] == added.json()["document_id"])
    assert entry["key_id"] == key_id and entry["action"] == "document.add"
    assert any(e["action"] == "key.create" and e["target"] == key_id and e["key_id"] == "cli" for e in _audit(world))

    # keys list: the id, role, units and state; never the key.
    listed = troly(world.data_dir, "keys", "list")
    assert listed.exit_code == 0, listed.output
    assert key not in listed.output and hashlib.sha256(key.encode()).hexdigest() not in listed.output
    row = next(line.split("\t") for line in listed.stdout.splitlines() if line.startswith(key_id))
    assert row[1:3] == ["maintainer", UNIT_A] and row[4] == "active"
    revoked_line = next(line for line in listed.stdout.splitlines() if line.startswith(world.keys["revoked"]["id"]))
    assert revoked_line.split("\t")[4].startswith("revoked ")
    # The HTTP list shows the key made by the command line.
    assert any(r["id"] == key_id for r in c.get("/v1/keys", headers=ADMIN).json())

    revoked = troly(world.data_dir, "keys", "revoke", key_id)
    assert revoked.exit_code == 0, revoked.output
    assert revoked.stdout.strip() == f"revoked {key_id}"
    assert_error(
        c.post(f"/v1/units/{UNIT_A}/documents", json=_doc("Phòng Sau thu hồi", "8.888"), headers=headers),
        401,
        "unauthorized",
    )
    row = next(
        line.split("\t")
        for line in troly(world.data_dir, "keys", "list").stdout.splitlines()
        if line.startswith(key_id)
    )
    assert row[4].startswith("revoked ")

    unknown = CliRunner().invoke(main, ["--data-dir", str(world.data_dir), "keys", "revoke", "khong-co"])
    assert unknown.exit_code == 2 and "Traceback" not in unknown.output
    assert unknown.stderr.startswith("error: ")
