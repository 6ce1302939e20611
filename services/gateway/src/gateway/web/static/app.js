// The booking pages: sign up / sign in, itinerary (search or JSON), review, card (Stripe.js),
// one-click booking with live status (SSE through a single-use ticket), receipt, calendar,
// cancellation, consent settings. Plain ES module, no build step.
import { ApiError, call, el, humanize, money, show, tokenStore, when } from "/static/api.js";

const token = tokenStore("booking.token");
const $ = (id) => document.getElementById(id);
const api = (method, path, body, headers) => call(token.get(), method, path, body, headers);
const notice = $("notice");
const state = { items: [], quote: null, cards: [], me: null, stripe: null, card: null, source: null, booking: null };

const FINAL = new Set(["CONFIRMED", "FAILED", "CANCELLED", "PARTIALLY_CANCELLED", "COMPENSATION_FAILED"]);
const STATE_WORDS = {
  REQUESTED: "Request received",
  HOLDING: "Holding your places with the partners",
  AUTHORIZING: "Reserving the amount on your card",
  ACTION_REQUIRED: "Waiting for you to confirm the payment with your bank",
  CONFIRMING: "Confirming with the partners",
  CAPTURING: "Charging your card",
  CONFIRMED: "Confirmed",
  COMPENSATING: "Something failed: releasing everything, nothing will be charged",
  FAILED: "Not booked",
  COMPENSATION_FAILED: "Not booked; our team is fixing a problem with this booking",
  CANCELLATION_REQUESTED: "Cancellation requested",
  CANCELLING: "Cancelling",
  CANCELLED: "Cancelled",
  PARTIALLY_CANCELLED: "Partly cancelled",
};
const ITEM_WORDS = {
  PENDING: "waiting", HOLDING: "holding", HELD: "held", CONFIRMING: "confirming", CONFIRMED: "confirmed",
  RELEASED: "released (not booked)", REJECTED: "refused by the partner", CANCELLED: "cancelled",
  NOT_CANCELLABLE: "could not be cancelled (it stands, paid)", FAILED: "failed",
};

function fail(err) {
  show(notice, err instanceof ApiError ? err.message : `Something went wrong: ${err.message || err}`);
  if (err instanceof ApiError && err.status === 401) signOut(false);
}
function ok(message) { show(notice, message, "ok"); }

// --- views ---------------------------------------------------------------------------------
function view(name) {
  for (const p of document.querySelectorAll("[data-view-panel]")) p.hidden = p.dataset.viewPanel !== name;
  for (const b of document.querySelectorAll("#nav [data-view]")) {
    if (b.dataset.view === name) b.setAttribute("aria-current", "page"); else b.removeAttribute("aria-current");
  }
  $("nav").hidden = !token.get();
  if (name === "bookings") loadBookings().catch(fail);
  if (name === "settings") loadSettings().catch(fail);
}
document.querySelectorAll("#nav [data-view]").forEach((b) => b.addEventListener("click", () => { show(notice, ""); view(b.dataset.view); }));
$("sign-out").addEventListener("click", () => signOut(true));

// Signing out ends a session from email and password; an API key is the person's own long-lived
// credential (maybe their only one), so it stays valid: they revoke it in the API if they wish.
async function signOut(revoke) {
  if (revoke && token.get()?.startsWith("gs_")) await api("POST", "/v1/tokens/revoke").catch(() => {});
  token.clear();
  state.source?.close();
  view("auth");
}

