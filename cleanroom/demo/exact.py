"""The demo world's datasets as frames keyed by ``pid``, for computing exact (noise-free) answers.

``pid`` here is the SHA-256 hex of the normalized email (what ``cleanroom hash`` uploads); the
server's keyed pid differs but joins the same people, so any query gives the same answer on
either. Register the frames with an engine under the dataset names (``purpose=...``: consent
applied, consent columns dropped; a template's plain SQL with bound parameters runs on them) or
under ``dataset_view(name)`` (``purpose=None``: as ingestion stores them, consent columns kept;
a compiled template runs on them and gives the release's exact, pre-noise, bounded answer).
With ``consented=True`` (the dataset of a consent analysis, ``-- consent: <dataset>``) the rows
are not filtered by the purpose's consent: they carry it as the boolean column ``consented``.

>>> from cleanroom.demo.exact import person_key
>>> person_key("Jane.Doe+news@GMAIL.com") == person_key("janedoe@gmail.com")
True
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from cleanroom.demo.emails import identity_key
from cleanroom.demo.specs import demo_dataset_specs
from cleanroom.demo.world import World
from cleanroom.names import CONSENTED

View = tuple[str, str | None]  # a template's purpose and its consent analysis's dataset

_KEPT_ROLES = ("dimension", "sensitive", "metric", "timestamp")


def person_key(email: str) -> str:
    """SHA-256 hex of the normalized email (cleanroom.client.normalize)."""
    return hashlib.sha256(identity_key(email).encode("utf-8")).hexdigest()


def keyed_frame(world: World, name: str, hashed: Path | None = None) -> pd.DataFrame:
    """Dataset ``name`` as generated, with ``pid`` added (every row and column): read once, then
    cut to what each purpose sees by :func:`as_seen_by`. Each distinct address is hashed once;
    ``hashed``, the dataset's upload (``cleanroom.demo.uploads``: the same rows with the address
    already hashed), saves even that."""
    spec = demo_dataset_specs()[name]
    roles = {column: col["role"] for column, col in spec["columns"].items()}
    stamps = [column for column, role in roles.items() if role == "timestamp"]
    source = world.files[name] if hashed is None else hashed
    frame = pd.read_csv(source, parse_dates=stamps, engine="pyarrow")
    identifiers = [column for column, role in roles.items() if role == "identifier"]
    if identifiers and hashed is not None:
        frame = frame.rename(columns={identifiers[0]: "pid"})
    elif identifiers:
        codes, uniques = pd.factorize(frame[identifiers[0]])
        keys = np.array([person_key(e) for e in uniques.tolist()], dtype=object)
        frame = frame.assign(pid=keys[codes])
    return frame


def as_seen_by(
    frame: pd.DataFrame, name: str, purpose: str | None, *, consented: bool = False
) -> pd.DataFrame:
    """A :func:`keyed_frame` as a template of ``purpose`` sees it (consenting rows, no consent
    columns; ``consented``: every row, with its consent as ``consented``), or with
    ``purpose=None`` as ingestion stores it (consent kept)."""
    spec = demo_dataset_specs()[name]
    roles = {column: col["role"] for column, col in spec["columns"].items()}
    flag: list[str] = []
    for column, col in spec["columns"].items():
        if col["role"] == "consent" and col["purpose"] == purpose and consented:
            frame = frame.assign(**{CONSENTED: frame[column].fillna(False).astype(bool)})
            flag = [CONSENTED]
        elif col["role"] == "consent" and col["purpose"] == purpose:
            frame = frame[frame[column]]
    kept = _KEPT_ROLES + (("consent",) if purpose is None else ())
    columns = [column for column, role in roles.items() if role in kept]
    keyed = ["pid"] if "pid" in frame.columns else []
    return frame[keyed + columns + flag].reset_index(drop=True)


def exact_frame(
    world: World, name: str, purpose: str | None, *, consented: bool = False
) -> pd.DataFrame:
    """Dataset ``name`` keyed by ``pid``, by :func:`as_seen_by`."""
    return as_seen_by(keyed_frame(world, name), name, purpose, consented=consented)


def exact_frames(world: World, purpose: str | None) -> dict[str, pd.DataFrame]:
    """Every demo dataset by :func:`exact_frame`."""
    return {name: exact_frame(world, name, purpose) for name in demo_dataset_specs()}


def exact_views(purposes: set[str]) -> set[View]:
    """Every view a template of the demo may have: a purpose, alone or with the consent analysis
    of a dataset that has a consent column for it."""
    views: set[View] = {(purpose, None) for purpose in purposes}
    for name, spec in demo_dataset_specs().items():
        for col in spec["columns"].values():
            if col["role"] == "consent" and col["purpose"] in purposes:
                views.add((col["purpose"], name))
    return views


def exact_tables(
    world: World, uploads: Mapping[str, Path], root: Path, views: set[View]
) -> dict[View, dict[str, Path]]:
    """(purpose, consent dataset) -> dataset name -> Parquet file of the data as a template of
    that purpose (and ``-- consent:`` header, when not None) sees it, read from the hashed
    uploads (``cleanroom.demo.uploads``); one file per distinct cut (most datasets look the same
    to every view)."""
    tables: dict[View, dict[str, Path]] = {view: {} for view in views}
    root.mkdir(parents=True, exist_ok=True)
    for name, spec in demo_dataset_specs().items():
        frame = keyed_frame(world, name, uploads[name])  # read once, cut per view
        written: dict[tuple[str | None, bool], Path] = {}
        for (purpose, consent), files in sorted(tables.items(), key=lambda v: str(v[0])):
            consented = name == consent
            # A cut is decided by the consent column it filters on (or carries) and nothing else.
            column = next(
                (c for c, col in spec["columns"].items()
                 if col["role"] == "consent" and col["purpose"] == purpose),
                None,
            )  # fmt: skip
            key = (column, consented)
            if key not in written:
                written[key] = root / f"{name}-{len(written)}.parquet"
                cut = as_seen_by(frame, name, purpose, consented=consented)
                cut.to_parquet(written[key], index=False)
            files[name] = written[key]
    return tables
