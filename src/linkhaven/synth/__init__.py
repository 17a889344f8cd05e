"""Synthetic institution extracts with ground truth.

`generate(out_dir, scale, seed)` writes what the three institutions would deliver (`cpin.csv`,
`onsis.csv`, `eqao.csv`, in the layouts of `docs/extract-layouts.md`) and, apart from them, the
ground truth (`truth.csv`, `persons.csv`). `synthesize` builds the same thing in memory. Identity
errors follow `ErrorRates`; `docs/synthetic-data.md` documents the population model and every rate.
"""

from linkhaven.synth.generate import SynthData, SynthSummary, generate, synthesize
from linkhaven.synth.identifiers import is_valid_oen
from linkhaven.synth.rates import ErrorRates, SourceRates, SynthError, load_rates

__all__ = [
    "ErrorRates",
    "SourceRates",
    "SynthData",
    "SynthError",
    "SynthSummary",
    "generate",
    "is_valid_oen",
    "load_rates",
    "synthesize",
]
