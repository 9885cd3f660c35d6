"""Read a transaction log and summarise each customer for calibration (x, t_x, T).

Two layouts are read: CSV with a header row (columns chosen by name) and
whitespace-separated text without a header, such as the CDNOW sample (columns chosen by
1-based position; customer = 1, date = 3, amount = 5 by default, as in that file).
Purchases of one customer on one calendar day count as one transaction with the amounts
summed, the convention of the CLV literature (Fader, Hardie & Lee 2005).

Time is measured in weeks or months (a month is 52/12 weeks) from each customer's first
purchase. A transaction on the calibration end date belongs to the calibration period.
"""

from __future__ import annotations

import csv
import hashlib
import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pandas as pd

FORMATS = ("auto", "csv", "whitespace")
TIME_UNITS = ("week", "month")
DAYS_PER_UNIT = {"week": 7.0, "month": 7.0 * 52.0 / 12.0}

# Column names tried, case-insensitively, when a CSV column is not given.
CSV_DEFAULTS = {
    "customer": ("customer_id", "customer", "cust_id", "customerid", "client_id", "user_id", "id"),
    "date": ("date", "order_date", "transaction_date", "purchase_date", "invoice_date", "day"),
    "amount": ("amount", "sales", "value", "spend", "revenue", "total", "price"),
}
# 1-based positions in whitespace-separated text (the CDNOW layout).
WHITESPACE_DEFAULTS = {"customer": "1", "date": "3", "amount": "5"}
OPTION_OF = {"customer": "--customer-col", "date": "--date-col", "amount": "--amount-col"}
MAX_REPORTED_ROWS = 5


class TransactionError(ValueError):
    """A transaction log that cannot be read or summarised; ``str()`` is the user message."""


@dataclass(frozen=True)
class TransactionLog:
    """Transactions after merging same-day purchases, sorted by customer and day.

    Attributes
    ----------
    source : the file read.
    layout : 'csv' or 'whitespace', and the columns used, for reports.
    rows : data rows in the file (purchases before merging).
    sha256 : hex digest of the file's bytes.
    customer : (transactions,) customer ids (str).
    day : (transactions,) dates, numpy datetime64[D].
    amount : (transactions,) money spent that day (currency).
    """

    source: str
    layout: str
    rows: int
    sha256: str
    customer: np.ndarray
    day: np.ndarray
    amount: np.ndarray

    @property
    def n_transactions(self) -> int:
        """Transactions (customer-days)."""
        return len(self.day)

    @property
    def n_customers(self) -> int:
        """Distinct customers."""
        return len(np.unique(self.customer))


@dataclass(frozen=True)
class CustomerSummary:
    """Per-customer recency-frequency summary of a calibration period (and a holdout).

    Customers are those whose first purchase is before the calibration end; the first
    purchase is not a repeat transaction. Arrays have one entry per customer.

    Attributes
    ----------
    customer : ids (str).
    first_purchase : dates of the first purchase, datetime64[D].
    x : repeat transactions in the calibration period (transactions).
    t_x : time of the last calibration transaction since the first (time unit; 0 if x = 0).
    T : time from the first purchase to the calibration end (time unit).
    first_value : amount of the first transaction (currency).
    mean_repeat_value : mean amount of the x repeat transactions, NaN if x = 0 (currency).
    holdout_x : repeat transactions in (calibration end, holdout end], or None.
    time_unit : 'week' or 'month'.
    calibration_end, holdout_end : dates (holdout_end None without a holdout).
    log_first_day, log_last_day : first and last date in the log.
    later_customers : customers whose first purchase is on or after the calibration end
        (not summarised).
    source, sha256, layout, rows, n_transactions : the log's provenance.
    """

    customer: np.ndarray
    first_purchase: np.ndarray
    x: np.ndarray
    t_x: np.ndarray
    T: np.ndarray
    first_value: np.ndarray
    mean_repeat_value: np.ndarray
    holdout_x: np.ndarray | None
    time_unit: str
    calibration_end: date
    holdout_end: date | None
    log_first_day: date
    log_last_day: date
    later_customers: int
    source: str
    sha256: str
    layout: str
    rows: int
    n_transactions: int

    @property
    def n_customers(self) -> int:
        """Customers summarised."""
        return len(self.x)

    @property
    def repeat_transactions(self) -> int:
        """Repeat transactions in the calibration period, all customers."""
        return int(self.x.sum())

    @property
    def repeat_buyers(self) -> int:
        """Customers with at least one repeat transaction in the calibration period."""
        return int((self.x > 0).sum())

    @property
    def holdout_length(self) -> float | None:
        """Length of the holdout period (time unit), or None."""
        if self.holdout_end is None:
            return None
        return (self.holdout_end - self.calibration_end).days / DAYS_PER_UNIT[self.time_unit]

    @property
    def first_purchase_range(self) -> tuple[date, date]:
        """Earliest and latest first purchase among the customers summarised."""
        return _to_date(self.first_purchase.min()), _to_date(self.first_purchase.max())


