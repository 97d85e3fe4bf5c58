/* Kefu agent console. Plain JavaScript, no dependencies, served by the gateway (no CDN).
 * Reads and writes through the JSON API (/api/...) with the page's CSRF token and stays live
 * over /ws/staff. Everything customers, staff or the bot wrote is put on the page with
 * textContent: nothing from the server is ever parsed as HTML.
 */
(function () {
  "use strict";

  var csrf = document.querySelector('meta[name="kefu-csrf"]').content;
  var meMeta = document.querySelector('meta[name="kefu-staff"]');
  var me = { id: Number(meMeta.content), role: meMeta.dataset.role, name: meMeta.dataset.name };

  var state = {
    waiting: [], claimed: [], staff: [], canned: [],
    conversationId: null, conversation: null, handoff: null, customer: null,
    shown: {}, notesShown: {}, tickets: [], editing: null, ws: null, retry: 0,
  };

  function $(id) { return document.getElementById(id); }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }

  function toast(text, isError) {
    var box = $("toast");
    box.textContent = text;
    box.className = "toast" + (isError ? " error" : "");
    box.hidden = false;
    clearTimeout(toast.timer);
    toast.timer = setTimeout(function () { box.hidden = true; }, 5000);
  }

  // --- API ---------------------------------------------------------------------------------
  function api(method, path, body) {
    var options = { method: method, credentials: "same-origin",
                    headers: { "Accept": "application/json", "X-CSRF-Token": csrf } };
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    return fetch(path, options).then(function (response) {
      if (response.status === 401) {
        window.location.href = "/login?next=" + encodeURIComponent("/agent");
        throw new Error("signed out");
      }
      if (response.status === 204) return null;
      return response.json().catch(function () { return null; }).then(function (data) {
        if (!response.ok) {
          var detail = data && data.detail;
          if (Array.isArray(detail)) {
            detail = detail.map(function (d) { return (d.loc || []).join(".") + ": " + d.msg; }).join("; ");
          }
          throw new Error(detail || ("HTTP " + response.status));
        }
        return data;
      });
    });
  }

  function failed(error) { if (error.message !== "signed out") toast(error.message, true); }

  // --- formatting --------------------------------------------------------------------------
  function duration(seconds) {
    seconds = Math.max(0, Math.floor(seconds));
    if (seconds < 60) return seconds + " s";
    var minutes = Math.floor(seconds / 60);
    if (minutes < 60) return minutes + " min";
    var hours = Math.floor(minutes / 60);
    if (hours < 48) return hours + " h " + String(minutes % 60).padStart(2, "0") + " min";
    return Math.floor(hours / 24) + " days";
  }

  // Dates and money the shop's way (bot/static/format.js): "18 Nov 2026, 14:05", "€49.90".
  function when(iso) { return KefuFormat.dateTime(iso); }

  function waitedSeconds(handoff) {
    if (handoff.status !== "waiting") return handoff.waiting_seconds;
    return (Date.now() - KefuFormat.parse(handoff.created_at).getTime()) / 1000;
  }

  var SENDER = { customer: "Customer", bot: "Assistant", agent: "Agent", system: "System" };

  // --- queue -------------------------------------------------------------------------------
  function loadQueues() {
    return Promise.all([api("GET", "/api/handoffs?status=waiting"),
                        api("GET", "/api/handoffs?status=claimed")])
      .then(function (lists) {
        state.waiting = lists[0];
        state.claimed = lists[1];
        renderQueues();
      }).catch(failed);
  }

  function queueItem(handoff) {
    var li = el("li", "queue-item priority-" + handoff.priority);
    li.dataset.handoff = handoff.id;
    li.dataset.conversation = handoff.conversation_id;
    if (handoff.conversation_id === state.conversationId) li.classList.add("current");
    var top = el("div", "line");
    top.appendChild(el("span", "name", handoff.customer_name));
    top.appendChild(el("span", "badge channel", handoff.channel));
    top.appendChild(el("span", "badge priority", handoff.priority));
    li.appendChild(top);
    var second = el("div", "line small");
    second.appendChild(el("span", "reason", handoff.reason || "asked for a person"));
    var waited = el("span", "waited", duration(waitedSeconds(handoff)));
    waited.dataset.created = handoff.created_at;
    waited.dataset.live = handoff.status === "waiting" ? "1" : "";
    second.appendChild(waited);
    li.appendChild(second);
    if (handoff.claimed_by && handoff.status === "claimed") {
      li.appendChild(el("div", "line small", "with " + handoff.claimed_by.name));
    }
    if (handoff.reply_email) {
      var wants = replyEmail(handoff, "div", "line small reply-email");
      // The link opens the mail program, not the conversation under it.
      wants.querySelector("a").addEventListener("click", function (event) { event.stopPropagation(); });
      li.appendChild(wants);
    }
    if (handoff.last_message) li.appendChild(el("div", "preview", handoff.last_message));
    li.tabIndex = 0;
    li.addEventListener("click", function () { openConversation(handoff.conversation_id); });
    li.addEventListener("keydown", function (event) {
      if (event.key === "Enter") openConversation(handoff.conversation_id);
    });
    return li;
  }

  // "Wants the answer by email: jane@example.com", the address a mailto: link (with the shop's
  // subject line, made by the server) for the agent who answers to send it by email too.
  function replyEmail(handoff, tag, className) {
    var node = el(tag, className, "Wants the answer by email: ");
    var link = el("a", null, handoff.reply_email);
    var href = handoff.reply_mailto || "";
    link.href = href.indexOf("mailto:") === 0 ? href : "mailto:" + encodeURIComponent(handoff.reply_email);
    node.appendChild(link);
    return node;
  }

  function renderReplyEmail() {
    var box = $("cust-reply-email"), handoff = state.handoff;
    clear(box);
    box.hidden = !(handoff && handoff.reply_email);
    if (!box.hidden) box.appendChild(replyEmail(handoff, "span", null));
  }

  function renderQueues() {
    var waiting = $("queue-waiting"), mine = $("queue-mine"), others = $("queue-others");
    clear(waiting); clear(mine); clear(others);
    state.waiting.forEach(function (h) { waiting.appendChild(queueItem(h)); });
    state.claimed.forEach(function (h) {
      var holder = h.claimed_by && h.claimed_by.id === me.id ? mine : others;
      holder.appendChild(queueItem(h));
    });
    $("waiting-count").textContent = String(state.waiting.length);
    if (!state.waiting.length) waiting.appendChild(el("li", "none", "Nobody is waiting."));
    if (!mine.childNodes.length) mine.appendChild(el("li", "none", "None."));
  }

  function tick() {
    document.querySelectorAll(".waited[data-live='1']").forEach(function (node) {
      node.textContent = duration((Date.now() - KefuFormat.parse(node.dataset.created).getTime()) / 1000);
    });
  }

  // --- conversation ------------------------------------------------------------------------
  function openConversation(conversationId) {
    return api("GET", "/api/conversations/" + conversationId).then(function (conversation) {
      state.conversationId = conversation.id;
      state.conversation = conversation;
      state.handoff = conversation.handoff;
      state.shown = {};
      state.notesShown = {};
      $("conversation").hidden = false;
      $("conversation-empty").hidden = true;
      clear($("transcript"));
      conversation.messages.forEach(appendMessage);
      clear($("notes"));
      conversation.notes.forEach(appendNote);
      renderHead();
      renderQueues();
      scrollDown();
      if (conversation.customer_id) loadCustomer(conversation.customer_id);
      else $("customer").hidden = true;
    }).catch(failed);
  }

  function holdsIt() {
    var h = state.handoff;
    return !!h && h.status === "claimed" && !!h.claimed_by &&
      (h.claimed_by.id === me.id || me.role === "admin");
  }

  function renderHead() {
    var conversation = state.conversation, handoff = state.handoff;
    $("conv-title").textContent = handoff ? handoff.customer_name : "Conversation " + conversation.id;
    var meta = conversation.channel + " · " + (conversation.mode === "human" ? "with a person" : "with the assistant");
    if (handoff) {
      meta += " · handoff " + handoff.status;
      if (handoff.claimed_by) meta += " (" + handoff.claimed_by.name + ")";
      if (handoff.reason) meta += " · " + handoff.reason;
    }
    $("conv-meta").textContent = meta;
    renderReplyEmail();
    var waiting = !!handoff && handoff.status === "waiting";
    var mine = holdsIt();
    $("claim").hidden = !waiting;
    $("resolve").hidden = !mine;
    $("transfer").hidden = !mine;
    $("transfer-to").hidden = !mine;
    $("reply-form").hidden = !mine;
    var banner = $("conv-banner");
    if (waiting) { banner.textContent = "Waiting for an agent — claim it to reply."; banner.hidden = false; }
    else if (handoff && handoff.status === "claimed" && !mine) {
      banner.textContent = handoff.claimed_by.name + " has this conversation."; banner.hidden = false;
    } else if (!handoff || handoff.status === "resolved") {
      banner.textContent = "The assistant has this conversation."; banner.hidden = false;
    } else banner.hidden = true;
    if (mine) renderTransferOptions();
  }

  // A customer's photo (a thumbnail that opens the full picture) or file (a link); the link is
  // signed for this member of staff and expires (GET /attachments/{id}).
  function attachmentView(a) {
    var box = el("div", "attachment");
    var url = a.url && /^\/(?!\/)/.test(a.url) ? a.url : null;
    var label = (a.name || (String(a.type).indexOf("image/") === 0 ? "photo" : "file")) +
      (a.size ? " · " + Math.max(1, Math.round(a.size / 1000)) + " kB" : "");
    if (!url) { box.appendChild(el("span", "file", label)); return box; }
    var link = el("a", "file");
    link.href = url; link.target = "_blank"; link.rel = "noopener";
    if (String(a.type).indexOf("image/") === 0) {
      var img = el("img", "thumb");
      img.src = url;
      img.alt = "Customer's photo " + (a.name || "");
      link.appendChild(img);
    } else {
      link.textContent = "📄 " + label;
    }
    box.appendChild(link);
    return box;
  }

  function appendMessage(message) {
    if (state.shown[message.id]) return;
    state.shown[message.id] = true;
    var li = el("li", "msg from-" + message.sender);
    li.dataset.id = message.id;
    var head = el("div", "msg-head");
    var label = SENDER[message.sender] || message.sender;
    if (message.sender === "agent" && message.staff_id === me.id) label = "You";
    head.appendChild(el("span", "who", label));
    head.appendChild(el("time", "at", when(message.at)));
    if (message.intent) {
      var conf = message.confidence !== null && message.confidence !== undefined
        ? " " + Math.round(message.confidence * 100) + "%" : "";
      head.appendChild(el("span", "intent", message.intent + conf));
    }
    if (message.status === "failed") head.appendChild(el("span", "badge failed", "not delivered"));
    li.appendChild(head);
    if (message.text) li.appendChild(el("div", "text", message.text));
    if (message.article) {
      li.appendChild(el("div", "source", "Answered from help article: " + message.article.title +
                        " (" + message.article.slug + ")"));
    }
    if (message.attachment) {
      li.appendChild(attachmentView(message.attachment));
      if (message.attachment.case) li.appendChild(el("div", "small", "Added to " + message.attachment.case));
    }
    (message.products || []).forEach(function (p) {
      li.appendChild(el("div", "product", p.name + (p.price ? " — " + p.price : "") + (p.reason ? " (" + p.reason + ")" : "")));
    });
    if (message.buttons && message.buttons.length) {
      var buttons = el("div", "buttons");
      message.buttons.forEach(function (b) { buttons.appendChild(el("span", "chip", b.title)); });
      li.appendChild(buttons);
    }
    $("transcript").appendChild(li);
  }

  function scrollDown() { var t = $("transcript"); t.scrollTop = t.scrollHeight; }

  function appendNote(note) {
    if (state.notesShown[note.id]) return;
    state.notesShown[note.id] = true;
    var li = el("li", "note");
    li.appendChild(el("span", "who", (note.staff ? note.staff.name : "staff") + " · " + when(note.at)));
    li.appendChild(el("div", "text", note.text));
    $("notes").appendChild(li);
  }

  function refreshHandoff() {
    if (!state.handoff) return openConversation(state.conversationId);
    return api("GET", "/api/handoffs/" + state.handoff.id).then(function (handoff) {
      state.handoff = handoff;
      renderHead();
    }).catch(failed);
  }

  // --- customer panel ----------------------------------------------------------------------
  function loadCustomer(customerId) {
    api("GET", "/api/customers/" + customerId).then(function (customer) {
      state.customer = customer;
      renderCustomer(customer);
      loadCanned(customer.name ? customer.name.split(" ")[0] : null);
    }).catch(failed);
  }

  function renderCustomer(c) {
    $("customer").hidden = false;
    $("cust-name").textContent = c.erased ? "Erased customer" : (c.name || c.email || "Anonymous customer");
    var dl = $("cust-profile");
    clear(dl);
    function row(label, value) {
      if (value === null || value === undefined || value === "") return;
      dl.appendChild(el("dt", null, label));
      dl.appendChild(el("dd", null, value));
    }
    row("Email", c.email);
    row("Phone", c.phone);
    row("Language", c.language);
    row("Segment", c.segment);
    row("Tags", (c.tags || []).join(", "));
    var channels = {};
    c.identities.forEach(function (i) { channels[i.channel] = channels[i.channel] || i.verified; });
    row("Channels", Object.keys(channels).sort().map(function (name) {
      return name + (channels[name] ? " ✓" : "");
    }).join(", "));
    row("Marketing", c.marketing_opt_in ? "opted in" : "no");
    row("Customer since", when(c.created_at));
    var interests = $("cust-interests");
    clear(interests);
    c.interests.forEach(function (i) { interests.appendChild(el("li", "chip", i.topic)); });
    if (!c.interests.length) interests.appendChild(el("li", "none", "None recorded."));
    var orders = $("cust-orders");
    clear(orders);
    c.orders.forEach(function (o) {
      var li = el("li", "order");
      li.appendChild(el("strong", null, o.order_number));
      li.appendChild(el("span", null, " " + o.status + " · " + KefuFormat.money(o.total, o.currency) + " · " + when(o.created_at)));
      if (o.tracking_number) li.appendChild(el("div", "small", (o.carrier || "") + " " + o.tracking_number));
      li.appendChild(el("div", "small", o.items.map(function (i) { return i.quantity + "× " + i.name; }).join(", ")));
      orders.appendChild(li);
    });
    if (!c.orders.length) orders.appendChild(el("li", "none", "No orders."));
    var tickets = $("cust-tickets");
    clear(tickets);
    c.tickets.forEach(function (t) {
      var li = el("li", "ticket" + (t.sla_breached ? " breached" : ""));
      li.appendChild(el("strong", null, t.reference));
      li.appendChild(el("span", null, " " + t.subject + " · " + t.status + " · " + t.priority));
      tickets.appendChild(li);
    });
    if (!c.tickets.length) tickets.appendChild(el("li", "none", "No tickets."));
    var chats = $("cust-conversations");
    clear(chats);
    (c.conversations || []).forEach(function (conv) {
      var li = el("li", "conv-link", conv.channel + (conv.last_message_at ? " · " + when(conv.last_message_at) : ""));
      li.dataset.conversation = conv.id;
      li.tabIndex = 0;
      li.addEventListener("click", function () { openConversation(conv.id); });
      li.addEventListener("keydown", function (event) { if (event.key === "Enter") openConversation(conv.id); });
      chats.appendChild(li);
    });
    if (!(c.conversations || []).length) chats.appendChild(el("li", "none", "No conversations."));
  }

  // --- canned responses and transfers ------------------------------------------------------
  function loadCanned(firstName) {
    var query = firstName ? "?first_name=" + encodeURIComponent(firstName) : "";
    api("GET", "/api/canned-responses" + query).then(function (list) {
      state.canned = list;
      var select = $("canned");
      while (select.options.length > 1) select.remove(1);
      list.forEach(function (c) {
        var option = el("option", null, c.title);
        option.value = c.id;
        select.appendChild(option);
      });
    }).catch(failed);
  }

  function loadStaff() {
    return api("GET", "/api/staff").then(function (list) { state.staff = list; }).catch(failed);
  }

  function renderTransferOptions() {
    var select = $("transfer-to");
    clear(select);
    select.appendChild(el("option", null, "Transfer to…")).value = "";
    state.staff.forEach(function (s) {
      if (state.handoff && state.handoff.claimed_by && s.id === state.handoff.claimed_by.id) return;
      var option = el("option", null, (s.name || s.email) + " (" + s.role + ")");
      option.value = s.id;
      select.appendChild(option);
    });
  }

  // --- actions -----------------------------------------------------------------------------
  $("claim").addEventListener("click", function () {
    if (!state.handoff) return;
    api("POST", "/api/handoffs/" + state.handoff.id + "/claim").then(function (handoff) {
      state.handoff = handoff;
      renderHead();
      loadQueues();
      toast("You have the conversation.");
    }).catch(function (error) { failed(error); loadQueues(); refreshHandoff(); });
  });

  $("resolve").addEventListener("click", function () {
    if (!state.handoff) return;
    api("POST", "/api/handoffs/" + state.handoff.id + "/resolve", {}).then(function (result) {
      state.handoff = result.handoff;
      state.conversation.mode = "bot";
      renderHead();
      loadQueues();
      toast(result.rating_requested ? "Resolved — the assistant asked for a rating."
                                    : "Resolved — back with the assistant.");
    }).catch(failed);
  });

  $("transfer").addEventListener("click", function () {
    var target = $("transfer-to").value;
    if (!state.handoff || !target) { toast("Choose who to transfer to.", true); return; }
    api("POST", "/api/handoffs/" + state.handoff.id + "/transfer", { staff_id: Number(target) })
      .then(function (handoff) {
        state.handoff = handoff;
        renderHead();
        loadQueues();
        toast("Transferred to " + handoff.claimed_by.name + ".");
      }).catch(failed);
  });

  $("canned").addEventListener("change", function () {
    var chosen = state.canned.filter(function (c) { return c.id === $("canned").value; })[0];
    if (chosen) {
      var box = $("reply-text");
      box.value = box.value ? box.value + " " + chosen.text : chosen.text;
      box.focus();
    }
    $("canned").value = "";
  });

  $("reply-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var box = $("reply-text"), text = box.value.trim();
    if (!text || !state.conversationId) return;
    $("send").disabled = true;
    api("POST", "/api/conversations/" + state.conversationId + "/messages", { text: text })
      .then(function (message) { box.value = ""; appendMessage(message); scrollDown(); })
      .catch(failed)
      .then(function () { $("send").disabled = false; });
  });

  $("reply-text").addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      $("reply-form").requestSubmit();
    }
  });

  $("note-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var box = $("note-text"), text = box.value.trim();
    if (!text || !state.conversationId) return;
    api("POST", "/api/conversations/" + state.conversationId + "/notes", { text: text })
      .then(function (note) { box.value = ""; appendNote(note); })
      .catch(failed);
  });

  // --- tickets -----------------------------------------------------------------------------
  function ticketQuery() {
    var form = $("ticket-filters"), params = new URLSearchParams();
    var status = form.elements.status.value;
    if (status === "") { params.append("status", "open"); params.append("status", "pending"); }
    else if (status !== "all") params.append("status", status);
    ["priority", "kind", "assignee"].forEach(function (name) {
      if (form.elements[name].value) params.append(name, form.elements[name].value);
    });
    if (form.elements.breached.checked) params.append("breached", "true");
    return params.toString();
  }

  function loadTickets() {
    return api("GET", "/api/tickets?" + ticketQuery()).then(function (list) {
      state.tickets = list;
      renderTickets();
    }).catch(failed);
  }

  function renderTickets() {
    var body = $("ticket-rows");
    clear(body);
    state.tickets.forEach(function (t) {
      var tr = el("tr", "ticket-row priority-" + t.priority + (t.sla_breached ? " breached" : ""));
      tr.dataset.id = t.id;
      tr.appendChild(el("td", null, t.reference));
      tr.appendChild(el("td", null, t.subject));
      tr.appendChild(el("td", null, t.customer_name || ""));
      tr.appendChild(el("td", null, t.kind.replace("_", " ") + " · " + t.category.replace("_", " ")));
      tr.appendChild(el("td", null, t.priority));
      tr.appendChild(el("td", null, t.status));
      tr.appendChild(el("td", null, t.assignee ? t.assignee.name : "—"));
      var due = el("td", "sla", when(t.sla_due_at));
      if (t.sla_breached) due.appendChild(el("span", "badge breached", "SLA breached"));
      tr.appendChild(due);
      tr.addEventListener("click", function () { editTicket(t); });
      body.appendChild(tr);
    });
    if (!state.tickets.length) {
      var tr = el("tr", "none");
      var td = el("td", null, "No tickets match.");
      td.colSpan = 8;
      tr.appendChild(td);
      body.appendChild(tr);
    }
  }

  function editTicket(ticket) {
    state.editing = ticket;
    var form = $("ticket-edit");
    form.hidden = false;
    $("ticket-edit-title").textContent = ticket.reference + " — " + ticket.subject;
    $("ticket-edit-desc").textContent = ticket.description || "";
    // The customer's photos and files added to this ticket (thumbnails, signed links).
    var files = $("ticket-edit-files");
    clear(files);
    (ticket.attachments || []).forEach(function (a) { files.appendChild(attachmentView(a)); });
    $("ticket-error").textContent = "";
    form.elements.status.value = ticket.status;
    form.elements.priority.value = ticket.priority;
    form.elements.resolution.value = ticket.resolution || "";
    var select = form.elements.assignee_id;
    clear(select);
    select.appendChild(el("option", null, "unassigned")).value = "";
    state.staff.forEach(function (s) {
      var option = el("option", null, s.name || s.email);
      option.value = String(s.id);
      select.appendChild(option);
    });
    select.value = ticket.assignee ? String(ticket.assignee.id) : "";
  }

  $("ticket-edit").addEventListener("submit", function (event) {
    event.preventDefault();
    var ticket = state.editing, form = $("ticket-edit"), changes = {};
    if (!ticket) return;
    if (form.elements.status.value !== ticket.status) changes.status = form.elements.status.value;
    if (form.elements.priority.value !== ticket.priority) changes.priority = form.elements.priority.value;
    var assignee = form.elements.assignee_id.value ? Number(form.elements.assignee_id.value) : null;
    if (assignee !== (ticket.assignee ? ticket.assignee.id : null)) changes.assignee_id = assignee;
    var resolution = form.elements.resolution.value.trim();
    if (resolution !== (ticket.resolution || "")) changes.resolution = resolution;
    if (!Object.keys(changes).length) { $("ticket-error").textContent = "Nothing changed."; return; }
    api("PATCH", "/api/tickets/" + ticket.id, changes).then(function (updated) {
      editTicket(updated);
      toast(updated.reference + " saved.");
      loadTickets();
    }).catch(function (error) { $("ticket-error").textContent = error.message; });
  });

  $("ticket-cancel").addEventListener("click", function () { $("ticket-edit").hidden = true; state.editing = null; });
  $("ticket-filters").addEventListener("submit", function (event) { event.preventDefault(); loadTickets(); });

  // --- search ------------------------------------------------------------------------------
  // The box in the top bar asks /api/search; a result opens what the console already shows:
  // the conversation (with the customer beside it), the customer's panel, or the ticket.
  var searchSeq = 0;

  function closeSearch() { $("search-results").hidden = true; }

  function searchHit(list, lines, open) {
    var li = el("li", "search-hit");
    lines.forEach(function (line) { if (line) li.appendChild(line); });
    li.tabIndex = 0;
    li.addEventListener("click", function () { closeSearch(); open(); });
    li.addEventListener("keydown", function (event) {
      if (event.key === "Enter") { closeSearch(); open(); }
    });
    list.appendChild(li);
    return li;
  }

  function line(className, parts) {
    var node = el("div", className);
    parts.forEach(function (part) { if (part) node.appendChild(part); });
    return node;
  }

  function renderSearch(result) {
    var convs = $("search-conversations"), custs = $("search-customers"), ticks = $("search-tickets");
    clear(convs); clear(custs); clear(ticks);
    result.conversations.forEach(function (c) {
      var li = searchHit(convs, [
        line("line", [el("span", "name", c.customer_name), el("span", "badge channel", c.channel)]),
        el("div", "small", (SENDER[c.sender] || c.sender) + " · " + when(c.at)),
        el("div", "snippet", c.snippet)],
        function () { show("conversations"); openConversation(c.id); });
      li.dataset.conversation = c.id;
    });
    result.customers.forEach(function (c) {
      var li = searchHit(custs, [
        el("div", "name", c.name || c.email || "Anonymous customer"),
        el("div", "small", [c.email, c.phone, c.matched].filter(Boolean).join(" · "))],
        function () { show("conversations"); loadCustomer(c.id); });
      li.dataset.customer = c.id;
    });
    result.tickets.forEach(function (t) {
      var li = searchHit(ticks, [
        line("line", [el("strong", null, t.reference), el("span", "badge", t.status)]),
        el("div", null, t.subject),
        el("div", "small", t.customer_name || "")],
        function () { show("tickets"); editTicket(t); });
      li.dataset.ticket = t.id;
    });
    [[convs, "No conversations."], [custs, "No customers."], [ticks, "No tickets."]].forEach(function (pair) {
      if (!pair[0].childNodes.length) pair[0].appendChild(el("li", "none", pair[1]));
    });
    var total = result.conversations.length + result.customers.length + result.tickets.length;
    $("search-summary").textContent = total ? "Found for “" + result.query + "”" : "Nothing found for “" + result.query + "”";
    $("search-results").hidden = false;
  }

  $("search-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var q = $("search-q").value.trim();
    if (!q) { closeSearch(); return; }
    var seq = ++searchSeq;
    $("search-summary").textContent = "Searching…";
    api("GET", "/api/search?" + new URLSearchParams({ q: q }).toString()).then(function (result) {
      if (seq === searchSeq) renderSearch(result);  // a later search's answer wins
    }).catch(function (error) {
      if (seq === searchSeq) { closeSearch(); failed(error); }
    });
  });
  $("search-close").addEventListener("click", closeSearch);
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && !$("search-results").hidden) closeSearch();
  });

  // --- tabs --------------------------------------------------------------------------------
  function show(view) {
    var tickets = view === "tickets";
    $("view-conversations").hidden = tickets;
    $("view-tickets").hidden = !tickets;
    $("tab-conversations").setAttribute("aria-selected", String(!tickets));
    $("tab-tickets").setAttribute("aria-selected", String(tickets));
    if (tickets) loadTickets();
  }
  $("tab-conversations").addEventListener("click", function () { show("conversations"); });
  $("tab-tickets").addEventListener("click", function () { show("tickets"); });

  // --- availability (automatic assignment) and, for admins, the team ----------------------
  function renderAvailability(agent) {
    var online = agent.status === "online", button = $("availability");
    state.status = agent.status;
    button.textContent = online ? "Online" : "Away";
    button.className = "availability " + agent.status;
    button.setAttribute("aria-pressed", String(online));
    button.title = online
      ? "Online: waiting conversations come to you (up to " + agent.capacity + " at once). Click to go away."
      : "Away: no conversations are given to you. Click to go online.";
  }

  function loadAvailability() {
    return api("GET", "/api/agents/me").then(renderAvailability).catch(failed);
  }

  $("availability").addEventListener("click", function () {
    var next = state.status === "online" ? "away" : "online";
    api("PUT", "/api/agents/me", { status: next }).then(function (agent) {
      renderAvailability(agent);
      toast(next === "online" ? "You're online: waiting conversations come to you."
                              : "You're away: your open conversations went to colleagues or back to the queue.");
      loadQueues();
      loadTeam();
    }).catch(failed);
  });

  function loadTeam() {
    if (me.role !== "admin") return Promise.resolve();
    return api("GET", "/api/agents").then(renderTeam).catch(failed);
  }

  function renderTeam(agents) {
    var list = $("team-list");
    clear(list);
    agents.forEach(function (agent) {
      var li = el("li", "team-item " + agent.status);
      li.dataset.staff = agent.id;
      li.appendChild(el("span", "name", agent.name || agent.email));
      li.appendChild(el("span", "badge status", agent.status));
      li.appendChild(el("span", "load", agent.open + " / " + agent.capacity));
      var capacity = el("input", "capacity");
      capacity.type = "number"; capacity.min = "1"; capacity.max = "100";
      capacity.placeholder = String(agent.capacity);
      capacity.value = agent.own_capacity === null ? "" : String(agent.own_capacity);
      capacity.setAttribute("aria-label", "Capacity of " + (agent.name || agent.email) + " (empty: the default)");
      capacity.addEventListener("change", function () {
        var value = capacity.value.trim() === "" ? null : Number(capacity.value);
        api("PUT", "/api/agents/" + agent.id + "/capacity", { capacity: value })
          .then(loadTeam).catch(function (error) { failed(error); loadTeam(); });
      });
      li.appendChild(capacity);
      list.appendChild(li);
    });
    if (!agents.length) list.appendChild(el("li", "none", "No agents."));
    $("team").hidden = false;
  }

  // --- live updates ------------------------------------------------------------------------
  function connect() {
    var url = window.location.origin.replace(/^http/, "ws") + "/ws/staff";
    var ws = state.ws = new WebSocket(url);
    ws.onopen = function () { state.retry = 0; };
    ws.onmessage = function (frame) {
      var event;
      try { event = JSON.parse(frame.data); } catch (e) { return; }
      onEvent(event);
    };
    ws.onclose = function (closed) {
      $("live-status").textContent = "offline";
      $("live-status").className = "live off";
      if (closed.code === 4401) { window.location.href = "/login?next=%2Fagent"; return; }
      if (closed.code === 4403) return;
      state.retry = Math.min(state.retry + 1, 6);
      setTimeout(connect, 500 * Math.pow(2, state.retry));
    };
  }

  function onEvent(event) {
    var current = state.conversationId;
    switch (event.type) {
      case "hello":
        $("live-status").textContent = "live";
        $("live-status").className = "live on";
        loadQueues();
        loadAvailability();
        loadTeam();
        break;
      case "message":
        if (event.conversation_id === current && event.message) {
          var m = event.message;
          appendMessage({ id: m.id, sender: m.sender, text: m.text || "", at: m.at,
                          buttons: m.buttons, products: m.products, article: m.article,
                          attachment: m.attachment,
                          direction: event.direction, staff_id: m.staff_id });
          scrollDown();
        }
        if (event.direction === "inbound" && event.mode === "human") loadQueues();
        break;
      case "note":
        if (event.conversation_id === current && event.note) appendNote(event.note);
        break;
      case "handoff.requested":
      case "handoff.claimed":
      case "handoff.transferred":
      case "handoff.resolved":
      case "handoff.released":
        loadQueues();
        loadTeam();
        if (event.type === "handoff.claimed" && event.assigned && event.staff_id === me.id) {
          toast("A waiting conversation was given to you.");
        }
        if (event.conversation_id === current) {
          if (event.type === "handoff.requested" || event.type === "handoff.released") openConversation(current);
          else refreshHandoff();
        }
        break;
      case "handoff.updated":  // e.g. the customer left an email address for the answer
        loadQueues();
        if (event.conversation_id === current) refreshHandoff();
        break;
      case "conversation.mode":
        if (event.conversation_id === current && state.conversation) {
          state.conversation.mode = event.mode;
          renderHead();
        }
        break;
      case "agents.changed":  // someone went online or away, or a capacity changed
        if (event.staff_id === me.id) loadAvailability();
        loadTeam();
        break;
      case "ticket.updated":
        if (!$("view-tickets").hidden) loadTickets();
        break;
      case "delivery.failed":
        if (event.conversation_id === current) toast("A message could not be delivered: " + (event.error || "unknown error"), true);
        break;
      case "error":
        toast(event.reason, true);
        break;
      default:
        break;
    }
  }

  setInterval(tick, 5000);
  setInterval(function () {
    if (state.ws && state.ws.readyState === 1) state.ws.send('{"type": "ping"}');
  }, 25000);
  loadStaff().then(loadQueues);
  loadAvailability();
  loadTeam();
  connect();
})();
