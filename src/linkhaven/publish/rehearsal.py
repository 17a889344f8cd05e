"""A synthetic panel shaped like an approved release, for rehearsals, tests and benchmarks.

Publication is computed from a release the privacy officer approved; a rehearsal panel is not one
and is never published. The Ontario-shaped one is generated with the synthetic data
(`linkhaven.synth.panel`), which knows that project's columns and figures; publication does not.
"""

from linkhaven.synth.panel import rehearsal_panel

__all__ = ["rehearsal_panel"]
