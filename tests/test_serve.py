"""The practice page (symgrad.serve) through Starlette's test client: pages, grading,
and what untrusted requests meet (CSRF, size limits, the rate limit, the content
security policy, no traceback, no file reached from the client)."""

from __future__ import annotations

import html
import re
import sys
from typing import Iterator

import pytest

pytest.importorskip("starlette", reason="the serve extra is not installed (no starlette)")

from starlette.testclient import TestClient  # noqa: E402

from symgrad.exercises import load_template  # noqa: E402
from symgrad.serve import Limits, RateLimit, create_app  # noqa: E402
from symgrad.serve.app import PAGE_CSP, SOLUTION_CSP  # noqa: E402

from .conftest import DERIVATIONS, run_cli  # noqa: E402

TEMPLATE = load_template(DERIVATIONS / "two_neuron_exercise.toml")
CODE = "DSSWRX"  # a variant of the two-neuron template
URL = "http://127.0.0.1"


def _client(**options: object) -> TestClient:
    return TestClient(create_app(TEMPLATE, **options), base_url=URL)  # type: ignore[arg-type]


@pytest.fixture
def client() -> TestClient:
    return _client()


def _token(page: str) -> str:
    return re.search(r'name="csrf" value="([0-9a-f]{64})"', page).group(1)  # type: ignore[union-attr]


def _post(client: TestClient, answers: dict[str, str], *, code: str = CODE) -> object:
    token = _token(client.get(f"/v/{code}").text)
    return client.post(f"/v/{code}", data={"csrf": token, **answers})


def _paragraph(page: str, element: str) -> str:
    found = re.search(rf'id="{element}">(.*?)</p>', page)
    assert found, f"no #{element} on the page"
    return html.unescape(found.group(1))


# -- pages ------------------------------------------------------------------------------------


def test_the_page_shows_the_variant_under_the_content_security_policy(client) -> None:
    page = client.get(f"/v/{CODE.lower()}")  # a code as typed: any case
    assert page.status_code == 200
    assert page.headers["content-security-policy"] == PAGE_CSP
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["x-frame-options"] == "DENY"
    cookie = page.headers["set-cookie"]
    assert cookie.startswith("symgrad_csrf=") and "HttpOnly" in cookie and \
        "SameSite=strict" in cookie
    scripts = re.findall(r"<script[^>]*>", page.text)
    assert scripts == ['<script src="/static/preview.js" defer>']  # none inline
    assert " style=" not in page.text and "<style" not in page.text
    assert f'<span class="code" id="code">{CODE}</span>' in page.text
    for q in TEMPLATE.questions:
        assert f'name="{q.id}" id="answer-{q.id}"' in page.text
    assert page.text.count("data-preview=") == 1  # the one question in symbols


def test_the_start_page_draws_a_variant_of_the_template(client) -> None:
    first = client.get("/", follow_redirects=False)
    assert first.status_code == 303
    code = first.headers["location"].removeprefix("/v/")
    assert TEMPLATE.variant(code).code == code
    assert client.get(first.headers["location"]).status_code == 200


def test_the_worked_solution_is_the_report_of_the_variant(client) -> None:
    page = client.get(f"/v/{CODE}/solution")
    assert page.status_code == 200
    assert page.headers["content-security-policy"] == SOLUTION_CSP
    assert f"Worked solution of variant {CODE}" in page.text
    assert "<script" not in page.text


def test_an_unknown_code_is_a_page_saying_so(client) -> None:
    page = client.get("/v/AAAAAA")
    assert page.status_code == 404
    assert _paragraph(page.text, "message") == (
        f"unknown variant code 'AAAAAA': it is not a code of '{TEMPLATE.title}' (mistyped?)")
    long = client.get("/v/" + "A" * 40)
    assert long.status_code == 404 and "A" * 40 not in long.text


