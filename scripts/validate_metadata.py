#!/usr/bin/env python3
"""Offline validation of the Salesforce metadata in ``sfdc_metadata/``.

We cannot reach an org in CI, so this checks what ``sf project deploy start`` would reject, as far as
it can be known offline:

1. every ``*-meta.xml`` is well-formed XML in the Metadata API namespace, its root element is the
   metadata type its suffix maps to, and every element below it is valid for its type in the
   Metadata API WSDL (v63) that ships with simple-salesforce: element names exist in the type's
   complexType (including inherited ``extension base`` elements), appear in WSDL sequence order,
   repeat only when ``maxOccurs="unbounded"``, required elements (``minOccurs`` 1) are present,
   enumeration values are valid and booleans / ints / doubles are well-formed;
2. ``sfdx-project.json`` validates against the vendored JSON schema (forcedotcom/schemas);
3. cross-checks the WSDL cannot express: referenced fields, objects, classes and tabs exist;
   lookups have a target and a relationship name, child relationship names are unique per parent;
   permission sets do not list required or master-detail fields; layouts carry required fields;
   no duplicate API names; external ids are unique Text fields as docs/data-model.md specifies;
   every Apex class / trigger has its meta file and vice versa;
4. custom metadata records match their type: fields exist, values fit the field type (booleans,
   numbers within precision and scale, dates, text lengths, picklist values), required fields are
   set, metadata relationships point to records that exist;
5. texts: every Custom Label has a translation in every translations/*.translation-meta.xml and
   every translation names a label; every label an LWC imports or Apex reads exists; LWC templates
   and the Apex error paths carry no literal English (a person reads those: Custom Labels);
6. nothing in the source replaces what an org already has: no StandardValueSet (a deploy
   overwrites the org's whole list, e.g. its Case Origin values).

Usage: ``python scripts/validate_metadata.py [--root sfdc_metadata] [--quiet]``.
Prints one ``path: problem`` line per problem; exit code 0 when clean, 1 otherwise (2 on usage errors).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

MD_NS = "http://soap.sforce.com/2006/04/metadata"
XSD = "{http://www.w3.org/2001/XMLSchema}"

# File suffix (the part before "-meta.xml") -> Metadata API type. A small subset derived from
# forcedotcom/source-deploy-retrieve's metadataRegistry.json (Apache-2.0); add a line when the
# project starts using a new type. LWC bundles ("<name>.js-meta.xml" under lwc/) and Aura bundles
# are recognised by their directory.
SUFFIX_TYPES: dict[str, str] = {
    "app": "CustomApplication",
    "businessProcess": "BusinessProcess",
    "cls": "ApexClass",
    "compactLayout": "CompactLayout",
    "cspTrustedSite": "CspTrustedSite",
    "customPermission": "CustomPermission",
    "externalCredential": "ExternalCredential",
    "field": "CustomField",
    "fieldSet": "FieldSet",
    "flexipage": "FlexiPage",
    "flow": "Flow",
    "globalValueSet": "GlobalValueSet",
    "labels": "CustomLabels",
    "layout": "Layout",
    "listView": "ListView",
    "md": "CustomMetadata",
    "messageChannel": "LightningMessageChannel",
    "namedCredential": "NamedCredential",
    "object": "CustomObject",
    "page": "ApexPage",
    "permissionset": "PermissionSet",
    "permissionsetgroup": "PermissionSetGroup",
    "platformEventChannel": "PlatformEventChannel",
    "platformEventChannelMember": "PlatformEventChannelMember",
    "queue": "Queue",
    "quickAction": "QuickAction",
    "recordType": "RecordType",
    "remoteSite": "RemoteSiteSetting",
    "resource": "StaticResource",
    "standardValueSet": "StandardValueSet",
    "tab": "CustomTab",
    "translation": "Translations",
    "trigger": "ApexTrigger",
    "validationRule": "ValidationRule",
    "webLink": "WebLink",
}
BUNDLE_DIR_TYPES = {"lwc": "LightningComponentBundle", "aura": "AuraDefinitionBundle"}

# Standard objects the project may reference (lookups, permission sets, layouts).
STANDARD_OBJECTS = {
    "Account",
    "Case",
    "CaseComment",
    "Contact",
    "ContentDocument",
    "ContentVersion",
    "Entitlement",
    "Group",
    "Knowledge__kav",
    "Lead",
    "Opportunity",
    "Task",
    "Event",
    "User",
    "UserServicePresence",
}
# Standard fields usable on any object's layout / compact layout / list view.
COMMON_STANDARD_FIELDS = {
    "Name",
    "OwnerId",
    "CreatedById",
    "CreatedDate",
    "LastModifiedById",
    "LastModifiedDate",
    "RecordTypeId",
    "Id",
}
# Upper-case list view / related list column tokens (NAME, CREATED_DATE, CASES.SUBJECT, ...).
COLUMN_TOKEN = re.compile(r"^[A-Z][A-Z0-9_]*(\.[A-Z][A-Z0-9_]*)*$")

# External ids of the data model contract (docs/data-model.md): object.field -> Text length.
CONTRACT_EXTERNAL_IDS = {
    "Contact.LINE_Contact_Key__c": 120,
    "Case.LINE_Inquiry_Key__c": 120,
    "LINE_Friend__c.Friend_Key__c": 120,
    "LINE_Chat_Session__c.Session_Key__c": 120,
    "LINE_Chat_Message__c.Message_Key__c": 80,
}


# --------------------------------------------------------------------------- WSDL model
@dataclass(frozen=True)
class Elem:
    name: str
    type: str  # "xsd:boolean" or a WSDL type name without prefix
    min: int
    unbounded: bool


@dataclass
class Wsdl:
    complex: dict[str, ET.Element]
    simple: dict[str, ET.Element]
    _seq: dict[str, list[Elem]] = field(default_factory=dict)

    def sequence(self, type_name: str) -> list[Elem]:
        """Elements of a complexType in order, inherited (extension base) elements first."""
        if type_name not in self._seq:
            node = self.complex[type_name]
            elems: list[Elem] = []
            ext = node.find(f"{XSD}complexContent/{XSD}extension")
            if ext is not None:
                elems.extend(self.sequence(_local(ext.get("base", ""))))
                seq = ext.find(f"{XSD}sequence")
            else:
                seq = node.find(f"{XSD}sequence")
            for e in seq.findall(f"{XSD}element") if seq is not None else []:
                etype = e.get("type", "xsd:string")
                elems.append(
                    Elem(
                        name=e.get("name", ""),
                        type=etype if etype.startswith("xsd:") else _local(etype),
                        min=int(e.get("minOccurs", "1")),
                        unbounded=e.get("maxOccurs") == "unbounded",
                    )
                )
            self._seq[type_name] = elems
        return self._seq[type_name]

    def enum(self, type_name: str) -> tuple[list[str] | None, str]:
        """(enumeration values or None, xsd base) of a simpleType."""
        node = self.simple[type_name]
        restr = node.find(f"{XSD}restriction")
        base = restr.get("base", "xsd:string") if restr is not None else "xsd:string"
        values = [e.get("value", "") for e in restr.findall(f"{XSD}enumeration")] if restr is not None else []
        return (values or None), base


def _local(qname: str) -> str:
    return qname.split(":", 1)[-1]


def wsdl_path() -> Path:
    import simple_salesforce

    try:
        from importlib.resources import files

        path = Path(str(files("simple_salesforce").joinpath("metadata.wsdl")))
    except (ImportError, TypeError):  # pragma: no cover - very old importlib
        path = Path(simple_salesforce.__file__).with_name("metadata.wsdl")
    return path


@lru_cache(maxsize=1)
def load_wsdl(path: str | None = None) -> Wsdl:
    tree = ET.parse(path or wsdl_path())
    schema = next(s for s in tree.getroot().iter(f"{XSD}schema") if s.get("targetNamespace") == MD_NS)
    return Wsdl(
        complex={c.get("name", ""): c for c in schema.findall(f"{XSD}complexType")},
        simple={s.get("name", ""): s for s in schema.findall(f"{XSD}simpleType")},
    )


# --------------------------------------------------------------------------- problems
class Report:
    def __init__(self, base: Path):
        self.base = base
        self.problems: list[str] = []

    def add(self, path: Path | str, message: str) -> None:
        p = Path(path)
        try:
            shown = p.resolve().relative_to(self.base.resolve())
        except ValueError:
            shown = p
        self.problems.append(f"{shown}: {message}")


# --------------------------------------------------------------------------- XML vs WSDL
BOOL = {"true", "false"}
INT = re.compile(r"^[+-]?\d+$")
DOUBLE = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})?$")
TIME = re.compile(r"^\d{2}:\d{2}:\d{2}(\.\d+)?Z?$")
OPAQUE = {"xsd:base64Binary", "xsd:anyType"}  # stored as nested XML in source format (e.g. LWC targetConfigs)
# Types whose source files Salesforce reads with its own schema: element names and values are
# checked against the WSDL, order is not (LWC js-meta.xml conventionally puts <targets> before
# <targetConfigs>, the reverse of the WSDL sequence, and deploys fine).
UNORDERED_TYPES = {"LightningComponentBundle"}


def _tag(el: ET.Element) -> tuple[str, str]:
    if el.tag.startswith("{"):
        ns, local = el.tag[1:].split("}", 1)
        return ns, local
    return "", el.tag


def check_value(wsdl: Wsdl, type_name: str, text: str, where: str, report: Report, path: Path) -> None:
    text = text.strip()
    if type_name == "xsd:boolean":
        if text not in BOOL:
            report.add(path, f"{where}: '{text}' is not a boolean (true/false)")
    elif type_name in ("xsd:int", "xsd:long"):
        if not INT.match(text):
            report.add(path, f"{where}: '{text}' is not an integer")
    elif type_name == "xsd:double":
        if not DOUBLE.match(text):
            report.add(path, f"{where}: '{text}' is not a number")
    elif type_name == "xsd:date":
        if not DATE.match(text):
            report.add(path, f"{where}: '{text}' is not a date (YYYY-MM-DD)")
    elif type_name == "xsd:dateTime":
        if not DATETIME.match(text):
            report.add(path, f"{where}: '{text}' is not an ISO 8601 dateTime")
    elif type_name == "xsd:time":
        if not TIME.match(text):
            report.add(path, f"{where}: '{text}' is not a time")
    elif type_name in wsdl.simple:
        values, base = wsdl.enum(type_name)
        if values is not None and text not in values:
            shown = ", ".join(values) if len(values) <= 12 else ", ".join(values[:12]) + ", ..."
            report.add(path, f"{where}: '{text}' is not a valid {type_name} (expected one of: {shown})")
        elif values is None and base.startswith("xsd:") and base != "xsd:string":
            check_value(wsdl, base, text, where, report, path)


def check_element(wsdl: Wsdl, el: ET.Element, type_name: str, where: str, report: Report, path: Path) -> None:
    """Validate the children of ``el`` against complexType ``type_name`` (recursively)."""
    seq = wsdl.sequence(type_name)
    index = {e.name: i for i, e in enumerate(seq)}
    pos = 0
    last_name: str | None = None
    seen: dict[str, int] = {}
    for child in el:
        if not isinstance(child.tag, str):  # comments, processing instructions
            continue
        ns, name = _tag(child)
        cwhere = f"{where}/{name}"
        if ns != MD_NS:
            report.add(path, f"{cwhere}: element is not in the metadata namespace {MD_NS}")
            continue
        if name not in index:
            report.add(path, f"{cwhere}: unknown element for {type_name}")
            continue
        i = index[name]
        spec = seq[i]
        if i < pos and type_name not in UNORDERED_TYPES:
            report.add(path, f"{cwhere}: out of order: <{name}> must come before <{last_name}> ({type_name} sequence)")
        elif name == last_name and not spec.unbounded:
            report.add(path, f"{cwhere}: <{name}> may appear only once")
        elif name in seen and name != last_name:
            pass  # already reported as out of order
        pos = max(pos, i)
        last_name = name
        seen[name] = seen.get(name, 0) + 1
        if spec.type in OPAQUE:
            continue
        if spec.type in wsdl.complex:
            if (child.text or "").strip():
                report.add(path, f"{cwhere}: text content is not allowed in {spec.type}")
            check_element(wsdl, child, spec.type, cwhere, report, path)
        else:
            if len(child):
                report.add(path, f"{cwhere}: child elements are not allowed in a {spec.type} value")
            check_value(wsdl, spec.type, child.text or "", cwhere, report, path)
    for spec in seq:
        if spec.min > 0 and spec.name not in seen:
            report.add(path, f"{where}: missing required element <{spec.name}> ({type_name})")


def metadata_type_for(path: Path) -> str | None:
    name = path.name
    if not name.endswith("-meta.xml"):
        return None
    parts = path.parts
    for d, t in BUNDLE_DIR_TYPES.items():
        if d in parts and parts.index(d) == len(parts) - 3:  # lwc/<bundle>/<bundle>.js-meta.xml
            return t
    stem = name[: -len("-meta.xml")]
    suffix = stem.rsplit(".", 1)[-1] if "." in stem else ""
    return SUFFIX_TYPES.get(suffix)


def parse_xml(path: Path, report: Report) -> ET.Element | None:
    try:
        return ET.parse(path).getroot()
    except ET.ParseError as exc:
        report.add(path, f"not well-formed XML: {exc}")
    except OSError as exc:
        report.add(path, f"cannot read: {exc}")
    return None


def validate_xml_file(wsdl: Wsdl, path: Path, report: Report) -> ET.Element | None:
    mtype = metadata_type_for(path)
    root = parse_xml(path, report)
    if root is None:
        return None
    if mtype is None:
        report.add(
            path, "unknown metadata type for this file suffix (add it to SUFFIX_TYPES in scripts/validate_metadata.py)"
        )
        return root
    ns, local = _tag(root)
    if ns != MD_NS:
        report.add(path, f"root element must be in namespace {MD_NS}")
    if local != mtype:
        report.add(path, f"root element <{local}> does not match the metadata type {mtype} of this file suffix")
        return root
    if mtype not in wsdl.complex:
        report.add(path, f"metadata type {mtype} is not in the Metadata API WSDL")
        return root
    check_element(wsdl, root, mtype, local, report, path)
    return root


# --------------------------------------------------------------------------- project model
def _text(el: ET.Element | None, name: str) -> str | None:
    if el is None:
        return None
    c = el.find(f"{{{MD_NS}}}{name}")
    return c.text.strip() if c is not None and c.text else None


def _all(el: ET.Element, path: str) -> list[ET.Element]:
    return el.findall("/".join(f"{{{MD_NS}}}{p}" for p in path.split("/")))


@dataclass
class FieldInfo:
    obj: str
    name: str
    path: Path
    root: ET.Element

    def get(self, name: str) -> str | None:
        return _text(self.root, name)

    @property
    def type(self) -> str | None:
        return self.get("type")

    @property
    def required(self) -> bool:
        return self.get("required") == "true"


@dataclass
class Project:
    root: Path
    objects: dict[str, Path] = field(default_factory=dict)  # name -> object-meta.xml (or dir)
    object_roots: dict[str, ET.Element] = field(default_factory=dict)
    fields: dict[tuple[str, str], FieldInfo] = field(default_factory=dict)  # (object, field) exact
    classes: set[str] = field(default_factory=set)
    tabs: set[str] = field(default_factory=set)
    compact_layouts: set[tuple[str, str]] = field(default_factory=set)

    def object_exists(self, name: str) -> bool:
        return name in self.objects or name in STANDARD_OBJECTS

    def field_exists(self, obj: str, fname: str) -> bool:
        if (obj, fname) in self.fields:
            return True
        if fname.endswith("__c"):
            return False  # custom fields must be in the project
        if obj.endswith("__c"):
            return fname in COMMON_STANDARD_FIELDS
        return True  # standard field of a standard object: cannot be checked offline


def package_dirs(root: Path, report: Report) -> list[Path]:
    cfg = root / "sfdx-project.json"
    try:
        data = json.loads(cfg.read_text(encoding="utf-8"))
        return [root / d["path"] for d in data.get("packageDirectories", []) if "path" in d]
    except (OSError, ValueError, KeyError, TypeError):
        return [root / "force-app"]


def validate_project_json(root: Path, report: Report) -> None:
    cfg = root / "sfdx-project.json"
    if not cfg.is_file():
        report.add(cfg, "missing sfdx-project.json")
        return
    try:
        data = json.loads(cfg.read_text(encoding="utf-8"))
    except ValueError as exc:
        report.add(cfg, f"invalid JSON: {exc}")
        return
    schema_path = root / "schemas" / "sfdx-project.schema.json"
    if not schema_path.is_file():
        schema_path = Path(__file__).resolve().parents[1] / "sfdc_metadata" / "schemas" / "sfdx-project.schema.json"
    try:
        import jsonschema
    except ImportError:
        report.add(cfg, "cannot validate against the schema: the 'jsonschema' package is not installed")
        return
    schema = json.loads(schema_path.read_text(encoding="utf-8"))
    validator = jsonschema.Draft7Validator(schema)
    for err in sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path)):
        loc = "/".join(str(p) for p in err.absolute_path) or "(root)"
        report.add(cfg, f"schema: {loc}: {err.message}")
    version = data.get("sourceApiVersion")
    if isinstance(version, str) and not re.match(r"^\d{2,3}\.0$", version):
        report.add(cfg, f"sourceApiVersion '{version}' is not an API version like '63.0'")
    dirs = [d.get("path") for d in data.get("packageDirectories", []) if isinstance(d, dict)]
    for d in dirs:
        if d and not (root / d).is_dir():
            report.add(cfg, f"packageDirectories path '{d}' does not exist")
    if not any(isinstance(d, dict) and d.get("default") for d in data.get("packageDirectories", [])):
        report.add(cfg, 'no packageDirectories entry has "default": true')


def build_project(root: Path, files: dict[Path, ET.Element], report: Report) -> Project:
    proj = Project(root=root)
    lower_seen: dict[tuple[str, ...], Path] = {}

    def unique(key: tuple[str, ...], path: Path, what: str) -> None:
        k = tuple(s.lower() for s in key)
        if k in lower_seen and lower_seen[k] != path:
            report.add(path, f"duplicate {what} API name '{'.'.join(key)}' (also {lower_seen[k].name})")
        lower_seen[k] = path

    for path, el in files.items():
        parts = path.parts
        name = path.name[: -len("-meta.xml")]
        if "objects" in parts:
            i = len(parts) - 1 - parts[::-1].index("objects")
            obj = parts[i + 1]
            if path.name.endswith(".object-meta.xml"):
                if name.rsplit(".", 1)[0] != obj:
                    report.add(path, f"object file name does not match its folder '{obj}'")
                unique(("object", obj), path, "object")
                proj.objects[obj] = path
                proj.object_roots[obj] = el
            elif path.name.endswith(".field-meta.xml"):
                fname = name.rsplit(".", 1)[0]
                unique(("field", obj, fname), path, "field")
                full = _text(el, "fullName")
                if full is not None and full != fname:
                    report.add(path, f"fullName '{full}' does not match the file name '{fname}'")
                proj.fields[(obj, fname)] = FieldInfo(obj, fname, path, el)
                proj.objects.setdefault(obj, path.parent.parent)
            else:
                kind = name.rsplit(".", 1)[-1]
                cname = name.rsplit(".", 1)[0]
                unique((kind, obj, cname), path, kind)
                full = _text(el, "fullName")
                if full is not None and full != cname:
                    report.add(path, f"fullName '{full}' does not match the file name '{cname}'")
                if kind == "compactLayout":
                    proj.compact_layouts.add((obj, cname))
        elif path.name.endswith(".cls-meta.xml"):
            proj.classes.add(name.rsplit(".", 1)[0])
        elif path.name.endswith(".tab-meta.xml"):
            proj.tabs.add(name.rsplit(".", 1)[0])
        elif path.name.endswith("-meta.xml") and metadata_type_for(path):
            kind = name.rsplit(".", 1)[-1] if "." in name else "bundle"
            unique((kind, name.rsplit(".", 1)[0]), path, metadata_type_for(path) or kind)
    return proj


# --------------------------------------------------------------------------- cross-checks
def check_fields(proj: Project, report: Report) -> None:
    child_rel: dict[tuple[str, str], str] = {}  # (parent, relationshipName lower) -> child.field
    for (obj, fname), f in sorted(proj.fields.items()):
        ftype = f.type
        if fname.endswith("__c") is False and obj.endswith("__c"):
            report.add(f.path, "custom field API names must end with __c")
        if (
            not f.get("label")
            and proj.object_roots.get(obj) is not None
            and _text(proj.object_roots[obj], "customSettingsType") is None
        ):
            report.add(f.path, "missing <label>")
        if not f.get("description"):
            report.add(f.path, "missing <description> (every field documents its purpose)")
        if ftype is None:
            report.add(f.path, "missing <type>")
            continue
        if ftype in ("Lookup", "MasterDetail"):
            target = f.get("referenceTo")
            if not target:
                report.add(f.path, f"{ftype} field without <referenceTo>")
            elif not proj.object_exists(target):
                report.add(f.path, f"referenceTo object '{target}' does not exist in the project")
            rel = f.get("relationshipName")
            if not rel:
                report.add(f.path, f"{ftype} field without <relationshipName>")
            elif target:
                if rel.endswith("__r") or not re.match(r"^[A-Za-z][A-Za-z0-9_]*$", rel) or "__" in rel:
                    report.add(
                        f.path, f"relationshipName '{rel}' must be a plain name without __r (Salesforce appends __r)"
                    )
                key = (target, rel.lower())
                if key in child_rel:
                    report.add(
                        f.path, f"child relationship name '{rel}' on {target} is already used by {child_rel[key]}"
                    )
                child_rel[key] = f"{obj}.{fname}"
            if ftype == "MasterDetail":
                sharing = _text(proj.object_roots.get(obj), "sharingModel")
                if sharing not in (None, "ControlledByParent"):
                    report.add(
                        f.path, f"master-detail child {obj} must have sharingModel ControlledByParent (has {sharing})"
                    )
        if ftype in ("Text", "EncryptedText"):
            length = f.get("length")
            if not length or not length.isdigit() or not 1 <= int(length) <= 255:
                report.add(f.path, f"Text field needs a <length> between 1 and 255 (has {length})")
        if ftype in ("LongTextArea", "Html"):
            length = f.get("length")
            if not length or not length.isdigit() or not 256 <= int(length) <= 131072:
                report.add(f.path, f"{ftype} field needs a <length> between 256 and 131072 (has {length})")
            if not f.get("visibleLines"):
                report.add(f.path, f"{ftype} field needs <visibleLines>")
        if ftype in ("Number", "Currency", "Percent"):
            p, s = f.get("precision"), f.get("scale")
            if p is None or s is None or not p.isdigit() or not s.isdigit():
                report.add(f.path, f"{ftype} field needs integer <precision> and <scale>")
            elif not (1 <= int(p) <= 18 and int(s) <= int(p)):
                report.add(
                    f.path, f"{ftype} precision {p} / scale {s}: need 1 <= precision <= 18 and scale <= precision"
                )
        if ftype in ("Picklist", "MultiselectPicklist"):
            if f.root.find(f"{{{MD_NS}}}valueSet") is None:
                report.add(f.path, f"{ftype} field without <valueSet>")
            values = [v.text for v in _all(f.root, "valueSet/valueSetDefinition/value/fullName")]
            if len(values) != len(set(values)):
                report.add(f.path, "duplicate picklist values")
        if f.get("externalId") == "true":
            if ftype not in ("Text", "Number", "Email", "AutoNumber"):
                report.add(f.path, f"external id on a {ftype} field")
        if f.get("unique") == "true" and ftype not in ("Text", "Number", "Email", "EncryptedText"):
            report.add(f.path, f"unique is not allowed on a {ftype} field")
    for key, length in CONTRACT_EXTERNAL_IDS.items():
        obj, fname = key.split(".")
        f = proj.fields.get((obj, fname))
        if f is None:
            report.add(proj.root / "force-app", f"data model field {key} is missing")
            continue
        want = {"type": "Text", "externalId": "true", "unique": "true", "caseSensitive": "true", "length": str(length)}
        for k, v in want.items():
            if f.get(k) != v:
                report.add(f.path, f"data model: {key} needs <{k}>{v}</{k}> (has {f.get(k)})")


def check_objects(proj: Project, report: Report) -> None:
    for obj, path in proj.objects.items():
        el = proj.object_roots.get(obj)
        if el is None:
            if obj.endswith("__c"):
                report.add(path, f"custom object {obj} has fields but no {obj}.object-meta.xml")
            continue
        if obj.endswith("__c") and _text(el, "customSettingsType") is None:
            for req in ("label", "pluralLabel", "nameField", "sharingModel", "deploymentStatus"):
                if el.find(f"{{{MD_NS}}}{req}") is None:
                    report.add(path, f"custom object needs <{req}>")
        cla = _text(el, "compactLayoutAssignment")
        if cla and cla != "SYSTEM" and (obj, cla) not in proj.compact_layouts:
            report.add(path, f"compactLayoutAssignment '{cla}' does not exist")


def _field_ref(proj: Project, report: Report, path: Path, obj: str, fname: str, what: str) -> None:
    if not proj.object_exists(obj):
        report.add(path, f"{what}: object '{obj}' does not exist")
    elif not proj.field_exists(obj, fname):
        report.add(path, f"{what}: field '{obj}.{fname}' does not exist")


def check_permission_set(proj: Project, path: Path, el: ET.Element, report: Report) -> None:
    for fp in _all(el, "fieldPermissions"):
        ref = _text(fp, "field") or ""
        if "." not in ref:
            report.add(path, f"fieldPermissions: '{ref}' is not Object.Field")
            continue
        obj, fname = ref.split(".", 1)
        _field_ref(proj, report, path, obj, fname, "fieldPermissions")
        info = proj.fields.get((obj, fname))
        if info is not None:
            if info.required:
                report.add(
                    path, f"fieldPermissions: '{ref}' is a required field (Salesforce rejects permissions on it)"
                )
            if info.type == "MasterDetail":
                report.add(
                    path, f"fieldPermissions: '{ref}' is a master-detail field (Salesforce rejects permissions on it)"
                )
        if _text(fp, "editable") == "true" and _text(fp, "readable") != "true":
            report.add(path, f"fieldPermissions: '{ref}' is editable but not readable")
    for op in _all(el, "objectPermissions"):
        obj = _text(op, "object") or ""
        if not proj.object_exists(obj):
            report.add(path, f"objectPermissions: object '{obj}' does not exist")
        flags = {
            k: _text(op, k) == "true"
            for k in ("allowCreate", "allowEdit", "allowDelete", "allowRead", "viewAllRecords", "modifyAllRecords")
        }
        if (
            flags["allowCreate"] or flags["allowEdit"] or flags["allowDelete"] or flags["viewAllRecords"]
        ) and not flags["allowRead"]:
            report.add(path, f"objectPermissions: {obj} grants create/edit/delete/view all without read")
        if (flags["allowDelete"] or flags["allowCreate"]) and not flags["allowEdit"] and flags["allowDelete"]:
            report.add(path, f"objectPermissions: {obj} grants delete without edit")
    for ca in _all(el, "classAccesses"):
        cls = _text(ca, "apexClass") or ""
        if cls not in proj.classes:
            report.add(path, f"classAccesses: Apex class '{cls}' does not exist")
    for ts in _all(el, "tabSettings"):
        tab = _text(ts, "tab") or ""
        if not tab.startswith("standard-") and tab not in proj.tabs:
            report.add(path, f"tabSettings: tab '{tab}' does not exist")


def check_layout(proj: Project, path: Path, el: ET.Element, report: Report) -> None:
    stem = path.name[: -len(".layout-meta.xml")]
    obj = stem.split("-", 1)[0]
    if "-" not in stem:
        report.add(path, "layout file name must be '<Object>-<Layout Name>.layout-meta.xml'")
    if not proj.object_exists(obj):
        report.add(path, f"layout object '{obj}' does not exist")
        return
    on_layout: dict[str, str | None] = {}
    for item in _all(el, "layoutSections/layoutColumns/layoutItems"):
        fname = _text(item, "field")
        if fname:
            if fname in on_layout:
                report.add(path, f"field '{fname}' is on the layout twice")
            on_layout[fname] = _text(item, "behavior")
            _field_ref(proj, report, path, obj, fname, "layout")
    for (o, fname), info in proj.fields.items():
        if o != obj:
            continue
        if info.required or info.type == "MasterDetail":
            if fname not in on_layout:
                report.add(path, f"required field '{fname}' must be on the layout")
            elif on_layout[fname] != "Required":
                report.add(path, f"required field '{fname}' must have behavior Required")
    for rl in _all(el, "relatedLists"):
        rel = _text(rl, "relatedList") or ""
        if "." in rel:
            child, fname = rel.split(".", 1)
            if child in proj.objects or fname.endswith("__c"):
                _field_ref(proj, report, path, child, fname, "relatedLists")
                info = proj.fields.get((child, fname))
                if info is not None and info.get("referenceTo") != obj:
                    report.add(path, f"relatedLists: '{rel}' does not reference {obj}")
                for col in _all(rl, "fields"):
                    c = col.text or ""
                    if not COLUMN_TOKEN.match(c) and child in proj.objects:
                        _field_ref(proj, report, path, child, c, "relatedLists column")


def check_object_children(proj: Project, path: Path, el: ET.Element, mtype: str, report: Report) -> None:
    parts = path.parts
    obj = parts[len(parts) - 1 - parts[::-1].index("objects") + 1]
    if mtype == "CompactLayout":
        for f in _all(el, "fields"):
            _field_ref(proj, report, path, obj, f.text or "", "compact layout")
    elif mtype == "ListView":
        for c in _all(el, "columns"):
            if not COLUMN_TOKEN.match(c.text or ""):
                _field_ref(proj, report, path, obj, c.text or "", "list view column")
        for fl in _all(el, "filters"):
            fname = _text(fl, "field") or ""
            if not COLUMN_TOKEN.match(fname):
                _field_ref(proj, report, path, obj, fname, "list view filter")
                info = proj.fields.get((obj, fname))
                value = _text(fl, "value")
                if info is not None and info.type == "Picklist" and value:
                    allowed = {v.text for v in _all(info.root, "valueSet/valueSetDefinition/value/fullName")}
                    for v in value.split(","):
                        if v not in allowed:
                            report.add(path, f"list view filter: '{v}' is not a value of {obj}.{fname}")


def check_misc(proj: Project, path: Path, el: ET.Element, mtype: str, report: Report) -> None:
    if mtype == "PlatformEventChannelMember":
        ent = _text(el, "selectedEntity") or ""
        if ent.endswith("__ChangeEvent"):
            obj = ent[: -len("__ChangeEvent")] + "__c"
            if obj not in proj.objects:
                report.add(path, f"selectedEntity '{ent}': object {obj} does not exist")
        elif ent.endswith("ChangeEvent"):
            if ent[: -len("ChangeEvent")] not in STANDARD_OBJECTS:
                report.add(path, f"selectedEntity '{ent}': unknown object")
    elif mtype == "CustomTab":
        name = path.name[: -len(".tab-meta.xml")]
        if _text(el, "customObject") == "true" and name not in proj.objects:
            report.add(path, f"tab for custom object '{name}' which does not exist")


def check_code_pairs(pkg_dirs: list[Path], report: Report) -> None:
    for d in pkg_dirs:
        for ext in ("cls", "trigger"):
            for src in d.rglob(f"*.{ext}"):
                if not src.with_name(src.name + "-meta.xml").is_file():
                    report.add(src, f"missing {src.name}-meta.xml")
            for meta in d.rglob(f"*.{ext}-meta.xml"):
                if not meta.with_name(meta.name[: -len("-meta.xml")]).is_file():
                    report.add(meta, f"meta file without its source {meta.name[: -len('-meta.xml')]}")
        lwc = [p for p in d.rglob("lwc") if p.is_dir()]
        for base in lwc:
            for bundle in base.iterdir():
                if bundle.is_dir() and not bundle.name.startswith(("__", ".")) and bundle.name != "jsconfig.json":
                    if not (bundle / f"{bundle.name}.js-meta.xml").is_file():
                        report.add(bundle, f"LWC bundle without {bundle.name}.js-meta.xml")


# --------------------------------------------------------------------------- custom metadata records
XSI = "{http://www.w3.org/2001/XMLSchema-instance}"
DEVELOPER_NAME = re.compile(r"^[A-Za-z](?!.*__)[A-Za-z0-9_]{0,39}(?<!_)$")


def check_custom_metadata(proj: Project, files: dict[Path, ET.Element], report: Report) -> None:
    records: dict[str, set[str]] = {}
    md_files = [(p, el) for p, el in files.items() if metadata_type_for(p) == "CustomMetadata"]
    for path, _ in md_files:
        type_short, _, dev = path.name[: -len(".md-meta.xml")].partition(".")
        records.setdefault(type_short + "__mdt", set()).add(dev)
    for path, el in md_files:
        type_short, _, dev = path.name[: -len(".md-meta.xml")].partition(".")
        mdt = type_short + "__mdt"
        if mdt not in proj.objects:
            report.add(path, f"custom metadata type {mdt} does not exist")
            continue
        if not DEVELOPER_NAME.match(dev):
            report.add(
                path,
                f"record name '{dev}' is not a valid DeveloperName (letter first, at most 40 of A-Z a-z 0-9 _, no __, no trailing _)",
            )
        label = _text(el, "label") or ""
        if not label or len(label) > 40:
            report.add(path, f"record label must have 1 to 40 characters (has {len(label)})")
        seen: set[str] = set()
        for value in _all(el, "values"):
            fname = _text(value, "field") or ""
            where = f"{mdt}.{dev}.{fname}"
            info = proj.fields.get((mdt, fname))
            if info is None:
                report.add(path, f"{where}: field does not exist on {mdt}")
                continue
            if fname in seen:
                report.add(path, f"{where}: value given twice")
            seen.add(fname)
            v = value.find(f"{{{MD_NS}}}value")
            nil = v is None or v.get(f"{XSI}nil") == "true"
            text = "" if nil or v.text is None else v.text
            if nil or text == "":
                if info.required:
                    report.add(path, f"{where}: required field has no value")
                continue
            _check_md_value(proj, records, info, where, text, v.get(f"{XSI}type"), path, report)
        for (obj, fname), info in proj.fields.items():
            if obj == mdt and info.required and fname not in seen:
                report.add(path, f"{mdt}.{dev}.{fname}: required field has no value")


def _check_md_value(
    proj: Project,
    records: dict[str, set[str]],
    info: FieldInfo,
    where: str,
    text: str,
    xsi_type: str | None,
    path: Path,
    report: Report,
) -> None:
    ftype = info.type
    expected = {
        "Checkbox": "xsd:boolean",
        "Number": "xsd:double",
        "Percent": "xsd:double",
        "Date": "xsd:date",
        "DateTime": "xsd:dateTime",
    }.get(ftype or "", "xsd:string")
    if xsi_type != expected:
        report.add(path, f"{where}: value type {xsi_type} does not fit a {ftype} field (expected {expected})")
    if ftype == "Checkbox" and text not in BOOL:
        report.add(path, f"{where}: '{text}' is not true or false")
    elif ftype in ("Number", "Percent"):
        if not DOUBLE.match(text):
            report.add(path, f"{where}: '{text}' is not a number")
        else:
            precision, scale = int(info.get("precision") or 18), int(info.get("scale") or 0)
            whole, _, frac = text.lstrip("+-").partition(".")
            if len(whole.lstrip("0")) > precision - scale or len(frac.rstrip("0")) > scale:
                report.add(path, f"{where}: {text} does not fit precision {precision}, scale {scale}")
    elif ftype == "Date" and not DATE.match(text):
        report.add(path, f"{where}: '{text}' is not a date (YYYY-MM-DD)")
    elif ftype in ("Text", "TextArea", "LongTextArea", "Url", "Email", "Phone"):
        limit = int(info.get("length") or (255 if ftype != "LongTextArea" else 131072))
        if len(text) > limit:
            report.add(path, f"{where}: {len(text)} characters, the field takes {limit}")
    elif ftype == "Picklist":
        allowed = {x.text for x in _all(info.root, "valueSet/valueSetDefinition/value/fullName")}
        if text not in allowed:
            report.add(path, f"{where}: '{text}' is not a value of the picklist ({', '.join(sorted(allowed))})")
    elif ftype == "MetadataRelationship":
        target = info.get("referenceTo") or ""
        if text not in records.get(target, set()):
            report.add(path, f"{where}: no {target} record named '{text}'")


# --------------------------------------------------------------------------- texts (Custom Labels)
LWC_LABEL_IMPORT = re.compile(r"""from\s+['"]@salesforce/label/c\.([A-Za-z0-9_]+)['"]""")
APEX_LABEL_REF = re.compile(r"\b(?:System\.)?Label\.([A-Za-z][A-Za-z0-9_]*)")
# Attributes of LWC markup a person reads.
TEXT_ATTRS = re.compile(r"""\s(label|alt|alternative-text|placeholder|title|message|header)\s*=\s*"([^"]*)\"""")
LETTERS = re.compile(r"[A-Za-z]{2}")
APEX_LITERAL_ERROR = re.compile(r"""(?:LineLabels\.error|new\s+AuraHandledException)\(\s*'""")


