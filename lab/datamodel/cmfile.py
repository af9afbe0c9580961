"""The HNB configuration (CM) file: what a Download of FileType "3 Vendor Configuration
File" carries, and what an Upload of "1 Vendor Configuration File" returns.

TS 32.584's XSD is not public. This module uses the shape of its HeNB sibling (TS 32.594):
the data-model tree as nested XML elements inside a 3GPP file envelope. Unconfirmed for
32.584 itself; this is the lab's format:

    <?xml version="1.0" encoding="UTF-8"?>
    <configDataFile>
      <fileHeader fileFormatVersion="32.584 V11.0" vendorName="hnblab"/>
      <configData>
        <managedElement localDn="HNB-000000-0001" OUI="000000" ProductClass="HNB">
          <Device>
            <ManagementServer>
              <PeriodicInformInterval>300</PeriodicInformInterval>
            </ManagementServer>
            <Services>
              <FAPService index="1">
                <FAPControl><UMTS><Gateway>
                  <SecGWServer1>segw.operator.lab</SecGWServer1>
                </Gateway></UMTS></FAPControl>
              </FAPService>
            </Services>
          </Device>
        </managedElement>
      </configData>
      <fileFooter dateTime="2026-12-03T12:00:00Z"/>
    </configDataFile>

- One element per path segment under <Device>; an instance number becomes an `index`
  attribute on its table's element (Device.Services.FAPService.1.X -> <FAPService
  index="1"><X>); an element with child elements is an object, one without is a
  parameter whose text is the value (empty element = empty string).
- No namespace is written (32.584 publishes none); the reader matches local names, so a
  namespaced file reads the same. fileHeader and fileFooter are optional on input.
- Reading is hardened (lab.cwmp.xmlsafe: no DTD/entities, size limit) and strict about
  structure: a corrupt file raises `CmFileError` naming what is wrong and the line.

A CM file is applied like one SetParameterValues without a ParameterKey: every value is
checked first and one bad parameter applies nothing (`apply_cm_file`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from lxml import etree

from lab.cwmp import rpc, xmlsafe

if TYPE_CHECKING:
    from lab.datamodel.tree import DataModel

FILE_FORMAT_VERSION = "32.584 V11.0"
MAX_SIZE = 4 << 20
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]*")
_INDEX = re.compile(r"[0-9]{1,10}")


class CmFileError(ValueError):
    """A CM file that cannot be read (not XML, wrong structure, bad index, ...)."""


@dataclass
class CmFile:
    header: dict[str, str] = field(default_factory=dict)  # fileHeader attributes
    managed_element: dict[str, str] = field(default_factory=dict)  # its attributes
    footer: dict[str, str] = field(default_factory=dict)
    params: list[tuple[str, str]] = field(default_factory=list)


# ---- writing ---------------------------------------------------------------------------


@dataclass
class _Node:
    children: dict[tuple[str, int | None], _Node] = field(default_factory=dict)
    value: str | None = None


def _segments(path: str) -> list[tuple[str, int | None]]:
    """"Device.Services.FAPService.1.X" -> [(Device, None), (Services, None),
    (FAPService, 1), (X, None)]."""
    if not path.startswith("Device.") or path.endswith("."):
        raise ValueError(f"{path}: a CM file holds full parameter names under 'Device.'")
    out: list[tuple[str, int | None]] = []
    for seg in path.split("."):
        if seg.isdigit():
            if len(out) < 2 or out[-1][1] is not None or int(seg) == 0:
                raise ValueError(f"{path}: misplaced instance number {seg}")
            out[-1] = (out[-1][0], int(seg))
        elif _NAME.fullmatch(seg):
            out.append((seg, None))
        else:
            raise ValueError(f"{path}: {seg!r} is not a valid name segment")
    if out[-1][1] is not None:
        raise ValueError(f"{path}: ends with an instance number, not a parameter")
    return out


def write_cm_file(params: Mapping[str, str], *, vendor_name: str = "hnblab",
                  local_dn: str = "", oui: str | None = None,
                  product_class: str | None = None,
                  file_format_version: str = FILE_FORMAT_VERSION,
                  date_time: str | None = None) -> bytes:
    """Serialise parameter values (full names -> values, in the order given) as a CM
    file. Raises ValueError naming a bad path or value."""
    root = _Node()
    for path, value in params.items():
        node = root
        segs = _segments(path)
        for i, key in enumerate(segs):
            last = i == len(segs) - 1
            child = node.children.get(key)
            if child is None:
                child = node.children[key] = _Node()
            if last and (child.children or child.value is not None):
                raise ValueError(f"{path}: given twice or also used as an object")
            if not last and child.value is not None:
                raise ValueError(f"{path}: {key[0]} is a parameter, not an object")
            node = child
        node.value = str(value)

    doc = etree.Element("configDataFile")
    etree.SubElement(doc, "fileHeader", fileFormatVersion=file_format_version,
                     vendorName=vendor_name)
    data = etree.SubElement(doc, "configData")
    me_attrs = {"localDn": local_dn}
    if oui is not None:
        me_attrs["OUI"] = oui
    if product_class is not None:
        me_attrs["ProductClass"] = product_class
    managed = etree.SubElement(data, "managedElement", me_attrs)

    def emit(parent: etree._Element, node: _Node, where: str) -> None:
        for (name, index), child in node.children.items():
            el = etree.SubElement(parent, name)
            here = f"{where}{name}." + (f"{index}." if index is not None else "")
            if index is not None:
                el.set("index", str(index))
            if child.value is not None:
                try:
                    el.text = child.value
                except ValueError as e:
                    raise ValueError(f"{here[:-1]}: value not representable in XML: {e}") \
                        from None
            else:
                emit(el, child, here)

    emit(managed, root, "")
    stamp = date_time or datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    etree.SubElement(doc, "fileFooter", dateTime=stamp)
    return etree.tostring(doc, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def export_cm_file(model: DataModel, *, vendor_name: str = "hnblab",
                   date_time: str | None = None) -> bytes:
    """The device's configuration as a CM file (Upload "1 Vendor Configuration File"):
    every writable parameter except hidden ones (passwords), identified by the device's
    OUI, ProductClass and serial number."""
    dev = model.device_id()
    return write_cm_file(model.values(writable_only=True, include_hidden=False),
                         vendor_name=vendor_name, local_dn=f"HNB-{dev.oui}-{dev.serial_number}",
                         oui=dev.oui, product_class=dev.product_class, date_time=date_time)


# ---- reading ---------------------------------------------------------------------------


def _local(el: etree._Element) -> str:
    return etree.QName(el).localname


def _elements(el: etree._Element) -> list[etree._Element]:
    return [c for c in el if isinstance(c.tag, str)]


def _no_text(el: etree._Element, what: str) -> None:
    # an object element holds elements only: stray text means a damaged file
    texts = [el.text] + [c.tail for c in el]
    stray = next((t.strip() for t in texts if t and t.strip()), None)
    if stray:
        raise CmFileError(f"line {el.sourceline}: unexpected text {stray[:40]!r} in {what}")


def _one(parent: etree._Element, name: str, required: bool = True) -> etree._Element | None:
    found = [c for c in _elements(parent) if _local(c) == name]
    if len(found) > 1:
        raise CmFileError(f"line {found[1].sourceline}: more than one <{name}>")
    if not found and required:
        raise CmFileError(f"line {parent.sourceline}: <{_local(parent)}> has no <{name}>")
    return found[0] if found else None


def read_cm_file(data: bytes, *, max_size: int = MAX_SIZE) -> CmFile:
    """Parse a CM file completely (header, managed element, parameters)."""
    try:
        root = xmlsafe.parse(data, max_size=max_size)
    except xmlsafe.XmlError as e:
        raise CmFileError(f"CM file refused: {e}") from None
    if _local(root) != "configDataFile":
        raise CmFileError(f"line {root.sourceline}: root element is <{_local(root)}>, "
                          "expected <configDataFile>")
    allowed = {"fileHeader", "configData", "fileFooter"}
    for child in _elements(root):
        if _local(child) not in allowed:
            raise CmFileError(f"line {child.sourceline}: unexpected <{_local(child)}> in "
                              "<configDataFile>")
    _no_text(root, "<configDataFile>")
    out = CmFile()
    header = _one(root, "fileHeader", required=False)
    if header is not None:
        out.header = dict(header.attrib)
    footer = _one(root, "fileFooter", required=False)
    if footer is not None:
        out.footer = dict(footer.attrib)
    config = _one(root, "configData")
    assert config is not None
    _no_text(config, "<configData>")
    for child in _elements(config):
        if _local(child) != "managedElement":
            raise CmFileError(f"line {child.sourceline}: unexpected <{_local(child)}> in "
                              "<configData>")
    managed = _one(config, "managedElement")
    assert managed is not None
    out.managed_element = dict(managed.attrib)
    _no_text(managed, "<managedElement>")
    top = _elements(managed)
    if len(top) != 1 or _local(top[0]) != "Device":
        where = top[0].sourceline if top else managed.sourceline
        raise CmFileError(f"line {where}: <managedElement> must hold exactly one <Device>")
    if top[0].get("index") is not None:
        raise CmFileError(f"line {top[0].sourceline}: <Device> is not a multi-instance object")
    seen: set[str] = set()
    _walk(top[0], "Device.", out.params, seen)
    return out


def _walk(el: etree._Element, prefix: str, out: list[tuple[str, str]], seen: set[str]) -> None:
    _no_text(el, f"object {prefix}")
    for child in _elements(el):
        name = _local(child)
        if not _NAME.fullmatch(name):
            raise CmFileError(f"line {child.sourceline}: {name!r} is not a parameter name")
        index = child.get("index")
        kids = _elements(child)
        if kids:
            path = prefix + name + "."
            if index is not None:
                if not _INDEX.fullmatch(index) or int(index) == 0:
                    raise CmFileError(f"line {child.sourceline}: {path}: index {index!r} is "
                                      "not a positive integer")
                path += f"{int(index)}."
            _walk(child, path, out, seen)
            continue
        path = prefix + name
        if index is not None:
            raise CmFileError(f"line {child.sourceline}: {path}: a parameter cannot carry "
                              "an index (an object needs child elements)")
        if path in seen:
            raise CmFileError(f"line {child.sourceline}: {path} appears twice")
        seen.add(path)
        out.append((path, child.text or ""))


def parse_cm_file(data: bytes, *, max_size: int = MAX_SIZE) -> list[tuple[str, str]]:
    """The (parameter name, value) pairs a CM file sets, in file order."""
    return read_cm_file(data, max_size=max_size).params


def apply_cm_file(model: DataModel, data: bytes) -> list[str]:
    """Apply a CM file to the model, all or nothing. Returns the names that changed.

    Raises CmFileError for an unreadable file and CwmpError (9003 with per-parameter
    faults) when any value is refused; in both cases nothing is applied.
    """
    pairs = parse_cm_file(data)
    return model.set_values([rpc.ParameterValue(n, v, "") for n, v in pairs],
                            parameter_key=None)
