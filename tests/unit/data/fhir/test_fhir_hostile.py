"""Malformed and hostile inputs: each raises FhirError with a specific issue (code and FHIRPath
expression), its OperationOutcome validates as FHIR R4, and its HTTP status is a 4xx. Nothing
is returned, so nothing can be stored."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest
from fhir.resources.R4B.operationoutcome import OperationOutcome
from fhir_builders import PATIENT_URL, bundle, glucose, insulin, patient

from medtwin.data.fhir import http_status, operation_outcome, parse_bundle, parse_resource
from medtwin.data.fhir import search_param as _search
from medtwin.errors import FhirError

E1 = "Bundle.entry[1].resource"


def _b(*resources, **kw) -> bytes:
    return json.dumps(bundle(*resources, **kw)).encode()


def _with(res: dict, path: str, value: Any) -> dict:
    """``res`` with the element at dotted ``path`` set to ``value`` (deleted if ``...``)."""
    out = copy.deepcopy(res)
    node = out
    *head, last = path.split(".")
    for key in head:
        node = node[int(key)] if key.isdigit() else node[key]
    key = int(last) if last.isdigit() else last
    if value is ...:
        del node[key]
    else:
        node[key] = value
    return out


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<Bundle xmlns="http://hl7.org/fhir"><type value="&lol3;"/></Bundle>"""

XXE = b"""<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<Observation xmlns="http://hl7.org/fhir"><id value="&x;"/></Observation>"""

GOOD_BUNDLE = json.dumps(bundle(glucose()))


def _too_many() -> bytes:
    return _b(*[_with(glucose(), "id", f"g{i}") for i in range(11)])


def _dup_full_url() -> bytes:
    b = bundle(glucose(), _with(glucose(), "id", "g2"))
    b["entry"][2]["fullUrl"] = b["entry"][1]["fullUrl"]
    return json.dumps(b).encode()


def _tx(method: str | None = "POST", url: str = "Observation") -> bytes:
    b = bundle(glucose())
    if method is None:
        del b["entry"][1]["request"]
    else:
        b["entry"][1]["request"] = {"method": method, "url": url}
    return json.dumps(b).encode()


def _subject_to_encounter() -> bytes:
    enc = {
        "resourceType": "Encounter",
        "status": "finished",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
    }
    b = bundle(glucose(), enc)
    b["entry"][1]["resource"]["subject"] = {"reference": b["entry"][2]["fullUrl"]}
    return json.dumps(b).encode()


P = parse_bundle
R = parse_resource

