"""The named steps of a linkage run, each a function of the run's `RunContext`, run in order by `engine.link`."""
