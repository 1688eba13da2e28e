"""Salesforce stand-in, driven through simple-salesforce (and plain requests for OAuth)."""

from __future__ import annotations

import base64
import os
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import (
    SalesforceExpiredSession,
    SalesforceMalformedRequest,
    SalesforceRefusedRequest,
    SalesforceResourceNotFound,
)

from connector.local.sandbox import SalesforceUser, Sandbox

from .conftest import sf_client, sf_session

METADATA = os.path.join(os.path.dirname(__file__), "..", "..", "sfdc_metadata", "force-app", "main", "default")
FIELD = """<?xml version="1.0" encoding="UTF-8"?>
<CustomField xmlns="http://soap.sforce.com/2006/04/metadata">
    <fullName>{name}</fullName>{extra}
    <type>{type}</type>
</CustomField>
"""


def write_field(root, obj, name, type_="Text", **extra):
    folder = os.path.join(root, "objects", obj, "fields")
    os.makedirs(folder, exist_ok=True)
    tags = "".join(f"\n    <{k}>{v}</{k}>" for k, v in extra.items())
    with open(os.path.join(folder, f"{name}.field-meta.xml"), "w") as fh:
        fh.write(FIELD.format(name=name, type=type_, extra=tags))


@pytest.fixture(scope="module")
def strict_sandbox(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("metadata"))
    write_field(
        root, "LINE_Chat_Session__c", "Session_Key__c", externalId="true", unique="true", required="true", length=120
    )
    write_field(
        root, "LINE_Chat_Message__c", "Message_Key__c", externalId="true", unique="true", required="true", length=80
    )
    write_field(root, "LINE_Chat_Message__c", "Text__c", "LongTextArea", length=32768)
    write_field(
        root,
        "LINE_Chat_Message__c",
        "Chat_Session__c",
        "MasterDetail",
        referenceTo="LINE_Chat_Session__c",
        relationshipName="Chat_Session",
    )
    write_field(root, "Contact", "LINE_Contact_Key__c", externalId="true", unique="true", length=120)
    sandbox = Sandbox(metadata_dir=root).start()
    yield sandbox
    sandbox.stop()


@pytest.fixture
def strict_sf(strict_sandbox):
    strict_sandbox.reset()
    return sf_client(strict_sandbox)


# -- auth -----------------------------------------------------------------------------------


def test_password_login_returns_token_for_the_sandbox_instance(sb):
    response = sf_session(sb).post(
        sb.urls["salesforce"] + "/services/oauth2/token",
        data={
            "grant_type": "password",
            "username": "connector@sandbox.example",
            "password": "sandbox",
            "client_id": "sandbox-consumer-key",
            "client_secret": "any",
        },
    )
    body = response.json()
    assert response.status_code == 200 and body["instance_url"] == sb.urls["salesforce"]
    sf = Salesforce(instance_url=body["instance_url"], session_id=body["access_token"], session=sf_session(sb))
    assert sf.query("SELECT Id FROM User")["totalSize"] >= 1


def test_wrong_password_is_invalid_grant(sb):
    response = sf_session(sb).post(
        sb.urls["salesforce"] + "/services/oauth2/token",
        data={
            "grant_type": "password",
            "username": "connector@sandbox.example",
            "password": "nope",
            "client_id": "sandbox-consumer-key",
            "client_secret": "x",
        },
    )
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


class RedirectingSession:
    """Wraps a requests session so simple-salesforce's login.salesforce.com goes to the sandbox."""

    def __init__(self, session, url):
        self.session, self.url = session, url

    def post(self, url, *args, **kwargs):
        return self.session.post(url.replace("https://login.salesforce.com", self.url), *args, **kwargs)

    def __getattr__(self, name):
        return getattr(self.session, name)


def _rsa_pair():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return private, public


def test_jwt_bearer_login_with_simple_salesforce_verifies_signature():
    private, public = _rsa_pair()
    user = SalesforceUser("jwt@sandbox.example", "unused", "ck-jwt", public_key_pem=public)
    with Sandbox(salesforce_users=[user]) as sandbox:
        session = RedirectingSession(sf_session(sandbox), sandbox.urls["salesforce"])
        sf = Salesforce(username="jwt@sandbox.example", consumer_key="ck-jwt", privatekey=private, session=session)
        assert sf.query("SELECT COUNT() FROM User")["totalSize"] >= 1