def test_static_files_are_the_two_of_the_package(client) -> None:
    script = client.get("/static/preview.js")
    assert script.status_code == 200
    assert script.headers["content-type"] == "text/javascript; charset=utf-8"
    assert "fetch(\"/preview?text=\"" in script.text
    assert client.get("/static/app.py").status_code == 404


def test_another_host_name_is_refused(client) -> None:  # DNS rebinding
    page = client.get(f"/v/{CODE}", headers={"host": "evil.example"})
    assert (page.status_code, page.text) == (400, "Invalid host header")
    assert page.headers["content-security-policy"] == PAGE_CSP


# -- grading --------------------------------------------------------------------------------


def test_answers_are_graded_with_the_diagnosis(client) -> None:
    variant = TEMPLATE.variant(CODE)
    right = f"{variant.answer('q1').value:.6g}"
    wrong = variant.answer("q4").wrong[0]  # the sign mistake
    page = _post(client, {"q1": right, "q4": f"{wrong.value:.6g}",
                          "q7": "(a2 - T) a2 (1 - a2) w2 x1", "q2": ""})
    assert page.status_code == 200
    text = page.text
    assert _paragraph(text, "verdict-q1") == "Right: 1 of 1 point"
    assert "diagnosis-q1" not in text
    assert _paragraph(text, "verdict-q4") == "Wrong: 1 of 2 points"  # a sign: half
    assert _paragraph(text, "diagnosis-q4") == wrong.diagnosis
    assert _paragraph(text, "verdict-q7") == "Wrong: 0.5 of 2 points"  # its partial credit
    assert _paragraph(text, "diagnosis-q7") == ("Your expression is missing the factor "
                                                "a1*(1 - a1) (da1/dz1).")
    assert "verdict-q2" not in text  # left empty: not graded
    assert _paragraph(text, "total") == "2.5 of 5 points for the 3 answers checked."
    assert f'value="{right}"' in text  # the answers stay in their fields
    preview = re.search(r'id="preview-q7" aria-live="polite">(<math.*?</math>)</div>', text)
    assert preview and "<mi>x</mi>" in preview.group(1)


BROKEN = ["((((", "9^9^9^9", "\\frac{", "\x00", "1e999", "(" * 60 + "a1" + ")" * 60,
          "__import__('os').system('true')", "\\input{/etc/passwd}", "a1\u202e2"]


@pytest.mark.parametrize("answer", BROKEN, ids=range(len(BROKEN)))
def test_a_broken_answer_is_wrong_with_the_reason_not_a_traceback(client, answer) -> None:
    page = _post(client, {"q3": answer, "q7": answer})
    assert page.status_code == 200
    assert "Traceback" not in page.text and 'File "' not in page.text
    assert _paragraph(page.text, "verdict-q3") == "Wrong: 0 of 1 point"
    assert _paragraph(page.text, "diagnosis-q3").startswith("not a")
    assert _paragraph(page.text, "verdict-q7") == "Wrong: 0 of 2 points"
    assert _paragraph(page.text, "diagnosis-q7").startswith(("cannot read the expression: ",
                                                             "cannot check the expression: "))


def test_a_failure_inside_is_a_page_without_its_traceback(monkeypatch) -> None:
    def broken(*args: object) -> None:
        raise RuntimeError("secret detail of the server")

    client = TestClient(create_app(TEMPLATE), base_url=URL, raise_server_exceptions=False)
    token = _token(client.get(f"/v/{CODE}").text)
    monkeypatch.setattr("symgrad.serve.app.grade_answer", broken)
    page = client.post(f"/v/{CODE}", data={"csrf": token, "q1": "0.5"})
    assert page.status_code == 500
    assert "secret detail" not in page.text and "Traceback" not in page.text
    assert _paragraph(page.text, "message") == ("something went wrong on the server; the "
                                                "teacher can find the error in the server's log")
    assert page.headers["content-security-policy"] == PAGE_CSP