# (id, call, expected issue code, expected expression)
CASES: list[tuple[str, Callable[[], Any], str, str]] = [
    # -- not JSON, or JSON that must not be read
    ("not-json", lambda: P(b"hello world"), "structure", ""),
    ("empty", lambda: P(b"   "), "structure", ""),
    ("truncated-json", lambda: P(GOOD_BUNDLE[:-5]), "structure", ""),
    ("json-array", lambda: P(b"[1, 2, 3]"), "structure", ""),
    ("xml", lambda: P(b'<?xml version="1.0"?><Bundle xmlns="http://hl7.org/fhir"/>'),
     "not-supported", ""),
    ("xml-billion-laughs", lambda: P(BILLION_LAUGHS), "not-supported", ""),
    ("xml-external-entity", lambda: R(XXE), "not-supported", ""),
    ("not-utf8", lambda: P(GOOD_BUNDLE.replace("final", "fin\xe9l").encode("latin-1")),
     "invalid", ""),
    ("utf16", lambda: P(GOOD_BUNDLE.encode("utf-16")), "invalid", ""),
    ("lone-surrogate", lambda: P(GOOD_BUNDLE.replace("final", "fin\ud800l")), "invalid", ""),
    ("nan-literal", lambda: P(GOOD_BUNDLE.replace("120.0", "NaN")), "value", ""),
    ("infinity-literal", lambda: P(GOOD_BUNDLE.replace("120.0", "-Infinity")), "value", ""),
    ("float-overflow", lambda: P(GOOD_BUNDLE.replace("120.0", "1e400")), "value", ""),
    ("huge-integer", lambda: P(GOOD_BUNDLE.replace("120.0", "9" * 5000)), "value", ""),
    ("duplicate-key", lambda: P(GOOD_BUNDLE.replace('"status": "final"',
                                                    '"status": "final", "status": "final"')),
     "structure", ""),
    ("deep-nesting", lambda: P('{"resourceType": "Bundle", "x": ' + "[" * 70 + "]" * 70 + "}"),
     "too-costly", ""),
    ("very-deep-nesting", lambda: P('{"a": ' + "[" * 200_000 + "]" * 200_000 + "}"),
     "too-costly", ""),
    ("deep-dict", lambda: P(json.loads("{" + '"a": {' * 80 + "}" * 80 + "}")), "too-costly", ""),
    ("oversized-payload", lambda: P(b'{"resourceType": "Bundle", "x": "' + b"x" * 5_000_001
                                    + b'"}'), "too-long", ""),
    ("oversized-resource", lambda: R(GOOD_BUNDLE.encode(), max_bytes=100), "too-long", ""),
    ("too-many-entries", lambda: P(_too_many(), max_entries=10), "too-costly", "Bundle.entry"),
    # -- bundle shape
    ("not-a-bundle", lambda: P(json.dumps(glucose())), "invalid", "resourceType"),
    ("searchset", lambda: P(_b(glucose(), kind="searchset")), "not-supported", "Bundle.type"),
    ("history", lambda: P(_b(glucose(), kind="history")), "not-supported", "Bundle.type"),
    ("document", lambda: P(_b(glucose(), kind="document")), "not-supported", "Bundle.type"),
    ("batch", lambda: P(_b(glucose(), kind="batch")), "not-supported", "Bundle.type"),
    ("no-type", lambda: P(_with(bundle(glucose()), "type", ...)), "required", "Bundle.type"),
    ("entry-not-object", lambda: P(_with(bundle(glucose()), "entry.1", "x")), "structure",
     "Bundle.entry[1]"),
    ("entry-without-resource", lambda: P(_with(bundle(glucose()), "entry.1.resource", ...)),
     "required", "Bundle.entry[1].resource"),
    ("duplicate-fullurl", lambda: P(_dup_full_url()), "duplicate", "Bundle.entry[2].fullUrl"),
    ("tx-without-request", lambda: P(_tx(None)), "required", "Bundle.entry[1].request"),
    ("tx-delete", lambda: P(_tx("DELETE", "Observation/g1")), "not-supported",
     "Bundle.entry[1].request.method"),
    ("tx-url-type-mismatch", lambda: P(_tx("POST", "Patient")), "invalid",
     "Bundle.entry[1].request.url"),
    ("resource-type-mismatch", lambda: R(patient(), expected_type="Observation"), "invalid",
     "resourceType"),
    ("bundle-as-resource", lambda: R(bundle(glucose())), "invalid", "resourceType"),
    ("unused-resource-alone", lambda: R({"resourceType": "Basic", "code": {"text": "x"}}),
     "not-supported", "resourceType"),
    # -- not FHIR R4
    ("string-as-decimal", lambda: P(_b(glucose(value="abc"))), "value",
     f"{E1}.valueQuantity.value"),
    ("bool-as-decimal", lambda: P(_b(glucose(value=True))), "value", f"{E1}.valueQuantity.value"),
    ("number-as-id", lambda: P(_b(glucose(id=123))), "value", f"{E1}.id"),
    ("string-as-codeableconcept", lambda: P(_b(glucose(code="2339-0"))), "structure",
     f"{E1}.code"),
    ("object-as-list", lambda: P(_b(_with(glucose(), "code.coding", {"code": "2339-0"})),),
     "structure", f"{E1}.code.coding"),
    ("unknown-element", lambda: P(_b(glucose(flavour="sweet"))), "structure", f"{E1}.flavour"),
    ("unknown-resource-type", lambda: P(_b({"resourceType": "Glucometer"})), "invalid",
     f"{E1}.resourceType"),
    ("r5-resource", lambda: P(_b({"resourceType": "ActorDefinition", "status": "active",
                                  "type": "person"})), "not-supported", f"{E1}.resourceType"),
    ("r5-observation-element", lambda: P(_b(glucose(triggeredBy=[{"observation": {
        "reference": "Observation/x"}, "type": "reflex"}]))), "not-supported",
     f"{E1}.triggeredBy"),
    ("r5-medication-administration", lambda: P(_b(_with(
        _with(insulin(), "medicationCodeableConcept", ...), "medication",
        {"concept": {"text": "insulin"}}))), "not-supported", f"{E1}.medication"),
    ("r5-contained-resource", lambda: P(_b(glucose(contained=[{"resourceType": "Requirements",
                                                                "id": "r",
                                                                "status": "draft"}]))),
     "not-supported", E1),
    ("missing-status", lambda: P(_b(_with(glucose(), "status", ...))), "required", f"{E1}.status"),
    # -- codes and units
    ("loinc-bad-check-digit", lambda: P(_b(_with(glucose(), "code.coding.0.code", "2339-1"))),
     "code-invalid", f"{E1}.code.coding[0].code"),
    ("loinc-injection", lambda: P(_b(_with(glucose(), "code.coding.0.code",
                                           "2339-0' OR 1=1 --"))),
     "code-invalid", f"{E1}.code.coding[0].code"),
    ("unsupported-loinc-alone", lambda: R(_with(glucose(), "code.coding.0.code", "2345-7")),
     "not-supported", "Observation.code"),
    ("unsupported-loinc-strict-tx", lambda: P(_b(_with(glucose(), "code.coding.0.code",
                                                       "2345-7")), unsupported_codes="error"),
     "not-supported", f"{E1}.code"),
    ("unknown-unit", lambda: P(_b(glucose(unit="mg"))), "code-invalid",
     f"{E1}.valueQuantity.code"),
    ("wrong-dimension-unit", lambda: P(_b(glucose(unit="%"))), "code-invalid",
     f"{E1}.valueQuantity.code"),
    ("unit-text-only-unknown", lambda: P(_b(glucose(valueQuantity={"value": 5, "unit": "mmol"}))),
     "code-invalid", f"{E1}.valueQuantity.unit"),
    ("non-ucum-system", lambda: P(_b(_with(glucose(), "valueQuantity.system",
                                           "http://snomed.info/sct"))),
     "code-invalid", f"{E1}.valueQuantity.system"),
    ("missing-unit", lambda: P(_b(glucose(valueQuantity={"value": 5}))), "required",
     f"{E1}.valueQuantity.code"),
    ("negative-glucose", lambda: P(_b(glucose(value=-5))), "value", f"{E1}.valueQuantity.value"),
    ("impossible-glucose", lambda: P(_b(glucose(value=700.0, unit="mmol/L"))), "value",
     f"{E1}.valueQuantity.value"),
    ("comparator-ad", lambda: P(_b(_with(glucose(), "valueQuantity.comparator", "ad"))),
     "value", f"{E1}.valueQuantity.comparator"),
    ("lo-as-string", lambda: P(_b(_with(glucose(valueString="LO"), "valueQuantity", ...))),
     "invalid", f"{E1}.valueString"),
    # -- subject and time
    ("missing-subject", lambda: P(_b(_with(glucose(), "subject", ...))), "required",
     f"{E1}.subject"),
    ("subject-group", lambda: P(_b(glucose(subject={"reference": "Group/g1"}))), "invalid",
     f"{E1}.subject.reference"),
    ("subject-logical", lambda: P(_b(glucose(subject={"identifier": {"value": "x"}}))),
     "not-supported", f"{E1}.subject.reference"),
    ("subject-is-encounter-entry", lambda: P(_subject_to_encounter()), "invalid",
     f"{E1}.subject.reference"),
    ("subject-urn-not-in-bundle", lambda: P(_b(glucose(subject={
        "reference": "urn:uuid:6f1c8a52-1111-4222-8333-444455556666"}))), "not-found",
     f"{E1}.subject.reference"),
    ("subject-path-traversal", lambda: P(_b(glucose(subject={
        "reference": "Patient/../../etc/passwd"}))), "invalid", f"{E1}.subject.reference"),
    ("missing-effective", lambda: P(_b(_with(glucose(), "effectiveDateTime", ...))), "required",
     f"{E1}.effective[x]"),
    ("naive-datetime", lambda: P(_b(glucose(effectiveDateTime="2024-05-01T08:30:00"))), "value",
     f"{E1}.effectiveDateTime"),
    ("date-only", lambda: P(_b(glucose(effectiveDateTime="2024-05-01"))), "value",
     f"{E1}.effectiveDateTime"),
    ("impossible-date", lambda: P(_b(glucose(effectiveDateTime="2024-02-30T08:30:00Z"))),
     "value", f"{E1}.effectiveDateTime"),
    ("timing", lambda: P(_b(_with(glucose(effectiveTiming={"event": ["2024-05-01T08:30:00Z"]}),
                                  "effectiveDateTime", ...))), "not-supported",
     f"{E1}.effectiveTiming"),
    # -- insulin
    ("insulin-in-mg", lambda: P(_b(insulin(code="mg"))), "code-invalid", f"{E1}.dosage.dose.code"),
    ("insulin-in-ml", lambda: P(_b(insulin(code="mL"))), "code-invalid", f"{E1}.dosage.dose.code"),
    ("insulin-without-dosage", lambda: P(_b(_with(insulin(), "dosage", ...))), "required",
     f"{E1}.dosage"),
    ("negative-insulin", lambda: P(_b(insulin(dose=-2))), "value", f"{E1}.dosage"),
    ("insulin-rate-per-kg", lambda: P(_b(insulin(dosage={"rateQuantity": {
        "value": 1, "system": "http://unitsofmeasure.org", "code": "U/kg"}}))), "code-invalid",
     f"{E1}.dosage.rateQuantity.code"),
    # -- search parameters
    ("search-sql-injection", lambda: _search("patient", "' OR 1=1 --", "patient"), "value",
     "patient"),
    ("search-path-traversal", lambda: _search("patient", "../../etc/passwd", "patient"), "value",
     "patient"),
    ("search-script", lambda: _search("code", "<script>alert(1)</script>", "code"), "value",
     "code"),
    ("search-union", lambda: _search("code", "2339-0 UNION SELECT * FROM users", "code"), "value",
     "code"),
    ("search-control-chars", lambda: _search("date", "ge2024-01-01\x00", "date"), "invalid",
     "date"),
    ("search-crlf", lambda: _search("patient", "p-0123456789abcdef\r\nX: y", "patient"),
     "invalid", "patient"),
    ("search-over-long", lambda: _search("code", "1" * 10_000, "code"), "too-long", "code"),
    ("search-count-huge", lambda: _search("_count", "100000", "count"), "value", "_count"),
    ("search-count-negative", lambda: _search("_count", "-1", "count"), "value", "_count"),
    ("search-date-injection", lambda: _search("date", "2024-01-01; DROP TABLE obs", "date"),
     "value", "date"),
]  # fmt: skip


