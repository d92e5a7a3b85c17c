"""The world the attacks run in is what it says: four users, each role answered as documented."""

from __future__ import annotations


def test_the_world_has_every_role(world):
    assert world.get("adm", "/patients").status_code == 200
    assert world.get("cli1", "/patients").json() == {"patients": []}
    assert world.get("res", "/patients").status_code == 403
    assert world.get("nobody", "/patients").status_code == 401
    pid = world.new_patient("cli1")
    assert world.get("cli1", f"/patients/{pid}").status_code == 200
    assert world.get("cli2", f"/patients/{pid}").status_code == 404