// --- sign up / sign in ---------------------------------------------------------------------
$("signup-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const body = { name: $("su-name").value.trim(), email: $("su-email").value.trim() };
  if ($("su-phone").value.trim()) body.phone = $("su-phone").value.trim();
  const password = $("su-password").value;
  if (password) body.password = password;
  try {
    const r = await call(null, "POST", "/v1/users", body);
    token.set(r.token);
    $("su-password").value = "";
    $("su-key").value = r.token;
    $("signup-key-note").textContent = password
      ? "You can sign in with your email and password. This API key is for apps and scripts; it is shown only once: keep it somewhere safe, or ignore it."
      : "This is your personal API key, and you need it to sign in again (you chose no password). It is shown only once: keep it somewhere safe (a password manager).";
    $("signup-form").hidden = true;
    $("signup-key").hidden = false;
    $("su-key").focus();
    show(notice, "");
  } catch (err) { fail(err); }
});
$("signup-continue").addEventListener("click", () => startSignedIn());
// Email and password: the gateway answers with a session token (8 h), kept like a key would be.
$("signin-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  try {
    const r = await call(null, "POST", "/v1/sessions", { email: $("si-email").value.trim(), password: $("si-password").value });
    token.set(r.token);
    $("si-password").value = "";
    startSignedIn();
  } catch (err) {
    show(notice, err.status === 401 ? "The email or the password is wrong." : err.message);
  }
});
$("signin-key-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const t = $("si-key").value.trim();
  try {
    await call(t, "GET", "/v1/me");
    token.set(t);
    $("si-key").value = "";
    startSignedIn();
  } catch (err) {
    show(notice, err.status === 401 ? "This API key is not valid (it may have expired or been revoked)." : err.message);
  }
});

async function startSignedIn() {
  show(notice, "");
  view("plan");
  try {
    state.me = await api("GET", "/v1/me");
    await loadCards();
  } catch (err) { fail(err); }
}

// --- itinerary -------------------------------------------------------------------------------
const d = new Date(Date.now() + 10 * 864e5);
$("s-date").value = d.toISOString().slice(0, 10);

$("search-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const q = new URLSearchParams({ date: $("s-date").value, party_size: $("s-party").value || "2" });
  if ($("s-q").value.trim()) q.set("q", $("s-q").value.trim());
  $("search-status").textContent = "Searching…";
  try {
    const r = await api("GET", `/v1/search?${q}`);
    const list = $("search-results");
    list.replaceChildren();
    for (const res of r.results) {
      const add = el("button", { type: "button", onclick: () => addItem(res.item) }, "Add");
      add.setAttribute("aria-label", `Add ${res.item.title} at ${when(res.item.start_time)}`);
      if (!res.available) add.disabled = true;
      list.append(el("li", {},
        el("span", {}, el("strong", {}, res.item.title), " · ", when(res.item.start_time), " · ", money(res.price),
          " · ", res.booking_type, res.available ? "" : " · sold out",
          el("br"), el("span", { class: "muted" }, res.cancellation_policy?.summary || "")),
        add));
    }
    const missing = r.missing_providers?.length ? ` Not answering: ${r.missing_providers.join(", ")}.` : "";
    $("search-status").textContent = `${r.results.length} results.${missing}`;
  } catch (err) { $("search-status").textContent = ""; fail(err); }
});

function addItem(item) {
  if (state.items.some((x) => x.id === item.id)) return;
  state.items.push(item);
  renderItinerary();
}
function renderItinerary() {
  const ul = $("itinerary");
  ul.replaceChildren(...state.items.map((it, i) => el("li", {},
    el("span", {}, el("strong", {}, it.title || it.id), " · ", when(it.start_time)),
    el("button", { type: "button", class: "danger", "aria-label": `Remove ${it.title || it.id}`,
      onclick: () => { state.items.splice(i, 1); renderItinerary(); } }, "Remove"))));
  if (!state.items.length) ul.append(el("li", { class: "muted" }, "Nothing chosen yet: search, or paste a schedule."));
  $("review-btn").disabled = !state.items.length;
}
renderItinerary();

