"""The demo's ICU pneumonia patient: a synthetic course into septic shock, as FHIR resources.

The patient is a twin on the composed model ``pneumonia-sepsis`` (Smith 2011's lung seeding
Reynolds 2006's systemic response). What its twin observes is drawn from that model: the white
cell count (``sys.wbc``, LOINC 6690-2), every hour for :data:`ICU_HOURS` hours, of a lung
inoculated with :data:`ICU_INOCULUM` CFU/mL at the epoch (the composed model's blood passes
0.5 x 10^6 pathogen cells/cc within 12 h of 10^7) with the model's declared measurement noise.

Its ICU chart -- the inputs of the SOFA score and of Sepsis-3's septic shock -- is **synthetic,
not a real patient's** and **not drawn from the model** (the composed model has no lungs' gas
exchange, platelets, liver, kidneys or blood pressure): hand-chosen values of a pneumonia that
deteriorates into septic shock over the day, written the way a hospital sends them (FHIR R4
Observations with LOINC codes and UCUM units; the norepinephrine infusion as
MedicationAdministrations in ug/kg/min) and read by the same ingestion as ``POST /fhir``
(:func:`medtwin.data.fhir.parse_bundle`). The course (:data:`ICU_PANELS`): on admission a
hypoxaemic pneumonia on a mask (PaO2/FiO2 223 mmHg: SOFA 2, sepsis by Sepsis-3 from a baseline
of 0); falling platelets, rising bilirubin and creatinine, a waning urine output and a falling
mean pressure through the morning; intubated (PEEP) and on norepinephrine from hour 12 with a
lactate above 2 mmol/L: septic shock (Singer et al., JAMA 315:801, 2016); SOFA 17 by hour 20.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

__all__ = ["ICU_HOURS", "ICU_INOCULUM", "ICU_PANELS", "ICU_PRESSOR", "icu_resources"]

ICU_HOURS = 24  # hourly white-cell counts, then the course ends
ICU_INOCULUM = 1.0e7  # CFU/mL in the lung at the epoch (lung.P0 of the truth)
_LOINC = "http://loinc.org"
_UCUM = "http://unitsofmeasure.org"
_RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
_IDS = "urn:medtwin:demo"

# (LOINC code, UCUM unit) of each column of ICU_PANELS
_COLUMNS = (
    ("2703-7", "mm[Hg]"),  # PaO2, arterial
    ("3150-0", "%"),  # FiO2
    ("20077-4", "cm[H2O]"),  # PEEP on the ventilator (None: not ventilated)
    ("777-3", "10*3/uL"),  # platelets
    ("1975-2", "mg/dL"),  # total bilirubin
    ("8478-0", "mm[Hg]"),  # mean arterial pressure
    ("9269-2", "{score}"),  # Glasgow coma score
    ("2160-0", "mg/dL"),  # creatinine
    ("9187-6", "mL/h"),  # urine output
    ("2524-7", "mmol/L"),  # lactate
)
# Synthetic (see the module docstring): hour after the epoch -> PaO2, FiO2 %, PEEP, platelets,
# bilirubin, MAP, GCS, creatinine, urine output, lactate. SOFA by Vincent 1996 (respiration,
# coagulation, liver, cardiovascular, CNS, renal = total):
ICU_PANELS: tuple[tuple[float, tuple[float | None, ...]], ...] = (
    (0.5, (78.0, 35.0, None, 190.0, 0.9, 74.0, 15, 1.0, 70.0, 1.6)),  # 2 0 0 0 0 0 = 2
    (4.5, (72.0, 40.0, None, 160.0, 1.1, 71.0, 15, 1.3, 50.0, 2.1)),  # 2 0 0 0 0 1 = 3
    (8.5, (70.0, 50.0, None, 130.0, 1.4, 67.0, 14, 1.6, 35.0, 2.6)),  # 2 1 1 1 1 1 = 7
    (12.5, (68.0, 60.0, 8.0, 105.0, 1.8, 66.0, 13, 2.0, 25.0, 3.2)),  # 3 1 1 3 1 2 = 11
    (16.5, (66.0, 60.0, 10.0, 88.0, 2.1, 65.0, 13, 2.3, 22.0, 3.9)),  # 3 2 2 4 1 2 = 14
    (20.5, (62.0, 70.0, 10.0, 72.0, 2.6, 65.0, 12, 2.7, 17.0, 4.6)),  # 4 2 2 4 2 3 = 17
)  # fmt: skip
# norepinephrine (ug/kg/min) started and raised to hold the mean pressure at 65 mmHg
ICU_PRESSOR: tuple[tuple[float, float], ...] = ((12.0, 0.05), (16.0, 0.12), (20.0, 0.18))


def _when(epoch: datetime, hour: float) -> str:
    return (epoch + timedelta(hours=hour)).isoformat().replace("+00:00", "Z")


def _observation(epoch: datetime, subject: str, hour: float, code: str, unit: str,
                 value: float) -> dict[str, Any]:  # fmt: skip
    return {
        "resourceType": "Observation",
        "identifier": [{"system": _IDS, "value": f"icu-pneumonia:{code}:{60 * hour:g}"}],
        "status": "final",
        "code": {"coding": [{"system": _LOINC, "code": code}]},
        "subject": {"reference": subject},
        "effectiveDateTime": _when(epoch, hour),
        "valueQuantity": {"value": value, "unit": unit, "system": _UCUM, "code": unit},
    }  # fmt: skip


def _norepinephrine(epoch: datetime, subject: str, hour: float, rate: float) -> dict[str, Any]:
    return {
        "resourceType": "MedicationAdministration",
        "identifier": [{"system": _IDS, "value": f"icu-pneumonia:norepinephrine:{60 * hour:g}"}],
        "status": "in-progress",
        "medicationCodeableConcept": {"coding": [{"system": _RXNORM, "code": "7512",
                                                  "display": "norepinephrine"}]},
        "subject": {"reference": subject},
        "effectivePeriod": {"start": _when(epoch, hour)},
        "dosage": {"rateQuantity": {"value": rate, "unit": "ug/kg/min", "system": _UCUM,
                                    "code": "ug/kg/min"}},
    }  # fmt: skip


def icu_resources(epoch: datetime, subject: str) -> list[tuple[float, dict[str, Any]]]:
    """(minutes after ``epoch``, FHIR R4 resource) of the ICU chart, by time, each about the
    patient ``subject`` (a reference: ``Patient/<pseudonym>``)."""
    out = [(60.0 * h, _observation(epoch, subject, h, code, unit, float(v)))
           for h, row in ICU_PANELS for (code, unit), v in zip(_COLUMNS, row, strict=True)
           if v is not None]  # fmt: skip
    out += [(60.0 * h, _norepinephrine(epoch, subject, h, rate)) for h, rate in ICU_PRESSOR]
    return sorted(out, key=lambda r: r[0])
