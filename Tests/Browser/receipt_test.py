#!/usr/bin/env python3
"""A receipt in a real browser: headless Chromium (Debian's chromium and chromium-driver) driven
by Selenium opens billing's print page with a signed-in session, as finance would, checks that
the three parts are there with the amount in capitals, saves a screenshot for a person to look
at, and prints the page to PDF the way the browser's "Save as PDF" does.

Input: PROPDESK_RECEIPT_FIXTURE, a JSON file the Swift test wrote (the billing address, the
session cookie, the receipt number, the amount in capitals, where artifacts go). Exit 0 only if
every check passed.
"""
import base64
import json
import os
import sys

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

FIXTURE = json.load(open(os.environ["PROPDESK_RECEIPT_FIXTURE"]))
OUT = FIXTURE["artifacts"]
os.makedirs(OUT, exist_ok=True)

options = webdriver.ChromeOptions()
options.binary_location = "/usr/bin/chromium"
for flag in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=900,1300", "--lang=zh-CN"]:
    options.add_argument(flag)
driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
failures = []
try:
    base = FIXTURE["url"]
    driver.get(base + "/health/live")
    name, value = FIXTURE["cookie"].split("=", 1)
    driver.add_cookie({"name": name, "value": value, "path": "/"})
    driver.get(f"{base}/receipts/{FIXTURE['number']}/print")
    parts = driver.find_elements(By.CSS_SELECTOR, "section.part")
    text = driver.find_element(By.TAG_NAME, "body").text
    if len(parts) != 3:
        failures.append(f"three parts on the receipt, saw {len(parts)}")
    for word in ["存根联", "收据联", "记账联", FIXTURE["number"], FIXTURE["capitals"]]:
        if word not in text:
            failures.append(f"{word} is on the receipt")
    driver.save_screenshot(os.path.join(OUT, "receipt.png"))
    pdf = base64.b64decode(driver.execute_cdp_cmd("Page.printToPDF", {"printBackground": True, "preferCSSPageSize": True})["data"])
    open(os.path.join(OUT, "receipt.pdf"), "wb").write(pdf)
    if not pdf.startswith(b"%PDF") or len(pdf) < 5000:
        failures.append(f"the receipt saves as a PDF ({len(pdf)} bytes)")
    print(f"receipt {FIXTURE['number']}: {len(parts)} parts, PDF {len(pdf)} bytes")
finally:
    driver.quit()
for f in failures:
    print("FAIL", f)
sys.exit(1 if failures else 0)