function itemsFromJson(text) {
  let data;
  try { data = JSON.parse(text); } catch { throw new Error("This is not valid JSON. Check the brackets and quotes."); }
  const items = Array.isArray(data) ? data : data.items || data.schedule || data.plan;
  if (!Array.isArray(items) || !items.length) throw new Error("The schedule should be a list of items, or an object with an \"items\" list.");
  return items;
}
$("json-file").addEventListener("change", async () => {
  const f = $("json-file").files[0];
  if (f) $("json-text").value = await f.text();
});
$("json-load").addEventListener("click", () => {
  try {
    state.items = itemsFromJson($("json-text").value);
    renderItinerary();
    ok(`${state.items.length} items loaded from the schedule.`);
  } catch (err) { show(notice, err.message); }
});

// --- review ------------------------------------------------------------------------------------
$("review-btn").addEventListener("click", async () => {
  try {
    state.quote = await api("POST", "/v1/quotes", { items: state.items });
    renderQuote();
  } catch (err) { fail(err); }
});

function renderQuote() {
  const q = state.quote;
  $("review").hidden = false;
  $("review-rows").replaceChildren(...q.items.map((line) => el("tr", {},
    el("td", {}, el("strong", {}, line.title), el("br"), el("span", { class: "muted" }, `${line.booking_type} · ${line.provider}`),
      line.available ? "" : el("div", { class: "notice error" }, `Not available: ${line.reason?.message || line.reason || "sold out"}`)),
    el("td", {}, when(line.start_time)),
    el("td", {}, line.cancellation_policy?.summary || "—"),
    el("td", { class: "num" }, money(line.price)))));
  $("review-total").textContent = money(q.total);
  const c = $("review-consent");
  c.replaceChildren();
  const reasons = (q.reasons || []).filter((r) => r.code !== "guest_details_missing");
  if (q.confirmation_required || !q.bookable) {
    c.append(el("div", { class: q.bookable ? "notice info" : "notice error" },
      q.bookable ? "You need to confirm this total before booking, because:" : "This itinerary cannot be booked as it is:",
      el("ul", {}, reasons.map((r) => el("li", {}, humanize(r.message))))));
  } else {
    c.append(el("p", { class: "notice ok" }, "Within your automatic-booking limits: no extra confirmation needed."));
  }
  renderGuest(q.guest);
  $("pay").hidden = false;
  $("book").hidden = false;
  $("confirm-wrap").hidden = !q.confirmation_required;
  $("confirm-text").textContent = `I confirm booking these items and paying ${money(q.total)}`;
  $("confirm-total").checked = false;
  updateBookButton();
  $("review-h").focus?.();
  show(notice, "");
}

const GUEST_LABELS = { first_name: "Given name", last_name: "Family name", phone: "Phone", email: "Email" };
function renderGuest(guest) {
  const issues = guest?.issues || [];
  $("guest-form").hidden = !issues.length;
  const box = $("guest-fields");
  box.replaceChildren();
  for (const field of [...new Set(issues.map((i) => i.field))]) {
    const msgs = issues.filter((i) => i.field === field).map((i) => humanize(i.message)).join(" ");
    const id = `g-${field}`;
    box.append(el("label", { for: id }, GUEST_LABELS[field] || field),
      el("input", { id, name: field, required: true, "aria-describedby": `${id}-why` }),
      el("p", { id: `${id}-why`, class: "muted" }, msgs));
  }
}
$("guest-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const body = {};
  for (const input of $("guest-fields").querySelectorAll("input")) body[input.name] = input.value.trim();
  try {
    state.me = await api("PATCH", "/v1/me", body);
    state.quote = await api("GET", `/v1/quotes/${state.quote.id}`);
    renderQuote();
    ok("Saved. The partner has what it needs.");
  } catch (err) { fail(err); }
});

