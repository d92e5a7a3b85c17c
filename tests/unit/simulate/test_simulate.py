import jax
import numpy as np
import pytest

from medtwin.data import load_virtual_patient, load_virtual_patients
from medtwin.errors import ModelError, RegimenError, SimulationError
from medtwin.models import UVAPadova
from medtwin.simulate import Adaptive, Regimen, Status, advance, bolus, meal, simulate

MODEL = UVAPadova()
DAY_REGIMEN = Regimen((meal(120, 45), bolus(120, 2.0), meal(400, 70), bolus(400, 3.0)))


@pytest.fixture(scope="module")
def patients():
    return load_virtual_patients(["adult#001", "child#002", "adolescent#003"])


def test_shapes_single_and_batched(patients):
    single = simulate(MODEL, patients[0], DAY_REGIMEN, t1=600)
    assert single.observables.shape == (601, 3) and single.states.shape == (601, 16)
    assert single.status.shape == () and int(single.status) == Status.SUCCESS
    batch = simulate(MODEL, patients, DAY_REGIMEN, t1=600, saveat=np.arange(0, 601, 5.0))
    assert batch.observables.shape == (3, 121, 3) and batch.status.shape == (3,)
    np.testing.assert_allclose(batch.ts, np.arange(0, 601, 5.0))


def test_vmapped_and_one_by_one_runs_agree(patients):
    batch = simulate(MODEL, patients, DAY_REGIMEN, t1=1440)
    for i in range(3):
        one = simulate(MODEL, patients[i], DAY_REGIMEN, t1=1440)
        np.testing.assert_allclose(batch.observables[i], one.observables, rtol=1e-12, atol=1e-9)


def test_a_failing_member_gets_a_status_and_leaves_the_others_intact(patients):
    bad = np.array(patients)
    bad[1, MODEL.param_index("Km0")] = -float(bad[1, MODEL.param_index("Gtb")])  # 0/0 uptake
    traj = simulate(MODEL, bad, DAY_REGIMEN, t1=600)
    assert traj.status.tolist() == [Status.SUCCESS, Status.NONFINITE, Status.SUCCESS]
    assert np.isnan(traj.observable("bg")[1, -1])
    good = simulate(MODEL, patients, DAY_REGIMEN, t1=600)
    np.testing.assert_array_equal(
        np.asarray(traj.observables)[[0, 2]], np.asarray(good.observables)[[0, 2]]
    )


# slow (about 40 s): one saveat grid per subset; the other saveat tests stay in the default run
@pytest.mark.slow
def test_saveat_subsets_match_the_full_grid(patients):
    full = simulate(MODEL, patients[0], DAY_REGIMEN, t1=900)
    for ts in (np.array([7.0, 133.0, 899.0]), np.arange(0, 901, 30.0), np.array([900.0])):
        sub = simulate(MODEL, patients[0], DAY_REGIMEN, t1=900, saveat=ts)
        np.testing.assert_allclose(sub.observables, full.observables[ts.astype(int)], rtol=1e-13)


@pytest.mark.slow
def test_chained_advance_equals_one_simulate_even_mid_meal(patients):
    full = simulate(MODEL, patients[0], DAY_REGIMEN, t1=900)
    y = MODEL.initial_state(patients[0])
    for t, t_next in [(0, 125), (125, 127), (127, 405), (405, 900)]:  # cuts through meals
        out = advance(MODEL, y, patients[0], DAY_REGIMEN, t, t_next)
        assert int(out.status) == Status.SUCCESS
        y = out.state
    np.testing.assert_allclose(y, full.states[-1], rtol=1e-11)


def test_rk4_agrees_with_tight_tolerance_reference(patients):
    rk4 = simulate(MODEL, patients, DAY_REGIMEN, t1=1440)
    ref = simulate(MODEL, patients, DAY_REGIMEN, t1=1440, solver=Adaptive(rtol=1e-10, atol=1e-10))
    # fixed 1-min RK4 (4 substeps near doses) vs Dopri5 at 1e-10: observed 1.2e-3 mg/dL at
    # worst; without the refinement 0.29 (the gastric emptying rate switches within the first
    # minute of a meal). Guard 0.01.
    assert float(np.max(np.abs(rk4.observable("bg") - ref.observable("bg")))) < 0.01


def test_per_member_regimens(patients):
    regs = [Regimen((meal(60, g),)) for g in (0.0, 30.0, 90.0)]
    traj = simulate(MODEL, patients[:1].repeat(3, axis=0), regs, t1=300)
    peak = np.max(traj.observable("bg"), axis=1)
    assert peak[0] < peak[1] < peak[2]
    with pytest.raises(SimulationError, match="got 2 regimens for 3 parameter sets"):
        simulate(MODEL, patients, regs[:2], t1=300)