@pytest.mark.parametrize(
    "call, code, expression", [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_refused_with_a_specific_issue(call, code, expression):
    with pytest.raises(FhirError) as info:
        call()
    issues = [(c, e) for c, e, _ in info.value.issues]
    assert (code, expression) in issues, info.value.issues
    for _, _, diagnostics in info.value.issues:
        assert 10 < len(diagnostics) < 800
    outcome = operation_outcome(info.value)
    OperationOutcome.model_validate(outcome)  # the answer itself is valid FHIR R4
    assert outcome["issue"][0]["severity"] == "error"
    assert 400 <= http_status(info.value) < 500


def test_there_are_at_least_30_cases():
    assert len(CASES) >= 30
    assert len({c[0] for c in CASES}) == len(CASES)


def test_one_bad_entry_refuses_the_whole_transaction():
    good = _with(glucose(), "id", "g2")
    with pytest.raises(FhirError) as info:
        P(_b(good, glucose(value=-1), _with(good, "id", "g3")))
    assert [e for _, e, _ in info.value.issues] == ["Bundle.entry[2].resource.valueQuantity.value"]


def test_all_issues_of_a_bundle_are_collected():
    payload = _b(
        glucose(value=-1),
        glucose(id=7),
        insulin(code="mg"),
        _with(glucose(), "subject", ...),
        kind="collection",
    )
    with pytest.raises(FhirError) as info:
        P(payload)
    expressions = {e for _, e, _ in info.value.issues}
    assert {
        "Bundle.entry[1].resource.valueQuantity.value",
        "Bundle.entry[2].resource.id",
        "Bundle.entry[3].resource.dosage.dose.code",
        "Bundle.entry[4].resource.subject",
    } <= expressions


def test_http_status_by_kind_of_failure():
    def status(call):
        with pytest.raises(FhirError) as info:
            call()
        return http_status(info.value)

    assert status(lambda: P(b"x" * 20, max_bytes=10)) == 413
    assert status(lambda: P(BILLION_LAUGHS)) == 415
    assert status(lambda: P(b"{not json")) == 400
    assert status(lambda: P(_b(glucose(value=-1)))) == 422


def test_the_good_bundle_of_these_cases_is_accepted():
    parsed = P(GOOD_BUNDLE)
    (o,) = parsed.observations
    assert (o.value, o.patient_ref) == (120.0, PATIENT_URL)
