from django.apps import AppConfig


class CaptureConfig(AppConfig):
    name = "capture"
    verbose_name = "Capture: devices, sessions and time series"

    def ready(self) -> None:
        from capture.receivers import connect_receivers

        connect_receivers()