def test_meal_raises_and_bolus_lowers_glucose():
    p = load_virtual_patient("adult#001")
    base = simulate(MODEL, p, t1=600).observable("bg")
    fed = simulate(MODEL, p, Regimen((meal(60, 60),)), t1=600).observable("bg")
    dosed = simulate(MODEL, p, Regimen((meal(60, 60), bolus(60, 6))), t1=600).observable("bg")
    np.testing.assert_allclose(base, base[0], rtol=1e-9)  # steady state at the patient's basal
    assert float(fed.max()) > float(base[0]) + 40
    assert float(dosed[-1]) < float(fed[-1])


@pytest.mark.parametrize(
    ("kwargs", "error", "fragment"),
    [
        ({"t1": 0.0}, SimulationError, "'t1' argument of simulate() must be > t0 = 0. Got t1 = 0"),
        ({"t0": 10.0, "t1": 5.0}, SimulationError, "must be > t0 = 10. Got t1 = 5"),
        ({"t1": "soon"}, SimulationError, "'t1' argument of simulate() must be a number"),
        ({"t1": 10.5}, SimulationError, "must be a multiple of it. Got t1 - t0 = 10.5"),
        ({"t1": 10.0, "saveat": [2.5]}, SimulationError, "must lie on the input grid"),
        ({"t1": 10.0, "saveat": [5.0, 2.0]}, SimulationError, "strictly increasing"),
        ({"t1": 10.0, "saveat": [20.0]}, SimulationError, "within [t0, t1]"),
        ({"t1": 10.0, "regimen": Regimen((meal(30, 5),))}, RegimenError, "outside the simulated"),
    ],
)
def test_bad_arguments(kwargs, error, fragment):
    p = load_virtual_patient("adult#001")
    regimen = kwargs.pop("regimen", None)
    with pytest.raises(error) as info:
        simulate(MODEL, p, regimen, **kwargs)
    assert fragment in str(info.value)


def test_nan_and_misshapen_parameters_are_named():
    p = np.array(load_virtual_patients(["adult#001", "adult#002"]))
    p[1, MODEL.param_index("kp1")] = np.nan
    with pytest.raises(ModelError, match=r"Parameter 'kp1' of batch member 1 is nan"):
        simulate(MODEL, p, t1=10)
    with pytest.raises(ModelError, match=r"shape \(38,\) or \(batch, 38\). Got shape \(5,\)"):
        simulate(MODEL, np.ones(5), t1=10)
    with pytest.raises(ModelError, match="needs a medtwin model instance"):
        simulate("t1d", p, t1=10)


def test_trajectory_lookup_errors():
    traj = simulate(MODEL, load_virtual_patient("adult#001"), t1=5, save_states=False)
    assert traj.states is None
    with pytest.raises(SimulationError, match="holds no states"):
        traj.state("Gp")
    with pytest.raises(SimulationError, match="No observable named 'glucose'"):
        traj.observable("glucose")


@pytest.mark.slow
def test_jax_arrays_and_keys_are_accepted():
    p = load_virtual_patient("adult#001")
    traj = simulate(MODEL, p, t1=5, key=jax.random.key(0))  # deterministic model ignores it
    assert int(traj.status) == 0


@pytest.mark.slow
def test_a_members_numbers_do_not_depend_on_its_batch():
    # Refinement near doses is decided per member: a member eating alone gets the same numbers
    # as in a batch where others eat at other times (serial == chunked executors).
    p = np.asarray(load_virtual_patients(["adult#001", "adult#002", "child#001"]))
    regs = [Regimen((meal(100, 50),)), Regimen((meal(300, 80),)), Regimen()]
    batch = simulate(MODEL, p, regs, t1=600, save_states=False)
    for i in range(3):
        alone = simulate(MODEL, p[i], regs[i], t1=600, save_states=False)
        np.testing.assert_array_equal(np.asarray(batch.observables[i]), alone.observables)


@pytest.mark.slow
def test_a_members_numbers_do_not_depend_on_the_way_its_regimen_is_passed():
    # One compiled step whatever the batch shares or doses: a member alone, its regimen shared
    # (one Regimen) or its own (a list of one), equals itself in a batch whose other member
    # refines while it takes plain steps (a bolus that drives child#003 below 0 mg/dL and
    # back, a meal later).
    p = np.asarray(load_virtual_patients(["child#003", "adult#001"]))
    regs = [Regimen((bolus(0, 30.0),)), Regimen((meal(120, 70), bolus(120, 5.0)))]
    batch = simulate(MODEL, p, regs, t1=300, save_states=False)
    assert float(np.min(np.asarray(batch.observable("bg"))[0])) < 1.0
    for i in range(len(regs)):
        alone = simulate(MODEL, p[i], regs[i], t1=300, save_states=False)
        listed = simulate(MODEL, p[i : i + 1], [regs[i]], t1=300, save_states=False)
        np.testing.assert_array_equal(np.asarray(batch.observables[i]), alone.observables)
        np.testing.assert_array_equal(np.asarray(batch.observables[i]), listed.observables[0])


