"""Array type aliases shared by the generator's vectorised stages.

The stages keep big per-row arrays in the narrowest integer and float types that fit (12 million
rows at scale 1), so the aliases name the kind of value, not its width.
"""

from typing import Any

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.integer[Any]]
FloatArray = npt.NDArray[np.floating[Any]]
BoolArray = npt.NDArray[np.bool_]
DateArray = npt.NDArray[np.datetime64]