# -- untrusted requests -----------------------------------------------------------------------


def test_a_form_without_its_csrf_token_is_refused(client) -> None:
    token = _token(client.get(f"/v/{CODE}").text)
    forged = "0" * 64
    other = _client()  # another browser: its own cookie, so this token is not its
    for sender, data in ((client, {"q1": "0.5"}), (client, {"csrf": forged, "q1": "0.5"}),
                         (other, {"csrf": token, "q1": "0.5"})):
        page = sender.post(f"/v/{CODE}", data=data)
        assert page.status_code == 403
        assert "verdict" not in page.text
        assert _paragraph(page.text, "message") == (
            "this form did not come from this page, or the page is too old: load the page "
            "again and answer there")
    assert client.post(f"/v/{CODE}", data={"csrf": token, "q1": "0.5"}).status_code == 200


def test_an_oversize_field_is_refused(client) -> None:
    limit = Limits().field
    page = _post(client, {"q7": "a1" * limit})
    assert page.status_code == 413
    assert _paragraph(page.text, "message") == (
        f"the answer to q7 has {2 * limit} characters; the limit is {limit}")
    assert _post(client, {"q7": "a" * limit}).status_code == 200  # at the limit: read


def test_an_oversize_or_strange_form_is_refused() -> None:
    client = _client(limits=Limits(body=300, field=100, fields=4))
    token = _token(client.get(f"/v/{CODE}").text)
    cases = [({"csrf": token, "q1": "1" * 90, "q2": "2" * 90, "q3": "3" * 90}, 413,
              "the form is larger than 300 bytes"),
             ({"csrf": token, "q1": "1", "q2": "2", "q3": "3", "q4": "4"}, 413,
              "the form has more than 4 fields"),
             ({"csrf": token, "path": "/etc/passwd"}, 400,
              "the form has a field this page does not have")]
    for data, status, message in cases:
        page = client.post(f"/v/{CODE}", data=data)
        assert (page.status_code, _paragraph(page.text, "message")) == (status, message)
    twice = client.post(f"/v/{CODE}", content=f"csrf={token}&q1=1&q1=2",
                        headers={"content-type": "application/x-www-form-urlencoded"})
    assert (twice.status_code, _paragraph(twice.text, "message")) == (
        400, "the form has q1 twice")
    for body, message in ((b"q1=%ED%A0%80", "the form is not URL-encoded UTF-8"),
                          (b"q1=\xc3\xa9", "the form is not URL-encoded UTF-8")):
        raw = client.post(f"/v/{CODE}", content=body,
                          headers={"content-type": "application/x-www-form-urlencoded"})
        assert (raw.status_code, _paragraph(raw.text, "message")) == (400, message)
    json = client.post(f"/v/{CODE}", json={"csrf": token})
    assert (json.status_code, _paragraph(json.text, "message")) == (
        415, "the answers must come from the page's form")


def test_the_preview_shows_the_parsed_expression_within_the_limit(client) -> None:
    shown = client.get("/preview", params={"text": r"\frac{1}{2} (T - a2)^2"}).json()
    assert shown["error"] == "" and shown["mathml"].startswith("<math")
    assert "<mfrac><mrow><msup>" in shown["mathml"]  # symgrad's printing: (T - a2)^2 / 2
    assert client.get("/preview", params={"text": "a2 +"}).json() == {
        "mathml": "", "error": "cannot read the expression: unexpected end of input at "
                               "column 5 (expected a number, a symbol, a function or '(')"}
    script = client.get("/preview", params={"text": "<script>alert(1)</script>"}).json()
    assert script["mathml"] == "" and "<script" not in script["error"].split(":")[0]
    long = client.get("/preview", params={"text": "a" * (Limits().field + 1)})
    assert long.status_code == 413
    assert long.json()["error"] == f"the expression is longer than {Limits().field} characters"


