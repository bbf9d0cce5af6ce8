#!/usr/bin/env python3
"""The console in a real browser: headless Chromium (Debian's chromium and chromium-driver)
driven by Selenium, against the real intake, dispatch and escalation the Swift integration test
started (ConsoleBrowserTests.swift). Each check is named by what a person at the desk or in a
department sees; every page visited is saved as a screenshot for a person to look at.

Input: PROPDESK_CONSOLE_FIXTURE, a JSON file the Swift test wrote (the console's address, the
accounts, the resident, another department's ticket, where screenshots go). Output: the same
file with ".result.json" added: what the browser saw (ticket numbers), for the Swift side to check
against the database. Exit status 0 only if every check passed.
"""
import base64  # noqa: F401 - (the secret is used as its bytes, as HummingbirdOTP does)
import hashlib
import hmac
import json
import os
import struct
import re
import sys
import time
import traceback
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from selenium import webdriver
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select, WebDriverWait

FIXTURE = json.load(open(os.environ["PROPDESK_CONSOLE_FIXTURE"]))
BASE = FIXTURE["url"]
SHOTS = FIXTURE["screenshots"]
os.makedirs(SHOTS, exist_ok=True)
for old in os.listdir(SHOTS):
    if old.endswith(".png"):
        os.remove(os.path.join(SHOTS, old))
RESULT = {}
FAILURES = []
DRIVERS = []
SHOT_COUNT = [0]


def browser(width=1280, height=900):
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", f"--window-size={width},{height}",
                 "--lang=zh-CN", "--disable-extensions", "--no-first-run"]:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    driver.set_page_load_timeout(30)
    return driver


def shot(driver, name):
    SHOT_COUNT[0] += 1
    path = os.path.join(SHOTS, f"{SHOT_COUNT[0]:02d}-{name}.png")
    driver.save_screenshot(path)
    return path


def fetch(driver, url):
    """[status, content type, text] of a GET from the page, with its session cookie."""
    return driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "fetch(arguments[0]).then(r => r.text().then(t => done([r.status, r.headers.get('content-type'), t])))", url)


def wait(driver, condition, timeout=15, message=""):
    """Until `condition` holds. A live update may replace what it looks at meanwhile: that is
    looked at again, not a failure."""
    return WebDriverWait(driver, timeout, poll_frequency=0.05,
                         ignored_exceptions=(NoSuchElementException, StaleElementReferenceException)).until(condition, message)


def click(driver, find, message=""):
    """Clicks what `find` finds, finding it again if a live update replaced it first."""
    def attempt(d):
        find(d).click()
        return True
    wait(driver, attempt, message=message)


def check(name):
    """Runs one named check; a failure is recorded and the run goes on where it can."""
    def wrap(fn):
        def run(*args):
            started = time.monotonic()
            try:
                value = fn(*args)
                print(f"ok   - {name} ({time.monotonic() - started:.1f} s)", flush=True)
                return value
            except Exception as error:  # noqa: BLE001 - every failure is reported by name
                FAILURES.append(name)
                print(f"FAIL - {name}: {error!r}", flush=True)
                traceback.print_exc()
                for i, d in enumerate(DRIVERS):
                    shot(d, f"failed-{i}-" + re.sub(r"[^a-z0-9]+", "-", name.lower())[:40])
                    alert = d.find_elements(By.ID, "alert")
                    if alert and alert[0].text:
                        print(f"       the page said: {alert[0].text}", flush=True)
                return None
        return run
    return wrap


