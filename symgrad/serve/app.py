"""The practice page as an ASGI app (Starlette): a student gets a variant of an exercise
template, types answers, and sees right or wrong with the diagnosis; the worked solution
on request.

Routes: ``/`` draws a new variant and redirects to ``/v/CODE``, its page; a POST there
grades the answers typed (the form, CSRF-checked); ``/v/CODE/solution`` is the worked
solution (the derivation report at the variant's numbers); ``/preview?text=...`` returns
a typed expression as MathML (JSON) for the page's one script, ``/static/preview.js``.
Nothing the client sends names a file: the code selects a variant of the one template
loaded at start, and the two static files are served from memory.

>>> from starlette.testclient import TestClient
>>> from symgrad.exercises import load_template
>>> app = create_app(load_template("derivations/two_neuron_exercise.toml"))
>>> client = TestClient(app, base_url="http://127.0.0.1")
>>> page = client.get("/v/DSSWRX")
>>> page.status_code, "DSSWRX" in page.text, page.headers["content-security-policy"][:18]
(200, True, "default-src 'none'")
"""

from __future__ import annotations

import secrets
import threading
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping

import jinja2
from markupsafe import Markup
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..errors import ExerciseError
from ..exercises import Template, Variant, Verdict, generate, grade_answer
from ..exercises.sheets import environment as sheet_environment
from ..exercises.solutions import solution_content, solution_html
from ..exercises.variants import normal_code
from ..files import read_text
from ..report.escape import paragraphs
from .guard import Limits, RateLimit, Refused, Tokens, read_form
from .preview import preview

__all__ = ["create_app", "Practice", "PAGE_CSP", "SOLUTION_CSP", "LOOPBACK"]

#: The practice page: its own script and style sheet only, forms posted to itself.
PAGE_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
            "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
#: A worked solution is a report page: its own <style> and style attributes, inline SVG
#: figures, and no script at all.
SOLUTION_CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
                "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
_HEADERS = {"content-security-policy": PAGE_CSP, "x-content-type-options": "nosniff",
            "referrer-policy": "no-referrer", "x-frame-options": "DENY",
            "cross-origin-opener-policy": "same-origin", "cache-control": "no-store"}
#: The host names a page served on this machine answers to (others: DNS rebinding).
LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")
_STATIC = {"preview.js": "text/javascript; charset=utf-8",
           "style.css": "text/css; charset=utf-8"}
_FOLDER = Path(__file__).resolve().parent
_CODE_LENGTH = 32  # longer path parts are not codes, and are not echoed back


class Guard:
    """ASGI middleware: the per-client rate limit, and the security headers on every
    response that does not set its own."""

    def __init__(self, app: ASGIApp, rate: RateLimit) -> None:
        self.app, self.rate = app, rate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in _HEADERS.items():
                    headers.setdefault(name, value)
            await send(message)

        waited = self.rate.wait((scope.get("client") or ("unknown", 0))[0])
        if waited:
            await Response("too many requests; wait a moment and try again", 429,
                           {"retry-after": self.rate.retry_after(waited)},
                           media_type="text/plain")(scope, receive, with_headers)
            return
        await self.app(scope, receive, with_headers)


class Practice:
    """The state of a practice page: the template, its variants and worked solutions
    (bounded caches), the CSRF tokens and the page templates. SymPy work (grading,
    previews, solutions) runs one request at a time under a lock, because grading
    shares the template's memo of checked expressions."""

    def __init__(self, template: Template, limits: Limits, tokens: Tokens) -> None:
        self.template, self.limits, self.tokens = template, limits, tokens
        self.fields = ("csrf", *(q.id for q in template.questions))
        self._lock = threading.RLock()  # a solution builds its variant under it
        self.variant = lru_cache(maxsize=256)(self._variant)
        self.solution = lru_cache(maxsize=16)(self._solution)
        self.static = {name: read_text(_FOLDER / "static" / name, what="a page file")
                       .encode("utf-8") for name in _STATIC}
        self.env = sheet_environment().overlay(
            loader=jinja2.PackageLoader("symgrad.serve", "templates"))
        generate(template, 1)  # a template without any possible variant fails here

    def fresh_code(self) -> str:
        """The code of a variant drawn at random."""
        with self._lock:
            return generate(self.template, 1, seed=secrets.randbelow(2**32)).variants[0].code

    def _variant(self, code: str) -> Variant:
        with self._lock:
            return self.template.variant(code)

    def _solution(self, code: str) -> str:
        with self._lock:
            return solution_html(solution_content(self.variant(code)))

    def grade(self, variant: Variant, form: Mapping[str, str]
              ) -> tuple[dict[str, Verdict], dict[str, str]]:
        """Verdicts of the questions answered, and the previews of typed expressions."""
        answered = [q for q in self.template.questions if form.get(q.id, "").strip()]
        with self._lock:
            verdicts = {q.id: grade_answer(variant, q, form[q.id]) for q in answered}
            shown = {q.id: preview(form[q.id], self.template.network).mathml
                     for q in answered if not q.numeric}
        return verdicts, shown

    def show(self, text: str) -> dict[str, str]:
        """The preview of ``text`` as the page's script receives it."""
        with self._lock:
            shown = preview(text, self.template.network)
        return {"mathml": shown.mathml, "error": shown.error}

    def render(self, name: str, **context: Any) -> str:
        """The page template ``name`` rendered."""
        return self.env.get_template(name).render(**context)


