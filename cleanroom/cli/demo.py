"""``cleanroom demo``: the end-to-end demo against a real server (see ``cleanroom.demo.runner``)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import click

import cleanroom.cli.demo_extra  # noqa: F401 - first: a usage error when the demo extra is missing
from cleanroom.client import ApiError
from cleanroom.config import load_settings
from cleanroom.demo.runner import DemoFailed, DemoOptions, run_demo
from cleanroom.demo.specs import DEFAULT_RUN_EPSILON
from cleanroom.demo.world import DEFAULT_SHOPPERS, MAX_SHOPPERS, MIN_SHOPPERS
from cleanroom.errors import CleanroomError


@contextmanager
def _progress_bar(label: str) -> Iterator[Callable[[float], None]]:
    with click.progressbar(length=100, label=f"  {label}", file=sys.stderr) as bar:
        shown = [0]

        def update(fraction: float) -> None:
            pct = round(100 * min(max(fraction, 0.0), 1.0))
            if pct > shown[0]:
                bar.update(pct - shown[0])
                shown[0] = pct

        yield update


@click.command("demo")
@click.option("--output", type=click.Path(file_okay=False, path_type=Path),
              default=Path("demo-output"), show_default=True,
              help="Where the reports, charts and summary.json are written.")  # fmt: skip
@click.option("--shoppers", type=click.IntRange(MIN_SHOPPERS, MAX_SHOPPERS),
              default=DEFAULT_SHOPPERS, show_default=True,
              help="Size of the synthetic retailer's shopper base.")  # fmt: skip
@click.option("--seed", type=click.IntRange(min=0), default=7, show_default=True,
              help="Seed of the synthetic world (the noise is never seeded).")  # fmt: skip
@click.option("--epsilon", type=click.FloatRange(min=0.0, min_open=True),
              default=DEFAULT_RUN_EPSILON, show_default=True,
              help="Privacy loss epsilon of each run.")  # fmt: skip
@click.option("--queries", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Folder of *.sql templates (default: the shipped queries/).")  # fmt: skip
@click.option("--engine", type=click.Choice(["duckdb", "spark"]), default=None,
              help="Query engine of the server (default: CLEANROOM_ENGINE).")  # fmt: skip
@click.option("--serve", is_flag=True,
              help="Keep the server and its web console up at the end (until Ctrl-C), and "
                   "print a sign-in token per role.")  # fmt: skip
def demo(
    output: Path, shoppers: int, seed: int, epsilon: float, queries: Path | None,
    engine: str | None, serve: bool,
) -> None:  # fmt: skip
    """Run every shipped template end to end on a synthetic retailer and advertiser, through a
    real server, and compare each released number with the exact answer."""
    if engine is None:
        try:
            engine = load_settings().engine
        except CleanroomError as err:
            click.echo(f"demo failed: {err.code}: {err.detail}", err=True)
            raise SystemExit(2) from None
    options = DemoOptions(
        output=output, shoppers=shoppers, seed=seed, epsilon=epsilon, queries=queries,
        engine=engine, serve=serve,
    )  # fmt: skip
    try:
        result = run_demo(options, echo=click.echo, progress=_progress_bar)
    except (ApiError, DemoFailed) as err:
        click.echo(f"demo failed: {err}", err=True)
        raise SystemExit(1) from None
    except CleanroomError as err:
        click.echo(f"demo failed: {err.code}: {err.detail}", err=True)
        raise SystemExit(1) from None
    click.echo(f"demo finished in {result.seconds:.0f} s")
    if not result.audit_ok:
        raise SystemExit(1)
