"""The bad input a user types, one case per row: the table that
``tests/unit/cli/test_bad_input.py`` drives every command with and that
``benchmarks/cli_bad_input.py`` times in fresh processes.

``CASES``: name -> (arguments after ``medtwin``, a fragment the one-line error must hold),
run in a folder holding ``FILES`` (path -> text) and an empty folder ``dir``
(:func:`make_folder`). Every case is refused before JAX is imported: a check that needs a
model reads its declaration (:func:`medtwin.models.declaration`), not its numerics.
"""

from __future__ import annotations

import base64
from pathlib import Path

KEY = base64.b64encode(bytes(range(32))).decode()
P = "p-0123456789abcdef"  # a pseudonym no store holds
MISSING_DB = "sqlite:///missing.db"

BN_VARS = (
    "network t {\n}\nvariable a {\n  type discrete [ 2 ] { x, y };\n}\n"
    "variable b {\n  type discrete [ 2 ] { lo, hi };\n}\n"
)

CLARITY = (
    "Index,Timestamp (YYYY-MM-DDThh:mm:ss),Event Type,Event Subtype,Patient Info,Device Info,"
    "Source Device ID,Glucose Value (mg/dL),Insulin Value (u),Carb Value (grams),Duration "
    "(hh:mm:ss),Glucose Rate of Change (mg/dL/min),Transmitter Time (Long Integer),"
    "Transmitter ID\n"
)

FILES = {
    "good.csv": "time,glucose_mg_dl\n0,120\n5,125\n",
    "negative.csv": "time,glucose_mg_dl\n0,120\n5,-30\n",
    "huge.csv": "time,glucose_mg_dl\n0,120\n5,1e308\n",
    "malformed.csv": "when;what\n1;2\n",
    "not_cgm.csv": "Date;Time;Sensor Glucose (mg/dL)\n04.03.2024;08:00;120\n",
    "clarity.csv": CLARITY + "1,2024-03-04T08:00:00,EGV,,,,,120,,,,,,TX1\n",
    "clarity_bolus.csv": CLARITY + "1,2024-03-04T08:00:00,EGV,,,,,120,,,,,,TX1\n"
    "2,2024-03-04T08:05:00,Insulin,Fast-Acting,,,,,1e4,,,,,\n",
    "big_bolus.csv": "time,kind,amount\n0,meal,40\n5,bolus,1e12\n",
    "big_meal.csv": "time,kind,amount\n0,meal,1e300\n",
    "existing.csv": "keep me\n",
    "existing.json": "{}\n",
    "bad.yaml": "arms: [a\n  b: c: d\n",
    "list.yaml": "- just\n- a list\n",
    "huge.yaml": "arms: [{name: a}]\nendpoints: [tir]\npopulation: {enlarge: {n: 1000000000}}\n",
    "days.yaml": "arms: [{name: a}]\nendpoints: [tir]\ndays: 100000000\n",
    "boot.yaml": "arms: [{name: a}]\nendpoints: [tir]\nn_boot: 1000000000\n",
    "good.yaml": "arms: [{name: a}]\nendpoints: [tir]\n",
    "gdone/radii.csv": "day\n",
    # medtwin bn: a two-node network, a cycle, a column summing to 1.1, statements, cases
    "bn_net.bif": BN_VARS + "probability ( a ) {\n  table 0.5, 0.5;\n}\nprobability ( b | a ) "
    "{\n  (x) 1.0, 0.0;\n  (y) 1.0, 0.0;\n}\n",
    "bn_cyclic.bif": BN_VARS + "probability ( a | b ) {\n  (lo) 0.5, 0.5;\n  (hi) 0.5, 0.5;\n}"
    "\nprobability ( b | a ) {\n  (x) 0.5, 0.5;\n  (y) 0.5, 0.5;\n}\n",
    "bn_badsum.bif": BN_VARS + "probability ( a ) {\n  table 0.6, 0.5;\n}\nprobability ( b | a ) "
    "{\n  (x) 0.5, 0.5;\n  (y) 0.5, 0.5;\n}\n",
    "bn_unknown.yaml": "statements:\n  - {id: S1, cause: a, effect: oedema, direction: increases,"
    " ratings: [0, 0, 0, 0, 0, 3, 15]}\n",
    "bn_cases.csv": "a,b\nx,lo\ny,lo\n",
    # the cardiac commands' scan and segmentation: never read, every case refused before
    "lge.nii.gz": "not a NIfTI volume\n",
    "seg.nii.gz": "not a NIfTI volume\n",
    "bn_badcases.csv": "a,b\nx,lo\nz,lo\n",
}

