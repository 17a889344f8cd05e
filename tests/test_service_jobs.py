"""Long work as jobs in the service: a small province taken in, linked, released and published by
the roles a unit has, each signed in; a job's progress, a cancel, and a service killed mid-job."""

from __future__ import annotations

import io
import os
import signal
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient

from linkhaven.workspace import Workspace
from tests.conftest import Env
from tests.served import PASSWORD, app_with_accounts, give_accounts, running_service, sign_in

SCALE = "0.002"
Client = httpx.Client | TestClient


def _wait(client: Client, job: dict[str, Any], headers: dict[str, str], timeout: float = 240) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while job["state"] not in ("done", "failed", "cancelled"):
        assert time.monotonic() < deadline, job
        time.sleep(0.2)
        job = client.get(f"/api/v1/jobs/{job['id']}", headers=headers).json()
    return job


def _gates(env: Env, extracts: Path) -> None:
    """What intake waits for: assessments, the notice, the collection agreement (as today, by CLI)."""
    assert env.cli("admin", "synth", "--scale", SCALE, "--seed", "5", "--out", str(extracts), "--json").code == 0
    steps = [
        *(["assessment", "add", "--kind", kind, "--title", kind, "--date", "2024-06-01"] for kind in ("pia", "tra")),
        ["notice", "publish", "--date", "2025-07-11"],
        ["agreement", "add", "--name", "collection", "--party", "EDU", "--source", "onsis", "--source", "eqao",
         "--source", "cpin", "--from", "2024-01-01", "--to", "2099-12-31"],
    ]  # fmt: skip
    for step in steps:
        assert env.as_user("privacy_officer", *step).code == 0, step


def _intake(client: Client, steward: dict[str, str], extracts: Path, source: str) -> dict[str, Any]:
    data = (extracts / f"{source}.csv").read_bytes()
    params = {"source": source, "file_name": f"{source}.csv"}
    submitted = client.post("/api/v1/jobs/intake", params=params, content=data, headers=steward)
    assert submitted.status_code == 202, submitted.text
    return _wait(client, submitted.json(), steward)


def _sampled_identifiers(path: Path, every: int = 50) -> list[str]:
    """Every 50th record's OEN, names and birth date: values that must never leave the zones."""
    import csv

    with path.open(encoding="latin-1", newline="") as handle:
        rows = list(csv.DictReader(handle))[::every]
    fields = ("OEN", "LEGAL_FIRST_NAME", "LEGAL_LAST_NAME", "DATE_OF_BIRTH")
    return sorted({row[f] for row in rows for f in fields if row[f] and len(row[f]) >= 5})


def _partition(ws: Workspace, map_table: str) -> set[frozenset[str]]:
    """The map as who-is-linked-with-whom (person keys are per run: the grouping is what must match)."""
    table = ws.zone("linkage").read(map_table, ["record_code", "person_key"]).to_pylist()
    groups: dict[str, set[str]] = {}
    for row in table:
        groups.setdefault(str(row["person_key"]), set()).add(str(row["record_code"]))
    return {frozenset(group) for group in groups.values()}


@pytest.fixture()
def served(env: Env) -> Iterator[tuple[TestClient, Workspace, dict[str, str]]]:
    with app_with_accounts(env) as served_app:
        yield served_app


def test_a_small_province_through_the_service_as_each_role(
    served: tuple[TestClient, Workspace, dict[str, str]], env: Env, tmp_path: Path
) -> None:
    client, ws, secrets = served
    extracts = tmp_path / "extracts"
    _gates(env, extracts)
    steward, linker = sign_in(client, "steward", secrets), sign_in(client, "linker", secrets)
    assert client.post("/api/v1/jobs", json={"kind": "link"}, headers=steward).status_code == 403
    for source in ("onsis", "eqao", "cpin"):
        job = _intake(client, steward, extracts, source)
        assert job["state"] == "done", job
        assert job["result"]["rows_loaded"] > 0 and job["steps_done"] > 0
    assert not any((ws.root / "uploads").rglob("*.csv"))  # the uploaded deliveries are gone

    linked = _wait(client, client.post("/api/v1/jobs", json={"kind": "link"}, headers=linker).json(), linker)
    assert linked["state"] == "done" and linked["result"]["map_version"] == 1, linked

    truth = (extracts / "truth.csv").read_bytes()
    evaluated = client.post("/api/v1/linkage/evaluate", content=truth, headers=linker).json()
    assert evaluated["pairs"]["cpin~onsis"]["f1"] >= 0.98, evaluated

    officer = sign_in(client, "privacy_officer", secrets)
    assert env.as_user("privacy_officer", "agreement", "add", "--kind", "disclosure", "--name", "analysts", "--party",
                       "division_analysts", "--class", "deidentified", "--source", "onsis", "--source", "eqao",
                       "--source", "cpin", "--from", "2024-01-01", "--to", "2099-12-31").code == 0  # fmt: skip
    deidentifier = sign_in(client, "deidentifier", secrets)
    body = {"kind": "release", "params": {"section": "publication_base"}}
    released = _wait(client, client.post("/api/v1/jobs", json=body, headers=deidentifier).json(), deidentifier)
    assert released["state"] == "done", released
    release_id = released["result"]["id"]
    # Separation of duties: the deidentifier who built it cannot approve it; the privacy officer can.
    assert client.post(f"/api/v1/releases/{release_id}/approve", headers=deidentifier).status_code == 403
    assert client.post(f"/api/v1/releases/{release_id}/approve", headers=officer).status_code == 200
    body = {"kind": "publish", "params": {"release_id": release_id}}
    published = _wait(client, client.post("/api/v1/jobs", json=body, headers=deidentifier).json(), deidentifier)
    assert published["state"] == "done" and published["result"]["audit"]["passed"], published

    # The analyst reads a release only once granted, gets no identifier, and the read is registered.
    analyst = sign_in(client, "analyst", secrets)
    assert client.get(f"/api/v1/releases/{release_id}/data", headers=analyst).status_code == 409
    body = {"analyst": "analyst"}
    assert client.post(f"/api/v1/releases/{release_id}/grant", json=body, headers=officer).status_code == 200
    copy = client.get(f"/api/v1/releases/{release_id}/data", headers=analyst)
    assert copy.status_code == 200 and int(copy.headers["X-Rows"]) > 0
    columns = set(pq.read_schema(io.BytesIO(copy.content)).names)
    assert not columns & {"oen", "given_name", "family_name", "birth_date", "postal_code", "person_key"}
    assert client.get(f"/api/v1/releases/{release_id}/data", headers=deidentifier).status_code == 403

    review_pack = client.get("/api/v1/oversight/pack", headers=officer)
    assert review_pack.status_code == 200
    assert "index.html" in zipfile.ZipFile(io.BytesIO(review_pack.content)).namelist()

    # Each sees their own jobs; the privacy officer sees all.
    assert {j["kind"] for j in client.get("/api/v1/jobs", headers=steward).json()} == {"intake"}
    assert len(client.get("/api/v1/jobs", headers=officer).json()) == 6
    assert client.get("/api/v1/audit/verify", headers=officer).json()["ok"]

    # Nothing leaked: no sampled identifier, password or token in the audit log or in what the service said.
    paths = ("/api/v1/jobs", "/api/v1/audit/events", "/api/v1/releases", "/api/v1/publications")
    said = [client.get(path, headers=who).text for who in (steward, linker, officer, deidentifier) for path in paths]
    said.append(client.get("/api/v1/users", headers={"Authorization": "Bearer lh_forged"}).text)
    tokens = [h["Authorization"].removeprefix("Bearer ") for h in (steward, linker, officer, deidentifier)]
    for secret in (*_sampled_identifiers(extracts / "onsis.csv"), PASSWORD, *tokens):
        assert not any(secret in text for text in said), "a personal value or secret reached a response"


