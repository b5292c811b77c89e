"""The gallery in a real browser: `vitok-figures --preset smoke --only fig2,tab1` writes the site, a local HTTP
server serves it, and headless Chromium (Debian's `chromium`, driven over the DevTools protocol with a small
client here, no Selenium / Playwright download) loads every page: no console error, no failed request, every
image decoded. A screenshot of the index page is written to the test's tmp folder.

Needs /usr/bin/chromium (`apt-get install -y chromium`; .ci/run installs it where apt-get works) and
websocket-client (installed with JupyterLab, the dev extra); skips with the reason otherwise."""
import base64
import functools
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-extensions", "--hide-scrollbars", "--mute-audio",
         "--window-size=1280,1000"]


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        if shutil.which(name): return shutil.which(name)
    pytest.skip("Chromium not found: install Debian's chromium (as root: apt-get install -y chromium) to run the browser test")


class Browser:
    "Headless Chromium over the DevTools protocol: open a URL, collect console errors and failed loads, screenshot."
    def __init__(self, exe, profile):
        ws_mod = pytest.importorskip("websocket", reason="websocket-client is needed to drive Chromium (pip install websocket-client)")
        self.proc = subprocess.Popen([exe, *FLAGS, f"--user-data-dir={profile}", "--remote-debugging-port=0", "about:blank"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        port, t0, seen = None, time.time(), []
        while port is None and time.time() - t0 < 60:
            line = self.proc.stderr.readline()
            if not line and self.proc.poll() is not None: break
            seen.append(line)
            if m := re.search(r"DevTools listening on ws://[^:]+:(\d+)/", line): port = int(m[1])
        if port is None:
            self.close(); pytest.skip(f"Chromium did not start headless: {''.join(seen)[-800:]}")
        threading.Thread(target=lambda: [None for _ in self.proc.stderr], daemon=True).start()   # keep draining
        pages = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10).read())
        page = next(p for p in pages if p["type"] == "page")
        self.ws = ws_mod.create_connection(page["webSocketDebuggerUrl"], timeout=30, suppress_origin=True)
        self.n, self.events = 0, []
        for m in ("Runtime.enable", "Log.enable", "Network.enable", "Page.enable"): self.call(m)

    def call(self, method, **params):
        self.n += 1; i = self.n
        self.ws.send(json.dumps({"id": i, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == i:
                if "error" in msg: raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            self.events.append(msg)

    def open(self, url, timeout=30):
        "Navigate and wait for the load event; returns the problems seen (console errors, exceptions, failed loads)."
        self.events = []
        self.call("Page.navigate", url=url)
        t0 = time.time()
        while not any(e.get("method") == "Page.loadEventFired" for e in self.events):
            if time.time() - t0 > timeout: raise TimeoutError(f"{url} did not load in {timeout} s")
            self.events.append(json.loads(self.ws.recv()))
        time.sleep(0.2)
        self.call("Runtime.evaluate", expression="1")          # drain what arrived meanwhile
        bad = []
        for e in self.events:
            m, p = e.get("method"), e.get("params", {})
            if m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                bad.append(f"console.{p['type']}: {[a.get('value', a.get('description')) for a in p.get('args', [])]}")
            elif m == "Runtime.exceptionThrown": bad.append(f"exception: {p['exceptionDetails'].get('text')}")
            elif m == "Log.entryAdded" and p["entry"]["level"] == "error":
                bad.append(f"log: {p['entry'].get('text')} {p['entry'].get('url', '')}")
            elif m == "Network.loadingFailed": bad.append(f"load failed: {p.get('errorText')}")
            elif m == "Network.responseReceived" and p["response"]["status"] >= 400:
                bad.append(f"HTTP {p['response']['status']}: {p['response']['url']}")
        return bad

    def js(self, expr):
        return self.call("Runtime.evaluate", expression=expr, returnByValue=True)["result"].get("value")

    def screenshot(self, path):
        Path(path).write_bytes(base64.b64decode(self.call("Page.captureScreenshot", format="png")["data"]))
        return Path(path)

    def close(self):
        try: self.ws.close()
        except Exception: pass
        self.proc.terminate()
        try: self.proc.wait(10)
        except subprocess.TimeoutExpired: self.proc.kill()


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    "The smoke gallery of fig2 and tab1, written by vitok-figures."
    out = tmp_path_factory.mktemp("gallery")
    docs = tmp_path_factory.mktemp("docs") / "gallery"
    env = {**os.environ, "VITOK_THREADS": "1", "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
    p = subprocess.run([str(BIN / "vitok-figures"), "--preset", "smoke", "--only", "fig2,tab1", "--out", str(out),
                        "--gallery", str(docs)],
                       capture_output=True, text=True, timeout=900, env=env)
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-3000:]
    copied = {str(f.relative_to(docs)) for f in docs.rglob("*") if f.is_file()}     # --gallery: pages + what they show
    assert {"index.html", "fig2_sweep.html", "fig2_sweep/fig2_equal_E.png", "fig2_sweep/results.json"} <= copied, copied
    assert not any("/run/" in f or "/pool/" in f or f.endswith(".safetensors") for f in copied), copied
    return out


def serve(root):
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a: None
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


def test_gallery_pages_content(site):
    "Without a browser: one page per notebook, the named plots only (no crop pool), the paper beside our numbers."
    pages = sorted(p.name for p in site.glob("*.html"))
    assert pages == ["fig2_sweep.html", "index.html", "tab1_sizes.html"], pages
    fig2 = (site / "fig2_sweep.html").read_text()
    imgs = re.findall(r"<img src='([^']+)'", fig2)
    assert imgs == ["fig2_sweep/fig2_metrics_vs_E.png", "fig2_sweep/fig2_equal_E.png"], imgs
    assert "pool/" not in fig2 and "The paper" in fig2 and "log E predicts" in fig2 and "this run (smoke)" in fig2
    assert "preset <code>smoke</code>" in fig2 and "Not measured" in fig2
    index = (site / "index.html").read_text()
    assert "href='fig2_sweep.html'" in index and "href='tab1_sizes.html'" in index and "2 of 2 notebooks ran" in index


def test_gallery_in_chromium(site, tmp_path):
    exe = chromium()
    srv = serve(site)
    b = Browser(exe, tmp_path / "profile")
    try:
        base = f"http://127.0.0.1:{srv.server_address[1]}"
        pages = ["index.html"] + sorted(p.name for p in site.glob("*.html") if p.name != "index.html")
        for name in pages:
            bad = b.open(f"{base}/{name}")
            assert not bad, f"{name}: {bad}"
            imgs = b.js("Array.from(document.images).map(i => [i.getAttribute('src'), i.complete && i.naturalWidth > 0])")
            assert all(ok for _, ok in imgs), f"{name}: images that did not load: {[s for s, ok in imgs if not ok]}"
            if name != "tab1_sizes.html": assert imgs, f"{name} shows no image"
            assert b.js("document.title"), name
        b.open(f"{base}/index.html")
        b.js("document.querySelector('a[href=\"fig2_sweep.html\"]').click()")
        time.sleep(0.5)
        assert b.js("location.pathname") == "/fig2_sweep.html"          # the index links to the figure's page
        b.open(f"{base}/index.html")
        shot = b.screenshot(tmp_path / "index.png")
        from PIL import Image
        im = Image.open(shot)
        assert im.size[0] >= 800 and len(im.convert("L").getcolors(256) or []) > 10     # a real rendering, not a blank page
        print(f"screenshot of the index page: {shot}")
    finally:
        b.close(); srv.shutdown()
