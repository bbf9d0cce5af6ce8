#!/usr/bin/env python3
"""How long a real browser takes to show the live board: headless Chromium (Debian's), the
board page loaded --rounds times after one warm-up, Navigation Timing and Paint Timing read from
the page. Run on purpose, beside `propdesk-bench console` (BENCHMARKS.md).

  Benchmarks/browser/board_render.py --cookie-file FILE --property bb-5 [--url http://127.0.0.1:8080]

FILE holds a session cookie's value (from POST /auth/login, e.g. curl -c).
"""
import argparse
import statistics

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

parser = argparse.ArgumentParser()
parser.add_argument("--url", default="http://127.0.0.1:8080")
parser.add_argument("--cookie-file", required=True)
parser.add_argument("--property", required=True)
parser.add_argument("--rounds", type=int, default=10)
args = parser.parse_args()

options = webdriver.ChromeOptions()
options.binary_location = "/usr/bin/chromium"
for flag in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,900"]:
    options.add_argument(flag)
driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
try:
    driver.get(args.url + "/console/login")
    driver.add_cookie({"name": "propdesk_session", "value": open(args.cookie_file).read().strip(), "path": "/"})
    paint, loaded, first_byte = [], [], []
    rows = 0
    for round_ in range(args.rounds + 1):
        driver.get(f"{args.url}/console/board?property={args.property}")
        start, content, paint_at, rows = driver.execute_script("""
            const n = performance.getEntriesByType('navigation')[0];
            const p = performance.getEntriesByName('first-contentful-paint')[0];
            return [n.responseStart, n.domContentLoadedEventEnd, p ? p.startTime : -1, document.querySelectorAll('#board-rows tr').length];
        """)
        if round_ > 0:
            first_byte.append(start)
            paint.append(paint_at)
            loaded.append(content)
    print(f"board of {rows} tickets in Chromium, {args.rounds} loads: first byte p50 {statistics.median(first_byte):.0f} ms, "
          f"first contentful paint p50 {statistics.median(paint):.0f} ms (max {max(paint):.0f}), "
          f"DOMContentLoaded p50 {statistics.median(loaded):.0f} ms (max {max(loaded):.0f})")
finally:
    driver.quit()
