"""verl reward function that asks an `rlpt serve reward` server for RLPT rewards.

verl calls ``compute_score(data_source, solution_str, ground_truth, extra_info)`` once per response
(``reward.custom_reward_function.path=examples/verl/rlpt_reward.py``,
``reward.custom_reward_function.name=compute_score``). ``solution_str`` is the decoded response and
``ground_truth`` is the reward label ``rlpt prepare --format verl`` wrote into
``reward_model.ground_truth``: ``{"reference": ..., "target": ..., "task": ..., "id": ...}``.

For verl's legacy ``batch`` reward manager use ``compute_score_batch`` (one HTTP request per batch).

Settings (environment variables):
  RLPT_REWARD_URL      server base URL (default http://127.0.0.1:5000)
  RLPT_REWARD_TOKEN    bearer token, when the server was started with --token
  RLPT_REWARD_TIMEOUT  seconds per HTTP attempt (default 300)
  RLPT_REWARD_RETRIES  extra attempts on 429/5xx/connection errors (default 5)

Standard library only.
"""

import json
import os
import random
import time
import urllib.error
import urllib.request

_URL = os.environ.get("RLPT_REWARD_URL", "http://127.0.0.1:5000").rstrip("/") + "/v1/reward"
_TOKEN = os.environ.get("RLPT_REWARD_TOKEN")
_TIMEOUT = float(os.environ.get("RLPT_REWARD_TIMEOUT", "300"))
_RETRIES = int(os.environ.get("RLPT_REWARD_RETRIES", "5"))
_RETRYABLE = {408, 409, 429, 500, 502, 503, 504}


def _post(items):
    body = json.dumps({"items": items}).encode("utf-8")
    headers = {"content-type": "application/json"}
    if _TOKEN:
        headers["authorization"] = "Bearer " + _TOKEN
    for attempt in range(_RETRIES + 1):
        request = urllib.request.Request(_URL, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=_TIMEOUT) as response:
                return json.loads(response.read().decode("utf-8"))["verdicts"]
        except urllib.error.HTTPError as error:
            detail = error.read().decode("utf-8", "replace")[:500]
            if error.code not in _RETRYABLE or attempt == _RETRIES:
                raise RuntimeError(f"rlpt reward server {_URL} answered {error.code}: {detail}") from error
            retry_after = error.headers.get("retry-after")
            delay = float(retry_after) if retry_after else min(30.0, 0.5 * 2**attempt)
        except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
            if attempt == _RETRIES:
                raise RuntimeError(f"rlpt reward server {_URL} unreachable: {error}") from error
            delay = min(30.0, 0.5 * 2**attempt)
        time.sleep(delay * (0.75 + 0.5 * random.random()))
    raise AssertionError("unreachable")


def _item(solution_str, ground_truth, extra_info):
    item = {"response": solution_str, "label": ground_truth}
    if isinstance(extra_info, dict) and extra_info.get("id") is not None:
        item["id"] = str(extra_info["id"])
    return item


def _result(verdict):
    # verl logs every key besides "score" as reward_extra_info; keep them numeric.
    status = verdict.get("status")
    return {
        "score": float(verdict.get("score", 0.0)),
        "judge_ok": 1 if status == "ok" else 0,
        "judge_skipped": 1 if status == "skipped" else 0,
        "judge_failed": 1 if status == "failed" else 0,
    }


def compute_score(data_source, solution_str, ground_truth, extra_info=None, **kwargs):
    """Reward of one response: 1 when the judge accepts its prediction, else 0."""
    return _result(_post([_item(solution_str, ground_truth, extra_info)])[0])


def compute_score_batch(data_sources, solution_strs, ground_truths, extra_infos, **kwargs):
    """All rewards of a batch in one request (verl's legacy ``batch`` reward manager)."""
    items = [_item(s, g, e) for s, g, e in zip(solution_strs, ground_truths, extra_infos)]
    return [_result(verdict) for verdict in _post(items)]
