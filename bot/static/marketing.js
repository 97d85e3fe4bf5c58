// The marketing console: segments built from rules shown in words (with the store's known
// values offered) and live audiences, campaigns (preview, create, send, a test send to
// yourself, schedule; a draft is edited, taken off the schedule or deleted) and each
// campaign's report as an SVG bar chart. Talks only to the JSON API. Dates are the shop's (bot/static/format.js):
// shown in its locale and time zone, and a schedule is entered in the shop's time.
(function () {
  "use strict";
  var csrf = document.querySelector('meta[name="kefu-csrf"]').content;
  var SVG = "http://www.w3.org/2000/svg";
  function $(id) { return document.getElementById(id); }

  function toast(text, isError) {
    var box = $("toast");
    box.textContent = text;
    box.className = "toast" + (isError ? " error" : "");
    box.hidden = false;
    clearTimeout(toast.timer);
    toast.timer = setTimeout(function () { box.hidden = true; }, 6000);
  }

  function api(method, path, body) {
    var options = { method: method, credentials: "same-origin",
                    headers: { "Accept": "application/json", "X-CSRF-Token": csrf } };
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    return fetch(path, options).then(function (response) {
      if (response.status === 401) {
        window.location.href = "/login?next=" + encodeURIComponent("/marketing");
        throw new Error("signed out");
      }
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

  function list(id) {
    return $(id).value.split(",").map(function (v) { return v.trim(); }).filter(Boolean);
  }

  function ticked(name) {
    return Array.prototype.map.call(
      document.querySelectorAll('#segment-form input[name="' + name + '"]:checked'),
      function (box) { return box.value; });
  }

  // The form's fields as segment rules (crm_store/services/segments.py SegmentRules).
  function rules() {
    var r = {};
    [["interests", "seg-interests"], ["categories", "seg-categories"],
     ["languages", "seg-languages"], ["tags", "seg-tags"]
    ].forEach(function (pair) { var v = list(pair[1]); if (v.length) r[pair[0]] = v; });
    [["rfm_tiers", "seg-tier"], ["channels", "seg-channel"]
    ].forEach(function (pair) { var v = ticked(pair[1]); if (v.length) r[pair[0]] = v; });
    [["min_orders", "seg-min-orders"], ["ordered_within_days", "seg-ordered-days"],
     ["active_within_days", "seg-active-days"]
    ].forEach(function (pair) { var v = $(pair[1]).value; if (v !== "") r[pair[0]] = Number(v); });
    return r;
  }

  // --- rules in words ----------------------------------------------------------------------
  // "a", "a or b", "a, b or c".
  function either(values, word) {
    values = [].concat(values).map(String);
    if (values.length <= 1) return values.join("");
    return values.slice(0, -1).join(", ") + " " + (word || "or") + " " + values[values.length - 1];
  }
  function plural(n, one, many) { return n + " " + (Number(n) === 1 ? one : many); }
  function tierName(t) { return String(t).replace(/_/g, " "); }
  function shown(value) {
    if (Array.isArray(value)) return value.map(shown).join(", ");
    if (value !== null && typeof value === "object") return JSON.stringify(value);
    return String(value);
  }

  // Each rule key: [as a phrase in a list, as a clause after "Customers who"].
  var RULE_WORDS = {
    interests: function (v) { return ["interested in " + either(v), "are interested in " + either(v)]; },
    interest_sources: function (v) {
      return ["interest source: " + [].concat(v).join(", "),
              "have those interests from " + either(v) + " sources"];
    },
    categories: function (v) { return ["bought in " + either(v), "bought in " + either(v)]; },
    rfm_tiers: function (v) {
      var tiers = [].concat(v).map(tierName);
      return ["RFM tier: " + tiers.join(", "), "are in the RFM tier " + either(tiers)];
    },
    min_orders: function (v) {
      return ["at least " + plural(v, "order", "orders"), "have at least " + plural(v, "order", "orders")];
    },
    min_spent: function (v) {
      var money = KefuFormat.money(v);
      return ["spent at least " + money, "have spent at least " + money];
    },
    ordered_within_days: function (v) {
      return ["ordered within " + plural(v, "day", "days"),
              "ordered within the last " + plural(v, "day", "days")];
    },
    channels: function (v) { return ["reachable on " + either(v), "are reachable on " + either(v)]; },
    languages: function (v) { return ["language: " + [].concat(v).join(", "), "speak " + either(v)]; },
    tags: function (v) { return ["tagged " + either(v), "are tagged " + either(v)]; },
    active_within_days: function (v) {
      return ["active within " + plural(v, "day", "days"),
              "were active within the last " + plural(v, "day", "days")];
    }
  };

  // A segment's rules in words: "Interested in hiking · at least 2 orders" for the table, or
  // (asSentence) "Customers who are interested in hiking and have at least 2 orders". A key
  // this page does not know is shown as "key: value", so no rule is ever hidden.
  function describeRules(r, asSentence) {
    var parts = [];
    Object.keys(r || {}).forEach(function (key) {
      var value = r[key];
      if (value === null || value === undefined || (Array.isArray(value) && !value.length)) return;
      var words = Object.prototype.hasOwnProperty.call(RULE_WORDS, key) && RULE_WORDS[key](value);
      if (words) parts.push(words[asSentence ? 1 : 0]);
      else parts.push((asSentence ? "have " : "") + key + ": " + shown(value));
    });
    if (asSentence) {
      return parts.length ? "Customers who " + either(parts, "and") : "Every customer (no rules yet)";
    }
    if (!parts.length) return "Everyone";
    var text = parts.join(" · ");
    return text.charAt(0).toUpperCase() + text.slice(1);
  }

  function showSentence() {
    $("seg-sentence").textContent = describeRules(rules(), true);
  }

  // --- the values the store knows, offered while typing ------------------------------------
  var known = {};

  // A comma list's suggestions: what is typed so far, then each known value not yet in it
  // (a datalist offers whole values, so each option carries the list typed before it).
  function suggest(inputId, listId) {
    var input = $(inputId), box = $(listId), values = known[listId] || [];
    var typed = input.value, cut = typed.lastIndexOf(",");
    var before = cut < 0 ? "" : typed.slice(0, cut + 1).trim() + " ";
    var chosen = list(inputId).map(function (v) { return v.toLowerCase(); });
    box.textContent = "";
    values.forEach(function (v) {
      if (cut >= 0 && chosen.indexOf(String(v).toLowerCase()) >= 0) return;
      var option = document.createElement("option");
      option.value = before + v;
      box.appendChild(option);
    });
  }

  var SUGGESTED = [["seg-interests", "seg-known-interests", "interests"],
                   ["seg-categories", "seg-known-categories", "categories"],
                   ["seg-languages", "seg-known-languages", "languages"],
                   ["seg-tags", "seg-known-tags", "tags"]];

  function loadKnownValues() {
    return api("GET", "/api/segments/values").then(function (values) {
      SUGGESTED.forEach(function (s) {
        known[s[1]] = values[s[2]] || [];
        suggest(s[0], s[1]);
      });
    });
  }

  SUGGESTED.forEach(function (s) {
    $(s[0]).addEventListener("input", function () { suggest(s[0], s[1]); });
  });

  function cell(row, text) {
    var td = document.createElement("td");
    td.textContent = text;
    row.appendChild(td);
    return td;
  }

  function loadSegments() {
    return api("GET", "/api/segments").then(function (segments) {
      var body = $("segments"), select = $("camp-segment");
      body.textContent = "";
      select.textContent = "";
      segments.forEach(function (s) {
        var row = document.createElement("tr");
        cell(row, s.name);
        cell(row, describeRules(s.rules)).className = "rules";
        cell(row, String(s.audience));
        cell(row, String(s.members));
        body.appendChild(row);
        var option = document.createElement("option");
        option.value = s.id;
        option.textContent = s.name + " (" + s.audience + " reachable)";
        select.appendChild(option);
      });
    });
  }

  function button(text, className, onClick) {
    var b = document.createElement("button");
    b.type = "button";
    b.textContent = text;
    b.className = className;
    b.addEventListener("click", onClick);
    return b;
  }

  function statusText(c) {
    if (c.status === "draft" && c.scheduled_at) {
      return "draft (scheduled " + KefuFormat.dateTime(c.scheduled_at) + ")";
    }
    if (c.sent_at && c.status !== "draft") return c.status + " " + KefuFormat.dateTime(c.sent_at);
    return c.status;
  }

  function loadCampaigns() {
    return api("GET", "/api/campaigns").then(function (campaigns) {
      var body = $("campaigns");
      body.textContent = "";
      campaigns.forEach(function (c) {
        var row = document.createElement("tr");
        row.dataset.id = c.id;
        cell(row, c.name);
        cell(row, c.kind);
        cell(row, statusText(c)).className = "status";
        cell(row, String(c.recipients));
        var actions = cell(row, "");
        if (c.status === "draft") {
          actions.appendChild(button("Send now", "send", function () { sendCampaign(c.id); }));
          if (c.kind === "campaign") {
            actions.appendChild(button("Edit", "edit", function () { editCampaign(c); }));
          }
          if (c.scheduled_at) {
            actions.appendChild(button("Cancel schedule", "unschedule",
                                       function () { unscheduleCampaign(c); }));
          }
          actions.appendChild(button("Delete", "delete", function () { deleteCampaign(c); }));
        }
        actions.appendChild(button("Report", "report", function () { showReport(c.id); }));
        actions.appendChild(button("Send me a test", "test-send",
                                   function (event) { testSend(c, event.currentTarget); }));
        body.appendChild(row);
      });
    });
  }

  function sendCampaign(id) {
    api("POST", "/api/campaigns/" + id + "/send").then(function (result) {
      if (result.deferred_until) {
        toast("Quiet hours: it goes out at " + KefuFormat.dateTime(result.deferred_until));
      } else {
        toast(result.queued + " queued, " + result.capped + " held back by the frequency cap");
      }
      return loadCampaigns();
    }).catch(function (e) { toast(e.message, true); });
  }

  // The message, marked "[Test] ", to the marketer's own customer account: no delivery, no
  // report, the campaign unchanged (POST /api/campaigns/{id}/test-send).
  function testSend(c, trigger) {
    trigger.disabled = true;
    api("POST", "/api/campaigns/" + c.id + "/test-send").then(function (r) {
      toast("Test of " + c.name + " sent to your " + r.channel + " chat");
    }).catch(function (e) { toast(e.message, true); }).then(function () {
      trigger.disabled = false;
    });
  }

  function unscheduleCampaign(c) {
    api("DELETE", "/api/campaigns/" + c.id + "/schedule").then(function () {
      toast(c.name + " is a draft again: it goes out only when you send it");
      if (editing && editing.id === c.id) $("camp-when").value = "";
      return loadCampaigns();
    }).catch(function (e) { toast(e.message, true); });
  }

  function deleteCampaign(c) {
    if (!window.confirm("Delete the draft " + c.name + "?")) return;
    api("DELETE", "/api/campaigns/" + c.id).then(function () {
      toast("Deleted " + c.name);
      if (editing && editing.id === c.id) newCampaign();
      return loadCampaigns();
    }).catch(function (e) { toast(e.message, true); });
  }

  // --- the campaign form: a new campaign, or a draft being edited ------------------------
  var editing = null;

  function topicOption(topic) {
    var select = $("camp-segment");
    var old = select.querySelector("option.topic");
    if (old) select.removeChild(old);
    if (!topic) return;
    var option = document.createElement("option");
    // Not a segment id: saving leaves the campaign's topic as it is.
    option.value = "topic:" + topic;
    option.className = "topic";
    option.textContent = "Interest: " + topic;
    select.insertBefore(option, select.firstChild);
  }

  function editCampaign(c) {
    editing = c;
    $("camp-title").textContent = "Edit campaign: " + c.name;
    $("camp-create").textContent = "Save";
    $("camp-new").hidden = false;
    $("camp-name").value = c.name;
    $("camp-message").value = c.message;
    topicOption(c.segment_id === null ? c.topic : null);
    $("camp-segment").value = c.segment_id === null ? "topic:" + c.topic : String(c.segment_id);
    $("camp-when").value = KefuFormat.toShopInput(c.scheduled_at);
    $("preview").hidden = true;
    $("camp-name").focus();
  }

  function newCampaign() {
    editing = null;
    $("campaign-form").reset();
    topicOption(null);
    $("camp-title").textContent = "New campaign";
    $("camp-create").textContent = "Create";
    $("camp-new").hidden = true;
  }

  function showReport(id) {
    api("GET", "/api/campaigns/" + id + "/report").then(function (r) {
      $("report").hidden = false;
      $("report-title").textContent = "Report: " + r.name;
      var bars = [["Reached", r.reached], ["Queued", r.queued], ["Failed", r.failed],
                  ["Opted out", r.opted_out], ["Replies", r.replies], ["Orders (7 days)", r.orders]];
      drawBars($("report-chart"), bars);
      $("report-figures").textContent = (r.sent_at ? "Sent " + KefuFormat.dateTime(r.sent_at) + " · " : "") +
        r.recipients + " recipients; conversion " +
        (r.conversion * 100).toFixed(1) + "% (orders within 7 days per reached customer)";
    }).catch(function (e) { toast(e.message, true); });
  }

  function drawBars(svg, bars) {
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    var max = Math.max(1, Math.max.apply(null, bars.map(function (b) { return b[1]; })));
    var width = 520, height = 220, base = 180, slot = width / bars.length;
    bars.forEach(function (b, i) {
      var h = Math.round((base - 20) * b[1] / max);
      var rect = document.createElementNS(SVG, "rect");
      rect.setAttribute("x", String(i * slot + 12));
      rect.setAttribute("y", String(base - h));
      rect.setAttribute("width", String(slot - 24));
      rect.setAttribute("height", String(h));
      rect.setAttribute("fill", "#34457a");
      rect.setAttribute("data-label", b[0]);
      rect.setAttribute("data-value", String(b[1]));
      svg.appendChild(rect);
      var value = document.createElementNS(SVG, "text");
      value.setAttribute("x", String(i * slot + slot / 2));
      value.setAttribute("y", String(base - h - 4));
      value.setAttribute("text-anchor", "middle");
      value.textContent = String(b[1]);
      svg.appendChild(value);
      var label = document.createElementNS(SVG, "text");
      label.setAttribute("x", String(i * slot + slot / 2));
      label.setAttribute("y", String(base + 18));
      label.setAttribute("text-anchor", "middle");
      label.setAttribute("font-size", "11");
      label.textContent = b[0];
      svg.appendChild(label);
    });
  }

  $("seg-count").addEventListener("click", function () {
    api("POST", "/api/segments/count", { rules: rules() }).then(function (c) {
      $("seg-audience").textContent = c.audience + " reachable with consent (of " + c.members + ")";
    }).catch(function (e) { toast(e.message, true); });
  });

  $("segment-form").addEventListener("input", showSentence);
  $("segment-form").addEventListener("change", showSentence);
  showSentence();

  $("segment-form").addEventListener("submit", function (event) {
    event.preventDefault();
    api("POST", "/api/segments", { name: $("seg-name").value, rules: rules() }).then(function (s) {
      toast("Saved " + s.name + ": " + s.audience + " reachable");
      return loadSegments();
    }).catch(function (e) { toast(e.message, true); });
  });

  // A preview may wait for the product index (recommendations): say so while it does, on the
  // box and on the button, which takes no second click until the answer or an error comes.
  $("camp-preview").addEventListener("click", function () {
    var box = $("preview"), trigger = $("camp-preview");
    var label = trigger.textContent;
    box.hidden = false;
    box.textContent = "Preparing preview…";
    box.classList.add("pending");
    box.setAttribute("aria-busy", "true");
    trigger.disabled = true;
    trigger.classList.add("mk-busy");
    trigger.textContent = "Previewing…";
    var segment = Number($("camp-segment").value) || null;
    var body = { message: $("camp-message").value, segment_id: segment };
    function done() {
      box.classList.remove("pending");
      box.removeAttribute("aria-busy");
      trigger.disabled = false;
      trigger.classList.remove("mk-busy");
      trigger.textContent = label;
    }
    api("POST", "/api/campaigns/preview", body).then(function (p) {
      done();
      box.textContent = p.text + "\n[" + p.buttons.map(function (b) { return b.title; }).join("] [") + "]";
    }).catch(function (e) {
      done();
      box.hidden = true;
      toast(e.message, true);
    });
  });

  $("campaign-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var body = { name: $("camp-name").value, message: $("camp-message").value };
    var segment = Number($("camp-segment").value) || null;
    // The schedule is the shop's time, whatever the marketer's browser is set to.
    var when = KefuFormat.fromShopInput($("camp-when").value);
    var request;
    if (editing) {
      if (segment !== null) body.segment_id = segment;
      body.scheduled_at = when;
      request = api("PATCH", "/api/campaigns/" + editing.id, body).then(function (c) {
        toast("Saved " + c.name);
        newCampaign();
      });
    } else {
      body.segment_id = segment;
      if (when) body.scheduled_at = when;
      request = api("POST", "/api/campaigns", body).then(function (c) {
        toast("Created " + c.name + (c.scheduled_at
          ? " (scheduled " + KefuFormat.dateTime(c.scheduled_at) + ")" : ": send it from the list"));
      });
    }
    request.then(loadCampaigns).catch(function (e) { toast(e.message, true); });
  });

  $("camp-new").addEventListener("click", newCampaign);

  loadSegments().then(loadCampaigns).catch(function (e) { toast(e.message, true); });
  loadKnownValues().catch(function (e) { toast("Known values: " + e.message, true); });
})();
