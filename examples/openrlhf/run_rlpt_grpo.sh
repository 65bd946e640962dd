#!/usr/bin/env bash
# needs: gpu (verl/OpenRLHF on GPUs; the docs test checks its syntax only — CONTRIBUTING.md)
# RLPT with OpenRLHF: GRPO (group_norm) on next-segment prediction, rewards from `rlpt serve reward`
# through OpenRLHF's remote reward protocol (POST /get_reward with {query, prompts, labels}).
#
#   1. rlpt prepare ... --out $DATA --format openrlhf --chat-template <model folder> --max-prompt-tokens 2048
#        -> $DATA/openrlhf/train-NNNNN.jsonl with "input" (prompt) and "label" (reward label JSON)
#      OpenRLHF tokenises "input" as is (no --data.apply_chat_template) and cuts what exceeds its prompt
#      length limit, so the bound must not exceed PROMPT_MAX_LEN below (checked against $DATA/stats.json).
#   2. rlpt serve reward --host 0.0.0.0 --port 5000 \
#        --judge openai:http://JUDGE_HOST:8000/v1 --judge-model Qwen/Qwen3-8B    (or --judge lexical)
#   3. REWARD_URL=http://REWARD_HOST:5000/get_reward bash examples/openrlhf/run_rlpt_grpo.sh \
#        <model, batch, length and optimiser flags of your OpenRLHF release>
#
# The script sets the flags RLPT depends on (data keys, remote reward, GRPO, no KL, 8 rollouts); their
# names are checked against OpenRLHF v0.11 (dotted) and v0.10 (flat, OPENRLHF_FLAT=1). Everything else —
# model path, batch sizes, lengths, learning rate (paper: 512 prompts, max response 8192, lr 1e-6,
# temperature 1.0) — goes after the script, because those names differ between releases:
# `python3 -m openrlhf.cli.train_ppo_ray --help`.
#
# OpenRLHF sends no Authorization header: run the reward server without --token on a private network.
set -euo pipefail

DATA="${DATA:-data/corpora}"
TRAIN_FILES="$(ls "$DATA"/openrlhf/train-*.jsonl 2>/dev/null | paste -sd, -)"
[[ -n "$TRAIN_FILES" ]] || { echo "no $DATA/openrlhf/train-*.jsonl (run: rlpt prepare ... --out $DATA --format openrlhf)" >&2; exit 1; }
REWARD_URL="${REWARD_URL:-http://127.0.0.1:5000/get_reward}"
# OpenRLHF's prompt length limit, in tokens; `rlpt prepare --max-prompt-tokens` must be at most this.
PROMPT_MAX_LEN="${PROMPT_MAX_LEN:-2048}"

python3 - "$DATA/stats.json" "$PROMPT_MAX_LEN" <<'PY' || exit 1
import json, sys
path, limit = sys.argv[1], int(sys.argv[2])
try:
    stats = json.load(open(path))
except OSError:
    sys.exit(f"no {path}: prepare the data with rlpt prepare ... --out $DATA")
bound = (stats.get("prompts") or {}).get("maxTokens")
longest = stats["tokens"]["prompt"]["max"]
if bound is None and longest > limit:
    sys.exit(f"{path}: prompts are up to {longest} tokens but the prompt limit is {limit}; OpenRLHF would cut "
             f"them. Re-run rlpt prepare with --max-prompt-tokens {limit} --overwrite.")
if bound is not None and bound > limit:
    sys.exit(f"{path}: prepared with --max-prompt-tokens {bound} > PROMPT_MAX_LEN={limit}. "
             f"Re-prepare with --max-prompt-tokens {limit}, or set PROMPT_MAX_LEN={bound}.")
PY

curl -fsS "${REWARD_URL%/get_reward}/health" >/dev/null \
  || { echo "rlpt reward server not reachable at ${REWARD_URL%/get_reward} (start: rlpt serve reward --host 0.0.0.0)" >&2; exit 1; }

if [[ "${OPENRLHF_FLAT:-0}" == "1" ]]; then
  FLAGS=(
    --prompt_data "$TRAIN_FILES"
    --input_key input
    --label_key label
    --remote_rm_url "$REWARD_URL"
    --advantage_estimator group_norm
    --n_samples_per_prompt 8
    --init_kl_coef 0
    --prompt_max_len "$PROMPT_MAX_LEN"
  )
else
  FLAGS=(
    --data.prompt_dataset "$TRAIN_FILES"
    --data.input_key input
    --data.label_key label
    --reward.remote_url "$REWARD_URL"
    --algo.advantage.estimator group_norm
    --algo.kl.init_coef 0
    --rollout.n_samples_per_prompt 8
    --actor.eps_clip 0.2
  )
  # The dotted CLI's name for the prompt length limit differs between releases: pass it after the script
  # with the value of PROMPT_MAX_LEN (python3 -m openrlhf.cli.train_ppo_ray --help | grep -i prompt).
  echo "OpenRLHF >= 0.11: pass your release's prompt length flag with ${PROMPT_MAX_LEN} (PROMPT_MAX_LEN)" >&2
fi

ray job submit --address="${RAY_ADDRESS:-http://127.0.0.1:8265}" \
  -- python3 -m openrlhf.cli.train_ppo_ray "${FLAGS[@]}" "$@"