def read_transactions(
    path: str | Path,
    *,
    customer_col: str | None = None,
    date_col: str | None = None,
    amount_col: str | None = None,
    fmt: str = "auto",
) -> TransactionLog:
    """Read a transaction log and merge each customer's same-day purchases.

    Parameters
    ----------
    path : CSV with a header row, or whitespace-separated text without one.
    customer_col, date_col, amount_col : CSV column names (or 1-based positions); in
        whitespace text, 1-based positions. ``None`` takes the defaults (CSV: common
        names such as customer_id, date, amount; whitespace: 1, 3 and 5, the CDNOW layout).
    fmt : 'auto' (a first line with a comma is CSV), 'csv' or 'whitespace'.

    Dates may be YYYY-MM-DD, YYYYMMDD or an ISO date-time (its calendar day is used).
    Amounts must be finite numbers >= 0.
    """
    path = Path(path)
    if fmt not in FORMATS:
        raise TransactionError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise TransactionError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise TransactionError(f"{path}: is a folder, not a transaction log") from None
    except OSError as err:
        raise TransactionError(f"{path}: cannot be read ({err.strerror})") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise TransactionError(
            f"{path}: not UTF-8 text ({err.reason} at byte {err.start})"
        ) from None
    lines = text.splitlines()
    first = next((line for line in lines if line.strip() and not line.startswith("#")), None)
    if first is None:
        raise TransactionError(f"{path}: the file is empty (no transactions)")
    if fmt == "auto":
        fmt = "csv" if "," in first else "whitespace"
    wanted = {"customer": customer_col, "date": date_col, "amount": amount_col}
    if fmt == "csv":
        rows, layout = _csv_rows(path, lines, wanted)
    else:
        rows, layout = _whitespace_rows(path, lines, wanted)

    customers, days, amounts, problems = [], [], [], []
    parse_day = _day_parser()
    for row in rows:
        if isinstance(row, str):
            problems.append(row)
            continue
        line_number, customer, day_text, amount_text = row
        try:
            if not customer:
                raise ValueError("empty customer id")
            day = parse_day(day_text)
            amount = _parse_amount(amount_text)
        except ValueError as err:
            problems.append(f"{path}:{line_number}: {err}")
            continue
        customers.append(customer)
        days.append(day)
        amounts.append(amount)
    if problems:
        shown = problems[:MAX_REPORTED_ROWS]
        more = len(problems) - len(shown)
        if more:
            shown.append(f"... and {more} more bad row{'s' if more > 1 else ''}")
        raise TransactionError("bad rows in the transaction log:\n" + "\n".join(shown))
    if not customers:
        raise TransactionError(f"{path}: no transactions (the file has a header only)")

    frame = pd.DataFrame(
        {"customer": customers, "day": np.array(days, dtype="datetime64[D]"), "amount": amounts}
    )
    merged = frame.groupby(["customer", "day"], sort=True, as_index=False)["amount"].sum()
    n_customers = merged["customer"].nunique()
    if n_customers < 2:
        raise TransactionError(
            f"{path}: only one customer ({merged['customer'].iloc[0]!r}); calibration needs "
            "the purchase histories of many customers"
        )
    return TransactionLog(
        source=str(path),
        layout=layout,
        rows=len(frame),
        sha256=hashlib.sha256(raw).hexdigest(),
        customer=merged["customer"].to_numpy(dtype=object),
        day=merged["day"].to_numpy(dtype="datetime64[D]"),
        amount=merged["amount"].to_numpy(dtype=float),
    )


