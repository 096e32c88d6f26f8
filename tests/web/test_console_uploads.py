"""The console's two-step upload: the file first, a spec drafted from its header with every role
to be confirmed, then registration; problems located by column and row; the kept file private
to the session that uploaded it and removed when it is registered or discarded."""

from __future__ import annotations

import io
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from cleanroom.scratch import STAGED_PREFIX, STAGED_TTL_SECONDS, sweep_data_dir
from tests.web.console_world import ConsoleUser, two_partner_collaboration
from tests.web.route_world import (
    ADVERTISER,
    OTHER_PARTNER,
    RETAILER,
    RouteApi,
    email_sha256,
)


@dataclass
class World:
    api: RouteApi
    cid: str
    data_dir: Path

    def staged_files(self) -> list[Path]:
        return sorted((self.data_dir / "tmp").glob(f"{STAGED_PREFIX}*"))


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    api, tmp, cid, _ = two_partner_collaboration(tmp_path_factory, "uploads")
    yield World(api, cid, tmp / "data")
    api.close()


def loyalty_csv(rows: int = 40, bad_row: int | None = None) -> bytes:
    """A partner's loyalty list: hashed email, a tier, points, a signup date, a postcode."""
    lines = ["email_sha256,tier,points,signup_date,postal_code"]
    for i in range(1, rows + 1):
        email = "someone@example.com" if i == bad_row else email_sha256(1000 + i)
        lines.append(f"{email},{'gold' if i % 3 else 'silver'},{i * 10},2026-0{1 + i % 9}-01,75001")
    return ("\n".join(lines) + "\n").encode()


def stage(user: ConsoleUser, cid: str, body: bytes, name: str = "Loyalty List.csv") -> str:
    """Upload ``body`` to the first step; the editor page it leads to."""
    sent = user.post(
        f"/console/c/{cid}/datasets/stage",
        data={"file": (io.BytesIO(body), name), "kind": "personal"},
        content_type="multipart/form-data",
    )
    assert sent.status_code == 303, sent.get_data(as_text=True)
    assert sent.headers["Location"].endswith(f"/c/{cid}/datasets/spec")
    editor = user.get(f"/console/c/{cid}/datasets/spec")
    assert editor.status_code == 200
    return editor.get_data(as_text=True)


def confirmed_form(**overrides: str) -> dict[str, str]:
    """Every column confirmed as drafted, with the metric's bounds filled in."""
    form = {f"c{i}.confirm": "yes" for i in range(4)}
    form.update({"name": "loyalty_list", "c2.lo": "0", "c2.hi": "5000", "action": "register"})
    form.update(overrides)
    return form


def dataset_names(world: World) -> set[str]:
    listed = world.api.call("GET", f"/v1/collaborations/{world.cid}/datasets", ADVERTISER,
                            "advertiser")  # fmt: skip
    return {d["name"] for d in listed.get_json()["items"]}


def test_the_editor_proposes_each_role_with_its_reason_and_registers_only_once_confirmed(
    world: World,
) -> None:
    user = ConsoleUser(world.api, ADVERTISER, "advertiser").sign_in()
    page = stage(user, world.cid, loyalty_csv())
    # The name comes from the file name; every column is proposed with why; none is confirmed.
    assert 'value="loyalty_list"' in page
    for column, role in (("email_sha256", "identifier"), ("tier", "dimension"),
                         ("points", "metric"), ("signup_date", "timestamp")):  # fmt: skip
        row = re.search(rf'<tr id="col-{column}".*?</tr>', page, re.S)
        assert row, column
        assert f'<option value="{role}" selected>' in row.group(0)
    assert "may identify a person or a household" in page  # postal_code: blocked
    assert "checked" not in page.split('id="spec-editor"')[1].split("</form>")[0]

    # Unconfirmed: refused, every column named, nothing registered, the file still kept.
    refused = user.post(f"/console/c/{world.cid}/datasets/spec", data={"action": "register"})
    assert refused.status_code == 422
    text = refused.get_data(as_text=True)
    for column in ("email_sha256", "tier", "points", "signup_date", "postal_code"):
        assert f"column &#39;{column}&#39;: confirm its role" in text
    assert "loyalty_list" not in dataset_names(world)
    assert len(world.staged_files()) == 1

    # A metric needs its bounds: located at its column.
    form = confirmed_form(**{"c4.confirm": "yes", "c2.lo": "", "c2.hi": ""})
    no_bounds = user.post(f"/console/c/{world.cid}/datasets/spec", data=form)
    assert no_bounds.status_code == 422
    assert '<a href="#col-points">points</a>' in no_bounds.get_data(as_text=True)

    done = user.post(
        f"/console/c/{world.cid}/datasets/spec", data=confirmed_form(**{"c4.confirm": "yes"})
    )
    assert done.status_code == 201, done.get_data(as_text=True)
    assert "loyalty_list version 1 registered" in done.get_data(as_text=True)
    assert "loyalty_list" in dataset_names(world)
    assert world.staged_files() == []  # registered: the kept file is gone
    assert user.get(f"/console/c/{world.cid}/datasets/spec").status_code == 404


