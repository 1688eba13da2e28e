"""docs/data-model.md is the contract: every field it lists is deployed with that type.

The tables are parsed from the document, so a field added to the contract but not to
sfdc_metadata/ (or the other way round with a different type) fails here.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "data-model.md"
OBJECTS = REPO / "sfdc_metadata" / "force-app" / "main" / "default" / "objects"
NS = {"m": "http://soap.sforce.com/2006/04/metadata"}

# Deliberate, documented deviations (docs/salesforce.md): Salesforce Text fields stop at 255.
DEVIATIONS = {("LINE_Chat_Message__c", "Postback_Data__c"): ("LongTextArea", {"length": "300"})}


def parse_contract() -> list[tuple[str, str, str]]:
    """(object, field, type cell) for every row of every field table."""
    rows: list[tuple[str, str, str]] = []
    obj = None
    for line in DOC.read_text(encoding="utf-8").splitlines():
        head = re.match(r"^## (\w+)", line)
        if head:
            obj = head.group(1)
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")] if line.startswith("|") else []
        if obj and len(cells) >= 2 and "`" in cells[0] and cells[0] != "field":
            for name in re.findall(r"`(\w+__c)`", cells[0]):
                rows.append((obj, name, cells[1]))
    return rows


CONTRACT = parse_contract()


def load(obj: str, name: str) -> ET.Element:
    path = OBJECTS / obj / "fields" / f"{name}.field-meta.xml"
    assert path.is_file(), f"{obj}.{name} from docs/data-model.md is not deployed ({path})"
    return ET.parse(path).getroot()


def get(root: ET.Element, tag: str) -> str | None:
    el = root.find(f"m:{tag}", NS)
    return el.text if el is not None else None


def test_contract_was_parsed() -> None:
    objects = {o for o, _, _ in CONTRACT}
    assert {"Contact", "Case", "LINE_Friend__c", "LINE_Chat_Session__c", "LINE_Chat_Message__c"} <= objects
    assert len(CONTRACT) >= 60


@pytest.mark.parametrize(("obj", "name", "spec"), CONTRACT, ids=[f"{o}.{n}" for o, n, _ in CONTRACT])
def test_field_matches_contract(obj: str, name: str, spec: str) -> None:
    root = load(obj, name)
    ftype = get(root, "type")
    assert get(root, "label") and get(root, "description")
    if (obj, name) in DEVIATIONS:
        want_type, attrs = DEVIATIONS[(obj, name)]
        assert ftype == want_type
        assert all(get(root, k) == v for k, v in attrs.items())
        return
    m = re.match(r"^Text\((\d+)\)", spec)
    if m:
        assert ftype == "Text" and get(root, "length") == m.group(1)
    elif spec.startswith("Long Text Area"):
        assert ftype == "LongTextArea" and get(root, "length") == re.search(r"\((\d+)\)", spec).group(1)
    elif spec.startswith("URL"):
        assert ftype == "Url"
    elif spec.startswith("Number"):
        digits, scale = map(int, re.search(r"\((\d+),(\d+)\)", spec).groups())
        # Salesforce UI notation: Number(length, decimal places); metadata precision = total digits.
        assert ftype == "Number" and int(get(root, "precision")) == digits + scale and int(get(root, "scale")) == scale
    elif spec.startswith("Lookup"):
        assert ftype == "Lookup" and get(root, "referenceTo") == re.search(r"\((\w+)\)", spec).group(1)
        assert get(root, "relationshipName")
    elif spec.startswith("Master-Detail"):
        assert ftype == "MasterDetail" and get(root, "referenceTo") == re.search(r"\((\w+)\)", spec).group(1)
    elif spec.startswith("Picklist"):
        assert ftype == "Picklist"
        values = [v.text for v in root.findall("m:valueSet/m:valueSetDefinition/m:value/m:fullName", NS)]
        wanted = [v.strip() for v in spec.split(":", 1)[1].split(",")]
        assert values == wanted
        restricted = get(root.find("m:valueSet", NS), "restricted") == "true"
        assert restricted == ("not restricted" not in spec)
    elif spec in ("DateTime", "Checkbox"):
        assert ftype == spec
    else:
        pytest.fail(f"unknown contract type {spec!r}")
    if "External ID" in spec:
        assert get(root, "externalId") == "true"
    if "Unique" in spec:
        assert get(root, "unique") == "true" and get(root, "caseSensitive") == "true"
    assert (get(root, "required") == "true") == ("required" in spec)


@pytest.mark.parametrize(
    ("obj", "fmt"), [("LINE_Chat_Session__c", "S-{000000}"), ("LINE_Chat_Message__c", "M-{00000000}")]
)
def test_auto_number_names(obj: str, fmt: str) -> None:
    root = ET.parse(OBJECTS / obj / f"{obj}.object-meta.xml").getroot()
    assert root.find("m:nameField/m:type", NS).text == "AutoNumber"
    assert root.find("m:nameField/m:displayFormat", NS).text == fmt


def test_master_detail_relationship() -> None:
    md = load("LINE_Chat_Message__c", "Chat_Session__c")
    # Salesforce derives the child-to-parent name (Chat_Session__r) from the field name;
    # relationshipName is the child relationship (parent-to-children) name, without __r.
    assert get(md, "relationshipName") == "Chat_Session"


def test_live_updates_are_a_platform_event_not_cdc() -> None:
    event = OBJECTS / "LINE_Chat_Change__e"
    root = ET.parse(event / "LINE_Chat_Change__e.object-meta.xml").getroot()
    assert root.find("m:eventType", NS).text == "HighVolume"
    assert root.find("m:publishBehavior", NS).text == "PublishAfterCommit"
    assert {p.name.split(".")[0] for p in (event / "fields").glob("*.field-meta.xml")} == {
        "Session_Id__c",
        "Record_Id__c",
        "Object__c",
        "Change_Type__c",
        "Direction__c",
    }
    # No CDC: a CDC subscriber needs View All on the object (docs/salesforce.md, "Live updates").
    assert not (OBJECTS.parent / "platformEventChannelMembers").exists()
    for name in ("Operator", "Supervisor"):
        permset = OBJECTS.parent / "permissionsets" / f"LINE_Connector_{name}.permissionset-meta.xml"
        perms = {p.find("m:object", NS).text: p for p in ET.parse(permset).getroot().findall("m:objectPermissions", NS)}
        assert perms["LINE_Chat_Change__e"].find("m:allowRead", NS).text == "true"
        assert perms["LINE_Chat_Message__c"].find("m:viewAllRecords", NS).text == (
            "true" if name == "Supervisor" else "false"
        )


def test_case_origin_is_not_deployed() -> None:
    # A StandardValueSet deploy replaces the org's whole Case Origin list: admins add LINE themselves.
    assert not (OBJECTS.parent / "standardValueSets").exists()