// --- cards (Stripe.js: the number goes to Stripe, never here) ---------------------------------
async function loadCards() {
  const r = await api("GET", "/v1/payment-methods");
  state.cards = r.items || r.payment_methods || r;
  const box = $("cards");
  box.replaceChildren(el("legend", { class: "sr-only" }, "Saved cards"));
  if (!state.cards.length) box.append(el("p", { class: "muted" }, "No saved card yet."));
  state.cards.forEach((c, i) => {
    const id = `card-${c.id}`;
    box.append(el("label", { class: "inline", for: id },
      el("input", { type: "radio", name: "card", id, value: c.id, checked: c.is_default || (i === 0 && !state.cards.some((x) => x.is_default)) }),
      `${c.brand} ending ${c.last4} (expires ${String(c.exp_month).padStart(2, "0")}/${c.exp_year})${c.is_default ? " · default" : ""}`));
  });
  box.querySelectorAll("input").forEach((i) => i.addEventListener("change", updateBookButton));
  $("add-card").open = !state.cards.length;
  if (!state.cards.length) await mountCard();
  updateBookButton();
}

function loadStripe() {
  state.loadingStripe = state.loadingStripe || doLoadStripe().catch((e) => { state.loadingStripe = null; throw e; });
  return state.loadingStripe;
}
async function doLoadStripe() {
  if (state.stripe) return state.stripe;
  const cfg = await call(null, "GET", "/ui/config.json");
  await new Promise((resolve, reject) => {
    const s = document.createElement("script");
    s.src = cfg.stripe_js_url;
    s.onload = resolve;
    s.onerror = () => reject(new Error("The card form could not be loaded. Please reload the page."));
    document.head.append(s);
  });
  state.stripe = window.Stripe(cfg.stripe_publishable_key);
  return state.stripe;
}

function mountCard() {
  state.mounting = state.mounting || doMountCard().finally(() => { state.mounting = null; });
  return state.mounting;
}
async function doMountCard() {
  if (state.card) return;
  const stripe = await loadStripe();
  state.card = stripe.elements().create("card");
  state.card.mount("#card-element");
  // Name each field the card form adds, for screen readers.
  const names = { number: "Card number", exp_month: "Expiry month", exp_year: "Expiry year (2 digits)", cvc: "Security code", postal_code: "Postal code" };
  for (const input of $("card-element").querySelectorAll("input")) {
    const key = input.getAttribute("placeholder");
    if (names[key]) input.setAttribute("aria-label", names[key]);
    if (key === "number") input.setAttribute("autocomplete", "cc-number");
  }
}
$("add-card").addEventListener("toggle", () => { if ($("add-card").open) mountCard().catch(fail); });

$("save-card").addEventListener("click", async () => {
  const btn = $("save-card");
  btn.disabled = true;
  try {
    const stripe = await loadStripe();
    await mountCard();
    const intent = await api("POST", "/v1/payment-methods/setup-intent");
    const r = await stripe.confirmCardSetup(intent.client_secret, { payment_method: { card: state.card } });
    if (r.error) throw new Error(cardError(r.error));
    const pm = r.setupIntent.payment_method;
    const saved = await api("POST", "/v1/payment-methods", { payment_method_id: typeof pm === "string" ? pm : pm.id, make_default: true });
    state.card.unmount(); state.card.destroy?.(); state.card = null;
    await loadCards();
    $("add-card").open = false;
    ok(`Card ending ${saved.last4} saved.`);
  } catch (err) {
    if (err instanceof ApiError) fail(err); else show(notice, err.message);
  } finally { btn.disabled = false; }
});

function cardError(e) {
  const code = e.decline_code || e.code || "";
  if (/declin/.test(code) || /declin/i.test(e.message || "")) return "Your card was declined. Nothing was charged. Please use another card.";
  if (/incorrect_number|invalid_number/.test(code)) return "The card number is not valid. Please check it.";
  return `The card could not be saved: ${e.message || code || "unknown reason"}.`;
}

function selectedCard() { return document.querySelector("#cards input[name=card]:checked")?.value; }
function updateBookButton() {
  const q = state.quote;
  $("book-btn").disabled = !(q && q.bookable && selectedCard() && (!q.confirmation_required || $("confirm-total").checked));
}
$("confirm-total").addEventListener("change", updateBookButton);