def test_a_bad_value_is_shown_by_column_and_row_and_nothing_is_registered(world: World) -> None:
    user = ConsoleUser(world.api, ADVERTISER, "advertiser").sign_in()
    stage(user, world.cid, loyalty_csv(bad_row=7), name="raw.csv")
    form = confirmed_form(name="raw_list", **{"c4.confirm": "yes"})
    refused = user.post(f"/console/c/{world.cid}/datasets/spec", data=form)
    assert refused.status_code == 422
    text = refused.get_data(as_text=True)
    table = text.split('id="problems"')[1].split("</table>")[0]
    assert '<a href="#col-email_sha256">email_sha256</a></th><td>7</td>' in table
    assert "someone@example.com" not in text  # the value is never echoed
    assert "raw_list" not in dataset_names(world)
    # Discarding removes the kept file.
    discarded = user.post(f"/console/c/{world.cid}/datasets/spec", data={"action": "discard"})
    assert discarded.status_code == 303
    assert world.staged_files() == []


def test_changing_a_role_shows_what_the_new_role_needs(world: World) -> None:
    user = ConsoleUser(world.api, ADVERTISER, "advertiser").sign_in()
    stage(user, world.cid, loyalty_csv(), name="roles.csv")
    updated = user.post(
        f"/console/c/{world.cid}/datasets/spec", data={"action": "update", "c1.role": "metric"}
    )
    assert updated.status_code == 200
    text = updated.get_data(as_text=True)
    assert 'id="c1.lo"' in text  # tier now asks for bounds
    assert 'id="c1.hi"' in text
    assert "roles" not in dataset_names(world)
    user.post(f"/console/c/{world.cid}/datasets/spec", data={"action": "discard"})


def test_a_kept_file_belongs_to_the_session_that_uploaded_it(world: World) -> None:
    owner = ConsoleUser(world.api, ADVERTISER, "advertiser").sign_in()
    stage(owner, world.cid, loyalty_csv(), name="mine.csv")
    # The same org in another browser, and a competitor, see no file waiting.
    for other in (ConsoleUser(world.api, ADVERTISER, "advertiser").sign_in(),
                  ConsoleUser(world.api, OTHER_PARTNER, "advertiser").sign_in()):  # fmt: skip
        assert other.get(f"/console/c/{world.cid}/datasets/spec").status_code == 404
        posted = other.post(f"/console/c/{world.cid}/datasets/spec", data=confirmed_form())
        assert posted.status_code == 404
    # A second upload replaces the first: one kept file per session.
    stage(owner, world.cid, loyalty_csv(rows=10), name="mine.csv")
    assert len(world.staged_files()) == 1
    owner.post(f"/console/c/{world.cid}/datasets/spec", data={"action": "discard"})
    assert world.staged_files() == []


def test_the_json_spec_upload_locates_problems_too(world: World) -> None:
    import json

    user = ConsoleUser(world.api, ADVERTISER, "advertiser").sign_in()
    spec = {
        "name": "json_list", "kind": "personal", "purposes": ["measurement"],
        "columns": {"email_sha256": {"role": "identifier"},
                    "points": {"role": "metric", "bounds": [10, 1]}},
    }  # fmt: skip
    refused = user.post(
        f"/console/c/{world.cid}/datasets",
        data={"file": (io.BytesIO(loyalty_csv()), "list.csv"), "spec": json.dumps(spec)},
        content_type="multipart/form-data",
    )
    assert refused.status_code == 422
    assert '<a href="#col-points">points</a>' in refused.get_data(as_text=True)


def test_the_retailer_side_sees_the_same_form(world: World) -> None:
    admin = ConsoleUser(world.api, RETAILER, "retailer_admin").sign_in()
    page = admin.text(f"/console/c/{world.cid}/datasets")
    assert 'id="stage-form"' in page


def test_an_abandoned_kept_file_is_swept_after_its_lifetime(world: World) -> None:
    tmp = world.data_dir / "tmp"
    old, fresh = tmp / f"{STAGED_PREFIX}old", tmp / f"{STAGED_PREFIX}fresh"
    old.write_bytes(b"x")
    fresh.write_bytes(b"y")
    past = time.time() - STAGED_TTL_SECONDS - 60
    os.utime(old, (past, past))
    sweep_data_dir(world.data_dir)
    assert not old.exists()
    assert fresh.exists()
    fresh.unlink()
