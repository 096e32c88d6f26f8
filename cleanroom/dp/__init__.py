"""Differential privacy: privacy-loss values, OpenDP mechanisms, partition selection, accuracy.

The only package that imports OpenDP (through :mod:`cleanroom.dp._opendp`). Public API:

* :class:`PrivacyLoss`, :func:`compose` - loss values and their composition;
* :func:`split_loss` / :class:`LossSplit` - how a run's loss is divided among its measurements;
* :func:`release` / :class:`Release` - noise, partition selection, post-processing, accuracy;
* :func:`preview` / :class:`Preview` - the same cost and accuracy without touching data.
"""

from cleanroom.dp.loss import PrivacyLoss, compose
from cleanroom.dp.preview import Preview, preview
from cleanroom.dp.release import Release, release
from cleanroom.dp.split import NOISE_KINDS, LossPart, LossSplit, split_loss

__all__ = [
    "NOISE_KINDS",
    "LossPart",
    "LossSplit",
    "Preview",
    "PrivacyLoss",
    "Release",
    "compose",
    "preview",
    "release",
    "split_loss",
]