// --- book ------------------------------------------------------------------------------------
$("book-btn").addEventListener("click", async () => {
  const btn = $("book-btn");
  btn.disabled = true;
  try {
    const body = { quote_id: state.quote.id, payment_method_id: selectedCard(), confirm: !!state.quote.confirmation_required };
    const r = await api("POST", "/v1/bookings", body, { "Idempotency-Key": crypto.randomUUID() });
    state.items = []; renderItinerary();
    $("review").hidden = $("book").hidden = true;
    openBooking(r.booking_id);
  } catch (err) { fail(err); updateBookButton(); }
});

// --- one booking: live status ------------------------------------------------------------------
async function openBooking(id) {
  show(notice, "");
  view("booking");
  $("bk-h").textContent = `Booking ${id}`;
  $("bk-receipt").hidden = true;
  $("bk-cancel-quote").hidden = true;
  $("bk-actions").replaceChildren();
  await refreshBooking(id);
  if (!FINAL.has(state.booking.state)) follow(id);
}

async function follow(id) {
  state.source?.close();
  try {
    const t = await api("POST", `/v1/bookings/${id}/stream-ticket`);
    const es = new EventSource(`/v1/bookings/${id}/events?ticket=${encodeURIComponent(t.ticket)}`);
    state.source = es;
    es.addEventListener("state", async (ev) => {
      const data = JSON.parse(ev.data);
      if (data.client_secret) state.clientSecret = data.client_secret;
      await refreshBooking(id);
      if (FINAL.has(state.booking.state)) es.close();
    });
    es.onerror = async () => {
      // The stream ended (a final state) or broke: a ticket works once, so ask for a new one.
      es.close();
      await refreshBooking(id);
      if (!FINAL.has(state.booking.state) && state.source === es) setTimeout(() => follow(id), 1000);
    };
  } catch (err) { fail(err); }
}

async function refreshBooking(id) {
  const b = await api("GET", `/v1/bookings/${id}`);
  state.booking = b;
  renderBooking(b);
  return b;
}

function renderBooking(b) {
  $("bk-state").textContent = STATE_WORDS[b.state] || b.state;
  $("bk-state").className = `badge ${b.state}`;
  $("bk-items").replaceChildren(...b.items.map((it) => el("li", {},
    el("span", {}, el("strong", {}, it.title), " · ", when(it.start_time), " · ", money(it.price),
      it.confirmation_code ? el("span", {}, " · code ", el("span", { class: "code" }, it.confirmation_code)) : "",
      it.cancellation ? el("span", { class: "muted" }, " · ", cancellationWords(it.cancellation)) : ""),
    el("span", { class: `badge ${it.status}` }, ITEM_WORDS[it.status] || String(it.status || "").toLowerCase()))));
  const secret = b.payment?.client_secret || (b.state === "ACTION_REQUIRED" ? state.clientSecret : null);
  $("bk-3ds").hidden = !(b.state === "ACTION_REQUIRED" && secret);
  const msg = $("bk-message");
  if (b.state === "FAILED" || b.state === "COMPENSATION_FAILED") {
    const why = (b.failure_reasons || []).map(reasonWords);
    show(msg, `Not booked: ${why.join(" ") || "a partner or the payment failed."} ${b.payment?.captured ? "" : "Nothing was charged."}`, "error");
  } else if (b.state === "CONFIRMED") {
    show(msg, "Booked. Your confirmation codes are below.", "ok");
  } else if (b.state === "CANCELLED" || b.state === "PARTIALLY_CANCELLED") {
    show(msg, `Cancelled. Refunded ${money(b.payment?.refunded)}.`, "ok");
  } else {
    show(msg, "Working on it… this page updates by itself.", "info");
  }
  renderReceipt(b);
  renderActions(b);
}

