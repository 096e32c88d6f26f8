"""The neighbour sensitivity fuzzer: accepted templates never change by more than their claimed
sensitivity when one person is added to (or removed from) the data, and never fail on one side.

Three corpora: the accepted corpus (tests/policy/accepted_corpus.py, collab world), the shipped
templates (queries/*.sql, demo world) and the template grammar (tests/policy/template_grammar.py,
three worlds). The harness is tests/policy/neighbours.py, the data strategies
tests/policy/neighbour_data.py.

The default run is bounded (about a minute on two cores); ``pytest -m fuzz_long`` runs the long
profile (``CLEANROOM_FUZZ_EXAMPLES`` sets its examples per test, and selects it without ``-m``).
Each finding kind is its own exception type, so hypothesis shrinks and reports each one.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from cleanroom.errors import TemplateRejected
from cleanroom.policy import parse_template_file
from cleanroom.specs import ParamSpec
from tests.policy.accepted_corpus import ACCEPTED
from tests.policy.adversarial_corpus import CASES as ADVERSARIAL_CASES
from tests.policy.adversarial_corpus import PARAMS as ADVERSARIAL_PARAMS
from tests.policy.adversarial_corpus import Case as AdversarialCase
from tests.policy.neighbour_data import (
    COLLAB,
    DEMO,
    WIDE,
    WORLDS,
    adversarial_world,
    datasets,
    hints,
    neighbours,
)
from tests.policy.neighbours import SEEDED, Case, Data, World, check_neighbour, compile_case
from tests.policy.template_grammar import templates

QUERIES = Path(__file__).resolve().parents[2] / "queries"
SHIPPED = sorted(QUERIES.glob("*.sql"))
CORPUS_PARAMS = (
    ParamSpec("campaign_ids", "list[str]", ["c1", "c2"], True),
    ParamSpec("window_days", "int", 14, True),
    ParamSpec("since", "date", "2024-01-01", True),
)
LONG_EXAMPLES = int(os.environ.get("CLEANROOM_FUZZ_EXAMPLES") or 300)
# Below these acceptance rates the grammar tests little. A sound compiler refuses most templates
# with adversarial branches or planted shapes (as it should), so the floor falls with the rate of
# adversarial branches (None: drawn per template). Plain templates (label "grammar": no adversarial
# branch, nothing planted) must mostly pass whatever the profile.
MIN_ACCEPTANCE = {None: 0.15, 0.0: 0.3, 0.3: 0.08, 0.7: 0.04}
MIN_PLAIN_ACCEPTANCE = 0.4


class NeighbourViolation(AssertionError):
    """A neighbour pair breaks the release's claimed sensitivity (or runs on one side only)."""


_KINDS: dict[str, type[NeighbourViolation]] = {}


def violation(kind: str) -> type[NeighbourViolation]:
    """One exception type per finding kind: hypothesis shrinks each distinct failure."""
    if kind not in _KINDS:
        name = "".join(p.title() for p in kind.split("_")) + "Violation"
        _KINDS[kind] = type(name, (NeighbourViolation,), {})
    return _KINDS[kind]


@dataclass
class Stats:
    generated: int = 0
    accepted: int = 0
    plain_generated: int = 0  # grammar templates without planted shapes
    plain_accepted: int = 0
    checked: int = 0
    skipped: int = 0
    consent_generated: int = 0  # consent analyses (or ``consented`` read without the header)
    consent_keyed: int = 0  # of them accepted, with ``consented`` as a release key
    consent_refused: int = 0  # of them refused for their use of ``consented`` (consent_column)

    @staticmethod
    def rate(part: int, whole: int) -> float:
        return part / whole if whole else 0.0

    def __str__(self) -> str:
        return (
            f"{self.accepted}/{self.generated} accepted "
            f"({self.rate(self.accepted, self.generated):.0%}; plain templates "
            f"{self.plain_accepted}/{self.plain_generated}), {self.checked} neighbour pairs "
            f"compared, {self.skipped} skipped (group cap by RANDOM())"
        )


def fuzz_settings(examples: int) -> settings:
    return settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        print_blob=False,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.filter_too_much,
            HealthCheck.data_too_large,
            HealthCheck.large_base_example,
        ],
    )


