"""The pipeline fixtures (camera, enrolled demo faces), shared with the withdrawal tests."""

from tests.capture.conftest import biden, camera, obama, redis_client

__all__ = ["biden", "camera", "obama", "redis_client"]
