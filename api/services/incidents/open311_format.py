"""Open311 GeoReport v2 answers in the spec's two formats, JSON and XML.

The data (:mod:`api.services.incidents.open311`) is a list of objects or one object; this module
only
serialises it. The XML element names are the spec's: a list is its root element with one
child per item (``services``/``service``, ``service_requests``/``request``,
``errors``/``error``, ``attributes``/``attribute``, ``endpoints``/``endpoint``,
``formats``/``format``, ``values``/``value``); an object's keys become child elements in
order; ``true``/``false`` for booleans; an empty element for null. XML is built with
:mod:`xml.etree.ElementTree` (characters XML 1.0 cannot carry are dropped).

>>> print(render_xml("errors", [{"code": 404, "description": "未知"}]).decode())
<?xml version='1.0' encoding='utf-8'?>
<errors><error><code>404</code><description>未知</description></error></errors>
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Any, Literal

from fastapi.responses import JSONResponse, Response

__all__ = [
    "FORMATS",
    "ITEM_ELEMENTS",
    "MEDIA_TYPES",
    "Format",
    "error_response",
    "render",
    "render_xml",
]

Format = Literal["json", "xml"]
FORMATS: tuple[Format, ...] = ("json", "xml")
MEDIA_TYPES: dict[str, str] = {"json": "application/json", "xml": "text/xml"}
ITEM_ELEMENTS: dict[str, str] = {
    "services": "service",
    "service_requests": "request",
    "errors": "error",
    "attributes": "attribute",
    "values": "value",
    "endpoints": "endpoint",
    "formats": "format",
}
"""The element of one item of each list the spec defines."""

# XML 1.0 allows tab, newline, carriage return and U+0020 upwards, less surrogates and
# U+FFFE/U+FFFF
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return _NOT_XML.sub("", str(value))


def _fill(element: ET.Element, value: Any) -> None:
    if isinstance(value, dict):
        for key, child in value.items():
            _fill(ET.SubElement(element, key), child)
    elif isinstance(value, list | tuple):
        item = ITEM_ELEMENTS[element.tag]
        for child in value:
            _fill(ET.SubElement(element, item), child)
    elif value is not None:
        element.text = _text(value)


def render_xml(root: str, content: list | dict) -> bytes:
    """The XML document of ``content`` under the element ``root`` (UTF-8, declared)."""
    element = ET.Element(root)
    _fill(element, content)
    return ET.tostring(element, encoding="utf-8", xml_declaration=True)


def render(fmt: Format, root: str, content: list | dict, *, status_code: int = 200) -> Response:
    """The answer in ``fmt``: JSON as the data is, XML under ``root``."""
    if fmt == "xml":
        return Response(
            render_xml(root, content),
            status_code=status_code,
            media_type=MEDIA_TYPES["xml"],
        )
    return JSONResponse(content, status_code=status_code)


def error_response(fmt: Format, code: int, description: str) -> Response:
    """The spec's error list ``[{code, description}]`` (``errors``/``error`` in XML)."""
    return render(fmt, "errors", [{"code": code, "description": description}], status_code=code)