def check_labels(pkg_dirs: list[Path], files: dict[Path, ET.Element], report: Report) -> None:
    labels: dict[str, Path] = {}
    label_file: Path | None = None
    translations: list[tuple[Path, ET.Element]] = []
    for path, el in files.items():
        mtype = metadata_type_for(path)
        if mtype == "CustomLabels":
            label_file = path
            for lab in _all(el, "labels"):
                name = _text(lab, "fullName") or ""
                value = _text(lab, "value") or ""
                if name in labels:
                    report.add(path, f"label {name} is defined twice")
                labels[name] = path
                if not value or len(value) > 1000:
                    report.add(path, f"label {name}: value must have 1 to 1000 characters")
                if len(_text(lab, "shortDescription") or "") > 80:
                    report.add(path, f"label {name}: shortDescription is longer than 80 characters")
        elif mtype == "Translations":
            translations.append((path, el))
    for path, el in translations:
        translated = {_text(t, "name") for t in _all(el, "customLabels")}
        for name in sorted(translated - set(labels)):
            report.add(path, f"translation of label {name}, which does not exist")
        for name in sorted(set(labels) - translated):
            report.add(path, f"label {name} has no translation in {path.name.split('.')[0]}")
        for t in _all(el, "customLabels"):
            if not (_text(t, "label") or ""):
                report.add(path, f"label {_text(t, 'name')}: empty translation")
    for d in pkg_dirs:
        for src in sorted(d.rglob("*")):
            if not src.is_file() or IGNORED_DIRS.intersection(src.parts):
                continue
            if src.suffix == ".js" and "lwc" in src.parts:
                for name in LWC_LABEL_IMPORT.findall(src.read_text(encoding="utf-8")):
                    if name not in labels:
                        report.add(src, f"imports @salesforce/label/c.{name}, which is not in the Custom Labels")
            elif src.suffix == ".html" and "lwc" in src.parts:
                _check_template_texts(src, report)
            elif src.suffix in (".cls", ".trigger"):
                code = src.read_text(encoding="utf-8")
                for name in sorted(set(APEX_LABEL_REF.findall(code))):
                    if name not in labels:
                        report.add(src, f"reads Label.{name}, which is not in the Custom Labels")
                if not src.name.endswith("Test.cls") and APEX_LITERAL_ERROR.search(code):
                    report.add(src, "an error shown to a person is a literal string; use a Custom Label")
    if label_file is None and any(
        LWC_LABEL_IMPORT.search(p.read_text(encoding="utf-8"))
        for d in pkg_dirs
        for p in d.rglob("*.js")
        if "lwc" in p.parts
    ):
        report.add(pkg_dirs[0], "LWCs import Custom Labels but there is no labels/CustomLabels.labels-meta.xml")


