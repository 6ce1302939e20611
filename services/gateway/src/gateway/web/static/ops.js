// The ops dashboard: saga counts (live), stuck sagas first, filters, a saga's timeline with its
// payment and partner references, operator actions (confirmed, with a reason, recorded in the
// saga's history with the operator), and the dead-letter topics. Plain ES module.
import { ApiError, call, el, money, show, tokenStore, when } from "/static/api.js";

const token = tokenStore("booking.ops-token");
const $ = (id) => document.getElementById(id);
const api = (method, path, body) => call(token.get(), method, path, body);
const notice = $("notice");
const STATES = ["REQUESTED", "HOLDING", "AUTHORIZING", "ACTION_REQUIRED", "CONFIRMING", "CAPTURING", "CONFIRMED",
  "COMPENSATING", "FAILED", "COMPENSATION_FAILED", "CANCELLING", "CANCELLED", "PARTIALLY_CANCELLED"];
let current = null;
let timer = null;

function fail(err) {
  show(notice, err instanceof ApiError ? err.message : `Something went wrong: ${err.message || err}`);
  if (err instanceof ApiError && err.status === 401) signOut();
}

for (const s of STATES) $("f-state").append(el("option", { value: s }, s));

// Signing out ends a session from email and password; an operator key stays valid.
function signOut() {
  const t = token.get();
  if (t && t.startsWith("gs_")) call(t, "POST", "/v1/tokens/revoke").catch(() => {});
  token.clear();
  clearInterval(timer);
  $("dash").hidden = true; $("nav").hidden = true; $("signin").hidden = false;
}
$("sign-out").addEventListener("click", signOut);
async function signInWith(t, what) {
  try {
    await call(t, "GET", "/v1/ops/saga-counts");
    token.set(t);
    start();
  } catch (err) {
    // A session made just now for an account without the role is of no use: end it.
    if (err.status === 403 && t.startsWith("gs_")) await call(t, "POST", "/v1/tokens/revoke").catch(() => {});
    show(notice, err.status === 403 ? `This ${what} has no operator role.` : err.status === 401 ? `This ${what} is not valid.` : err.message);
  }
}
$("signin-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  try {
    const r = await call(null, "POST", "/v1/sessions", { email: $("si-email").value.trim(), password: $("si-password").value });
    $("si-password").value = "";
    await signInWith(r.token, "account");
  } catch (err) {
    show(notice, err.status === 401 ? "The email or the password is wrong." : err.message);
  }
});
$("signin-key-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const t = $("si-key").value.trim();
  $("si-key").value = "";
  await signInWith(t, "key");
});

function start() {
  show(notice, "");
  $("signin").hidden = true; $("dash").hidden = false; $("nav").hidden = false;
  refresh();
  clearInterval(timer);
  timer = setInterval(() => { if ($("live").checked) refresh(); }, 3000);
}

// At a phone's width the tables are stacked (style.css): each cell is labelled with its column.
function labelCells() {
  for (const table of document.querySelectorAll("#dash table")) {
    const heads = [...table.querySelectorAll("thead th")].map((th) => th.textContent);
    for (const tr of table.querySelectorAll("tbody tr")) {
      [...tr.children].forEach((td, i) => { if (heads[i] && !td.hasAttribute("colspan")) td.dataset.label = heads[i]; });
    }
  }
}
new MutationObserver(labelCells).observe($("dash"), { childList: true, subtree: true });

async function refresh() {
  try {
    await Promise.all([loadCounts(), loadStuck(), loadSagas()]);
    if (current) await openSaga(current, false);
    $("refreshed").textContent = `Updated ${new Date().toLocaleTimeString()}`;
  } catch (err) { fail(err); }
}

async function loadCounts() {
  const r = await api("GET", "/v1/ops/saga-counts");
  $("counts").replaceChildren(...STATES.map((s) => el("div", { "data-state": s },
    badge(s), el("strong", {}, String(r.counts[s] ?? 0)))));
}

function sagaLink(s) {
  return el("button", { type: "button", class: "linkish", onclick: () => openSaga(s.booking_id, true) }, s.booking_id);
}

function ageSeconds(iso) { return Math.round((Date.now() - new Date(iso).getTime()) / 1000); }

// The orchestrator answers both lists (filters, order, totals); the page only turns pages.
const PAGE = 25;
const pages = { stuck: 0, sagas: 0 };

function pager(name, total, shown, load) {
  const from = pages[name] * PAGE;
  const prev = el("button", { type: "button", disabled: from === 0 ? "" : null,
    onclick: () => { pages[name] -= 1; load().catch(fail); } }, "Previous");
  const next = el("button", { type: "button", disabled: from + shown >= total ? "" : null,
    onclick: () => { pages[name] += 1; load().catch(fail); } }, "Next");
  const what = total ? `${from + 1}–${from + shown} of ${total}` : "0 of 0";
  $(`${name}-pages`).replaceChildren(el("span", { class: "muted", "aria-live": "polite" }, what), prev, next);
}