def test_jwt_signed_with_another_key_is_rejected():
    _, public = _rsa_pair()
    other, _ = _rsa_pair()
    user = SalesforceUser("jwt@sandbox.example", "unused", "ck-jwt", public_key_pem=public)
    with Sandbox(salesforce_users=[user]) as sandbox:
        assertion = jwt.encode(
            {
                "iss": "ck-jwt",
                "sub": "jwt@sandbox.example",
                "aud": "https://login.salesforce.com",
                "exp": int(time.time()) + 180,
            },
            other,
            algorithm="RS256",
        )
        response = sf_session(sandbox).post(
            sandbox.urls["salesforce"] + "/services/oauth2/token",
            data={"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": assertion},
        )
        assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


def test_expired_session_is_401_invalid_session_id(sb, sf):
    sb.salesforce.expire_sessions()
    with pytest.raises(SalesforceExpiredSession) as err:
        sf.query("SELECT Id FROM Contact")
    assert err.value.content[0]["errorCode"] == "INVALID_SESSION_ID"


# -- limits ---------------------------------------------------------------------------------


def test_every_response_reports_api_usage(sb, sf):
    sf.query("SELECT Id FROM Contact")
    response = sf_session(sb).get(
        sb.urls["salesforce"] + "/services/data/v63.0/limits", headers={"Authorization": "Bearer " + sf.session_id}
    )
    assert response.headers["Sforce-Limit-Info"] == "api-usage=2/100000"


def test_daily_limit_exceeded_is_403(sb, sf):
    sb.salesforce.set_api_usage(100_000)
    with pytest.raises(SalesforceRefusedRequest) as err:  # simple-salesforce's name for 403
        sf.query("SELECT Id FROM Contact")
    assert err.value.status == 403
    assert err.value.content[0]["errorCode"] == "REQUEST_LIMIT_EXCEEDED"


def test_the_daily_limit_rolls_over_a_compressed_day(sb, sf):
    sb.salesforce.set_api_usage(0, 3)
    sb.salesforce.api_window_s = 0.5  # Salesforce's rolling 24 hours, compressed
    try:
        for _ in range(3):
            sf.query("SELECT Id FROM Contact")
        assert sf.api_usage["api-usage"].used == 3 and sf.api_usage["api-usage"].total == 3
        with pytest.raises(SalesforceRefusedRequest) as err:
            sf.query("SELECT Id FROM Contact")
        assert err.value.content[0]["errorCode"] == "REQUEST_LIMIT_EXCEEDED"
        time.sleep(0.6)  # the calls of that "day" age out
        sf.query("SELECT Id FROM Contact")
        assert sf.api_usage["api-usage"].used == 1
    finally:
        sb.salesforce.api_window_s = None


# -- sObjects -------------------------------------------------------------------------------


def test_upsert_creates_then_updates(sb, sf):
    assert sf.Contact.upsert("LINE_Contact_Key__c/1:U1", {"LastName": "Tanaka"}) == 201
    assert sf.Contact.upsert("LINE_Contact_Key__c/1:U1", {"LastName": "Sato"}) == 200
    [contact] = sb.salesforce.find("Contact", LINE_Contact_Key__c="1:U1")
    assert contact["LastName"] == "Sato" and contact["Id"].startswith("003")
    assert len(contact["Id"]) == 18


def test_count_agrees_with_find(sb, sf):
    for i, name in enumerate(["Tanaka", "Sato", "Tanaka"]):
        sf.Contact.upsert(f"LINE_Contact_Key__c/1:U{i}", {"LastName": name})
    assert (
        sb.salesforce.count("Contact", LastName="Tanaka") == len(sb.salesforce.find("Contact", LastName="Tanaka")) == 2
    )


def test_upsert_response_bodies_say_created_or_not(sb, sf):
    url = "sobjects/Contact/LINE_Contact_Key__c/1:U2"
    first = sf.restful(url, method="PATCH", json={"LastName": "A"})
    second = sf.restful(url, method="PATCH", json={"LastName": "B"})
    assert first["created"] is True and second["created"] is False
    assert first["id"] == second["id"] and first["success"] and first["errors"] == []


