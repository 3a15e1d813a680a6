"""`python -m bench.load.serve MODE`: the app in MODE (bench.load.mix.MODES) on its own
embedded PostgreSQL and Azurite, warmed up; prints its base URL, then serves until its
standard input closes. bench_load runs one per mode, so that it can alternate the load
between them: each mode's settings are process-wide."""

from __future__ import annotations

import sys

import requests

from bench.app_host import running_app
from bench.load import mix


def _warm_up(base_url: str, principal: bool) -> None:
    """One inference: the detector's imports (numpy, scipy) and the first migration are not
    what the mix measures."""
    email = "warm-up@bench.example.org"

    def post(route: str, fields: dict) -> dict:
        r = requests.post(f"{base_url}/{route}", data=mix.body(email, fields, principal=principal),
                          headers=mix.headers(email, principal=principal), timeout=120)
        r.raise_for_status()
        return r.json()

    user_id = post("get-user-id", {})["user_id"]
    post("inf", mix.inference(user_id, mix.pictures()[0]))


def main() -> None:
    app_env, principal = mix.MODES[sys.argv[1]]
    with running_app(app_env) as base_url:
        _warm_up(base_url, principal)
        print(base_url, flush=True)
        sys.stdin.read()


if __name__ == "__main__":
    main()
