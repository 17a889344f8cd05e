"""Nothing lost: every physical record of a delivery ends loaded or quarantined with its reason, whatever
the file holds (unclosed quotes, huge fields, stray fields, control bytes, mixed encodings, odd line ends),
and the same delivery is known again by its content."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest

from linkhaven.errors import InputError
from linkhaven.intake.records import MAX_LINE_BYTES, REASONS, SEPARATOR, ScanResult, scan_delivery
from tests.test_intake import ONSIS_HEADER, onsis_row

HEADER = ",".join(ONSIS_HEADER)


def lines_of(count: int, start: int = 0) -> list[str]:
    return [",".join(onsis_row(start + i)) for i in range(count)]


def scan(tmp_path: Path, data: bytes, encoding: str = "utf-8") -> ScanResult:
    source = tmp_path / "delivery.csv"
    source.write_bytes(data)
    return scan_delivery(source, encoding, ",", '"', tmp_path / "clean.txt")


def clean_rows(tmp_path: Path) -> list[list[str]]:
    return [line.split(SEPARATOR) for line in (tmp_path / "clean.txt").read_text(encoding="utf-8").splitlines()]


def reasons(result: ScanResult) -> dict[int, str]:
    return {r.line: r.reason for r in result.rejects}


def test_an_unclosed_quote_costs_its_own_line_only(tmp_path: Path) -> None:
    rows = lines_of(500)
    rows[9] = rows[9].replace("Émilie", '"Émilie')  # opens a quote that never closes
    result = scan(tmp_path, ("\n".join([HEADER, *rows]) + "\n").encode())
    assert result.records == 500 and result.clean == 499
    assert reasons(result) == {11: "unterminated_quote"}


def test_a_quoted_field_with_delimiters_and_escaped_quotes_loads(tmp_path: Path) -> None:
    row = onsis_row(1, LEGAL_LAST_NAME='Smith, "Jr"')
    line = ",".join(f'"{v.replace(chr(34), chr(34) * 2)}"' if '"' in v or "," in v else v for v in row)
    result = scan(tmp_path, f"{HEADER}\n{line}\n".encode())
    assert result.clean == 1 and not result.rejects
    assert clean_rows(tmp_path)[0][3] == 'Smith, "Jr"'


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (",".join(onsis_row(1)) + ",EXTRA", "too_many_columns"),
        (",".join(onsis_row(1)[:4]), "truncated_line"),
        (",".join(onsis_row(1, LEGAL_FIRST_NAME="Zo\x00e")), "control_character"),
        (",".join(onsis_row(1, LEGAL_FIRST_NAME="Zo\u202ee")), "control_character"),
        (",".join(onsis_row(1, LEGAL_FIRST_NAME='Zo"e')), "unterminated_quote"),
        (",".join(onsis_row(1, LEGAL_FIRST_NAME='"Zo"e')), "bad_quoting"),
        (",".join(onsis_row(1, LEGAL_FIRST_NAME="x" * 70_000)), "oversize_field"),
        (HEADER, "repeated_header"),
        (HEADER.lower().replace(",", " , "), "repeated_header"),
    ],
)
def test_each_broken_line_is_rejected_with_its_reason(tmp_path: Path, line: str, reason: str) -> None:
    rows = [*lines_of(3), line, *lines_of(3, start=10)]
    result = scan(tmp_path, ("\n".join([HEADER, *rows]) + "\n").encode())
    assert result.records == 7 and result.clean == 6
    assert reasons(result) == {5: reason}
    assert "\x00" not in result.rejects[0].text


def test_a_field_of_32_mib_is_quarantined_not_lost(tmp_path: Path) -> None:
    huge = ",".join(onsis_row(1, LEGAL_FIRST_NAME="x" * (32 << 20)))
    result = scan(tmp_path, "\n".join([HEADER, *lines_of(2), huge, *lines_of(2, start=5)]).encode() + b"\n")
    assert result.records == 5 and result.clean == 4
    assert reasons(result) == {4: "line_too_long"}
    assert len(result.rejects[0].text) < MAX_LINE_BYTES


@pytest.mark.parametrize("ending", [b"\r", b"\r\n", b"\n"])
def test_line_endings_of_every_kind_read_the_same(tmp_path: Path, ending: bytes) -> None:
    data = ending.join(x.encode() for x in [HEADER, *lines_of(20)]) + ending
    result = scan(tmp_path, data)
    assert (result.records, result.clean, result.rejects) == (20, 20, [])


def test_mixed_line_endings_and_a_missing_final_line_end(tmp_path: Path) -> None:
    rows = [x.encode() for x in lines_of(6)]
    data = HEADER.encode() + b"\r\n" + rows[0] + b"\n" + rows[1] + b"\r" + rows[2] + b"\r\n" + b"\n".join(rows[3:])
    result = scan(tmp_path, data)
    assert (result.records, result.clean) == (6, 6)


def test_empty_lines_between_records_are_records_but_not_at_the_end(tmp_path: Path) -> None:
    data = "\n".join([HEADER, *lines_of(2), "", "  ", *lines_of(2, start=5), "", ""]) + "\n"
    result = scan(tmp_path, data.encode())
    assert result.records == 6 and reasons(result) == {4: "empty_line", 5: "empty_line"}


def test_utf8_inside_a_windows_1252_delivery_is_flagged_not_garbled(tmp_path: Path) -> None:
    rows = [x.encode("cp1252") for x in lines_of(10)]
    rows[4] = ",".join(onsis_row(4, LEGAL_FIRST_NAME="Zoë")).encode("utf-8")
    result = scan(tmp_path, b"\n".join([HEADER.encode(), *rows]) + b"\n", encoding="cp1252")
    assert reasons(result) == {6: "mixed_encoding"}
    assert all("Ã" not in "".join(row) for row in clean_rows(tmp_path))
    assert "Bélanger" in clean_rows(tmp_path)[0][3]


def test_a_file_in_another_encoding_than_declared_is_refused_whole(tmp_path: Path) -> None:
    data = ("\n".join([HEADER, *lines_of(10)]) + "\n").encode("cp1252")
    with pytest.raises(InputError, match="looks like Windows-1252"):
        scan(tmp_path, data, encoding="utf-8")
    with pytest.raises(InputError, match="looks like UTF-8"):
        scan(tmp_path, ("\n".join([HEADER, *lines_of(10)]) + "\n").encode(), encoding="cp1252")


def test_utf16_is_refused_at_the_header(tmp_path: Path) -> None:
    data = ("\n".join([HEADER, *lines_of(3)]) + "\n").encode("utf-16-le")
    with pytest.raises(InputError, match="header"):
        scan(tmp_path, data)


def test_canonical_hash_ignores_line_endings_encoding_bom_and_trailing_spaces(tmp_path: Path) -> None:
    text = "\n".join([HEADER, *lines_of(5)]) + "\n"
    variants = [
        text.encode(),
        text.replace("\n", "\r\n").encode(),
        codecs.BOM_UTF8 + text.replace("\n", "  \n").encode(),
        (text + "\n\n").encode(),
    ]
    hashes = {scan(tmp_path, data).canonical_sha256 for data in variants}
    hashes.add(scan(tmp_path, text.encode("cp1252"), encoding="cp1252").canonical_sha256)
    assert len(hashes) == 1
    assert scan(tmp_path, text.replace("Émilie", "Emilie", 1).encode()).canonical_sha256 not in hashes


def test_the_operations_guide_explains_every_line_reason() -> None:
    guide = (Path(__file__).resolve().parents[1] / "docs" / "operations.md").read_text(encoding="utf-8")
    assert [reason for reason in REASONS if f"`{reason}`" not in guide] == []
