"""Open311 GeoReport v2 in XML beside JSON, on SpatiaLite and PostGIS: every endpoint in both
formats (XML parsed, its elements the spec's, its values the JSON's), the ``georeport`` client
reading in XML and JSON, posting in both formats with ``media_url`` kept and the reporter's
details stored but never shown, errors in the requested format, tokens, discovery."""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET

import georeport
import httpx
import pytest
import sqlalchemy as sa
import xmltodict
from hypothesis import given, settings
from hypothesis import strategies as st

from api.db.engine import make_engine, session_factory
from api.db.models.incidents import Open311Submission
from api.services.incidents.api_keys import create_api_key
from api.services.incidents.open311_format import render_xml
from tests.api.incident_helpers import demo_house

# the element order of the GeoReport v2 spec's examples
SERVICE_FIELDS = [
    "service_code",
    "service_name",
    "description",
    "metadata",
    "type",
    "keywords",
    "group",
]
REQUEST_FIELDS = [
    "service_request_id",
    "status",
    "status_notes",
    "service_name",
    "service_code",
    "description",
    "agency_responsible",
    "service_notice",
    "requested_datetime",
    "updated_datetime",
    "expected_datetime",
    "address",
    "address_id",
    "zipcode",
    "lat",
    "long",
    "media_url",
]
REPORTER = {
    "account_id": "acct-7731",
    "email": "li.si@example.org",
    "first_name": "李",
    "last_name": "四号",
    "phone": "13912345678",
    "device_id": "device-abc-123",
}


@pytest.fixture(scope="module")
def api_key(incident_env):
    engine = make_engine(incident_env.url)
    try:
        with session_factory(engine).begin() as session:
            return create_api_key(session, f"xml-{uuid.uuid4().hex[:8]}")
    finally:
        engine.dispose()


def _xml(response: httpx.Response) -> ET.Element:
    assert response.headers["content-type"].startswith("text/xml"), response.headers
    return ET.fromstring(response.content)


