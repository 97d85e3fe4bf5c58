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
  // Messages the server refused (never stored there), per session: shown as "Not sent".
  var KEY_REFUSED = "kefu.refused.";
  var MAX_CHARS = 2000; // until the server's welcome says its own limit

  var state = {
    ws: null, ready: false, session: storageGet(KEY_SESSION), retry: 0, timer: null,
    shown: {}, outbox: loadOutbox(), opened: storageGet(KEY_OPEN) === "1",
    refused: [], lastId: null, maxChars: MAX_CHARS, pasteCut: 0,
  };

  // --- storage (private browsing may refuse it; the chat still works for the page's life) ---
  function storageGet(key) { try { return window.localStorage.getItem(key); } catch (e) { return null; } }
  function storageSet(key, value) { try { window.localStorage.setItem(key, value); } catch (e) { /* ignore */ } }
  function loadOutbox() {
    try { return JSON.parse(storageGet(KEY_OUTBOX) || "[]") || []; } catch (e) { return []; }
  }
  function saveOutbox() { storageSet(KEY_OUTBOX, JSON.stringify(state.outbox)); }
  function storageRemove(key) { try { window.localStorage.removeItem(key); } catch (e) { /* ignore */ } }
  function loadRefused() {
    if (!state.session) return [];
    try { return JSON.parse(storageGet(KEY_REFUSED + state.session) || "[]") || []; }
    catch (e) { return []; }
  }
  function saveRefused() {
    if (!state.session) return;
    var key = KEY_REFUSED + state.session;
    if (state.refused.length) storageSet(key, JSON.stringify(state.refused));
    else storageRemove(key);
  }
  function formatCount(n) { return Number(n).toLocaleString("en-US"); }
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
  input.maxLength = MAX_CHARS;
  input.placeholder = "Type your message…";
  input.setAttribute("aria-label", "Your message");
  input.autocomplete = "off";
  var send = el("button", "kefu-send", "Send");
  send.type = "submit";
  // Photos and PDFs (issue 18): chosen with the paper clip, pasted or dropped on the chat;
  // shown for a look before they are sent (POST /api/chat/attachments).
  var attach = el("button", "kefu-attach", "📎");
  attach.type = "button";
  attach.setAttribute("aria-label", "Attach a photo or PDF");
  attach.title = "Attach a photo or PDF";
  var fileInput = el("input", "kefu-file");
  fileInput.type = "file";
  fileInput.accept = "image/jpeg,image/png,image/webp,application/pdf";
  fileInput.hidden = true;
  form.appendChild(attach);
  form.appendChild(fileInput);
  form.appendChild(input);
  form.appendChild(send);
  var preview = el("div", "kefu-preview");
  preview.hidden = true;
  // Near the length limit: a counter, and a notice when the limit is reached or a paste is cut.
  // The notice is a live region that stays in the page (empty when there is nothing to say),
  // so a screen reader announces it when it appears.
  var limitBar = el("div", "kefu-limit");
  var notice = el("span", "kefu-notice");
  notice.setAttribute("role", "status");
  var counter = el("span", "kefu-counter");
  counter.setAttribute("aria-hidden", "true");
  limitBar.appendChild(notice);
  limitBar.appendChild(counter);

  panel.appendChild(header);
  panel.appendChild(log);
  panel.appendChild(typing);
  panel.appendChild(quick);
  panel.appendChild(limitBar);
  panel.appendChild(preview);
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
      if (pending && msg.id != null) {
        pending.setAttribute("data-key", key);
        markSent(pending);
        noteId(msg.id);
        return pending;
      }
    }
    if (existing) return existing;
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
    if (msg.attachment) row.appendChild(attachmentView(msg.attachment, msg.preview));
    if (msg.products && msg.products.length) row.appendChild(productCards(msg.products));
    if (msg.buttons && msg.buttons.length) row.appendChild(buttons(msg.buttons));
    if (msg.pending) row.classList.add("kefu-pending");
    log.appendChild(row);
    if (msg.id != null) noteId(msg.id);
    if (msg.id != null && sender !== "customer") ackLater(msg.id);
    if (sender !== "customer") typing.hidden = true;
    scrollDown();
    return row;
  }

  function noteId(id) { if (state.lastId == null || id > state.lastId) state.lastId = id; }

  function markSent(node) { node.classList.remove("kefu-pending"); }

  // --- the welcome on a new chat: shown here, never stored ---------------------------------
  function showGreeting(text) {
    if (!text) return;
    var row = el("div", "kefu-msg kefu-welcome");
    row.appendChild(el("div", "kefu-who", SENDER_LABEL.bot));
    row.appendChild(el("div", "kefu-text", text));
    log.appendChild(row);
  }

  // --- refused messages: kept in this browser, marked "Not sent" -----------------------------
  function refuse(clientId, reason, retryAfter) {
    var sent = null;
    state.outbox = state.outbox.filter(function (m) {
      if (m.client_id === clientId) { sent = m; return false; }
      return true;
    });
    saveOutbox();
    var node = log.querySelector('[data-key="' + cssEscape("client:" + clientId) + '"]');
    if (!sent && !node) return false;
    var item = {
      client_id: clientId, reason: reason || "Sorry, this message could not be sent.",
      text: sent ? sent.text : (node.querySelector(".kefu-text") || {}).textContent || "",
      retry: retryAfter != null, after: state.lastId,
    };
    if (sent && sent.payload) item.payload = sent.payload;
    state.refused = state.refused.filter(function (m) { return m.client_id !== clientId; });
    state.refused.push(item);
    saveRefused();
    if (!node) node = render({ sender: "customer", text: item.text, client_id: clientId });
    markRefused(node, item);
    return true;
  }

  function markRefused(node, item) {
    node.classList.remove("kefu-pending");
    node.classList.add("kefu-refused");
    var box = el("div", "kefu-refusal");
    box.appendChild(el("div", "kefu-not-sent", "Not sent"));
    box.appendChild(el("div", "kefu-reason", item.reason));
    var again = el("button", "kefu-button kefu-retry", item.retry ? "Try again" : "Edit");
    again.type = "button";
    again.addEventListener("click", function () {
      state.refused = state.refused.filter(function (m) { return m.client_id !== item.client_id; });
      saveRefused();
      if (node.parentNode) node.parentNode.removeChild(node);
      if (item.retry) { submit(item.text, item.payload); return; }
      input.value = item.text;
      updateLimit();
      input.focus();
    });
    box.appendChild(again);
    node.appendChild(box);
    scrollDown();
  }

  function renderRefused(item) {
    var node = render({ sender: "customer", text: item.text, client_id: item.client_id });
    if (!node.classList.contains("kefu-refused")) markRefused(node, item);
  }

  // --- the length limit: say it instead of cutting silently ----------------------------------
  function updateLimit() {
    var max = state.maxChars;
    var length = input.value.length;
    if (length < max) state.pasteCut = 0;
    var text = "";
    if (length > max) {
      text = "This message is " + formatCount(length) + " characters; please keep it to " +
        formatCount(max) + " or fewer.";
    } else if (state.pasteCut) {
      text = "Only the first " + formatCount(max) + " characters fit in one message: the last " +
        formatCount(state.pasteCut) + " characters you pasted were left out. Please send them " +
        "in another message.";
    } else if (length === max) {
      text = "That's the limit of " + formatCount(max) + " characters for one message. Please " +
        "send the rest in another message.";
    }
    var near = length >= max - Math.max(20, Math.floor(max / 10));
    notice.textContent = text;
    counter.textContent = formatCount(length) + " / " + formatCount(max);
    counter.hidden = !near;
    limitBar.classList.toggle("kefu-at-limit", length >= max);
    limitBar.classList.toggle("kefu-limit-on", near || !!text);
  }

  input.addEventListener("input", function () { updateLimit(); });
  input.addEventListener("paste", function (event) {
    var data = event.clipboardData || window.clipboardData;
    if (data && data.files && data.files.length) { event.preventDefault(); choose(data.files[0]); return; }
    var pasted = data ? data.getData("text") : "";
    var selected = (input.selectionEnd || 0) - (input.selectionStart || 0);
    var over = input.value.length - selected + pasted.length - state.maxChars;
    state.pasteCut = over > 0 ? over : 0;
    // The browser inserts (and cuts) after this handler; the input event updates the notice.
  });

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
      if (p.detail) card.appendChild(el("div", "kefu-product-detail", p.detail));
      if (p.reason) card.appendChild(el("div", "kefu-product-reason", p.reason));
      var ask = el("button", "kefu-button kefu-product-ask", "Tell me more");
      ask.type = "button";
      // The dialogue gets the product's sku, not words the NLU must recognise: it answers
      // about exactly this product (actions/products.py).
      ask.addEventListener("click", function () {
        submit("Tell me more about " + p.name,
               "/product_question" + JSON.stringify({ product_sku: String(p.sku) }));
      });
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

  // --- photos and files ---------------------------------------------------------------------
  function attachmentView(a, localUrl) {
    var url = localUrl || (a.url && /^\/(?!\/)/.test(a.url) ? origin + a.url : null);
    var box = el("div", "kefu-attachment");
    if (String(a.type || "").indexOf("image/") === 0 && url) {
      var link = el("a");
      link.href = url; link.target = "_blank"; link.rel = "noopener";
      var img = el("img", "kefu-photo");
      img.alt = a.name ? "Photo: " + a.name : "Your photo";
      img.src = url;
      link.appendChild(img);
      box.appendChild(link);
    } else {
      var file = url ? el("a", "kefu-file-link", "📄 " + (a.name || "document")) : el("span", "kefu-file-link", "📄 " + (a.name || "document"));
      if (url) { file.href = url; file.target = "_blank"; file.rel = "noopener"; }
      box.appendChild(file);
    }
    return box;
  }

  var chosen = null;
  function choose(file) {
    if (!file) return;
    clearChoice();
    chosen = { file: file, url: URL.createObjectURL(file) };
    preview.textContent = "";
    if (/^image\//.test(file.type)) {
      var img = el("img", "kefu-preview-image");
      img.alt = "Preview of " + file.name;
      img.src = chosen.url;
      preview.appendChild(img);
    } else {
      preview.appendChild(el("span", "kefu-preview-name", "📄 " + file.name));
    }
    var sendFile = el("button", "kefu-preview-send", /^image\//.test(file.type) ? "Send photo" : "Send file");
    sendFile.type = "button";
    sendFile.addEventListener("click", function () { sendChosen(); });
    var cancel = el("button", "kefu-preview-cancel", "Cancel");
    cancel.type = "button";
    cancel.addEventListener("click", function () { clearChoice(); });
    preview.appendChild(sendFile);
    preview.appendChild(cancel);
    preview.hidden = false;
    scrollDown();
  }
  function clearChoice() {
    chosen = null;
    preview.textContent = "";
    preview.hidden = true;
    fileInput.value = "";
  }
  function sendChosen() {
    if (!chosen || !state.session) return;
    var file = chosen.file, localUrl = chosen.url, clientId = newId();
    var caption = input.value.trim();
    clearChoice();
    var row = render({ sender: "customer", text: caption, client_id: clientId, pending: true,
                       attachment: { type: file.type, name: file.name }, preview: localUrl });
    var body = new FormData();
    body.append("session", state.session);
    body.append("client_id", clientId);
    if (caption) { body.append("caption", caption); input.value = ""; updateLimit(); }
    body.append("file", file, file.name);
    fetch(origin + "/api/chat/attachments", { method: "POST", body: body }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (data) {
        if (r.ok) {
          var msg = data.message;
          if (msg && msg.id != null) { row.setAttribute("data-key", "id:" + msg.id); noteId(msg.id); }
          markSent(row);
          return;
        }
        row.classList.remove("kefu-pending");
        row.classList.add("kefu-refused");
        row.appendChild(el("div", "kefu-refused-reason", "Not sent: " + (data.detail || "Sorry, that file could not be sent.")));
      });
    }).catch(function () {
      row.classList.remove("kefu-pending");
      row.classList.add("kefu-refused");
      row.appendChild(el("div", "kefu-refused-reason", "Not sent: the connection failed. Please try again."));
    });
  }
  attach.addEventListener("click", function () { fileInput.click(); });
  fileInput.addEventListener("change", function () { choose(fileInput.files && fileInput.files[0]); });
  panel.addEventListener("dragover", function (event) { event.preventDefault(); });
  panel.addEventListener("drop", function (event) {
    event.preventDefault();
    var files = event.dataTransfer && event.dataTransfer.files;
    if (files && files.length) choose(files[0]);
  });

  // --- sending: an outbox that survives reloads and reconnects --------------------------
  function submit(text, payload) {
    text = (text || "").trim();
    if (!text) return false;
    if (text.length > state.maxChars) { updateLimit(); return false; }
    showQuickReplies([]);
    // Once the customer has said something, the choices the bot offered before are stale: an
    // old "Show more" (/affirm) tapped after "Shall I cancel it?" would confirm a cancellation.
    // Product cards' "Tell me more" names its product and stays usable.
    log.querySelectorAll(".kefu-buttons button").forEach(function (x) { x.disabled = true; });
    var item = { client_id: newId(), text: text };
    if (payload) item.payload = payload;
    state.outbox.push(item);
    saveOutbox();
    render({ sender: "customer", text: text, client_id: item.client_id, pending: true });
    transmit(item);
    return true;
  }

  function transmit(item) {
    if (!state.ready) return; // sent after the next welcome
    var frame = { type: "message", client_id: item.client_id, text: item.text };
    if (item.payload) frame.payload = item.payload;
    state.ws.send(JSON.stringify(frame));
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (!submit(input.value)) return; // too long: kept in the box, the notice says why
    input.value = "";
    state.pasteCut = 0;
    updateLimit();
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
        if (frame.max_chars) {
          state.maxChars = frame.max_chars;
          input.maxLength = frame.max_chars;
          updateLimit();
        }
        // The server's history is the truth: draw it again, with the refused messages where
        // they were, then what is still unconfirmed.
        while (log.firstChild) log.removeChild(log.firstChild);
        state.shown = {};
        state.lastId = null;
        var history = frame.history || [];
        state.refused = loadRefused();
        var ids = {};
        history.forEach(function (m) { if (m.id != null) ids[m.id] = true; });
        var refusedAfter = {};
        state.refused.forEach(function (item) {
          var anchor = item.after != null && ids[item.after] ? item.after : "start";
          (refusedAfter[anchor] = refusedAfter[anchor] || []).push(item);
        });
        (refusedAfter.start || []).forEach(renderRefused);
        history.forEach(function (m) {
          render(m);
          if (m.id != null) (refusedAfter[m.id] || []).forEach(renderRefused);
        });
        var confirmed = {};
        history.forEach(function (m) { if (m.client_id) confirmed[m.client_id] = true; });
        state.outbox = state.outbox.filter(function (m) { return !confirmed[m.client_id]; });
        saveOutbox();
        var fresh = !history.length && !state.outbox.length && !state.refused.length;
        if (fresh) showGreeting(frame.greeting);
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
        if (frame.id != null) noteId(frame.id);
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
        // A refusal of one message is shown on that message; anything else as a notice.
        if (frame.client_id && refuse(frame.client_id, frame.reason, frame.retry_after)) break;
        render({ sender: "system", text: frame.reason || "Something went wrong.", client_id: "err-" + newId() });
        break;
    }
  }

  // A returning customer stays connected with the chat closed, so a reply from the team
  // shows up as a badge on the launcher.
  if (state.opened) open();
  else if (state.session) connect();
})();
