"""The engine on sources with nothing of Ontario: two files of persons linked one-to-one without an
identifier, and one file de-duplicated without labels, declared in a `linkage:` section alone."""

from __future__ import annotations

import random
from datetime import date, timedelta
from pathlib import Path

import pyarrow as pa
import pytest

from linkhaven.link import LinkConfig, SourceInput, evaluate, link
from linkhaven.spec.linkage import Linkage

GIVEN = [
    "olivia",
    "jack",
    "noah",
    "amelia",
    "isla",
    "oliver",
    "william",
    "mia",
    "charlotte",
    "lucas",
    "harper",
    "henry",
    "ella",
    "leo",
    "grace",
    "thomas",
    "chloe",
    "james",
    "ruby",
    "oscar",
    "zoe",
    "max",
    "lily",
    "ava",
]
FAMILY = [
    "smith",
    "jones",
    "williams",
    "brown",
    "wilson",
    "taylor",
    "johnson",
    "white",
    "martin",
    "anderson",
    "thompson",
    "nguyen",
    "thomas",
    "walker",
    "harris",
    "lee",
    "ryan",
    "robinson",
    "kelly",
    "king",
    "davis",
]
STREETS = ["stanley street", "pinkerton circuit", "kent street", "george street", "main road", "river lane"]
FIELDS = {
    "given_name": {"kind": "given_name"}, "surname": {"kind": "family_name"}, "dob": {"kind": "date"},
    "postcode": {"kind": "postcode", "pattern": "^[0-9]{4}$", "prefixes": [3, 2]},
    "street": {"kind": "address"}, "state": {"kind": "code"},
}  # fmt: skip
BIND = {"given_name": "given_name", "surname": "surname", "dob": "date_of_birth", "postcode": "postcode",
        "street": "address_1", "state": "state"}  # fmt: skip
RULES = {
    "comparisons": [{"field": f} for f in FIELDS],
    "blocking": ["l.dob = r.dob", "l.given_std = r.given_std AND l.family_joined = r.family_joined",
                 "l.postcode = r.postcode AND l.family_phon = r.family_phon", "l.street = r.street"],
    "training_blocking": ["l.dob = r.dob", "l.given_std = r.given_std AND l.family_joined = r.family_joined"],
}  # fmt: skip


def typo(rng: random.Random, text: str) -> str:
    i = rng.randrange(len(text))
    return text[:i] + rng.choice("aeioustnr") + text[i + 1 :]


def people(n: int, seed: int) -> list[dict[str, str]]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        born = date(1950, 1, 1) + timedelta(days=rng.randrange(20000))
        out.append({
            "entity": f"e{i}", "given_name": rng.choice(GIVEN), "surname": rng.choice(FAMILY),
            "date_of_birth": born.strftime("%Y%m%d"), "postcode": str(rng.randrange(2000, 7999)),
            "address_1": f"{rng.randrange(1, 99)} {rng.choice(STREETS)}", "state": rng.choice(["nsw", "vic", "qld"]),
        })  # fmt: skip
    return out


def noisy(rng: random.Random, person: dict[str, str]) -> dict[str, str]:
    """A copy with one or two errors: a typo in a name, a missing field, or a digit of the date."""
    copy = dict(person)
    for _ in range(rng.randrange(1, 3)):
        field = rng.choice(["given_name", "surname", "postcode", "address_1", "date_of_birth"])
        if not copy[field]:
            continue
        if field == "date_of_birth":
            copy[field] = copy[field][:6] + f"{rng.randrange(1, 28):02d}"
        elif rng.random() < 0.3:
            copy[field] = ""
        else:
            copy[field] = typo(rng, copy[field])
    return copy


def source(name: str, rows: list[dict[str, str]]) -> SourceInput:
    columns = ["given_name", "surname", "date_of_birth", "postcode", "address_1", "state"]
    table = pa.table({
        "record_code": [f"{name}{i}" for i in range(len(rows))],
        "rec_id": [f"{name}-{i}" for i in range(len(rows))],
        **{c: [r[c] or None for r in rows] for c in columns},
    })  # fmt: skip
    return SourceInput(name, table)


def truth(name: str, rows: list[dict[str, str]]) -> list[tuple[str, str, str]]:
    return [(name, f"{name}-{i}", r["entity"]) for i, r in enumerate(rows)]


def as_truth(rows: list[tuple[str, str, str]]) -> pa.Table:
    return pa.table({"source": [r[0] for r in rows], "source_record_id": [r[1] for r in rows],
                     "true_entity_id": [r[2] for r in rows]})  # fmt: skip


@pytest.mark.parametrize("mode", ["link", "dedupe"])
def test_persons_are_found_through_the_declaration_alone(mode: str, tmp_path: Path) -> None:
    rng = random.Random(7)
    persons = people(400, 3)
    if mode == "link":
        a = persons
        b = [noisy(rng, p) for p in persons[:300]] + people(100, 4)
        b = [dict(p, entity=p["entity"] + ("x" if i >= 300 else "")) for i, p in enumerate(b)]
        inputs = {"a": source("a", a), "b": source("b", b)}
        rows = truth("a", a) + truth("b", b)
        linkage = Linkage.model_validate({
            "accept_probability": 0.9, "review_lower_probability": 0.5, "fields": FIELDS,
            "sources": {"a": {"fields": BIND}, "b": {"fields": BIND}},
            "links": [{"source": "a", "to": "b", "assignment": "one_to_one"}], **RULES,
        })  # fmt: skip
        pair = "a~b"
    else:
        a = persons + [noisy(rng, p) for p in persons[:150]]
        inputs = {"a": source("a", a)}
        rows = truth("a", a)
        linkage = Linkage.model_validate({
            "accept_probability": 0.9, "review_lower_probability": 0.5, "fields": FIELDS,
            "sources": {"a": {"fields": BIND}}, "dedupe": [{"source": "a"}], **RULES,
        })  # fmt: skip
        pair = "a~a"
    config = LinkConfig(linkage=linkage, record_ids={s: "rec_id" for s in inputs}, threads=1)
    result = link(inputs, config, tmp_path)
    assert result.map.num_rows == sum(len(r) for r in (a, *([b] if mode == "link" else [])))
    measured = evaluate(result.map, inputs, as_truth(rows), config)
    figures = measured["pairs"][pair]
    assert figures["status"] == "measured"
    assert figures["precision"] >= 0.97 and figures["recall"] >= 0.9, figures
    assert pair in result.models
