"""The load test: locust's virtual analysts (locustfile.py) and what they send (mix.py)."""