S = ["sensitivity", "t1d", "--output", "bg"]
SC = ["simulate", "cardiac"]
TC = ["twin", "cardiac", "--lge", "lge.nii.gz", "--segmentation", "seg.nii.gz", "--pace", "1,6"]
CASES = {
    # simulate t1d
    "days huge": (["simulate", "t1d", "--days", "100000000"], "(0, 366] d"),
    "days not an integer": (["simulate", "t1d", "--days", "1e8"], "'--days'"),
    "meal 1e300 g": (["simulate", "t1d", "--meal", "07:00=1e300"], "[0, 1000] g"),
    "bolus 1e12 U": (["simulate", "t1d", "--bolus", "07:00=1e12"], "[0, 300] U"),
    "basal 1e9 U/h": (["simulate", "t1d", "--basal", "1e9"], "[0, 50] U/h"),
    "out a folder": (["simulate", "t1d", "--out", "dir"], "names a folder"),
    "out missing folder": (["simulate", "t1d", "--out", "nodir/x.csv"], "existing folder"),
    "out exists": (["simulate", "t1d", "--out", "existing.csv"], "--overwrite"),
    "out unwritable": (["simulate", "t1d", "--out", "/proc/x.csv"], "cannot write"),
    "unknown option": (["simulate", "t1d", "--dayz", "2"], "No such option"),
    # simulate glioma
    "glioma days huge": (["simulate", "glioma", "--days", "100000000", "--out", "g"], "366"),
    "glioma out a file": (["simulate", "glioma", "--out", "existing.csv"], "names a file"),
    "glioma out missing folder": (["simulate", "glioma", "--out", "nodir/g"], "existing folder"),
    "glioma outputs exist": (["simulate", "glioma", "--out", "gdone"], "already holds radii"),
    # simulate cardiac (limits.CARDIAC_*; the scan is read, and JAX loaded, only after these)
    "cardiac ms 1e9": ([*SC, "--ms", "1e9", "--out", "c"], "(0, 10000] ms"),
    "cardiac s1 cycle 1 ms": ([*SC, "--s1-cycle", "1", "--out", "c"], "[10, 5000] ms"),
    "cardiac s1 count 100": ([*SC, "--s1-count", "100", "--out", "c"], "in 1..20"),
    "cardiac four extrastimuli": ([*SC, *["--s2", "300"] * 4, "--out", "c"], "must hold 0..3"),
    "cardiac ms before the last stimulus": ([*SC, "--s1-count", "2", "--ms", "500", "--out",
                                             "c"], "ends at or before the last stimulus"),
    "cardiac phantom side 1 m": ([*SC, "--phantom-size", "1000,30", "--out", "c"],
                                 "[15, 200] mm"),
    "cardiac phantom spacing 1 um": ([*SC, "--phantom-spacing", "0.001", "--out", "c"],
                                     "[0.05, 1] mm"),
    "cardiac 16e6 cells": ([*SC, "--phantom-size", "200,200", "--phantom-spacing", "0.05",
                            "--out", "c"], "1..2,000,000"),
    "cardiac 33 electrodes": ([*SC, *["--electrode", "60,0"] * 33, "--out", "c"],
                              "must hold 1..32 electrodes"),
    "cardiac label 70000": ([*SC, "--lge", "lge.nii.gz", "--segmentation", "seg.nii.gz",
                             "--myocardium-label", "70000", "--out", "c"], "0..65535"),
    "cardiac unknown ionic": ([*SC, "--ionic", "fitzhugh-nagumo", "--out", "c"],
                              "--ionic must name a cardiac"),
    "cardiac pace malformed": ([*SC, "--pace", "2;15", "--out", "c"], "--pace expects X,Y"),
    "cardiac scan without segmentation": ([*SC, "--lge", "lge.nii.gz", "--out", "c"],
                                          "needs --lge scan.nii.gz and --segmentation"),
    "cardiac scan missing": ([*SC, "--lge", "nope.nii.gz", "--segmentation", "seg.nii.gz",
                              "--out", "c"], "No such file"),
    "cardiac phantom with a scan": ([*SC, "--lge", "lge.nii.gz", "--segmentation",
                                     "seg.nii.gz", "--phantom", "homogeneous", "--out", "c"],
                                    "describes a phantom"),
    "cardiac out a file": ([*SC, "--out", "existing.csv"], "names a file"),
    # twin cardiac (the options, then the files' presence and --out; the scan after these)
    "cardiac twin no observations": (TC, "needs observations"),
    "cardiac twin draws 1e6": ([*TC, "--qrs", "40", "--draws", "1000000"], "(posterior draws)"),
    "cardiac twin sites 1e6": ([*TC, "--qrs", "40", "--sites", "1000000"], "(1..50)"),
    "cardiac twin s1 beats 100": ([*TC, "--qrs", "40", "--s1-beats", "100"], "--s1-beats"),
    "cardiac twin seed -1": ([*TC, "--qrs", "40", "--seed", "-1"], "'--seed'"),
    "cardiac twin qrs negative": ([*TC, "--qrs", "-5"], "--qrs must be a number > 0"),
    "cardiac twin four stages": ([*TC, "--qrs", "40", "--couplings", "300;290;280;270"],
                                 "one to three stages"),
    "cardiac twin scan missing": (["twin", "cardiac", "--lge", "nope.nii.gz", "--segmentation",
                                   "seg.nii.gz", "--pace", "1,6", "--qrs", "40"],
                                  "No such file"),
    "cardiac twin out a file": ([*TC, "--qrs", "40", "--out", "existing.csv"], "names a file"),
    # twin replay
    "replay horizon 1e9": (["twin", "replay", "--data", "good.csv", "--horizon", "1e9"],
                           "'--horizon'"),
    "replay particles 1e9": (["twin", "replay", "--data", "good.csv", "--particles",
                              "1000000000"], "'--particles'"),
    "replay seed -1": (["twin", "replay", "--data", "good.csv", "--seed", "-1"], "'--seed'"),
    "replay -30 mg/dL": (["twin", "replay", "--data", "negative.csv"], "-30 mg/dL"),
    "replay 1e308 mg/dL": (["twin", "replay", "--data", "huge.csv"], "1e+308 mg/dL"),
    "replay data a folder": (["twin", "replay", "--data", "dir"], "'dir'"),
    "replay data malformed": (["twin", "replay", "--data", "malformed.csv"], "header"),
    "replay data missing": (["twin", "replay", "--data", "nope.csv"], "No such file"),
    "replay no CGM format": (["twin", "replay", "--data", "not_cgm.csv"],
                             "none of the CGM formats"),
    "replay tz unknown": (["twin", "replay", "--data", "clarity.csv", "--tz", "Mars/Olympus"],
                          "Unknown time zone"),
    "replay tz on a stream": (["twin", "replay", "--data", "good.csv", "--tz", "UTC"],
                              "--tz sets the zone"),
    "replay export bolus 1e4": (["twin", "replay", "--data", "clarity_bolus.csv"], "[0, 300] U"),
    "replay bolus 1e12": (["twin", "replay", "--data", "good.csv", "--events",
                           "big_bolus.csv"], "[0, 300] U"),
    "replay meal 1e300": (["twin", "replay", "--data", "good.csv", "--events",
                           "big_meal.csv"], "[0, 1000] g"),
    "replay out a folder": (["twin", "replay", "--data", "good.csv", "--out", "dir"],
                            "names a folder"),
    "replay out exists": (["twin", "replay", "--data", "good.csv", "--out", "existing.csv"],
                          "--overwrite"),
    # twin glioma
    "glioma twin particles": (["twin", "glioma", "--images", "dir", "--particles",
                               "100000000"], "'--particles'"),
    "glioma twin horizon": (["twin", "glioma", "--images", "dir", "--horizon", "100000000"],
                            "'--horizon'"),
    "glioma twin out a file": (["twin", "glioma", "--images", "dir", "--out", "existing.csv"],
                               "names a file"),
    # twin create
    "create no store": (["twin", "create", P, "--db", MISSING_DB], "No medtwin store"),
    "create particles 1e9": (["twin", "create", P, "--db", MISSING_DB, "--particles",
                              "1000000000"], "particles"),
    "create horizon 1e9": (["twin", "create", P, "--db", "sqlite:///existing.json", "--horizon",
                            "1e9"], "horizon"),
    "create bad epoch": (["twin", "create", P, "--db", MISSING_DB, "--epoch", "yesterday"],
                         "--epoch"),
    "create sensor not read": (["twin", "create", P, "--db", "sqlite:///existing.json",
                                "--sensor", "cgm"], "has no observable named 'cgm'"),
    # trial run
    "trial spec a folder": (["trial", "run", "dir"], "is a folder"),
    "trial spec missing": (["trial", "run", "nope.yaml"], "does not exist"),
    "trial malformed yaml": (["trial", "run", "bad.yaml"], "not valid YAML at line"),
    "trial yaml a list": (["trial", "run", "list.yaml"], "YAML mapping"),
    "trial 1e9 patients": (["trial", "run", "huge.yaml"], "population.enlarge.n"),
    "trial 1e8 days": (["trial", "run", "days.yaml"], "'days'"),
    "trial 1e9 resamples": (["trial", "run", "boot.yaml"], "'n_boot'"),
    "trial seed -1": (["trial", "run", "good.yaml", "--seed", "-1"], "'--seed'"),
    "trial out a folder": (["trial", "run", "good.yaml", "--out", "dir"], "names a folder"),
    "trial out exists": (["trial", "run", "good.yaml", "--out", "existing.csv"], "--overwrite"),
    # trial t1d-control
    "control days 1e9": (["trial", "t1d-control", "--days", "1e9"], "'--days'"),
    "control particles": (["trial", "t1d-control", "--particles", "100000000"], "particles"),
    "control out a folder": (["trial", "t1d-control", "--out", "dir"], "names a folder"),
    "control therapy error": (["trial", "t1d-control", "--therapy-error", "-1"], "sd of the log"),
    "control policy": (["trial", "t1d-control", "--policies", "bb,oref"], "bb,pid,aps,mpc"),
    # replay-version
    "replay-version neither": (["replay-version", P, "--db", MISSING_DB], "or --all"),
    "replay-version both": (["replay-version", P, "3", "--all", "--db", MISSING_DB],
                            "got VERSION 3 and --all"),
    "replay-version negative": (["replay-version", P, "--db", MISSING_DB, "--", "-1"],
                                "VERSION must be a twin version >= 0"),
    "replay-version no store": (["replay-version", P, "0", "--db", MISSING_DB],
                                "No medtwin store"),
    # recommend
    "recommend carbs 1e12": (["recommend", P, "--db", MISSING_DB, "--carbs", "1e12"],
                             "[0, 1000] g"),
    "recommend carb ratio 0": (["recommend", P, "--db", MISSING_DB, "--carb-ratio", "0"],
                               "--carb-ratio"),
    "recommend no store": (["recommend", P, "--db", MISSING_DB], "No medtwin store"),
    "recommend ldl target 1e9": (["recommend", P, "--db", MISSING_DB, "--target-ldl", "1e9"],
                                 "[10, 400] mg/dL"),
    "recommend ldl risk unknown": (["recommend", P, "--db", MISSING_DB, "--risk", "extreme"],
                                   "very-high, high, moderate, low"),
    "recommend ldl target and risk": (["recommend", P, "--db", MISSING_DB, "--target-ldl",
                                       "100", "--risk", "high"], "not both"),
    # simulate ldl
    "ldl unknown drug": (["simulate", "ldl", "--drug", "pitavastatin=2"], "Expected one of"),
    "ldl drug malformed": (["simulate", "ldl", "--drug", "atorvastatin"], "DRUG=MG[@DAY]"),
    "ldl dose huge": (["simulate", "ldl", "--drug", "atorvastatin=1e9"], "[0, 160] mg/d"),
    "ldl dose not a number": (["simulate", "ldl", "--drug", "ezetimibe=ten"], "must be a number"),
    "ldl start after the run": (["simulate", "ldl", "--years", "1", "--drug",
                                 "rosuvastatin=10@1000"], "[0, 365)"),
    "ldl ldl0 negative": (["simulate", "ldl", "--ldl0", "-5"], "[30, 500] mg/dL"),
    "ldl years huge": (["simulate", "ldl", "--years", "1e9"], "(0, 80] yr"),
    "ldl out exists": (["simulate", "ldl", "--out", "existing.csv"], "--overwrite"),
    # sensitivity and identifiability
    "sensitivity n huge": ([*S, "-n", "1073741824"], "runs"),
    "sensitivity n not 2^k": ([*S, "-n", "100"], "power of 2"),
    "sensitivity hours": ([*S, "--hours", "1e9"], "'--hours'"),
    "sensitivity chunk 0": ([*S, "--chunk", "0"], "'--chunk'"),
    "sensitivity workers": ([*S, "--workers", "100000"], "'--workers'"),
    "sensitivity out folder": ([*S, "--out", "dir"], "names a folder"),
    "identifiability data missing": (["identifiability", "t1d", "--data", "nope.csv", "--free",
                                      "kp1"], "No such file"),
    "identifiability malformed": (["identifiability", "t1d", "--data", "malformed.csv",
                                   "--free", "kp1"], "header"),
    # the store's commands
    "audit verify no store": (["audit", "verify", "--db", MISSING_DB], "No medtwin store"),
    "audit export no store": (["audit", "export", "--out", "a.json", "--db", MISSING_DB],
                              "No medtwin store"),
    "audit export out folder": (["audit", "export", "--out", "dir", "--db", MISSING_DB],
                                "names a folder"),
    "checkpoint out exists": (["audit", "checkpoint", "--out", "existing.json", "--db",
                               MISSING_DB], "--overwrite"),
    "export no store": (["export", "--deidentified", "--out", "x.json", "--db", MISSING_DB],
                        "No medtwin store"),
    "export out exists": (["export", "--deidentified", "--out", "existing.json", "--db",
                           MISSING_DB], "--overwrite"),
    "export out unwritable": (["export", "--deidentified", "--out", "/proc/x.json", "--db",
                               MISSING_DB], "cannot write"),
    "backup no store": (["backup", "--out", "b.db", "--db", MISSING_DB], "No medtwin store"),
    "backup out exists": (["backup", "--out", "existing.csv", "--db", MISSING_DB],
                          "--overwrite"),
    "users list no store": (["users", "list", "--db", MISSING_DB], "No medtwin store"),
    "grant no store": (["users", "grant", "alice", P, "--db", MISSING_DB], "No medtwin store"),
    # listing
    "models unknown": (["models", "nope"], "Unknown model 'nope'"),
    "models search nothing": (["models", "t1d", "--search", "zzzz"], "matching 'zzzz'"),
    # sbml import / simulate (the document is read after these checks, JAX after the document)
    "sbml document missing": (["sbml", "import", "missing.xml"], "No such file"),
    "sbml document a folder": (["sbml", "simulate", "dir", "--t1", "10"], "No such file"),
    "sbml t1 negative": (["sbml", "simulate", "m.xml", "--t1", "-5"], "--t1 must be"),
    "sbml points huge": (["sbml", "simulate", "m.xml", "--t1", "1e9", "--dt", "1e-3"],
                         "1,000,001"),
    "sbml set malformed": (["sbml", "simulate", "m.xml", "--t1", "10", "--set", "k"],
                           "ID=VALUE"),
    "sbml out exists": (["sbml", "simulate", "m.xml", "--t1", "10", "--out", "existing.csv"],
                        "--overwrite"),
    "sbml time unit": (["sbml", "import", "good.csv", "--time-unit", "weeks"], "s, min, h or d"),
    # sbml export (the same order: bounds and paths, then the document)
    "sbml export nothing to write": (["sbml", "export", "m.xml"], "--out ARCHIVE.omex"),
    "sbml export no t1": (["sbml", "export", "m.xml", "--out", "a.omex"], "--out needs --t1"),
    "sbml export not omex": (["sbml", "export", "m.xml", "--t1", "10", "--out", "a.zip"],
                             "end in .omex"),
    "sbml export points huge": (["sbml", "export", "m.xml", "--t1", "1e9", "--dt", "1e-3",
                                 "--out", "a.omex"], "1,000,001"),
    "sbml export out exists": (["sbml", "export", "m.xml", "--sbml-out", "existing.csv"],
                               "--overwrite"),
    "sbml export out a folder": (["sbml", "export", "m.xml", "--sbml-out", "dir"],
                                 "names a folder"),
    "sbml export same file": (["sbml", "export", "m.xml", "--t1", "10", "--out", "a.omex",
                               "--sbml-out", "a.omex"], "same file"),
    "sbml export document missing": (["sbml", "export", "missing.xml", "--sbml-out", "x.xml"],
                                     "No such file"),
    # petab llh / fit
    "petab problem missing": (["petab", "llh", "missing.yaml"], "No such file"),
    "petab starts 0": (["petab", "fit", "good.yaml", "--starts", "0"], "--starts must be"),
    "petab out exists": (["petab", "fit", "good.yaml", "--out", "existing.csv"], "--overwrite"),
    # bn query / fit (medtwin.bn: no JAX at all; the network is read after the options)
    "bn net missing": (["bn", "query", "nope.bif", "--target", "a"], "No such file"),
    "bn evidence malformed": (["bn", "query", "bn_net.bif", "--target", "b", "--evidence", "a"],
                              "NODE=STATE"),
    "bn cyclic graph": (["bn", "query", "bn_cyclic.bif", "--target", "a"], "the cycle"),
    "bn column sum": (["bn", "query", "bn_badsum.bif", "--target", "b"],
                      "probabilities of 'a' must sum to 1"),
    "bn unknown state": (["bn", "query", "bn_net.bif", "--target", "b", "--evidence", "a=maybe"],
                         "Unknown state 'maybe' of 'a'"),
    "bn impossible evidence": (["bn", "query", "bn_net.bif", "--target", "a", "--evidence",
                                "b=hi"], "b=hi is impossible"),
    "bn unknown target": (["bn", "query", "bn_net.bif", "--target", "c"], "Unknown target 'c'"),
    "bn statement unknown node": (["bn", "fit", "bn_net.bif", "bn_cases.csv", "--prior",
                                   "bn_unknown.yaml"], "names the effect 'oedema'"),
    "bn fit ess negative": (["bn", "fit", "bn_net.bif", "bn_cases.csv", "--ess", "-1"],
                            "--ess must be"),
    "bn fit out exists": (["bn", "fit", "bn_net.bif", "bn_cases.csv", "--out", "existing.csv"],
                          "--overwrite"),
    "bn data unknown state": (["bn", "fit", "bn_net.bif", "bn_badcases.csv"],
                              "row 3, column 'a': unknown state 'z'"),
}  # fmt: skip


def make_folder(root: Path) -> Path:
    """Write ``FILES`` and an empty ``dir`` under ``root``; returns ``root``."""
    for name, text in FILES.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    (root / "dir").mkdir()
    return root


def snapshot(root: Path) -> dict[str, bytes | None]:
    """Every path under ``root`` with its bytes (None for a folder)."""
    return {str(p.relative_to(root)): p.read_bytes() if p.is_file() else None
            for p in root.rglob("*")}  # fmt: skip