function reasonWords(r) {
  const code = String(r.code || r.reason_code || "");
  if (/declin|insufficient/.test(code)) return "Your card was declined.";
  if (/authentication|action_window|3ds/.test(code)) return "The payment was not confirmed with your bank in time.";
  if (/sold_out|unavailable|not_available/.test(code)) return "An item is no longer available.";
  return humanize(r.message || r.detail || code);
}
function cancellationWords(c) {
  if (c.outcome === "cancelled") return `cancelled, refund ${money(c.refund)}${c.fee && c.fee.amount_minor ? `, fee ${money(c.fee)}` : ""}`;
  if (c.outcome === "not_cancellable") return `the partner refused to cancel: ${c.detail || c.reason_code}`;
  return "";
}

function renderReceipt(b) {
  const box = $("bk-receipt");
  const paid = b.payment?.captured;
  if (!paid) { box.hidden = true; return; }
  const card = state.cards.find((c) => c.id === b.payment.payment_method_id);
  box.hidden = false;
  box.replaceChildren(el("h3", {}, "Receipt"),
    el("div", { class: "table-wrap" }, el("table", {},
      el("caption", { class: "sr-only" }, "What was charged, per item"),
      el("thead", {}, el("tr", {}, el("th", { scope: "col" }, "Item"), el("th", { scope: "col" }, "Code"), el("th", { scope: "col", class: "num" }, "Charged"), el("th", { scope: "col", class: "num" }, "Refunded"))),
      el("tbody", {}, b.items.filter((it) => it.confirmation_code || it.cancellation).map((it) => el("tr", {},
        el("td", {}, it.title), el("td", { class: "code" }, it.confirmation_code || "—"),
        el("td", { class: "num" }, money(it.price)),
        el("td", { class: "num" }, it.cancellation?.refund ? money(it.cancellation.refund) : it.refund ? money(it.refund) : "—")))),
      el("tfoot", {}, el("tr", {}, el("th", { scope: "row", colspan: "2" }, "Total charged"), el("td", { class: "num", id: "receipt-charged" }, money(paid)),
        el("td", { class: "num", id: "receipt-refunded" }, b.payment.refunded ? money(b.payment.refunded) : "—"))))),
    el("p", {}, "Paid with ", el("strong", { id: "receipt-card" }, card ? `${card.brand} ending ${card.last4}` : "your saved card"), "."));
}

function renderActions(b) {
  const box = $("bk-actions");
  box.replaceChildren();
  if (b.state === "CONFIRMED") {
    box.append(el("button", { type: "button", onclick: () => downloadCalendar(b.booking_id) }, "Add to calendar (.ics)"),
      el("button", { type: "button", class: "danger", onclick: () => showCancelQuote(b.booking_id) }, "Cancel booking…"));
  }
}

async function downloadCalendar(id) {
  try {
    const r = await fetch(`/v1/bookings/${id}/calendar.ics`, { headers: { Authorization: `Bearer ${token.get()}` } });
    if (!r.ok) throw new ApiError("The calendar could not be made for this booking.", r.status, {});
    const url = URL.createObjectURL(await r.blob());
    const a = el("a", { href: url, download: `booking-${id}.ics` });
    document.body.append(a); a.click(); a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  } catch (err) { fail(err); }
}

async function showCancelQuote(id) {
  const box = $("bk-cancel-quote");
  try {
    const q = await api("GET", `/v1/bookings/${id}/cancel-quote`);
    box.hidden = false;
    box.replaceChildren(el("h3", { tabindex: "-1", id: "cq-h" }, "If you cancel now"),
      el("div", { class: "table-wrap" }, el("table", {},
        el("thead", {}, el("tr", {}, el("th", { scope: "col" }, "Item"), el("th", { scope: "col" }, "Policy"), el("th", { scope: "col", class: "num" }, "Refund"), el("th", { scope: "col", class: "num" }, "Fee"))),
        el("tbody", {}, q.items.map((it) => el("tr", {}, el("td", {}, it.title || it.item_id),
          el("td", {}, it.cancellable === false ? "The partner would refuse: it stays booked and paid." : it.policy?.summary || "—"),
          el("td", { class: "num" }, money(it.refund)), el("td", { class: "num" }, money(it.fee))))),
        el("tfoot", {}, el("tr", {}, el("th", { scope: "row", colspan: "2" }, "Total refund"), el("td", { class: "num", id: "cq-refund" }, money(q.total_refund)), el("td", { class: "num" }, money(q.total_fee)))))),
      el("div", { class: "actions" },
        el("button", { type: "button", class: "danger primary", onclick: () => cancelBooking(id) }, "Yes, cancel this booking"),
        el("button", { type: "button", onclick: () => { box.hidden = true; } }, "Keep it")));
    $("cq-h").focus();
  } catch (err) { fail(err); }
}