def test_the_rate_limit_answers_429_with_retry_after() -> None:
    client = _client(rate=RateLimit(burst=3, per_second=0.01))
    assert [client.get("/static/style.css").status_code for _ in range(4)] == [200, 200, 200, 429]
    limited = client.get(f"/v/{CODE}")
    assert limited.status_code == 429 and limited.headers["retry-after"] == "100"
    assert limited.text == "too many requests; wait a moment and try again"
    assert limited.headers["content-security-policy"] == PAGE_CSP


@pytest.fixture
def opened() -> Iterator[list[tuple[str, tuple[object, ...]]]]:
    """Audit events of the file system (open, os.listdir, ...) whose arguments name a
    probe path, while on."""
    seen: list[tuple[str, tuple[object, ...]]] = []
    state = {"on": True}

    def hook(event: str, args: tuple[object, ...]) -> None:
        if state["on"] and event.startswith(("open", "os.", "shutil.", "glob.")) and any(isinstance(a, (str, bytes)) and
                               ("passwd" in str(a) or "probe_file" in str(a)) for a in args):
            seen.append((event, args))

    sys.addaudithook(hook)  # hooks cannot be removed: switched off after the test
    yield seen
    state["on"] = False


def test_a_path_from_the_client_never_reaches_the_file_system(client, opened, tmp_path) -> None:
    probe = tmp_path / "probe_file.toml"
    probe.write_text("x")
    probe.read_text()
    assert any(event == "open" and args[0] == str(probe) for event, args in opened)  # it sees
    opened.clear()
    paths = ["/etc/passwd", "../../etc/passwd", str(probe), "file:///etc/passwd"]
    for path in paths:
        quoted = path.replace("/", "%2F")
        assert client.get(f"/v/{quoted}").status_code == 404
        assert client.get(f"/v/{quoted}/solution").status_code == 404
        assert client.get(f"/static/{quoted}").status_code == 404
        assert client.get("/preview", params={"text": path}).status_code == 200
        assert _post(client, {"q1": path, "q7": path}).status_code == 200
    assert client.get("/static/../../../etc/passwd").status_code == 404
    assert opened == []


# -- the command ------------------------------------------------------------------------------


def test_serve_without_the_extra_says_how_to_install_it() -> None:
    script = ("import sys; sys.modules['starlette'] = None; from symgrad.cli import main; "
              f"sys.exit(main(['serve', {str(DERIVATIONS / 'two_neuron_exercise.toml')!r}]))")
    import subprocess

    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 2
    assert proc.stderr == ("symgrad serve: error: the practice page needs starlette, which is "
                           "not installed; install with: pip install 'symgrad[serve]'\n")


def test_serve_refuses_a_bad_port_and_a_bad_template(tmp_path) -> None:
    template = str(DERIVATIONS / "two_neuron_exercise.toml")
    bad = run_cli("serve", template, "--port", "70000")
    assert (bad.returncode, bad.stderr) == (
        2, "symgrad serve: error: --port: 70000 is not a port (0 to 65535)\n")
    missing = run_cli("serve", str(tmp_path / "none.toml"))
    assert missing.returncode == 2 and missing.stderr.startswith("symgrad serve: error: ")
    assert "none.toml" in missing.stderr and "Traceback" not in missing.stderr


def test_serve_refuses_a_template_without_any_variant(tmp_path) -> None:
    text = (DERIVATIONS / "two_neuron_exercise.toml").read_text() \
        .replace("x1 = [0.75, 1.25, 1.5, 1.75, 2.0]", "x1 = [20.0]") \
        .replace("w1 = { from = -1.0, to = 1.0, step = 0.05 }", "w1 = [4.0, 5.0]")
    template = tmp_path / "saturated.toml"
    template.write_text(text)
    proc = run_cli("serve", str(template), "--port", "0")
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.startswith(f"symgrad serve: error: {template}:")
    assert "no variant possible: all " in proc.stderr and proc.stderr.count("\n") == 1
