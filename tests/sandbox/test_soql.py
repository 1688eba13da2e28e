"""SOQL subset: parser errors and query semantics, through simple-salesforce."""

from __future__ import annotations

import pytest
from simple_salesforce.exceptions import SalesforceMalformedRequest

from connector.local.sandbox.soql import SoqlError, parse


@pytest.fixture
def contacts(sb):
    for first, last, city in [
        ("Aiko", "Tanaka", "Tokyo"),
        ("Ken", "Sato", None),
        ("Mei", "O'Brien", "Osaka"),
        ("Jun", "tanabe", "Tokyo"),
    ]:
        sb.salesforce.insert("Contact", {"FirstName": first, "LastName": last, "MailingCity": city})
    return sb


def names(result):
    return [r["LastName"] for r in result["records"]]


def test_where_with_and_or_not_and_parentheses(contacts, sf):
    result = sf.query(
        "SELECT LastName FROM Contact WHERE (MailingCity = 'tokyo' OR "
        "LastName = 'Sato') AND NOT LastName LIKE 'tanab%' ORDER BY LastName"
    )
    assert names(result) == ["Sato", "Tanaka"]


def test_string_escapes_in_literals(contacts, sf):
    assert names(sf.query("SELECT LastName FROM Contact WHERE LastName = 'O\\'Brien'")) == ["O'Brien"]


def test_in_and_null_comparisons(contacts, sf):
    result = sf.query("SELECT LastName FROM Contact WHERE FirstName IN ('Ken', 'Mei') AND MailingCity != null")
    assert names(result) == ["O'Brien"]


def test_order_desc_nulls_last_limit_offset(contacts, sf):
    result = sf.query("SELECT LastName FROM Contact ORDER BY MailingCity DESC NULLS LAST, LastName LIMIT 2 OFFSET 1")
    assert names(result) == ["Tanaka", "O'Brien"]  # tanabe < Tanaka: case-insensitive


def test_date_literals_and_datetimes(contacts, sf):
    assert sf.query("SELECT COUNT() FROM Contact WHERE CreatedDate = TODAY")["totalSize"] == 4
    assert sf.query("SELECT COUNT() FROM Contact WHERE CreatedDate < 2020-01-01T00:00:00.000+09:00")["totalSize"] == 0
    assert sf.query("SELECT COUNT() FROM Contact WHERE CreatedDate = LAST_N_DAYS:3")["totalSize"] == 4


def test_parent_fields_are_nested(contacts, sf):
    record = sf.query("SELECT Owner.Name, CreatedBy.Alias FROM Contact LIMIT 1")["records"][0]
    assert record["Owner"]["Name"] == "Sandbox Integration"
    assert record["Owner"]["attributes"]["type"] == "User"


def test_more_than_2000_rows_are_paged(sb, sf):
    for i in range(2100):
        sb.salesforce.insert("Account", {"Name": f"A{i:05d}"})
    first = sf.query("SELECT Name FROM Account ORDER BY Name")
    assert first["done"] is False and len(first["records"]) == 2000
    assert first["nextRecordsUrl"].startswith("/services/data/v63.0/query/")
    everything = sf.query_all("SELECT Name FROM Account ORDER BY Name")
    assert everything["totalSize"] == 2100 and len(everything["records"]) == 2100


def test_malformed_query_is_400(sb, sf):
    with pytest.raises(SalesforceMalformedRequest) as err:
        sf.query("SELECT FROM Contact")
    assert err.value.content[0]["errorCode"] == "MALFORMED_QUERY"


def test_parser_rejects_trailing_garbage():
    with pytest.raises(SoqlError):
        parse("SELECT Id FROM Contact LIMIT 5 banana")


def test_sosl_finds_substring_case_insensitively(contacts, sf):
    result = sf.search("FIND {TANA} IN ALL FIELDS RETURNING Contact(LastName ORDER BY LastName)")
    assert [r["LastName"] for r in result["searchRecords"]] == ["tanabe", "Tanaka"]
