// Dates, times and money on every staff page, written the shop's way: the locale, time zone
// and currency come from <meta name="kefu-shop"> (staff_page.html, from policy/shop.yml), so
// a UK shop reads "18 Nov 2026, 14:05" and "€49.90" whatever the browser's own settings.
//   KefuFormat.dateTime(iso)      "18 Nov 2026, 14:05" in the shop's time zone
//   KefuFormat.parse(iso)         a Date (a timestamp without a zone is UTC, as stored)
//   KefuFormat.day("2026-11-18")  "18 Nov 2026" (a calendar day; dayMonth: "18 Nov")
//   KefuFormat.money(49.9, "EUR") "€49.90" (currency: the shop's when left out)
//   KefuFormat.toShopInput(iso)   "2026-11-18T14:05" for an <input type="datetime-local">
//   KefuFormat.fromShopInput(v)   that input's value, read as the shop's time, as ISO UTC
window.KefuFormat = (function () {
  "use strict";
  var meta = document.querySelector('meta[name="kefu-shop"]');
  var data = meta ? meta.dataset : {};
  var locale = data.locale || undefined;
  var timeZone = data.timeZone || "UTC";
  var currency = data.currency || "EUR";
  var cache = {};

  function formatter(key, options) {
    if (!cache[key]) cache[key] = new Intl.DateTimeFormat(locale, options);
    return cache[key];
  }

  // The store keeps UTC; a timestamp that came without a zone is UTC, not the browser's time.
  function parse(iso) {
    if (iso instanceof Date) return iso;
    var text = String(iso);
    if (/T\d\d:\d\d/.test(text) && !/(Z|[+-]\d\d:?\d\d)$/.test(text)) text += "Z";
    return new Date(text);
  }

  function dateTime(iso) {
    if (!iso) return "";
    var date = parse(iso);
    if (isNaN(date.getTime())) return String(iso);
    return formatter("dateTime", { dateStyle: "medium", timeStyle: "short", timeZone: timeZone })
      .format(date);
  }

  // A calendar day ("2026-11-18") is the same day everywhere: formatted at UTC midnight in UTC.
  function day(text, options) {
    if (!text) return "";
    var date = new Date(String(text).slice(0, 10) + "T00:00:00Z");
    if (isNaN(date.getTime())) return String(text);
    var key = "day" + JSON.stringify(options || {});
    return formatter(key, Object.assign({ dateStyle: "medium" }, options || {}, { timeZone: "UTC" }))
      .format(date);
  }

  function dayMonth(text) { return day(text, { dateStyle: undefined, day: "numeric", month: "short" }); }

  function money(amount, code) {
    if (amount === null || amount === undefined || amount === "") return "";
    var value = Number(amount);
    if (isNaN(value)) return String(amount);
    return new Intl.NumberFormat(locale, { style: "currency", currency: code || currency })
      .format(value);
  }

  // The wall-clock parts of a moment in the shop's time zone.
  function parts(date) {
    var out = {};
    formatter("parts", { timeZone: timeZone, hourCycle: "h23", year: "numeric", month: "2-digit",
                         day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" })
      .formatToParts(date).forEach(function (p) { out[p.type] = p.value; });
    return out;
  }

  function pad(n) { return String(n).padStart(2, "0"); }

  function toShopInput(iso) {
    if (!iso) return "";
    var p = parts(parse(iso));
    return p.year + "-" + p.month + "-" + p.day + "T" + p.hour + ":" + p.minute;
  }

  // How far the shop's clock is ahead of UTC at `date`, in milliseconds.
  function offset(date) {
    var p = parts(date);
    var wall = Date.UTC(Number(p.year), Number(p.month) - 1, Number(p.day), Number(p.hour),
                        Number(p.minute), Number(p.second));
    return wall - Math.floor(date.getTime() / 1000) * 1000;
  }

  function fromShopInput(value) {
    var m = /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d)/.exec(value || "");
    if (!m) return null;
    var wall = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]));
    var guess = wall - offset(new Date(wall));
    // Across a change of the clocks the offset at the answer may differ from the first guess.
    guess = wall - offset(new Date(guess));
    return new Date(guess).toISOString();
  }

  return { locale: locale, timeZone: timeZone, currency: currency, parse: parse, dateTime: dateTime,
           day: day, dayMonth: dayMonth, money: money, toShopInput: toShopInput,
           fromShopInput: fromShopInput };
})();
