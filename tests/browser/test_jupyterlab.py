"""JupyterLab in a real browser: Playwright drives Debian's Chromium through notebook 10 on a provisioned stack.

The server starts as `make lab` starts it (`python -m flightpipe.lab`), on free ports with its own FLIGHTPIPE_HOME,
serving a copy of notebooks/ so that nothing the browser does can touch the repository's notebooks.
"""

import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pandas as pd
import pytest

from flightpipe.config import PROJECT_ROOT
from flightpipe.expected import day_facts
from flightpipe.runbook import NOTEBOOKS, runs_dir
from flightpipe_local.ports import free_port

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
DAY = "2013-01-01"  # notebook 10's default run_date
SHOTS = runs_dir() / "browser"  # screenshots of each run
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium (.ci/run installs it)")


def environment(home: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "FLIGHTPIPE_"))}
    # JupyterLab keeps open tabs and settings in the user's folders: the test's own, not the user's
    return {**env, "FLIGHTPIPE_HOME": str(home), "FLIGHTPIPE_RUNS": str(home / "runs"),
            "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"), "JUPYTERLAB_SETTINGS_DIR": str(home / "settings")}


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """JupyterLab started as `make lab` does, beside a provisioned local stack: (URL, token, stack port, home)."""
    home = tmp_path_factory.mktemp("lab-home")
    root = tmp_path_factory.mktemp("lab-root") / "notebooks"
    shutil.copytree(NOTEBOOKS, root)
    env = environment(home)
    stack_port, lab_port = free_port(), free_port()
    provision = [sys.executable, "-m", "flightpipe.cli", "run", "provision", "--port", str(stack_port)]
    provisioned = subprocess.run(provision, env=env, capture_output=True, text=True, timeout=600)
    assert provisioned.returncode == 0, provisioned.stderr[-2000:]
    server = subprocess.Popen(
        [sys.executable, "-m", "flightpipe.lab", "--lab-port", str(lab_port), "--root-dir", str(root)],
        env=env, stdout=subprocess.PIPE, stderr=(home / "lab.log").open("w"), text=True, start_new_session=True)
    try:
        url = re.search(r"JupyterLab: (http://127\.0\.0\.1:\d+)/lab\?token=(\w+)", server.stdout.readline())
        assert url, "make lab prints the URL first"
        base, token = url.groups()
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
                break
            except OSError:
                assert time.monotonic() < deadline, (home / "lab.log").read_text()[-2000:]
                time.sleep(0.5)
        yield base, token, stack_port, home
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        subprocess.run([sys.executable, "-m", "flightpipe.cli", "local", "stop"], env=env, capture_output=True)


@pytest.fixture(scope="module")
def browser():
    SHOTS.mkdir(parents=True, exist_ok=True)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def decline_news(page) -> None:
    """JupyterLab asks once whether to fetch its news; say no (make lab already fetches none)."""
    no = page.get_by_role("button", name="No")
    if no.count():
        no.first.click()


def menu(page, top: str, item: str) -> None:
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(f"^{top}$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(f"^{item}$")).first.click()


def test_notebook_10_runs_in_jupyterlab_and_opens_unmodified(lab, browser):
    base, token, _, _ = lab
    sample = (PROJECT_ROOT / "data" / "samples" / f"date={DAY}" / "flights.csv").read_bytes()
    read, loaded = len(pd.read_csv(PROJECT_ROOT / "data" / "samples" / f"date={DAY}" / "flights.csv")), len(
        day_facts(sample))
    expected = f"{DAY}: {loaded} delayed flights loaded, 0 rejected, {read - loaded} under the threshold"

    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{base}/lab/tree/10_daily_ingest.ipynb?token={token}")
    page.locator("#jp-main-statusbar").get_by_text("Idle").wait_for(timeout=120_000)  # the kernel is up
    page.wait_for_timeout(2000)
    tab = page.locator(".lm-TabBar-tab.jp-mod-current")
    assert "jp-mod-dirty" not in (tab.get_attribute("class") or ""), "opening the notebook modified it"

    decline_news(page)
    menu(page, "Run", "Run All Cells")
    check = page.locator(".jp-OutputArea-output", has_text=expected)
    check.wait_for(timeout=300_000)
    errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
    assert not errors.filter(has_text="Error").count(), errors.all_inner_texts()
    check.scroll_into_view_if_needed()
    shot = SHOTS / "jupyterlab-notebook-10.png"
    page.screenshot(path=str(shot))
    assert shot.stat().st_size > 10_000


def test_a_terminal_sees_the_same_stack_and_the_venvs_commands(lab, browser):
    base, token, stack_port, home = lab
    page = browser.new_page(viewport={"width": 1200, "height": 800})
    page.goto(f"{base}/lab?token={token}")
    page.locator("#jp-main-statusbar").wait_for(timeout=120_000)
    menu(page, "File", "New")
    page.locator(".lm-Menu-itemLabel", has_text=re.compile("^Terminal$")).click()
    terminal = page.locator(".jp-Terminal").last
    terminal.wait_for(timeout=60_000)
    page.wait_for_timeout(1500)
    terminal.click()
    seen = home / "terminal-saw.txt"  # the terminal draws on a canvas: it writes what it sees
    page.keyboard.type(f"echo found=$(command -v flightpipe) endpoint=$AWS_ENDPOINT_URL > {seen}\n")
    deadline = time.monotonic() + 60
    while not seen.exists() and time.monotonic() < deadline:
        page.wait_for_timeout(500)
    page.screenshot(path=str(SHOTS / "jupyterlab-terminal.png"))
    assert seen.read_text().split() == [f"found={Path(sys.executable).parent / 'flightpipe'}",
                                        f"endpoint=http://127.0.0.1:{stack_port}"]
