/* Kefu chat widget. Embed on any page:
 *   <script src="https://<gateway>/widget.js" defer></script>
 * A shop that knows its logged-in customer adds data-email="..." data-token="<HMAC>".
 * Plain JavaScript, no dependencies. Every text from the server is set with textContent:
 * nothing a customer, an agent or the bot writes is ever parsed as HTML.
 */
(function () {
  "use strict";
  if (window.__kefuWidget) return;
  window.__kefuWidget = true;

  var script = document.currentScript || document.querySelector('script[src*="widget.js"]');
  var config = window.KefuConfig || {};
  var base = new URL(config.server || (script && script.src) || "/", window.location.href);
  var origin = base.origin;
  var email = config.email || (script && script.getAttribute("data-email")) || null;
  var token = config.token || (script && script.getAttribute("data-token")) || null;
  var wsUrl = origin.replace(/^http/, "ws") + "/ws/chat";

  var KEY_SESSION = "kefu.session";
  var KEY_OUTBOX = "kefu.outbox";
  var KEY_OPEN = "kefu.open";

  var state = {
    ws: null, ready: false, session: storageGet(KEY_SESSION), retry: 0, timer: null,
    shown: {}, outbox: loadOutbox(), opened: storageGet(KEY_OPEN) === "1",
  };

  // --- storage (private browsing may refuse it; the chat still works for the page's life) ---
  function storageGet(key) { try { return window.localStorage.getItem(key); } catch (e) { return null; } }
  function storageSet(key, value) { try { window.localStorage.setItem(key, value); } catch (e) { /* ignore */ } }
  function loadOutbox() {
    try { return JSON.parse(storageGet(KEY_OUTBOX) || "[]") || []; } catch (e) { return []; }
  }
  function saveOutbox() { storageSet(KEY_OUTBOX, JSON.stringify(state.outbox)); }
  function newId() {
    if (window.crypto && window.crypto.randomUUID) return window.crypto.randomUUID();
    return Date.now().toString(36) + Math.random().toString(36).slice(2);
  }

  // --- DOM ---------------------------------------------------------------------------------
  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  var css = el("link");
  css.rel = "stylesheet";
  css.href = origin + "/widget.css";
  document.head.appendChild(css);

  var root = el("div", "kefu-root");
  var launcher = el("button", "kefu-launcher");
  launcher.type = "button";
  launcher.setAttribute("aria-label", "Chat with us");
  launcher.appendChild(el("span", "kefu-launcher-icon", "💬"));
  launcher.appendChild(el("span", "kefu-launcher-text", "Chat with us"));

  var panel = el("section", "kefu-panel");
  panel.setAttribute("role", "dialog");
  panel.setAttribute("aria-label", "Chat with the shop's assistant");
  panel.hidden = true;
  var header = el("header", "kefu-header");
  header.appendChild(el("span", "kefu-title", "Kefu · customer service"));
  var status = el("span", "kefu-status", "connecting…");
  header.appendChild(status);
  var close = el("button", "kefu-close", "×");
  close.type = "button";
  close.setAttribute("aria-label", "Close chat");
  header.appendChild(close);

  var log = el("div", "kefu-log");
  log.setAttribute("aria-live", "polite");
  var quick = el("div", "kefu-quick");
  var typing = el("div", "kefu-typing");
  typing.appendChild(el("span", "kefu-dot"));
  typing.appendChild(el("span", "kefu-dot"));
  typing.appendChild(el("span", "kefu-dot"));
  typing.setAttribute("aria-label", "The assistant is typing");
  typing.hidden = true;

  var form = el("form", "kefu-form");
  var input = el("input", "kefu-input");
  input.type = "text";
  input.maxLength = 2000;
  input.placeholder = "Type your message…";
  input.setAttribute("aria-label", "Your message");
  input.autocomplete = "off";
  var send = el("button", "kefu-send", "Send");
  send.type = "submit";
  form.appendChild(input);
  form.appendChild(send);

  panel.appendChild(header);
  panel.appendChild(log);
  panel.appendChild(typing);
  panel.appendChild(quick);
  panel.appendChild(form);
  root.appendChild(panel);
  root.appendChild(launcher);
  document.body.appendChild(root);

  var unread = 0;
  var badge = el("span", "kefu-badge");
  badge.hidden = true;
  launcher.appendChild(badge);
  function setUnread(n) {
    unread = n;
    badge.hidden = n === 0;
    badge.textContent = String(n);
    launcher.setAttribute("aria-label", n ? "Chat with us (" + n + " new)" : "Chat with us");
  }

  function open() {
    panel.hidden = false;
    launcher.hidden = true;
    setUnread(0);
    state.opened = true;
    storageSet(KEY_OPEN, "1");
    connect();
    input.focus();
    scrollDown();
  }
  function shut() {
    panel.hidden = true;
    launcher.hidden = false;
    state.opened = false;
    storageSet(KEY_OPEN, "0");
  }
  launcher.addEventListener("click", open);
  close.addEventListener("click", shut);

  function scrollDown() { log.scrollTop = log.scrollHeight; }

  var SENDER_LABEL = { agent: "Team member", system: "Kefu", bot: "Kefu assistant" };

  function render(msg) {
    var key = msg.id != null ? "id:" + msg.id : "client:" + msg.client_id;
    var existing = log.querySelector('[data-key="' + cssEscape(key) + '"]');
    if (msg.client_id) {
      var pending = log.querySelector('[data-key="' + cssEscape("client:" + msg.client_id) + '"]');
      if (pending && msg.id != null) { pending.setAttribute("data-key", key); markSent(pending); return; }
    }
    if (existing) return;
    var sender = msg.sender || "bot";
    var row = el("div", "kefu-msg kefu-" + sender);
    row.setAttribute("data-key", key);
    if (sender !== "customer") row.appendChild(el("div", "kefu-who", SENDER_LABEL[sender] || "Kefu"));
    if (msg.text) row.appendChild(el("div", "kefu-text", msg.text));
    if (msg.image && /^(https?:\/\/|\/(?!\/))/.test(msg.image)) {
      var img = el("img", "kefu-image");
      img.alt = "";
      img.src = msg.image;
      row.appendChild(img);
    }
    if (msg.products && msg.products.length) row.appendChild(productCards(msg.products));
    if (msg.buttons && msg.buttons.length) row.appendChild(buttons(msg.buttons));
    if (msg.pending) row.classList.add("kefu-pending");
    log.appendChild(row);
    if (msg.id != null && sender !== "customer") ackLater(msg.id);
    if (sender !== "customer") typing.hidden = true;
    scrollDown();
  }

  function markSent(node) { node.classList.remove("kefu-pending"); }

  function cssEscape(value) {
    return window.CSS && CSS.escape ? CSS.escape(value) : String(value).replace(/["\\]/g, "\\$&");
  }

  function buttons(list) {
    var box = el("div", "kefu-buttons");
    list.forEach(function (b) {
      var button = el("button", "kefu-button", b.title);
      button.type = "button";
      button.addEventListener("click", function () {
        box.querySelectorAll("button").forEach(function (x) { x.disabled = true; });
        submit(b.title, b.payload);
      });
      box.appendChild(button);
    });
    return box;
  }

  function productCards(list) {
    var box = el("div", "kefu-products");
    list.forEach(function (p) {
      var card = el("div", "kefu-product");
      if (p.image && /^(https?:\/\/|\/(?!\/))/.test(p.image)) {
        var img = el("img", "kefu-product-image");
        img.alt = "";
        img.src = p.image;
        card.appendChild(img);
      }
      card.appendChild(el("div", "kefu-product-name", p.name));
      if (p.price) card.appendChild(el("div", "kefu-product-price", p.price));
      if (p.reason) card.appendChild(el("div", "kefu-product-reason", p.reason));
      var ask = el("button", "kefu-button kefu-product-ask", "Tell me more");
      ask.type = "button";
      ask.addEventListener("click", function () { submit("Tell me more about " + p.name); });
      card.appendChild(ask);
      box.appendChild(card);
    });
    return box;
  }

  function showQuickReplies(list) {
    while (quick.firstChild) quick.removeChild(quick.firstChild);
    (list || []).forEach(function (b) {
      var button = el("button", "kefu-button kefu-quick-reply", b.title);
      button.type = "button";
      button.addEventListener("click", function () { submit(b.title, b.payload); });
      quick.appendChild(button);
    });
  }

  // --- sending: an outbox that survives reloads and reconnects --------------------------
  function submit(text, payload) {
    text = (text || "").trim();
    if (!text) return;
    showQuickReplies([]);
    var item = { client_id: newId(), text: text };
    if (payload) item.payload = payload;
    state.outbox.push(item);
    saveOutbox();
    render({ sender: "customer", text: text, client_id: item.client_id, pending: true });
    transmit(item);
  }

  function transmit(item) {
    if (!state.ready) return; // sent after the next welcome
    var frame = { type: "message", client_id: item.client_id, text: item.text };
    if (item.payload) frame.payload = item.payload;
    state.ws.send(JSON.stringify(frame));
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = input.value;
    input.value = "";
    submit(text);
  });

  var ackQueue = [];
  var ackTimer = null;
  function ackLater(id) {
    if (state.shown[id]) return;
    state.shown[id] = true;
    ackQueue.push(id);
    if (!ackTimer) ackTimer = setTimeout(flushAcks, 200);
  }
  function flushAcks() {
    ackTimer = null;
    if (!ackQueue.length || !state.ready) return;
    state.ws.send(JSON.stringify({ type: "ack", ids: ackQueue.splice(0, 500) }));
  }

  // --- the connection ----------------------------------------------------------------------
  function connect() {
    if (state.ws && (state.ws.readyState === 0 || state.ws.readyState === 1)) return;
    clearTimeout(state.timer);
    status.textContent = "connecting…";
    var ws;
    try { ws = new WebSocket(wsUrl); } catch (e) { return reconnectLater(); }
    state.ws = ws;
    ws.onopen = function () {
      state.retry = 0;
      var hello = { type: "hello", session: state.session };
      if (email && token) { hello.email = email; hello.token = token; }
      ws.send(JSON.stringify(hello));
    };
    ws.onmessage = function (event) {
      var frame;
      try { frame = JSON.parse(event.data); } catch (e) { return; }
      onFrame(frame);
    };
    ws.onclose = function () {
      if (state.ws !== ws) return;
      state.ready = false;
      status.textContent = "offline — reconnecting…";
      root.classList.add("kefu-offline");
      typing.hidden = true;
      reconnectLater();
    };
    ws.onerror = function () { /* onclose follows */ };
  }

  function reconnectLater() {
    var delay = Math.min(10000, 500 * Math.pow(2, state.retry++));
    clearTimeout(state.timer);
    state.timer = setTimeout(connect, delay);
  }

  window.addEventListener("online", function () { state.retry = 0; if (state.opened) connect(); });

  function onFrame(frame) {
    switch (frame.type) {
      case "welcome":
        state.session = frame.session;
        storageSet(KEY_SESSION, frame.session);
        state.ready = true;
        status.textContent = frame.verified ? "online · verified" : "online";
        root.classList.remove("kefu-offline");
        // The server's history is the truth: draw it again, then what is still unconfirmed.
        while (log.firstChild) log.removeChild(log.firstChild);
        state.shown = {};
        (frame.history || []).forEach(render);
        var confirmed = {};
        (frame.history || []).forEach(function (m) { if (m.client_id) confirmed[m.client_id] = true; });
        state.outbox = state.outbox.filter(function (m) { return !confirmed[m.client_id]; });
        saveOutbox();
        state.outbox.forEach(function (m) {
          render({ sender: "customer", text: m.text, client_id: m.client_id, pending: true });
          transmit(m);
        });
        showQuickReplies(state.outbox.length ? [] : frame.quick_replies);
        flushAcks();
        break;
      case "ack":
        state.outbox = state.outbox.filter(function (m) { return m.client_id !== frame.client_id; });
        saveOutbox();
        var node = log.querySelector('[data-key="' + cssEscape("client:" + frame.client_id) + '"]');
        if (node) {
          if (frame.id != null) node.setAttribute("data-key", "id:" + frame.id);
          markSent(node);
        }
        break;
      case "typing":
        typing.hidden = !frame.on;
        if (frame.on) scrollDown();
        break;
      case "message":
        render(frame);
        if (!state.opened && frame.sender !== "customer") setUnread(unread + 1);
        break;
      case "error":
        if (frame.client_id) {
          state.outbox = state.outbox.filter(function (m) { return m.client_id !== frame.client_id; });
          saveOutbox();
        }
        render({ sender: "system", text: frame.reason || "Something went wrong.", client_id: "err-" + newId() });
        break;
    }
  }

  // A returning customer stays connected with the chat closed, so a reply from the team
  // shows up as a badge on the launcher.
  if (state.opened) open();
  else if (state.session) connect();
})();
