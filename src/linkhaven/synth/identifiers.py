"""Identifiers: OENs with a stand-in check digit, record ids, person ids and postal codes.

**The OEN check digit here is a stand-in.** The OEN is nine digits, eight plus a check digit, but the
ministry's algorithm is not public (see `shared/reference/ontario-data.md` §2). Synthetic OENs use
Luhn mod 10 over the first eight digits so that "invalid OEN" is testable; production validation
must check the format only and never reject on this digit.

Record ids are distinct random-looking numbers from an affine bijection `(a*i + b) mod 10^k` with a
seeded multiplier coprime to 10, applied to a shuffled index: unique by construction, vectorised,
and free of the row order.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from linkhaven.synth.arrays import IntArray

OEN_LOW = 10_000_000  # first eight digits are 10000000..99999999 (no leading zero)
OEN_SPAN = 90_000_000
# Postal-code letters never used: D F I O Q U (and W, Z never first; the FSAs come from a list).
LDU_LETTERS = np.frombuffer(b"ABCEGHJKLMNPRSTVWXYZ", dtype=np.uint8)


def _coprime_multiplier(rng: np.random.Generator, modulus: int, factors: tuple[int, ...]) -> int:
    while True:
        a = int(rng.integers(modulus // 7, modulus - 1))
        if all(a % f for f in factors):
            return a


def scrambled_ids(rng: np.random.Generator, n: int, digits: int) -> IntArray:
    """`n` distinct numbers below 10**digits that do not follow the input order."""
    modulus = 10**digits
    if n > modulus:
        raise ValueError(f"cannot draw {n} distinct ids with {digits} digits")
    a = _coprime_multiplier(rng, modulus, (2, 5))
    b = int(rng.integers(0, modulus))
    i = rng.permutation(n).astype(np.int64)
    # (a*i) can overflow int64 for 10-digit ids: split a into high and low parts.
    a_hi, a_lo = divmod(a, 100_000)
    out: IntArray = ((i * a_hi % modulus) * 100_000 % modulus + i * a_lo + b) % modulus
    return out


def format_ids(numbers: IntArray, prefix: str, digits: int) -> pa.StringArray:
    """Zero-padded ids with a letter prefix: ('R', 10) -> R0012345678."""
    text = pc.utf8_lpad(pa.array(numbers, pa.int64()).cast(pa.string()), width=digits, padding="0")
    result: pa.StringArray = pc.binary_join_element_wise(prefix, text, "")
    return result


def luhn_check_digit(payload: IntArray) -> IntArray:
    """Luhn mod-10 check digit for 8-digit payloads (the stand-in OEN check)."""
    total = np.zeros(len(payload), dtype=np.int64)
    rest = payload.astype(np.int64).copy()
    for position in range(8):  # position 0 is the rightmost payload digit, which Luhn doubles
        digit = rest % 10
        rest //= 10
        if position % 2 == 0:
            digit = digit * 2
            digit = np.where(digit > 9, digit - 9, digit)
        total += digit
    return (10 - total % 10) % 10


def make_oens(rng: np.random.Generator, n: int) -> IntArray:
    """`n` distinct valid 9-digit OENs as integers."""
    a = _coprime_multiplier(rng, OEN_SPAN, (2, 3, 5))
    b = int(rng.integers(0, OEN_SPAN))
    i = rng.permutation(n).astype(np.int64)
    payload = OEN_LOW + (i * a + b) % OEN_SPAN
    return payload * 10 + luhn_check_digit(payload)


def is_valid_oen(text: str) -> bool:
    """Nine digits whose last is the stand-in Luhn check digit of the first eight."""
    if len(text) != 9 or not text.isdigit():
        return False
    payload = np.array([int(text[:8])], dtype=np.int64)
    return int(luhn_check_digit(payload)[0]) == int(text[8])


def corrupt_oen(oen: int, u_kind: float, u_pos: float, u_digit: float) -> str:
    """An invalid rendering of a valid OEN: a wrong digit (40%), two adjacent digits exchanged (30%),
    a digit dropped (15%) or added (15%). The first two fail the stand-in check, the last two the
    format."""
    s = f"{oen:09d}"
    if u_kind < 0.30:
        pairs = [i for i in range(8) if s[i] != s[i + 1] and {s[i], s[i + 1]} != {"0", "9"}]
        if pairs:
            i = pairs[min(int(u_pos * len(pairs)), len(pairs) - 1)]
            return s[:i] + s[i + 1] + s[i] + s[i + 2 :]
    if u_kind < 0.70:
        i = min(int(u_pos * 9), 8)
        new = (int(s[i]) + 1 + min(int(u_digit * 9), 8)) % 10
        return s[:i] + str(new) + s[i + 1 :]
    if u_kind < 0.85:
        i = min(int(u_pos * 9), 8)
        return s[:i] + s[i + 1 :]
    i = min(int(u_pos * 10), 9)
    return s[:i] + str(min(int(u_digit * 10), 9)) + s[i:]


def postal_codes(rng: np.random.Generator, fsa: npt.NDArray[np.bytes_], spaced: bool = True) -> pa.StringArray:
    """Random LDUs ('1A1') behind the given FSAs: valid Canadian format, letters from the allowed set."""
    n = len(fsa)
    width = 7 if spaced else 6
    buf = np.empty((n, width), dtype=np.uint8)
    buf[:, :3] = np.frombuffer(fsa.astype("S3").tobytes(), dtype=np.uint8).reshape(n, 3)
    offset = 3
    if spaced:
        buf[:, 3] = ord(" ")
        offset = 4
    buf[:, offset] = ord("0") + rng.integers(0, 10, n)
    buf[:, offset + 1] = LDU_LETTERS[rng.integers(0, len(LDU_LETTERS), n)]
    buf[:, offset + 2] = ord("0") + rng.integers(0, 10, n)
    raw = buf.reshape(-1).tobytes()
    offsets = pa.py_buffer(np.arange(0, (n + 1) * width, width, dtype=np.int32).tobytes())
    return pa.StringArray.from_buffers(n, offsets, pa.py_buffer(raw))
