"""Deleting files the way a real org does: ContentDocument delete, the recycle bin, queryAll,
emptyRecycleBin, and the connector's purge resource (`/services/apexrest/line/files/purge`)."""

from __future__ import annotations

import base64
import time

import pytest
from simple_salesforce.exceptions import SalesforceMalformedRequest

from .conftest import sf_session


def upload(sf, case_id: str, data: bytes = b"\xff\xd8\xff id card") -> dict:
    version_id = sf.ContentVersion.create(
        {
            "Title": "id",
            "PathOnClient": "id.jpg",
            "FirstPublishLocationId": case_id,
            "VersionData": base64.b64encode(data).decode(),
        }
    )["id"]
    return sf.ContentVersion.get(version_id)


def bytes_of(sb, sf, version: dict) -> int:
    url = sb.urls["salesforce"] + version["VersionData"]
    return sf_session(sb).get(url, headers={"Authorization": "Bearer " + sf.session_id}).status_code


def deleted_rows(sf, type_name: str, where: str) -> list[dict]:
    return sf.query_all(f"SELECT Id, IsDeleted FROM {type_name} WHERE {where}", include_deleted=True)["records"]


@pytest.fixture
def case_id(sf):
    return sf.Case.create({"Subject": "identity check"})["id"]


def test_a_deleted_file_leaves_query_but_stays_visible_to_query_all(sb, sf, case_id):
    version = upload(sf, case_id)
    doc = version["ContentDocumentId"]
    sf.ContentDocument.delete(doc)
    assert sf.query(f"SELECT Id FROM ContentDocument WHERE Id = '{doc}'")["totalSize"] == 0
    assert [(r["Id"], r["IsDeleted"]) for r in deleted_rows(sf, "ContentDocument", f"Id = '{doc}'")] == [(doc, True)]
    assert [r["IsDeleted"] for r in deleted_rows(sf, "ContentVersion", f"ContentDocumentId = '{doc}'")] == [True]
    assert bytes_of(sb, sf, version) == 404


def test_empty_recycle_bin_removes_the_file_and_its_versions_from_query_all(sb, sf, case_id):
    doc = upload(sf, case_id)["ContentDocumentId"]
    sf.ContentDocument.delete(doc)
    assert sb.salesforce.empty_recycle_bin([doc]) == [{"id": doc, "success": True, "errors": []}]
    assert deleted_rows(sf, "ContentDocument", f"Id = '{doc}'") == []
    assert deleted_rows(sf, "ContentVersion", f"ContentDocumentId = '{doc}'") == []
    assert deleted_rows(sf, "ContentDocumentLink", f"ContentDocumentId = '{doc}'") == []


def test_empty_recycle_bin_refuses_a_live_record_and_more_than_200_ids(sb, sf, case_id):
    doc = upload(sf, case_id)["ContentDocumentId"]
    [result] = sb.salesforce.empty_recycle_bin([doc])
    assert not result["success"] and sf.query(f"SELECT Id FROM ContentDocument WHERE Id = '{doc}'")["totalSize"] == 1
    with pytest.raises(Exception, match="at most 200"):
        sb.salesforce.empty_recycle_bin([doc] * 201)


def test_the_org_purges_the_recycle_bin_after_its_retention(sb, sf, case_id):
    sb.salesforce.recycle_bin_s = 0.2  # the 15 days, compressed
    doc = upload(sf, case_id)["ContentDocumentId"]
    sf.ContentDocument.delete(doc)
    assert len(deleted_rows(sf, "ContentDocument", f"Id = '{doc}'")) == 1
    time.sleep(0.3)
    assert deleted_rows(sf, "ContentDocument", f"Id = '{doc}'") == []


def test_purge_resource_deletes_and_empties_the_bin_in_one_call(sb, sf, case_id):
    live = upload(sf, case_id)["ContentDocumentId"]
    binned = upload(sf, case_id)["ContentDocumentId"]
    sf.ContentDocument.delete(binned)
    kept = upload(sf, case_id)
    calls = sb.salesforce.api_calls
    answer = sf.apexecute("line/files/purge", method="POST", data={"documentIds": [live, binned]})
    assert answer == {
        "results": [{"documentId": live, "outcome": "purged"}, {"documentId": binned, "outcome": "purged"}]
    }
    assert sb.salesforce.api_calls == calls + 1
    assert deleted_rows(sf, "ContentDocument", f"Id IN ('{live}', '{binned}')") == []
    assert bytes_of(sb, sf, kept) == 200


def test_purge_resource_says_gone_for_a_file_already_purged(sb, sf, case_id):
    doc = upload(sf, case_id)["ContentDocumentId"]
    sf.apexecute("line/files/purge", method="POST", data={"documentIds": [doc]})
    again = sf.apexecute("line/files/purge", method="POST", data={"documentIds": [doc]})
    assert again == {"results": [{"documentId": doc, "outcome": "gone"}]}


def test_purge_resource_refuses_more_than_200_ids_or_other_ids(sb, sf, case_id):
    doc = upload(sf, case_id)["ContentDocumentId"]
    with pytest.raises(SalesforceMalformedRequest):
        sf.apexecute("line/files/purge", method="POST", data={"documentIds": [doc] * 201})
    with pytest.raises(SalesforceMalformedRequest):
        sf.apexecute("line/files/purge", method="POST", data={"documentIds": [case_id]})
    assert sf.query(f"SELECT Id FROM ContentDocument WHERE Id = '{doc}'")["totalSize"] == 1
