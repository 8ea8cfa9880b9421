// Dates, times and money for the customer portal and the agent console, from Intl: one place for both pages.
// Each page says whose conventions apply: `locale()` and `timeZone()` are asked at each call, so the portal
// follows the customer's language and zone as soon as they are known (the console: the browser's own).

// formatters({locale, timeZone, month, zoneName}): month "long" (4 March 2026) or "short" (4 Mar 2026);
// zoneName: times carry their zone's name ("09:00 GMT", "09:00 Vereinigtes Königreich (Ortszeit)", never "GMT+0"),
// so a reader abroad need not guess whose 09:00 it is.
export function formatters({ locale, timeZone = () => undefined, month = "short", zoneName = false }) {
  function formatDate(isoDate) {
    // a calendar date, the same day wherever the reader is (never shifted by a zone)
    if (!isoDate) return "—";
    const [y, m, d] = isoDate.split("-").map(Number);
    return new Intl.DateTimeFormat(locale(), { day: "numeric", month, year: "numeric", timeZone: "UTC" })
      .format(new Date(Date.UTC(y, m - 1, d)));
  }

  function formatDateTime(iso) {
    if (!iso) return "—";
    const options = { day: "numeric", month: "short", year: "numeric", hour: "numeric", minute: "2-digit" };
    let zone = timeZone();
    try {
      new Intl.DateTimeFormat(locale(), { timeZone: zone });
    } catch (err) {  // a zone the browser does not know: the browser's own
      zone = undefined;
    }
    const when = new Date(iso);
    if (!zoneName) return new Intl.DateTimeFormat(locale(), { ...options, timeZone: zone }).format(when);
    return zoneNamed(when, options, zone);
  }

  // The time with its zone as the locale names it in words: its short name where the locale has one ("GMT",
  // "MEZ", "UTC"), else the zone's generic name ("Vereinigtes Königreich (Ortszeit)", "Eastern Time"), else its
  // long name; an offset ("GMT+0", "UTC+1"), which is what Intl gives where the locale has no short name (German
  // for London), only when the locale names the zone no other way.
  function zoneNamed(when, options, zone) {
    let last = "";
    for (const timeZoneName of ["short", "longGeneric", "long"]) {
      let parts;
      try {
        parts = new Intl.DateTimeFormat(locale(), { ...options, timeZone: zone, timeZoneName }).formatToParts(when);
      } catch (err) {  // a browser without this width: the next
        continue;
      }
      last = parts.map((p) => p.value).join("");
      const name = (parts.find((p) => p.type === "timeZoneName") || { value: "" }).value;
      if (!OFFSET.test(name)) return last;
    }
    return last;
  }

  function money(m) {
    try {
      return new Intl.NumberFormat(locale(), { style: "currency", currency: m.currency }).format(Number(m.amount));
    } catch (err) {  // a currency code Intl does not know is still shown, as it came
      return `${m.amount} ${m.currency}`;
    }
  }

  return { formatDate, formatDateTime, money };
}

// a zone written as an offset from GMT/UTC, as Intl writes one it has no name for in the locale
const OFFSET = /^(GMT|UTC)\s*[+\-\u2212]\d/;

// An amount of money times a count, in cents so that 3 × 0.10 is 0.30 (not 0.30000000000000004).
export function times(m, count) {
  return { amount: String(Math.round(Number(m.amount) * 100) * count / 100), currency: m.currency };
}