@pytest.mark.slow
def test_a_members_numbers_do_not_depend_on_the_save_grid():
    # every step saved (inner loops of one step) or an irregular grid (a fori_loop)
    p = np.asarray(load_virtual_patients(["adolescent#001", "adult#001", "child#001"]))
    regs = [Regimen((meal(60, 40), bolus(60, 4.0))), Regimen((meal(200, 60),)), Regimen()]
    every = np.asarray(simulate(MODEL, p, regs, t1=400, save_states=False).observable("bg"))
    saveat = np.array([0.0, 7.0, 100.0, 400.0])
    some = simulate(MODEL, p, regs, t1=400, saveat=saveat, save_states=False)
    np.testing.assert_array_equal(np.asarray(some.observable("bg")), every[:, saveat.astype(int)])


@pytest.mark.slow
def test_batches_split_across_threads_match_one_thread(monkeypatch):
    from medtwin.simulate import _simulate

    p = np.asarray(load_virtual_patients())[np.arange(64) % 30]
    regs = [Regimen((meal(60 + i, 40 + i),)) for i in range(64)]
    monkeypatch.setattr(_simulate, "MIN_CHUNK", 16)
    assert _simulate._workers(64) >= 1
    threaded = simulate(MODEL, p, regs, t1=240, save_states=False)
    monkeypatch.setattr(_simulate, "MIN_CHUNK", 10_000)
    single = simulate(MODEL, p, regs, t1=240, save_states=False)
    np.testing.assert_array_equal(np.asarray(threaded.observables), np.asarray(single.observables))


def test_rk4_rejects_bad_settings():
    from medtwin.simulate import RK4

    with pytest.raises(ValueError, match=r"RK4\.substeps must be an integer >= 1\. Got 0"):
        RK4(0)
    with pytest.raises(ValueError, match="dose_substeps must be >= substeps"):
        RK4(substeps=4, dose_substeps=2)


@pytest.mark.slow
def test_only_the_observables_asked_for_are_saved():
    p = np.asarray(load_virtual_patients(["adult#001", "child#002"]))
    regs = [Regimen((meal(30, 40), bolus(30, 4.0))), Regimen((meal(50, 60),))]
    saveat = np.arange(0.0, 121.0, 5.0)
    full = simulate(MODEL, p, regs, t1=120, saveat=saveat, save_states=False)
    bg = simulate(MODEL, p, regs, t1=120, saveat=saveat, save_states=False, observables=["bg"])
    # what the run holds: members x saved times x the one observable, no states
    assert bg.states is None and bg.observable_names == ("bg",)
    assert bg.observables.shape == (2, saveat.size, 1)
    assert full.observables.shape == (2, saveat.size, len(MODEL.observable_names))
    np.testing.assert_array_equal(np.asarray(bg.observable("bg")), full.observable("bg"))
    with pytest.raises(SimulationError, match=r"names 'glucose', which model .* Expected some"):
        simulate(MODEL, p, regs, t1=120, observables=["glucose"])
    with pytest.raises(SimulationError, match="each observable once"):
        simulate(MODEL, p, regs, t1=120, observables=["bg", "bg"])


@pytest.mark.slow
def test_a_cohort_holds_the_inputs_of_one_chunk_at_a_time(monkeypatch):
    # Each compiled call gets the per-minute inputs of its own chunk only (compiled from its
    # members' regimens just before it runs), so the host's memory grows with the saved
    # outputs, not with members x steps; the chunks' numbers are those of one call.
    from medtwin.simulate import _simulate

    p = np.asarray(load_virtual_patients())[np.arange(40) % 30]
    regs = [Regimen((meal(20 + 3 * i, 30 + i), bolus(20 + 3 * i, 3.0))) for i in range(40)]
    one = simulate(MODEL, p, regs, t1=180, saveat=np.arange(0.0, 181.0, 15.0), save_states=False)
    widths = []
    kernel = _simulate._kernel

    def spy(model, solver, params, y0, keys, dose, *rest):
        widths.append(dose.shape)
        return kernel(model, solver, params, y0, keys, dose, *rest)

    monkeypatch.setattr(_simulate, "CACHE_CHUNK", 16)
    monkeypatch.setattr(_simulate, "_kernel", spy)
    chunked = simulate(MODEL, p, regs, t1=180, saveat=np.arange(0.0, 181.0, 15.0),
                       save_states=False)  # fmt: skip
    assert len(widths) == 3 and all(s == (180, 2, 14) for s in widths)  # 3 x 14 >= 40 members
    np.testing.assert_array_equal(np.asarray(chunked.observables), np.asarray(one.observables))
    assert chunked.observables.shape == (40, 13, 3)
