"""Benchmarks that measure the product on real inputs; kept out of the server apps.

Each module is runnable (``python -m bench.<name>``) and prints one JSON object as its last line.
"""