// A state name breaks after its underscores, so that a long one wraps inside a narrow cell.
function badge(state, extra = "") {
  const parts = state.split("_");
  const label = parts.flatMap((p, i) => (i ? [el("wbr"), `_${p}`] : [p]));
  return el("span", { class: `badge ${state}` }, ...label, extra);
}

const REASONS = { compensation_failed: "compensation failed", flagged: "flagged for operators",
  past_deadline: "past its deadline", compensating_too_long: "compensating too long" };

async function loadStuck() {
  const q = new URLSearchParams({ limit: String(PAGE), offset: String(pages.stuck * PAGE) });
  const limit = $("stuck-after").value;
  if (limit !== "") q.set("compensating_longer_than_s", String(Math.max(0, Math.round(Number(limit)))));
  const r = await api("GET", `/v1/ops/stuck-sagas?${q}`);
  if (!r.sagas.length && pages.stuck > 0 && r.total) { pages.stuck = 0; return loadStuck(); }
  $("stuck").replaceChildren(...r.sagas.map((s) => el("tr", { "data-booking": s.booking_id, "data-reason": s.reason },
    el("td", {}, sagaLink(s)), el("td", {}, badge(s.state)),
    el("td", {}, el("strong", {}, REASONS[s.reason] || s.reason), el("br"), el("span", { class: "muted" }, s.detail)),
    el("td", {}, s.since ? `${ageSeconds(s.since)} s` : "—"),
    el("td", {}, (s.providers || []).join(", ")), el("td", {}, s.user_id))));
  if (!r.sagas.length) $("stuck").append(el("tr", {}, el("td", { colspan: "6", class: "muted" }, "Nothing stuck.")));
  pager("stuck", r.total, r.sagas.length, loadStuck);
}

async function loadSagas() {
  const q = new URLSearchParams({ limit: String(PAGE), offset: String(pages.sagas * PAGE) });
  if ($("f-state").value) q.set("state", $("f-state").value);
  if ($("f-age").value) q.set("older_than_s", $("f-age").value);
  if ($("f-provider").value) q.set("provider", $("f-provider").value);
  if ($("f-user").value.trim()) q.set("user_id", $("f-user").value.trim());
  const r = await api("GET", `/v1/ops/sagas?${q}`);
  if (!r.sagas.length && pages.sagas > 0 && r.total) { pages.sagas = 0; return loadSagas(); }
  $("sagas").replaceChildren(...r.sagas.map((s) => el("tr", { "data-booking": s.booking_id },
    el("td", {}, sagaLink(s)), el("td", {}, badge(s.state, s.paused ? " (paused)" : "")),
    el("td", {}, money(s.total)), el("td", {}, when(s.updated_at)),
    el("td", {}, (s.providers || []).join(", ")), el("td", {}, s.user_id))));
  if (!r.sagas.length) $("sagas").append(el("tr", {}, el("td", { colspan: "6", class: "muted" }, "No saga matches.")));
  pager("sagas", r.total, r.sagas.length, loadSagas);
}
$("stuck-after").addEventListener("change", () => { pages.stuck = 0; loadStuck().catch(fail); });
$("filters").addEventListener("submit", (e) => {
  e.preventDefault();
  pages.sagas = 0;
  loadSagas().catch(fail);
});

const REPLIES = { HoldItem: ["ItemHeld", "ItemRejected"], ConfirmItem: ["ItemConfirmed", "ItemRejected"], CancelItem: ["ItemCancelled", "ItemRejected"],
  AuthorizePayment: ["PaymentAuthorized", "PaymentDeclined", "PaymentActionRequired", "PaymentFailed"], CapturePayment: ["PaymentCaptured", "PaymentFailed"],
  VoidPayment: ["PaymentVoided", "PaymentFailed"], RefundPayment: ["PaymentRefunded", "PaymentFailed"] };

const COMMANDS = { hold: "HoldItem", confirm: "ConfirmItem", cancel: "CancelItem", release: "CancelItem", authorize: "AuthorizePayment",
  capture: "CapturePayment", void: "VoidPayment", refund: "RefundPayment" };

function secs(ms) { return ms == null ? "—" : `${(ms / 1000).toFixed(2)} s`; }