async function cancelBooking(id) {
  try {
    await api("POST", `/v1/bookings/${id}/cancel`, { reason: "cancelled by the customer in the web page" });
    $("bk-cancel-quote").hidden = true;
    await refreshBooking(id);
    follow(id);
  } catch (err) { fail(err); }
}

$("bk-3ds-btn").addEventListener("click", async () => {
  const b = state.booking;
  const secret = b.payment?.client_secret || state.clientSecret;
  try {
    const stripe = await loadStripe();
    const r = await stripe.confirmCardPayment(secret);
    if (r.error) throw new Error(cardError(r.error));
    $("bk-3ds").hidden = true;
    show($("bk-message"), "Thank you: your bank confirmed. Finishing the booking…", "info");
  } catch (err) { show(notice, err.message); }
});

// --- my bookings ---------------------------------------------------------------------------------
async function loadBookings() {
  const r = await api("GET", "/v1/bookings?limit=50");
  const ul = $("bookings-list");
  ul.replaceChildren(...r.items.map((b) => el("li", {},
    el("span", {}, when(b.created_at), " · ", money(b.total), " · ", el("span", { class: `badge ${b.state}` }, STATE_WORDS[b.state] || b.state)),
    el("button", { type: "button", onclick: () => openBooking(b.booking_id) }, "Open"))));
  if (!r.items.length) ul.append(el("li", { class: "muted" }, "No bookings yet."));
}

// --- settings (consent) ------------------------------------------------------------------------
async function loadSettings() {
  const me = (state.me = await api("GET", "/v1/me"));
  const p = me.preferences;
  $("p-first").value = me.first_name || "";
  $("p-last").value = me.last_name || "";
  $("p-phone").value = me.phone || "";
  $("c-auto").checked = !!p.auto_book_enabled;
  $("c-cap").value = p.max_auto_spend ? (p.max_auto_spend.amount_minor / 100).toFixed(2) : "";
  $("c-above").value = p.require_confirmation_above ? (p.require_confirmation_above.amount_minor / 100).toFixed(2) : "";
  $("c-cur").value = (p.max_auto_spend || p.require_confirmation_above)?.currency || $("c-cur").value;
  $("c-restaurant").checked = p.allowed_booking_types.includes("restaurant");
  $("c-event").checked = p.allowed_booking_types.includes("event");
}
$("profile-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const cur = $("c-cur").value.trim().toUpperCase();
  const amount = (v) => (v.trim() === "" ? null : { amount_minor: Math.round(Number(v) * 100), currency: cur });
  const types = ["restaurant", "event"].filter((t) => $(`c-${t}`).checked);
  if (!types.length) { show(notice, "Choose at least one booking type you allow."); return; }
  const body = {
    first_name: $("p-first").value.trim() || null,
    last_name: $("p-last").value.trim() || null,
    phone: $("p-phone").value.trim() || null,
    preferences: {
      auto_book_enabled: $("c-auto").checked,
      max_auto_spend: amount($("c-cap").value),
      require_confirmation_above: amount($("c-above").value),
      allowed_booking_types: types,
    },
  };
  try {
    state.me = await api("PATCH", "/v1/me", body);
    ok("Settings saved.");
  } catch (err) { fail(err); }
});

// --- start ---------------------------------------------------------------------------------------
if (token.get()) startSignedIn(); else view("auth");
