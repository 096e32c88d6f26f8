"""The one place that imports OpenDP and turns on its ``contrib`` features.

Every other module of :mod:`cleanroom.dp` gets OpenDP from here, so the feature switch is made once,
on import, and nowhere else.
"""

from __future__ import annotations

import opendp.prelude as dp

# Why "contrib": the mechanisms we rely on (vector Laplace and Gaussian, the Laplace threshold used
# for partition selection, the zCDP -> approximate-DP conversion and fix_delta) are in OpenDP's
# contrib tier: their proofs are published with the library but have not yet completed OpenDP's
# vetting process. We accept that and state it in docs/privacy.md. We never enable
# "honest-but-curious" or "idealized-numerics".
dp.enable_features("contrib")

__all__ = ["dp"]
