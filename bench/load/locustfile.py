"""A realistic mix of analysts for locust: each virtual user signs in (get-user-id), lists
its folders, creates a folder now and then, and classifies small seed pictures with the
built-in detector, confirming every box of each fresh inference (feedback-positive).

    .venv/bin/python -m bench.bench_load          # starts the app in both modes and runs this
    .venv/bin/python -m locust -f bench/load/locustfile.py --headless -u 32 -r 32 -t 60s \
        --host http://127.0.0.1:7071            # against a running app (scripts/run)

Identity: with NACHET_BENCH_PRINCIPAL=1 (production mode behind App Service
Authentication) each user sends its own X-MS-CLIENT-PRINCIPAL header; otherwise (local
mode) its own email in the body. Any answer but 200 counts as a failure.
"""

from __future__ import annotations

import itertools
import os
import uuid

from locust import FastHttpUser, between, task

from bench.load import mix

PRINCIPAL = os.environ.get("NACHET_BENCH_PRINCIPAL") == "1"


class Analyst(FastHttpUser):
    # A person reads the screen between clicks; short, so that 32 of them keep the app busy.
    wait_time = between(0.05, 0.25)

    def on_start(self) -> None:
        self.email = f"analyst-{uuid.uuid4().hex[:12]}@bench.example.org"
        self.headers = mix.headers(self.email, principal=PRINCIPAL)
        self.pictures = itertools.cycle(mix.pictures())
        self.user_id = self._post("get-user-id", {}).get("user_id", "")

    def _post(self, route: str, fields: dict) -> dict:
        """POST as this user: the JSON answer, or {} when it is not a 200 (a failure)."""
        with self.client.post(f"/api/{route}", data=mix.body(self.email, fields, principal=PRINCIPAL),
                              headers=self.headers, name=route, catch_response=True) as response:
            if response.status_code != 200:
                response.failure(f"{response.status_code} {response.text[:200]}")
                return {}
            return response.json()

    @task(3)
    def get_user_id(self) -> None:
        self._post("get-user-id", {})

    @task(3)
    def get_directories(self) -> None:
        self._post("get-directories", {"container_name": self.user_id})

    @task(1)
    def create_dir(self) -> None:
        self._post("create-dir", {"container_name": self.user_id,
                                  "folder_name": f"Batch {uuid.uuid4().hex[:10]}"})

    @task(2)
    def classify_and_confirm(self) -> None:
        inference = self._post("inf", mix.inference(self.user_id, next(self.pictures)))
        if inference.get("boxes"):
            self._post("feedback-positive", {
                "userId": self.user_id, "inferenceId": inference["inference_id"],
                "boxes": [{"boxId": box["box_id"]} for box in inference["boxes"]]})
