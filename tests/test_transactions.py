"""Reading transaction logs and summarising customers (x, t_x, T): CDNOW counts, layouts, errors."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pytest

from splitsim.calibration.transactions import (
    DAYS_PER_UNIT,
    TransactionError,
    read_transactions,
    summarize_customers,
)

CDNOW = Path(__file__).resolve().parents[1] / "data" / "cdnow" / "CDNOW_sample.txt"
# The literature's calibration period: the first 39 weeks of 1997, counted from 1997-01-01,
# i.e. up to 1997-09-30 included (customer 1, first purchase 1997-01-01, has T = 38.86).
CALIBRATION_END = date(1997, 9, 30)
HOLDOUT_END = date(1998, 6, 30)


def write(tmp_path: Path, text: str, name: str = "log.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def cdnow_log():
    return read_transactions(CDNOW)


def test_cdnow_counts_match_the_literature(cdnow_log):
    """6,919 rows, 2,357 customers; 2,457 repeat transactions in calibration, 1,882 in holdout."""
    assert cdnow_log.rows == 6919
    assert cdnow_log.n_customers == 2357
    assert cdnow_log.layout == "whitespace columns: customer 1, date 3, amount 5"
    summary = summarize_customers(cdnow_log, CALIBRATION_END, holdout_end=HOLDOUT_END)
    assert summary.n_customers == 2357
    assert summary.later_customers == 0
    assert summary.repeat_transactions == 2457
    assert int(summary.holdout_x.sum()) == 1882
    assert summary.repeat_transactions + int(summary.holdout_x.sum()) == 4339
    assert summary.repeat_buyers == 946
    assert summary.holdout_length == pytest.approx(273 / 7)


def test_cdnow_first_customer_summary(cdnow_log):
    """Customer 1 (master id 00004): x = 2, t_x = 30.43, T = 38.86 weeks, as published."""
    summary = summarize_customers(cdnow_log, CALIBRATION_END)
    i = list(summary.customer).index("00004")
    assert summary.x[i] == 2
    assert summary.t_x[i] == pytest.approx(213 / 7)
    assert summary.T[i] == pytest.approx(272 / 7)
    assert summary.first_value[i] == pytest.approx(29.33)
    assert summary.mean_repeat_value[i] == pytest.approx((29.73 + 14.96) / 2)
    monthly = summarize_customers(cdnow_log, CALIBRATION_END, time_unit="month")
    assert monthly.T[i] == pytest.approx(summary.T[i] / (52 / 12))
    assert DAYS_PER_UNIT["month"] == pytest.approx(7 * 52 / 12)


def test_same_day_purchases_are_one_transaction(tmp_path):
    path = write(
        tmp_path,
        "customer_id,date,amount\n"
        "a,2024-01-01,10\n"
        "a,2024-01-01,5.5\n"
        "a,2024-01-08,3\n"
        "b,2024-01-02,7\n"
        "a,2024-01-08,1\n",
    )
    log = read_transactions(path)
    assert log.rows == 5
    assert log.n_transactions == 3
    assert log.amount.tolist() == [15.5, 4.0, 7.0]
    summary = summarize_customers(log, date(2024, 1, 8))  # the log's last day
    assert summary.x.tolist() == [1, 0]
    assert summary.t_x.tolist() == [1.0, 0.0]
    assert summary.T.tolist() == pytest.approx([1.0, 6 / 7])
    assert summary.first_value.tolist() == [15.5, 7.0]
    assert summary.mean_repeat_value[0] == 4.0
    assert np.isnan(summary.mean_repeat_value[1])


def test_csv_columns_by_name_position_and_defaults(tmp_path):
    text = "Client,Order Date,Qty,Total\nx1,20240101,1,9.5\nx2,2024-01-03T10:15:00,2,4\n"
    path = write(tmp_path, text)
    log = read_transactions(
        path, customer_col="Client", date_col="order date", amount_col="4", fmt="csv"
    )
    assert log.layout == "csv columns: customer 'Client', date 'Order Date', amount 'Total'"
    assert log.customer.tolist() == ["x1", "x2"]
    assert log.day.astype(str).tolist() == ["2024-01-01", "2024-01-03"]
    assert log.amount.tolist() == [9.5, 4.0]
    with pytest.raises(TransactionError, match=r"no customer column found .*--customer-col"):
        read_transactions(path)
    with pytest.raises(TransactionError, match=r"--amount-col 'price' is not a column"):
        read_transactions(path, customer_col="Client", date_col="Order Date", amount_col="price")


def test_whitespace_columns_by_position(tmp_path):
    path = write(tmp_path, "7 2024-01-01 12.5\n8 2024-01-02 3\n", name="log.txt")
    log = read_transactions(path, customer_col="1", date_col="2", amount_col="3")
    assert log.customer.tolist() == ["7", "8"]
    assert log.amount.tolist() == [12.5, 3.0]
    with pytest.raises(TransactionError, match=r"no\s+header, so give a column position"):
        read_transactions(path, customer_col="customer", date_col="2", amount_col="3")


@pytest.mark.parametrize(
    "row, message",
    [
        ("b,2024-13-01,5", r"log.csv:3: bad date '2024-13-01'"),
        ("b,2024-01-02,five", r"log.csv:3: amount 'five' is not a number"),
        ("b,2024-01-02,nan", r"log.csv:3: amount 'nan' is not a finite number"),
        ("b,2024-01-02,-3", r"log.csv:3: negative amount -3"),
        ("b,2024-01-02", r"log.csv:3: missing column 'amount'"),
        (",2024-01-02,1", r"log.csv:3: empty customer id"),
    ],
)
def test_bad_csv_rows_name_file_and_line(tmp_path, row, message):
    path = write(tmp_path, f"customer,date,amount\na,2024-01-01,1\n{row}\nc,2024-01-03,2\n")
    with pytest.raises(TransactionError, match=message):
        read_transactions(path)


def test_bad_whitespace_rows_are_all_reported(tmp_path):
    path = write(
        tmp_path,
        " 1 1 19970101 1 10.0\n 2 2 19970102 1\n 3 3 1997013 1 5.0\n 4 4 19970104 1 x\n",
        name="log.txt",
    )
    with pytest.raises(TransactionError) as caught:
        read_transactions(path)
    message = str(caught.value)
    assert "log.txt:2: missing column: 4 fields, need 5" in message
    assert "log.txt:3: bad date '1997013'" in message
    assert "log.txt:4: amount 'x' is not a number" in message


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "the file is empty"),
        ("\n  \n", "the file is empty"),
        ("customer,date,amount\n", "header only"),
        ("customer,date,amount\na,2024-01-01,1\na,2024-02-01,2\n", "only one customer"),
    ],
)
def test_empty_and_one_customer_logs_are_refused(tmp_path, text, message):
    with pytest.raises(TransactionError, match=message):
        read_transactions(write(tmp_path, text))


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(TransactionError, match="no such file"):
        read_transactions(tmp_path / "absent.csv")


def test_calibration_window_rules(tmp_path):
    """A purchase on the calibration end counts; later first purchases are left out."""
    path = write(
        tmp_path,
        "customer,date,amount\n"
        "a,2024-01-01,1\na,2024-01-29,1\na,2024-02-05,1\n"
        "b,2024-01-15,1\nb,2024-03-01,1\n"
        "c,2024-01-29,1\n"
        "d,2024-02-20,1\n",
    )
    log = read_transactions(path)
    summary = summarize_customers(log, date(2024, 1, 29), holdout_end=date(2024, 3, 1))
    assert summary.customer.tolist() == ["a", "b"]
    assert summary.later_customers == 2
    assert summary.x.tolist() == [1, 0]
    assert summary.t_x.tolist() == [4.0, 0.0]
    assert summary.holdout_x.tolist() == [1, 1]
    with pytest.raises(TransactionError, match="must be after the calibration end"):
        summarize_customers(log, date(2024, 1, 29), holdout_end=date(2024, 1, 29))
    with pytest.raises(TransactionError, match="1 customer made a first purchase before"):
        summarize_customers(log, date(2024, 1, 10))
