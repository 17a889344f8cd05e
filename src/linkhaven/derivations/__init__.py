"""Named derivations and rules any project spec can refer to by name (generic here, a unit's own in its module)."""