def test_relationship_by_external_id_resolves_to_parent_id(strict_sandbox, strict_sf):
    session_id = strict_sf.LINE_Chat_Session__c.create({"Session_Key__c": "s1"})["id"]
    strict_sf.LINE_Chat_Message__c.upsert(
        "Message_Key__c/m1", {"Chat_Session__r": {"Session_Key__c": "s1"}, "Text__c": "hi"}
    )
    [message] = strict_sandbox.salesforce.find("LINE_Chat_Message__c", Message_Key__c="m1")
    assert message["Chat_Session__c"] == session_id


def test_missing_parent_external_id_is_invalid_field(strict_sf):
    with pytest.raises(SalesforceMalformedRequest) as err:
        strict_sf.LINE_Chat_Message__c.upsert("Message_Key__c/m1", {"Chat_Session__r": {"Session_Key__c": "nope"}})
    assert err.value.content[0]["errorCode"] == "INVALID_FIELD"
    assert "Foreign key external ID: nope not found" in err.value.content[0]["message"]


def test_unknown_field_is_invalid_field_when_metadata_is_loaded(strict_sf):
    with pytest.raises(SalesforceMalformedRequest) as err:
        strict_sf.LINE_Chat_Session__c.create({"Session_Key__c": "s1", "Bogus__c": 1})
    assert err.value.content == [
        {"message": "No such column 'Bogus__c' on sobject of type LINE_Chat_Session__c", "errorCode": "INVALID_FIELD"}
    ]


def test_unknown_object_is_not_found_when_metadata_is_loaded(strict_sf):
    with pytest.raises(SalesforceResourceNotFound):
        strict_sf.Nope__c.create({"Name": "x"})


def test_missing_required_field_is_required_field_missing(strict_sf):
    with pytest.raises(SalesforceMalformedRequest) as err:
        strict_sf.LINE_Chat_Message__c.create({"Message_Key__c": "m1"})
    assert err.value.content[0]["errorCode"] == "REQUIRED_FIELD_MISSING"


def test_duplicate_unique_value_is_duplicate_value(strict_sf):
    strict_sf.LINE_Chat_Session__c.create({"Session_Key__c": "s1"})
    with pytest.raises(SalesforceMalformedRequest) as err:
        strict_sf.LINE_Chat_Session__c.create({"Session_Key__c": "s1"})
    assert err.value.content[0]["errorCode"] == "DUPLICATE_VALUE"


def test_autonumber_and_defaults_on_case(sb, sf):
    case_id = sf.Case.create({"Subject": "help", "Origin": "LINE"})["id"]
    case = sf.Case.get(case_id)
    assert case["Status"] == "New" and case["IsClosed"] is False
    assert case["CaseNumber"] == "00001001"
    assert case["CreatedDate"].endswith("+0000") and case["CreatedDate"][19] == "."


def test_content_version_creates_document_and_link_and_deletes_with_document(sb, sf):
    case_id = sf.Case.create({"Subject": "file"})["id"]
    version_id = sf.ContentVersion.create(
        {
            "Title": "photo",
            "PathOnClient": "photo.png",
            "FirstPublishLocationId": case_id,
            "VersionData": base64.b64encode(b"\x89PNG data").decode(),
        }
    )["id"]
    version = sf.ContentVersion.get(version_id)
    assert version_id.startswith("068") and version["ContentDocumentId"].startswith("069")
    links = sf.query(f"SELECT ContentDocumentId FROM ContentDocumentLink WHERE LinkedEntityId = '{case_id}'")
    assert links["records"][0]["ContentDocumentId"] == version["ContentDocumentId"]
    data = sf_session(sb).get(
        sb.urls["salesforce"] + version["VersionData"], headers={"Authorization": "Bearer " + sf.session_id}
    )
    assert data.content == b"\x89PNG data"
    with pytest.raises(SalesforceMalformedRequest):
        sf.ContentVersion.delete(version_id)
    sf.ContentDocument.delete(version["ContentDocumentId"])
    assert sb.salesforce.records("ContentVersion") == []
    assert sb.salesforce.records("ContentDocumentLink") == []


def test_platform_event_is_recorded(sb, sf):
    result = sf.LINE_Message_Event__e.create({"Session_Key__c": "s1"})
    assert result["success"] and sb.salesforce.events[0]["fields"] == {"Session_Key__c": "s1"}


# -- composite and collections --------------------------------------------------------------


