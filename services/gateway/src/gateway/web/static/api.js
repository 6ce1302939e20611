// The JSON API from the page: the bearer token lives in this tab's sessionStorage and is sent
// only in the Authorization header (no cookie, so no cross-site request can act for the person).
// Every error becomes a sentence a person understands; a problem+json body is never shown raw.

export class ApiError extends Error {
  constructor(message, status, problem) {
    super(message);
    this.status = status;
    this.problem = problem || {};
  }
  get slug() {
    return String(this.problem.type || "").split("/").pop();
  }
}

export function tokenStore(key) {
  return {
    get: () => sessionStorage.getItem(key),
    set: (t) => sessionStorage.setItem(key, t),
    clear: () => sessionStorage.removeItem(key),
  };
}

const FIELD_NAMES = {
  payment_method_id: "card",
  quote_id: "itinerary",
  confirm: "confirmation",
  email: "email",
  name: "name",
  phone: "phone",
  password: "password",
  "guest.last_name": "family name",
  "guest.first_name": "given name",
  "guest.phone": "phone",
  "guest.email": "email",
};

const TERMS = {
  max_auto_spend: "spending cap for automatic bookings",
  require_confirmation_above: "\u201calways ask me above\u201d limit",
  allowed_booking_types: "allowed booking types",
  auto_book_enabled: "automatic booking setting",
  last_name: "family name",
  first_name: "given name",
  "confirm: true": "your confirmation",
};

// The API's messages name settings by their field names; a person reads the words instead.
export function humanize(text) {
  let out = String(text || "");
  for (const [k, v] of Object.entries(TERMS)) out = out.replaceAll(k, v);
  return out.replace(/\b[a-z]+(_[a-z]+)+\b/g, (m) => m.replaceAll("_", " "));
}

export function explain(status, problem, retryAfter) {
  const slug = String(problem.type || "").split("/").pop();
  const details = (problem.errors || []).map((e) => humanize(e.message)).filter(Boolean);
  const reasons = (problem.reasons || []).map((r) => humanize(r.message)).filter(Boolean);
  switch (slug) {
    case "unauthorized":
      return "You are not signed in, or your sign-in has expired. Please sign in again.";
    case "forbidden":
      return "Your account is not allowed to do this.";
    case "consent-refused":
      return "We did not book, because of your booking settings: " + (reasons.length ? reasons.join(" ") : problem.detail || "");
    case "payment-declined":
      return "Your card was declined" + (problem.code ? ` (${String(problem.code).replaceAll("_", " ")})` : "") + ". Nothing was charged. Please use another card.";
    case "payment-method-required":
      return "Please add a card before booking.";
    case "guest-details-required":
      return "The partner needs more details about the guest: " + details.join(" ");
    case "rate-limited":
      return `Too many requests in a short time. Please try again in ${retryAfter || "a few"} seconds.`;
    case "upstream-unavailable":
      return "One of our partners is not answering right now. Please try again in a minute.";
    case "not-found":
      return "We could not find that. It may have expired or belong to another account.";
    case "email-taken":
      return "An account with this email already exists. Sign in instead.";
    case "card-number-refused":
    case "card-number-in-request":
      return "Card numbers must be typed only in the card field, never elsewhere.";
  }
  if (status === 409) return (problem.detail ? capital(problem.detail) + ". " : "") + "Please reload and try again.";
  if (status === 422 || status === 400) {
    const named = (problem.errors || []).map((e) => `${FIELD_NAMES[e.field] || String(e.field || "").replaceAll("_", " ")}: ${e.message}`);
    return "Please check what you entered. " + (named.length ? named.join("; ") : problem.detail || "");
  }
  if (status >= 500) return "Something went wrong on our side. Please try again in a moment.";
  return capital(problem.detail || problem.title || `The request failed (${status}).`);
}

function capital(s) {
  s = String(s || "");
  return s.charAt(0).toUpperCase() + s.slice(1);
}

export async function call(token, method, path, body, headers = {}) {
  const h = { Accept: "application/json", ...headers };
  if (token) h.Authorization = `Bearer ${token}`;
  if (body !== undefined) h["Content-Type"] = "application/json";
  let resp;
  try {
    resp = await fetch(path, { method, headers: h, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (e) {
    throw new ApiError("We could not reach the booking service. Check your connection and try again.", 0, {});
  }
  if (resp.status === 204) return null;
  const type = resp.headers.get("content-type") || "";
  const data = type.includes("json") ? await resp.json().catch(() => ({})) : await resp.text();
  if (!resp.ok) {
    const problem = typeof data === "object" ? data : {};
    throw new ApiError(explain(resp.status, problem, resp.headers.get("retry-after")), resp.status, problem);
  }
  return data;
}

export function money(m) {
  if (!m) return "—";
  const v = Number(m.amount_minor) / 100;
  try {
    return new Intl.NumberFormat(undefined, { style: "currency", currency: m.currency }).format(v);
  } catch {
    return `${v.toFixed(2)} ${m.currency}`;
  }
}

export function when(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  return isNaN(d) ? iso : d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

// A tiny element builder: el("p", {class: "x"}, "text", child)
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === false || v === null || v === undefined) continue;
    if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (k === "text") node.textContent = v;
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

export function show(node, message, kind = "error") {
  node.textContent = message || "";
  node.className = message ? `notice ${kind}` : "notice";
  node.hidden = !message;
  if (message && kind === "error") node.focus?.();
}
