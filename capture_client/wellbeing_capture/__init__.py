"""The capture client (``wellbeing-capture``): plain Python, no Django.

Installed on classroom machines on its own (``pip install ./capture_client``: OpenCV and NumPy
only), and inside the server's distribution, whose demo stream, tests and benchmarks drive it.
"""
