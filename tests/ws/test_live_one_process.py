"""Real WebSocket clients against ``runexchange``: one process, in-memory channel layer, eager settlement."""

from tests.factories import UserFactory

from . import scenarios


def test_public_and_private_streams_in_one_process_mode(one_process, live_market, make_live_trader, ws_client):
    scenarios.public_and_private_streams(one_process, live_market, make_live_trader, ws_client)


def test_auth_failures_and_malformed_frames_in_one_process_mode(one_process, ws_client):
    scenarios.auth_failures_and_malformed_frames(one_process, UserFactory(), ws_client)


def test_depth_stays_in_sync_through_random_orders_in_one_process_mode(
    one_process, live_market, make_live_trader, ws_client
):
    scenarios.depth_sync(one_process, live_market, make_live_trader, ws_client, traders=3, ops=100)
