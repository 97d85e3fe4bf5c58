// Kefu dashboard: reads /api/dashboard for the chosen period and draws one Chart.js chart per
// KPI, each with a link to its data as CSV; loads and labels the not-understood inbox.
(function () {
  "use strict";

  var csrf = document.querySelector('meta[name="kefu-csrf"]').content;
  var form = document.getElementById("period");
  var chartsEl = document.getElementById("charts");
  var statusEl = document.getElementById("status");
  var charts = [];
  var COLORS = ["#3465a4", "#e38b1e", "#1f8a4c", "#d9483b", "#75507b", "#2aa1b3", "#8f9c2c",
                "#c17d11", "#5c3566", "#4e9a06"];
  var STATUS_COLORS = { open: "#d9483b", pending: "#e38b1e", resolved: "#1f8a4c",
                        closed: "#8a93a6" };

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) { node.setAttribute(key, attrs[key]); });
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function query() {
    var params = new URLSearchParams();
    ["start", "end", "channel"].forEach(function (name) {
      var value = document.getElementById(name).value;
      if (value) params.set(name, value);
    });
    return params.toString();
  }

  function api(path, options) {
    options = options || {};
    options.credentials = "same-origin";
    options.headers = Object.assign({ "Accept": "application/json", "X-CSRF-Token": csrf },
                                    options.headers || {});
    return fetch(path, options).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (body) {
        if (!response.ok) throw new Error(body.detail || ("HTTP " + response.status));
        return body;
      });
    });
  }

  function pct(value) { return value === null ? "–" : (value * 100).toFixed(1) + "%"; }
  function secs(value) {
    if (value === null) return "–";
    return value < 120 ? value.toFixed(1) + " s" : (value / 60).toFixed(1) + " min";
  }

  // One card per KPI: its title, a headline, one chart or several side by side (each
  // `{label, config}`), the CSV link, and optionally one-line definitions of its figures and a
  // caption saying how to read it.
  function card(kpi, title, headline, plots, notes) {
    notes = notes || {};
    var box = el("section", { "class": "card", "data-kpi": kpi });
    var h = el("h2", {}, title);
    var link = el("a", { "href": "/api/dashboard/" + kpi + ".csv?" + query(),
                         "class": "csv", "download": "" }, "CSV");
    h.appendChild(link);
    box.appendChild(h);
    box.appendChild(el("p", { "class": "headline" }, headline));
    if (!Array.isArray(plots)) plots = [{ label: title, config: plots }];
    var row = el("div", { "class": "plots" });
    var canvases = plots.map(function (plot) {
      var holder = el("div", { "class": "plot" });
      var canvas = el("canvas", { "aria-label": plot.label, "role": "img" });
      holder.appendChild(canvas);
      row.appendChild(holder);
      return canvas;
    });
    box.appendChild(row);
    (notes.definitions || []).forEach(function (line) {
      box.appendChild(el("p", { "class": "definition" }, line));
    });
    if (notes.caption) box.appendChild(el("p", { "class": "caption" }, notes.caption));
    chartsEl.appendChild(box);
    plots.forEach(function (plot, i) {
      var config = plot.config;
      config.options = Object.assign({ animation: false, maintainAspectRatio: false,
                                       responsive: true }, config.options || {});
      charts.push(new Chart(canvases[i], config));
    });
  }

  // Seconds as the unit that suits the largest value, so small and large figures are each
  // drawn on an axis of their own scale.
  function timeUnit(values) {
    var max = Math.max.apply(null, values.filter(function (v) { return v !== null; })
                                         .concat([0]));
    if (max < 120) return { name: "seconds", per: 1 };
    if (max < 7200) return { name: "minutes", per: 60 };
    return { name: "hours", per: 3600 };
  }
  function inUnit(value, unit) {
    return value === null ? null : Math.round(value / unit.per * 100) / 100;
  }
  function responseChart(label, figures, color) {
    var unit = timeUnit([figures.p50_s, figures.p95_s]);
    var replies = figures.count + (figures.count === 1 ? " reply" : " replies");
    return { label: label, config: bar([replies], [
      set("p50", [inUnit(figures.p50_s, unit)], color[0]),
      set("p95", [inUnit(figures.p95_s, unit)], color[1])],
      { plugins: { title: { display: true, text: label } },
        scales: { y: { beginAtZero: true, title: { display: true, text: unit.name } } } }) };
  }

  function bar(labels, datasets, options) {
    return { type: "bar", data: { labels: labels, datasets: datasets }, options: options };
  }
  function set(label, data, color) {
    return { label: label, data: data, backgroundColor: color, borderColor: color };
  }
  function doughnut(labels, data) {
    return { type: "doughnut", data: { labels: labels, datasets: [
      { data: data, backgroundColor: COLORS.slice(0, data.length) }] } };
  }
  var percentAxis = { scales: { y: { beginAtZero: true, max: 100,
                                     ticks: { callback: function (v) { return v + "%"; } } } } };

  function draw(k) {
    charts.forEach(function (chart) { chart.destroy(); });
    charts = [];
    chartsEl.textContent = "";

    // Calendar days written the shop's way ("18 Nov"; bot/static/format.js).
    var days = k.volume.map(function (d) { return KefuFormat.dayMonth(d.day); });
    card("volume", "Conversations and messages per day",
         k.volume.reduce(function (n, d) { return n + d.conversations; }, 0) + " conversations, " +
         k.volume.reduce(function (n, d) { return n + d.messages; }, 0) + " messages",
         { type: "line", data: { labels: days, datasets: [
           set("conversations", k.volume.map(function (d) { return d.conversations; }), COLORS[0]),
           set("messages", k.volume.map(function (d) { return d.messages; }), COLORS[1])] } });

    // Bot and human replies differ a hundredfold: one axis would flatten the bot's bar, so
    // each has its own chart and unit.
    var fr = k.first_response;
    card("first_response", "First response time",
         "bot p50 " + secs(fr.bot.p50_s) + " · human p50 " + secs(fr.human.p50_s),
         [responseChart("Bot first response", fr.bot, [COLORS[0], COLORS[1]]),
          responseChart("Human first response", fr.human, [COLORS[0], COLORS[1]])]);

    var c = k.containment;
    card("containment", "Automated and resolved conversations",
         "automated " + pct(c.automated_rate) + " · resolved " + pct(c.resolved_rate) +
         " of " + c.conversations,
         doughnut(["resolved by the bot", "bot only, last message not understood",
                   "bot only, asked again within 24 h", "handed to a person"],
                  [c.resolved, c.not_understood_at_end, c.came_back, c.handed_off]),
         { definitions: [
           "Automated: the customer wrote and no person was asked for.",
           "Resolved: automated, the customer's last message was understood, and they did " +
           "not ask about the same topic again within 24 h."] });

    var q = k.queue_wait;
    card("queue_wait", "Queue waiting time (seconds)",
         q.handoffs + " handoffs, " + q.unclaimed + " never claimed · p50 " + secs(q.p50_s),
         bar(["p50", "p95"], [set("seconds to claim", [q.p50_s, q.p95_s], COLORS[2])]));

    var s = k.csat;
    card("csat", "Customer satisfaction",
         s.ratings ? "average " + s.average.toFixed(2) + " of 5 (" + s.ratings + " ratings)"
                   : "no ratings",
         bar(s.distribution.map(function (d) { return d.score + "★"; }),
             [set("ratings", s.distribution.map(function (d) { return d.count; }), COLORS[0])]));

    // Categories along the axis, each bar split by status (one colour per status).
    var cp = k.complaints;
    var categories = cp.by_category.map(function (r) { return r.category; });
    card("complaints", "Complaints by category, split by status", cp.total + " complaints",
         bar(categories, cp.by_status.map(function (st, i) {
           return set(st.status, categories.map(function (category) {
             var found = cp.by_category_and_status.filter(function (r) {
               return r.category === category && r.status === st.status; })[0];
             return found ? found.count : 0;
           }), STATUS_COLORS[st.status] || COLORS[(i + 4) % COLORS.length]);
         }), { scales: { x: { stacked: true },
                         y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } } }));

    var sla = k.sla;
    // Open breaches are counted whenever the ticket was opened: an old backlog must not
    // vanish because the period shows recent days only.
    card("sla", "SLA breaches",
         sla.open_breached + " open " + (sla.open_breached === 1 ? "ticket" : "tickets") +
         " past the deadline now · " + sla.breached + " of " + sla.tickets +
         " tickets opened in the period breached (" + pct(sla.breach_rate) + ")",
         bar(sla.by_kind.map(function (r) { return r.kind; }), [
           set("kept", sla.by_kind.map(function (r) { return r.tickets - r.breached; }), COLORS[2]),
           set("breached", sla.by_kind.map(function (r) { return r.breached; }), COLORS[3])],
           { scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true } } }));

    card("top_intents", "Top intents", k.top_intents.length ? "most asked: " +
         k.top_intents[0].intent : "no messages",
         bar(k.top_intents.map(function (r) { return r.intent; }),
             [set("messages", k.top_intents.map(function (r) { return r.count; }), COLORS[4])],
             { indexAxis: "y" }));

    var f = k.fallback;
    card("fallback", "Fallback rate", pct(f.fallback_rate) + " of " + f.messages +
         " customer messages not understood; " + (f.help_answers || 0) +
         " answers from help articles",
         doughnut(["understood", "not understood"], [f.messages - f.not_understood,
                                                     f.not_understood]));

    if (k.retention) {
      card("retention", "Repeat purchase and retention: chatted vs not",
           k.retention.map(function (r) { return r.group + " " + pct(r.repeat_purchase_rate); })
             .join(" · "),
           bar(k.retention.map(function (r) { return r.group; }), [
             set("repeat purchase", k.retention.map(function (r) {
               return r.repeat_purchase_rate === null ? null : r.repeat_purchase_rate * 100; }),
                 COLORS[0]),
             set("retention", k.retention.map(function (r) {
               return r.retention_rate === null ? null : r.retention_rate * 100; }), COLORS[2])],
             percentAxis),
           { caption: "Compares customers who chatted with those who did not. It is not " +
             "causal: people who chat differ in other ways (many write because an order " +
             "went wrong), so a gap between the bars does not mean chatting changes " +
             "whether customers buy again." });
    }
    if (k.campaigns) {
      card("campaigns", "Campaign conversion (order within 7 days)",
           k.campaigns.length ? k.campaigns.length + " campaigns" : "no campaigns sent",
           bar(k.campaigns.map(function (r) { return r.campaign; }), [
             set("conversion", k.campaigns.map(function (r) {
               return r.conversion_rate === null ? null : r.conversion_rate * 100; }),
                 COLORS[5])], percentAxis));
    }
    document.body.setAttribute("data-charts", String(charts.length));
  }

  function load() {
    statusEl.textContent = "";
    return api("/api/dashboard?" + query()).then(function (body) {
      document.getElementById("start").value = body.scope.start;
      document.getElementById("end").value = body.scope.end;
      draw(body.kpis);
    }).catch(function (error) { statusEl.textContent = error.message; });
  }

  // --- the not-understood inbox ------------------------------------------------------------------
  var groupsEl = document.getElementById("inbox-groups");

  function renderInbox(body) {
    groupsEl.textContent = "";
    document.getElementById("inbox-count").textContent = String(body.groups.length);
    body.groups.forEach(function (group) {
      var item = el("li", { "class": "group", "data-key": group.key });
      item.appendChild(el("strong", {}, group.label));
      var reasons = Object.keys(group.reasons || {}).map(function (why) {
        return group.reasons[why] + " " + why;
      });
      item.appendChild(el("span", {}, " · " + group.messages + " messages" +
        (group.guessed_intents.length ? " · guessed " + group.guessed_intents.join(", ") : "") +
        (reasons.length ? " · " + reasons.join(", ") : "")));
      var texts = el("ul", { "class": "texts" });
      group.texts.forEach(function (t) {
        texts.appendChild(el("li", {}, t.text + (t.messages > 1 ? " (×" + t.messages + ")" : "")));
      });
      item.appendChild(texts);
      var select = el("select", { "aria-label": "Intent for " + group.label });
      select.appendChild(el("option", { "value": "" }, "choose an intent…"));
      body.intents.forEach(function (name) { select.appendChild(el("option", { "value": name }, name)); });
      var button = el("button", { "type": "button", "class": "label" }, "Label");
      var done = el("span", { "class": "labelled" });
      button.addEventListener("click", function () {
        if (!select.value) { done.textContent = "choose an intent first"; return; }
        api("/api/dashboard/inbox/label", {
          method: "POST", headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ intent: select.value,
                                 texts: group.texts.map(function (t) { return t.text; }) })
        }).then(function (result) {
          done.textContent = result.added.length + " examples added to " + result.intent +
                             " for review";
          button.disabled = true;
        }).catch(function (error) { done.textContent = error.message; });
      });
      item.appendChild(select);
      item.appendChild(button);
      item.appendChild(done);
      groupsEl.appendChild(item);
    });
  }

  document.getElementById("inbox-load").addEventListener("click", function () {
    groupsEl.textContent = "loading…";
    api("/api/dashboard/inbox?" + query()).then(renderInbox).catch(function (error) {
      groupsEl.textContent = error.message;
    });
  });

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    load();
  });
  load();
})();
