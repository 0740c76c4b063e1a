"""The review app over HTTP (Flask's test client): access, Host check, CSRF, headers, writes.

Every guard here has a test that fails without it: a request without the token, with a
rebinding Host, without the CSRF secret, or from another origin is refused.
"""

from __future__ import annotations

import json
import typing as t
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from grader.review.app import CSP, cookie_name, create_app
from grader.review.db import ReviewDB
from grader.review.views import REPORT_CSP
from tests.review.fixtures import GradedClass, build_class, read_json

PORT = 8765
TOKEN = "t0ken-for-tests"
BASE = f"http://127.0.0.1:{PORT}"


@pytest.fixture
def graded(tmp_path: Path) -> GradedClass:
    return build_class(tmp_path)


@pytest.fixture
def client(graded: GradedClass) -> FlaskClient:
    app = create_app(graded.out, token=TOKEN, port=PORT)
    return app.test_client()


def login(client: FlaskClient) -> str:
    response = client.get(f"{BASE}/?token={TOKEN}")
    assert response.status_code == 303 and response.headers["Location"] == "/"
    cookie = response.headers["Set-Cookie"]
    assert f"{cookie_name(PORT)}={TOKEN}" in cookie
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    page = client.get(f"{BASE}/")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    return text.split('data-csrf="', 1)[1].split('"', 1)[0]


@pytest.mark.parametrize(
    "path", ["/", "/q/written.transfer", "/s/alice", "/s/alice/report", "/static/review.js"]
)
def test_every_page_needs_the_token(client: FlaskClient, path: str) -> None:
    assert client.get(f"{BASE}{path}").status_code == 403
    assert client.get(f"{BASE}{path}?token=wrong").status_code == 403
    client.set_cookie(cookie_name(PORT), "wrong", domain="127.0.0.1")
    assert client.get(f"{BASE}{path}").status_code == 403


def test_the_host_header_is_checked_against_dns_rebinding(client: FlaskClient) -> None:
    login(client)
    for host in ("evil.example:8765", f"127.0.0.1:{PORT + 1}", "127.0.0.1", "localhost.evil:8765"):
        response = client.get(f"{BASE}/", headers={"Host": host})
        assert response.status_code == 403, host
    # Even with the right token in the URL, a foreign Host gets nothing (no cookie either).
    response = client.get(f"http://evil.example:{PORT}/?token={TOKEN}")
    assert response.status_code == 403 and "Set-Cookie" not in response.headers
    assert client.get(f"{BASE}/", headers={"Host": f"127.0.0.1:{PORT}"}).status_code == 200
    # localhost is another cookie domain: it needs the token once, and then it is served.
    welcome = client.get(f"http://localhost:{PORT}/?token={TOKEN}")
    assert welcome.status_code == 303
    assert client.get(f"http://localhost:{PORT}/").status_code == 200


def test_pages_carry_a_strict_policy_and_the_report_is_sandboxed(client: FlaskClient) -> None:
    login(client)
    page = client.get(f"{BASE}/s/carol")
    assert page.headers["Content-Security-Policy"] == CSP
    assert "script-src 'self'" in CSP and "unsafe-inline" not in CSP.split("style-src")[0]
    assert page.headers["X-Frame-Options"] == "DENY"
    assert page.headers["Cache-Control"] == "no-store"
    html = page.get_data(as_text=True)
    assert "<script>" not in html.split("</head>", 1)[1]  # no inline script anywhere in the body
    assert '<iframe class="report"' in html and " sandbox " in html
    report = client.get(f"{BASE}/s/carol/report")
    assert report.headers["Content-Security-Policy"] == REPORT_CSP
    assert report.headers["Content-Security-Policy"].startswith("sandbox;")


def test_student_text_is_escaped_everywhere(client: FlaskClient) -> None:
    login(client)
    html = client.get(f"{BASE}/q/written.transfer?s=carol").get_data(as_text=True)
    assert "<script>alert" not in html and '<b id="injected">' not in html
    assert "&lt;script&gt;alert(&#39;answer&#39;)&lt;/script&gt;" in html
    assert "{{ 7*7 }}" in html  # no template evaluation of student text either
    index = client.get(f"{BASE}/").get_data(as_text=True)
    assert "Carol &lt;b&gt;Shannon&lt;/b&gt;" in index


def _save(client: FlaskClient, csrf: str, **body: t.Any) -> t.Any:
    return client.post(
        f"{BASE}/q/written.transfer/save",
        data=json.dumps(body),
        content_type="application/json",
        headers={"X-CSRF-Token": csrf},
    )


def _digest(graded: GradedClass, sid: str) -> str:
    result = read_json(graded.out / sid / "result.json")
    return next(m["answer_digest"] for m in result["manual"] if m["id"] == "written.transfer")  # type: ignore[index]


def test_writes_need_the_csrf_secret_and_a_same_origin(
    client: FlaskClient, graded: GradedClass
) -> None:
    csrf = login(client)
    body = {
        "student": "alice",
        "digest": _digest(graded, "alice"),
        "version": 0,
        "criteria": [0],
        "points": 4,
    }
    assert _save(client, "", **body).status_code == 403
    assert _save(client, "x" * len(csrf), **body).status_code == 403
    cross = client.post(
        f"{BASE}/q/written.transfer/save",
        data=json.dumps(body),
        content_type="application/json",
        headers={"X-CSRF-Token": csrf, "Origin": "http://evil.example"},
    )
    assert cross.status_code == 403
    assert ReviewDB.in_folder(graded.out).all_manual() == []
    assert _save(client, csrf, **body).status_code == 200


