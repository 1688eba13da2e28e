"""Every SOQL query the relay sends, and the one way a value is quoted into one.

Jobs ask for rows by meaning (`pending_operator_messages(sf, before)`); only this module knows
the query text. Values that come from outside (keys derived from LINE ids, record ids from a
callout) go through `quote`; names (objects, fields) come from validated configuration.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from connector.domain.records import EXAMPLE, FRIEND, KEY_FIELDS, MESSAGE, SESSION


def quote(value: str) -> str:
    """A SOQL string literal: backslashes and quotes escaped, in single quotes."""
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


def datetime_literal(dt: datetime) -> str:
    """A SOQL datetime literal, truncated to the second (UTC)."""
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# -- chat messages -----------------------------------------------------------------------------
def message_content_document(sf, message_key: str) -> str | None:
    """The Salesforce file already attached to a message record, if any."""
    rows = sf.query(
        f"SELECT Content_Document_Id__c FROM {MESSAGE} WHERE {KEY_FIELDS[MESSAGE]} = {quote(message_key)} LIMIT 1"
    )
    return (rows[0].get("Content_Document_Id__c") or None) if rows else None


def latest_content_version(sf, document_id: str) -> str | None:
    rows = sf.query(
        f"SELECT Id FROM ContentVersion WHERE ContentDocumentId = {quote(document_id)} AND IsLatest = true LIMIT 1"
    )
    return rows[0]["Id"] if rows else None


# -- identity images (retention) ---------------------------------------------------------------
IDENTITY_FIELDS = (
    "Message_Key__c, Content_Document_Id__c, Retention_Until__c, Sent_At__c, Chat_Session__r.Channel_Id__c"
)


def messages_by_key(sf, message_keys: list[str]) -> list[dict]:
    """Message records (file, retention, channel) by message key."""
    if not message_keys:
        return []
    keys = ", ".join(quote(k) for k in message_keys)
    return sf.query(f"SELECT {IDENTITY_FIELDS} FROM {MESSAGE} WHERE {KEY_FIELDS[MESSAGE]} IN ({keys})")


def identity_files_past_retention(sf, now: datetime, limit: int = 2000) -> list[dict]:
    """Identity images whose retention has ended and that the relay has not recorded as deleted."""
    return sf.query(
        f"SELECT {IDENTITY_FIELDS} FROM {MESSAGE} WHERE Identity_Class__c = true "
        f"AND Content_Deleted_At__c = null AND Retention_Until__c <= {datetime_literal(now)} "
        f"ORDER BY Retention_Until__c ASC LIMIT {int(limit)}"
    )


def content_versions_of(sf, document_ids: list[str]) -> list[str]:
    """The ContentVersion ids of files (the ids signed media links name)."""
    if not document_ids:
        return []
    ids = ", ".join(quote(d) for d in document_ids)
    return [r["Id"] for r in sf.query(f"SELECT Id FROM ContentVersion WHERE ContentDocumentId IN ({ids})")]


# -- support IDs -------------------------------------------------------------------------------
def support_id_by_hash(sf, id_hash: str) -> dict | None:
    rows = sf.query(
        "SELECT Id, Contact__c, Account__c, Expires_At__c, Reusable__c, Used_At__c, Entitled__c "
        f"FROM LINE_Support_Id__c WHERE Id_Hash__c = {quote(id_hash)} LIMIT 1"
    )
    return rows[0] if rows else None


def first_contact_of_account(sf, account_id: str) -> str | None:
    rows = sf.query(f"SELECT Id FROM Contact WHERE AccountId = {quote(account_id)} ORDER BY CreatedDate ASC LIMIT 1")
    return rows[0]["Id"] if rows else None


OPERATOR_MESSAGE_FIELDS = (
    "Id, Message_Key__c, Direction__c, Type__c, Text__c, Sticker_Package_Id__c, Sticker_Id__c, "
    "Content_Document_Id__c, Chat_Session__r.Session_Key__c"
)


def pending_operator_messages(sf, created_before: datetime, limit: int = 200) -> list[dict]:
    """Operator messages still Pending (their callout was lost or failed), oldest first."""
    return sf.query(
        f"SELECT {OPERATOR_MESSAGE_FIELDS} FROM {MESSAGE} WHERE Direction__c = 'Operator' "
        f"AND Delivery_Status__c = 'Pending' AND CreatedDate < {datetime_literal(created_before)} "
        f"ORDER BY CreatedDate ASC LIMIT {int(limit)}"
    )


def sessions_of_case(sf, case_key: str) -> list[dict]:
    return sf.query(
        f"SELECT Id, Session_Key__c, Channel_Id__c FROM {SESSION} WHERE Case__r.LINE_Inquiry_Key__c = {quote(case_key)}"
    )


def session_transcript(sf, session_id: str) -> list[dict]:
    return sf.query(
        "SELECT Direction__c, Type__c, Text__c, Knowledge_Article_Id__c, Sent_At__c, Message_Key__c "
        f"FROM {MESSAGE} WHERE Chat_Session__c = {quote(session_id)} ORDER BY Sent_At__c ASC, Name ASC"
    )


# -- Knowledge ---------------------------------------------------------------------------------
def knowledge_versions(
    sf, sobject: str, columns: Iterable[str], *, status: str, language: str, modified_since: datetime | None = None
) -> list[dict]:
    """Article versions of `sobject` in `status` and `language` (changed since a time, if given)."""
    where = f"PublishStatus = {quote(status)} AND Language = {quote(language)}"
    if modified_since is not None:
        where += f" AND LastModifiedDate >= {datetime_literal(modified_since)}"
    return sf.query(f"SELECT {', '.join(columns)} FROM {sobject} WHERE {where}")


def approved_examples(sf) -> list[dict]:
    return sf.query(f"SELECT Article_Id__c, Question__c FROM {EXAMPLE} WHERE Status__c = 'Approved'")


def existing_example_keys(sf, keys: Iterable[str]) -> set[str]:
    keys = list(keys)
    if not keys:
        return set()
    rows = sf.query(
        f"SELECT {KEY_FIELDS[EXAMPLE]} FROM {EXAMPLE} WHERE {KEY_FIELDS[EXAMPLE]} "
        f"IN ({', '.join(quote(k) for k in keys)})"
    )
    return {row[KEY_FIELDS[EXAMPLE]] for row in rows}


# -- voice -------------------------------------------------------------------------------------
def friends_by_phone_suffix(sf, channel_id: str, last_digits: str, limit: int = 50) -> list[dict]:
    """Verified friends of a channel whose Contact's phone or mobile ends with `last_digits`
    (the caller's number is then compared exactly, normalised, by the domain)."""
    suffix = "%" + "".join(ch for ch in last_digits if ch in "0123456789")
    return sf.query(
        "SELECT LINE_User_Id__c, Friend_Key__c, Channel_Id__c, Contact__c, Verified__c, Status__c, "
        f"Contact__r.Phone, Contact__r.MobilePhone FROM {FRIEND} WHERE Channel_Id__c = {quote(channel_id)} "
        "AND Verified__c = true AND Contact__c != null "
        f"AND (Contact__r.Phone LIKE {quote(suffix)} OR Contact__r.MobilePhone LIKE {quote(suffix)}) "
        f"LIMIT {int(limit)}"
    )


def open_case_of_contact(sf, contact_id: str) -> str | None:
    """The Contact's most recent open Case, if any."""
    rows = sf.query(
        f"SELECT Id FROM Case WHERE ContactId = {quote(contact_id)} AND IsClosed = false "
        "ORDER BY CreatedDate DESC LIMIT 1"
    )
    return rows[0]["Id"] if rows else None


# -- settings admins keep in custom metadata (jobs/settings_sync.py; issue 22) ------------------
SETTINGS_FIELDS = {
    "LINE_Business_Hours__mdt": (
        "Id, DeveloperName, Time_Zone__c, Japanese_Holidays__c, Monday__c, Tuesday__c, Wednesday__c, "
        "Thursday__c, Friday__c, Saturday__c, Sunday__c"
    ),
    "LINE_Holiday__mdt": "Id, DeveloperName, Business_Hours__c, Start_Date__c, End_Date__c",
    "LINE_Channel_Setting__mdt": (
        "Id, DeveloperName, Channel_Id__c, Language__c, Business_Hours__c, Bot_Enabled__c, Bot_Only__c, "
        "Answer_Threshold__c, Clarify_Threshold__c, Max_Unsuccessful__c, Unsolved_Hands_Off__c, "
        "Article_URL_Template__c, Max_Answer_Chars__c, Related_Articles__c, Loading_Seconds__c, Reply_In_Groups__c"
    ),
    "LINE_Text__mdt": "Id, DeveloperName, Channel__c, Language__c, Key__c, Text__c",
    "LINE_Routing_Setting__mdt": (
        "Id, DeveloperName, Default_Capacity__c, Entitled_Priority__c, Avg_Handle_Time_Seconds__c, "
        "Notice_Position_Step__c, Notice_Wait_Change_Seconds__c, Notice_Min_Interval_Seconds__c, "
        "Notify_Assignment__c, Close_Case_Status__c, Case_Reopen_Window_Minutes__c, Case_Subject_Max_Chars__c"
    ),
    "LINE_Redaction_Rule__mdt": "Id, DeveloperName, Active__c, Pattern__c, Action__c, Replacement__c, Sort_Order__c",
    "LINE_Survey_Setting__mdt": (
        "Id, DeveloperName, Enabled__c, Scale__c, Window_Hours__c, Ask_Comment__c, Unsatisfied_At_Or_Below__c"
    ),
    "LINE_Retention_Setting__mdt": "Id, DeveloperName, Active__c, Channel__c, Data_Class__c, Retention_Days__c",
}


def connector_settings(sf) -> dict[str, list[dict]]:
    """Every record of the custom metadata types the relay reads, by type (one query each)."""
    return {
        type_name: sf.query(f"SELECT {fields} FROM {type_name} ORDER BY DeveloperName")
        for type_name, fields in SETTINGS_FIELDS.items()
    }
