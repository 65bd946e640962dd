#!/usr/bin/env bash
# needs: gpu (verl/OpenRLHF on GPUs; the docs test checks its syntax only — CONTRIBUTING.md)
# RLPT with verl: GRPO on next-segment prediction, rewards from `rlpt serve reward`.
#
#   1. rlpt prepare ... --out $DATA --format verl --chat-template $MODEL --max-prompt-tokens 2048
#        -> $DATA/verl/train-NNNNN.parquet, $DATA/verl/validation-NNNNN.parquet
#      (--max-prompt-tokens must not exceed MAX_PROMPT_LENGTH below: verl's overlong filter would drop the rest)
#   2. rlpt serve reward --host 0.0.0.0 --port 5000 \
#        --judge openai:http://JUDGE_HOST:8000/v1 --judge-model Qwen/Qwen3-8B    (or --judge lexical)
#   3. RLPT_REWARD_URL=http://REWARD_HOST:5000 bash examples/verl/run_rlpt_grpo.sh
#
# Hyper-parameters follow the paper (METHOD.md §5): batch 512 prompts, 8 rollouts, temperature 1.0,
# constant lr 1e-6, no KL, max response 8192 tokens. Set VERL_LEGACY=1 for verl releases before the
# reward loop (top-level custom_reward_function.* instead of reward.custom_reward_function.*).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
DATA="${DATA:-data/corpora}"
MODEL="${MODEL:-Qwen/Qwen3-4B-Base}"
# verl's data.max_prompt_length: prompts longer than this (after the chat template) are dropped by
# filter_overlong_prompts. `rlpt prepare --max-prompt-tokens` must be at most this.
MAX_PROMPT_LENGTH="${MAX_PROMPT_LENGTH:-2048}"
export RLPT_REWARD_URL="${RLPT_REWARD_URL:-http://127.0.0.1:5000}"

if [[ "${VERL_LEGACY:-0}" == "1" ]]; then
  REWARD_FLAGS=(
    custom_reward_function.path="$HERE/rlpt_reward.py"
    custom_reward_function.name=compute_score
  )
else
  REWARD_FLAGS=(
    reward.custom_reward_function.path="$HERE/rlpt_reward.py"
    reward.custom_reward_function.name=compute_score
  )
fi

# Fail fast when the reward server is not up (verl would only notice at the first reward).
python3 -c "import os, urllib.request; urllib.request.urlopen(os.environ['RLPT_REWARD_URL'] + '/health', timeout=10)" \
  || { echo "rlpt reward server not reachable at $RLPT_REWARD_URL (start: rlpt serve reward --host 0.0.0.0)" >&2; exit 1; }

# Every shard of each split, as a Hydra list: ['a.parquet','b.parquet'].
shards() { local files=("$DATA"/verl/"$1"-*.parquet); [[ -e "${files[0]}" ]] || { echo "no $DATA/verl/$1-*.parquet (run: rlpt prepare ... --out $DATA --format verl)" >&2; exit 1; }; printf "[%s]" "$(printf "'%s'," "${files[@]}" | sed 's/,$//')"; }
TRAIN_FILES="$(shards train)"

# The prepared prompts must fit verl's limit, or verl silently drops them (filter_overlong_prompts).
python3 - "$DATA/stats.json" "$MAX_PROMPT_LENGTH" <<'PY' || exit 1
import json, sys
path, limit = sys.argv[1], int(sys.argv[2])
try:
    stats = json.load(open(path))
except OSError:
    sys.exit(f"no {path}: prepare the data with rlpt prepare ... --out $DATA")
bound = (stats.get("prompts") or {}).get("maxTokens")
longest = stats["tokens"]["prompt"]["max"]
if bound is None and longest > limit:
    sys.exit(f"{path}: prompts are up to {longest} tokens but data.max_prompt_length={limit}; verl would drop "
             f"them. Re-run rlpt prepare with --max-prompt-tokens {limit} --chat-template <model> --overwrite.")
if bound is not None and bound > limit:
    sys.exit(f"{path}: prepared with --max-prompt-tokens {bound} > data.max_prompt_length={limit}. "
             f"Re-prepare with --max-prompt-tokens {limit}, or set MAX_PROMPT_LENGTH={bound}.")
PY
VAL_FILES="$(shards validation)"

python3 -m verl.trainer.main_ppo \
  algorithm.adv_estimator=grpo \
  algorithm.use_kl_in_reward=False \
  data.train_files="$TRAIN_FILES" \
  data.val_files="$VAL_FILES" \
  data.prompt_key=prompt \
  data.reward_fn_key=data_source \
  data.train_batch_size=512 \
  data.max_prompt_length="$MAX_PROMPT_LENGTH" \
  data.max_response_length=8192 \
  data.filter_overlong_prompts=True \
  data.truncation=error \
  actor_rollout_ref.model.path="$MODEL" \
  actor_rollout_ref.actor.optim.lr=1e-6 \
  actor_rollout_ref.actor.ppo_mini_batch_size=128 \
  actor_rollout_ref.actor.use_kl_loss=False \
  actor_rollout_ref.actor.entropy_coeff=0 \
  actor_rollout_ref.actor.clip_ratio=0.2 \
  actor_rollout_ref.actor.loss_agg_mode=token-mean \
  actor_rollout_ref.rollout.name=vllm \
  actor_rollout_ref.rollout.n=8 \
  actor_rollout_ref.rollout.temperature=1.0 \
  "${REWARD_FLAGS[@]}" \
  trainer.project_name=rlpt \
  trainer.experiment_name="rlpt-$(basename "$MODEL")" \
  trainer.n_gpus_per_node="${GPUS:-8}" \
  trainer.nnodes=1 \
  trainer.save_freq=100 \
  trainer.test_freq=50 \
  trainer.resume_mode=auto \
  "$@"