def _summary(data: Data) -> str:
    counts = ", ".join(f"{n}: {len(r)}" for n, r in data.rows.items() if r)
    return f"{len(data.people())} people ({counts}); suppressed {sorted(data.suppressed)}"


def fuzz_one(world: World, case: Case, draw: st.DataObject, stats: Stats) -> None:
    """Accepted ``case``: draw D and up to three neighbours, compare each pair."""
    plain = case.label == "grammar"
    consent = "consent" in case.label
    stats.generated += 1
    stats.plain_generated += plain
    stats.consent_generated += consent
    try:
        compiled = compile_case(world, case, None, 0)
    except TemplateRejected as rejected:
        codes = {v.code for v in rejected.violations}
        stats.consent_refused += consent and bool(codes & {"consent_column", "unknown_column"})
        assume(False)
        raise
    read = compiled.datasets
    stats.consent_keyed += compiled.consent_key is not None
    stats.accepted += 1
    stats.plain_accepted += plain
    hinted = hints(case)
    pid_types = ("BLOB", "BLOB", "BLOB", "VARCHAR")
    data = draw.draw(datasets(world, pid_types=pid_types, hinted=hinted), label="D")
    pairs = draw.draw(
        st.lists(neighbours(world, data, read, hinted), min_size=1, max_size=3), label="D'"
    )
    seed = draw.draw(st.integers(0, 2**31 - 1), label="seed")
    use_observed = draw.draw(st.booleans(), label="observed_max_rows")
    for index, neighbour in enumerate(pairs):
        check = check_neighbour(
            world, case, data, neighbour, seed=seed, use_observed=use_observed, repeat=index == 0
        )
        if check.skipped:
            stats.skipped += 1
            continue
        stats.checked += 1
        if check.findings:
            first = check.findings[0]
            lines = [
                f"{first.kind}: {first.detail}",
                *(f"also {f}" for f in check.findings[1:]),
                f"template ({world.name}, {case.label}, purpose {case.purpose}): {case.sql}",
                f"parameters: {[p.to_dict() for p in case.parameters]} bounds: {dict(case.bounds)}",
                f"D: {_summary(data)}",
                f"D': {neighbour.describe()}",
                f"seed {seed} (seeded compiler: {SEEDED}), observed_max_rows: {use_observed}",
            ]
            raise violation(first.kind)("\n".join(lines))


# --- corpora --------------------------------------------------------------------------------------
def corpus_case(sql: str) -> Case:
    used = tuple(p for p in CORPUS_PARAMS if f":{p.name}" in sql)
    return Case(sql, used, label="accepted_corpus")


def shipped_case(path: Path) -> Case:
    source = parse_template_file(path.read_text(encoding="utf-8"))
    purpose = source.purpose or "measurement"
    return Case(
        source.sql, source.parameters, {}, source.bounds, purpose, path.stem, source.consent
    )


def adversarial_case(case: AdversarialCase) -> Case | None:
    """A case of tests/policy/adversarial_corpus.py, compiled as test_adversarial.py does (None:
    its header is refused)."""
    sql, params, bounds = case.sql, case.params, dict(case.bounds)
    if case.header:
        try:
            source = parse_template_file(case.header + sql)
        except TemplateRejected:
            return None
        sql, params = source.sql, params or source.parameters
        bounds = {**source.bounds, **bounds}
    if not params:
        params = tuple(p for p in ADVERSARIAL_PARAMS if f":{p.name}" in sql)
    return Case(sql, tuple(params), case.values, bounds, "measurement", case.id)


def _fixed_case(world: World, case: Case, examples: int, *, rejection_passes: bool = False) -> None:
    try:
        compile_case(world, case, None, 0)
    except TemplateRejected as rejected:
        if rejection_passes:
            return  # refused: nothing is released (test_adversarial checks the codes)
        codes = sorted({v.code for v in rejected.violations})
        pytest.skip(f"rejected by compile_template ({codes}); test_accepted covers acceptance")
    stats = Stats()

    @fuzz_settings(examples)
    @given(draw=st.data())
    def run(draw: st.DataObject) -> None:
        fuzz_one(world, case, draw, stats)

    run()
    assert stats.checked, f"no neighbour pair was compared: {stats}"


