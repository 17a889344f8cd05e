"""`make demo` end to end, through the service, on a small province: every stage run by the user of its
role as a signed-in client, then the service's log and the audit log searched (by this test, not only
by the demo) for sampled personal values and for every password, authenticator secret and token."""

from __future__ import annotations

import csv
import json
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

DIRECT_IDENTIFIERS = {
    "onsis": ("OEN", "LEGAL_FIRST_NAME", "LEGAL_LAST_NAME", "DATE_OF_BIRTH", "POSTAL_CODE"),
    "cpin": ("OEN", "FIRST_NAME", "LAST_NAME", "BIRTH_DATE", "POSTAL_CODE"),
}


def _sampled(extracts: Path) -> set[str]:
    values: set[str] = set()
    for source, columns in DIRECT_IDENTIFIERS.items():
        with (extracts / f"{source}.csv").open(encoding="cp1252", errors="replace", newline="") as handle:
            for number, row in enumerate(csv.DictReader(handle)):
                if number % 13 == 0:
                    values |= {row[c].strip() for c in columns if c in row and len(row[c].strip()) >= 5}
    return values


def _secrets(clients: Path) -> set[str]:
    found: set[str] = set()
    for folder in clients.iterdir():
        found.add((folder / "password").read_text().strip())
        found.add(json.loads((folder / "session.json").read_text())["token"])
        uri = folder / "authenticator.uri"
        if uri.exists():
            found.add(re.sub(r".*secret=([A-Z2-7]+).*", r"\1", uri.read_text().strip()))
    return found


def test_the_demo_runs_every_stage_through_the_service_and_leaks_nothing(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    environment = {k: v for k, v in os.environ.items() if not k.startswith("LINKHAVEN_")}
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "demo.py"), "--out", str(out)],
        env={**environment, "LINKHAVEN_DEMO_SCALE": "0.001"}, cwd=ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "[server, admin] service stopped" in done.stdout and "Demo complete" in done.stdout
    assert "LINKHAVEN_USER=" not in done.stdout  # no client says who it is: its token does
    assert done.stdout.count("refused, as it must be") == 4

    stages = json.loads((out / "summary.json").read_text())["stages"]
    assert stages["audit"]["ok"] is True and stages["leak_check"]["found"] == 0
    assert stages["publish"]["cells"]["published"] > 0 and stages["link_evaluation"]["pairs"]

    with sqlite3.connect(out / "workspace" / "linkhaven.db") as db:
        audit = db.execute("SELECT actor, object, detail FROM audit_events").fetchall()
        signins = db.execute("SELECT count(*) FROM audit_events WHERE action = 'auth.signin' AND outcome = 'ok'")
        assert signins.fetchone()[0] == 6  # the admin and one user of each role, each signed in once
    texts = {"service log": (out / "service.log").read_text(errors="replace"), "audit log": json.dumps(audit)}
    values = _sampled(out / "extracts") | _secrets(out / "clients")
    assert len(values) > 100
    for where, text in texts.items():
        leaked = [v for v in values if re.search(rf"(?<!\w){re.escape(v)}(?!\w)", text)]
        assert not leaked, f"{len(leaked)} sampled values or secrets in the {where}"