def summarize_customers(
    log: TransactionLog,
    calibration_end: date,
    *,
    holdout_end: date | None = None,
    time_unit: str = "week",
) -> CustomerSummary:
    """Summarise each customer's calibration period as (x, t_x, T) in ``time_unit``.

    Parameters
    ----------
    log : transactions, same-day purchases merged.
    calibration_end : last day of the calibration period (included); not after the log's
        last day.
    holdout_end : last day of the holdout period (included), after ``calibration_end``
        and not after the log's last day; or None.
    time_unit : 'week' or 'month' (52/12 weeks).

    Raises
    ------
    TransactionError : a date outside the log, or fewer than 2 customers to summarise.
    """
    if time_unit not in TIME_UNITS:
        raise TransactionError(
            f"time unit must be one of {', '.join(TIME_UNITS)}, got {time_unit!r}"
        )
    if holdout_end is not None and holdout_end <= calibration_end:
        raise TransactionError(
            f"holdout end {holdout_end} must be after the calibration end {calibration_end}"
        )
    log_first, log_last = _to_date(log.day.min()), _to_date(log.day.max())
    span = f"the log runs from {log_first} to {log_last}"
    if calibration_end > log_last:
        raise TransactionError(
            f"calibration end {calibration_end} is after the log's last day {log_last} "
            f"({span}): the days past it hold no transactions, so every customer would look "
            f"inactive then and the fit would be biased; give {log_last} or earlier"
        )
    if holdout_end is not None and holdout_end > log_last:
        raise TransactionError(
            f"holdout end {holdout_end} is after the log's last day {log_last} ({span}), so "
            f"the holdout counts would be incomplete; give {log_last} or earlier"
        )
    days_per_unit = DAYS_PER_UNIT[time_unit]
    end = np.datetime64(calibration_end, "D")
    frame = pd.DataFrame({"customer": log.customer, "day": log.day, "amount": log.amount})
    by_customer = frame.groupby("customer", sort=True)
    first_day = by_customer["day"].min()
    kept = first_day[first_day < end].index
    later = len(first_day) - len(kept)
    if len(kept) < 2:
        raise TransactionError(
            f"{log.source}: {len(kept)} customer{'s' if len(kept) != 1 else ''} made a first "
            f"purchase before the calibration end {calibration_end} (the log runs from "
            f"{log_first} to {log_last}); calibration needs at least 2, in practice hundreds"
        )
    frame = frame[frame["customer"].isin(kept)]
    first_day = first_day.loc[kept]
    calibration = frame[frame["day"] <= end]
    grouped = calibration.groupby("customer", sort=True)
    count = grouped["day"].count()
    last_day = grouped["day"].max()
    total = grouped["amount"].sum()
    first_value = grouped["amount"].first()  # rows are sorted by day within a customer

    x = (count - 1).to_numpy(dtype=np.int64)
    elapsed_last = (last_day - first_day).dt.days.to_numpy(dtype=float)
    elapsed_end = (end - first_day.to_numpy()).astype("timedelta64[D]").astype(float)
    repeat_total = (total - first_value).to_numpy(dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_repeat = np.where(x > 0, repeat_total / np.maximum(x, 1), np.nan)

    holdout_x = None
    if holdout_end is not None:
        stop = np.datetime64(holdout_end, "D")
        holdout = frame[(frame["day"] > end) & (frame["day"] <= stop)]
        holdout_x = (
            holdout.groupby("customer")["day"].count().reindex(kept, fill_value=0)
        ).to_numpy(dtype=np.int64)

    return CustomerSummary(
        customer=np.asarray(kept, dtype=object),
        first_purchase=first_day.to_numpy(dtype="datetime64[D]"),
        x=x,
        t_x=elapsed_last / days_per_unit,
        T=elapsed_end / days_per_unit,
        first_value=first_value.to_numpy(dtype=float),
        mean_repeat_value=mean_repeat,
        holdout_x=holdout_x,
        time_unit=time_unit,
        calibration_end=calibration_end,
        holdout_end=holdout_end,
        log_first_day=log_first,
        log_last_day=log_last,
        later_customers=later,
        source=log.source,
        sha256=log.sha256,
        layout=log.layout,
        rows=log.rows,
        n_transactions=log.n_transactions,
    )


def parse_date(text: str) -> date:
    """A calendar date from YYYY-MM-DD, YYYYMMDD or an ISO date-time; ValueError if not."""
    text = text.strip()
    try:
        return date.fromisoformat(text)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(text).date()
    except ValueError:
        raise ValueError(
            f"bad date {text!r} (expected YYYY-MM-DD, YYYYMMDD or an ISO date-time)"
        ) from None


# -- layouts -----------------------------------------------------------------------------
Row = tuple[int, str, str, str]  # line number, customer, date text, amount text


def _csv_rows(path: Path, lines: list[str], wanted: dict) -> tuple[Iterator[Row | str], str]:
    reader = csv.reader(lines)
    header = None
    for fields in reader:
        if fields and any(f.strip() for f in fields) and not fields[0].startswith("#"):
            header = [f.strip() for f in fields]
            break
    if header is None:
        raise TransactionError(f"{path}: the file is empty (no transactions)")
    index = {role: _csv_column(path, header, role, given) for role, given in wanted.items()}
    layout = "csv columns: " + ", ".join(f"{role} {header[i]!r}" for role, i in index.items())
    needed = max(index.values()) + 1

    def rows() -> Iterator[Row | str]:
        for fields in reader:
            if not fields or not any(f.strip() for f in fields):
                continue
            line = reader.line_num
            if len(fields) < needed:
                missing = ", ".join(repr(header[i]) for i in index.values() if i >= len(fields))
                yield f"{path}:{line}: missing column {missing}"
                continue
            yield (
                line,
                fields[index["customer"]].strip(),
                fields[index["date"]],
                fields[index["amount"]],
            )

    return rows(), layout


def _csv_column(path: Path, header: list[str], role: str, given: str | None) -> int:
    lowered = [h.lower() for h in header]
    if given is None:
        for name in CSV_DEFAULTS[role]:
            if name in lowered:
                return lowered.index(name)
        hint = " (one column: is the file whitespace-separated? try --format whitespace)"
        raise TransactionError(
            f"{path}: no {role} column found among {', '.join(map(repr, header))}; "
            f"name it with {OPTION_OF[role]} (tried {', '.join(CSV_DEFAULTS[role])})"
            + (hint if len(header) == 1 else "")
        )
    if given in header:
        return header.index(given)
    if given.lower() in lowered:
        return lowered.index(given.lower())
    if given.isdigit() and 1 <= int(given) <= len(header):
        return int(given) - 1
    raise TransactionError(
        f"{path}: {OPTION_OF[role]} {given!r} is not a column; the header has "
        f"{', '.join(map(repr, header))} (or give a position 1..{len(header)})"
    )


def _whitespace_rows(path: Path, lines: list[str], wanted: dict) -> tuple[Iterator[Row | str], str]:
    index = {}
    for role, given in wanted.items():
        text = WHITESPACE_DEFAULTS[role] if given is None else given
        if not text.isdigit() or int(text) < 1:
            raise TransactionError(
                f"{path}: {OPTION_OF[role]} {text!r}: whitespace-separated text has no "
                "header, so give a column position 1, 2, ... (or use a CSV file with a header)"
            )
        index[role] = int(text) - 1
    layout = "whitespace columns: " + ", ".join(f"{role} {i + 1}" for role, i in index.items())
    needed = max(index.values()) + 1

    def rows() -> Iterator[Row | str]:
        for line_number, line in enumerate(lines, start=1):
            if not line.strip() or line.startswith("#"):
                continue
            fields = line.split()
            if len(fields) < needed:
                yield (
                    f"{path}:{line_number}: missing column: {len(fields)} "
                    f"field{'s' if len(fields) != 1 else ''}, need {needed} (customer "
                    f"{index['customer'] + 1}, date {index['date'] + 1}, amount "
                    f"{index['amount'] + 1})"
                )
                continue
            yield (
                line_number,
                fields[index["customer"]],
                fields[index["date"]],
                fields[index["amount"]],
            )

    return rows(), layout


def _day_parser():
    cache: dict[str, date] = {}

    def parse(text: str) -> date:
        found = cache.get(text)
        if found is None:
            found = cache[text] = parse_date(text)
        return found

    return parse


def _parse_amount(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"amount {text.strip()!r} is not a number") from None
    if not math.isfinite(value):
        raise ValueError(f"amount {text.strip()!r} is not a finite number")
    if value < 0:
        raise ValueError(
            f"negative amount {value:g}: returns and refunds are not supported, net them "
            "into the purchase or drop the row"
        )
    return value


def _to_date(day) -> date:
    return pd.Timestamp(day).date()
