"""Write the sample data files beside this script (run it to regenerate them; the files are
checked in, so nothing needs to run it first).

- ``cgm.csv``: 4 h of CGM readings, every 5 min, ``time,glucose_mg_dl`` (minutes, mg/dL), of the
  UVA/Padova virtual patient ``adult#001`` (simglucose's parameters) eating 45 g at minute 60
  with a 4.5 U bolus; interstitial glucose plus Gaussian noise (SD 2 mg/dL + 2 % of the value,
  a quiet sensor), one reading missing (a gap at 100 min), rounded to whole mg/dL as a CGM
  shows it.
- ``events.csv``: that meal and bolus, ``time,kind,amount`` (g, U).
- ``bundle.json``: a FHIR R4 transaction Bundle for one synthetic patient: the Patient, the
  first 2 h of those readings as LOINC 99504-3 Observations (interstitial glucose, mg/dL) from
  2026-01-05T07:00:00Z, and the bolus as an insulin lispro MedicationAdministration (UCUM U).
  The person is invented: no real patient.

Run: ``python examples/data/make_sample_data.py``.
"""

import csv
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

import medtwin  # noqa: F401  (float64)
from medtwin.data import load_virtual_patient
from medtwin.models import UVAPadova
from medtwin.simulate import Regimen, bolus, meal, simulate

HERE = Path(__file__).parent
START = datetime(2026, 1, 5, 7, 0, tzinfo=UTC)
MEAL_T, MEAL_G, BOLUS_U = 60, 45, 4.5
GAP_T = 100


def readings() -> list[tuple[int, int | None]]:
    times = np.arange(5, 245, 5)
    day = Regimen((meal(MEAL_T, MEAL_G), bolus(MEAL_T, BOLUS_U)))
    traj = simulate(UVAPadova(), load_virtual_patient("adult#001"), day, t1=240, saveat=times)
    sc = np.asarray(traj.observable("sc_glucose"))
    noise = np.random.default_rng(20260105).standard_normal(sc.shape)
    values = np.rint(sc + (2.0 + 0.02 * sc) * noise)
    return [(int(t), None if t == GAP_T else int(v)) for t, v in zip(times, values, strict=True)]


def iso(minutes: float) -> str:
    return (START + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")


def bundle(rows: list[tuple[int, int | None]]) -> dict:
    patient_url = "urn:uuid:6f1c2a52-0d3e-4c1b-9a57-5a3b1e000001"
    entries = [
        {
            "fullUrl": patient_url,
            "resource": {
                "resourceType": "Patient",
                "identifier": [
                    {
                        "type": {
                            "coding": [
                                {
                                    "system": "http://terminology.hl7.org/CodeSystem/v2-0203",
                                    "code": "MR",
                                }
                            ]
                        },
                        "system": "http://hospital.example.org/mrn",
                        "value": "MRN-EXAMPLE-0001",
                    }
                ],
                "name": [{"use": "official", "family": "Example", "given": ["Alex"]}],
                "gender": "female",
                "birthDate": "1990-03-14",
            },
            "request": {"method": "POST", "url": "Patient"},
        }
    ]
    for t, v in rows:
        if v is None or t > 120:
            continue
        entries.append(
            {
                "fullUrl": f"urn:uuid:6f1c2a52-0d3e-4c1b-9a57-5a3b1e1{t:05d}",
                "resource": {
                    "resourceType": "Observation",
                    "identifier": [{"system": "urn:example:cgm", "value": f"cgm-{t}"}],
                    "status": "final",
                    "code": {
                        "coding": [
                            {
                                "system": "http://loinc.org",
                                "code": "99504-3",
                                "display": "Glucose [Mass/volume] in Interstitial fluid",
                            }
                        ]
                    },
                    "subject": {"reference": patient_url},
                    "effectiveDateTime": iso(t),
                    "valueQuantity": {
                        "value": v,
                        "unit": "mg/dL",
                        "system": "http://unitsofmeasure.org",
                        "code": "mg/dL",
                    },
                },
                "request": {"method": "POST", "url": "Observation"},
            }
        )
    entries.append(
        {
            "fullUrl": "urn:uuid:6f1c2a52-0d3e-4c1b-9a57-5a3b1e200001",
            "resource": {
                "resourceType": "MedicationAdministration",
                "identifier": [{"system": "urn:example:pump", "value": "bolus-1"}],
                "status": "completed",
                "medicationCodeableConcept": {
                    "coding": [
                        {
                            "system": "http://www.nlm.nih.gov/research/umls/rxnorm",
                            "code": "86009",
                            "display": "insulin lispro",
                        }
                    ]
                },
                "subject": {"reference": patient_url},
                "effectiveDateTime": iso(MEAL_T),
                "dosage": {
                    "dose": {
                        "value": BOLUS_U,
                        "unit": "U",
                        "system": "http://unitsofmeasure.org",
                        "code": "U",
                    }
                },
            },
            "request": {"method": "POST", "url": "MedicationAdministration"},
        }
    )
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}


def main() -> None:
    rows = readings()
    with (HERE / "cgm.csv").open("w", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["time", "glucose_mg_dl"])
        w.writerows([t, "" if v is None else v] for t, v in rows)
    with (HERE / "events.csv").open("w", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["time", "kind", "amount"])
        w.writerows([[MEAL_T, "meal", MEAL_G], [MEAL_T, "bolus", BOLUS_U]])
    (HERE / "bundle.json").write_text(json.dumps(bundle(rows), indent=1) + "\n")
    print(f"wrote cgm.csv ({len(rows)} rows), events.csv, bundle.json to {HERE}")


if __name__ == "__main__":
    main()