def _page(practice: Practice, request: Request, variant: Variant,
          form: Mapping[str, str], verdicts: Mapping[str, Verdict],
          shown: Mapping[str, str]) -> HTMLResponse:
    cookie = practice.tokens.keep(request.cookies.get(Tokens.COOKIE))
    items = [{"sheet": sq, "question": q, "answer": form.get(q.id, ""),
              "verdict": verdicts.get(q.id), "preview": Markup(shown.get(q.id, ""))}
             for sq, q in zip(variant.sheet.questions, practice.template.questions)]
    graded = list(verdicts.values())
    html = practice.render(
        "practice.html.j2", s=variant.sheet, paragraphs=paragraphs(variant.sheet.instructions),
        items=items, csrf=practice.tokens.form_token(cookie), limit=practice.limits.field,
        points=sum(v.points for v in graded), out_of=sum(v.out_of for v in graded),
        graded=len(graded))
    response = HTMLResponse(html)
    if cookie != request.cookies.get(Tokens.COOKIE):
        response.set_cookie(Tokens.COOKIE, cookie, httponly=True, samesite="strict", path="/")
    return response


async def _body(request: Request, limits: Limits) -> bytes:
    """The request's body, read no further than the limit."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        raise Refused(415, "the answers must come from the page's form")
    declared = request.headers.get("content-length", "0")
    limits.check_body(int(declared) if declared.isdigit() else limits.body + 1)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        limits.check_body(size)
        chunks.append(chunk)
    return b"".join(chunks)


def _code(request: Request) -> str:
    code = request.path_params["code"]
    if len(code) > _CODE_LENGTH:
        raise ExerciseError("unknown variant code: a code is six letters and digits")
    return code


def _routes(practice: Practice) -> list[Route]:
    async def new_variant(request: Request) -> Response:
        code = await run_in_threadpool(practice.fresh_code)
        return RedirectResponse(f"/v/{code}", status_code=303)

    async def variant_page(request: Request) -> Response:
        variant = await run_in_threadpool(
            practice.variant, normal_code(practice.template, _code(request)))
        if request.method == "GET":
            return _page(practice, request, variant, {}, {}, {})
        form = read_form(await _body(request, practice.limits), practice.fields,
                         practice.limits)
        if not practice.tokens.valid(request.cookies.get(Tokens.COOKIE), form.pop("csrf", "")):
            raise Refused(403, "this form did not come from this page, or the page is too "
                               "old: load the page again and answer there")
        verdicts, shown = await run_in_threadpool(practice.grade, variant, form)
        return _page(practice, request, variant, form, verdicts, shown)

    async def solution(request: Request) -> Response:
        code = normal_code(practice.template, _code(request))
        await run_in_threadpool(practice.variant, code)  # a degenerate code: its error
        html = await run_in_threadpool(practice.solution, code)
        return HTMLResponse(html, headers={"content-security-policy": SOLUTION_CSP})

    async def show(request: Request) -> Response:
        text = request.query_params.get("text", "")
        if len(text) > practice.limits.field:
            return JSONResponse({"mathml": "", "error": f"the expression is longer than "
                                 f"{practice.limits.field} characters"}, 413)
        return JSONResponse(await run_in_threadpool(practice.show, text))

    async def static(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in practice.static:
            raise HTTPException(404)
        return Response(practice.static[name], media_type=_STATIC[name],
                        headers={"cache-control": "no-cache"})

    return [Route("/", new_variant), Route("/v/{code}", variant_page, methods=["GET", "POST"]),
            Route("/v/{code}/solution", solution), Route("/preview", show),
            Route("/static/{name}", static),
            Route("/favicon.ico", lambda request: Response(status_code=204))]  # none, quietly


def _handlers(practice: Practice) -> dict[Any, Any]:
    def page(status: int, message: str) -> HTMLResponse:
        html = practice.render("error.html.j2", status=status, message=message)
        return HTMLResponse(html, status, headers=_HEADERS)

    async def refused(request: Request, exc: Exception) -> Response:
        return page(getattr(exc, "status", 400), str(exc))

    async def unknown_code(request: Request, exc: Exception) -> Response:
        return page(404, str(exc))

    async def http_error(request: Request, exc: Exception) -> Response:
        status = getattr(exc, "status_code", 400)
        return page(status, "no such page" if status == 404 else "this request is not served")

    async def server_error(request: Request, exc: Exception) -> Response:
        # The traceback goes to the server's log (uvicorn prints it), never to the page.
        return page(500, "something went wrong on the server; the teacher can find the "
                         "error in the server's log")

    return {Refused: refused, ExerciseError: unknown_code, HTTPException: http_error,
            Exception: server_error}


def create_app(template: Template, *, hosts: tuple[str, ...] = LOOPBACK,
               limits: Limits | None = None, rate: RateLimit | None = None,
               tokens: Tokens | None = None) -> Starlette:
    """The practice page of ``template`` as an ASGI app, answering to the host names
    ``hosts`` (``("*",)`` for any), with the size ``limits``, the per-client ``rate``
    limit and the CSRF ``tokens`` given (defaults: :class:`Limits`, :class:`RateLimit`,
    a new secret)."""
    practice = Practice(template, limits or Limits(), tokens or Tokens())
    return Starlette(routes=_routes(practice), exception_handlers=_handlers(practice),
                     middleware=[Middleware(Guard, rate=rate or RateLimit()),  # outermost
                                 Middleware(TrustedHostMiddleware, allowed_hosts=list(hosts))])
