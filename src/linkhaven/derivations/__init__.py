"""Named derivations and rules that any project spec can refer to by name (generic ones here, a unit's own in its module)."""
