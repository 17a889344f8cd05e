"""Named identifier rules: how an identifier is normalised and when it is valid, as SQL.

A spec names a rule (`check: digits_9_luhn`, or a unit's own) instead of carrying code, so intake's
format checks and linkage's "is this identifier usable" test mean the same thing for every
source that declares the rule. Generic rules live here; a unit's own rules (an identifier whose
shape is particular to one jurisdiction) live in that unit's derivations module and register
themselves in the same registry, which `identifier_rule` loads on first use.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field

from linkhaven.sqlquote import lit

UNIT_MODULES = ("linkhaven.derivations.ontario",)
"""Modules that register a unit's own rules; imported once, the first time a rule is looked up."""


@dataclass(frozen=True)
class IdentifierRule:
    """An identifier's normal form and validity, as SQL over one value expression.

    `normalise` is a template with `{value}` (e.g. strip separators); `pattern` is a regular
    expression the normalised value must match in full; `check_digit` names an optional check
    (`luhn`), used only where the spec turns it on, because some check rules are not public."""

    name: str
    description: str
    reason: str
    """Intake's reason code for a value that fails the rule (a code, never the value)."""
    pattern: str
    normalise: str = "{value}"
    check_digit: str | None = None
    aliases: tuple[str, ...] = field(default=())

    def normalised(self, value: str) -> str:
        return self.normalise.format(value=value)

    def valid(self, value: str, with_check_digit: bool = False) -> str:
        """SQL: true when the (already normalised) `value` is a valid identifier."""
        predicate = f"regexp_full_match({value}, {lit(self.pattern)})"
        if with_check_digit and self.check_digit == "luhn":
            predicate = f"({predicate} AND {luhn_ok(value, self.pattern_length())})"
        return predicate

    def pattern_length(self) -> int:
        digits = "".join(ch for ch in self.pattern if ch.isdigit())
        return int(digits) if digits else 9


_RULES: dict[str, IdentifierRule] = {}
_loaded = False


def register(rule: IdentifierRule) -> IdentifierRule:
    """Make `rule` known by its name and aliases; a second rule under a taken name is refused."""
    for name in (rule.name, *rule.aliases):
        if name in _RULES and _RULES[name] is not rule:
            raise ValueError(f"identifier rule '{name}' is already registered")
        _RULES[name] = rule
    return rule


def _load_units() -> None:
    global _loaded
    if not _loaded:
        _loaded = True
        for module in UNIT_MODULES:
            importlib.import_module(module)


def identifier_rule(name: str) -> IdentifierRule:
    """The rule registered as `name`; KeyError names the known rules."""
    _load_units()
    try:
        return _RULES[name]
    except KeyError:
        raise KeyError(f"no identifier rule '{name}'; known rules: {', '.join(rule_names())}") from None


def rule_names() -> list[str]:
    _load_units()
    return sorted(_RULES)


def luhn_ok(value: str, length: int = 9) -> str:
    """Luhn mod 10 over all `length` digits of `value`, as SQL (every second digit from the right,
    excluding the check digit, doubled)."""
    terms = []
    for position in range(length):
        digit = f"CAST(substr({value}, {position + 1}, 1) AS INTEGER)"
        if (length - 1 - position) % 2 == 1:
            terms.append(f"(CASE WHEN {digit} * 2 > 9 THEN {digit} * 2 - 9 ELSE {digit} * 2 END)")
        else:
            terms.append(digit)
    return f"(({' + '.join(terms)}) % 10 = 0)"


STRIP_SEPARATORS = "regexp_replace({value}, '[ -]', '', 'g')"
UPPER_NO_SPACE = "upper(regexp_replace({value}, '\\s', '', 'g'))"

register(
    IdentifierRule(
        name="digits_9_luhn",
        description="nine digits, separators ignored, the last a Luhn check digit where checks are on",
        reason="invalid_identifier",
        pattern="^[0-9]{9}$",
        normalise=STRIP_SEPARATORS,
        check_digit="luhn",
    )
)
