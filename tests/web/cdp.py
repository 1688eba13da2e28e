"""A small Chrome DevTools Protocol client over `--remote-debugging-pipe` (standard library only):
enough to open a page in headless Chromium, run script before the page's own, evaluate, click."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import threading
import time


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


class Browser:
    def __init__(self, binary: str, *, timeout_s: float = 20.0):
        self.timeout_s = timeout_s
        self._profile = tempfile.mkdtemp(prefix="cdp-")
        to_child_r, self._to_child = os.pipe()
        self._from_child, from_child_w = os.pipe()
        # park the child's ends above 3 and 4 so that dup2 onto 3 and 4 cannot clobber either
        os.dup2(to_child_r, 100)
        os.dup2(from_child_w, 101)
        os.close(to_child_r)
        os.close(from_child_w)

        def fds() -> None:
            os.dup2(100, 3)
            os.dup2(101, 4)

        self.proc = subprocess.Popen(
            [
                binary,
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
                "--use-fake-ui-for-media-stream",
                "--use-fake-device-for-media-stream",
                "--remote-debugging-pipe",
                f"--user-data-dir={self._profile}",
                "about:blank",
            ],
            close_fds=False,  # subprocess would close 3 and 4 after preexec_fn put the pipes there
            preexec_fn=fds,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(100)
        os.close(101)
        self._ids = 0
        self._lock = threading.Lock()
        self._replies: dict[int, dict] = {}
        self.events: list[dict] = []
        self._buffer = b""
        self._cond = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        while True:
            try:
                chunk = os.read(self._from_child, 65536)
            except OSError:
                return
            if not chunk:
                return
            self._buffer += chunk
            while b"\0" in self._buffer:
                raw, self._buffer = self._buffer.split(b"\0", 1)
                message = json.loads(raw)
                with self._cond:
                    if "id" in message:
                        self._replies[message["id"]] = message
                    else:
                        self.events.append(message)
                    self._cond.notify_all()

    def send(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        with self._lock:
            self._ids += 1
            ident = self._ids
        message = {"id": ident, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._to_child, json.dumps(message).encode() + b"\0")
        deadline = time.time() + self.timeout_s
        with self._cond:
            while ident not in self._replies:
                if not self._cond.wait(max(0.0, deadline - time.time())):
                    raise TimeoutError(f"no answer to {method}")
            reply = self._replies.pop(ident)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply.get("result", {})

    def new_page(self, *, before_scripts: tuple[str, ...] = ()) -> "Page":
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        page = Page(self, session)
        page.send("Page.enable")
        page.send("Runtime.enable")
        for source in before_scripts:
            page.send("Page.addScriptToEvaluateOnNewDocument", {"source": source})
        return page

    def close(self) -> None:
        try:
            self.send("Browser.close")
        except (OSError, RuntimeError, TimeoutError):
            pass
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        shutil.rmtree(self._profile, ignore_errors=True)


class Page:
    def __init__(self, browser: Browser, session: str):
        self.browser, self.session = browser, session

    def send(self, method: str, params: dict | None = None) -> dict:
        return self.browser.send(method, params, self.session)

    def open(self, url: str) -> None:
        self.send("Page.navigate", {"url": url})
        self.wait(lambda: self.evaluate("document.readyState") == "complete", "the page to load")

    def evaluate(self, expression: str):
        result = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True})
        if "exceptionDetails" in result:
            raise RuntimeError(result["exceptionDetails"].get("text"))
        return result["result"].get("value")

    def wait(self, predicate, what: str, timeout_s: float = 15.0):
        deadline = time.time() + timeout_s
        while time.time() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(0.05)
        raise TimeoutError(f"waited {timeout_s:.0f} s for {what}")

    def state(self) -> str:
        return self.evaluate("document.body.getAttribute('data-state')")

    def wait_state(self, *states: str) -> str:
        return self.wait(lambda: self.state() in states and self.state(), f"state in {states} (now {self.state()})")
