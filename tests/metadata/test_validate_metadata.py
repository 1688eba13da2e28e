"""Offline validation of sfdc_metadata/: the real tree passes, and each check can fail."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SFDC = REPO / "sfdc_metadata"
SCRIPT = REPO / "scripts" / "validate_metadata.py"
DEFAULT = "force-app/main/default"

_spec = importlib.util.spec_from_file_location("validate_metadata", SCRIPT)
vm = importlib.util.module_from_spec(_spec)
assert _spec.loader is not None
sys.modules["validate_metadata"] = vm
_spec.loader.exec_module(vm)


@pytest.fixture()
def tree(tmp_path: Path) -> Path:
    """A copy of the real SFDX project (metadata only) to break."""
    dst = tmp_path / "sfdc"
    shutil.copytree(
        SFDC,
        dst,
        ignore=shutil.ignore_patterns(
            "node_modules", "__tests__", "coverage", ".sfdx", ".sf", "lwc", "classes", "triggers"
        ),
    )
    # Permission sets may reference Apex classes; keep the class stubs so references resolve.
    for sub in ("classes", "triggers"):
        src = SFDC / DEFAULT / sub
        if src.is_dir():
            shutil.copytree(src, dst / DEFAULT / sub)
    return dst


def problems(root: Path) -> list[str]:
    return vm.validate(root, base=root)


def edit(path: Path, old: str, new: str, count: int = 1) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, count), encoding="utf-8")


def one_problem(root: Path, *needles: str) -> str:
    found = problems(root)
    matching = [p for p in found if all(n in p for n in needles)]
    assert matching, f"expected a problem containing {needles}, got {found}"
    return matching[0]


# --------------------------------------------------------------------------- the real tree
def test_real_tree_is_valid() -> None:
    assert problems(SFDC) == []


def test_cli_exit_codes_and_quiet(tree: Path) -> None:
    ok = subprocess.run([sys.executable, str(SCRIPT), "--root", str(tree), "--quiet"], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert ok.stdout == "" and ok.stderr == ""
    edit(
        tree / DEFAULT / "objects/LINE_Friend__c/fields/Verified__c.field-meta.xml",
        "<type>Checkbox</type>",
        "<type>Checkbx</type>",
    )
    bad = subprocess.run([sys.executable, str(SCRIPT), "--root", str(tree), "--quiet"], capture_output=True, text=True)
    assert bad.returncode == 1
    lines = bad.stdout.splitlines()
    assert len(lines) == 1
    assert re.match(r"^\S+Verified__c\.field-meta\.xml: .*Checkbx.*FieldType", lines[0])


def test_wsdl_is_found_in_simple_salesforce() -> None:
    path = vm.wsdl_path()
    assert path.name == "metadata.wsdl" and path.is_file()
    wsdl = vm.load_wsdl()
    names = [e.name for e in wsdl.sequence("CustomField")]
    assert names[0] == "fullName"  # inherited from Metadata via extension base
    assert names.index("label") < names.index("type")


# --------------------------------------------------------------------------- WSDL checks
FIELD = DEFAULT + "/objects/LINE_Chat_Session__c/fields/Close_Reason__c.field-meta.xml"


def test_wrong_element_order(tree: Path) -> None:
    path = tree / FIELD
    text = path.read_text()
    label = re.search(r"\s*<label>.*?</label>", text).group(0)
    text = text.replace(label, "")
    text = text.replace("<fullName>Close_Reason__c</fullName>", "<fullName>Close_Reason__c</fullName>" + label)
    path.write_text(text)
    msg = one_problem(tree, "Close_Reason__c.field-meta.xml", "out of order")
    assert "<description> must come before <label>" in msg or "must come before" in msg


def test_unknown_element(tree: Path) -> None:
    edit(tree / FIELD, "<label>", "<colour>red</colour>\n    <label>")
    one_problem(tree, "Close_Reason__c.field-meta.xml", "CustomField/colour", "unknown element")


def test_bad_enum(tree: Path) -> None:
    path = tree / DEFAULT / "objects/LINE_Friend__c/fields/Contact__c.field-meta.xml"
    edit(path, "<deleteConstraint>SetNull</deleteConstraint>", "<deleteConstraint>Nullify</deleteConstraint>")
    one_problem(tree, "Contact__c.field-meta.xml", "'Nullify' is not a valid DeleteConstraint")


def test_bad_boolean_and_int(tree: Path) -> None:
    edit(tree / FIELD, "<required>false</required>", "<required>no</required>")
    edit(tree / FIELD, "<length>255</length>", "<length>2x5</length>")
    one_problem(tree, "CustomField/required", "not a boolean")
    one_problem(tree, "CustomField/length", "not an integer")


def test_missing_required_element(tree: Path) -> None:
    path = tree / DEFAULT / "objects/LINE_Chat_Session__c/listViews/Open_Sessions.listView-meta.xml"
    edit(path, "<filterScope>Everything</filterScope>", "")
    one_problem(tree, "Open_Sessions.listView-meta.xml", "missing required element <filterScope>")


def test_required_element_in_nested_type(tree: Path) -> None:
    path = tree / DEFAULT / "permissionsets/LINE_Connector_Integration.permissionset-meta.xml"
    edit(path, "<modifyAllRecords>false</modifyAllRecords>", "")
    one_problem(tree, "objectPermissions", "missing required element <modifyAllRecords>")


def test_repeated_single_element(tree: Path) -> None:
    edit(tree / FIELD, "<label>Close Reason</label>", "<label>Close Reason</label>\n    <label>Again</label>")
    one_problem(tree, "<label> may appear only once")


def test_malformed_xml_and_wrong_root(tree: Path) -> None:
    edit(tree / FIELD, "</CustomField>", "</CustomFeld>")
    tab = tree / DEFAULT / "tabs/LINE_Friend__c.tab-meta.xml"
    edit(tab, "<CustomTab ", "<CustomApplication ")
    edit(tab, "</CustomTab>", "</CustomApplication>")
    one_problem(tree, "Close_Reason__c.field-meta.xml", "not well-formed XML")
    one_problem(tree, "LINE_Friend__c.tab-meta.xml", "does not match the metadata type CustomTab")


def test_unknown_suffix(tree: Path) -> None:
    (tree / DEFAULT / "objects/LINE_Friend__c/Foo.widget-meta.xml").write_text(
        '<?xml version="1.0"?><Widget xmlns="http://soap.sforce.com/2006/04/metadata"/>'
    )
    one_problem(tree, "Foo.widget-meta.xml", "unknown metadata type")


# --------------------------------------------------------------------------- sfdx-project.json
def test_project_json_schema(tree: Path) -> None:
    cfg = tree / "sfdx-project.json"
    data = json.loads(cfg.read_text())
    data["sourceApiVersion"] = "sixty-three"
    data["colour"] = "red"
    cfg.write_text(json.dumps(data))
    one_problem(tree, "sfdx-project.json", "sourceApiVersion 'sixty-three' is not an API version")
    data["sourceApiVersion"] = 63.0
    cfg.write_text(json.dumps(data))
    one_problem(tree, "sfdx-project.json", "schema: sourceApiVersion", "is not of type 'string'")
    one_problem(tree, "sfdx-project.json", "schema: (root)", "colour")


def test_project_json_default_package_dir(tree: Path) -> None:
    cfg = tree / "sfdx-project.json"
    data = json.loads(cfg.read_text())
    data["packageDirectories"][0]["default"] = False
    cfg.write_text(json.dumps(data))
    one_problem(tree, "sfdx-project.json", "default")


# --------------------------------------------------------------------------- cross-checks
PERMSET = DEFAULT + "/permissionsets/LINE_Connector_Operator.permissionset-meta.xml"


def test_permission_set_names_missing_field(tree: Path) -> None:
    edit(
        tree / PERMSET,
        "<field>LINE_Chat_Session__c.Close_Reason__c</field>",
        "<field>LINE_Chat_Session__c.Close_Reasons__c</field>",
    )
    one_problem(
        tree,
        "LINE_Connector_Operator.permissionset-meta.xml",
        "field 'LINE_Chat_Session__c.Close_Reasons__c' does not exist",
    )


def test_permission_set_lists_required_or_master_detail_field(tree: Path) -> None:
    extra = (
        "<fieldPermissions><editable>false</editable><field>LINE_Chat_Session__c.Session_Key__c</field><readable>true</readable></fieldPermissions>"
        "<fieldPermissions><editable>false</editable><field>LINE_Chat_Message__c.Chat_Session__c</field><readable>true</readable></fieldPermissions>"
    )
    edit(tree / PERMSET, "<fieldPermissions>", extra + "<fieldPermissions>")
    one_problem(tree, "Session_Key__c' is a required field")
    one_problem(tree, "Chat_Session__c' is a master-detail field")


def test_permission_set_missing_object_and_class(tree: Path) -> None:
    edit(tree / PERMSET, "<object>LINE_Friend__c</object>", "<object>LINE_Fiend__c</object>")
    edit(
        tree / PERMSET,
        "<description>",
        "<classAccesses><apexClass>NoSuchClass</apexClass><enabled>true</enabled></classAccesses>\n    <description>",
    )
    one_problem(tree, "objectPermissions: object 'LINE_Fiend__c' does not exist")
    one_problem(tree, "Apex class 'NoSuchClass' does not exist")


def test_lookup_to_missing_object_and_missing_relationship_name(tree: Path) -> None:
    path = tree / DEFAULT / "objects/LINE_Chat_Session__c/fields/Friend__c.field-meta.xml"
    edit(path, "<referenceTo>LINE_Friend__c</referenceTo>", "<referenceTo>LINE_Buddy__c</referenceTo>")
    edit(path, "<relationshipName>Friend</relationshipName>", "")
    one_problem(tree, "Friend__c.field-meta.xml", "referenceTo object 'LINE_Buddy__c' does not exist")
    one_problem(tree, "Friend__c.field-meta.xml", "without <relationshipName>")


def test_duplicate_child_relationship_name(tree: Path) -> None:
    path = tree / DEFAULT / "objects/LINE_Chat_Session__c/fields/Contact__c.field-meta.xml"
    edit(path, "<relationshipName>Session_Contact</relationshipName>", "<relationshipName>Contact</relationshipName>")
    one_problem(tree, "child relationship name 'Contact' on Contact is already used")


def test_duplicate_api_name(tree: Path) -> None:
    src = tree / DEFAULT / "objects/LINE_Friend__c/fields/Language__c.field-meta.xml"
    dup = src.with_name("language__c.field-meta.xml")
    dup.write_text(src.read_text().replace("<fullName>Language__c</fullName>", "<fullName>language__c</fullName>"))
    one_problem(tree, "duplicate field API name")


def test_external_id_contract(tree: Path) -> None:
    path = tree / DEFAULT / "objects/LINE_Chat_Message__c/fields/Message_Key__c.field-meta.xml"
    edit(path, "<unique>true</unique>", "<unique>false</unique>")
    edit(path, "<caseSensitive>true</caseSensitive>", "<caseSensitive>false</caseSensitive>")
    one_problem(tree, "Message_Key__c needs <unique>true</unique>")
    one_problem(tree, "Message_Key__c needs <caseSensitive>true</caseSensitive>")


def test_layout_references_and_required_fields(tree: Path) -> None:
    path = tree / DEFAULT / "layouts/LINE_Chat_Message__c-LINE Chat Message Layout.layout-meta.xml"
    edit(path, "<field>Type__c</field>", "<field>Kind__c</field>")
    edit(
        path,
        "<behavior>Required</behavior>\n                <field>Message_Key__c</field>",
        "<behavior>Edit</behavior>\n                <field>Message_Key__c</field>",
    )
    one_problem(tree, "layout: field 'LINE_Chat_Message__c.Kind__c' does not exist")
    one_problem(tree, "required field 'Message_Key__c' must have behavior Required")


def test_list_view_filter_value(tree: Path) -> None:
    path = tree / DEFAULT / "objects/LINE_Chat_Session__c/listViews/Queued_Sessions.listView-meta.xml"
    edit(path, "<value>Queued</value>", "<value>Waiting</value>")
    one_problem(tree, "'Waiting' is not a value of LINE_Chat_Session__c.Status__c")


def test_number_precision_and_text_length(tree: Path) -> None:
    edit(
        tree / DEFAULT / "objects/LINE_Chat_Message__c/fields/Latitude__c.field-meta.xml",
        "<precision>10</precision>",
        "<precision>3</precision>",
    )
    edit(tree / FIELD, "<length>255</length>", "<length>300</length>")
    one_problem(tree, "Latitude__c.field-meta.xml", "scale <= precision")
    one_problem(tree, "Close_Reason__c.field-meta.xml", "between 1 and 255")


def test_cdc_member_for_missing_object(tree: Path) -> None:
    members = tree / DEFAULT / "platformEventChannelMembers"
    members.mkdir()
    (members / "ChangeEvents_LINE_Chat_Note_ChangeEvent.platformEventChannelMember-meta.xml").write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<PlatformEventChannelMember xmlns="http://soap.sforce.com/2006/04/metadata">'
        "<eventChannel>ChangeEvents</eventChannel><selectedEntity>LINE_Chat_Note__ChangeEvent</selectedEntity>"
        "</PlatformEventChannelMember>"
    )
    one_problem(tree, "object LINE_Chat_Note__c does not exist")


def test_apex_class_needs_meta_file(tree: Path) -> None:
    classes = tree / DEFAULT / "classes"
    classes.mkdir(exist_ok=True)
    (classes / "Orphan.cls").write_text("public class Orphan {}")
    one_problem(tree, "Orphan.cls", "missing Orphan.cls-meta.xml")


# --------------------------------------------------------------------------- custom metadata records
MD = DEFAULT + "/customMetadata"


def test_custom_metadata_record_with_unknown_field_and_bad_values(tree: Path) -> None:
    path = tree / MD / "LINE_Channel_Setting.main.md-meta.xml"
    edit(path, "<field>Bot_Only__c</field>", "<field>Bot_Sometimes__c</field>")
    edit(path, '<value xsi:type="xsd:double">500</value>', '<value xsi:type="xsd:double">50000</value>')
    edit(path, '<value xsi:type="xsd:string">ja</value>', '<value xsi:type="xsd:string">fr</value>')
    one_problem(tree, "LINE_Channel_Setting__mdt.main.Bot_Sometimes__c: field does not exist")
    one_problem(tree, "Max_Answer_Chars__c: 50000 does not fit precision 4")
    one_problem(tree, "Language__c: 'fr' is not a value of the picklist")


def test_custom_metadata_relationship_and_required_value(tree: Path) -> None:
    path = tree / MD / "LINE_Holiday.Year_End_2026.md-meta.xml"
    edit(path, '<value xsi:type="xsd:string">Default</value>', '<value xsi:type="xsd:string">Weekend</value>')
    edit(path, '<value xsi:type="xsd:date">2026-12-29</value>', '<value xsi:nil="true"/>')
    one_problem(tree, "Business_Hours__c: no LINE_Business_Hours__mdt record named 'Weekend'")
    one_problem(tree, "LINE_Holiday__mdt.Year_End_2026.Start_Date__c: required field has no value")


def test_custom_metadata_value_type_and_record_name(tree: Path) -> None:
    path = tree / MD / "LINE_Routing_Setting.Default.md-meta.xml"
    edit(path, '<value xsi:type="xsd:boolean">true</value>', '<value xsi:type="xsd:string">yes</value>')
    path.rename(path.with_name("LINE_Routing_Setting.Default__x.md-meta.xml"))
    one_problem(tree, "Notify_Assignment__c: value type xsd:string does not fit a Checkbox field")
    one_problem(tree, "'Default__x' is not a valid DeveloperName")


# --------------------------------------------------------------------------- texts
LABELS = DEFAULT + "/labels/CustomLabels.labels-meta.xml"
JA = DEFAULT + "/translations/ja.translation-meta.xml"


def test_every_label_has_a_japanese_translation(tree: Path) -> None:
    edit(tree / JA, "<name>LINE_Send</name>", "<name>LINE_Sned</name>")
    one_problem(tree, "ja.translation-meta.xml", "label LINE_Send has no translation in ja")
    one_problem(tree, "ja.translation-meta.xml", "translation of label LINE_Sned, which does not exist")


def test_code_reads_only_labels_that_exist(tree: Path) -> None:
    edit(tree / LABELS, "<fullName>LINE_Error_Chat_Closed</fullName>", "<fullName>LINE_Error_Chat_Shut</fullName>")
    edit(tree / JA, "<name>LINE_Error_Chat_Closed</name>", "<name>LINE_Error_Chat_Shut</name>")
    lwc = tree / DEFAULT / "lwc/demo"
    lwc.mkdir(parents=True)
    (lwc / "demo.js").write_text("import x from '@salesforce/label/c.LINE_No_Such_Label';\n")
    one_problem(tree, "LineChatController.cls", "reads Label.LINE_Error_Chat_Closed")
    one_problem(tree, "demo.js", "c.LINE_No_Such_Label, which is not in the Custom Labels")


def test_literal_text_in_a_template_or_an_apex_error(tree: Path) -> None:
    lwc = tree / DEFAULT / "lwc/demo"
    lwc.mkdir(parents=True)
    (lwc / "demo.html").write_text(
        '<template><!-- a comment is fine --><lightning-button label="Send now"></lightning-button>'
        "<p>{count} messages</p><span>{labels.ok} · 📍</span></template>"
    )
    edit(
        tree / DEFAULT / "classes/LinePresenceController.cls",
        "throw LineLabels.error(System.Label.LINE_Error_Available_Needs_Capacity);",
        "throw LineLabels.error('Needs a capacity');",
    )
    found = problems(tree)
    assert [p for p in found if "demo.html" in p] == [
        'force-app/main/default/lwc/demo/demo.html: label="Send now" is literal text; bind it to a Custom Label',
        "force-app/main/default/lwc/demo/demo.html: literal text '{count} messages' in the template; bind it to a Custom Label",
    ]
    one_problem(tree, "LinePresenceController.cls", "literal string; use a Custom Label")


def test_a_standard_value_set_would_overwrite_the_org(tree: Path) -> None:
    values = tree / DEFAULT / "standardValueSets"
    values.mkdir()
    (values / "CaseOrigin.standardValueSet-meta.xml").write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n<StandardValueSet xmlns="http://soap.sforce.com/2006/04/metadata">'
        "<sorted>false</sorted><standardValue><fullName>LINE</fullName><default>false</default><label>LINE</label>"
        "</standardValue></StandardValueSet>"
    )
    one_problem(tree, "CaseOrigin.standardValueSet-meta.xml", "replaces the org's whole value list")