def test_a_cancelled_job_stops_and_leaves_nothing(
    served: tuple[TestClient, Workspace, dict[str, str]], env: Env, tmp_path: Path
) -> None:
    client, ws, secrets = served
    extracts = tmp_path / "extracts"
    _gates(env, extracts)
    steward = sign_in(client, "steward", secrets)
    params = {"source": "onsis", "file_name": "onsis.csv"}
    submitted = client.post(
        "/api/v1/jobs/intake", params=params, content=(extracts / "onsis.csv").read_bytes(), headers=steward
    ).json()
    cancelled = client.post(f"/api/v1/jobs/{submitted['id']}/cancel", headers=steward).json()
    job = _wait(client, cancelled, steward)
    assert job["state"] in ("cancelled", "done")  # a cancel arrives at the next step, if any is left
    if job["state"] == "cancelled":  # rolled back: no delivery registered, nothing in the zones
        assert job["result"] is None and client.get("/api/v1/deliveries", headers=steward).json() == []


def test_a_service_killed_during_a_link_job_marks_it_failed_and_a_rerun_links_the_same(
    env: Env, tmp_path: Path
) -> None:
    ws = Workspace.open(env.workspace, env.keys)
    secrets = give_accounts(ws)
    extracts = tmp_path / "extracts"
    _gates(env, extracts)
    with running_service(env) as (client, server):
        steward = sign_in(client, "steward", secrets)
        for source in ("onsis", "eqao", "cpin"):
            assert _intake(client, steward, extracts, source)["state"] == "done"
        linker = sign_in(client, "linker", secrets)
        job = client.post("/api/v1/jobs", json={"kind": "link"}, headers=linker).json()
        while client.get(f"/api/v1/jobs/{job['id']}", headers=linker).json()["state"] == "queued":
            time.sleep(0.05)
        time.sleep(1.0)  # well into the run
        os.kill(server.pid, signal.SIGKILL)
        server.wait()

    with running_service(env) as (client, _):
        linker = sign_in(client, "linker", secrets)
        killed = client.get(f"/api/v1/jobs/{job['id']}", headers=linker).json()
        assert killed["state"] == "failed" and "interrupted" in killed["error"], killed
        officer = sign_in(client, "privacy_officer", secrets)
        assert client.get("/api/v1/audit/verify", headers=officer).json()["ok"]
        rerun = _wait(client, client.post("/api/v1/jobs", json={"kind": "link"}, headers=linker).json(), linker)
        again = _wait(client, client.post("/api/v1/jobs", json={"kind": "link"}, headers=linker).json(), linker)
        assert rerun["state"] == again["state"] == "done", (rerun, again)
        maps = [_partition(ws, job["result"]["map_table"]) for job in (rerun, again)]
        assert maps[0] == maps[1] and rerun["result"]["persons"] == again["result"]["persons"]


def test_a_restart_removes_deliveries_a_killed_service_left_uploaded(env: Env) -> None:
    from linkhaven.service.jobs import JobRunner

    runner = JobRunner(Workspace.open(env.workspace, env.keys))
    left = runner.upload_folder() / "extract.csv"
    left.write_text("REC_ID,NAME\n1,Zebulonique\n")
    assert left.parent.stat().st_mode & 0o077 == 0
    runner.recover()
    assert not left.exists() and not left.parent.exists()
    runner.close()