async function openSaga(id, focus) {
  const s = await api("GET", `/v1/ops/sagas/${id}`);
  current = id;
  $("detail").hidden = false;
  $("detail-h").textContent = `Saga ${s.booking_id}`;
  const p = s.payment || {};
  $("detail-summary").replaceChildren(
    el("p", {}, el("span", { class: `badge ${s.state}`, id: "detail-state" }, s.state), s.paused ? " · paused" : "",
      s.attention ? ` · flagged: ${s.attention}` : "", ` · ${s.mode} · total ${money(s.total)} · user ${s.user_id}`),
    el("p", {}, "Payment: ", el("span", { class: "code" }, p.payment_intent_id || "none yet"),
      ` · authorized ${money(p.authorized)} · captured ${money(p.captured)} · refunded ${money(p.refunded)}`),
    (s.failure_reasons || []).length ? el("p", { class: "notice error" }, s.failure_reasons.map((r) => r.message || r.code).join("; ")) : "");
  $("detail-items").replaceChildren(...s.items.map((it) => el("tr", {},
    el("td", {}, it.item_id), el("td", {}, it.provider || "—"), el("td", {}, el("span", { class: `badge ${it.status}` }, it.status)),
    el("td", { class: "code" }, it.hold_id || "—"), el("td", { class: "code" }, it.confirmation_code || "—"), el("td", { class: "num" }, money(it.price)))));
  const hist = s.history || [];
  const now = Date.now();
  $("detail-steps").replaceChildren(...s.steps.map((st) => {
    const [kind, ...rest] = st.name.split(":");
    const item = rest.join(":");
    const command = COMMANDS[kind];
    const mine = (h) => !item || (h.summary || "").includes(item);
    const out = hist.find((h) => h.direction === "out" && h.type === command && mine(h));
    const reply = out ? hist.find((h) => h.direction === "in" && (REPLIES[command] || []).includes(h.type) && h.at >= out.at && mine(h)) : null;
    const took = out && reply ? new Date(reply.at) - new Date(out.at) : null;
    const overdue = st.deadline_at && new Date(st.deadline_at).getTime() < now && !["DONE", "FAILED", "ABANDONED", "EXHAUSTED"].includes(st.status);
    return el("tr", {}, el("td", {}, st.name), el("td", {}, el("span", { class: `badge ${overdue ? "bad" : ""}` }, st.status, overdue ? " · past deadline" : "")),
      el("td", { class: "code", title: st.command_id }, `${command || kind} ${st.command_id.slice(0, 8)}`), el("td", { class: "num" }, String(st.attempts)), el("td", {}, when(st.deadline_at)),
      el("td", {}, reply ? reply.type : "waiting"), el("td", { class: "num" }, took != null ? secs(took) : "—"));
  }));
  let prev = null;
  $("detail-history").replaceChildren(...hist.map((h) => {
    const t = new Date(h.at).getTime();
    const row = el("tr", { "data-direction": h.direction }, el("td", {}, new Date(h.at).toLocaleTimeString()), el("td", { class: "num" }, prev == null ? "" : secs(t - prev)),
      el("td", {}, h.direction), el("td", {}, el("strong", {}, h.type)), el("td", { class: "muted" }, h.topic || ""), el("td", {}, h.summary || ""));
    prev = t;
    return row;
  }));
  if (focus) $("detail-h").focus();
}

const WORDS = { retry: "Retry: resend what is in flight now", compensate: "Force compensation: release every hold, void or refund the payment",
  pause: "Pause: deadlines wait and incoming messages are parked", resume: "Resume: apply parked messages in order" };
for (const b of document.querySelectorAll("[data-action]")) {
  b.addEventListener("click", () => {
    const action = b.dataset.action;
    $("confirm-h").textContent = `${action[0].toUpperCase()}${action.slice(1)} saga ${current}?`;
    $("confirm-what").textContent = WORDS[action];
    $("confirm-reason").value = "";
    $("confirm").dataset.action = action;
    $("confirm").showModal();
  });
}
$("confirm-cancel").addEventListener("click", () => $("confirm").close());
$("confirm-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const action = $("confirm").dataset.action;
  const reason = $("confirm-reason").value.trim();
  if (reason.length < 3) { $("confirm-reason").focus(); return; }
  $("confirm").close();
  try {
    await api("POST", `/v1/ops/sagas/${current}/${action}`, { reason });
    show(notice, `${action} sent for ${current}. It is recorded in the saga's history.`, "ok");
    await refresh();
  } catch (err) { fail(err); }
});

$("dlq-load").addEventListener("click", async () => {
  try {
    const r = await api("GET", "/v1/ops/dead-letters?per_topic=20");
    const box = $("dlq");
    box.replaceChildren();
    if (!r.topics.length) box.append(el("p", { class: "muted" }, "No dead-letter topic yet."));
    for (const t of r.topics) {
      box.append(el("h3", {}, `${t.topic} (${t.total})`));
      if (!t.records.length) { box.append(el("p", { class: "muted" }, "Empty.")); continue; }
      box.append(el("div", { class: "table-wrap" }, el("table", {},
        el("thead", {}, el("tr", {}, el("th", {}, "When"), el("th", {}, "Consumer"), el("th", {}, "Error"), el("th", {}, "Attempts"), el("th", {}, "Message"))),
        el("tbody", {}, t.records.map((m) => el("tr", {}, el("td", {}, when(new Date(m.timestamp).toISOString())),
          el("td", {}, m.headers.dlq_consumer || "—"), el("td", {}, m.headers.dlq_error || "—"), el("td", { class: "num" }, m.headers.dlq_attempts || "—"),
          el("td", { class: "code" }, `${m.partition}:${m.offset} ${m.value?.type || ""}`)))))));
    }
  } catch (err) { fail(err); }
});

if (token.get()) start(); else { $("signin").hidden = false; }
