"""Synthetic institution extracts with ground truth.

`generate(out_dir, scale, seed)` writes what the three institutions would deliver (`cpin.csv`,
`onsis.csv`, `eqao.csv`, in the layouts of `docs/extract-layouts.md`) and, apart from them, the
ground truth (`truth.csv`, `persons.csv`). `synthesize` builds the same thing in memory. Identity
errors follow `ErrorRates`; `docs/synthetic-data.md` documents the population model and every rate.

Reading order, as `generate.synthesize` runs the stages:

1. the true persons: `population.py` (with `people.py`, `enrolment.py`, `demographics.py`,
   `family_names.py`, `twins_and_namesakes.py`);
2. who child welfare serves: `child_welfare.py` (with `child_welfare_careers.py`,
   `child_welfare_queue.py`, `child_welfare_episodes.py`, `scalar_draws.py`);
3. homes and boards shared by the extracts: `world.py` (with `residence.py`, `schools.py`);
4. the extracts: `extract_onsis.py`, `extract_eqao.py`, `extract_cpin.py` (with
   `extract_columns.py`), each recording identities through `noise.py`;
5. the files: `writer.py`, and `faults.py` for `--inject-faults`.
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