def totp(secret, at=None):
    """The authenticator app's code: RFC 6238, HMAC-SHA1, 30 s steps, 6 digits, the secret's bytes as the key."""
    counter = int((at or time.time()) // 30)
    digest = hmac.new(secret.encode("ascii"), struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    return f"{(struct.unpack('>I', digest[offset:offset + 4])[0] & 0x7FFFFFFF) % 1_000_000:06d}"


def sign_in(driver, account, expect_path):
    driver.get(BASE + "/console")
    wait(driver, EC.url_contains("/console/login"))
    driver.find_element(By.NAME, "login").send_keys(account["login"])
    driver.find_element(By.NAME, "password").send_keys(account["password"])
    if account.get("secret"):
        driver.find_element(By.NAME, "code").send_keys(totp(account["secret"]))
    driver.find_element(By.CSS_SELECTOR, "#login button[type=submit]").click()
    wait(driver, EC.url_contains(expect_path), message=f"after sign-in: {driver.current_url}")


def seconds(text):
    """'01:05' → 65, '-00:03' → -3, '1:02:03' → 3723."""
    sign = -1 if text.startswith("-") else 1
    parts = [int(p) for p in text.lstrip("-").split(" ")[-1].split(":")]
    total = 0
    for p in parts:
        total = total * 60 + p
    return sign * total


def board_row(driver, number):
    rows = driver.find_elements(By.XPATH, f'//tbody[@id="board-rows"]/tr[td/a[normalize-space()="{number}"]]')
    return rows[0] if rows else None


def file_call(driver, content, phone=None, kind=None, double=False, by_keyboard=False, requested=None):
    driver.get(BASE + "/console/call")
    wait(driver, EC.presence_of_element_located((By.ID, "call")))
    if phone:
        driver.find_element(By.ID, "caller_phone").send_keys(phone)
        # The lookup's answer moves the form down: wait for it before aiming at the button.
        wait(driver, lambda d: d.find_element(By.ID, "caller").text.strip(), message="the caller lookup's answer")
    Select(driver.find_element(By.ID, "property")).select_by_value(FIXTURE["property"])
    if kind:
        Select(driver.find_element(By.ID, "kind")).select_by_value(kind)
    driver.find_element(By.ID, "building").send_keys("3号楼")
    driver.find_element(By.ID, "content").send_keys(content)
    if requested:
        # A datetime-local field's typing order depends on the browser's locale: set its value.
        driver.execute_script("document.querySelector('[name=requested_at]').value = arguments[0]", requested)
    if by_keyboard:
        name = driver.find_element(By.ID, "caller_name")
        name.send_keys("王先生")
        name.send_keys(Keys.ENTER)  # submits the form, as Enter in a field does
    elif double:
        ActionChains(driver).double_click(driver.find_element(By.ID, "file-ticket")).perform()
    else:
        driver.find_element(By.ID, "file-ticket").click()
    wait(driver, EC.url_contains("filed=1"), message="the ticket page after filing")
    return driver.find_element(By.ID, "read-out").text.strip()


def main():
    operator = browser()
    technician = browser()
    DRIVERS.extend([operator, technician])
    try:
        run(operator, technician)
    finally:
        for d in (operator, technician):
            try:
                d.quit()
            except Exception:  # noqa: BLE001
                pass
    json.dump(RESULT, open(os.environ["PROPDESK_CONSOLE_FIXTURE"] + ".result.json", "w"), ensure_ascii=False, indent=2)
    print(f"{len(FAILURES)} of the checks failed: {FAILURES}" if FAILURES else "every check passed", flush=True)
    sys.exit(1 if FAILURES else 0)


def run(op, tech):
    @check("a page without a session goes to the sign-in page, in Chinese")
    def login_page():
        op.get(BASE + "/console/board")
        wait(op, EC.url_contains("/console/login?next=/console/board"))
        assert op.find_element(By.TAG_NAME, "html").get_attribute("lang") == "zh-CN"
        assert "登录" in op.find_element(By.TAG_NAME, "h1").text
        shot(op, "sign-in")
    login_page()

    @check("the operator signs in with password and authenticator code and lands on the call form")
    def operator_signs_in():
        sign_in(op, FIXTURE["operator"], "/console/call")
        assert op.switch_to.active_element.get_attribute("id") == "caller_phone", "the number field has the focus"
        shot(op, "call-form")
    operator_signs_in()

    @check("the engineering technician signs in and watches the live board")
    def technician_signs_in():
        sign_in(tech, FIXTURE["technician"], "/console/work")
        shot(tech, "technician-work")
        tech.get(BASE + "/console/board")
        wait(tech, EC.text_to_be_present_in_element((By.ID, "live-status"), "实时"))
        tech.execute_script("window.__notReloaded = true")
    technician_signs_in()

    @check("typing the caller's number shows the resident from the register, number masked")
    def caller_lookup():
        op.get(BASE + "/console/call")
        op.find_element(By.ID, "caller_phone").send_keys(FIXTURE["resident"]["phone"])
        name = wait(op, EC.visibility_of_element_located((By.CSS_SELECTOR, "#caller .resident-name")))
        assert name.text == FIXTURE["resident"]["name"], name.text
        phone = op.find_element(By.CSS_SELECTOR, "#caller .resident-phone").text
        assert phone == FIXTURE["resident"]["masked"], phone
        assert FIXTURE["resident"]["phone"] not in op.page_source
        assert FIXTURE["resident"]["unit"] in op.find_element(By.ID, "caller").text
        shot(op, "caller-found")
    caller_lookup()

    @check("text that reads as a stuck lift is called an emergency before the ticket is filed")
    def emergency_warning():
        op.find_element(By.ID, "content").send_keys("3号楼2单元电梯困人,两人被困")
        warning = wait(op, EC.visibility_of_element_located((By.ID, "emergency")))
        assert "电梯困人" in warning.text, warning.text
        assert Select(op.find_element(By.ID, "emergency_type")).first_selected_option.get_attribute("value") == "lift_entrapment"
        shot(op, "emergency-warning")
    emergency_warning()

    filed = {}

    @check("the stuck-lift call is filed and its number is shown to read out; the technician's board shows it within about a second")
    def file_stuck_lift():
        op.find_element(By.CSS_SELECTOR, "#caller button").click()  # takes the resident's name, building and unit
        Select(op.find_element(By.ID, "kind")).select_by_value("emergency")
        started = time.monotonic()
        op.find_element(By.ID, "file-ticket").click()
        wait(op, EC.url_contains("filed=1"))
        number = op.find_element(By.ID, "read-out").text.strip()
        assert re.fullmatch(r"[A-Z0-9]+-\d{6}-\d{4}", number), number
        filed["lift"] = number
        filed["lift_url"] = op.current_url.split("?")[0]
        RESULT["lift_number"] = number
        row = wait(tech, lambda d: board_row(d, number), timeout=10, message="the row on the technician's board")
        seen = time.monotonic() - started
        RESULT["technician_saw_it_after_s"] = round(seen, 3)
        assert tech.execute_script("return window.__notReloaded === true"), "the technician's page was reloaded"
        assert seen < 5, f"{seen:.2f} s"
        assert "工程部" in row.text, row.text
        shot(op, "filed-stuck-lift")
        shot(tech, "technician-board-new-row")
    file_stuck_lift()

    @check("the ticket page shows where the call was routed and the clocks that now run, without reloading")
    def routed_and_clocks():
        wait(op, lambda d: "工程部" in d.find_element(By.ID, "orders").text and "保安部" in d.find_element(By.ID, "orders").text,
             message="engineering and security on the ticket page")
        wait(op, lambda d: d.find_elements(By.CSS_SELECTOR, "#clocks .countdown"), message="a running clock")
        assert "1 分钟内通知工程部和保安部" in op.find_element(By.ID, "clocks").text, "R2's clock reads in Chinese"
        assert not op.find_elements(By.ID, "requested-at"), "no requested time line for a call that asked for none"
        shot(op, "ticket-routed-clocks")
    routed_and_clocks()

    @check("a countdown on the board goes down")
    def countdown():
        op.get(BASE + "/console/board")
        row = wait(op, lambda d: board_row(d, filed["lift"]))
        first = seconds(row.find_element(By.CSS_SELECTOR, ".countdown").text)
        wait(op, lambda d: seconds(board_row(d, filed["lift"]).find_element(By.CSS_SELECTOR, ".countdown").text) <= first - 1,
             timeout=5, message="the countdown after a second")
        op.execute_script("window.__notReloaded = true")
        shot(op, "operator-board-countdown")
    countdown()

    @check("a breach turns the row red on both boards, pushed by the server")
    def breach():
        for d in (op, tech):
            wait(d, lambda d: "breached" in (board_row(d, filed["lift"]).get_attribute("class") or ""), timeout=40,
                 message="the breached row")
        for d in (op, tech):
            rows = d.find_elements(By.XPATH, f'//tbody[@id="board-rows"]/tr[td/a[normalize-space()="{filed["lift"]}"]]')
            assert len(rows) == 1, f"{len(rows)} rows for one ticket"
        colour = op.execute_script("return getComputedStyle(arguments[0].querySelector('td')).backgroundColor", board_row(op, filed["lift"]))
        assert colour.replace(" ", "") == "rgb(253,231,230)", colour
        shot(op, "operator-board-breached")
        shot(tech, "technician-board-breached")
    breach()

    @check("the technician accepts the order and the operator's board shows it acknowledged without reloading")
    def accept():
        tech.get(BASE + "/console/work")
        click(tech, lambda d: d.find_element(By.XPATH, f'//tr[td/a[normalize-space()="{filed["lift"]}"]]//button[@data-action="accept"]'),
              message="the accept button of the lift's order")
        wait(op, lambda d: "已受理" in board_row(d, filed["lift"]).text, timeout=10, message="acknowledged on the operator's board")
        assert op.execute_script("return window.__notReloaded === true"), "the operator's page was reloaded"
        wait(tech, lambda d: "已接单" in d.find_element(By.ID, "queue").text, message="accepted on the technician's queue")
        shot(tech, "technician-accepted")
        # Nothing else waits on engineering's queue: taking the next says so, in the page's language.
        tech.find_element(By.ID, "take-next").click()
        alert = wait(tech, EC.visibility_of_element_located((By.ID, "alert")))
        assert alert.text.startswith("没有找到"), alert.text
        shot(tech, "technician-nothing-to-take")
        shot(op, "operator-board-acknowledged")
    accept()

    @check("the technician never sees the resident's number or another department's ticket, on the page or in the stream")
    def technician_scope():
        tech.get(BASE + "/console/board")
        wait(tech, lambda d: board_row(d, filed["lift"]))
        assert board_row(tech, FIXTURE["other_ticket"]["number"]) is None
        assert FIXTURE["other_ticket"]["number"] not in tech.page_source
        tech.execute_script("""
            window.__frames = [];
            const s = new EventSource('/console/events?view=board&after=');
            s.addEventListener('row', e => window.__frames.push(e.data));
            window.__probe = s;""")
        time.sleep(0.3)  # let the probe connect before the notes are written
        for ticket in (FIXTURE["other_ticket"]["id"], filed["lift_url"].rsplit("/", 1)[1]):
            status = op.execute_async_script("""
                const done = arguments[arguments.length - 1];
                fetch('/tickets/' + arguments[0] + '/notes', {method: 'POST', credentials: 'same-origin',
                    headers: {'Content-Type': 'application/json', 'X-CSRF-Token': document.querySelector('meta[name=csrf-token]').content},
                    body: JSON.stringify({note: 'caller rang again from ' + arguments[1]})}).then(r => done(r.status));
                """, ticket, FIXTURE["resident"]["phone"])
            assert status == 200, status
        frames = wait(tech, lambda d: [f for f in d.execute_script("return window.__frames") if filed["lift"] in f] and d.execute_script("return window.__frames"),
                      message="the lift ticket's note in the technician's stream")
        tech.execute_script("window.__probe.close()")
        joined = "\n".join(frames)
        assert FIXTURE["other_ticket"]["number"] not in joined, "another department's ticket in the stream"
        assert FIXTURE["resident"]["phone"] not in joined, "the resident's number in the stream"
        tech.get(filed["lift_url"])
        phone = tech.find_element(By.ID, "caller-phone").text
        assert "****" in phone and FIXTURE["resident"]["phone"] not in tech.page_source, phone
        shot(tech, "technician-ticket-masked")
        tech.get(BASE + "/console/tickets/" + FIXTURE["other_ticket"]["id"])
        assert "404" in tech.title or tech.find_element(By.TAG_NAME, "h1").text.strip() == "出错了", tech.title
        shot(tech, "technician-other-department-404")
    technician_scope()

    @check("script typed into a ticket is shown as text, on its page and on the board")
    def injection():
        hostile = "<script>window.__xss=1</script><img src=x onerror=\"window.__xss=2\"> 漏水"
        # Tomorrow at 10:30 in the property's own zone, whatever the zone of this machine.
        tomorrow = (datetime.now(ZoneInfo(FIXTURE["time_zone"])) + timedelta(days=1)).strftime("%Y-%m-%d")
        number = file_call(op, hostile, phone="13700001111", by_keyboard=True, requested=f"{tomorrow}T10:30")
        RESULT["injection_number"] = number
        assert op.find_element(By.ID, "requested-at").text == f"{tomorrow} 10:30:00", op.find_element(By.ID, "requested-at").text
        assert op.find_element(By.ID, "ticket-content").text == hostile
        assert op.execute_script("return window.__xss === undefined")
        op.get(BASE + "/console/board")
        row = wait(op, lambda d: board_row(d, number))
        assert "<script>window.__xss=1</script>" in row.find_element(By.CSS_SELECTOR, ".summary").text
        assert op.execute_script("return window.__xss === undefined")
        shot(op, "injection-as-text")
    injection()

    @check("a double click on the submit button makes one ticket")
    def double_submit():
        number = file_call(op, FIXTURE["double_marker"], phone="13700002222", double=True)
        RESULT["double_number"] = number
        op.get(BASE + "/console/board")
        wait(op, lambda d: board_row(d, number))
        matching = [r for r in op.find_elements(By.CSS_SELECTOR, "#board-rows tr") if FIXTURE["double_marker"] in r.text]
        assert len(matching) == 1, len(matching)
    double_submit()

    @check("the English switch turns every page to English and keeps it")
    def english():
        op.get(BASE + "/console/board")
        op.find_element(By.CSS_SELECTOR, "a.lang").click()
        wait(op, lambda d: d.find_element(By.TAG_NAME, "html").get_attribute("lang") == "en")
        assert op.find_element(By.TAG_NAME, "h1").text == "Live board"
        assert op.current_url.endswith("/console/board")
        op.get(BASE + "/console/call")
        assert op.find_element(By.TAG_NAME, "h1").text == "Take a call"
        shot(op, "english-call-form")
        op.find_element(By.CSS_SELECTOR, "a.lang").click()
        wait(op, lambda d: d.find_element(By.TAG_NAME, "html").get_attribute("lang") == "zh-CN")
    english()

    @check("a technician asks to read the caller's file and is told it waits for approval")
    def technician_asks():
        tech.get(BASE + "/console/residents/" + FIXTURE["resident"]["id"])
        form = wait(tech, EC.visibility_of_element_located((By.ID, "ask-file")), message="the request form")
        assert FIXTURE["resident"]["phone"] not in tech.page_source
        form.find_element(By.NAME, "reason").send_keys("上门维修需确认业主联系方式")
        form.find_element(By.TAG_NAME, "button").click()
        wait(tech, EC.text_to_be_present_in_element((By.CSS_SELECTOR, "p.done"), "等待"))
        shot(tech, "technician-file-asked")
    technician_asks()

    @check("the outgoing shift writes its handover from the pending work, signs, and the incoming shift countersigns on the same screen")
    def handover():
        op.get(BASE + f"/console/records?property={FIXTURE['property']}")
        items = op.find_element(By.NAME, "items")
        assert filed["lift"] in items.get_attribute("value"), "the stuck lift among the pending items"
        op.find_element(By.NAME, "shift").send_keys("早班")
        click(op, lambda d: d.find_element(By.CSS_SELECTOR, "button[data-action=write-handover]"))
        wait(op, lambda d: d.find_elements(By.CSS_SELECTOR, "#handovers article.draft"), message="the draft handover")
        click(op, lambda d: d.find_element(By.CSS_SELECTOR, "#handovers article.draft button[data-action=sign]"))
        wait(op, lambda d: d.find_elements(By.CSS_SELECTOR, "#handovers article.awaiting_incoming form.countersign"), message="awaiting the incoming shift")
        form = op.find_element(By.CSS_SELECTOR, "#handovers article.awaiting_incoming form.countersign")
        incoming = FIXTURE["incoming"]
        form.find_element(By.NAME, "login").send_keys(incoming["login"])
        form.find_element(By.NAME, "password").send_keys(incoming["password"])
        form.find_element(By.NAME, "code").send_keys(totp(incoming["secret"]))
        form.find_element(By.CSS_SELECTOR, "button[data-action=countersign]").click()
        wait(op, lambda d: d.find_elements(By.CSS_SELECTOR, "#handovers article.signed"), message="signed by both shifts")
        signed = op.find_element(By.CSS_SELECTOR, "#handovers article.signed")
        assert incoming["name"] in signed.text and "双方已签字" in signed.text, signed.text
        assert not signed.find_elements(By.CSS_SELECTOR, "button[data-action=sign]"), "nobody signs a signed handover again"
        signed.find_element(By.NAME, "text").send_keys("补记: 5号楼门禁卡已归还")
        signed.find_element(By.CSS_SELECTOR, "button[data-action=amend]").click()
        wait(op, lambda d: "5号楼门禁卡已归还" in d.find_element(By.ID, "handovers").text, message="the amendment")
        shot(op, "records-handover")
    handover()

    @check("a key is not lent to a tenant without the owner's authorisation; with it, it goes out and comes back")
    def key_loan():
        op.get(BASE + f"/console/records?property={FIXTURE['property']}")
        form = op.find_element(By.CSS_SELECTOR, "#lend form")
        Select(form.find_element(By.NAME, "ticket_id")).select_by_visible_text(FIXTURE["loan_ticket"])
        form.find_element(By.NAME, "borrower").send_keys("租户 陈先生")
        Select(form.find_element(By.NAME, "relation")).select_by_value("tenant")
        form.find_element(By.NAME, "reason").send_keys("锁在门外")
        later = (datetime.now(ZoneInfo(FIXTURE["time_zone"])) + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M")
        op.execute_script("arguments[0].value = arguments[1]", form.find_element(By.NAME, "due_back_at"), later)
        form.find_element(By.CSS_SELECTOR, "button[data-action=lend]").click()
        wait(op, lambda d: "业主书面授权" in d.find_element(By.ID, "alert").text, message="refused without the owner's authorisation")
        shot(op, "records-key-refused")
        form.find_element(By.NAME, "authorisation_ref").send_keys("业主授权书 2026-118")
        form.find_element(By.NAME, "phone_confirmed_with").send_keys("业主 张伟")
        now = datetime.now(ZoneInfo(FIXTURE["time_zone"])).strftime("%Y-%m-%dT%H:%M")
        op.execute_script("arguments[0].value = arguments[1]", form.find_element(By.NAME, "phone_confirmed_at"), now)
        form.find_element(By.CSS_SELECTOR, "button[data-action=lend]").click()
        wait(op, lambda d: d.find_elements(By.CSS_SELECTOR, "#keys table.loans button[data-action=return]"), message="the key out")
        assert "租户 陈先生" in op.find_element(By.CSS_SELECTOR, "#keys table.loans").text
        shot(op, "records-keys")
        click(op, lambda d: d.find_element(By.CSS_SELECTOR, "#keys table.loans button[data-action=return]"))
        wait(op, lambda d: not d.find_elements(By.CSS_SELECTOR, "#keys table.loans button[data-action=return]"), message="the key back")
        # The day's count, with the key back on the board: not done yet, then done, no discrepancy.
        assert "今日尚未盘点" in op.find_element(By.ID, "count-status").text
        click(op, lambda d: d.find_element(By.CSS_SELECTOR, "#lend button[data-action=count]"))
        wait(op, lambda d: "今日已盘点" in d.find_element(By.ID, "count-status").text, message="today's count on record")
        assert "差异 0" in op.find_element(By.ID, "count-status").text, op.find_element(By.ID, "count-status").text
        op.execute_script("document.getElementById('keys').scrollIntoView()")
        shot(op, "records-key-count")
    key_loan()

    @check("a done repair is signed off by the customer's name and a signature drawn on the page")
    def sign_off():
        op.get(BASE + "/console/tickets/" + FIXTURE["repair_ticket"])
        form = op.find_element(By.CSS_SELECTOR, "#signoffs form.signoff")
        form.find_element(By.NAME, "signer").send_keys("业主 张伟")
        canvas = form.find_element(By.CSS_SELECTOR, "canvas[data-signature]")
        op.execute_script("arguments[0].scrollIntoView({block: 'center'})", canvas)
        ActionChains(op).move_to_element_with_offset(canvas, -120, 10).click_and_hold() \
            .move_by_offset(40, -30).move_by_offset(40, 30).move_by_offset(40, -30).move_by_offset(40, 30).release().perform()
        form.find_element(By.CSS_SELECTOR, "button[data-action=sign-off]").click()
        wait(op, lambda d: d.find_elements(By.CSS_SELECTOR, "#signoffs figure.signature svg path"), message="the drawn signature, drawn back by the server")
        assert "业主 张伟" in op.find_element(By.ID, "signoffs").text
        shot(op, "ticket-sign-off")
    sign_off()

    @check("the operator signs out and a supervisor signs in")
    def supervisor_signs_in():
        op.get(BASE + "/console/board")
        op.find_element(By.ID, "sign-out").click()
        wait(op, EC.url_contains("/console/login"))
        op.get(BASE + "/console/board")
        wait(op, EC.url_contains("/console/login"), message="signed out means signed out")
        sign_in(op, FIXTURE["supervisor"], "/console/call")
    supervisor_signs_in()

    @check("the supervisor sees the breach of today, who is on duty, and approves the technician's request")
    def supervisor_view():
        op.get(BASE + f"/console/supervisor?property={FIXTURE['property']}&minutes=1440")
        assert filed["lift"] in op.find_element(By.ID, "breaches").text, "the stuck lift among today's breaches"
        roster = op.find_element(By.ID, "roster").text
        assert FIXTURE["on_duty"] in roster, roster
        requests = op.find_element(By.ID, "file-requests")
        assert "上门维修需确认业主联系方式" in requests.text
        shot(op, "supervisor")
        requests.find_element(By.TAG_NAME, "button").click()
        wait(op, lambda d: "上门维修需确认业主联系方式" not in d.find_element(By.ID, "file-requests").text, message="the request decided")
        tech.get(BASE + "/console/residents/" + FIXTURE["resident"]["id"])
        wait(tech, lambda d: FIXTURE["resident"]["phone"] in d.find_element(By.ID, "resident-file").text, message="the approved file")
        assert not tech.find_element(By.ID, "ask-file").is_displayed(), "the request form is hidden once the file is readable"
        shot(tech, "technician-file-approved")
    supervisor_view()

    @check("a supervisor draws the quarter's survey sample, calls the household drawn, and its answer counts in the coverage")
    def survey():
        op.get(BASE + f"/console/records?property={FIXTURE['property']}")
        form = op.find_element(By.CSS_SELECTOR, "#draw-survey form")
        Select(form.find_element(By.NAME, "kind")).select_by_value("quarterly")
        form.find_element(By.CSS_SELECTOR, "button[data-action=survey-draw]").click()
        wait(op, lambda d: d.find_elements(By.CSS_SELECTOR, "#surveys button[data-action=survey-next]"), message="the sample drawn")
        row = op.find_element(By.CSS_SELECTOR, "#surveys table.surveys tbody tr")
        assert row.find_element(By.CSS_SELECTOR, ".coverage").text == "1 · 100%", row.text
        click(op, lambda d: d.find_element(By.CSS_SELECTOR, "#surveys button[data-action=survey-next]"))
        wait(op, lambda d: d.find_element(By.ID, "survey-call").is_displayed(), message="the household to call")
        call = op.find_element(By.ID, "survey-call")
        resident = FIXTURE["resident"]
        assert resident["name"] in call.text and resident["unit"] in call.text and resident["phone"] in call.text, call.text
        Select(call.find_element(By.NAME, "outcome")).select_by_value("refused")
        assert not call.find_element(By.NAME, "satisfaction").is_enabled(), "no score for a household that refused"
        Select(call.find_element(By.NAME, "outcome")).select_by_value("answered")
        Select(call.find_element(By.NAME, "satisfaction")).select_by_value("4")
        call.find_element(By.NAME, "comments").send_keys("维修很及时")
        shot(op, "records-survey-call")
        call.find_element(By.CSS_SELECTOR, "button[data-action=survey-answer]").click()
        wait(op, lambda d: d.find_element(By.CSS_SELECTOR, "#surveys td.answered").text == "1 · 100%", message="the answer counted")
        assert not op.find_element(By.ID, "survey-call").is_displayed(), "the call card is put away"
        assert op.find_element(By.CSS_SELECTOR, "#surveys td.satisfaction").text == "4.00 · 100%"
        assert not op.find_elements(By.CSS_SELECTOR, "#surveys button[data-action=survey-next]"), "nobody left to call"
        op.execute_script("document.getElementById('surveys').scrollIntoView()")
        shot(op, "records-surveys")
        # The year's other sample would ask the same household again: refused, and nothing drawn.
        form = op.find_element(By.CSS_SELECTOR, "#draw-survey form")
        Select(form.find_element(By.NAME, "kind")).select_by_value("annual")
        form.find_element(By.CSS_SELECTOR, "button[data-action=survey-draw]").click()
        wait(op, lambda d: "可抽样住户不足" in d.find_element(By.ID, "alert").text, message="no household asked twice within the year")
        assert len(op.find_elements(By.CSS_SELECTOR, "#surveys table.surveys tbody tr")) == 1
        shot(op, "records-survey-refused")
    survey()

    @check("the reports open with their charts drawn on the server")
    def reports():
        day = FIXTURE["seeded_day"]
        op.get(BASE + f"/console/reports?property={FIXTURE['property']}&week={day}&period={day[:7]}")
        assert op.find_elements(By.CSS_SELECTOR, "#deadline-report svg rect"), "bars in the deadline chart"
        clauses = op.find_elements(By.CSS_SELECTOR, "#deadline-report table.clauses tbody tr")
        assert clauses, "a compliance row for each clause under the chart"
        for row in clauses:
            text = row.find_element(By.CSS_SELECTOR, ".compliance").text
            assert re.fullmatch(r"\d{1,3}%|—", text), f"clause {row.get_attribute('data-rule')}: compliance {text!r}"
        weekly = op.find_element(By.ID, "weekly-complaints")
        assert weekly.find_elements(By.CSS_SELECTOR, "svg line.pareto-line"), "the 80% line on the Pareto chart"
        total = int(weekly.find_element(By.CSS_SELECTOR, ".weekly-total").text)
        assert total >= 3, "this week's complaints (three seeded, and those the checks filed) are counted"
        assert weekly.find_elements(By.CSS_SELECTOR, "svg rect.vital"), "the categories that make 80% are marked"
        # The CSV link serves the same table to the signed-in browser (its session cookie).
        link = weekly.find_element(By.LINK_TEXT, "下载 CSV").get_attribute("href")
        csv = fetch(op, link)
        assert csv[0] == 200 and csv[1].startswith("text/csv") and csv[2].startswith("week,category,"), csv
        shot(op, "reports")
        op.execute_script("arguments[0].scrollIntoView()", weekly)
        shot(op, "reports-weekly")
        statistics = op.find_element(By.ID, "statistics")
        assert int(statistics.find_element(By.CSS_SELECTOR, ".statistics-total").text) >= 3, "this month's tickets are counted"
        kinds = [r.text for r in statistics.find_elements(By.CSS_SELECTOR, "table.by-kind tbody tr")]
        assert any(k.startswith("投诉 ") for k in kinds), f"complaints among the kinds, in Chinese: {kinds}"
        assert statistics.find_elements(By.CSS_SELECTOR, "svg rect"), "tickets by kind drawn"
        assert statistics.find_elements(By.CSS_SELECTOR, "table.resolution tbody tr"), "times to resolve"
        link = statistics.find_element(By.LINK_TEXT, "下载 CSV").get_attribute("href")
        csv = fetch(op, link)
        assert csv[0] == 200 and csv[1].startswith("text/csv") and csv[2].startswith("from,to,section,item,value"), csv
        op.execute_script("arguments[0].scrollIntoView()", statistics)
        shot(op, "reports-statistics")
    reports()

    @check("on a phone-sized screen the board fits the width and its table scrolls inside its frame")
    def phone():
        op.set_window_size(390, 844)
        op.get(BASE + "/console/board")
        wait(op, lambda d: board_row(d, filed["lift"]))
        overflow = op.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 1, f"{overflow} px wider than the screen"
        shot(op, "phone-board")
        op.get(filed["lift_url"])
        assert op.execute_script("return document.documentElement.scrollWidth - window.innerWidth") <= 1
        shot(op, "phone-ticket")
        op.set_window_size(1280, 900)
    phone()


if __name__ == "__main__":
    main()
