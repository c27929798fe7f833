"""Date phrases in a query -> the taken_from/taken_to filters (when the photo was taken).

Understood (case-insensitive, anywhere in the query, "taken"/"in"/"from"/"during" before them
are dropped too): a year at the start or after one of those words ("2019 beach", "in 2019"; "bib
number 2019" stays a number to find), a season or month with a year ("summer 2021",
"june 2020", "june of 2020"), and relative ones: "this/last year", "this/last month",
"this/last summer|winter|spring|autumn|fall", "yesterday", "today".  Seasons are the northern
hemisphere's meteorological ones (summer = June to August; winter = December to February,
"winter 2021" being December 2020 to February 2021).  Anything else stays a word.
"""
import calendar
from datetime import date, datetime, timedelta, timezone

MONTHS = {name.lower(): n for n, name in enumerate(calendar.month_name) if name}
MONTHS.update({name.lower(): n for n, name in enumerate(calendar.month_abbr) if name})
MONTHS.pop("may", None)         # "may" is too often a word; "may 2020" still works below
SEASONS = {"spring": 3, "summer": 6, "autumn": 9, "fall": 9, "winter": 12}   # first month
LEADING = ("taken", "in", "from", "during", "since", "of", "shot")


def _year(word):
    return int(word) if len(word) == 4 and word.isdigit() and 1900 <= int(word) <= 2100 else None


def _month_span(year, month, months):
    first = date(year, month, 1)
    end_month = month + months
    last = date(year + (end_month - 1) // 12, (end_month - 1) % 12 + 1, 1) - timedelta(days=1)
    return first, last


def _season(year, name):
    start = SEASONS[name]
    if start == 12:                 # winter YEAR: December YEAR-1 to February YEAR
        return _month_span(year - 1, 12, 3)
    return _month_span(year, start, 3)


def _last_season(today, name, this):
    """The most recent such season that has begun ("this") or ended before today ("last")."""
    for year in (today.year + 1, today.year, today.year - 1, today.year - 2):
        first, last = _season(year, name)
        if (this and first <= today) or (not this and last < today):
            return first, last
    return None


def read(words, today=None):
    """(filters, remaining words, the words read as dates) for a list of query tokens."""
    today = today or datetime.now(timezone.utc).date()
    out, spans, used = [], [], []
    i = 0
    while i < len(words):
        span, width = _match(words, i, today)
        if span is None:
            out.append(words[i])
            i += 1
            continue
        lead = []
        while out and out[-1] in LEADING:
            lead.insert(0, out.pop())
        used.extend(lead)
        spans.append(span)
        used.extend(words[i:i + width])
        i += width
    if not spans:
        return {}, words, []
    first = min(s[0] for s in spans)
    last = max(s[1] for s in spans)
    return {"taken_from": first.isoformat(), "taken_to": last.isoformat()}, out, used


def _standalone(words, i):
    """A bare year is a date only after "in", "from", "taken"... or alone ("2019", "2019 beach"),
    never after other words: "sign that says 2019", "bib number 2019" are numbers to find."""
    return i == 0 or words[i - 1] in LEADING


def starts(words, today=None):
    """True when the words begin with a date phrase."""
    return bool(words) and _match(words, 0, today or datetime.now(timezone.utc).date())[0] is not None


def _match(words, i, today):
    """((first day, last day), number of words) of a date phrase starting at words[i], or (None, 0)."""
    word = words[i]
    nxt = words[i + 1] if i + 1 < len(words) else ""
    after = words[i + 2] if i + 2 < len(words) else ""
    year = _year(word)
    if year and _standalone(words, i):
        return (date(year, 1, 1), date(year, 12, 31)), 1
    named_year = _year(nxt) or (nxt == "of" and _year(after))
    width = 2 if _year(nxt) else 3
    if word in SEASONS and named_year:
        return _season(named_year, word), width
    if (word in MONTHS or word == "may") and named_year:
        return _month_span(named_year, MONTHS.get(word, 5), 1), width
    if word in ("this", "last") and nxt:
        this = word == "this"
        if nxt == "year":
            y = today.year if this else today.year - 1
            return (date(y, 1, 1), date(y, 12, 31)), 2
        if nxt == "month":
            first = today.replace(day=1) if this else (today.replace(day=1) - timedelta(days=1)).replace(day=1)
            return _month_span(first.year, first.month, 1), 2
        if nxt in SEASONS:
            span = _last_season(today, nxt, this)
            return (span, 2) if span else (None, 0)
    if word == "yesterday":
        return (today - timedelta(days=1), today - timedelta(days=1)), 1
    if word == "today":
        return (today, today), 1
    return None, 0
