"""Device tokens through the API: shown once, rotated, revoked, and refused afterwards."""

from __future__ import annotations

import pytest

from capture.devices import DeviceAuthError, authenticate_device
from capture.models import CaptureDevice
from tests.api.conftest import World, client_for, post_json
from wellbeing.models import AuditEvent


def test_create_returns_token_once_and_it_authenticates(world: World) -> None:
    admin = world.personas["admin"]
    client = client_for(admin)
    # when the admin registers a participant's laptop
    response = post_json(
        client, "/api/devices/", {"name": "Laptop", "participant": world.ids["student"]}
    )
    # then the plaintext token comes back once and authenticates that device
    assert response.status_code == 201
    body = response.json()
    device = authenticate_device(body["token"])
    assert device.pk == body["device"]["id"] and device.participant_id == world.ids["student"]
    assert body["token"].startswith(body["device"]["token_prefix"])
    # and neither list nor detail ever shows the token or its hash again
    listed = client.get("/api/devices/").content.decode()
    detail = client.get(f"/api/devices/{device.pk}/").content.decode()
    for text in (listed, detail):
        assert body["token"] not in text and device.token_hash not in text
        assert "token_hash" not in text
    assert AuditEvent.objects.filter(action="device.create", actor=admin.user).exists()  # type: ignore[union-attr]


def test_rotation_issues_a_new_token_and_refuses_the_old(world: World) -> None:
    # given a freshly registered classroom camera
    client = client_for(world.personas["admin"])
    created = post_json(
        client, "/api/devices/", {"name": "Cam", "classroom": world.ids["classroom"]}
    ).json()
    old_token = created["token"]
    # when it is rotated through the API
    rotated = client.post(f"/api/devices/{created['device']['id']}/rotate/")
    # then the new token works and the old one is refused at once
    assert rotated.status_code == 200
    new_token = rotated.json()["token"]
    assert new_token != old_token
    assert authenticate_device(new_token).pk == created["device"]["id"]
    with pytest.raises(DeviceAuthError, match="Unknown device token"):
        authenticate_device(old_token)
    assert rotated.json()["device"]["rotated_at"]
    assert AuditEvent.objects.filter(action="device.rotate").exists()


def test_revocation_refuses_the_token_and_blocks_rotation(world: World) -> None:
    # given a registered device and its token
    client = client_for(world.personas["admin"])
    created = post_json(
        client, "/api/devices/", {"name": "Cam", "classroom": world.ids["classroom"]}
    ).json()
    device_id = created["device"]["id"]
    # when it is revoked
    revoked = client.post(f"/api/devices/{device_id}/revoke/")
    # then its token is refused and it cannot be given a new one
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    with pytest.raises(DeviceAuthError, match="revoked"):
        authenticate_device(created["token"])
    hash_before = CaptureDevice.objects.get(pk=device_id).token_hash
    again = client.post(f"/api/devices/{device_id}/rotate/")
    assert again.status_code == 400
    assert again.json() == {
        "error": "refused",
        "detail": "A revoked device cannot be given a new token.",
    }
    assert CaptureDevice.objects.get(pk=device_id).token_hash == hash_before
    assert AuditEvent.objects.filter(action="device.revoke").exists()


def test_other_school_cannot_rotate_or_revoke(world: World) -> None:
    # given a device of the first school
    device = CaptureDevice.objects.get(pk=world.ids["device"])
    before = (device.token_hash, device.revoked_at)
    other = client_for(world.personas["other_admin"])
    # when the other school's admin tries to rotate and revoke it, then both are 404
    assert other.post(f"/api/devices/{device.pk}/rotate/").status_code == 404
    assert other.post(f"/api/devices/{device.pk}/revoke/").status_code == 404
    device.refresh_from_db()
    assert (device.token_hash, device.revoked_at) == before