def test_composite_resolves_references_and_counts_one_call(sb, sf):
    before = sb.salesforce.api_calls
    result = sf.restful(
        "composite",
        method="POST",
        json={
            "allOrNone": True,
            "compositeRequest": [
                {
                    "method": "POST",
                    "url": "/services/data/v63.0/sobjects/Account",
                    "referenceId": "acc",
                    "body": {"Name": "Acme"},
                },
                {
                    "method": "POST",
                    "url": "/services/data/v63.0/sobjects/Contact",
                    "referenceId": "con",
                    "body": {"LastName": "Tanaka", "AccountId": "@{acc.id}"},
                },
                {
                    "method": "GET",
                    "referenceId": "q",
                    "url": "/services/data/v63.0/query?q=SELECT+Id+FROM+Contact+WHERE+AccountId='@{acc.id}'",
                },
            ],
        },
    )
    statuses = [r["httpStatusCode"] for r in result["compositeResponse"]]
    assert statuses == [201, 201, 200]
    assert result["compositeResponse"][2]["body"]["totalSize"] == 1
    assert sb.salesforce.api_calls == before + 1


def test_composite_all_or_none_rolls_back(sb, sf):
    result = sf.restful(
        "composite",
        method="POST",
        json={
            "allOrNone": True,
            "compositeRequest": [
                {
                    "method": "POST",
                    "url": "/services/data/v63.0/sobjects/Account",
                    "referenceId": "a",
                    "body": {"Name": "Kept?"},
                },
                {
                    "method": "POST",
                    "url": "/services/data/v63.0/sobjects/Contact",
                    "referenceId": "b",
                    "body": {"FirstName": "no last name"},
                },
            ],
        },
    )
    first, second = result["compositeResponse"]
    assert second["body"][0]["errorCode"] == "REQUIRED_FIELD_MISSING"
    assert first["body"][0]["errorCode"] == "PROCESSING_HALTED"
    assert sb.salesforce.records("Account") == []


def test_collection_upsert_of_200_records_is_one_call(sb, sf):
    before = sb.salesforce.api_calls
    records = [
        {"attributes": {"type": "Contact"}, "LINE_Contact_Key__c": f"k{i}", "LastName": f"User {i}"} for i in range(200)
    ]
    results = sf.restful(
        "composite/sobjects/Contact/LINE_Contact_Key__c", method="PATCH", json={"allOrNone": False, "records": records}
    )
    assert len(results) == 200 and all(r["success"] and r["created"] for r in results)
    assert sb.salesforce.api_calls == before + 1
    again = sf.restful(
        "composite/sobjects/Contact/LINE_Contact_Key__c",
        method="PATCH",
        json={"allOrNone": False, "records": records[:3]},
    )
    assert [r["created"] for r in again] == [False, False, False]


def test_collection_all_or_none_reports_rolled_back_records(sb, sf):
    results = sf.restful(
        "composite/sobjects",
        method="POST",
        json={
            "allOrNone": True,
            "records": [
                {"attributes": {"type": "Account"}, "Name": "ok"},
                {"attributes": {"type": "Contact"}, "FirstName": "missing last name"},
            ],
        },
    )
    assert results[0]["errors"][0]["statusCode"] == "ALL_OR_NONE_OPERATION_ROLLED_BACK"
    assert results[1]["errors"][0]["statusCode"] == "REQUIRED_FIELD_MISSING"
    assert sb.salesforce.records("Account") == []


def test_collection_delete_and_retrieve(sb, sf):
    ids = [sf.Account.create({"Name": n})["id"] for n in ("a", "b")]
    got = sf.restful("composite/sobjects/Account", params={"ids": ",".join(ids), "fields": "Name"})
    assert [r["Name"] for r in got] == ["a", "b"]
    deleted = sf.restful("composite/sobjects", method="DELETE", params={"ids": ",".join(ids)})
    assert all(r["success"] for r in deleted) and sb.salesforce.records("Account") == []


def test_real_project_metadata_loads_if_present():
    if not os.path.isdir(os.path.join(METADATA, "objects")):
        pytest.skip("sfdc_metadata not written yet")
    with Sandbox(metadata_dir=METADATA) as sandbox:
        assert sandbox.salesforce.schema.strict
        assert sandbox.salesforce.schema.get("Contact").field("Id") is not None