@pytest.mark.parametrize("sql", ACCEPTED, ids=[f"t{i}" for i in range(len(ACCEPTED))])
def test_accepted_corpus_neighbours(sql: str) -> None:
    _fixed_case(COLLAB, corpus_case(sql), 5)


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_shipped_template_neighbours(path: Path) -> None:
    _fixed_case(DEMO, shipped_case(path), 5)


@pytest.mark.parametrize("case", ADVERSARIAL_CASES, ids=[c.id for c in ADVERSARIAL_CASES])
def test_adversarial_corpus_neighbours(case: AdversarialCase) -> None:
    """Every adversarial case the compiler accepts (whether or not the corpus expects it to be
    refused) stays within its sensitivity on generated neighbours."""
    fixed = adversarial_case(case)
    if fixed is not None:
        _fixed_case(adversarial_world(), fixed, 3, rejection_passes=True)


def _grammar(
    world: World, examples: int, adversarial: float | None = None, consent: bool | None = None
) -> Stats:
    stats = Stats()

    @fuzz_settings(examples)
    @given(case=templates(world, adversarial, consent), draw=st.data())
    def run(case: Case, draw: st.DataObject) -> None:
        fuzz_one(world, case, draw, stats)

    run()
    assert stats.generated, "no template was generated"
    floor = MIN_ACCEPTANCE[adversarial]
    assert stats.rate(stats.accepted, stats.generated) >= floor, f"vacuous: {stats}"
    plain = stats.rate(stats.plain_accepted, stats.plain_generated)
    assert stats.plain_generated < 10 or plain >= MIN_PLAIN_ACCEPTANCE, f"vacuous: {stats}"
    assert stats.checked >= stats.skipped, f"most comparisons were skipped: {stats}"
    return stats


@pytest.mark.parametrize("world", [COLLAB, DEMO, WIDE], ids=lambda w: w.name)
def test_grammar_neighbours(world: World) -> None:
    _grammar(world, {"collab": 100, "demo": 60, "wide": 60}[world.name])


@pytest.mark.parametrize("world", [COLLAB, DEMO], ids=lambda w: w.name)
def test_grammar_consent_analysis_neighbours(world: World) -> None:
    """Consent analyses only: ``consented`` grouping the release is accepted and stays within
    its sensitivity (a person with rows of both values touches two groups); its adversarial
    uses (filtered, joined, transformed, aggregated, grouped per person, read without the
    header) are generated and refused."""
    stats = _grammar(world, 60, consent=True)
    # (not all: a purpose the world's datasets have no consent column for is drawn now and then)
    assert stats.consent_generated * 2 > stats.generated, f"few consent analyses: {stats}"
    assert stats.consent_keyed, f"no accepted consent analysis grouped by consented: {stats}"
    assert stats.consent_refused, f"no misuse of consented was generated: {stats}"


# --- the long profile -----------------------------------------------------------------------------
@pytest.mark.fuzz_long
@pytest.mark.parametrize("world", sorted(WORLDS), ids=str)
@pytest.mark.parametrize("adversarial", [0.0, 0.3, 0.7], ids=["plain", "mixed", "hostile"])
def test_grammar_neighbours_long(world: str, adversarial: float) -> None:
    _grammar(WORLDS[world], LONG_EXAMPLES, adversarial)


@pytest.mark.fuzz_long
@pytest.mark.parametrize("sql", ACCEPTED, ids=[f"t{i}" for i in range(len(ACCEPTED))])
def test_accepted_corpus_neighbours_long(sql: str) -> None:
    _fixed_case(COLLAB, corpus_case(sql), max(10, LONG_EXAMPLES // 10))


@pytest.mark.fuzz_long
@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_shipped_template_neighbours_long(path: Path) -> None:
    _fixed_case(DEMO, shipped_case(path), max(10, LONG_EXAMPLES // 10))


@pytest.mark.fuzz_long
@pytest.mark.parametrize("case", ADVERSARIAL_CASES, ids=[c.id for c in ADVERSARIAL_CASES])
def test_adversarial_corpus_neighbours_long(case: AdversarialCase) -> None:
    fixed = adversarial_case(case)
    if fixed is not None:
        examples = max(10, LONG_EXAMPLES // 10)
        _fixed_case(adversarial_world(), fixed, examples, rejection_passes=True)
