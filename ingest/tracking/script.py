"""GET /t.js: the first-party tracking script, as text. Pure.

One external file, so it runs under a strict Content-Security-Policy (`script-src` naming
LeadBot's origin, or a nonce on the tag; `connect-src` naming it too): no eval, no inline code or
styles, no other host. It keeps a random visitor id in a first-party cookie of the site (and
localStorage), sends page views, marks download links and sends their clicks, sends a video
watched halfway, adds the visitor id to forms that post to LeadBot, and hands the identity a
tracked link brought (`lb_t`) to LeadBot, removing it from the address bar. With consent
required, nothing is stored or sent before `leadbot.consent(true)` (or `data-consent="granted"`).

    <script src="https://leads.example.com/t.js" data-key="wk_4f0c…" defer></script>
    leadbot.track("webinar", {title: "Q3 roadmap"}); leadbot.identify("jane@acme.com");
    leadbot.track("trial_started");              // any other name is a custom event
"""

from __future__ import annotations

import json

from ingest.inquiry import VISITOR_FIELDS
from ingest.tracking.links import IDENTITY_PARAM

COOKIE = "_lb_vid"
DOWNLOAD_EXTENSIONS = (
    *("pdf", "zip", "docx", "doc", "xlsx", "xls", "pptx", "ppt", "csv", "odt", "ods", "odp"),
    *("rtf", "epub", "dmg", "exe", "msi", "pkg", "deb", "rpm", "gz", "tgz", "7z", "rar"),
    *("mp3", "mp4", "mov", "webm", "key", "pages", "numbers"),
)

