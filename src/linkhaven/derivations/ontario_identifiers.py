"""Ontario's identifier rules: the Ontario Education Number and the Canadian postal code.

Kept out of intake and linkage so that those stages read no Ontario name: a spec says
`check: ontario_oen` (or, as the Ontario spec's fields do, the short name `oen`) and the stages
look the rule up. The OEN's official check-digit rule is not public, so production checks the
9-digit format only; the synthetic generator's stand-in check digit is Luhn, turned on by the
spec's `identifiers` section for rehearsals.
"""

from __future__ import annotations

from linkhaven.derivations.identifiers import STRIP_SEPARATORS, UPPER_NO_SPACE, IdentifierRule, register

CANADIAN_POSTAL_PATTERN = "^[ABCEGHJKLMNPRSTVXY][0-9][ABCEGHJKLMNPRSTVWXYZ][0-9][ABCEGHJKLMNPRSTVWXYZ][0-9]$"
"""A Canadian postal code without its space: letter-digit-letter digit-letter-digit (Canada Post letters)."""

ONTARIO_OEN = register(
    IdentifierRule(
        name="ontario_oen",
        description="Ontario Education Number: nine digits, spaces and hyphens ignored",
        reason="invalid_oen",
        pattern="^[0-9]{9}$",
        normalise=STRIP_SEPARATORS,
        check_digit="luhn",
        aliases=("oen",),
    )
)

CANADIAN_POSTAL_CODE = register(
    IdentifierRule(
        name="canadian_postal_code",
        description="Canadian postal code, upper-cased without spaces",
        reason="invalid_postal_code",
        pattern=CANADIAN_POSTAL_PATTERN,
        normalise=UPPER_NO_SPACE,
        aliases=("postal_code",),
    )
)
