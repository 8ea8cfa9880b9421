// Dates, times and money for the customer portal and the agent console, from Intl: one place for both pages.
// Each page says whose conventions apply: `locale()` and `timeZone()` are asked at each call, so the portal
// follows the customer's language and zone as soon as they are known (the console: the browser's own).

// formatters({locale, timeZone, month, zoneName}): month "long" (4 March 2026) or "short" (4 Mar 2026);
// zoneName: times carry their zone's name ("09:00 GMT"), so a reader abroad need not guess whose 09:00 it is.
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
    const options = { day: "numeric", month: "short", year: "numeric", hour: "numeric", minute: "2-digit",
      ...(zoneName ? { timeZoneName: "short" } : {}) };
    try {
      return new Intl.DateTimeFormat(locale(), { ...options, timeZone: timeZone() }).format(new Date(iso));
    } catch (err) {  // a zone the browser does not know: the browser's own
      return new Intl.DateTimeFormat(locale(), options).format(new Date(iso));
    }
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

// An amount of money times a count, in cents so that 3 × 0.10 is 0.30 (not 0.30000000000000004).
export function times(m, count) {
  return { amount: String(Math.round(Number(m.amount) * 100) * count / 100), currency: m.currency };
}