_SCRIPT = r"""/* LeadBot first-party tracking (docs/tracking.md). No third party, no eval, no inline code. */
(function () {
  "use strict";
  var me = document.currentScript;
  if (!me || (window.leadbot && window.leadbot.v)) return;
  var CONSENT_REQUIRED = __CONSENT__, COOKIE = __COOKIE__, FIELD = __FIELD__, PARAM = __PARAM__;
  var DL = new RegExp("\\.(" + __EXTENSIONS__.join("|") + ")$", "i");
  var key = me.getAttribute("data-key") || "";
  var endpoint = new URL("events", me.src).href;
  var formsBase = new URL("forms/", me.src).href;
  var consent = me.getAttribute("data-consent") === "granted";
  var queue = [], timer = null, vid = null, token = null, viewed = false, watched = [];

  function hex(n) {
    var a = new Uint8Array(n); crypto.getRandomValues(a);
    return Array.prototype.map.call(a, function (b) { return (b < 16 ? "0" : "") + b.toString(16); }).join("");
  }
  function allowed() { return !CONSENT_REQUIRED || consent; }
  function stored() {
    var m = document.cookie.match(new RegExp("(?:^|;\\s*)" + COOKIE + "=([A-Za-z0-9_-]{8,64})"));
    if (m) return m[1];
    try { var s = localStorage.getItem(COOKIE); return s && /^[A-Za-z0-9_-]{8,64}$/.test(s) ? s : null; }
    catch (e) { return null; }
  }
  function visitor() {
    if (vid || !allowed()) return vid;
    vid = stored() || hex(16);
    document.cookie = COOKIE + "=" + vid + "; path=/; max-age=31536000; SameSite=Lax" +
      (location.protocol === "https:" ? "; Secure" : "");
    try { localStorage.setItem(COOKIE, vid); } catch (e) { /* private mode: the cookie is enough */ }
    return vid;
  }
  function send(events) {
    var body = JSON.stringify({key: key, visitor: visitor(), consent: consent || undefined, events: events});
    try {
      fetch(endpoint, {method: "POST", mode: "cors", credentials: "omit", keepalive: true,
        headers: {"Content-Type": "application/json"}, body: body}).catch(function () {});
    } catch (e) { /* an old browser without fetch: no tracking */ }
  }
  function flush() {
    if (timer) { clearTimeout(timer); timer = null; }
    while (queue.length && allowed()) send(queue.splice(0, 20));
  }
  function push(event, now) {
    if (!allowed()) return;
    event.id = hex(12); event.ts = Date.now();
    queue.push(event);
    if (now || queue.length >= 10) flush(); else if (!timer) timer = setTimeout(flush, 1000);
  }
  function track(type, props) {
    var builtin = {page_view: 1, download: 1, video: 1, webinar: 1, email_click: 1, custom: 1};
    var event = {type: builtin[type] ? type : "custom", url: location.href, title: document.title};
    if (!builtin[type]) event.name = String(type).slice(0, 60);
    for (var k in props || {}) if (Object.prototype.hasOwnProperty.call(props, k)) event[k] = props[k];
    push(event, type === "download");
  }
  function page() {
    viewed = true;
    track("page_view", {referrer: document.referrer || undefined});
  }
  function isDownload(a) {
    if (!a || !a.href || a.protocol.indexOf("http") !== 0) return false;
    return a.hasAttribute("download") || a.hasAttribute("data-leadbot-download") || DL.test(a.pathname);
  }
  function mark() {
    var links = document.querySelectorAll("a[href]");
    for (var i = 0; i < links.length; i++) if (isDownload(links[i])) links[i].setAttribute("data-leadbot", "download");
    var forms = document.querySelectorAll("form");
    for (var j = 0; j < forms.length; j++) tag(forms[j]);
  }
  function tag(form) {
    var action = form.action || "";
    if (action.indexOf(formsBase) !== 0 || !visitor()) return;
    var input = form.querySelector("input[name='" + FIELD + "']");
    if (!input) { input = document.createElement("input"); input.type = "hidden"; input.name = FIELD; form.appendChild(input); }
    input.value = vid;
  }
  function identifyFromAddress() {
    var params = new URLSearchParams(location.search);
    token = params.get(PARAM);
    if (!token) return;
    params.delete(PARAM);
    var rest = params.toString();
    history.replaceState(history.state, "", location.pathname + (rest ? "?" + rest : "") + location.hash);
  }
  function identify(email) {
    if (email) push({type: "identify", email: String(email)}, true);
  }
  document.addEventListener("click", function (e) {
    var a = e.target && e.target.closest ? e.target.closest("a[href]") : null;
    if (isDownload(a)) track("download", {url: a.href, title: (a.textContent || "").trim().slice(0, 200) || a.pathname});
  }, true);
  document.addEventListener("submit", function (e) { if (e.target && e.target.tagName === "FORM") tag(e.target); }, true);
  document.addEventListener("timeupdate", function (e) {
    var v = e.target;
    if (!v || v.tagName !== "VIDEO" || !v.duration || watched.indexOf(v) >= 0) return;
    if (v.currentTime / v.duration >= 0.5) {
      watched.push(v);
      track("video", {title: v.getAttribute("title") || v.currentSrc || "video", percent: 50});
    }
  }, true);
  document.addEventListener("visibilitychange", function () { if (document.visibilityState === "hidden") flush(); });
  window.addEventListener("pagehide", flush);
  var pushState = history.pushState;
  history.pushState = function () { var r = pushState.apply(this, arguments); page(); return r; };
  window.addEventListener("popstate", page);

  function start() {
    identifyFromAddress();
    if (token) push({type: "identify", token: token}, false);
    page();
    mark();
  }
  window.leadbot = {
    v: 1,
    track: track,
    identify: identify,
    consent: function (granted) {
      consent = granted === true;
      if (consent && !viewed) start();
      if (consent) mark();
    }
  };
  if (!allowed()) return;
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
"""


def render_script(*, consent_required: bool) -> str:
    """The script, with LeadBot's consent setting built in."""
    values = {
        "__CONSENT__": "true" if consent_required else "false",
        "__COOKIE__": json.dumps(COOKIE),
        "__FIELD__": json.dumps(VISITOR_FIELDS[0]),
        "__PARAM__": json.dumps(IDENTITY_PARAM),
        "__EXTENSIONS__": json.dumps(list(DOWNLOAD_EXTENSIONS)),
    }
    text = _SCRIPT
    for name, value in values.items():
        text = text.replace(name, value)
    return text
