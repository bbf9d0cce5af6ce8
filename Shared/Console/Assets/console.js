// PropDesk console: the few things the server-rendered pages cannot do alone. Forms send JSON to
// the HTTP API (with the session's CSRF token and, for a new ticket, its Idempotency-Key);
// countdowns tick; live updates arrive by Server-Sent Events and change only what they are about.
// Everything a server sends is put in the page as text, except board rows, which the server
// renders and escapes with the same template as the page itself.
"use strict";
(() => {
  const body = document.body;
  const csrf = document.querySelector('meta[name="csrf-token"]')?.content || "";
  const alertBox = document.getElementById("alert");
  const liveStatus = document.getElementById("live-status");

  function showAlert(message) {
    alertBox.textContent = message;
    alertBox.hidden = false;
    alertBox.scrollIntoView({ block: "nearest" });
  }
  function clearAlert() {
    alertBox.textContent = "";
    alertBox.hidden = true;
  }

  async function api(method, url, payload, headers = {}) {
    const options = { method, headers: { Accept: "application/json", ...headers }, credentials: "same-origin" };
    if (method !== "GET") options.headers["X-CSRF-Token"] = csrf;
    if (payload !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(payload);
    }
    const response = await fetch(url, options);
    let json = {};
    try { json = await response.json(); } catch (_) { /* 204 and non-JSON answers */ }
    return { status: response.status, ok: response.ok, json };
  }

  const errorWords = JSON.parse(body.dataset.errors || "{}");
  // What the API said, after what its code means in the page's language.
  function problemText(json) {
    const problems = (json.problems || []).map((p) => p.message);
    const detail = problems.length ? problems.join(" · ") : json.message || "";
    const words = errorWords[json.code];
    return words ? (detail ? `${words} (${detail})` : words) : detail || "error";
  }

  // "2026-12-02T10:30" from a datetime-local input, in the property's own zone (its offset comes
  // with the page; without it the API refuses the time rather than guess a zone).
  function zoned(value, offset) {
    if (!value) return value;
    const withSeconds = value.length === 16 ? `${value}:00` : value;
    return `${withSeconds}${offset || ""}`;
  }

  function formBody(form) {
    const data = {};
    // The daily key count: each key's number on the board.
    const counted = [...form.querySelectorAll("[data-count-key]")];
    if (counted.length) data.counts = counted.map((f) => ({ key_id: f.dataset.countKey, counted: Number(f.value || 0) }));
    // A drawn signature: only its points' numbers are sent.
    const canvas = form.querySelector("canvas[data-signature]");
    if (canvas && canvas.strokes && canvas.strokes.length) data.drawn = { strokes: canvas.strokes };
    for (const field of form.elements) {
      if (!field.name || field.disabled) continue;
      if (field.hasAttribute("data-lines")) {
        data[field.name] = field.value.split("\n").map((l) => l.trim()).filter((l) => l).map((text) => ({ text }));
        continue;
      }
      if (field.type === "checkbox") {
        if (field.hasAttribute("data-bool")) data[field.name] = field.checked;
        else if (field.checked) data[field.name] = field.value;
        continue;
      }
      let value = field.value;
      if (value === "") continue;
      if (field.type === "number" || field.hasAttribute("data-number")) value = Number(value);
      if (field.dataset.zoned === "property") {
        const property = form.querySelector('[name="property"]');
        value = zoned(value, property?.selectedOptions[0]?.dataset.offset);
      } else if (field.dataset.zonedOffset) {
        value = zoned(value, field.dataset.zonedOffset);
      }
      data[field.name] = value;
    }
    return data;
  }

  document.addEventListener("submit", async (event) => {
    const form = event.target.closest("form[data-api]");
    if (!form) return;
    event.preventDefault();
    clearAlert();
    const headers = {};
    if (form.dataset.idempotencyKey) headers["Idempotency-Key"] = form.dataset.idempotencyKey;
    let reply;
    try {
      reply = await api("POST", form.dataset.api, formBody(form), headers);
    } catch (error) {
      showAlert(String(error));
      return;
    }
    if (!reply.ok) {
      showAlert(problemText(reply.json));
      return;
    }
    if (form.dataset.close) document.getElementById(form.dataset.close).hidden = true;
    const then = form.dataset.then;
    if (then === "ticket") location.assign(`/console/tickets/${reply.json.id}?filed=1`);
    else if (then === "ticket-of-order") location.assign(`/console/tickets/${reply.json.ticket_id}`);
    else if (then === "reload") { form.reset(); refreshSections(true); }
    else if (then === "message") { form.hidden = true; showDone(form); }
    else if (then && then.startsWith("/console")) location.assign(then);
    else location.assign("/console");
  });

  function showDone(form) {
    const done = element("p", form.dataset.done || "", { class: "done", role: "status" });
    form.after(done);
  }

  // Signatures drawn with a finger, pen or mouse, in the canvas's own 1000 × 400 box.
  function signaturePad(canvas) {
    const pen = canvas.getContext("2d");
    pen.lineWidth = 6;
    pen.lineCap = "round";
    pen.lineJoin = "round";
    canvas.strokes = [];
    let stroke = null;
    const point = (event) => {
      const box = canvas.getBoundingClientRect();
      const x = Math.round(((event.clientX - box.left) / box.width) * canvas.width);
      const y = Math.round(((event.clientY - box.top) / box.height) * canvas.height);
      return [Math.max(0, Math.min(canvas.width, x)), Math.max(0, Math.min(canvas.height, y))];
    };
    canvas.addEventListener("pointerdown", (event) => {
      canvas.setPointerCapture(event.pointerId);
      stroke = [point(event)];
      canvas.strokes.push(stroke);
      pen.beginPath();
      pen.moveTo(...stroke[0]);
    });
    canvas.addEventListener("pointermove", (event) => {
      if (!stroke) return;
      const p = point(event);
      const last = stroke[stroke.length - 1];
      if (Math.abs(p[0] - last[0]) + Math.abs(p[1] - last[1]) < 4) return;
      stroke.push(p);
      pen.lineTo(...p);
      pen.stroke();
    });
    const end = () => { stroke = null; };
    canvas.addEventListener("pointerup", end);
    canvas.addEventListener("pointercancel", end);
    canvas.closest("form")?.querySelector("[data-clear-signature]")?.addEventListener("click", () => {
      canvas.strokes = [];
      pen.clearRect(0, 0, canvas.width, canvas.height);
    });
  }
  document.querySelectorAll("canvas[data-signature]").forEach(signaturePad);

  // A survey call: the next household drawn, claimed for this desk, then what the call found.
  // A score only when the household answered.
  const surveyCall = document.getElementById("survey-call");
  if (surveyCall) {
    const form = surveyCall.querySelector("form");
    const outcome = form.elements.outcome, score = form.elements.satisfaction;
    const scored = () => { score.disabled = outcome.value !== outcome.dataset.answered; };
    outcome.addEventListener("change", scored);
    document.addEventListener("click", async (event) => {
      const button = event.target.closest("[data-survey-next]");
      if (!button) return;
      clearAlert();
      const reply = await api("POST", button.dataset.surveyNext, {});
      if (!reply.ok) { showAlert(problemText(reply.json)); return; }
      const household = reply.json.household;
      if (!household) { surveyCall.hidden = true; showAlert(surveyCall.dataset.textDone); refreshSections(true); return; }
      const fields = { resident: household.resident, place: `${household.building} ${household.unit}`, phone: household.phone };
      for (const [name, text] of Object.entries(fields)) surveyCall.querySelector(`[data-field="${name}"]`).textContent = text;
      form.reset();
      scored();
      form.dataset.api = `/survey-households/${household.id}/answer`;
      surveyCall.hidden = false;
      surveyCall.scrollIntoView({ block: "nearest" });
      outcome.focus();
    });
  }

  document.getElementById("sign-out")?.addEventListener("click", async () => {
    await api("POST", "/auth/logout");
    location.assign("/console/login");
  });

  // Caller lookup: who is calling, from the register, as the number is typed.
  function debounce(fn, ms) {
    let timer;
    return (...args) => { clearTimeout(timer); timer = setTimeout(() => fn(...args), ms); };
  }
  function element(tag, text, attributes = {}) {
    const e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = text;
    for (const [k, v] of Object.entries(attributes)) e.setAttribute(k, v);
    return e;
  }
  const phoneInput = document.querySelector("[data-lookup]");
  if (phoneInput) {
    const box = document.getElementById("caller");
    phoneInput.addEventListener("input", debounce(async () => {
      const digits = phoneInput.value.replace(/[^0-9]/g, "");
      if (digits.length < 5) { box.replaceChildren(); return; }
      const reply = await api("GET", `${phoneInput.dataset.lookup}?phone=${encodeURIComponent(phoneInput.value)}`);
      box.replaceChildren();
      if (!reply.ok) { box.append(element("p", problemText(reply.json))); return; }
      const residents = reply.json.residents || [];
      if (residents.length === 0) { box.append(element("p", box.dataset.textNone, { class: "muted" })); return; }
      box.append(element("h2", box.dataset.textFound));
      const list = element("ul");
      for (const r of residents) {
        const item = element("li");
        item.append(element("strong", r.name, { class: "resident-name" }), ` · ${r.building} ${r.unit} · `,
                    element("span", r.phone, { class: "resident-phone" }), ` · ${r.relation}`);
        const use = element("button", "✓", { type: "button", "aria-label": `${r.name} ${r.building} ${r.unit}` });
        use.addEventListener("click", () => {
          for (const [id, value] of [["caller_name", r.name], ["building", r.building], ["unit", r.unit], ["property", r.property]]) {
            const input = document.getElementById(id);
            if (input) input.value = value;
          }
          document.getElementById("kind")?.focus();
        });
        item.append(use);
        list.append(item);
      }
      box.append(list);
      box.append(element("h2", box.dataset.textTickets));
      const tickets = reply.json.tickets || [];
      const ticketList = element("ul");
      for (const t of tickets) {
        const item = element("li");
        item.append(element("a", t.number, { href: `/console/tickets/${t.id}` }), ` · ${t.kind_label} · ${t.status_label} · ${t.summary}`);
        ticketList.append(item);
      }
      if (tickets.length === 0) ticketList.append(element("li", box.dataset.textNoTickets));
      box.append(ticketList);
    }, 300));
  }

  // The same emergency rules as dispatch: said before the ticket is filed.
  const content = document.querySelector("[data-emergency-check]");
  if (content) {
    const warning = document.getElementById("emergency");
    content.addEventListener("input", debounce(async () => {
      const text = content.value.trim();
      if (!text) { warning.hidden = true; return; }
      const reply = await api("GET", `${content.dataset.emergencyCheck}?text=${encodeURIComponent(text.slice(0, 2000))}`);
      if (reply.ok && reply.json.emergency) {
        warning.textContent = `${warning.dataset.text} ${reply.json.label} — ${warning.dataset.textRouting}`;
        warning.hidden = false;
        const type = document.getElementById("emergency_type");
        if (type && !type.value) type.value = reply.json.emergency;
      } else {
        warning.hidden = true;
      }
    }, 250));
  }

  // Countdowns: every running clock step, each second.
  function duration(ms) {
    const total = Math.floor(Math.abs(ms) / 1000);
    const d = Math.floor(total / 86400), h = Math.floor((total % 86400) / 3600), m = Math.floor((total % 3600) / 60), s = total % 60;
    const two = (n) => String(n).padStart(2, "0");
    const clock = h > 0 || d > 0 ? `${h}:${two(m)}:${two(s)}` : `${two(m)}:${two(s)}`;
    return (ms < 0 ? "-" : "") + (d > 0 ? `${d}d ${clock}` : clock);
  }
  function tick() {
    const now = Date.now();
    for (const c of document.querySelectorAll(".countdown[data-due]")) {
      const due = Date.parse(c.dataset.due), soon = Date.parse(c.dataset.soon || c.dataset.due);
      const left = due - now;
      c.textContent = duration(left);
      const state = left < 0 ? "late" : now >= soon ? "soon" : "ok";
      c.classList.toggle("late", state === "late");
      c.classList.toggle("soon", state === "soon");
      const row = c.closest("tr.row");
      if (row) {
        row.classList.toggle("late", state === "late");
        row.classList.toggle("soon", state === "soon");
      }
    }
    for (const c of document.querySelectorAll(".countup[data-since]")) c.textContent = duration(now - Date.parse(c.dataset.since));
  }
  tick();
  setInterval(tick, 1000);

  // Live sections: fetched anew when something changed, but never while the user is typing or
  // choosing in them (a refresh must not take away what someone is doing); then on leaving.
  let pending = false;
  let forced = false;
  function busy(section) {
    const active = document.activeElement;
    if (active && section.contains(active) && ["INPUT", "TEXTAREA", "SELECT"].includes(active.tagName)) return true;
    if ([...section.querySelectorAll("canvas[data-signature]")].some((c) => c.strokes?.length)) return true;
    return [...section.querySelectorAll("input, textarea")].some((i) => !["hidden", "checkbox"].includes(i.type) && i.value !== "");
  }
  const refreshNow = debounce(async () => {
    const force = forced;
    forced = false;
    const sections = [...document.querySelectorAll("[data-live-section]")];
    if (sections.length === 0) return;
    const response = await fetch(location.href, { headers: { Accept: "text/html" }, credentials: "same-origin" });
    if (!response.ok) return;
    const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
    pending = false;
    for (const section of sections) {
      const replacement = fresh.getElementById(section.id);
      if (!replacement) continue;
      if (!force && busy(section)) { pending = true; continue; }
      section.replaceChildren(...[...replacement.childNodes].map((n) => document.importNode(n, true)));
    }
    document.querySelectorAll("canvas[data-signature]").forEach((c) => { if (!c.strokes) signaturePad(c); });
    const status = fresh.getElementById("ticket-status");
    if (status && document.getElementById("ticket-status")) document.getElementById("ticket-status").textContent = status.textContent;
    tick();
  }, 200);
  function refreshSections(force) {
    forced = forced || force;
    refreshNow();
  }
  document.addEventListener("focusout", () => { if (pending) refreshSections(false); });

  // The board: one row at a time, as the server sends it.
  const rows = document.getElementById("board-rows");
  function applyRow(frame) {
    const existing = rows.querySelector(`tr[data-id="${frame.id}"]`);
    if (frame.remove) {
      existing?.remove();
    } else {
      const template = document.createElement("template");
      template.innerHTML = frame.html.trim();
      const row = template.content.firstElementChild;
      const hadFocus = existing && existing.contains(document.activeElement);
      if (existing) existing.replaceWith(row);
      else rows.prepend(row);
      if (hadFocus) row.querySelector("a")?.focus();
    }
    const count = document.getElementById("row-count");
    if (count) count.textContent = String(rows.querySelectorAll("tr").length);
    tick();
  }

  const live = body.dataset.live;
  if (live && window.EventSource) {
    const query = new URLSearchParams(live === "board" ? location.search : "");
    query.set("view", live);
    if (body.dataset.liveTicket) query.set("ticket", body.dataset.liveTicket);
    query.set("after", body.dataset.liveAfter || "");
    const source = new EventSource(`/console/events?${query}`);
    source.addEventListener("open", () => { liveStatus.textContent = body.dataset.textConnected; });
    source.addEventListener("error", () => { liveStatus.textContent = body.dataset.textLost; });
    source.addEventListener("row", (event) => {
      const frame = JSON.parse(event.data);
      if (live === "board" && rows) applyRow(frame);
      else refreshSections(false);
      liveStatus.textContent = `${body.dataset.textUpdated} ${frame.number}`;
    });
    source.addEventListener("reload", () => refreshSections(false));
    source.addEventListener("signed-out", () => { source.close(); location.assign("/console/login"); });
  }

  // A resident's file: read if the role and an approval allow it, else asked for.
  const file = document.getElementById("resident-file");
  if (file) {
    (async () => {
      const reply = await api("GET", `/residents/${file.dataset.resident}`);
      if (reply.ok) {
        const r = reply.json;
        const list = element("dl", undefined, { class: "facts" });
        const values = JSON.parse(file.dataset.values || "{}");
        for (const field of file.dataset.fields.split(" ")) {
          if (r[field] === null || r[field] === undefined) continue;
          const label = file.getAttribute(`data-label-${field}`) || field;
          const value = String(r[field]);
          list.append(element("dt", label), element("dd", values[value] || value, { "data-field": field }));
        }
        file.replaceChildren(list);
      } else {
        file.replaceChildren(element("p", problemText(reply.json)));
        if (reply.json.code === "approval_required") document.getElementById("ask-file").hidden = false;
      }
    })();
  }
})();
