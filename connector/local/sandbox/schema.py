"""Salesforce object schema: built-in standard objects merged with SFDX source metadata.

``load_schema(metadata_dir)`` reads ``objects/<Object>/<Object>.object-meta.xml`` and
``objects/<Object>/fields/*.field-meta.xml`` (the SFDX source format) and merges them onto the
built-in definitions of the standard objects the connector uses. When metadata objects are
found the schema is *strict* (unknown objects and fields are errors, as in an org); otherwise
it is schemaless and accepts any object and field.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field, replace

NS = "{http://soap.sforce.com/2006/04/metadata}"

# Metadata field type -> REST describe type.
TYPE_MAP = {
    "Text": "string",
    "TextArea": "textarea",
    "LongTextArea": "textarea",
    "Html": "textarea",
    "EncryptedText": "encryptedstring",
    "Lookup": "reference",
    "MasterDetail": "reference",
    "Hierarchy": "reference",
    "Checkbox": "boolean",
    "DateTime": "datetime",
    "Date": "date",
    "Time": "time",
    "Number": "double",
    "Currency": "currency",
    "Percent": "percent",
    "Picklist": "picklist",
    "MultiselectPicklist": "multipicklist",
    "Url": "url",
    "Email": "email",
    "Phone": "phone",
    "AutoNumber": "string",
    "Summary": "double",
    "Location": "location",
    "MetadataRelationship": "string",
}
TEXT_TYPES = {
    "string",
    "textarea",
    "encryptedstring",
    "picklist",
    "multipicklist",
    "url",
    "email",
    "phone",
    "id",
    "reference",
    "combobox",
}


@dataclass
class FieldDef:
    name: str
    type: str = "string"
    length: int | None = None
    external_id: bool = False
    unique: bool = False
    required: bool = False
    reference_to: tuple[str, ...] = ()
    relationship_name: str | None = None
    custom: bool = False
    auto_number: bool = False
    display_format: str | None = None
    default: object = None
    createable: bool = True
    updateable: bool = True
    precision: int | None = None
    scale: int | None = None
    master_detail: bool = False

    def describe(self) -> dict:
        return {
            "name": self.name,
            "type": self.type,
            "label": self.name,
            "length": self.length or (18 if self.type in ("id", "reference") else 0),
            "externalId": self.external_id,
            "unique": self.unique,
            "nillable": not self.required and self.type != "boolean" and self.type != "id",
            "referenceTo": list(self.reference_to),
            "relationshipName": self.relationship_name,
            "custom": self.custom,
            "autoNumber": self.auto_number,
            "createable": self.createable and not self.auto_number,
            "updateable": self.updateable and not self.auto_number,
            "defaultValue": self.default,
            "idLookup": self.type == "id" or self.external_id,
            "calculated": False,
            "precision": self.precision or 0,
            "scale": self.scale or 0,
            "filterable": True,
            "sortable": self.type != "textarea",
        }


@dataclass
class ObjectDef:
    name: str
    key_prefix: str
    fields: dict[str, FieldDef] = field(default_factory=dict)  # lower-case name -> def
    custom: bool = False
    schemaless: bool = False

    def field(self, name: str) -> FieldDef | None:
        return self.fields.get(name.lower())

    def add(self, fdef: FieldDef) -> None:
        self.fields[fdef.name.lower()] = fdef

    def relationship(self, rel_name: str, lenient: bool = False) -> FieldDef | None:
        """The reference field whose relationship name is ``rel_name`` (e.g. Contact, X__r)."""
        lower = rel_name.lower()
        for fdef in self.fields.values():
            if fdef.relationship_name and fdef.relationship_name.lower() == lower:
                return fdef
        if (self.schemaless or lenient) and lower.endswith("__r"):
            return FieldDef(rel_name[:-3] + "__c", "reference", relationship_name=rel_name)
        return None

    def name_field(self) -> FieldDef | None:
        return self.field("Name")


def _f(name, type_="string", **kw) -> FieldDef:
    return FieldDef(name, type_, **kw)


def _ref(name, *targets, rel=None, **kw) -> FieldDef:
    return FieldDef(
        name,
        "reference",
        reference_to=tuple(targets),
        relationship_name=rel or (name[:-2] if name.endswith("Id") else None),
        **kw,
    )


def _system_fields(with_owner: bool, with_name: bool) -> list[FieldDef]:
    ro = {"createable": False, "updateable": False}
    out = [
        _f("Id", "id", **ro),
        _f("IsDeleted", "boolean", **ro),
        _f("CreatedDate", "datetime", **ro),
        _ref("CreatedById", "User", **ro),
        _f("LastModifiedDate", "datetime", **ro),
        _ref("LastModifiedById", "User", **ro),
        _f("SystemModstamp", "datetime", **ro),
    ]
    if with_owner:
        out.append(_ref("OwnerId", "User", "Group", rel="Owner"))
    if with_name:
        out.append(_f("Name", length=80))
    return out


_RO = {"createable": False, "updateable": False}
STANDARD_OBJECTS: dict[str, tuple[str, bool, bool, list[FieldDef]]] = {
    # name: (key prefix, has OwnerId, has Name, fields)
    "Account": (
        "001",
        True,
        True,
        [
            _f("Name", length=255, required=True),
            _f("Phone", "phone"),
            _f("Type", "picklist"),
            _f("Industry", "picklist"),
            _f("Website", "url"),
            _f("Description", "textarea"),
        ],
    ),
    "Contact": (
        "003",
        True,
        True,
        [
            _f("FirstName", length=40),
            _f("LastName", length=80, required=True),
            _f("Name", length=121, **_RO),
            _f("Email", "email"),
            _f("Phone", "phone"),
            _f("MobilePhone", "phone"),
            _ref("AccountId", "Account"),
            _f("Description", "textarea"),
            _f("MailingCity", length=40),
        ],
    ),
    "Case": (
        "500",
        True,
        False,
        [
            _f("CaseNumber", length=30, auto_number=True, display_format="{00000000}", **_RO),
            _f("Subject", length=255),
            _f("Description", "textarea", length=32000),
            _f("Status", "picklist", default="New"),
            _f("Origin", "picklist"),
            _f("Priority", "picklist", default="Medium"),
            _f("Type", "picklist"),
            _f("Reason", "picklist"),
            _ref("ContactId", "Contact"),
            _ref("AccountId", "Account"),
            _ref("ParentId", "Case"),
            _f("IsClosed", "boolean", **_RO),
            _f("ClosedDate", "datetime", **_RO),
            _f("SuppliedName", length=80),
            _f("SuppliedEmail", "email"),
            _f("SuppliedPhone", "phone"),
        ],
    ),
    "Task": (
        "00T",
        True,
        False,
        [
            _f("Subject", "combobox", length=255),
            _ref("WhoId", "Contact", "Lead"),
            _ref("WhatId", "Account", "Case", "Opportunity"),
            _f("CallObject", length=255),
            _f("CallType", "picklist"),
            _f("CallDurationInSeconds", "int"),
            _f("CallDisposition", length=255),
            _f("Status", "picklist", default="Not Started"),
            _f("Priority", "picklist", default="Normal"),
            _f("Description", "textarea"),
            _f("ActivityDate", "date"),
            _f("TaskSubtype", "picklist"),
            _f("IsClosed", "boolean", **_RO),
        ],
    ),
    "User": (
        "005",
        False,
        True,
        [
            _f("FirstName", length=40),
            _f("LastName", length=80),
            _f("Email", "email"),
            _f("Username", length=80),
            _f("Alias", length=8),
            _f("IsActive", "boolean", default=True),
        ],
    ),
    "Group": ("00G", True, True, [_f("DeveloperName", length=80), _f("Type", "picklist")]),
    "ContentDocument": (
        "069",
        True,
        False,
        [
            _f("Title", length=255),
            _f("FileExtension", length=40),
            _f("FileType", length=20),
            _f("ContentSize", "int", **_RO),
            _ref("LatestPublishedVersionId", "ContentVersion"),
        ],
    ),
    "ContentVersion": (
        "068",
        True,
        False,
        [
            _f("Title", length=255),
            _f("PathOnClient", length=500),
            _f("VersionData", "base64"),
            _ref("ContentDocumentId", "ContentDocument"),
            _ref("FirstPublishLocationId", "Account", "Case", "Contact", "User", rel="FirstPublishLocation"),
            _f("FileExtension", length=40, **_RO),
            _f("FileType", length=20, **_RO),
            _f("ContentSize", "int", **_RO),
            _f("IsLatest", "boolean", **_RO),
            _f("VersionNumber", length=20, **_RO),
            _f("Description", "textarea"),
        ],
    ),
    "ContentDocumentLink": (
        "06A",
        False,
        False,
        [
            _ref("ContentDocumentId", "ContentDocument", required=True),
            _ref("LinkedEntityId", "Account", "Case", "Contact", "User", required=True, rel="LinkedEntity"),
            _f("ShareType", "picklist", default="V"),
            _f("Visibility", "picklist", default="AllUsers"),
        ],
    ),
    "Knowledge__kav": (
        "ka0",
        True,
        False,
        [
            _f("KnowledgeArticleId", "reference", **_RO),
            _f("Title", length=255, required=True),
            _f("UrlName", length=255, required=True),
            _f("Summary", "textarea", length=1000),
            _f("Language", "picklist", default="ja"),
            _f("PublishStatus", "picklist", default="Online"),
            _f("ArticleNumber", length=30, auto_number=True, display_format="{000000000}", **_RO),
            _f("VersionNumber", "int", **_RO),
            _f("IsLatestVersion", "boolean", **_RO),
            _f("LastPublishedDate", "datetime", **_RO),
        ],
    ),
}

CUSTOM_SUFFIXES = ("__c", "__e", "__mdt", "__kav", "__x", "__b")
_PREFIX_CHARS = "BCDEFGHIJKLMNOPQRSTUVWXYZ"


class Schema:
    def __init__(self):
        self.objects: dict[str, ObjectDef] = {}
        self.strict = False
        self._next_custom = 0

    def get(self, name: str) -> ObjectDef | None:
        return self.objects.get(name.lower())

    def lenient(self, odef: ObjectDef) -> bool:
        """Unknown fields are accepted (and learnt) on this object."""
        return odef.schemaless or not self.strict

    def resolve(self, name: str) -> ObjectDef | None:
        """The definition of ``name``; in schemaless mode unknown objects are created."""
        odef = self.get(name)
        if odef is None and not self.strict and name.replace("_", "").isalnum():
            odef = self.add_object(name, custom=name.lower().endswith(CUSTOM_SUFFIXES), schemaless=True)
        return odef

    def by_prefix(self, key_prefix: str) -> ObjectDef | None:
        for odef in self.objects.values():
            if odef.key_prefix == key_prefix:
                return odef
        return None

    def add_object(
        self, name: str, custom: bool = True, schemaless: bool = False, name_field: FieldDef | None = None
    ) -> ObjectDef:
        existing = self.get(name)
        if existing is not None:
            return existing
        if name.endswith("__e"):
            prefix = "e00"
        elif name.endswith("__mdt"):
            prefix = f"m0{_PREFIX_CHARS[self._next_custom % 25]}"
        else:
            n = self._next_custom
            prefix = f"a{n // 25}{_PREFIX_CHARS[n % 25]}"
        self._next_custom += 1
        odef = ObjectDef(name, prefix, custom=custom, schemaless=schemaless)
        is_event = name.endswith("__e")
        is_mdt = name.endswith("__mdt")
        for fdef in _system_fields(with_owner=custom and not is_event and not is_mdt, with_name=not is_event):
            odef.add(fdef)
        if name_field is not None:
            odef.add(name_field)
        if is_mdt:
            for extra in ("DeveloperName", "MasterLabel", "Label", "QualifiedApiName"):
                odef.add(_f(extra, length=80))
        self.objects[name.lower()] = odef
        return odef


def builtin_schema() -> Schema:
    schema = Schema()
    for name, (prefix, owner, has_name, fields) in STANDARD_OBJECTS.items():
        odef = ObjectDef(name, prefix, custom=name.endswith("__kav"))
        for fdef in _system_fields(owner, has_name) + fields:
            odef.add(replace(fdef))
        schema.objects[name.lower()] = odef
    return schema


# -- SFDX metadata -----------------------------------------------------------------------


def _text(node, tag: str, default=None):
    child = node.find(NS + tag)
    return child.text.strip() if child is not None and child.text else default


def _bool(node, tag: str) -> bool:
    return (_text(node, tag, "false") or "false").lower() == "true"


def parse_field(path: str) -> FieldDef:
    root = ET.parse(path).getroot()
    name = _text(root, "fullName") or os.path.basename(path).split(".")[0]
    meta_type = _text(root, "type", "Text")
    api_type = TYPE_MAP.get(meta_type, "string")
    length = _text(root, "length")
    default = _text(root, "defaultValue")
    if api_type == "boolean":
        default = (default or "false").lower() == "true"
    elif default is not None:
        default = default.strip("\"'")
    ref = _text(root, "referenceTo")
    # Child-to-parent traversal comes from the field name (Contact__c -> Contact__r); the
    # metadata's <relationshipName> names the parent-to-children relationship instead.
    rel = _text(root, "relationshipName")
    if api_type == "reference" and name.endswith("__c"):
        rel = name[:-3] + "__r"
    precision, scale = _text(root, "precision"), _text(root, "scale")
    return FieldDef(
        name=name,
        type=api_type,
        length=int(length) if length else None,
        external_id=_bool(root, "externalId"),
        unique=_bool(root, "unique"),
        required=_bool(root, "required") or meta_type == "MasterDetail",
        reference_to=(ref,) if ref else (),
        relationship_name=rel,
        custom=name.endswith("__c"),
        auto_number=meta_type == "AutoNumber",
        display_format=_text(root, "displayFormat"),
        default=default,
        precision=int(precision) if precision else None,
        scale=int(scale) if scale else None,
        master_detail=meta_type == "MasterDetail",
    )


def _parse_name_field(path: str) -> FieldDef | None:
    root = ET.parse(path).getroot()
    node = root.find(NS + "nameField")
    if node is None:
        return None
    if _text(node, "type") == "AutoNumber":
        return FieldDef(
            "Name",
            "string",
            length=80,
            auto_number=True,
            display_format=_text(node, "displayFormat"),
            createable=False,
            updateable=False,
        )
    return FieldDef("Name", "string", length=80)


def load_schema(metadata_dir: str | None) -> Schema:
    """Built-in standard objects, plus objects and fields from an SFDX ``main/default`` dir."""
    schema = builtin_schema()
    objects_dir = os.path.join(metadata_dir, "objects") if metadata_dir else None
    if not objects_dir or not os.path.isdir(objects_dir):
        return schema
    loaded = 0
    for obj_name in sorted(os.listdir(objects_dir)):
        obj_dir = os.path.join(objects_dir, obj_name)
        if not os.path.isdir(obj_dir):
            continue
        loaded += 1
        # Custom fields of Task and Event are authored on the Activity entity and show on both.
        odef = schema.get("Task") if obj_name == "Activity" else schema.get(obj_name)
        if odef is None:
            meta = os.path.join(obj_dir, f"{obj_name}.object-meta.xml")
            name_field = _parse_name_field(meta) if os.path.exists(meta) else None
            odef = schema.add_object(obj_name, custom=True, name_field=name_field or FieldDef("Name", length=80))
        fields_dir = os.path.join(obj_dir, "fields")
        if os.path.isdir(fields_dir):
            for file_name in sorted(os.listdir(fields_dir)):
                if file_name.endswith(".field-meta.xml"):
                    fdef = parse_field(os.path.join(fields_dir, file_name))
                    odef.add(fdef)
        if odef.custom and any(f.master_detail for f in odef.fields.values()):
            odef.fields.pop("ownerid", None)  # detail records inherit the master's owner
    schema.strict = loaded > 0
    return schema


def load_custom_metadata_records(metadata_dir: str | None) -> list[tuple[str, dict]]:
    """Records under ``customMetadata/<Type>.<Name>.md-meta.xml`` as (Type__mdt, fields)."""
    directory = os.path.join(metadata_dir, "customMetadata") if metadata_dir else None
    if not directory or not os.path.isdir(directory):
        return []
    xsi_nil = "{http://www.w3.org/2001/XMLSchema-instance}nil"
    records = []
    for file_name in sorted(os.listdir(directory)):
        if not file_name.endswith(".md-meta.xml"):
            continue
        type_name, record_name = file_name[: -len(".md-meta.xml")].split(".", 1)
        root = ET.parse(os.path.join(directory, file_name)).getroot()
        label = _text(root, "label", record_name)
        fields = {"DeveloperName": record_name, "MasterLabel": label, "Label": label, "QualifiedApiName": record_name}
        for values in root.findall(NS + "values"):
            fname = _text(values, "field")
            value_node = values.find(NS + "value")
            if not fname:
                continue
            if value_node is None or value_node.get(xsi_nil) == "true":
                fields[fname] = None
                continue
            raw, xtype = value_node.text or "", value_node.get("{http://www.w3.org/2001/XMLSchema-instance}type", "")
            if xtype.endswith("boolean"):
                fields[fname] = raw.lower() == "true"
            elif xtype.endswith(("double", "int", "decimal")):
                fields[fname] = float(raw) if "." in raw else int(raw)
            else:
                fields[fname] = raw
        records.append((f"{type_name}__mdt", fields))
    return records