def _check_template_texts(path: Path, report: Report) -> None:
    html = path.read_text(encoding="utf-8")
    body = re.sub(r"<!--.*?-->", "", html, flags=re.S)
    for m in TEXT_ATTRS.finditer(body):
        if LETTERS.search(m.group(2)):
            report.add(path, f'{m.group(1)}="{m.group(2)}" is literal text; bind it to a Custom Label')
    for m in re.finditer(r">([^<>]+)<", body):
        text = re.sub(r"\{[^}]*\}", "", m.group(1))
        if LETTERS.search(text):
            report.add(path, f"literal text '{m.group(1).strip()}' in the template; bind it to a Custom Label")


def check_no_org_overwrites(files: dict[Path, ET.Element], report: Report) -> None:
    for path in files:
        if metadata_type_for(path) == "StandardValueSet":
            report.add(
                path,
                "a StandardValueSet deploy replaces the org's whole value list; document the value "
                "for admins to add instead (docs/salesforce.md)",
            )


# --------------------------------------------------------------------------- main
IGNORED_DIRS = {"node_modules", ".sfdx", ".sf", "__tests__", "__mocks__", "coverage"}


def validate(root: Path, base: Path | None = None) -> list[str]:
    """Validate the SFDX project at ``root``; returns the problem lines."""
    report = Report(base or Path.cwd())
    wsdl = load_wsdl()
    validate_project_json(root, report)
    dirs = package_dirs(root, report)
    files: dict[Path, ET.Element] = {}
    for d in dirs:
        if not d.is_dir():
            continue
        for path in sorted(d.rglob("*-meta.xml")):
            if IGNORED_DIRS.intersection(path.relative_to(root).parts):
                continue
            el = validate_xml_file(wsdl, path, report)
            if el is not None:
                files[path] = el
    proj = build_project(root, files, report)
    check_fields(proj, report)
    check_objects(proj, report)
    for path, el in files.items():
        mtype = metadata_type_for(path)
        if mtype == "PermissionSet":
            check_permission_set(proj, path, el, report)
        elif mtype == "Layout":
            check_layout(proj, path, el, report)
        elif mtype in ("CompactLayout", "ListView"):
            check_object_children(proj, path, el, mtype, report)
        else:
            check_misc(proj, path, el, mtype or "", report)
    check_code_pairs(dirs, report)
    check_custom_metadata(proj, files, report)
    check_labels(dirs, files, report)
    check_no_org_overwrites(files, report)
    return report.problems


def main(argv: list[str] | None = None) -> int:
    default_root = Path(__file__).resolve().parents[1] / "sfdc_metadata"
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--root", type=Path, default=default_root, help="SFDX project directory (default: sfdc_metadata)"
    )
    parser.add_argument("--quiet", "-q", action="store_true", help="print problems only, no summary")
    args = parser.parse_args(argv)
    if not args.root.is_dir():
        print(f"{args.root}: not a directory", file=sys.stderr)
        return 2
    problems = validate(args.root)
    for line in problems:
        print(line)
    if not args.quiet:
        count = sum(1 for _ in args.root.rglob("*-meta.xml") if "node_modules" not in _.parts)
        status = "OK" if not problems else f"{len(problems)} problem(s)"
        print(f"validate_metadata: {count} metadata files in {args.root}: {status}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