def _as_text(value) -> str | None:
    """The XML text of a JSON value (ElementTree gives None for an empty element)."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _same(element: ET.Element, obj: dict, fields: list[str]) -> None:
    assert [child.tag for child in element] == fields
    assert list(obj) == fields
    for child in element:
        assert child.text == _as_text(obj[child.tag]), child.tag


def _get(incident_server, path: str, **params) -> tuple[httpx.Response, httpx.Response]:
    base = f"{incident_server.base}/open311/v2/{path}"
    return httpx.get(f"{base}.json", params=params), httpx.get(f"{base}.xml", params=params)


def test_services_and_definition_in_xml_equal_json(incident_server):
    as_json, as_xml = _get(incident_server, "services")
    assert as_json.status_code == as_xml.status_code == 200
    root = _xml(as_xml)
    assert root.tag == "services" and [c.tag for c in root] == ["service"] * len(as_json.json())
    for element, obj in zip(root, as_json.json(), strict=True):
        _same(element, obj, SERVICE_FIELDS)
    as_json, as_xml = _get(incident_server, "services/0303")
    root = _xml(as_xml)
    assert root.tag == "service_definition"
    assert [c.tag for c in root] == ["service_code", "attributes"]
    assert root.findtext("service_code") == as_json.json()["service_code"] == "0303"
    assert list(root.find("attributes")) == [] and as_json.json()["attributes"] == []


def test_requests_in_xml_equal_json(incident_server):
    as_json, as_xml = _get(incident_server, "requests", status="open,closed")
    rows = as_json.json()
    assert rows
    root = _xml(as_xml)
    assert root.tag == "service_requests" and len(root) == len(rows)
    for element, obj in zip(root, rows, strict=True):
        assert element.tag == "request"
        _same(element, obj, REQUEST_FIELDS)
    one_json, one_xml = _get(incident_server, f"requests/{rows[0]['service_request_id']}")
    root = _xml(one_xml)
    assert root.tag == "service_requests" and len(root) == 1
    _same(root[0], one_json.json()[0], REQUEST_FIELDS)


def test_georeport_client_reads_xml_and_json_alike(incident_server):
    base = f"{incident_server.base}/open311/v2"
    by_json = georeport.GeoReport(base, output_format="json")
    by_xml = georeport.GeoReport(base, output_format="xml")
    services_json, services_xml = by_json.get_service_list(), by_xml.get_service_list()
    assert [s["service_code"] for s in services_xml] == [s["service_code"] for s in services_json]
    assert [s["service_name"] for s in services_xml] == [s["service_name"] for s in services_json]
    assert by_xml.get_service_definition("0603")["service_code"] == "0603"
    # requests of a public category (stability items such as 0603 are never listed publicly)
    rows_json = by_json.get_service_requests(service_code="0303", status="open,closed")
    rows_xml = by_xml.get_service_requests(service_code="0303", status="open,closed")
    if isinstance(rows_xml, dict):  # xmltodict: one element is a dict, several a list
        rows_xml = [rows_xml]
    assert [r["service_request_id"] for r in rows_xml] == [
        r["service_request_id"] for r in rows_json
    ]
    for got, want in zip(rows_xml, rows_json, strict=True):
        assert float(got["lat"]) == want["lat"] and float(got["long"]) == want["long"]
        assert got["requested_datetime"] == want["requested_datetime"]
    rid = rows_json[0]["service_request_id"]
    assert by_xml.get_service_request(rid)["service_request_id"] == rid
    assert by_json.get_service_request(rid)["service_request_id"] == rid


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_post_keeps_media_url_and_hides_the_reporter(incident_server, api_key, incident_env, fmt):
    _, lon, lat, _ = demo_house(40 + (fmt == "xml"))
    media = f"https://photos.example.org/{fmt}/pothole.jpg?size=large&v=2"
    form = {
        "api_key": api_key,
        "service_code": "0303",
        "lat": str(lat),
        "long": str(lon),
        "description": f"垃圾堆放（{fmt}）",
        "media_url": media,
        "jurisdiction_id": "wangge",
        **REPORTER,
    }
    r = httpx.post(f"{incident_server.base}/open311/v2/requests.{fmt}", data=form)
    assert r.status_code == 201, r.text
    if fmt == "xml":
        root = _xml(r)
        assert root.tag == "service_requests" and [c.tag for c in root] == ["request"]
        assert [c.tag for c in root[0]] == ["service_request_id", "service_notice", "account_id"]
        rid, account = root[0].findtext("service_request_id"), root[0].findtext("account_id")
    else:
        answer = r.json()[0]
        rid, account = answer["service_request_id"], answer["account_id"]
    assert account == REPORTER["account_id"]  # echoed to the client that sent it
    client = georeport.GeoReport(f"{incident_server.base}/open311/v2", output_format=fmt)
    got = client.get_service_request(rid)
    assert got["media_url"] == media and got["description"] == form["description"]
    # stored for the staff
    engine = make_engine(incident_env.url)
    try:
        with session_factory(engine)() as session:
            row = session.get(Open311Submission, int(rid))
            assert {k: getattr(row, k) for k in REPORTER} == REPORTER
            assert row.media_url == media
            # personal data of the reporter is stored encrypted, like residents' phones
            stored = session.execute(
                sa.text("SELECT email, first_name, last_name, phone FROM open311_submissions "
                        "WHERE incident_id = :i"), {"i": int(rid)}
            ).one()  # fmt: skip
            assert all(str(v).startswith("wg1:") for v in stored), stored
            assert not {REPORTER[k] for k in ("email", "phone")} & {str(v) for v in stored}
    finally:
        engine.dispose()
    # ...and never in a public answer, in either format
    for path in ("requests", f"requests/{rid}", f"tokens/{rid}"):
        for response in _get(incident_server, path):
            assert response.status_code == 200
            for secret in ("li.si@example.org", "13912345678", "四号", "device-abc-123"):
                assert secret not in response.text, (path, secret)


def test_errors_come_in_the_requested_format(incident_server, api_key, incident_env):
    _, lon, lat, _ = demo_house(42)
    url = f"{incident_server.base}/open311/v2/requests"
    place = {"lat": str(lat), "long": str(lon)}
    bad = [
        ({"service_code": "0303", **place}, 403),
        ({"api_key": api_key, "service_code": "9999", **place}, 404),
        ({"api_key": api_key, "service_code": "0303", **place, "email": "no-at-sign"}, 400),
        ({"api_key": api_key, "service_code": "0303", **place, "phone": "call me"}, 400),
        (
            {"api_key": api_key, "service_code": "0303", **place, "media_url": "javascript:x()"},
            400,
        ),
        ({"api_key": api_key, "service_code": "0303", "address_id": "17"}, 400),
        ({"api_key": api_key, "service_code": "0303", **place, "description": "长" * 4001}, 400),
    ]
    before = _count(incident_env.url)
    for form, code in bad:
        as_xml = httpx.post(f"{url}.xml", data=form)
        as_json = httpx.post(f"{url}.json", data=form)
        assert as_xml.status_code == as_json.status_code == code, (form, as_xml.text)
        root = _xml(as_xml)
        assert root.tag == "errors" and [c.tag for c in root] == ["error"]
        assert [c.tag for c in root[0]] == ["code", "description"]
        assert root[0].findtext("code") == str(code)
        assert root[0].findtext("description") == as_json.json()[0]["description"]
    assert _count(incident_env.url) == before  # nothing written by a refused request
    for path, params, code in (
        ("services/9999", {}, 404),
        ("requests/999999", {}, 404),
        ("tokens/999999", {}, 404),
        ("requests/²", {}, 404),
        ("requests/" + "9" * 40, {}, 404),
        ("requests", {"start_date": "yesterday"}, 400),
        ("requests", {"status": "pending"}, 400),
        ("requests", {"service_request_id": "1," + "9" * 40}, 400),
        ("requests", {"service_request_id": "-1"}, 400),
    ):
        as_json, as_xml = _get(incident_server, path, **params)
        assert as_json.status_code == as_xml.status_code == code
        assert as_json.json()[0]["code"] == code
        assert _xml(as_xml)[0].findtext("code") == str(code)


def test_unknown_endpoints_and_methods_answer_in_the_format_asked(incident_server):
    base = f"{incident_server.base}/open311"
    for method, path, code in (
        ("GET", "/v2/service", 404),  # a typo of services
        ("GET", "/v3/services", 404),
        ("POST", "/v2/services", 405),
        ("POST", "/v2/requests/1", 405),
    ):
        as_xml = httpx.request(method, f"{base}{path}.xml")
        as_json = httpx.request(method, f"{base}{path}.json")
        assert as_xml.status_code == as_json.status_code == code, (method, path)
        assert _xml(as_xml)[0].findtext("code") == str(code)
        assert as_json.json()[0]["code"] == code


def _count(url: str) -> tuple[int, int]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return (
                conn.execute(sa.text("SELECT count(*) FROM incidents")).scalar_one(),
                conn.execute(sa.text("SELECT count(*) FROM open311_submissions")).scalar_one(),
            )
    finally:
        engine.dispose()


def test_tokens_name_their_request(incident_server):
    rid = httpx.get(f"{incident_server.base}/open311/v2/requests.json").json()[0][
        "service_request_id"
    ]
    as_json, as_xml = _get(incident_server, f"tokens/{rid}")
    assert as_json.json() == [{"service_request_id": rid, "token": rid}]
    root = _xml(as_xml)
    assert root.tag == "service_requests"
    assert {c.tag: c.text for c in root[0]} == {"service_request_id": rid, "token": rid}


def test_discovery_names_a_working_endpoint(incident_server):
    as_json = httpx.get(f"{incident_server.base}/open311/discovery.json")
    as_xml = httpx.get(f"{incident_server.base}/open311/discovery.xml")
    doc = as_json.json()
    assert set(doc) == {"changeset", "contact", "key_service", "endpoints"}
    (endpoint,) = doc["endpoints"]
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint["type"] == "production"
    assert sorted(endpoint["formats"]) == ["application/json", "text/xml"]
    for fmt in ("json", "xml"):  # the endpoint it names answers in both formats it lists
        assert httpx.get(f"{endpoint['url']}services.{fmt}").status_code == 200
    root = _xml(as_xml)
    assert root.tag == "discovery"
    assert [c.tag for c in root] == ["changeset", "contact", "key_service", "endpoints"]
    xml_endpoint = root.find("endpoints/endpoint")
    assert xml_endpoint.findtext("url") == endpoint["url"]
    assert xml_endpoint.findtext("specification") == endpoint["specification"]
    assert [f.text for f in xml_endpoint.find("formats")] == endpoint["formats"]


_XML_CHAR = st.characters(codec="utf-8", exclude_categories=("Cs",))


def _xml_text(text: str | None) -> str | None:
    """What XML 1.0 keeps of ``text``: control characters (but tab, newline, carriage
    return) and U+FFFE/U+FFFF dropped; line ends read back as newlines; empty is None."""
    if text is None:
        return None
    kept = "".join(c for c in text if (c >= " " or c in "\t\n\r") and c not in "\ufffe\uffff")
    return kept.replace("\r\n", "\n").replace("\r", "\n") or None


@settings(max_examples=200, deadline=None)
@given(
    rows=st.lists(
        st.fixed_dictionaries(
            {
                "service_request_id": st.integers(min_value=1).map(str),
                "description": st.text(_XML_CHAR, max_size=40),
                "status_notes": st.none() | st.text(_XML_CHAR, max_size=20),
                "lat": st.floats(-90, 90, allow_nan=False),
            }
        ),
        max_size=4,
    )
)
def test_xml_carries_any_text_an_independent_parser_reads_back(rows):
    doc = xmltodict.parse(
        render_xml("service_requests", rows), force_list=("request",), strip_whitespace=False
    )
    got = (doc["service_requests"] or {}).get("request", [])
    assert len(got) == len(rows)
    for element, row in zip(got, rows, strict=True):
        assert element["service_request_id"] == row["service_request_id"]
        assert element["description"] == _xml_text(row["description"])
        assert element["status_notes"] == _xml_text(row["status_notes"])
        assert float(element["lat"]) == row["lat"]
