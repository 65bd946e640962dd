#!/usr/bin/env bash
# RLPT with OpenRLHF: GRPO (group_norm) on next-segment prediction, rewards from `rlpt serve reward`
# through OpenRLHF's remote reward protocol (POST /get_reward with {query, prompts, labels}).
#
#   1. rlpt prepare ... --out $DATA --format openrlhf -> $DATA/openrlhf/train-NNNNN.jsonl with "input" (prompt) and "label" (reward label JSON)
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
fi

ray job submit --address="${RAY_ADDRESS:-http://127.0.0.1:8265}" \
  -- python3 -m openrlhf.cli.train_ppo_ray "${FLAGS[@]}" "$@"
