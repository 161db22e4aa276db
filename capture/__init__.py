"""Capture: ingest of frames from devices, inference workers and the emotion time series."""
