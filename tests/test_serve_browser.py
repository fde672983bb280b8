"""The practice page in a real browser: headless Chromium (Debian's chromium and
chromium-driver) driven by Selenium, against ``symgrad serve`` run as a user runs it.
It loads a variant, types one right and one wrong answer and an expression (the live
preview must show it, through the page's one script under its content security policy),
submits, and reads the verdicts and the diagnosis from the page."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from typing import Iterator

import pytest

CHROMIUM = next((p for p in ("/usr/bin/chromium", shutil.which("chromium") or "")
                 if p and os.access(p, os.X_OK)), None)
DRIVER = next((p for p in ("/usr/bin/chromedriver", shutil.which("chromedriver") or "")
               if p and os.access(p, os.X_OK)), None)
pytestmark = [
    pytest.mark.skipif(CHROMIUM is None, reason="no chromium (apt-get install chromium)"),
    pytest.mark.skipif(DRIVER is None,
                       reason="no chromedriver (apt-get install chromium-driver)"),
]
webdriver = pytest.importorskip("selenium.webdriver",
                                reason="selenium is not installed (the test extra has it)")
pytest.importorskip("starlette", reason="the serve extra is not installed (no starlette)")

from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

from symgrad.exercises import load_template  # noqa: E402

from .conftest import DERIVATIONS, ROOT  # noqa: E402

TEMPLATE_PATH = DERIVATIONS / "two_neuron_exercise.toml"
CODE = "DSSWRX"
WAIT = 30  # seconds for the page to answer (the machine may be busy)


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    """``symgrad serve TEMPLATE --port 0`` in a subprocess: the URL it prints."""
    with subprocess.Popen([sys.executable, "-m", "symgrad", "serve", str(TEMPLATE_PATH),
                           "--port", "0"], cwd=ROOT, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True) as proc:
        try:
            line = proc.stdout.readline()  # type: ignore[union-attr]
            assert line.startswith("serving the practice page of "), proc.stderr.read()  # type: ignore[union-attr]
            yield line.split(" at ", 1)[1].split(" ", 1)[0]
        finally:
            proc.send_signal(signal.SIGINT)  # Ctrl+C: uvicorn shuts down, the command ends
            assert proc.wait(timeout=WAIT) == 130  # the CLI's status for an interruption
            assert proc.stderr.read() == "symgrad serve: interrupted\n"  # type: ignore[union-attr]


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 f"--user-data-dir={tmp_path_factory.mktemp('chromium')}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=DRIVER))
    try:
        yield driver
    finally:
        driver.quit()


def _text(driver: object, element: str) -> str:
    return driver.find_element(By.ID, element).text  # type: ignore[attr-defined]


def test_a_student_answers_one_question_right_and_one_wrong(url: str, browser) -> None:
    variant = load_template(TEMPLATE_PATH).variant(CODE)
    right = f"{variant.answer('q1').value:.6g}"
    wrong = variant.answer("q5").wrong[0]
    browser.get(f"{url}v/{CODE}")
    assert _text(browser, "code") == CODE
    browser.find_element(By.ID, "answer-q1").send_keys(right)
    browser.find_element(By.ID, "answer-q5").send_keys(f"{wrong.value:.6g}")
    browser.find_element(By.ID, "answer-q7").send_keys("(a2 - T) a2 (1 - a2) w2 x1")
    preview = WebDriverWait(browser, WAIT).until(  # the live preview, by the page's script
        lambda d: d.find_elements(By.CSS_SELECTOR, "#preview-q7 math"))
    assert preview[0].find_elements(By.TAG_NAME, "mfrac") == []
    browser.find_element(By.ID, "check").click()
    WebDriverWait(browser, WAIT).until(lambda d: d.find_elements(By.ID, "verdict-q1"))
    assert _text(browser, "verdict-q1") == "Right: 1 of 1 point"
    assert browser.find_elements(By.ID, "diagnosis-q1") == []
    assert _text(browser, "verdict-q5") == f"Wrong: {2 * variant.template.credit.get(wrong.mistake, 0):g} of 2 points"
    assert _text(browser, "diagnosis-q5") == wrong.diagnosis
    assert _text(browser, "verdict-q7") == "Wrong: 0.5 of 2 points"
    assert _text(browser, "diagnosis-q7") == ("Your expression is missing the factor "
                                              "a1*(1 - a1) (da1/dz1).")
    assert browser.find_elements(By.ID, "verdict-q2") == []  # left empty
    assert browser.find_element(By.ID, "answer-q1").get_attribute("value") == right
    refused = [e["message"] for e in browser.get_log("browser")
               if "Content Security Policy" in e["message"] or e["level"] == "SEVERE"]
    assert refused == []


def test_the_worked_solution_opens_from_the_page(url: str, browser) -> None:
    browser.get(f"{url}v/{CODE}")
    link = browser.find_element(By.ID, "solution").get_attribute("href")
    assert link == f"{url}v/{CODE}/solution"
    browser.get(link)
    assert f"Worked solution of variant {CODE}" in browser.find_element(By.TAG_NAME, "body").text
    assert [e["message"] for e in browser.get_log("browser")] == []
