"""The written report in real headless Chromium: every figure renders, no console errors, the hostile
corpus lines never execute, hover highlights the translation, the layer slider moves the map."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import pytest

from tests.report.conftest import (HOSTILE, make_atlas_compare_run, make_atlas_probe_run, make_compare_run,
                                   make_probe_run, make_train_run)
from xalign.report import write_report

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
ARGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
        "--window-size=1400,1000")


@pytest.fixture(scope="module")
def driver():
    if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
        pytest.skip(f"headless browser test needs chromium and chromedriver (looked for {CHROMIUM}, {CHROMEDRIVER}; "
                    "Debian: apt-get install chromium chromium-driver)")
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="xalign-chromium-")
    options = webdriver.ChromeOptions()
    for arg in ARGS:
        options.add_argument(arg)
    options.add_argument(f"--user-data-dir={profile}")
    options.binary_location = CHROMIUM
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    drv = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    drv.set_page_load_timeout(120)
    try:
        yield drv
    finally:
        drv.quit()
        shutil.rmtree(profile, ignore_errors=True)


def _open(driver, path: Path, *, wait_s: float = 120) -> None:
    driver.get_log("browser")  # drop entries from earlier pages
    driver.get(path.resolve().as_uri())
    deadline = time.monotonic() + wait_s
    while not driver.execute_script("return document.body && document.body.getAttribute('data-report-ready')"):
        if time.monotonic() > deadline:
            pytest.fail(f"{path} did not finish rendering within {wait_s}s")
        time.sleep(0.1)


def _screenshot(driver, name: str) -> None:
    folder = os.environ.get("XALIGN_SCREENSHOT_DIR")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(Path(folder) / f"{name}.png"))  # the current viewport
        height = driver.execute_script("return document.documentElement.scrollHeight")
        driver.set_window_size(1400, min(int(height), 16000))  # and the whole page
        time.sleep(0.5)
        driver.save_screenshot(str(Path(folder) / f"{name}-full.png"))
        driver.set_window_size(1400, 1000)


def _assert_rendered_safely(driver) -> None:
    from selenium.common.exceptions import NoAlertPresentException

    with pytest.raises(NoAlertPresentException):
        driver.switch_to.alert.text  # noqa: B018 - an executed alert(1) would be open here
    figures = driver.execute_script("""
        return Array.from(document.querySelectorAll('div.xfigure')).map(d => ({
            id: d.id, rendered: d.getAttribute('data-rendered'),
            svg: d.querySelectorAll('.main-svg').length, container: d.querySelectorAll('.plot-container').length}));""")
    assert figures, "no figure divs in the page"
    for fig in figures:
        assert fig["rendered"] == "1" and fig["svg"] > 0 and fig["container"] == 1, fig
    assert driver.execute_script("return typeof window.__xss") == "undefined"
    assert driver.execute_script("return document.querySelectorAll('img').length") == 0
    severe = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    assert severe == []


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    root = tmp_path_factory.mktemp("browser-reports")
    probe = make_probe_run(root / "probe", pairs=("en-sw", "en-ur"))
    return {"probe": write_report(probe, projection="pca"),
            "compare": write_report(make_compare_run(root / "compare", n=30), projection="pca"),
            "train": write_report(make_train_run(root / "train", with_probe=True), projection="pca")}


@pytest.mark.parametrize("kind", ["probe", "compare", "train"])
def test_every_figure_renders_without_errors_or_script_execution(driver, reports, kind):
    _open(driver, reports[kind])
    _assert_rendered_safely(driver)
    _screenshot(driver, f"report-{kind}")


def _map_id(driver) -> str:
    return driver.execute_script("""
        const gd = Array.from(document.querySelectorAll('div.xfigure'))
            .find(g => g.layout && g.layout.meta && g.layout.meta.role === 'embedding-map');
        gd.scrollIntoView(); return gd.id;""")


def test_hover_shows_escaped_sentence_and_highlights_translation(driver, reports):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    _open(driver, reports["probe"])
    fid = _map_id(driver)
    time.sleep(0.3)
    # the first English sentence is the hostile <script> line; move the real mouse onto it
    pos = driver.execute_script("""
        const gd = document.getElementById(arguments[0]), fl = gd._fullLayout, r = gd.getBoundingClientRect();
        return {px: fl.xaxis._offset + fl.xaxis.l2p(gd.data[0].x[0]),
                py: fl.yaxis._offset + fl.yaxis.l2p(gd.data[0].y[0]), w: r.width, h: r.height};""", fid)
    element = driver.find_element(By.ID, fid)
    ActionChains(driver).move_to_element_with_offset(
        element, round(pos["px"] - pos["w"] / 2), round(pos["py"] - pos["h"] / 2)).perform()
    deadline = time.monotonic() + 10
    state = {}
    while time.monotonic() < deadline:
        state = driver.execute_script("""
            const gd = document.getElementById(arguments[0]), hl = gd.querySelector('.hoverlayer');
            return {hi_x: Array.from(gd.data[3].x || []), hi_y: Array.from(gd.data[3].y || []),
                    src: [gd.data[0].x[0], gd.data[0].y[0]], tgt: [gd.data[1].x[0], gd.data[1].y[0]],
                    label: hl ? hl.textContent : ''};""", fid)
        if state["hi_x"]:
            break
        time.sleep(0.1)
    assert state["hi_x"] == [state["src"][0], state["tgt"][0]]
    assert state["hi_y"] == [state["src"][1], state["tgt"][1]]
    assert f"en: {HOSTILE[0]}" in state["label"]  # shown as text, literally
    _assert_rendered_safely(driver)
    _screenshot(driver, "report-hover")


def test_layer_slider_moves_the_map(driver, reports):
    _open(driver, reports["probe"])
    fid = _map_id(driver)
    result = driver.execute_async_script("""
        const done = arguments[arguments.length - 1], gd = document.getElementById(arguments[0]);
        const frame = gd._transitionData._frames.find(f => f.name === '0');
        Plotly.animate(gd, ['0'], {mode: 'immediate', frame: {duration: 0, redraw: false}, transition: {duration: 0}})
          .then(() => done({shown: Array.from(gd.data[0].x), frame: Array.from(frame.data[0].x)}));""", fid)
    assert result["shown"] == result["frame"]
    _assert_rendered_safely(driver)


@pytest.mark.slow
def test_large_report_opens(driver, tmp_path):
    root = make_probe_run(tmp_path / "big", n=2000, n_layers=13, hidden=384)
    path = write_report(root, projection="pca")
    _open(driver, path)
    _assert_rendered_safely(driver)
    _screenshot(driver, "report-2000-pairs")


@pytest.fixture(scope="module")
def atlas_reports(tmp_path_factory):
    """205 languages × 13 layers, as the SIB-200 atlas writes them: a probe (with a train run beside it) and
    a compare."""
    root = tmp_path_factory.mktemp("atlas-reports")
    probe = make_atlas_probe_run(root / "probe")
    train = make_train_run(make_atlas_probe_run(root / "train"))
    doc = json.loads((train / "train_metrics.json").read_text(encoding="utf-8"))
    pairs = json.loads((train / "metrics.json").read_text(encoding="utf-8"))["pairs"].values()
    doc["eval"] = {"accuracy": {p["tgt_lang"]: 0.15 + 0.004 * i for i, p in enumerate(pairs)}}
    (train / "train_metrics.json").write_text(json.dumps(doc), encoding="utf-8")
    return {"probe": write_report(probe), "compare": write_report(make_atlas_compare_run(root / "compare")),
            "train": write_report(train)}


@pytest.mark.parametrize("kind", ["probe", "compare", "train"])
def test_atlas_of_205_languages_is_small_and_opens_in_under_3_s(driver, atlas_reports, kind):
    path = atlas_reports[kind]
    size = path.stat().st_size
    assert size < 10 * 2**20, f"{size / 2**20:.1f} MB"
    # from navigation start to the last figure drawn, as the browser measures it; the best of three opens,
    # since eight processes share this machine's two cores
    times = []
    for _ in range(3):
        _open(driver, path)
        times.append(int(driver.execute_script("return document.body.getAttribute('data-ready-ms')")))
        if times[-1] < 3000:
            break
    assert min(times) < 3000, f"{path}: {times} ms"
    _assert_rendered_safely(driver)
    _screenshot(driver, f"atlas-{kind}")


def test_atlas_sort_buttons_reorder_the_rows_and_hover_names_the_language(driver, atlas_reports):
    from selenium.webdriver.common.action_chains import ActionChains

    _open(driver, atlas_reports["probe"])
    fid = driver.execute_script("""
        const gd = Array.from(document.querySelectorAll('div.xfigure'))
            .find(g => g.data && g.data[0].meta && g.data[0].meta.key === 'atlas.heatmap');
        gd.scrollIntoView(); return gd.id;""")
    meta = driver.execute_script("return document.getElementById(arguments[0]).layout.meta;", fid)
    top = "return Array.from(document.getElementById(arguments[0]).querySelectorAll('.ytick text')).pop().textContent;"
    assert driver.execute_script(top, fid) == meta["orders"]["score"][0]  # best language on top
    buttons = driver.execute_script(
        "return document.getElementById(arguments[0]).querySelectorAll('.updatemenu-button').length;", fid)
    assert buttons >= len(meta["sorts"])
    button = driver.execute_script(
        "return document.getElementById(arguments[0]).querySelectorAll('.updatemenu-button')[1];", fid)
    ActionChains(driver).move_to_element(button).click().perform()  # "sort: family", a real click
    deadline = time.monotonic() + 10
    while driver.execute_script(top, fid) != meta["orders"]["family"][0] and time.monotonic() < deadline:
        time.sleep(0.1)
    assert driver.execute_script(top, fid) == meta["orders"]["family"][0]
    order = driver.execute_script("return document.getElementById(arguments[0]).layout.yaxis.categoryarray;", fid)
    assert list(order)[::-1] == meta["orders"]["family"]
    custom = driver.execute_script("return document.getElementById(arguments[0]).data[0].customdata[0][0];", fid)
    assert custom  # the language's name/script/family, shown on hover
    _assert_rendered_safely(driver)