def test_a_grade_is_stored_with_its_criteria_and_a_stale_page_conflicts(
    client: FlaskClient, graded: GradedClass
) -> None:
    csrf = login(client)
    digest = _digest(graded, "bob")
    ok = _save(
        client,
        csrf,
        student="bob",
        digest=digest,
        version=0,
        criteria=[0, 2],
        points=7,
        comment="clear",
    )
    assert ok.status_code == 200 and ok.get_json() == {"saved": True, "version": 1}
    stored = ReviewDB.in_folder(graded.out).manual("bob", "written.transfer", digest)
    assert stored is not None and stored.decision.points == 7
    assert stored.decision.criteria == (
        "Says which layers were reused, from the model trained on classes 0-4",
        "Names what was added and trained for classes 5-9",
    )
    stale = _save(client, csrf, student="bob", digest=digest, version=0, criteria=[], points=1)
    assert stale.status_code == 409 and "changed elsewhere" in stale.get_json()["error"]
    wrong_answer = _save(client, csrf, student="bob", digest="0" * 64, version=1, points=1)
    assert wrong_answer.status_code == 409
    too_many = _save(client, csrf, student="bob", digest=digest, version=1, points=11)
    assert too_many.status_code == 400
    assert client.get(f"{BASE}/q/written.transfer?s=nobody").status_code == 404


def test_an_override_keeps_the_verdict_and_needs_a_reason(
    client: FlaskClient, graded: GradedClass
) -> None:
    csrf = login(client)

    def post(**body: t.Any) -> t.Any:
        return client.post(
            f"{BASE}/s/bob/override",
            data=json.dumps(body),
            content_type="application/json",
            headers={"X-CSRF-Token": csrf},
        )

    assert post(check="transfer.frozen", version=0, score=15, reason="").status_code == 400
    assert post(check="transfer.frozen", version=0, score=16, reason="r").status_code == 400
    assert post(check="no.such", version=0, score=1, reason="r").status_code == 404
    assert (
        post(
            check="transfer.frozen", version=0, score=12, reason="frozen after compile"
        ).status_code
        == 200
    )
    page = client.get(f"{BASE}/s/bob").get_data(as_text=True)
    assert "overridden: 12" in page and "fail</span> 0/15" in page
    [stored] = ReviewDB.in_folder(graded.out).overrides_for("bob")
    assert (stored.decision.automatic_status, stored.decision.automatic_score) == ("fail", 0.0)


def test_forms_work_without_script(client: FlaskClient, graded: GradedClass) -> None:
    csrf = login(client)
    response = client.post(
        f"{BASE}/q/written.transfer/save",
        data={
            "csrf": csrf,
            "student": "alice",
            "digest": _digest(graded, "alice"),
            "version": "0",
            "criteria": ["0", "1"],
            "points": "7",
            "comment": "",
            "next": "bob",
        },
    )
    assert response.status_code == 303 and response.headers["Location"].endswith("s=bob")
    export = client.post(f"{BASE}/export", data={"csrf": csrf})
    assert export.status_code == 303
    assert "Exported" in client.get(f"{BASE}/").get_data(as_text=True)
    book = (graded.out / "gradebook.csv").read_text(encoding="utf-8").splitlines()
    assert book[1].startswith("alice,") and ",7,pending,100," in book[1]


def test_filters(client: FlaskClient) -> None:
    login(client)

    def students(query: str) -> list[str]:
        html = client.get(f"{BASE}/?{query}").get_data(as_text=True)
        return [part.split('"', 1)[0] for part in html.split('data-student="')[1:]]

    assert students("") == ["alice", "bob", "carol"]
    assert students("show=failed&check=transfer.frozen") == ["bob", "carol"]
    assert students("show=failed&check=base.compile") == []
    assert students("show=pending") == ["alice", "bob", "carol"]
    # The three examples are one solution with one mistake each: look-alikes by construction.
    assert students("show=flagged") == ["alice", "bob", "carol"]


def test_the_side_by_side_page_escapes_code(client: FlaskClient, graded: GradedClass) -> None:
    from tests.review.test_export import _hostile_code

    attack = _hostile_code(graded)
    from grader.review.export import export_review

    export_review(graded.out)
    fresh = create_app(graded.out, token=TOKEN, port=PORT).test_client()
    login(fresh)
    index = fresh.get(f"{BASE}/").get_data(as_text=True)
    pair = index.split('href="/pair/', 1)[1].split('"', 1)[0]
    html = fresh.get(f"{BASE}/pair/{pair}").get_data(as_text=True)
    assert "<script>alert(1)" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and attack.startswith("# </pre>")


def test_a_class_graded_again_while_the_desk_is_open_shows_at_once(
    client: FlaskClient, graded: GradedClass
) -> None:
    import dataclasses

    from tests.review.fixtures import STUDENTS, notebook, write_submission

    csrf = login(client)
    old = _digest(graded, "alice")
    alice = dataclasses.replace(STUDENTS[0], answers=("A late, better answer.", ""))
    write_submission(graded.out, graded.assignment, alice, notebook(alice))
    batch = graded.out / "batch.json"
    batch.write_text(batch.read_text("utf-8") + "\n", encoding="utf-8")  # as grade rewrites it
    html = client.get(f"{BASE}/q/written.transfer?s=alice").get_data(as_text=True)
    assert "A late, better answer." in html
    stale = _save(client, csrf, student="alice", digest=old, version=0, points=3)
    assert stale.status_code == 409
    fresh = _save(
        client, csrf, student="alice", digest=_digest(graded, "alice"), version=0, points=3
    )
    assert fresh.status_code == 200
