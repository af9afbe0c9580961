"""A hardened XML parser for untrusted peers (CWMP SOAP, anything else a node receives).

Defences, each on its own so one slip does not open the door:
- a size limit checked before any parsing (default 1 MiB);
- no DTD at all: a DOCTYPE or ENTITY declaration is refused by a byte scan before parsing
  (so a "billion laughs" bomb is never even tokenised) and again on the parsed tree
  (which catches encodings the byte scan cannot read, such as UTF-16);
- the parser itself never substitutes entities, never loads a DTD or external file and
  never touches the network, and keeps libxml2's huge-tree limits (depth, text size) on.
"""

from __future__ import annotations

import re

from lxml import etree

DEFAULT_MAX_SIZE = 1 << 20

# "<!DOCTYPE" / "<!ENTITY" in any ASCII-compatible encoding (UTF-8, Latin-1, ...).
_DECLARATION = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)


class XmlError(ValueError):
    """Input refused: not well-formed, too big, or carrying a DTD/entity declaration."""


def _parser() -> etree.XMLParser:
    # A fresh parser per call: lxml parsers are not safe to share between threads.
    return etree.XMLParser(
        resolve_entities=False,
        load_dtd=False,
        dtd_validation=False,
        no_network=True,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
        collect_ids=False,
    )


def parse(data: bytes, *, max_size: int = DEFAULT_MAX_SIZE) -> etree._Element:
    """Parse untrusted XML bytes and return the root element, or raise XmlError."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise XmlError(f"expected bytes, got {type(data).__name__}")
    data = bytes(data)
    if len(data) > max_size:
        raise XmlError(f"message of {len(data)} bytes exceeds the limit of {max_size} bytes")
    if not data.strip():
        raise XmlError("empty document")
    found = _DECLARATION.search(data)
    if found:
        line = data.count(b"\n", 0, found.start()) + 1
        raise XmlError(f"line {line}: {found.group(1).decode().upper()} declaration refused "
                       "(DTDs and entities are not allowed)")
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as e:
        raise XmlError(f"not well-formed XML: {e}") from None
    tree = root.getroottree()
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:
        raise XmlError("DOCTYPE declaration refused (DTDs and entities are not allowed)")
    for node in root.iter(etree.Entity):
        raise XmlError(f"line {node.sourceline}: entity reference {node.text} refused")
    return root
